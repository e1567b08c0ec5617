"""Small, plain zip archives extracted in process.

An Android partition holds hundreds of APKs and JARs, and a hostile image can nest thousands
of distinct little zips: forking an extraction child and running 7-Zip costs ~60 ms apiece,
most of a scan's time for such images. Python's `zipfile` and its decoders (zlib, bz2,
lzma) are memory-safe, so an archive that is small and *plain* (regular files and folders
with names that stay inside the extraction folder, no encryption, the usual methods, no
overlapping entries) is extracted here, in bounded blocks, against the same byte budget and
deadline as every extraction. Every other zip (big, encrypted, with links, devices, odd or
clashing names) goes to the child and 7-Zip as before, so nothing is lost by this path.

The tree is the one 7-Zip writes (the stored names, relative to the extraction folder), so
a container chain reads the same whichever way a zip was extracted; modes and owners come
from the archive's own metadata (`firmproof.unpack.meta.zip`), as for 7-Zip's output.
"""

from __future__ import annotations

import lzma
import os
import stat
import time
import zipfile
import zlib
from pathlib import Path

from firmproof.host.children import check
from firmproof.unpack.archives import zip_overlap
from firmproof.unpack.extract import ChunkOutcome
from firmproof.unpack.metadata import MetadataError, read_metadata

MAX_CARVED = 8 * 1024 * 1024       # bigger archives go to the extraction child (and its idle work)
MAX_ENTRIES = 10_000
NAME_MAX = 255                      # bytes of one path component the host's file systems take
BLOCK = 1 << 16
DISK_BLOCK = 4096
METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA)
UTF8_NAMES = 0x800                  # general-purpose flag bit 11: names are UTF-8
ENCRYPTED = 0x1
READ_ERRORS = (zipfile.BadZipFile, zlib.error, lzma.LZMAError, EOFError, OSError, ValueError,
               NotImplementedError, RuntimeError)


def _safe_name(info: zipfile.ZipInfo) -> str | None:
    """The relative path 7-Zip would write the entry at, when it is plain; else None."""
    name = info.filename
    if not (info.flag_bits & UTF8_NAMES) and not name.isascii():
        return None                 # a legacy code page: 7-Zip's reading of it may differ
    if not name or "\\" in name or "\0" in name or name.startswith("/"):
        return None
    parts = name.rstrip("/").split("/")
    if any(part in ("", ".", "..") or len(part.encode()) > NAME_MAX for part in parts):
        return None
    return "/".join(parts)


def _plain(archive: zipfile.ZipFile) -> list[tuple[zipfile.ZipInfo, str]] | None:
    """The entries and their paths when every one is plain (see the module), else None."""
    infos = archive.infolist()
    if len(infos) > MAX_ENTRIES:
        return None
    entries: list[tuple[zipfile.ZipInfo, str]] = []
    paths: set[str] = set()
    for info in infos:
        path = _safe_name(info)
        if path is None or info.flag_bits & ENCRYPTED or info.compress_type not in METHODS:
            return None
        mode = info.external_attr >> 16
        if mode and stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
            return None             # links, devices, fifos: 7-Zip and our checks of them
        key = path.casefold()
        if key in paths:
            return None             # two entries at one path: which one 7-Zip keeps is its call
        paths.add(key)
        entries.append((info, path))
    files = {path.casefold() for info, path in entries if not info.is_dir()}
    for path in paths:              # a file that is also a folder of another entry
        parent = path.rpartition("/")[0]
        while parent:
            if parent in files:
                return None
            parent = parent.rpartition("/")[0]
    return entries


def extract(carved: Path, outdir: Path, *, byte_budget: int, deadline: float) -> ChunkOutcome | None:
    """Extract the zip in `carved` into `outdir` when it is small and plain; None sends it to
    the extraction child. A damaged entry is named and skipped, the others are extracted."""
    try:
        if carved.stat().st_size > MAX_CARVED:
            return None
        archive = zipfile.ZipFile(carved)
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError, EOFError):
        return None
    with archive:
        try:
            entries = _plain(archive)
        except (ValueError, UnicodeError):
            return None
        if entries is None:
            return None
        outcome = ChunkOutcome()
        overlap = zip_overlap(carved)
        if overlap:
            outcome.errors.append(overlap)
            return outcome
        declared = sum(_charged(info.file_size) for info, _ in entries if not info.is_dir())
        if declared > byte_budget:
            return None             # the child cuts it at the budget, with its own sentence
        outdir.mkdir(parents=True, exist_ok=True)
        for info, path in entries:
            target = outdir / path
            if info.is_dir():
                target.mkdir(mode=0o700, parents=True, exist_ok=True)
                continue
            try:
                target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
                outcome.written += _charged(_member(archive, info, target, outcome, deadline))
            except OSError as exc:          # the host refuses the name: this member only
                outcome.errors.append(f"zip entry {info.filename!r}: not written: "
                                      f"{exc.strerror or exc}")
            if time.monotonic() > deadline:
                outcome.errors.append("extraction stopped: time limit reached")
                break
        try:
            outcome.meta = read_metadata("zip", carved)
        except MetadataError as exc:
            outcome.errors.append(f"metadata: {exc}")
    return outcome


def _charged(size: int) -> int:
    """What a file of `size` bytes takes on disk, as the budget counts it: whole 4 KiB blocks,
    at least one (as the extraction child's watchdog and the SquashFS writer count)."""
    return max(1, -(-size // DISK_BLOCK)) * DISK_BLOCK


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, outcome: ChunkOutcome,
            deadline: float) -> int:
    """Write one member (at most its declared size: zipfile stops there), in blocks; a read
    error keeps what was decoded before it and names the member."""
    written = 0
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    with os.fdopen(fd, "wb") as out:
        try:
            with archive.open(info) as member:
                while block := member.read(BLOCK):
                    out.write(block)
                    written += len(block)
                    check()
                    if time.monotonic() > deadline:
                        break
        except READ_ERRORS as exc:
            text = str(exc) or type(exc).__name__
            outcome.errors.append(f"zip entry {info.filename!r}: {text} "
                                  f"(kept the {written:,} bytes decoded before it)")
    return written

