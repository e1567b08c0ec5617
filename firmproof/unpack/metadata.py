"""The file system's own metadata of an extracted chunk: mode, owner, symlink target.

unblob's extractors cannot be trusted with these: its clean-up forces files to at least
0644 and folders to 0775, and several extractors drop setuid/setgid bits, owners or
symlinks (see tests/unpack/test_metadata.py for which). `read_metadata` reads them from
the carved chunk itself, keyed by the path unblob's extractor gives each entry, relative
to the extraction folder ("etc/shadow").
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from firmproof.rootfs import FileMeta
from firmproof.unpack.meta import cpio, cramfs, extfs, jffs2, tar, ubifs
from firmproof.unpack.meta import zip as zip_archive
from firmproof.unpack.meta.common import MetadataError

__all__ = ["READERS", "MetadataError", "read_metadata"]

log = logging.getLogger(__name__)

Reader = Callable[[Path], dict[str, FileMeta] | None]

# unblob handler name -> reader. SquashFS has a reader of its own (firmproof.unpack.squashfs);
# unblob's `ubi` handler yields UBIFS volume images, which carry no metadata themselves.
READERS: dict[str, Reader] = {
    "cpio_portable_ascii": cpio.read,
    "cpio_portable_ascii_crc": cpio.read,
    "cpio_portable_old_ascii": cpio.read,
    "cpio_binary": cpio.read,
    "tar": tar.read,
    "extfs": extfs.read,
    "jffs2_new": jffs2.read,
    "jffs2_old": jffs2.read,
    "ubifs": ubifs.read,
    "cramfs": cramfs.read,
    "zip": zip_archive.read,
}


def read_metadata(handler_name: str, chunk_path: Path, *, strict: bool = False
                  ) -> dict[str, FileMeta] | None:
    """Metadata of every entry of the chunk unblob's `handler_name` extracted from
    `chunk_path`, or None if the format carries none.

    A damaged image raises MetadataError; with `strict=False` (the default) what was read
    before the damage is returned instead, if anything was, and the damage is logged.
    """
    reader = READERS.get(handler_name)
    if reader is None:
        return None
    try:
        return reader(chunk_path)
    except MetadataError as exc:
        if strict or not exc.partial:
            raise
        log.warning("%s metadata of %s incomplete: %s (%d entries read)", handler_name,
                    chunk_path, exc, len(exc.partial))
        return exc.partial
    except RecursionError:
        raise MetadataError(f"{handler_name}: structure nested too deep") from None
    except OSError as exc:
        raise MetadataError(f"{handler_name}: cannot read {chunk_path}: {exc}") from None
    except Exception as exc:  # the boundary of a reader over hostile bytes: never a crash
        raise MetadataError(f"{handler_name}: unreadable metadata "
                            f"({type(exc).__name__}: {exc})") from exc
