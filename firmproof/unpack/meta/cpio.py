"""cpio archives: newc and crc (070701/070702), odc (070707) and binary (either byte order).

Keys follow unblob's cpio extractor: the stored name with the root chopped; a name that
climbs out of the archive lands in unblob's `.unblob-lost+found` folder, and so does its key.
"""

from __future__ import annotations

import stat
import struct
from pathlib import Path
from typing import BinaryIO, NamedTuple

from firmproof.fs.rootfs import FileMeta
from firmproof.unpack.meta.common import (
    MAX_LINK_BYTES,
    MetadataError,
    check_count,
    key_of,
    meta_of_mode,
    name_of,
)

TRAILER = "TRAILER!!!"
MAX_NAME = 0x1000                      # unblob rejects longer names (PATH_MAX)
NEWC_HEADER = 110
ODC_HEADER = 76
BIN_HEADER = 26
BIN_MAGIC = 0o070707


def _round(value: int, align: int) -> int:
    return (value + align - 1) // align * align


def _number(field: bytes, base: int, what: str, offset: int) -> int:
    try:
        value = int(field.decode("ascii"), base)
    except (UnicodeDecodeError, ValueError):
        value = -1
    if value < 0:       # int() takes a sign: a negative size would walk back (a loop)
        raise MetadataError(f"cpio: bad {what} field {field!r} at 0x{offset:x}")
    return value


class _Header(NamedTuple):
    """The fields of one cpio header that metadata needs."""

    mode: int
    uid: int
    gid: int
    name_size: int
    file_size: int
    nlink: int


def _parse_header(handle: BinaryIO, offset: int) -> tuple[_Header, int, int] | None:
    """(header, name alignment, data alignment) of the entry at `offset`; None at the end."""
    magic = handle.read(6)
    if len(magic) < 6:
        return None
    if magic in (b"070701", b"070702"):
        raw = magic + handle.read(NEWC_HEADER - 6)
        if len(raw) < NEWC_HEADER:
            raise MetadataError(f"cpio: truncated header at 0x{offset:x}")
        hexes = [raw[6 + 8 * i: 14 + 8 * i] for i in range(13)]
        head = _Header(_number(hexes[1], 16, "mode", offset), _number(hexes[2], 16, "uid", offset),
                       _number(hexes[3], 16, "gid", offset),
                       _number(hexes[11], 16, "namesize", offset),
                       _number(hexes[6], 16, "filesize", offset), _number(hexes[4], 16, "nlink", offset))
        return head, 4, 4
    if magic == b"070707":
        raw = magic + handle.read(ODC_HEADER - 6)
        if len(raw) < ODC_HEADER:
            raise MetadataError(f"cpio: truncated header at 0x{offset:x}")
        head = _Header(_number(raw[18:24], 8, "mode", offset), _number(raw[24:30], 8, "uid", offset),
                       _number(raw[30:36], 8, "gid", offset), _number(raw[59:65], 8, "namesize", offset),
                       _number(raw[65:76], 8, "filesize", offset), _number(raw[36:42], 8, "nlink", offset))
        return head, 1, 1
    for order in ("<", ">"):
        if struct.unpack(f"{order}H", magic[:2])[0] == BIN_MAGIC:
            raw = magic + handle.read(BIN_HEADER - 6)
            if len(raw) < BIN_HEADER:
                raise MetadataError(f"cpio: truncated header at 0x{offset:x}")
            words = struct.unpack(f"{order}13H", raw)
            name_size = words[10] + 1 if words[10] % 2 else words[10]
            head = _Header(words[3], words[4], words[5], name_size, words[11] << 16 | words[12], words[6])
            return head, 2, 2
    if magic.strip(b"\0") == b"":
        return None                      # padding after the trailer
    raise MetadataError(f"cpio: no header magic at 0x{offset:x} (found {magic!r})")


def _lost_and_found(name: str) -> str:
    from unblob.file_utils import make_lost_and_found_path

    return str(make_lost_and_found_path(Path(name)))


def read(path: Path) -> dict[str, FileMeta]:
    result: dict[str, FileMeta] = {}
    size = path.stat().st_size
    with path.open("rb") as handle:
        offset = 0
        while offset < size:
            check_count(result, "cpio")
            handle.seek(offset)
            try:
                parsed = _parse_header(handle, offset)
            except MetadataError as exc:
                raise MetadataError(str(exc), result) from None
            if parsed is None:
                break
            head, name_align, data_align = parsed
            header_size = handle.tell() - offset
            if not 0 < head.name_size <= MAX_NAME:
                raise MetadataError(f"cpio: bad name size {head.name_size} at 0x{offset:x}", result)
            raw_name = handle.read(head.name_size)
            if len(raw_name) < head.name_size:
                raise MetadataError(f"cpio: truncated name at 0x{offset:x}", result)
            name = name_of(raw_name.split(b"\0", 1)[0])
            data_offset = offset + _round(header_size + head.name_size, name_align)
            next_offset = data_offset + _round(head.file_size, data_align)
            if name == TRAILER:
                break
            if next_offset > size:
                raise MetadataError(f"cpio: entry {name!r} runs past the end of the archive", result)
            link = None
            if stat.S_ISLNK(head.mode):
                handle.seek(data_offset)
                link = name_of(handle.read(min(head.file_size, MAX_LINK_BYTES)).split(b"\0", 1)[0])
            key = key_of(name)
            if key is None and name.strip("/.") != "":
                key = _lost_and_found(name)
            if key is not None:
                # a hard-linked file's data comes with one of its names only: no size to hold
                declared = head.file_size if head.nlink <= 1 else None
                result[key] = meta_of_mode(head.mode, head.uid, head.gid, link, size=declared)
            offset = next_offset
    return result
