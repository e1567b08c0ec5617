"""Checks on archives before an external extractor opens them.

A zip's central directory may point many entries at one compressed body (the overlapping
entries of a "better zip bomb": 20,000 entries × one 32 MiB body keep 7-Zip rewriting the
same bytes for minutes, far past what the archive's size promises). No honest archiver
writes that, so such a zip is refused, naming the entries, before 7-Zip sees it.
"""

from __future__ import annotations

import struct
import zipfile
from itertools import pairwise
from pathlib import Path

LOCAL_HEADER = struct.Struct("<4s5HIIIHH")      # signature … name length, extra length (30 bytes)
LOCAL_MAGIC = b"PK\x03\x04"


def zip_overlap(path: Path) -> str | None:
    """Why the zip at `path` must not be extracted (entries whose data overlap), or None."""
    try:
        with zipfile.ZipFile(path) as archive, path.open("rb") as raw:
            spans = []
            for info in archive.infolist():
                raw.seek(info.header_offset)
                head = raw.read(LOCAL_HEADER.size)
                if len(head) < LOCAL_HEADER.size or head[:4] != LOCAL_MAGIC:
                    return f"zip entry {info.filename!r}: no local header at offset {info.header_offset}"
                name_len, extra_len = LOCAL_HEADER.unpack(head)[-2:]
                end = info.header_offset + LOCAL_HEADER.size + name_len + extra_len + info.compress_size
                spans.append((info.header_offset, end, info.filename))
    except (zipfile.BadZipFile, OSError, ValueError, NotImplementedError):
        return None             # not for this check to judge: the extractor says what is wrong
    spans.sort()
    for (start, end, name), (next_start, _next_end, next_name) in pairwise(spans):
        if next_start < end:
            shared = sum(1 for s in spans if s[0] < end and s[1] > start) - 1
            return (f"zip entries {name!r} (offset {start}) and {next_name!r} (offset {next_start}) "
                    f"overlap, with {shared} entries sharing those bytes: a zip bomb; not extracted")
    return None
