"""The superblock of SquashFS 2.x, 3.x and 4.0, in either byte order and the vendor magics.

The magic says the byte order and, for vendor builds, a hint at the compressor:

| stored bytes (LE / BE) | who writes it |
|---|---|
| `hsqs` / `sqsh` | squashfs-tools (zlib in 2.x/3.x, any compressor id in 4.0) |
| `shsq` / `qshs` | sqlzma and Broadcom SDK builds (LZMA) |
| `zlqs` / `sqlz` | vendor 2.x/3.x builds (LZMA) |
| `hsqt` / `tqsh` | DD-WRT 3.x builds (LZMA) |

2.x and 3.x share one layout (3.x appends 64-bit table offsets); 4.0 has its own.
All offsets in `Superblock` are relative to the start of the superblock.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from firmproof.unpack.squashfs.errors import SquashFSError

MAGICS: dict[bytes, tuple[str, str]] = {
    b"hsqs": ("<", "standard"), b"sqsh": (">", "standard"),
    b"shsq": ("<", "lzma"), b"qshs": (">", "lzma"),
    b"zlqs": ("<", "lzma"), b"sqlz": (">", "lzma"),
    b"hsqt": ("<", "ddwrt"), b"tqsh": (">", "ddwrt"),
}

# 4.0 compressor ids
GZIP, LZMA, LZO, XZ, LZ4, ZSTD = 1, 2, 3, 4, 5, 6
COMPRESSOR_NAMES = {GZIP: "gzip", LZMA: "lzma", LZO: "lzo", XZ: "xz", LZ4: "lz4", ZSTD: "zstd"}

FLAG_CHECK = 1 << 2            # 2.x/3.x: a marker byte follows each metadata block header

V4_SIZE = 96
V3_SIZE = 119
V2_SIZE = 63
NO_TABLE = 0xFFFF_FFFF_FFFF_FFFF
MIN_BLOCK, MAX_BLOCK = 4096, 1 << 20


@dataclass(frozen=True)
class Superblock:
    major: int
    minor: int
    endian: str                  # struct prefix: "<" or ">"
    variant: str                 # key of MAGICS' second column
    compressor: int              # 4.0 id; 0 in 2.x/3.x, which do not say
    block_size: int
    flags: int
    inode_count: int
    fragment_count: int
    bytes_used: int
    root_inode: int              # (metadata block offset << 16) | offset in the block
    inode_table: int
    directory_table: int
    fragment_table: int
    id_table: int                # 4.0: index of the id table; 2.x/3.x: the raw uid array
    id_count: int                # 4.0: ids; 2.x/3.x: uids
    gid_count: int = 0           # 2.x/3.x: gids, stored right after the uids
    export_table: int = NO_TABLE
    xattr_table: int = NO_TABLE
    mkfs_time: int = 0

    @property
    def big_endian(self) -> bool:
        return self.endian == ">"

    @property
    def check_marker(self) -> bool:
        return self.major < 4 and bool(self.flags & FLAG_CHECK)

    def describe(self) -> str:
        order = "big" if self.big_endian else "little"
        comp = COMPRESSOR_NAMES.get(self.compressor, "unspecified compression")
        return f"SquashFS {self.major}.{self.minor} {order}-endian ({self.variant}, {comp})"


def parse_superblock(head: bytes) -> Superblock:
    """Parse the superblock at the start of `head`; SquashFSError if it is not one we read."""
    magic = head[:4]
    if magic not in MAGICS:
        raise SquashFSError(f"no SquashFS magic (found {magic!r})")
    endian, variant = MAGICS[magic]
    if len(head) < 32:                  # through the version, bytes 28-31
        raise SquashFSError("image shorter than a SquashFS superblock")
    major, minor = struct.unpack_from(endian + "HH", head, 28)
    if major == 4:
        sb = _parse_v4(head, endian, variant)
    elif major in (2, 3):
        sb = _parse_v2_v3(head, endian, variant, major)
    elif major == 1:
        raise SquashFSError("SquashFS 1.x images are not supported")
    else:
        raise SquashFSError(f"unknown SquashFS version {major}.{minor} (magic {magic!r})")
    _check(sb)
    return sb


def _parse_v4(head: bytes, e: str, variant: str) -> Superblock:
    if len(head) < V4_SIZE:
        raise SquashFSError("image shorter than a SquashFS 4.0 superblock")
    (_, inodes, mkfs_time, block_size, fragments, compressor, block_log, flags, no_ids, major,
     minor, root, bytes_used, id_table, xattr_table, inode_table, dir_table, frag_table,
     export_table) = struct.unpack_from(e + "4sIIIIHHHHHHQQQQQQQQ", head)
    if block_size != 1 << block_log:
        raise SquashFSError(f"block size {block_size} disagrees with block log {block_log}")
    if compressor not in COMPRESSOR_NAMES:
        raise SquashFSError(f"unknown compressor id {compressor}")
    return Superblock(major, minor, e, variant, compressor, block_size, flags, inodes, fragments,
                      bytes_used, root, inode_table, dir_table, frag_table, id_table, no_ids,
                      export_table=export_table, xattr_table=xattr_table, mkfs_time=mkfs_time)


def _parse_v2_v3(head: bytes, e: str, variant: str, major: int) -> Superblock:
    size = V3_SIZE if major == 3 else V2_SIZE
    if len(head) < size:
        raise SquashFSError(f"image shorter than a SquashFS {major}.x superblock")
    (_, inodes, bytes_used_2, uid_start_2, _guid_start_2, inode_table_2, dir_table_2, _major,
     minor, _block_size_1, block_log, flags, no_uids, no_guids, mkfs_time, root, block_size,
     fragments, frag_table_2) = struct.unpack_from(e + "4sIIIIIIHHHHBBBIQIII", head)
    if major == 3:
        (bytes_used, uid_start, _guid_start, inode_table, dir_table,
         frag_table) = struct.unpack_from(e + "QQQQQQ", head, 63)
    else:
        bytes_used, uid_start, inode_table = bytes_used_2, uid_start_2, inode_table_2
        dir_table, frag_table = dir_table_2, frag_table_2
    if block_log and block_size != 1 << block_log:
        raise SquashFSError(f"block size {block_size} disagrees with block log {block_log}")
    return Superblock(major, minor, e, variant, 0, block_size, flags, inodes, fragments,
                      bytes_used, root, inode_table, dir_table, frag_table, uid_start, no_uids,
                      gid_count=no_guids, mkfs_time=mkfs_time)


def _check(sb: Superblock) -> None:
    if not MIN_BLOCK <= sb.block_size <= MAX_BLOCK or sb.block_size & (sb.block_size - 1):
        raise SquashFSError(f"implausible block size {sb.block_size}")
    if sb.inode_table >= sb.bytes_used or sb.directory_table >= sb.bytes_used:
        raise SquashFSError(f"tables lie past the end of the file system ({sb.bytes_used} bytes)")
    if sb.inode_table > sb.directory_table:
        raise SquashFSError("inode table lies after the directory table")
