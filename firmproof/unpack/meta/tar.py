"""tar archives (ustar, GNU, pax), read with the same header parser unblob extracts with.

Keys follow unblob's SafeTarFile: absolute names made relative, names that climb out of
the archive or are longer than 255 bytes skipped, a later entry of the same name wins.
"""

from __future__ import annotations

import stat
import tarfile
from pathlib import Path

from firmproof.fs.rootfs import BLOCKDEV, CHARDEV, DIR, FIFO, FILE, SYMLINK, FileMeta
from firmproof.unpack.meta.common import MAX_LINK_BYTES, MetadataError, check_count, key_of

MAX_PATH_LEN = 255                     # unblob skips longer names

_KINDS = {tarfile.DIRTYPE: DIR, tarfile.SYMTYPE: SYMLINK, tarfile.CHRTYPE: CHARDEV,
          tarfile.BLKTYPE: BLOCKDEV, tarfile.FIFOTYPE: FIFO}


def _open(path: Path) -> tarfile.TarFile:
    from unblob.handlers.archive._safe_tarfile import open_safe_tarfile

    return open_safe_tarfile(str(path), mode="r:")


def read(path: Path) -> dict[str, FileMeta]:
    result: dict[str, FileMeta] = {}
    try:
        archive = _open(path)
    except (tarfile.TarError, OSError, EOFError, ValueError) as exc:
        raise MetadataError(f"tar: cannot read the archive: {exc}") from None
    with archive:
        members = iter(archive)
        while True:
            check_count(result, "tar")
            try:
                member = next(members)
            except StopIteration:
                break
            except (tarfile.TarError, OSError, EOFError, ValueError, UnicodeError) as exc:
                raise MetadataError(f"tar: damaged after {len(result)} entries: {exc}",
                                    result) from None
            if not member.name or len(member.name) > MAX_PATH_LEN:
                continue
            key = key_of(member.name)
            if key is None:
                continue
            kind = _KINDS.get(member.type, FILE)
            link = member.linkname[:MAX_LINK_BYTES] if kind == SYMLINK else None
            # a hard link's header holds no data: its size is its target's
            size = member.size if kind == FILE and member.isreg() else None
            result[key] = FileMeta(kind=kind, mode=stat.S_IMODE(member.mode), uid=member.uid,
                                   gid=member.gid, link=link, size=size)
    return result
