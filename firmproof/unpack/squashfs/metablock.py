"""Reading the image: raw bytes, metadata blocks, and the tables indexed by metadata blocks.

Metadata (inodes, directories, fragment and id tables) lives in blocks of at most 8 KiB,
each behind a 2-byte header (bit 15 set: stored uncompressed). Each block is decoded once
and kept; a read may run on across block boundaries.
"""

from __future__ import annotations

import mmap
import os
import struct
from pathlib import Path

from firmproof.unpack.squashfs.compressors import Codec
from firmproof.unpack.squashfs.errors import SquashFSError
from firmproof.unpack.squashfs.superblock import Superblock

METADATA_SIZE = 8192
MAX_METADATA_BYTES = 256 << 20     # decoded metadata kept for one image
MAX_READ_BYTES = 1 << 30           # metadata read in all (hostile listings may overlap)


class Image:
    """The bytes of one SquashFS image inside a host file, addressed from its superblock."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        if offset < 0:
            raise SquashFSError(f"negative offset {offset}")
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
        try:
            size = os.fstat(fd).st_size
            if size <= offset:
                raise SquashFSError(f"{path.name}: no data at offset 0x{offset:x} ({size} bytes)")
            self._map = mmap.mmap(fd, 0, access=mmap.ACCESS_READ)
        finally:
            os.close(fd)
        self.base = offset
        self.size = size - offset

    def read(self, pos: int, length: int) -> bytes:
        if pos < 0 or length < 0 or pos + length > self.size:
            raise SquashFSError(f"{length} bytes at 0x{self.base + pos:x} lie past the end of "
                                f"the image")
        start = self.base + pos
        return self._map[start:start + length]

    def at(self, pos: int) -> int:
        """The offset of image position `pos` in the host file (for messages)."""
        return self.base + pos

    def close(self) -> None:
        self._map.close()


class MetadataReader:
    def __init__(self, image: Image, codec: Codec, sb: Superblock) -> None:
        self._image = image
        self._codec = codec
        self._header = struct.Struct(sb.endian + "H")
        self._skip = 3 if sb.check_marker else 2
        self._blocks: dict[int, tuple[bytes, int]] = {}
        self._broken: dict[int, str] = {}       # blocks that failed once fail again at once
        self._kept = 0
        self._read = 0

    def block(self, pos: int) -> tuple[bytes, int]:
        """The decoded block at image position `pos`, and the position of the next block."""
        hit = self._blocks.get(pos)
        if hit is not None:
            return hit
        if pos in self._broken:
            raise SquashFSError(self._broken[pos])
        try:
            hit = self._decode(pos)
        except SquashFSError as exc:
            self._broken[pos] = str(exc)
            raise
        self._blocks[pos] = hit
        return hit

    def _decode(self, pos: int) -> tuple[bytes, int]:
        (word,) = self._header.unpack(self._image.read(pos, 2))
        size = word & 0x7FFF or 0x8000
        raw = self._image.read(pos + self._skip, size)
        if word & 0x8000:
            if size > METADATA_SIZE:
                raise SquashFSError(f"metadata block at 0x{self._image.at(pos):x} holds {size} bytes")
            data = raw
        else:
            try:
                data = self._codec.decode(raw, METADATA_SIZE)
            except SquashFSError as exc:
                raise SquashFSError(f"metadata block at 0x{self._image.at(pos):x} could not be "
                                    f"decoded: {exc}") from None
        self._kept += len(data)
        if self._kept > MAX_METADATA_BYTES:
            raise SquashFSError(f"more than {MAX_METADATA_BYTES} bytes of metadata")
        return data, pos + self._skip + size

    def read(self, pos: int, offset: int, length: int) -> tuple[bytes, int, int]:
        """`length` bytes from `offset` in the block at `pos`, and where the read ended."""
        self._read += length
        if self._read > MAX_READ_BYTES:
            raise SquashFSError(f"more than {MAX_READ_BYTES} bytes of metadata read")
        parts: list[bytes] = []
        data, following = self.block(pos)
        if offset > len(data):
            raise SquashFSError(f"offset {offset} lies past the metadata block at "
                                f"0x{self._image.at(pos):x}")
        while True:
            chunk = data[offset:offset + length]
            parts.append(chunk)
            length -= len(chunk)
            offset += len(chunk)
            if length <= 0:
                break
            pos, offset = following, 0
            data, following = self.block(pos)
        return (parts[0] if len(parts) == 1 else b"".join(parts)), pos, offset

    def cursor(self, pos: int, offset: int) -> Cursor:
        return Cursor(self, pos, offset)

    def table(self, index_pos: int, count: int, entry_size: int, pointer: str) -> bytes:
        """A table of `count` entries kept in metadata blocks listed by an index of
        `pointer` ("Q" or "I") block positions at `index_pos`."""
        if count == 0:
            return b""
        total = count * entry_size
        blocks = -(-total // METADATA_SIZE)
        width = struct.calcsize(pointer)
        raw_index = self._image.read(index_pos, blocks * width)
        index = struct.unpack(self._header.format[0] + pointer * blocks, raw_index)
        parts = []
        for position in index:
            data, _ = self.block(position)
            parts.append(data)
        table = b"".join(parts)
        if len(table) < total:
            raise SquashFSError(f"table at 0x{self._image.at(index_pos):x} holds {len(table)} "
                                f"bytes, {total} expected")
        return table[:total]


class Cursor:
    """A read position in a metadata table that advances as it reads."""

    __slots__ = ("_reader", "offset", "pos")

    def __init__(self, reader: MetadataReader, pos: int, offset: int) -> None:
        self._reader = reader
        self.pos = pos
        self.offset = offset

    def read(self, length: int) -> bytes:
        data, self.pos, self.offset = self._reader.read(self.pos, self.offset, length)
        return data
