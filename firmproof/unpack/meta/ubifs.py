"""UBIFS images: the committed index walked for inode and directory-entry nodes.

The node layouts are ubi_reader's (`ubireader.ubifs.nodes`); the walk is ours, because
ubi_reader's recursive one has no bound on a hostile index (a branch back to an ancestor
recurses, two branches to one subtree double the work at every level) and exits the
process on a fatal error. Like ubi_reader, only the index is read, not the journal.

unblob extracts a UBIFS image with `ubireader_extract_files`, which writes the root's
entries directly into its output folder: keys are paths from the root. (A UBI image is
first split by unblob's `ubi` handler into volume images, `img-<image_seq>_vol-<name>.ubifs`,
which carry no metadata of their own; each is then a UBIFS chunk of its own.)
"""

from __future__ import annotations

import mmap
import struct
import zlib
from pathlib import Path
from typing import Any

from firmproof.fs.rootfs import SYMLINK, FileMeta
from firmproof.unpack.meta.common import (
    MAX_DEPTH,
    MAX_ENTRIES,
    MAX_LINK_BYTES,
    MetadataError,
    check_count,
    key_of,
    meta_of_mode,
    name_of,
)

NODE_MAGIC = 0x06101831
HEADER = 24                        # magic, crc, sqnum, len, node_type, group_type, padding
INO_NODE, DENT_NODE, PAD_NODE, SB_NODE, MST_NODE, IDX_NODE = 0, 2, 5, 6, 7, 9
MST_LNUM = 1                       # master nodes live in LEBs 1 and 2
ROOT_INO = 1
ITYPE_DIR = 1                      # directory entry type of a folder
MIN_LEB, MAX_LEB = 4 * 1024, 64 * 1024 * 1024
MAX_INDEX_NODES = 4 * MAX_ENTRIES


def _nodes() -> Any:
    from ubireader.ubifs import nodes

    return nodes


class _Image:
    def __init__(self, data: mmap.mmap) -> None:
        self.data = data
        self.leb_size = 0

    def node(self, at: int) -> tuple[int, int] | None:
        """(node type, length) of a plausible node at `at`, None if there is none."""
        if at < 0 or at + HEADER > len(self.data):
            return None
        magic, _crc, _sqnum, length, node_type = struct.unpack_from("<IIQIB", self.data, at)
        if magic != NODE_MAGIC or length < HEADER or at + length > len(self.data):
            return None
        if self.leb_size and length > self.leb_size:
            return None
        return node_type, length

    def body(self, at: int, length: int) -> bytes:
        return bytes(self.data[at + HEADER: at + length])

    def crc_good(self, at: int, length: int) -> bool:
        crc = struct.unpack_from("<I", self.data, at + 4)[0]
        return (~zlib.crc32(self.data[at + 8: at + length]) & 0xFFFFFFFF) == crc


def _superblock(image: _Image) -> None:
    found = image.node(0)
    if found is None or found[0] != SB_NODE:
        raise MetadataError("ubifs: no superblock node at the start of the image")
    try:
        leb_size = _nodes().sb_node(image.body(0, found[1])).leb_size
    except (struct.error, ValueError) as exc:
        raise MetadataError(f"ubifs: bad superblock: {exc}") from None
    if not MIN_LEB <= leb_size <= MAX_LEB:
        raise MetadataError(f"ubifs: implausible LEB size {leb_size}")
    image.leb_size = leb_size


def _root(image: _Image) -> tuple[int, int]:
    """(lnum, offs) of the index root, from the valid master node with the highest commit."""
    best: Any = None
    for lnum in (MST_LNUM, MST_LNUM + 1):
        at, end = lnum * image.leb_size, (lnum + 1) * image.leb_size
        while at < end:
            found = image.node(at)
            if found is None:
                break
            node_type, length = found
            if node_type == PAD_NODE and length >= HEADER + 4:
                at += struct.unpack_from("<I", image.data, at + HEADER)[0]
            elif node_type == MST_NODE and image.crc_good(at, length):
                try:
                    master = _nodes().mst_node(image.body(at, length))
                except (struct.error, ValueError):
                    master = None
                if master is not None and (best is None or master.cmt_no > best.cmt_no):
                    best = master
            at += (length + 7) & ~7
    if best is None:
        raise MetadataError("ubifs: no valid master node")
    return best.root_lnum, best.root_offs


def _walk_index(image: _Image, root: tuple[int, int]) -> tuple[dict[int, Any], dict[int, list[Any]]]:
    """Inode nodes by inode number and directory entries by parent, in ubi_reader's order."""
    nodes = _nodes()
    inodes: dict[int, Any] = {}
    dents: dict[int, list[Any]] = {}
    stack = [root]
    seen: set[tuple[int, int]] = set()
    while stack:
        lnum, offs = stack.pop()
        if (lnum, offs) in seen or not 0 <= offs < image.leb_size:
            continue
        seen.add((lnum, offs))
        if len(seen) > MAX_INDEX_NODES:
            raise MetadataError(f"ubifs: index larger than {MAX_INDEX_NODES} nodes")
        at = lnum * image.leb_size + offs
        found = image.node(at)
        if found is None or found[0] not in (IDX_NODE, INO_NODE, DENT_NODE):
            continue                     # data nodes: nothing to read for metadata
        node_type, length = found
        try:
            if node_type == IDX_NODE:
                index = nodes.idx_node(image.body(at, length))
                stack.extend((b.lnum, b.offs) for b in reversed(index.branches))
            elif node_type == INO_NODE:
                inode = nodes.ino_node(image.body(at, length))
                inodes[inode.key["ino_num"]] = inode
            else:
                dent = nodes.dent_node(image.body(at, length))
                dents.setdefault(dent.key["ino_num"], []).append(dent)
        except (struct.error, ValueError, ZeroDivisionError, IndexError):
            continue                     # a damaged node: ubi_reader skips it too
    return inodes, dents


def read(path: Path) -> dict[str, FileMeta]:
    result: dict[str, FileMeta] = {}
    with path.open("rb") as handle:
        if path.stat().st_size < HEADER:
            raise MetadataError("ubifs: image shorter than one node header")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            image = _Image(data)
            _superblock(image)
            inodes, dents = _walk_index(image, _root(image))
    # the tree as ubi_reader lays it out: entries of each folder in index order
    stack: list[tuple[int, str, int]] = [(ROOT_INO, "", 0)]
    visited: set[int] = {ROOT_INO}
    while stack:
        parent, prefix, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise MetadataError(f"ubifs: folders nested deeper than {MAX_DEPTH}", result)
        below: list[tuple[int, str, int]] = []
        for dent in dents.get(parent, []):
            inode = inodes.get(dent.inum)
            key = key_of(f"{prefix}/{name_of(dent.raw_name)}")
            if inode is None or key is None:
                continue
            check_count(result, "ubifs")
            meta = meta_of_mode(inode.mode, inode.uid, inode.gid)
            if meta.kind == SYMLINK:
                target = bytes(inode.data[:min(inode.data_len, MAX_LINK_BYTES)])
                meta = meta_of_mode(inode.mode, inode.uid, inode.gid, name_of(target))
            result[key] = meta
            if dent.type == ITYPE_DIR and dent.inum not in visited:
                visited.add(dent.inum)
                below.append((dent.inum, key, depth + 1))
        stack.extend(reversed(below))
    return result
