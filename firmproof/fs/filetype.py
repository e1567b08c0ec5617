"""What kind of file this is, from its first bytes and its name (cheap, no libmagic).

The type decides which analyzers read a file and whether the unpacker carves inside it.
"""

from __future__ import annotations

import posixpath
import struct
from collections.abc import Callable

# (offset, length) -> the file's bytes there: what classify may read past the head of a file
Read = Callable[[int, int], bytes]

ELF = "elf"
PACKED = "packed"            # an ELF program packed with UPX: its code is compressed inside
SCRIPT = "script"
TEXT = "text"
PRIVATE_KEY = "private-key"
CERTIFICATE = "certificate"
PUBLIC_KEY = "public-key"
APK = "apk"
ARCHIVE = "archive"          # zip, tar, cpio, compressed streams, file system images
MEDIA = "media"              # images, fonts, audio, tz/terminfo data: nothing to carve or analyze
DATA = "data"
# types that may hold a container: the recursion searches these (APKs are zips: opening
# them makes their assets, native libraries and certificates a layer the analyzers read; a
# UPX-packed program is unpacked with `upx -d`, and the program it holds is the layer)
CARVE_TYPES = (ARCHIVE, DATA, APK, PACKED)
EMPTY = "empty"

_ELF_MACHINES = {
    2: "sparc", 3: "x86", 8: "mips", 20: "powerpc", 21: "powerpc64", 40: "arm",
    42: "superh", 62: "x86-64", 183: "aarch64", 243: "riscv", 94: "xtensa",
    164: "hexagon", 0x5441: "frv",
}

_ARCHIVE_MAGICS: tuple[tuple[int, bytes], ...] = (
    (0, b"hsqs"), (0, b"sqsh"), (0, b"shsq"), (0, b"qshs"),        # squashfs
    (0, b"\x1f\x8b"), (0, b"BZh"), (0, b"\xfd7zXZ\x00"), (0, b"\x5d\x00\x00"),
    (0, b"\x28\xb5\x2f\xfd"), (0, b"\x04\x22\x4d\x18"), (0, b"\x02\x21\x4c\x18"),
    (0, b"\x89LZO"), (0, b"LZIP"),
    (0, b"070701"), (0, b"070702"), (0, b"070707"), (0, b"\xc7\x71"), (0, b"\x71\xc7"),
    (257, b"ustar"), (0, b"7z\xbc\xaf\x27\x1c"), (0, b"Rar!"),
    (0, b"\x27\x05\x19\x56"), (0, b"\x45\x3d\xcd\x28"), (0, b"\x28\xcd\x3d\x45"),
    (0, b"\x85\x19"), (0, b"\x19\x85"), (0, b"UBI#"), (0, b"\x31\x18\x10\x06"),
    (0, b"ANDROID!"), (0, b"VNDRBOOT"), (0, b"\x3a\xff\x26\xed"),
    (1080, b"\x53\xef"), (1024, b"\xe2\xe1\xf5\xe0"), (0, b"-rom1fs-"),
    (0, b"CrAU"), (0, b"MZ"), (0, b"\xd0\x0d\xfe\xed"),
)
_MEDIA_MAGICS = (b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"BM", b"RIFF", b"OggS", b"ID3",
                 b"wOFF", b"wOF2", b"\x00\x01\x00\x00\x00", b"OTTO", b"\x00\x00\x01\x00",
                 b"%PDF", b"dex\n",
                 # system data formats that hold no other file: time zones, terminfo
                 # (legacy and extended), the dynamic linker's cache
                 b"TZif", b"\x1a\x01", b"\x1e\x02", b"ld.so-1.7.0", b"glibc-ld.so.cache")
_MEDIA_SUFFIXES = (".png", ".gif", ".jpg", ".jpeg", ".ico", ".bmp", ".svg", ".woff", ".woff2",
                   ".ttf", ".otf", ".mp3", ".wav", ".ogg", ".pdf", ".mo", ".pyc", ".dex",
                   ".odex", ".vdex", ".art", ".oat")
_TEXT_BYTES = bytes(range(0x20, 0x7F)) + b"\t\n\r\f\x1b"
_TEXT_OR_HIGH = _TEXT_BYTES + bytes(range(0x80, 0x100))


def reader_of(data: bytes) -> Read:
    """`Read` over a file held in memory."""
    return lambda offset, length: data[offset:offset + length]


def is_text(head: bytes) -> bool:
    if not head:
        return False
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        # a multi-byte character cut at the end of the sample is still text
        if exc.start < len(head) - 4:
            return False
    unprintable = len(head.translate(None, _TEXT_OR_HIGH))
    return unprintable <= 0.05 * len(head)


def classify(head: bytes, path: str = "", read: Read | None = None, size: int = 0) -> str:
    """Type of a file from its first bytes (4 KiB are plenty) and its name. With `read` and
    the file's `size`, a shared library without section headers also has its last 36 bytes
    read (where UPX says where a packed library's l_info is: see `upx_l_info`)."""
    if not head:
        return EMPTY
    name = posixpath.basename(path).lower()
    if head.startswith(b"\x7fELF"):
        return PACKED if upx_l_info(head, read, size) is not None else ELF
    if head.startswith(b"PK\x03\x04"):
        return APK if name.endswith((".apk", ".apex")) else ARCHIVE
    for offset, magic in _ARCHIVE_MAGICS:
        if head[offset:offset + len(magic)] == magic:
            return ARCHIVE
    if head.startswith(_MEDIA_MAGICS) or name.endswith(_MEDIA_SUFFIXES):
        return MEDIA
    if b"-----BEGIN" in head[:1024]:
        marker = head[head.index(b"-----BEGIN"):][:64]
        if b"PRIVATE KEY" in marker:
            return PRIVATE_KEY
        if b"CERTIFICATE" in marker:
            return CERTIFICATE
        if b"PUBLIC KEY" in marker:
            return PUBLIC_KEY
    if is_text(head):
        if head.startswith(b"#!"):
            return SCRIPT
        return TEXT
    if _looks_like_der_private_key(head):
        return PRIVATE_KEY
    return DATA


UPX_MAGIC = b"UPX!"
# UPX's format numbers of Linux ELF programs (src/conf.h: linux/i386, elf386, sh386, amd64,
# armel, mipsel, ppc64le, arm64, ppc32, armeb, mips, ppc64); 128 and up are big-endian
_UPX_LINUX_FORMATS = frozenset({10, 12, 13, 14, 20, 22, 23, 30, 39, 42, 132, 133, 137, 139})
# (e_type, e_phoff, e_phentsize, e_phnum, e_shnum) of an ELF header, by class and byte order
_ELF_PH = {(1, 1): struct.Struct("<16xH10xI10xHH2xH"), (1, 2): struct.Struct(">16xH10xI10xHH2xH"),
           (2, 1): struct.Struct("<16xH14xQ14xHH2xH"), (2, 2): struct.Struct(">16xH14xQ14xHH2xH")}
ET_DYN = 3
# l_checksum, l_magic, l_lsize, l_version, l_format
_L_INFO = {1: struct.Struct("<I4sHBB"), 2: struct.Struct(">I4sHBB")}
# the end of a packed file: UPX's PackHeader (magic, version, format, method, level, … and a
# checksum of its bytes after the magic, modulo 251), then the offset of the end of l_info
_PACK_TRAILER = 36
_OVERLAY = {1: struct.Struct("<I"), 2: struct.Struct(">I")}


def _is_l_info(magic: bytes, lsize: int, version: int, fmt: int) -> bool:
    return magic == UPX_MAGIC or (fmt in _UPX_LINUX_FORMATS and 11 <= version <= 15 and lsize > 0)


def upx_l_info(head: bytes, read: Read | None = None, size: int = 0) -> tuple[int, bytes] | None:
    """(offset, magic) of the l_info of a UPX-packed ELF program; None for any other file.

    UPX writes a program's l_info right after the program header table, its magic `UPX!`
    (what unblob's ELF handler checks before it runs `upx -d`). A stub whose magic was
    replaced (as malware does, to defeat `upx -d`) is recognised by the fields around it: a
    UPX version and a Linux format number, in a program without section headers. Reads the
    ELF header and 12 bytes: cheap enough for every ELF file of an image.

    A packed shared library keeps its first pages (dynamic symbols, relocations) as they
    were and has its l_info after them; UPX, and `upx -d`, find it from the file's end: the
    last 4 bytes are the offset of the end of l_info (in the target's byte order), after the
    PackHeader. With `read` and `size`, a shared object without section headers whose head
    holds no l_info has its last 36 bytes read: a PackHeader whose checksum holds (its magic
    may be modified too) and an l_info of the same version and format where it points."""
    header = _ELF_PH.get((head[4], head[5])) if len(head) >= 64 else None
    if header is None or not head.startswith(b"\x7fELF"):
        return None
    e_type, phoff, phentsize, phnum, shnum = header.unpack_from(head)
    start = phoff + phnum * phentsize
    l_info = _L_INFO[head[5]]
    if phnum and start + l_info.size <= len(head):
        _checksum, magic, lsize, version, fmt = l_info.unpack_from(head, start)
        if magic == UPX_MAGIC or (not shnum and _is_l_info(magic, lsize, version, fmt)):
            return start, magic
    if read is None or e_type != ET_DYN or shnum or size < _PACK_TRAILER + l_info.size:
        return None
    return _l_info_from_end(read, size, l_info, _OVERLAY[head[5]])


def _l_info_from_end(read: Read, size: int, l_info: struct.Struct,
                     overlay: struct.Struct) -> tuple[int, bytes] | None:
    tail = read(size - _PACK_TRAILER, _PACK_TRAILER)
    if len(tail) != _PACK_TRAILER:
        return None
    version, fmt = tail[4], tail[5]
    if not (11 <= version <= 15 and fmt in _UPX_LINUX_FORMATS and sum(tail[4:31]) % 251 == tail[31]):
        return None
    start = overlay.unpack_from(tail, 32)[0] - l_info.size
    if not 0 < start <= size - _PACK_TRAILER - l_info.size:
        return None
    found = read(start, l_info.size)
    if len(found) != l_info.size:
        return None
    _checksum, magic, lsize, l_version, l_format = l_info.unpack(found)
    if (l_version, l_format) == (version, fmt) and _is_l_info(magic, lsize, l_version, l_format):
        return start, magic
    return None


def upx_magic(head: bytes, read: Read | None = None, size: int = 0) -> bytes | None:
    """The l_info magic of a UPX-packed ELF program (`UPX!`, or what a modified stub put in
    its place); None for any other file."""
    found = upx_l_info(head, read, size)
    return found[1] if found is not None else None


def _looks_like_der_private_key(head: bytes) -> bool:
    """PKCS#1 RSA / PKCS#8 DER: SEQUENCE { INTEGER 0, … }."""
    if len(head) < 8 or head[0] != 0x30:
        return False
    if head[1] == 0x82:
        body = head[4:]
    elif head[1] == 0x81:
        body = head[3:]
    else:
        return False
    return body[:3] == b"\x02\x01\x00" and body[3:4] in (b"\x02", b"\x30")


def elf_info(head: bytes) -> dict[str, str]:
    """Architecture, bits, endianness and ELF type from an ELF header."""
    if len(head) < 20 or not head.startswith(b"\x7fELF"):
        return {}
    bits = {1: "32", 2: "64"}.get(head[4], "?")
    endian = {1: "le", 2: "be"}.get(head[5], "?")
    fmt = "<HH" if endian == "le" else ">HH"
    e_type, e_machine = struct.unpack_from(fmt, head, 16)
    return {
        "arch": _ELF_MACHINES.get(e_machine, f"machine-{e_machine}"),
        "bits": bits,
        "endian": endian,
        "elf_type": {1: "rel", 2: "exec", 3: "dyn", 4: "core"}.get(e_type, "other"),
    }
