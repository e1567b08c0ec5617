"""U-Boot legacy image (uImage): the 64-byte header most router firmware starts with.

Layout (include/image.h in U-Boot, all fields big-endian): magic 0x27051956, header CRC32
(computed with the field zeroed), time, data size, load address, entry point, data CRC32,
OS, architecture, image type, compression, 32-byte name. A multi-file image (type 4) starts
its data with a zero-terminated list of sizes, each part padded to 4 bytes. The handler
accepts a header only when its CRC holds and the data fits in the file, and extracts each
payload to a file named after the image type, where the recursion picks it up (a
gzip'd kernel, a SquashFS root file system, ...).
"""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

from unblob.file_utils import File, InvalidInputFormat
from unblob.models import (
    Extractor,
    HandlerDoc,
    HandlerType,
    HexString,
    Reference,
    StructHandler,
    ValidChunk,
)

HEADER = struct.Struct(">IIIIIIIBBBB32s")
MAGIC = 0x27051956
MULTI = 4
TYPES = {1: "standalone", 2: "kernel", 3: "ramdisk", 4: "multi", 5: "firmware", 6: "script",
         7: "filesystem", 8: "flat_dt", 14: "kernel_noload"}
MAX_PARTS = 64


def parse_header(raw: bytes) -> tuple[int, int, int, str]:
    """(data size, data crc, image type, name) of a valid header; InvalidInputFormat if not."""
    if len(raw) < HEADER.size:
        raise InvalidInputFormat("uImage header truncated")
    magic, hcrc, _time, size, _load, _ep, dcrc, _os, _arch, itype, _comp, name = HEADER.unpack(raw)
    if magic != MAGIC:
        raise InvalidInputFormat("not a uImage header")
    if zlib.crc32(raw[:4] + b"\0\0\0\0" + raw[8:HEADER.size]) != hcrc:
        raise InvalidInputFormat("uImage header CRC mismatch")
    return size, dcrc, itype, name.split(b"\0", 1)[0].decode("latin-1")


def payload_parts(data: bytes, itype: int) -> list[tuple[str, int, int]]:
    """(name, offset in data, size) of each payload."""
    kind = TYPES.get(itype, f"type{itype}")
    if itype != MULTI:
        return [(kind, 0, len(data))]
    sizes: list[int] = []
    pos = 0
    while pos + 4 <= len(data) and len(sizes) < MAX_PARTS:
        (value,) = struct.unpack_from(">I", data, pos)
        pos += 4
        if value == 0:
            break
        sizes.append(value)
    parts = []
    for index, value in enumerate(sizes):
        if pos + value > len(data):
            break
        parts.append((f"multi{index}", pos, value))
        pos += (value + 3) & ~3
    return parts


class UImageExtractor(Extractor):
    def extract(self, inpath: Path, outdir: Path) -> None:
        raw = inpath.read_bytes()
        size, _dcrc, itype, _name = parse_header(raw[:HEADER.size])
        data = raw[HEADER.size:HEADER.size + size]
        outdir.mkdir(parents=True, exist_ok=True)
        for name, offset, length in payload_parts(data, itype):
            (outdir / name).write_bytes(data[offset:offset + length])


class UImageHandler(StructHandler):
    NAME = "uimage"
    PATTERNS = [HexString("27 05 19 56")]
    C_DEFINITIONS = r"""
        typedef struct uimage_header {
            uint32 magic;
            uint32 hcrc;
            uint32 time;
            uint32 size;
            uint32 load;
            uint32 ep;
            uint32 dcrc;
            uint8 os;
            uint8 arch;
            uint8 type;
            uint8 comp;
            char name[32];
        } uimage_header_t;
    """
    HEADER_STRUCT = "uimage_header_t"
    EXTRACTOR = UImageExtractor()
    DOC = HandlerDoc(
        name="U-Boot legacy image (uImage)",
        description="64-byte big-endian header with CRCs over header and data, followed by one "
                    "payload or, for multi-file images, a list of sizes and the payloads.",
        handler_type=HandlerType.ARCHIVE,
        vendor="DENX U-Boot",
        references=[Reference(title="U-Boot include/image.h",
                              url="https://source.denx.de/u-boot/u-boot/-/blob/master/include/image.h")],
        limitations=["the data CRC is not required to hold (vendors patch images after signing)"],
    )

    def calculate_chunk(self, file: File, start_offset: int) -> ValidChunk | None:
        file.seek(start_offset)
        size, _dcrc, _itype, _name = parse_header(file.read(HEADER.size))
        end = start_offset + HEADER.size + size
        file.seek(0, 2)
        if size == 0 or end > file.tell():
            raise InvalidInputFormat("uImage data runs past the end of the file")
        return ValidChunk(start_offset=start_offset, end_offset=end)
