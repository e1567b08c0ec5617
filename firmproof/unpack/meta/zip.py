"""zip archives made on Unix: mode from the high half of external_attr, owner from the
Info-ZIP "ux" (0x7875) or "Ux" (0x7855) extra field where present.

An archive none of whose entries was made on Unix carries no metadata (None). unblob
extracts with 7z, which keeps the stored names, so keys are the stored names.
"""

from __future__ import annotations

import stat
import struct
import zipfile
import zlib
from pathlib import Path

from firmproof.fs.rootfs import DIR, FILE, SYMLINK, FileMeta
from firmproof.unpack.meta.common import (
    MAX_LINK_BYTES,
    MetadataError,
    check_count,
    key_of,
    meta_of_mode,
    name_of,
)

UNIX = 3                               # create_system of an entry made on Unix
EXTRA_UX = 0x7875                      # version, uid size, uid, gid size, gid
EXTRA_UX_OLD = 0x7855                  # 16-bit uid and gid (local header only)


def owner(extra: bytes) -> tuple[int | None, int | None]:
    """uid and gid from a zip extra field, (None, None) if it holds none."""
    at = 0
    while at + 4 <= len(extra):
        tag, size = struct.unpack_from("<HH", extra, at)
        body = extra[at + 4: at + 4 + size]
        at += 4 + size
        if tag == EXTRA_UX and len(body) >= 3 and body[0] == 1:
            uid_size = body[1]
            gid_at = 2 + uid_size
            if gid_at < len(body) and gid_at + 1 + body[gid_at] <= len(body):
                uid = int.from_bytes(body[2:gid_at], "little")
                gid = int.from_bytes(body[gid_at + 1: gid_at + 1 + body[gid_at]], "little")
                return uid, gid
        elif tag == EXTRA_UX_OLD and len(body) >= 4:
            uid, gid = struct.unpack_from("<HH", body)
            return uid, gid
    return None, None


def read(path: Path) -> dict[str, FileMeta] | None:
    result: dict[str, FileMeta] = {}
    unix = False
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                check_count(result, "zip")
                st_mode = info.external_attr >> 16
                if info.create_system != UNIX or st_mode == 0:
                    continue
                unix = True
                key = key_of(info.filename)
                if key is None:
                    continue
                if stat.S_IFMT(st_mode) == 0:
                    st_mode |= stat.S_IFDIR if info.is_dir() else stat.S_IFREG
                uid, gid = owner(info.extra)
                meta = meta_of_mode(st_mode, uid, gid, size=info.file_size)
                if meta.kind == SYMLINK:
                    meta = meta_of_mode(st_mode, uid, gid, _link(archive, info))
                elif meta.kind not in (FILE, DIR) and info.is_dir():
                    meta = meta_of_mode(stat.S_IFDIR | stat.S_IMODE(st_mode), uid, gid)
                result[key] = meta
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError,
            NotImplementedError) as exc:        # NotImplementedError: a "zip file version" above 6.3
        raise MetadataError(f"zip: cannot read the archive: {exc}", result) from None
    return result if unix else None


def _link(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> str | None:
    try:
        with archive.open(info) as member:
            return name_of(member.read(MAX_LINK_BYTES))
    except (zipfile.BadZipFile, RuntimeError, NotImplementedError, OSError, EOFError, ValueError,
            zlib.error):
        return None
