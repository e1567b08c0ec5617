"""cramfs images, either byte order.

An inode is 12 bytes: mode (16 bits), uid (16), size (24) and gid (8: cramfs keeps only
the low byte of a group id), name length and data offset (both in 4-byte units). Big-endian
images pack the bit fields from the top. unblob extracts with 7z, which lays the root's
entries directly into its output folder, so keys are paths from the root.
"""

from __future__ import annotations

import mmap
import struct
import zlib
from pathlib import Path
from typing import NamedTuple

from firmproof.fs.rootfs import DIR, SYMLINK, FileMeta
from firmproof.unpack.meta.common import (
    MAX_DEPTH,
    MAX_LINK_BYTES,
    MetadataError,
    check_count,
    key_of,
    meta_of_mode,
    name_of,
)

MAGIC = 0x28CD3D45
ROOT_INODE_AT = 64
INODE = 12
PAGE = 4096
FLAG_EXT_BLOCK_POINTERS = 1 << 11
BLK_UNCOMPRESSED, BLK_DIRECT = 1 << 31, 1 << 30


class _Inode(NamedTuple):
    mode: int
    uid: int
    gid: int
    size: int
    name_len: int
    offset: int


def _inode(data: mmap.mmap, at: int, order: str) -> _Inode:
    if at + INODE > len(data):
        raise MetadataError(f"cramfs: inode at 0x{at:x} runs past the end of the image")
    mode, uid, w2, w3 = struct.unpack_from(f"{order}HHII", data, at)
    if order == "<":
        return _Inode(mode, uid, w2 >> 24, w2 & 0xFFFFFF, (w3 & 0x3F) * 4, (w3 >> 6) * 4)
    return _Inode(mode, uid, w2 & 0xFF, w2 >> 8, (w3 >> 26) * 4, (w3 & 0x3FFFFFF) * 4)


def _link_target(data: mmap.mmap, inode: _Inode, order: str, flags: int) -> str | None:
    """The first block of a symlink's data (a target is shorter than a page)."""
    blocks = max(1, -(-inode.size // PAGE))
    table = inode.offset
    if table + 4 * blocks > len(data):
        return None
    pointer = struct.unpack_from(f"{order}I", data, table)[0]
    start = table + 4 * blocks
    try:
        if flags & FLAG_EXT_BLOCK_POINTERS and pointer & (BLK_UNCOMPRESSED | BLK_DIRECT):
            if pointer & BLK_DIRECT:
                return None
            raw = data[start: start + min(inode.size, MAX_LINK_BYTES)]
        else:
            end = pointer & ~(BLK_UNCOMPRESSED | BLK_DIRECT)
            if not start <= end <= len(data):
                return None
            raw = zlib.decompressobj().decompress(data[start:end], MAX_LINK_BYTES)
    except zlib.error:
        return None
    return name_of(bytes(raw[:min(inode.size, MAX_LINK_BYTES)]))


def read(path: Path) -> dict[str, FileMeta]:
    result: dict[str, FileMeta] = {}
    with path.open("rb") as handle:
        if path.stat().st_size < ROOT_INODE_AT + INODE:
            raise MetadataError("cramfs: image shorter than its superblock")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as data:
            order = "<" if struct.unpack_from("<I", data, 0)[0] == MAGIC else ">"
            if struct.unpack_from(f"{order}I", data, 0)[0] != MAGIC:
                raise MetadataError("cramfs: no cramfs magic at the start of the image")
            flags = struct.unpack_from(f"{order}I", data, 8)[0]
            root = _inode(data, ROOT_INODE_AT, order)
            stack: list[tuple[_Inode, str, int]] = [(root, "", 0)]
            seen = {root.offset}
            while stack:
                folder, prefix, depth = stack.pop()
                if depth > MAX_DEPTH:
                    raise MetadataError(f"cramfs: folders nested deeper than {MAX_DEPTH}", result)
                at, end = folder.offset, folder.offset + folder.size
                if end > len(data):
                    raise MetadataError(f"cramfs: folder {prefix or '/'} runs past the end of "
                                        "the image", result)
                while at < end:
                    check_count(result, "cramfs")
                    try:
                        inode = _inode(data, at, order)
                    except MetadataError as exc:
                        raise MetadataError(str(exc), result) from None
                    raw_name = data[at + INODE: at + INODE + inode.name_len].rstrip(b"\0")
                    at += INODE + inode.name_len
                    if inode.name_len == 0:
                        raise MetadataError(f"cramfs: entry without a name at 0x{at:x}", result)
                    key = key_of(f"{prefix}/{name_of(raw_name)}")
                    if key is None:
                        continue
                    meta = meta_of_mode(inode.mode, inode.uid, inode.gid, size=inode.size)
                    if meta.kind == SYMLINK:
                        target = _link_target(data, inode, order, flags)
                        meta = meta_of_mode(inode.mode, inode.uid, inode.gid, target)
                    result[key] = meta
                    if meta.kind == DIR and inode.size and inode.offset not in seen:
                        seen.add(inode.offset)
                        stack.append((inode, key, depth + 1))
    return result
