"""Android boot and vendor_boot images: the `ANDROID!` / `VNDRBOOT` headers of mkbootimg.

boot.img header versions 0-2 (page size in the header) put kernel, ramdisk, second stage,
recovery DTBO and DTB one after another, each padded to a page; versions 3-4 fix the page
at 4096 bytes and carry kernel, ramdisk and (v4) the boot signature. vendor_boot (v3-v4)
carries the vendor ramdisk(s), the DTB and (v4) the ramdisk table and bootconfig. Layouts
from system/tools/mkbootimg/include/bootimg/bootimg.h.

Extraction writes `kernel`, `ramdisk` (still compressed: the recursion opens the gzip/lz4
cpio and finds init.rc and default.prop), `second`, `dtb`, `recovery_dtbo`,
`vendor_ramdisk`, `bootconfig` and `cmdline`: the kernel command line of the header as
text, which the Android analyzer reads (androidboot.selinux=permissive).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
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

BOOT_MAGIC = b"ANDROID!"
VENDOR_MAGIC = b"VNDRBOOT"
V3_PAGE = 4096
MAX_PAGE = 1 << 17
MAX_SECTION = 1 << 32
_HEADER_READ = 8192
_DOC_URL = "https://android.googlesource.com/platform/system/tools/mkbootimg/+/refs/heads/main/include/bootimg/bootimg.h"


@dataclass(frozen=True)
class BootLayout:
    version: int
    page: int
    cmdline: bytes
    sections: tuple[tuple[str, int, int], ...]    # (name, offset, size)

    @property
    def end(self) -> int:
        last = max((off + size for _n, off, size in self.sections), default=self.page)
        return max(self.page, _align(last, self.page))


def _align(value: int, page: int) -> int:
    return (value + page - 1) // page * page


def _lay_out(page: int, first: int, parts: list[tuple[str, int]]) -> tuple[tuple[str, int, int], ...]:
    out = []
    pos = first
    for name, size in parts:
        if size > MAX_SECTION:
            raise InvalidInputFormat(f"boot image section {name} too large")
        if size:
            out.append((name, pos, size))
        pos += _align(size, page)
    return tuple(out)


def _text(raw: bytes) -> bytes:
    return raw.split(b"\0", 1)[0]


def parse_boot(raw: bytes) -> BootLayout:
    """Layout of a boot image whose header starts `raw`; InvalidInputFormat if there is none."""
    if raw.startswith(VENDOR_MAGIC):
        return _parse_vendor(raw)
    if not raw.startswith(BOOT_MAGIC) or len(raw) < 1632:
        raise InvalidInputFormat("not an Android boot image")
    (version,) = struct.unpack_from("<I", raw, 40)
    if version >= 3:
        if version > 4:
            raise InvalidInputFormat(f"unknown boot image header version {version}")
        kernel, ramdisk, _os, header_size = struct.unpack_from("<4I", raw, 8)
        cmdline = _text(raw[44:44 + 1536])
        signature = struct.unpack_from("<I", raw, 1580)[0] if version == 4 else 0
        if not 1580 <= header_size <= V3_PAGE:   # early mkbootimg releases wrote 1596
            raise InvalidInputFormat("implausible boot image v3/v4 header size")
        sections = _lay_out(V3_PAGE, V3_PAGE, [("kernel", kernel), ("ramdisk", ramdisk),
                                                ("boot_signature", signature)])
        return BootLayout(version, V3_PAGE, cmdline, sections)
    if len(raw) < (1632, 1648, 1652)[version]:     # v1 adds the recovery DTBO, v2 the DTB
        raise InvalidInputFormat(f"boot image v{version} header truncated at {len(raw)} bytes")
    kernel, _ka, ramdisk, _ra, second, _sa, _tags, page = struct.unpack_from("<8I", raw, 8)
    if page < 2048 or page > MAX_PAGE or page & (page - 1):
        raise InvalidInputFormat(f"implausible boot image page size {page}")
    cmdline = _text(raw[64:64 + 512]) + _text(raw[608:608 + 1024])
    parts = [("kernel", kernel), ("ramdisk", ramdisk), ("second", second)]
    if version >= 1:
        dtbo_size, _dtbo_off, _hsize = struct.unpack_from("<IQI", raw, 1632)
        parts.append(("recovery_dtbo", dtbo_size))
    if version == 2:
        (dtb_size,) = struct.unpack_from("<I", raw, 1648)
        parts.append(("dtb", dtb_size))
    return BootLayout(version, page, cmdline, _lay_out(page, page, parts))


def _parse_vendor(raw: bytes) -> BootLayout:
    if len(raw) < 2112:
        raise InvalidInputFormat("vendor_boot header truncated")
    version, page, _ka, _ra, ramdisk = struct.unpack_from("<5I", raw, 8)
    if version not in (3, 4) or page < 2048 or page > MAX_PAGE or page & (page - 1):
        raise InvalidInputFormat("not a vendor_boot v3/v4 header")
    cmdline = _text(raw[28:28 + 2048])
    header_size, dtb_size = struct.unpack_from("<II", raw, 2096)
    parts = [("vendor_ramdisk", ramdisk), ("dtb", dtb_size)]
    if version == 4:
        if len(raw) < 2128:
            raise InvalidInputFormat(f"vendor_boot v4 header truncated at {len(raw)} bytes")
        table_size, _entries, _entry_size, bootconfig = struct.unpack_from("<4I", raw, 2112)
        parts += [("vendor_ramdisk_table", table_size), ("bootconfig", bootconfig)]
    return BootLayout(version, page, cmdline, _lay_out(page, _align(header_size, page), parts))


class AndroidBootExtractor(Extractor):
    def extract(self, inpath: Path, outdir: Path) -> None:
        with inpath.open("rb") as handle:
            layout = parse_boot(handle.read(_HEADER_READ))
            outdir.mkdir(parents=True, exist_ok=True)
            (outdir / "cmdline").write_bytes(layout.cmdline + b"\n")
            end = handle.seek(0, 2)
            for name, offset, size in layout.sections:
                handle.seek(offset)
                # read() sets aside the size asked for: a header declaring 4 GiB must not cost that
                (outdir / name).write_bytes(handle.read(max(0, min(size, end - offset))))


class AndroidBootHandler(StructHandler):
    NAME = "android_boot"
    PATTERNS = [HexString("41 4e 44 52 4f 49 44 21"), HexString("56 4e 44 52 42 4f 4f 54")]
    C_DEFINITIONS = r"""
        typedef struct boot_magic {
            char magic[8];
        } boot_magic_t;
    """
    HEADER_STRUCT = "boot_magic_t"
    EXTRACTOR = AndroidBootExtractor()
    DOC = HandlerDoc(
        name="Android boot / vendor_boot image",
        description="mkbootimg header (boot v0-v4, vendor_boot v3-v4) followed by page-aligned "
                    "kernel, ramdisk, second stage, DTB sections; the kernel command line "
                    "is in the header.",
        handler_type=HandlerType.ARCHIVE,
        vendor="Google",
        references=[Reference(title="bootimg.h", url=_DOC_URL)],
        limitations=["the v4 boot signature and AVB footer are extracted, not verified"],
    )

    def calculate_chunk(self, file: File, start_offset: int) -> ValidChunk | None:
        file.seek(start_offset)
        layout = parse_boot(file.read(_HEADER_READ))
        file.seek(0, 2)
        size = file.tell()
        last = max((off + length for _n, off, length in layout.sections), default=0)
        if start_offset + last > size:
            raise InvalidInputFormat("boot image sections run past the end of the file")
        return ValidChunk(start_offset=start_offset, end_offset=min(start_offset + layout.end, size))
