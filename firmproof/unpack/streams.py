"""Single compressed streams (gzip, xz, lzma, bzip2, zstd) decompressed in process.

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

import bz2
import gzip
import lzma
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import zstandard

from firmproof.children import check
from firmproof.index import TreeIndex
from firmproof.unpack.extract import ChunkOutcome

BLOCK = 1 << 16       # a truncated stream loses at most one block of what it decoded


def _gzip_name(carved: Path) -> str:
    from unblob.handlers.compression.gzip import get_gzip_embedded_name

    try:
        return get_gzip_embedded_name(carved) or "gzip.uncompressed"
    except (OSError, ValueError, UnicodeError):
        return "gzip.uncompressed"


def _zstd(raw: BinaryIO) -> Any:
    return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)


OPENERS: dict[str, Callable[[BinaryIO], Any]] = {
    "gzip": lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"),
    "xz": lambda raw: lzma.LZMAFile(raw, format=lzma.FORMAT_XZ),
    "lzma": lambda raw: lzma.LZMAFile(raw, format=lzma.FORMAT_ALONE),
    "bzip2": lambda raw: bz2.BZ2File(raw),
    "zstd": _zstd,
}
ERRORS = (OSError, EOFError, lzma.LZMAError, zlib.error, zstandard.ZstdError, ValueError)


def handles(handler_name: str) -> bool:
    return handler_name in OPENERS


# magics at offset 0 that name a stream format (lzma-alone has no magic worth trusting)
MAGICS = (("gzip", b"\x1f\x8b\x08"), ("xz", b"\xfd7zXZ\x00"), ("bzip2", b"BZh"),
          ("zstd", b"\x28\xb5\x2f\xfd"))


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
            head = handle.read(6)
        size = path.stat().st_size
    except OSError:
        return None
    for name, magic in MAGICS:
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
    from firmproof.filetype import CARVE_TYPES, classify
    from firmproof.index import HEAD_BYTES, index_blob

    if limit <= 0:
        return None
    try:
        if carved.stat().st_size > SMALL_INPUT:
            return None
        with carved.open("rb") as raw, OPENERS[handler_name](raw) as stream:
            data = stream.read(min(SMALL_OUTPUT, limit) + 1)
            if len(data) > min(SMALL_OUTPUT, limit) or stream.read(1):
                return None
    except ERRORS:
        return None
    name = Path(_gzip_name(carved) if handler_name == "gzip" else f"{handler_name}.uncompressed").name
    ftype = classify(data[:HEAD_BYTES], "/" + name)
    if ftype in CARVE_TYPES:
        return None
    return index_blob(name, data, container, ftype)


def decompress(handler_name: str, carved: Path, outdir: Path, *, byte_budget: int,
               deadline: float) -> ChunkOutcome:
    """Decompress the stream in `carved` to `outdir/<unblob's name>`, within the limits.

    What was decoded before an error (a truncated or corrupt stream) is kept, as 7z keeps it.
    """
    outcome = ChunkOutcome()
    name = _gzip_name(carved) if handler_name == "gzip" else f"{handler_name}.uncompressed"
    outdir.mkdir(parents=True, exist_ok=True)
    target = outdir / Path(name).name
    written = 0
    with carved.open("rb") as raw, target.open("xb") as out:
        try:
            with OPENERS[handler_name](raw) as stream:
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
