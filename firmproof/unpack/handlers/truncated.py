"""Containers cut short: a valid header that declares more bytes than the file holds.

A firmware image cut in a download, a partial flash dump or a hostile image stops in the
middle of its root file system. unblob's handlers then find no valid chunk at that offset
(the end lies past the file), search on inside the cut file system, and may decode a stray
compressed block of it as if it were a container: the scan looks complete while the root
file system was never read. These handlers claim such a header's bytes, from the header to
the end of the file, only when the header is otherwise valid and its declared size runs
past the end (a whole container is left to the format's own handler), and their extraction
fails with a sentence saying what was declared and what is there. The driver reports it in
`unpack.errors`, and the scan is incomplete.
"""

from __future__ import annotations

import struct
from pathlib import Path

from unblob.file_utils import File, InvalidInputFormat
from unblob.models import Extractor, Handler, HandlerDoc, HandlerType, HexString, Reference, ValidChunk

from firmproof.unpack.handlers.uimage import HEADER as UIMAGE_HEADER
from firmproof.unpack.handlers.uimage import parse_header as parse_uimage
from firmproof.unpack.squashfs.errors import SquashFSError
from firmproof.unpack.squashfs.superblock import MAGICS, parse_superblock

HEAD = 4096          # bytes read at a candidate offset: every header below fits


class TruncatedContainer(Exception):
    """Raised by the extraction of a truncated container: its message is the report entry."""


def _end_of(file: File) -> int:
    file.seek(0, 2)
    return file.tell()


class _Refuse(Extractor):
    """Extracts nothing: says which header declared how much, and how much is there."""

    def __init__(self, describe: type[_Truncated]) -> None:
        self.describe = describe

    def extract(self, inpath: Path, outdir: Path) -> None:
        with inpath.open("rb") as handle:
            head = handle.read(HEAD)
            handle.seek(0, 2)
            present = handle.tell()
        declared, what = self.describe.declared(head)
        raise TruncatedContainer(f"{what} truncated: its header declares {declared:,} bytes, "
                                 f"the file holds {present:,} of them; not unpacked")


class _Truncated(Handler):
    """A header of some format whose declared size runs past the end of the file."""

    EXTRACTOR: _Refuse

    @classmethod
    def declared(cls, head: bytes) -> tuple[int, str]:
        """(declared size in bytes from the header's start, what it is); InvalidInputFormat
        when `head` is no valid header of the format."""
        raise NotImplementedError

    def extract(self, inpath: Path, outdir: Path) -> None:
        self.EXTRACTOR.extract(inpath, outdir)      # raises; no empty output folder first

    def calculate_chunk(self, file: File, start_offset: int) -> ValidChunk | None:
        file.seek(start_offset)
        head = file.read(HEAD)
        declared, _what = self.declared(head)
        end = _end_of(file)
        if start_offset + declared <= end:
            raise InvalidInputFormat("whole: left to the format's own handler")
        return ValidChunk(start_offset=start_offset, end_offset=end)


def _doc(name: str, reference: Reference) -> HandlerDoc:
    return HandlerDoc(name=f"truncated {name}",
                      description=f"a valid {name} header whose declared size runs past the end of "
                                  "the file: claimed and reported, not unpacked",
                      handler_type=HandlerType.FILESYSTEM, vendor=None, references=[reference],
                      limitations=["nothing is extracted: the tables that list the files are "
                                   "usually at the end, which is missing"])


class TruncatedSquashFSHandler(_Truncated):
    NAME = "truncated_squashfs"
    PATTERNS = [HexString(" ".join(f"{b:02x}" for b in magic)) for magic in MAGICS]
    DOC = _doc("SquashFS", Reference(title="SquashFS binary format",
                                     url="https://dr-emann.github.io/squashfs/squashfs.html"))

    @classmethod
    def declared(cls, head: bytes) -> tuple[int, str]:
        try:
            sb = parse_superblock(head)
        except SquashFSError as exc:
            raise InvalidInputFormat(str(exc)) from None
        return sb.bytes_used, f"SquashFS {sb.major}.{sb.minor} file system"


TruncatedSquashFSHandler.EXTRACTOR = _Refuse(TruncatedSquashFSHandler)


class TruncatedUImageHandler(_Truncated):
    NAME = "truncated_uimage"
    PATTERNS = [HexString("27 05 19 56")]
    DOC = _doc("uImage", Reference(title="U-Boot include/image.h",
                                   url="https://source.denx.de/u-boot/u-boot/-/blob/master/include/image.h"))

    @classmethod
    def declared(cls, head: bytes) -> tuple[int, str]:
        size, _dcrc, _itype, name = parse_uimage(head[:UIMAGE_HEADER.size])
        if size == 0:
            raise InvalidInputFormat("uImage without data")
        return UIMAGE_HEADER.size + size, f"uImage {name!r}"


TruncatedUImageHandler.EXTRACTOR = _Refuse(TruncatedUImageHandler)

CRAMFS_SIGNATURE = b"Compressed ROMFS"


class TruncatedCramFSHandler(_Truncated):
    NAME = "truncated_cramfs"
    PATTERNS = [HexString("45 3d cd 28"), HexString("28 cd 3d 45")]
    DOC = _doc("cramfs", Reference(title="Linux include/uapi/linux/cramfs_fs.h",
                                   url="https://github.com/torvalds/linux/blob/master/include/uapi/linux/cramfs_fs.h"))

    @classmethod
    def declared(cls, head: bytes) -> tuple[int, str]:
        if len(head) < 48 or head[16:32] != CRAMFS_SIGNATURE:
            raise InvalidInputFormat("no cramfs signature")
        endian = "<" if head[:4] == b"\x45\x3d\xcd\x28" else ">"
        (size,) = struct.unpack_from(endian + "I", head, 4)
        if size < 76:
            raise InvalidInputFormat("implausible cramfs size")
        return size, "cramfs file system"


TruncatedCramFSHandler.EXTRACTOR = _Refuse(TruncatedCramFSHandler)

EXT_MAGIC_OFFSET = 0x438


class TruncatedExtFSHandler(_Truncated):
    NAME = "truncated_extfs"
    PATTERNS = [HexString("53 ef ( 00 | 01 | 02 ) 00 ( 00 | 01 | 02 | 03 | 04 ) 00")]
    PATTERN_MATCH_OFFSET = -EXT_MAGIC_OFFSET
    DOC = _doc("ext2/3/4", Reference(title="ext4 disk layout",
                                     url="https://www.kernel.org/doc/html/latest/filesystems/ext4/globals.html"))

    @classmethod
    def declared(cls, head: bytes) -> tuple[int, str]:
        if len(head) < 0x400 + 0x154:          # through s_blocks_count_hi (0x150)
            raise InvalidInputFormat("shorter than an ext superblock")
        sb = head[0x400:]
        blocks_lo, = struct.unpack_from("<I", sb, 0x4)
        log_block, = struct.unpack_from("<I", sb, 0x18)
        blocks_per_group, inodes_per_group = struct.unpack_from("<I4xI", sb, 0x20)
        rev_level, = struct.unpack_from("<I", sb, 0x4C)
        incompat, = struct.unpack_from("<I", sb, 0x60)
        blocks_hi = struct.unpack_from("<I", sb, 0x150)[0] if incompat & 0x80 else 0
        if log_block > 6 or rev_level > 1 or not blocks_per_group or not inodes_per_group:
            raise InvalidInputFormat("implausible ext superblock")
        blocks = blocks_lo | blocks_hi << 32
        if not blocks:
            raise InvalidInputFormat("ext file system of no blocks")
        return blocks * (1024 << log_block), "ext file system"


TruncatedExtFSHandler.EXTRACTOR = _Refuse(TruncatedExtFSHandler)

HANDLERS = (TruncatedSquashFSHandler, TruncatedUImageHandler, TruncatedCramFSHandler,
            TruncatedExtFSHandler)
