"""Inodes and directory listings of SquashFS 4.0 (either byte order)."""

from __future__ import annotations

import struct

from firmproof.fs.rootfs import BLOCKDEV, CHARDEV, DIR, FIFO, FILE, SOCKET, SYMLINK
from firmproof.unpack.squashfs.errors import SquashFSError
from firmproof.unpack.squashfs.inode import (
    MAX_BLOCKS,
    MAX_DIR_ENTRIES,
    MAX_LINK_BYTES,
    DirEntry,
    Inode,
    block_count,
    id_at,
)
from firmproof.unpack.squashfs.metablock import MetadataReader
from firmproof.unpack.squashfs.superblock import Superblock

# inode type -> (kind, extended)
TYPES = {1: (DIR, False), 2: (FILE, False), 3: (SYMLINK, False), 4: (BLOCKDEV, False),
         5: (CHARDEV, False), 6: (FIFO, False), 7: (SOCKET, False), 8: (DIR, True),
         9: (FILE, True), 10: (SYMLINK, True), 11: (BLOCKDEV, True), 12: (CHARDEV, True),
         13: (FIFO, True), 14: (SOCKET, True)}


def read_inode(meta: MetadataReader, sb: Superblock, ids: tuple[int, ...], ref: int) -> Inode:
    e = sb.endian
    cur = meta.cursor(sb.inode_table + (ref >> 16), ref & 0xFFFF)
    itype, perm, uid, gid, _mtime, _number = struct.unpack(e + "HHHHII", cur.read(16))
    if itype not in TYPES:
        raise SquashFSError(f"unknown inode type {itype}")
    kind, extended = TYPES[itype]
    inode = Inode(ref, kind, perm & 0o7777, id_at(ids, uid), id_at(ids, gid))
    if kind == DIR:
        if extended:
            _nlink, size, start, _parent, _count, offset, _xattr = struct.unpack(
                e + "IIIIHHI", cur.read(24))
        else:
            start, _nlink, size, offset, _parent = struct.unpack(e + "IIHHI", cur.read(16))
        inode.size, inode.start, inode.offset = max(size - 3, 0), start, offset
    elif kind == FILE:
        if extended:
            start, size, _sparse, _nlink, fragment, offset, _xattr = struct.unpack(
                e + "QQQIIII", cur.read(40))
        else:
            start, fragment, offset, size = struct.unpack(e + "IIII", cur.read(16))
        count = block_count(size, fragment, sb.block_size)
        if count > MAX_BLOCKS:
            raise SquashFSError(f"implausible file size {size}")
        inode.size, inode.start, inode.offset, inode.fragment = size, start, offset, fragment
        inode.blocks = struct.unpack(f"{e}{count}I", cur.read(4 * count))
    elif kind == SYMLINK:
        _nlink, length = struct.unpack(e + "II", cur.read(8))
        if length > MAX_LINK_BYTES:
            raise SquashFSError(f"symlink target of {length} bytes")
        inode.target = cur.read(length)
        inode.size = length
    return inode


def read_dir(meta: MetadataReader, sb: Superblock, inode: Inode) -> list[DirEntry]:
    """The entries of a directory; SquashFSError on a damaged listing."""
    e = sb.endian
    data, _, _ = meta.read(sb.directory_table + inode.start, inode.offset, inode.size)
    entries: list[DirEntry] = []
    pos, end = 0, len(data)
    header, entry = struct.Struct(e + "III"), struct.Struct(e + "HhHH")
    while pos + header.size <= end:
        count, start, _number = header.unpack_from(data, pos)
        pos += header.size
        if count >= MAX_DIR_ENTRIES:
            raise SquashFSError(f"directory header claims {count + 1} entries")
        for _ in range(count + 1):
            if pos + entry.size > end:
                raise SquashFSError("directory listing ends inside an entry")
            offset, _delta, _type, name_size = entry.unpack_from(data, pos)
            pos += entry.size
            name = data[pos:pos + name_size + 1]
            pos += name_size + 1
            if pos > end:
                raise SquashFSError("directory listing ends inside a name")
            entries.append(DirEntry(name, (start << 16) | offset))
    return entries
