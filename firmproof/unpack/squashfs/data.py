"""The data of a regular file: where its blocks lie, and decoding one block.

A file is a run of blocks starting at the inode's first block position, each of the block
size but the last, and, unless the inode names no fragment, a tail kept at an offset in a
shared fragment block. A block size word of 0 is a hole (zeros, nothing on disk).
"""

from __future__ import annotations

from dataclasses import dataclass

from firmproof.unpack.squashfs.errors import SquashFSError
from firmproof.unpack.squashfs.image import SquashFS
from firmproof.unpack.squashfs.inode import NO_FRAGMENT, UNCOMPRESSED_BLOCK, Inode


@dataclass(frozen=True, slots=True)
class Block:
    pos: int            # image position; meaningless for a hole
    stored: int         # bytes on disk (0: a hole)
    compressed: bool
    length: int         # bytes it yields


@dataclass(frozen=True, slots=True)
class Tail:
    fragment: int
    offset: int
    length: int


def layout(fs: SquashFS, inode: Inode) -> tuple[list[Block], Tail | None]:
    """The blocks and the fragment tail of a regular file."""
    size, bs = inode.size, fs.block_size
    blocks: list[Block] = []
    pos = inode.start
    remaining = size
    for word in inode.blocks:
        length = min(bs, remaining)
        stored = word & (UNCOMPRESSED_BLOCK - 1)
        if stored > bs or word & ~(2 * UNCOMPRESSED_BLOCK - 1):
            raise SquashFSError(f"block size word 0x{word:x} is implausible")
        blocks.append(Block(pos, stored, not word & UNCOMPRESSED_BLOCK, length))
        pos += stored
        remaining -= length
    tail = None
    if inode.fragment != NO_FRAGMENT and remaining > 0:
        tail = Tail(inode.fragment, inode.offset, remaining)
    elif remaining > 0:
        raise SquashFSError(f"blocks cover {size - remaining} of {size} bytes")
    return blocks, tail


def decode_block(fs: SquashFS, block: Block) -> bytes:
    """The bytes of one data block (not a hole)."""
    raw = fs.image.read(block.pos, block.stored)
    if not block.compressed:
        if block.stored != block.length:
            raise SquashFSError(f"stored block of {block.stored} bytes where {block.length} "
                                f"are due")
        return raw
    return fs.codec.decode(raw, fs.block_size, block.length)


def decode_fragment(fs: SquashFS, index: int, pos: int, word: int) -> bytes:
    """The whole fragment block `index`, stored at `pos` with size word `word`."""
    stored = word & (UNCOMPRESSED_BLOCK - 1)
    if stored > fs.block_size:
        raise SquashFSError(f"fragment {index} of {stored} bytes exceeds the block size")
    raw = fs.image.read(pos, stored)
    if word & UNCOMPRESSED_BLOCK:
        return raw
    return fs.codec.decode(raw, fs.block_size)


def cut_tail(fragment: bytes, tail: Tail) -> bytes:
    piece = fragment[tail.offset:tail.offset + tail.length]
    if len(piece) != tail.length:
        raise SquashFSError(f"tail of {tail.length} bytes at {tail.offset} lies past the end of "
                            f"fragment {tail.fragment} ({len(fragment)} bytes)")
    return piece
