"""What every metadata reader shares: the error type, bounds, and path keys."""

from __future__ import annotations

import os
import stat

from firmproof.fs.rootfs import FileMeta, kind_of_mode

# Bounds on hostile input: no reader loops past these.
MAX_ENTRIES = 2_000_000        # entries of one file system or archive
MAX_DEPTH = 512                # folder nesting
MAX_LINK_BYTES = 4096          # a symlink target (PATH_MAX)


class MetadataError(ValueError):
    """The image's metadata could not be read (whole or in part).

    `partial` holds what was read before the damage, keyed like a full result.
    """

    def __init__(self, message: str, partial: dict[str, FileMeta] | None = None) -> None:
        super().__init__(message)
        self.partial: dict[str, FileMeta] = partial or {}


def name_of(raw: bytes) -> str:
    """A file name as the host's os.scandir will spell it once extracted."""
    return os.fsdecode(raw)


def key_of(path: str) -> str | None:
    """'./etc//shadow' or '/etc/shadow' -> 'etc/shadow'; None for the root itself or for a
    path that climbs out of the extraction directory (extractors drop or move those)."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                return None
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts) or None


def meta_of_mode(st_mode: int, uid: int | None, gid: int | None, link: str | None = None, *,
                 size: int | None = None) -> FileMeta:
    """FileMeta from a full st_mode (type bits included); `size` is kept for a regular file
    (what the archive declares, compared with what was extracted)."""
    kind = kind_of_mode(st_mode)
    return FileMeta(kind=kind, mode=stat.S_IMODE(st_mode), uid=uid, gid=gid, link=link,
                    size=size if stat.S_ISREG(st_mode) else None)


def check_count(result: dict[str, FileMeta], what: str) -> None:
    if len(result) >= MAX_ENTRIES:
        raise MetadataError(f"{what}: more than {MAX_ENTRIES} entries", result)
