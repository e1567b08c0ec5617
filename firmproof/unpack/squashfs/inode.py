"""One inode as every SquashFS version tells it, and a directory's entries."""

from __future__ import annotations

from dataclasses import dataclass

from firmproof.fs.rootfs import DIR, FileMeta

NO_FRAGMENT = 0xFFFF_FFFF
UNCOMPRESSED_BLOCK = 1 << 24        # bit of a block size word: block stored as is
MAX_BLOCKS = 1 << 24                # blocks of one file (16 TiB of 1 MiB blocks)
MAX_DIR_ENTRIES = 256               # entries under one directory header
MAX_LINK_BYTES = 4096


@dataclass(slots=True)
class Inode:
    ref: int                        # (metadata block offset << 16) | offset in the block
    kind: str                       # firmproof.fs.rootfs kind constant
    mode: int                       # permission bits, setuid/setgid/sticky included
    uid: int | None
    gid: int | None
    size: int = 0                   # file: bytes; directory: bytes of its listing
    start: int = 0                  # file: first data block; directory: listing's block
    offset: int = 0                 # file: tail's offset in its fragment; directory: in block
    blocks: tuple[int, ...] = ()    # file: size word of each block
    fragment: int = NO_FRAGMENT     # file: fragment holding the tail
    target: bytes | None = None     # symlink target

    @property
    def is_dir(self) -> bool:
        return self.kind == DIR

    def meta(self) -> FileMeta:
        link = None if self.target is None else self.target.decode("utf-8", "surrogateescape")
        return FileMeta(kind=self.kind, mode=self.mode & 0o7777, uid=self.uid, gid=self.gid,
                        link=link)


@dataclass(frozen=True, slots=True)
class DirEntry:
    name: bytes
    ref: int


def block_count(size: int, fragment: int, block_size: int) -> int:
    """Blocks of a file: its tail lives in a fragment unless `fragment` is NO_FRAGMENT."""
    full, tail = divmod(size, block_size)
    return full + (1 if tail and fragment == NO_FRAGMENT else 0)


def id_at(ids: tuple[int, ...], index: int) -> int | None:
    return ids[index] if 0 <= index < len(ids) else None
