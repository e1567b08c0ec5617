"""Inodes and directory listings of SquashFS 2.x and 3.x (packed bitfields, either byte order).

Field widths in bits, in the order the structures declare them. 2.x inodes carry no inode
number and no link count; 3.x adds both and 64-bit block positions.
"""

from __future__ import annotations

import struct

from firmproof.fs.rootfs import BLOCKDEV, CHARDEV, DIR, FIFO, FILE, SOCKET, SYMLINK
from firmproof.unpack.squashfs.bits import struct_size, unpack_bits
from firmproof.unpack.squashfs.errors import SquashFSError
from firmproof.unpack.squashfs.inode import (
    MAX_BLOCKS,
    MAX_LINK_BYTES,
    DirEntry,
    Inode,
    block_count,
    id_at,
)
from firmproof.unpack.squashfs.metablock import MetadataReader
from firmproof.unpack.squashfs.superblock import Superblock

NO_GID = 255            # a gid index meaning "the gid is the uid"

KINDS = {1: DIR, 2: FILE, 3: SYMLINK, 4: BLOCKDEV, 5: CHARDEV, 6: FIFO, 7: SOCKET, 8: DIR, 9: FILE}

# type, mode, uid index, gid index (+ 3.x: mtime, inode number)
BASE = {2: (4, 12, 8, 8), 3: (4, 12, 8, 8, 32, 32)}

# inode type -> names and widths of the fields after the base header
BODY: dict[int, dict[int, tuple[tuple[str, ...], tuple[int, ...]]]] = {
    2: {
        1: (("size", "offset", "mtime", "start"), (19, 13, 32, 24)),
        8: (("size", "offset", "mtime", "start", "index_count"), (27, 13, 32, 24, 16)),
        2: (("mtime", "start", "fragment", "frag_offset", "size"), (32, 32, 32, 32, 32)),
        3: (("size",), (16,)),
        4: (("rdev",), (16,)), 5: (("rdev",), (16,)),
        6: ((), ()), 7: ((), ()),
    },
    3: {
        1: (("nlink", "size", "offset", "start", "parent"), (32, 19, 13, 32, 32)),
        8: (("nlink", "size", "offset", "start", "index_count", "parent"), (32, 27, 13, 32, 16, 32)),
        2: (("start", "fragment", "frag_offset", "size"), (64, 32, 32, 32)),
        9: (("nlink", "start", "fragment", "frag_offset", "size"), (32, 64, 32, 32, 64)),
        3: (("nlink", "size"), (32, 16)),
        4: (("nlink", "rdev"), (32, 16)), 5: (("nlink", "rdev"), (32, 16)),
        6: (("nlink",), (32,)), 7: (("nlink",), (32,)),
    },
}

# directory header: count - 1, inode block (+ 3.x: inode number);
# entry: inode offset, type, name length - 1 (+ 3.x: inode number delta)
DIR_HEADER = {2: (8, 24), 3: (8, 32, 32)}
DIR_ENTRY = {2: (13, 3, 8), 3: (13, 3, 8, 16)}


def read_inode(meta: MetadataReader, sb: Superblock, uids: tuple[int, ...],
               gids: tuple[int, ...], ref: int) -> Inode:
    big = sb.big_endian
    base = BASE[sb.major]
    cur = meta.cursor(sb.inode_table + (ref >> 16), ref & 0xFFFF)
    itype, mode, uid_index, gid_index, *_ = unpack_bits(cur.read(struct_size(base)), base, big)
    layout = BODY[sb.major].get(itype)
    if layout is None:
        raise SquashFSError(f"unknown inode type {itype}")
    names, widths = layout
    fields = dict(zip(names, unpack_bits(cur.read(struct_size(widths)), widths, big), strict=True))
    uid = id_at(uids, uid_index)
    gid = uid if gid_index == NO_GID else id_at(gids, gid_index)
    inode = Inode(ref, KINDS[itype], mode & 0o7777, uid, gid)
    if inode.kind == DIR:
        size = fields["size"] - (3 if sb.major == 3 else 0)
        inode.size, inode.start, inode.offset = max(size, 0), fields["start"], fields["offset"]
    elif inode.kind == FILE:
        size, fragment = fields["size"], fields["fragment"]
        count = block_count(size, fragment, sb.block_size)
        if count > MAX_BLOCKS:
            raise SquashFSError(f"implausible file size {size}")
        inode.size, inode.start, inode.fragment = size, fields["start"], fragment
        inode.offset = fields["frag_offset"]
        inode.blocks = struct.unpack(f"{sb.endian}{count}I", cur.read(4 * count))
    elif inode.kind == SYMLINK:
        if fields["size"] > MAX_LINK_BYTES:
            raise SquashFSError(f"symlink target of {fields['size']} bytes")
        inode.target = cur.read(fields["size"])
        inode.size = fields["size"]
    return inode


def read_dir(meta: MetadataReader, sb: Superblock, inode: Inode) -> list[DirEntry]:
    big = sb.big_endian
    header_widths, entry_widths = DIR_HEADER[sb.major], DIR_ENTRY[sb.major]
    header_size, entry_size = struct_size(header_widths), struct_size(entry_widths)
    data, _, _ = meta.read(sb.directory_table + inode.start, inode.offset, inode.size)
    entries: list[DirEntry] = []
    pos, end = 0, len(data)
    while pos + header_size <= end:
        count, start, *_ = unpack_bits(data[pos:pos + header_size], header_widths, big)
        pos += header_size
        for _ in range(count + 1):
            if pos + entry_size > end:
                raise SquashFSError("directory listing ends inside an entry")
            offset, _type, name_size, *_ = unpack_bits(data[pos:pos + entry_size], entry_widths, big)
            pos += entry_size
            name = data[pos:pos + name_size + 1]
            pos += name_size + 1
            if pos > end:
                raise SquashFSError("directory listing ends inside a name")
            entries.append(DirEntry(name, (start << 16) | offset))
    return entries
