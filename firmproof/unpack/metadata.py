"""The file system's own metadata of an extracted chunk: mode, owner, symlink target.

unblob's extractors cannot be trusted with these: its clean-up forces files to at least
0644 and folders to 0775, and several extractors drop setuid/setgid bits, owners or
symlinks (see tests/unpack/test_metadata.py for which). `read_metadata` reads them from
the carved chunk itself, keyed by the path unblob's extractor gives each entry, relative
to the extraction folder ("etc/shadow").
"""

from __future__ import annotations

import logging
from pathlib import Path

from firmproof.fs.rootfs import FileMeta
from firmproof.unpack import formats
from firmproof.unpack.meta.common import MetadataError

__all__ = ["MetadataError", "read_metadata"]

log = logging.getLogger(__name__)


def read_metadata(handler_name: str, chunk_path: Path, *, strict: bool = False
                  ) -> dict[str, FileMeta] | None:
    """Metadata of every entry of the chunk unblob's `handler_name` extracted from
    `chunk_path`, or None if the format carries none (its entry in formats.py has no
    `metadata` reader: SquashFS has a reader of its own, unblob's `ubi` handler yields UBIFS
    volume images, which carry no metadata themselves).

    A damaged image raises MetadataError; with `strict=False` (the default) what was read
    before the damage is returned instead, if anything was, and the damage is logged.
    """
    reader = formats.of(handler_name).metadata
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
