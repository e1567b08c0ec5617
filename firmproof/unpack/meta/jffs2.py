"""JFFS2 images (either byte order, old and new magic), read from the raw nodes.

A JFFS2 image is a log: every change appends a node with a higher version. The metadata
of an inode is that of its node with the highest version. Keys follow jefferson, the
extractor unblob runs: directory entries keyed by inode number (the highest version wins),
a path built by following parent inodes (at most 100 levels), names that climb out of
the image dropped.
"""

from __future__ import annotations

import mmap
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from firmproof.fs.rootfs import SYMLINK, FileMeta
from firmproof.unpack.meta.common import (
    MAX_LINK_BYTES,
    MetadataError,
    check_count,
    key_of,
    meta_of_mode,
    name_of,
)

MAGIC_NEW, MAGIC_OLD = 0x1985, 0x1984
NODE_DIRENT, NODE_INODE = 0xE001, 0xE002
HEADER = 12                      # magic, nodetype, totlen, hdr_crc
DIRENT = 40
INODE = 68
MAX_PARENTS = 100                # jefferson follows parents this far
COMPR_NONE, COMPR_ZERO, COMPR_RTIME, COMPR_ZLIB, COMPR_LZO, COMPR_LZMA = 0, 1, 2, 6, 7, 8


def _crc(data: bytes) -> int:
    """The CRC-32 JFFS2 uses (seed 0, no final inversion)."""
    return zlib.crc32(data, 0xFFFFFFFF) ^ 0xFFFFFFFF


@dataclass
class _Dirent:
    pino: int
    version: int
    name: bytes


@dataclass
class _Inode:
    version: int
    mode: int
    uid: int
    gid: int
    compr: int
    dsize: int
    data_at: int
    csize: int


def _link_target(image: mmap.mmap, node: _Inode) -> str | None:
    raw = image[node.data_at: node.data_at + node.csize]
    try:
        if node.compr == COMPR_NONE:
            data = raw
        elif node.compr == COMPR_ZLIB:
            data = zlib.decompressobj().decompress(raw, MAX_LINK_BYTES)
        elif node.compr == COMPR_RTIME:
            from jefferson.compression import rtime

            data = rtime.decompress(raw, min(node.dsize, MAX_LINK_BYTES))
        elif node.compr == COMPR_LZMA:
            from jefferson.compression import jffs2_lzma

            data = jffs2_lzma.decompress(raw, min(node.dsize, MAX_LINK_BYTES))
        elif node.compr == COMPR_LZO:
            from lzallright import LZOCompressor

            data = LZOCompressor.decompress(raw)
        else:
            return None
    except Exception:  # a foreign decompressor on hostile bytes: the target stays unknown
        return None
    return name_of(bytes(data[:min(node.dsize, MAX_LINK_BYTES)]))


class _Scanner:
    """Finds the next node magic, remembering where each magic next occurs so that a
    magic absent from the image is not searched for again at every node."""

    def __init__(self, image: mmap.mmap, order: str) -> None:
        self.image = image
        self.needles = [struct.pack(f"{order}H", m) for m in (MAGIC_NEW, MAGIC_OLD)]
        self.next_at = [-2, -2]
        self.limit = len(image) - HEADER

    def find(self, pos: int) -> int:
        found = []
        for i, needle in enumerate(self.needles):
            at = self.next_at[i]
            if at != -1 and at < pos:        # not searched yet, or passed: search again
                at = self.next_at[i] = self.image.find(needle, pos, self.limit)
            if at >= 0:
                found.append(at)
        return min(found) if found else -1


def _scan(image: mmap.mmap, order: str) -> tuple[dict[int, _Dirent], dict[int, _Inode]]:
    dirents: dict[int, _Dirent] = {}
    inodes: dict[int, _Inode] = {}
    size = len(image)
    scanner = _Scanner(image, order)
    pos = 0
    while True:
        pos = scanner.find(pos)
        if pos < 0:
            break
        header = image[pos: pos + HEADER]
        _magic, nodetype, totlen, hdr_crc = struct.unpack(f"{order}HHII", header)
        if _crc(header[:8]) != hdr_crc or totlen < HEADER:
            pos += 1
            continue
        offset, pos = pos, pos + ((totlen + 3) & ~3)
        if offset + totlen > size:
            continue
        if nodetype == NODE_DIRENT and totlen >= DIRENT:
            pino, version, ino, _mctime, nsize = struct.unpack_from(f"{order}IIIIB", image, offset + 12)
            known = dirents.get(ino)
            if known is None or version > known.version:
                name = image[offset + DIRENT: offset + DIRENT + min(nsize, totlen - DIRENT)]
                dirents[ino] = _Dirent(pino, version, name)
        elif nodetype == NODE_INODE and totlen >= INODE:
            (ino, version, mode, uid, gid) = struct.unpack_from(f"{order}IIIHH", image, offset + 12)
            csize, dsize, compr = struct.unpack_from(f"{order}IIB", image, offset + 48)
            known_inode = inodes.get(ino)
            if known_inode is None or version >= known_inode.version:
                inodes[ino] = _Inode(version, mode, uid, gid, compr, dsize, offset + INODE,
                                     min(csize, totlen - INODE))
    return dirents, inodes


def read(path: Path) -> dict[str, FileMeta]:
    result: dict[str, FileMeta] = {}
    with path.open("rb") as handle:
        if path.stat().st_size < HEADER:
            raise MetadataError("jffs2: image shorter than one node header")
        with mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as image:
            order = "<" if struct.unpack("<H", image[:2])[0] in (MAGIC_NEW, MAGIC_OLD) else ">"
            dirents, inodes = _scan(image, order)
            for ino, dirent in dirents.items():
                node = inodes.get(ino)
                if node is None:
                    continue             # no inode: jefferson writes nothing for it
                check_count(result, "jffs2")
                names = [dirent.name]
                parent = dirent.pino
                for _ in range(MAX_PARENTS):
                    above = dirents.get(parent)
                    if above is None:
                        break
                    names.append(above.name)
                    parent = above.pino
                key = key_of("/".join(name_of(n) for n in reversed(names)))
                if key is None:
                    continue
                meta = meta_of_mode(node.mode, node.uid, node.gid)
                if meta.kind == SYMLINK:
                    meta = meta_of_mode(node.mode, node.uid, node.gid, _link_target(image, node))
                result[key] = meta
    return result
