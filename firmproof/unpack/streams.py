"""Single compressed streams (gzip, xz, lzma, bzip2, zstd) decompressed in process.

A root file system holds hundreds of compressed files (man pages, docs, modules, kernel
configs); forking a child and an external 7z for each costs ~50 ms apiece, far more than
the decompression. These formats have memory-safe decoders in the standard library (and
`zstandard`), read here in bounded blocks: the output stops at the byte budget and at the
deadline, so a compression bomb costs no more than the limits allow. unblob still finds and
validates the chunk; only its extraction is done here, with unblob's output names, so a
container chain reads the same whichever way the stream was extracted.
"""

from __future__ import annotations

import bz2
import gzip
import lzma
import time
import zlib
from collections.abc import Callable
from pathlib import Path
from typing import Any, BinaryIO

import zstandard

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
                    if time.monotonic() > deadline:
                        outcome.errors.append("extraction stopped: time limit reached")
                        break
        except ERRORS as exc:
            outcome.errors.append(f"{handler_name}: {exc or type(exc).__name__} "
                                  f"(kept the {written} bytes decoded before it)")
    outcome.written = written
    return outcome
