"""Single compressed streams (the formats with a `stream` in formats.py: gzip, xz, lzma,
bzip2, zstd) decompressed in process.

A root file system holds hundreds of compressed files (man pages, docs, modules, kernel
configs); forking a child and an external 7z for each costs ~50 ms apiece, far more than
the decompression. These formats have memory-safe decoders in the standard library (and
`zstandard`), read here in bounded blocks: the output stops at the byte budget and at the
deadline, so a compression bomb costs no more than the limits allow. unblob still finds and
validates the chunk; only its extraction is done here, with unblob's output names, so a
container chain reads the same whichever way the stream was extracted.

A file that starts with a stream's magic (a man page, a changelog, a kernel module) is
first decoded whole, without unblob's search: when the decoder reads it to its end without
an error, the file is that one stream (trailing bytes other than padding would be an error),
the chunk unblob would report. Otherwise the output is dropped and unblob searches the
file as any other. The search costs more than decoding a small file, and a root file
system holds a thousand of them.
"""

from __future__ import annotations

import lzma
import time
import zlib
from dataclasses import dataclass
from pathlib import Path

import zstandard

from firmproof.fs.index import TreeIndex
from firmproof.host.children import check
from firmproof.unpack import formats
from firmproof.unpack.extract import ChunkOutcome
from firmproof.unpack.formats import Stream

BLOCK = 1 << 16       # a truncated stream loses at most one block of what it decoded
HEAD = max(len(magic) for _name, magic in formats.STREAM_MAGICS)    # bytes sniffed
ERRORS = (OSError, EOFError, lzma.LZMAError, zlib.error, zstandard.ZstdError, ValueError)


def _stream(handler_name: str) -> Stream:
    stream = formats.of(handler_name).stream
    if stream is None:
        raise ValueError(f"{handler_name} is not a stream format")
    return stream


def _name(handler_name: str, carved: Path) -> str:
    """unblob's name for the decoded file: the name a gzip header holds, else
    '<handler>.uncompressed'."""
    stream = _stream(handler_name)
    return stream.name(carved) if stream.name is not None else f"{handler_name}.uncompressed"


@dataclass(frozen=True)
class _Handler:
    NAME: str


@dataclass(frozen=True)
class WholeStream:
    """A chunk as unblob's finder reports one: a whole file taken as one stream."""

    handler: _Handler
    end_offset: int
    start_offset: int = 0


def sniff(path: Path) -> WholeStream | None:
    """The file as one compressed stream, when its first bytes say which (see the module)."""
    try:
        with path.open("rb") as handle:
            head = handle.read(HEAD)
        size = path.stat().st_size
    except OSError:
        return None
    for name, magic in formats.STREAM_MAGICS:
        if head.startswith(magic):
            return WholeStream(_Handler(name), size)
    return None


SMALL_INPUT = 256 * 1024        # streams up to this size are first decoded in memory …
SMALL_OUTPUT = 2 * 1024 * 1024   # … and kept there when they decode to at most this much


def decode_small(handler_name: str, carved: Path, container: tuple[str, ...], *,
                 limit: int) -> TreeIndex | None:
    """A small stream whose content holds no further container (a man page, a changelog, a
    gzip'd script or key), decoded in memory into a one-file layer: no folder, no file, no
    walk, for what a root file system holds a thousand of. None sends the stream to
    `decompress` (bigger, corrupt, over `limit`, or a type the recursion must carve)."""
    from firmproof.fs.filetype import CARVE_TYPES, classify, reader_of
    from firmproof.fs.index import HEAD_BYTES, index_blob

    if limit <= 0:
        return None
    try:
        if carved.stat().st_size > SMALL_INPUT:
            return None
        with carved.open("rb") as raw, _stream(handler_name).open(raw) as stream:
            data = stream.read(min(SMALL_OUTPUT, limit) + 1)
            if len(data) > min(SMALL_OUTPUT, limit) or stream.read(1):
                return None
    except ERRORS:
        return None
    name = Path(_name(handler_name, carved)).name
    ftype = classify(data[:HEAD_BYTES], "/" + name, reader_of(data), len(data))
    if ftype in CARVE_TYPES:
        return None
    return index_blob(name, data, container, ftype)


def decompress(handler_name: str, carved: Path, outdir: Path, *, byte_budget: int,
               deadline: float) -> ChunkOutcome:
    """Decompress the stream in `carved` to `outdir/<unblob's name>`, within the limits.

    What was decoded before an error (a truncated or corrupt stream) is kept, as 7z keeps it.
    """
    outcome = ChunkOutcome()
    name = _name(handler_name, carved)
    outdir.mkdir(parents=True, exist_ok=True)
    target = outdir / Path(name).name
    written = 0
    with carved.open("rb") as raw, target.open("xb") as out:
        try:
            with _stream(handler_name).open(raw) as stream:
                while True:
                    block = stream.read(min(BLOCK, byte_budget - written + 1))
                    if not block:
                        break
                    if written + len(block) > byte_budget:
                        out.write(block[:byte_budget - written])
                        written = byte_budget
                        outcome.errors.append(f"extraction stopped: byte limit reached "
                                              f"({byte_budget} bytes extracted)")
                        break
                    out.write(block)
                    written += len(block)
                    check()
                    if time.monotonic() > deadline:
                        outcome.errors.append("extraction stopped: time limit reached")
                        break
        except ERRORS as exc:
            outcome.corrupt = True
            outcome.errors.append(f"{handler_name}: {exc or type(exc).__name__} "
                                  f"(kept the {written} bytes decoded before it)")
    outcome.written = written
    return outcome
