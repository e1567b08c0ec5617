"""One open SquashFS image: its superblock, codec, id and fragment tables, inodes, listings."""

from __future__ import annotations

import struct
from pathlib import Path
from types import TracebackType

from firmproof.unpack.squashfs import legacy, v4
from firmproof.unpack.squashfs.compressors import Codec, candidates
from firmproof.unpack.squashfs.errors import SquashFSError
from firmproof.unpack.squashfs.inode import DirEntry, Inode
from firmproof.unpack.squashfs.metablock import Image, MetadataReader
from firmproof.unpack.squashfs.superblock import V3_SIZE, Superblock, parse_superblock

# what hostile bytes can make a parser raise; callers catch these per entry, so that one
# damaged inode or listing costs that entry only
PARSE_ERRORS = (SquashFSError, struct.error, ValueError, IndexError, OverflowError, MemoryError)


class SquashFS:
    """Read-only access to the SquashFS image at `offset` in `path`."""

    def __init__(self, path: Path, offset: int = 0) -> None:
        self.image = Image(path, offset)
        self.warnings: list[str] = []
        try:
            self.sb: Superblock = parse_superblock(self.image.read(0, min(self.image.size, V3_SIZE)))
            self.codec = Codec(candidates(self.sb))
            self.meta = MetadataReader(self.image, self.codec, self.sb)
        except BaseException:
            self.image.close()
            raise
        self._uids, self._gids = self._read_ids()
        self._inodes: dict[int, Inode] = {}
        self._fragments: tuple[tuple[int, int], ...] | None = None
        self._fragment_error = ""

    def __enter__(self) -> SquashFS:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        self.image.close()

    @property
    def block_size(self) -> int:
        return self.sb.block_size

    def _read_ids(self) -> tuple[tuple[int, ...], tuple[int, ...]]:
        sb = self.sb
        try:
            if sb.major == 4:
                raw = self.meta.table(sb.id_table, sb.id_count, 4, "Q")
                ids = struct.unpack(f"{sb.endian}{sb.id_count}I", raw)
                return ids, ids
            count = sb.id_count + sb.gid_count
            ids = struct.unpack(f"{sb.endian}{count}I", self.image.read(sb.id_table, 4 * count))
            return ids[:sb.id_count], ids[sb.id_count:]
        except PARSE_ERRORS as exc:
            self.warnings.append(f"uid/gid table unreadable, owners unknown: {exc}")
            return (), ()

    def root(self) -> Inode:
        try:
            root = self.inode(self.sb.root_inode)
        except PARSE_ERRORS as exc:
            raise SquashFSError(f"{self.sb.describe()}: root directory unreadable: {exc}") from None
        if not root.is_dir:
            raise SquashFSError("root inode is not a directory")
        return root

    def inode(self, ref: int) -> Inode:
        hit = self._inodes.get(ref)
        if hit is None:
            if self.sb.major == 4:
                hit = v4.read_inode(self.meta, self.sb, self._uids, ref)
            else:
                hit = legacy.read_inode(self.meta, self.sb, self._uids, self._gids, ref)
            self._inodes[ref] = hit
        return hit

    def listdir(self, inode: Inode) -> list[DirEntry]:
        if self.sb.major == 4:
            return v4.read_dir(self.meta, self.sb, inode)
        return legacy.read_dir(self.meta, self.sb, inode)

    def fragment(self, index: int) -> tuple[int, int]:
        """(image position, size word) of fragment block `index`."""
        if self._fragments is None:
            try:
                self._fragments = self._read_fragments()
            except PARSE_ERRORS as exc:
                self._fragments, self._fragment_error = (), f"fragment table unreadable: {exc}"
        if self._fragment_error:
            raise SquashFSError(self._fragment_error)
        if not 0 <= index < len(self._fragments):
            raise SquashFSError(f"fragment {index} not in the fragment table "
                                f"({len(self._fragments)} entries)")
        return self._fragments[index]

    def _read_fragments(self) -> tuple[tuple[int, int], ...]:
        sb = self.sb
        count = sb.fragment_count
        if count > sb.bytes_used:       # each fragment takes at least a byte of the image
            raise SquashFSError(f"implausible fragment count {count}")
        if sb.major == 2:
            raw = self.meta.table(sb.fragment_table, count, 8, "I")
            flat = struct.unpack(f"{sb.endian}{2 * count}I", raw)
            return tuple(zip(flat[0::2], flat[1::2], strict=True))
        raw = self.meta.table(sb.fragment_table, count, 16, "Q")
        return tuple((start, size) for start, size, _ in struct.iter_unpack(sb.endian + "QII", raw))
