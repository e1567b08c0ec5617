"""What an image says it is: vendor, product, version and release date read from the files and
the container headers that name them.

A lab scanning a corpus rarely has a clean manifest; the image often says what it is in its
build files. Each source is declared once below: the files that carry it (first found wins),
how they are written, and which keys name the vendor, the product and the version, in order
of preference. A guess keeps the bytes of its value as evidence (`Evidence.of`), so the report
says where it read it and anyone can re-read it; the report marks it as guessed, and what the
user gives on the command line always wins over it.

Sources (their formats as the programs that read them define them):
- Android property files (build.prop and friends, property_service's `key=value`): the
  manufacturer, the model, the build's display id, and the build's date (ro.build.date.utc,
  seconds since the epoch, as the build system writes it);
- OpenWrt's /etc/openwrt_release (shell assignments, sourced by its scripts): the
  distribution and its release;
- os-release (freedesktop, shell-compatible assignments): NAME and VERSION_ID.

Header sources (HEADERS) read the header of a container the unpacking found, in the file that
holds it (the image itself for a top-level header, a file of a layer for a nested one), each
field at its offset as the format defines it; the evidence is the field's own bytes. A value a
file inside states wins over a header's (a header is written by whoever packed the image, often
a generic tool's default):
- TP-Link firmware header v1 (OpenWrt firmware-utils mktplinkfw: version 1, vendor_name[24],
  fw_version[36], hw_id and hw_rev, big-endian; fw_length at 124, kernel_ofs after it) and
  v2/v3 (mktplinkfw2: fw_version[48], hw_id, hw_rev; fw_length at 0x70), at the start of the
  image: the vendor, the hardware as product, the version string (the tool's default
  'ver. 1.0' names no release);
- U-Boot legacy image header (include/image.h): its 32-byte ih_name as product, unless it names
  no product ('Linux-3.10.14', 'MIPS Linux', 'u-boot image': kernel, architecture and generic
  words only); its ih_time (big-endian seconds since the epoch, when mkimage ran) as the
  release date;
- Android boot image header (bootimg.h): the board name (v0-v2) as product and the packed
  os_version (Android release and security patch month) as version.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from functools import partial
from pathlib import Path
from typing import Any

from firmproof.device.parsers._lines import strip_span
from firmproof.device.parsers.androidprops import last_values, parse_props
from firmproof.fs.rootfs import FILE, RootFS
from firmproof.model import Evidence, NoEvidence, excerpt_at, in_bounds

FIELDS = ("vendor", "product", "version", "release_date")
MAX_BYTES = 256 * 1024          # an identity file larger than this is no identity file
MAX_VALUE = 120                 # characters of a value: longer is not a name or a version


# A release date is a day (ISO 8601, UTC) a build tool wrote down. One before the first Linux
# firmware of this kind or after the scan's day is a clock nobody set (an epoch of 0, a
# board's RTC reset, SOURCE_DATE_EPOCH left at 1) and names no release.
EARLIEST_RELEASE = date(1995, 1, 1)


def _day(seconds: int) -> str | None:
    """The UTC day of `seconds` since the epoch, where it can be a release's."""
    try:
        day = datetime.fromtimestamp(seconds, UTC).date()
    except (OverflowError, OSError, ValueError):
        return None
    return day.isoformat() if EARLIEST_RELEASE <= day <= datetime.now(UTC).date() else None


def _epoch_text(text: str) -> str | None:
    """A property's decimal seconds since the epoch ('1530000000') as a day."""
    return _day(int(text)) if text.isascii() and text.isdigit() and len(text) <= 12 else None


@dataclass(frozen=True)
class Source:
    name: str
    paths: tuple[str, ...]                      # the first of them a view holds is read
    keys: dict[str, tuple[str, ...]]            # field -> keys naming it, preferred first
    values: dict[str, Callable[[str], str | None]] = field(default_factory=dict)   # field -> its
    # value from the text of the key (None: the text names nothing); absent: the text itself


SOURCES = (
    Source("Android build properties",
           ("/system/build.prop", "/build.prop", "/vendor/build.prop", "/product/build.prop",
            "/system/system/build.prop", "/default.prop", "/prop.default", "/system/etc/prop.default"),
           {"vendor": ("ro.product.manufacturer", "ro.product.system.manufacturer",
                       "ro.product.vendor.manufacturer", "ro.product.brand", "ro.product.vendor.brand"),
            "product": ("ro.product.model", "ro.product.system.model", "ro.product.vendor.model",
                        "ro.product.name"),
            "version": ("ro.build.display.id", "ro.build.version.incremental",
                        "ro.vendor.build.version.incremental"),
            "release_date": ("ro.build.date.utc", "ro.system.build.date.utc", "ro.vendor.build.date.utc",
                             "ro.bootimage.build.date.utc")},
           {"release_date": _epoch_text}),
    Source("OpenWrt release", ("/etc/openwrt_release",),
           {"product": ("DISTRIB_ID",), "version": ("DISTRIB_RELEASE",)}),
    Source("os-release", ("/etc/os-release", "/usr/lib/os-release"),
           {"product": ("NAME",), "version": ("VERSION_ID",)}),
)


# -- header sources ----------------------------------------------------------------------------

Value = tuple[str, int, int]          # the value, and the span of its bytes in the field


@dataclass(frozen=True)
class Field:
    """One field of a header: `length` bytes at `offset`, which `read` turns into a value (or
    None: the field names nothing)."""

    field: str
    offset: int
    length: int
    read: Callable[[bytes], Value | None]


@dataclass(frozen=True)
class Header:
    name: str
    formats: tuple[str, ...]          # the containers (unpacker formats) it heads; () the image's start
    size: int                         # bytes of the header read
    accept: Callable[[bytes], bool]   # the bytes are this header (magic, version)
    fields: tuple[Field, ...]


_GENERIC = re.compile(r"(linux|kernel|image|uimage|u-?boot|boot|firmware|rootfs|ramdisk|filesystem|"
                      r"multi|compressed|mips|mipsel|arm|arm64|aarch64|x86|x86_64|i386|ppc|powerpc|sh|"
                      r"v?\d[\w.+~-]*)", re.IGNORECASE)
_WORDS = re.compile(r"[^\s(),:/_-]+(?:-boot)?")
_DEFAULT_RELEASE = re.compile(r"ver\. ?\d+(\.\d+)*", re.IGNORECASE)


def _text(raw: bytes) -> Value | None:
    """A NUL- (or 0xff-) terminated string field as text: printable ASCII with a letter, at most
    MAX_VALUE characters, spaces around it not part of it."""
    end = len(raw)
    for stop in (b"\0", b"\xff"):
        at = raw.find(stop)
        end = min(end, at) if at >= 0 else end
    head = raw[:end]
    start = len(head) - len(head.lstrip(b" "))
    head = head.strip(b" ")
    if not head or len(head) > MAX_VALUE or head.translate(None, bytes(range(0x20, 0x7F))) \
            or not any(chr(b).isalpha() for b in head):
        return None
    return head.decode("ascii"), start, start + len(head)


def _product_name(raw: bytes) -> Value | None:
    """A name that says more than kernel, architecture and generic words ('Linux-3.10.14' and
    'u-boot image' name no product)."""
    value = _text(raw)
    if value is None or all(_GENERIC.fullmatch(w) for w in _WORDS.findall(value[0])):
        return None
    return value


def _release(raw: bytes) -> Value | None:
    value = _text(raw)
    return None if value is None or _DEFAULT_RELEASE.fullmatch(value[0]) else value


def _tplink_hardware(raw: bytes) -> Value | None:
    hw_id, hw_rev = struct.unpack(">II", raw)
    if hw_id in (0, 0xFFFFFFFF) or hw_rev == 0xFFFFFFFF:
        return None
    return f"TP-Link hardware {hw_id:08x} v{hw_rev}", 0, len(raw)


def _epoch_be(raw: bytes) -> Value | None:
    """A big-endian 32-bit time_t (uImage ih_time) as a day."""
    day = _day(struct.unpack(">I", raw)[0])
    return None if day is None else (day, 0, len(raw))


def _android_os(raw: bytes) -> Value | None:
    """bootimg.h's os_version: A.B.C in 7 bits each above the patch level's year - 2000 (7 bits)
    and month (4 bits)."""
    (packed,) = struct.unpack("<I", raw)
    if packed == 0:
        return None
    a, b, c = packed >> 25, (packed >> 18) & 0x7F, (packed >> 11) & 0x7F
    year, month = 2000 + ((packed >> 4) & 0x7F), packed & 0xF
    release = f"{a}.{b}.{c}"
    return (f"{release} (patch {year}-{month:02d})" if 1 <= month <= 12 else release), 0, len(raw)


def _android_version(raw: bytes) -> int:
    return struct.unpack_from("<I", raw, 40)[0] if raw[:8] == b"ANDROID!" else -1


def _tplink(versions: tuple[bytes, ...], lengths: int) -> Callable[[bytes], bool]:
    """A TP-Link header: its version, and a firmware length (big-endian, at `lengths`) with the
    kernel's offset inside it (the next field): what mktplinkfw writes, not any 4 bytes alike."""
    def accept(raw: bytes) -> bool:
        if raw[:4] not in versions or len(raw) < lengths + 8:
            return False
        total, kernel = struct.unpack_from(">II", raw, lengths)
        return 512 <= total and 0 < kernel < total
    return accept


HEADERS = (
    Header("TP-Link firmware header v1", (), 136, _tplink((b"\1\0\0\0",), 124),
           (Field("vendor", 4, 24, _text), Field("product", 64, 8, _tplink_hardware),
            Field("version", 28, 36, _release))),
    Header("TP-Link firmware header v2", (), 0x7C, _tplink((b"\2\0\0\0", b"\3\0\0\0"), 0x70),
           (Field("product", 0x34, 8, _tplink_hardware), Field("version", 4, 48, _release))),
    Header("U-Boot image header", ("uimage",), 64, lambda raw: raw[:4] == b"\x27\x05\x19\x56",
           (Field("product", 32, 32, _product_name), Field("release_date", 8, 4, _epoch_be))),
    Header("Android boot image header", ("android_boot",), 64,
           lambda raw: 0 <= _android_version(raw) <= 2,
           (Field("product", 48, 16, _product_name), Field("version", 44, 4, _android_os))),
    Header("Android boot image header", ("android_boot",), 64,
           lambda raw: _android_version(raw) in (3, 4),
           (Field("version", 16, 4, _android_os),)),
)


def _header_guesses(header: Header, raw: bytes, evidence: Callable[[int, int], Evidence | None],
                    path: str, container: tuple[str, ...]) -> list[Guess]:
    guesses = []
    for spec in header.fields:
        if spec.offset + spec.length > len(raw):
            continue
        value = spec.read(raw[spec.offset:spec.offset + spec.length])
        if value is None:
            continue
        text, start, end = value
        proof = evidence(spec.offset + start, end - start)
        if proof is not None:
            guesses.append(Guess(spec.field, text, header.name, path, container, proof))
    return guesses


Place = tuple[tuple[str, ...], str, int, "RootFS | None"]


def headers(image: Path, sha256: str, layers: Sequence[Place]) -> list[Guess]:
    """What the headers of HEADERS say, in their order, each in the containers in the order of
    `layers` (outer first): (container chain, format, its offset in the file holding it, the
    tree of the layer holding that file, or None when that file is the image, whose hash is
    `sha256`)."""
    out: list[Guess] = []
    for header in HEADERS:
        places: list[tuple[RootFS | None, str, int, tuple[str, ...]]] = []
        if not header.formats:
            places.append((None, "", 0, (image.name,)))
        for container, fmt, offset, tree in layers:
            if fmt in header.formats:
                places.append((tree, "" if tree is None else container[-2], offset,
                               container[:1] if tree is None else tree.container))
        for tree, path, offset, container in places:
            raw = _read_at(image, offset, header.size) if tree is None else \
                (tree.read(path) or b"")[offset:offset + header.size]
            if not header.accept(raw):
                continue
            if tree is None:
                proof = partial(_image_evidence, image, sha256, offset)
                named_path = ""
            else:
                proof = partial(_file_evidence, tree, path, offset)
                named = tree.entry(path)
                named_path = named.report_path if named else path
            out += _header_guesses(header, raw, proof, named_path, container)
    return out


def _image_evidence(image: Path, sha256: str, base: int, at: int, length: int) -> Evidence | None:
    """`length` bytes at `base + at` of the image (hashing to `sha256`)."""
    data = _read_at(image, base + at, length)
    if not in_bounds(0, length, len(data)):
        return None
    return Evidence(sha256, base + at, length, excerpt_at(data, 0, length))


def _file_evidence(tree: RootFS, path: str, base: int, at: int, length: int) -> Evidence | None:
    try:
        return Evidence.of(tree, path, base + at, length, owner="identity", window=False)
    except NoEvidence:
        return None


def _read_at(path: Path, offset: int, length: int) -> bytes:
    try:
        with path.open("rb") as handle:
            handle.seek(offset)
            return handle.read(length)
    except OSError:
        return b""


@dataclass(frozen=True)
class Guess:
    """One field of the image's identity as one of its files says it, at `evidence`."""

    field: str
    value: str
    source: str
    path: str
    container: tuple[str, ...]
    evidence: Evidence

    def to_json(self) -> dict[str, Any]:
        return {"value": self.value, "source": self.source, "path": self.path,
                "container": list(self.container), "evidence": self.evidence.to_json()}

    @classmethod
    def from_json(cls, field: str, data: Any) -> Guess | None:
        """A guess as a report says it; None if it is not shaped like one (a report may come
        from anyone: a malformed guess is left out, never trusted)."""
        if not isinstance(data, dict):
            return None
        evidence, container = data.get("evidence"), data.get("container")
        if not (isinstance(evidence, dict) and isinstance(container, list)
                and all(isinstance(c, str) for c in container)
                and all(isinstance(data.get(k), str) for k in ("value", "source", "path"))
                and all(type(evidence.get(k)) is int for k in ("offset", "length"))
                and all(isinstance(evidence.get(k), str) for k in ("sha256", "excerpt"))):
            return None
        return cls(field, data["value"], data["source"], data["path"], tuple(container),
                   Evidence(evidence["sha256"], evidence["offset"], evidence["length"], evidence["excerpt"]))


def identify(views: Iterable[RootFS], headers: Iterable[Guess] = ()) -> tuple[Guess, ...]:
    """Vendor, product and version as the views' files say them: for each field, the first
    source (in SOURCES' order) that names it, in the first view (in unpacking order) that has it;
    a field no file names is taken from the first of `headers` (firmproof.device.identity.headers)
    that names it."""
    found: dict[str, Guess] = {}
    views = list(views)
    for source in SOURCES:
        for view in views:
            if all(f in found for f in source.keys):
                break
            for guess in _read(source, view):
                found.setdefault(guess.field, guess)
    for guess in headers:
        found.setdefault(guess.field, guess)
    return tuple(found[f] for f in FIELDS if f in found)


def _read(source: Source, view: RootFS) -> list[Guess]:
    for path in source.paths:
        entry = view.stat(path)
        if entry is None or entry.kind != FILE or entry.size > MAX_BYTES:
            continue
        data = view.read(path)
        if data is None:
            continue
        values = _assignments(data.decode("latin-1"))
        guesses = []
        for name, keys in source.keys.items():
            guess = _first_value(source, name, keys, values, data, view, path)
            if guess is not None:
                guesses.append(guess)
        return guesses
    return []


def _first_value(source: Source, name: str, keys: tuple[str, ...], values: dict[str, tuple[int, int]],
                 data: bytes, view: RootFS, path: str) -> Guess | None:
    """The first of `keys` whose value names `name` (a key whose text names nothing, such as a
    date of 0, gives way to the next)."""
    for key in keys:
        if key not in values:
            continue
        start, end = values[key]
        text = data[start:end].decode("utf-8", "replace")
        value = source.values[name](text) if name in source.values else text
        if value is None:
            continue
        try:
            evidence = Evidence.of(view, path, start, end - start, owner="identity", window=False)
        except NoEvidence:
            continue
        named = view.entry(path)         # the name read, as findings name it (Rule.at)
        return Guess(name, value, source.name, named.report_path if named else path, view.container,
                     evidence)
    return None


def _assignments(text: str) -> dict[str, tuple[int, int]]:
    """key -> the byte span of its value, for `key=value` lines (a later line wins, `?=` does
    not override; one pair of quotes around the value is not part of it); empty, overlong and
    multi-line values are left out."""
    out: dict[str, tuple[int, int]] = {}
    for key, prop in last_values(parse_props(text)).items():
        start, end = strip_span(text, text.index("=", prop.start) + 1, prop.end)
        if end - start >= 2 and text[start] in "'\"" and text[end - 1] == text[start]:
            start, end = start + 1, end - 1
        if 0 < end - start <= MAX_VALUE and text[start:end].isprintable():
            out[key] = (start, end)
    return out
