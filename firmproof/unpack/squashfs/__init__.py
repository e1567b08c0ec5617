"""firmproof's own SquashFS reader: versions 2.x, 3.x and 4.0, either byte order, every
compressor squashfs-tools knows and the vendor LZMA variants routers ship.

    read_metadata(path, offset=0) -> {"etc/shadow": FileMeta(...), ...}   # tables only
    extract(path, outdir, max_bytes=None) -> ExtractResult(meta, errors)

Keys are POSIX paths relative to the file system root without a leading slash. Modes,
owners and link targets come from the image's own inodes, never from the host tree.
A damaged image raises SquashFSError only when nothing of it can be read; otherwise what
can be read is returned and each problem is listed.

Modules: superblock (versions, magics), compressors (decoders and the per-image choice),
metablock (metadata blocks and tables), v4 / legacy (inodes and listings per version),
image (one open image), walk (the tree, hostile names and loops refused), data (file
blocks), writer (safe, parallel extraction).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

from firmproof.fs.rootfs import FileMeta
from firmproof.unpack.squashfs.errors import SquashFSError
from firmproof.unpack.squashfs.image import SquashFS
from firmproof.unpack.squashfs.walk import Tree, walk
from firmproof.unpack.squashfs.writer import DataWriter, Folders, make_tree

__all__ = ["ExtractResult", "SquashFSError", "extract", "read_metadata"]

log = logging.getLogger(__name__)

MAX_WORKERS = 4


@dataclass
class ExtractResult:
    meta: dict[str, FileMeta]
    errors: list[str] = field(default_factory=list)
    written: int = 0            # bytes of file data written (holes included)


def _read_tree(fs: SquashFS) -> Tree:
    tree = walk(fs)
    if not tree.entries and tree.errors:
        raise SquashFSError(tree.errors[0])
    return tree


def read_metadata(path: Path, offset: int = 0) -> dict[str, FileMeta]:
    """Mode, owner and link target of every entry of the image at `offset` in `path`.

    Reads only the superblock and the inode, directory and id tables. Problems with some
    entries are logged and those entries left out; SquashFSError if nothing can be read.
    """
    with SquashFS(Path(path), offset) as fs:
        tree = _read_tree(fs)
    for message in tree.errors:
        log.warning("%s: %s", path, message)
    return {where: inode.meta() for where, inode in tree.entries}


def extract(path: Path, outdir: Path, *, max_bytes: int | None = None, offset: int = 0,
            workers: int | None = None) -> ExtractResult:
    """Extract the image at `offset` in `path` below `outdir` (created if missing).

    Regular files, folders and symlinks are written (device nodes, fifos and sockets only
    appear in `meta`); host modes stay 0644/0755 and owners the caller's. At most
    `max_bytes` bytes of file data are written. Per-file problems are listed in `errors`.
    """
    with SquashFS(Path(path), offset) as fs:
        tree = _read_tree(fs)
        result = ExtractResult({where: inode.meta() for where, inode in tree.entries},
                               list(tree.errors))
        folders = Folders(Path(outdir))
        try:
            files = make_tree(fs, tree.entries, folders, result.errors)
            count = workers or min(MAX_WORKERS, os.cpu_count() or 1)
            writer = DataWriter(fs, folders, result.errors, max_bytes=max_bytes, workers=count)
            writer.write_all(files)
            result.written = writer.written
        finally:
            folders.close()
    return result
