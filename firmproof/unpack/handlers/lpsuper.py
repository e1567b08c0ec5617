"""Android dynamic partitions: the `super` partition image (`super.img`, liblp metadata).

Since Android 10, system, vendor, product, odm (and their `_a`/`_b` copies) are logical
partitions inside one physical `super` partition. Layout (fs_mgr/liblp metadata_format.h in
AOSP): 4096 reserved bytes, the geometry (magic `gDla`, SHA-256 of itself, the metadata's
maximum size, the number of metadata slots and the logical block size) and its backup, then
one metadata copy per slot and their backups, then the partitions' data. Each metadata copy
is a header (magic `0PLA`, SHA-256 of itself and of its tables) and four tables: partitions
(name, attributes, extents, group), extents (a run of 512-byte sectors: LINEAR on a block
device, or ZERO), groups and block devices. Factory images ship it raw or Android-sparse
(unblob's sparse handler turns the latter into the former first); `super_empty.img` holds
the metadata alone.

The geometry and the metadata are parsed and checksummed by the `liblp` package, a port of
AOSP's reader.cpp. What it leaves out is done here: the backup geometry and the backup
metadata are read when the primary copy is damaged (its reader raises instead of falling
back), each slot's metadata is read (a partition listed in one slot only would be mounted
by a device booting that slot), and its checks are repeated without `assert`, which
`python -O` would drop. Every partition becomes `<name>.img`: LINEAR extents are copied
(in the kernel) after checking they lie in the super device's data area and inside this
file, ZERO extents stay holes, and the declared sizes together are held to the extraction's
byte budget and to the size of the block devices, so that tables naming the same bytes many
times, or declaring huge holes, cannot multiply what one image costs. A partition on another
block device (retrofit devices split super over the old system_a/system_b partitions) or
whose data is not in the file is reported by name.
"""

from __future__ import annotations

import errno
import hashlib
import io
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

from unblob.file_utils import File, InvalidInputFormat
from unblob.models import (
    Extractor,
    ExtractResult,
    Handler,
    HandlerDoc,
    HandlerType,
    HexString,
    Reference,
    ValidChunk,
)
from unblob.report import Severity, UnknownError

from firmproof.unpack.budget import budget_left

RESERVED = 4096                         # LP_PARTITION_RESERVED_BYTES
GEOMETRY_SIZE = 4096                    # LP_METADATA_GEOMETRY_SIZE
SECTOR = 512                            # LP_SECTOR_SIZE
GEOMETRY_MAGIC = 0x616C4467
GEOMETRY_STRUCT = 52                    # sizeof(LpMetadataGeometry), checksummed at bytes 8-40
MAX_METADATA = 1 << 20                  # AOSP devices use 64 KiB; lpmake accepts any multiple of 512
MAX_SLOTS = 8                           # A/B uses 2, virtual A/B 3
BLOCK = 1 << 20
COPY_CHUNK = 1 << 30
LINEAR, ZERO = 0, 1                     # LP_TARGET_TYPE_*
SLOT_SUFFIXED = 1 << 1                  # LP_PARTITION_ATTR_SLOT_SUFFIXED
PARTITION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,35}")
_AOSP_URL = ("https://android.googlesource.com/platform/system/core/+/refs/heads/main/"
             "fs_mgr/liblp/include/liblp/metadata_format.h")


class SuperError(ValueError):
    """The super image, or one logical partition of it, cannot be read as declared."""


class SuperProblem(UnknownError):
    """One logical partition not extracted; the driver reports `exception` as the reason."""

    severity: Severity = Severity.ERROR


@dataclass(frozen=True)
class Extent:
    sectors: int
    kind: int               # LINEAR or ZERO
    sector: int             # first sector on the block device (LINEAR)
    device: int             # block device index (LINEAR)


@dataclass(frozen=True)
class Partition:
    name: str
    extents: tuple[Extent, ...]

    @property
    def size(self) -> int:
        return sum(e.sectors for e in self.extents) * SECTOR


@dataclass(frozen=True)
class Super:
    device_size: int        # bytes of the super block device (block device 0)
    devices_size: int       # bytes of all its block devices (retrofit supers span several)
    metadata_end: int       # first byte after the geometry and every metadata copy
    partitions: tuple[Partition, ...]        # every slot's partitions, each run of extents once
    problems: tuple[str, ...] = ()           # slots whose metadata could not be read
    empty: bool = False     # super_empty.img: geometry and one metadata copy, no data


def _liblp() -> Any:
    import liblp.reader  # the package's modules at first use: scans without a super.img skip them

    return liblp.reader


def read_geometry(handle: BinaryIO, at: int, copies: int = 2) -> Any:
    """The checksummed geometry at `at`, or its backup after it; SuperError if neither holds."""
    reader = _liblp()
    errors = []
    for copy in range(copies):
        handle.seek(at + copy * GEOMETRY_SIZE)
        raw = handle.read(GEOMETRY_SIZE)
        try:
            geometry = reader.ParseGeometry(raw)
        except (AssertionError, ValueError) as exc:
            errors.append(str(exc) or type(exc).__name__)
            continue
        slots, max_size = geometry.metadata_slot_count, geometry.metadata_max_size
        if not _sha256_ok(raw[:GEOMETRY_STRUCT], 8):
            errors.append("geometry checksum mismatch")
        elif (geometry.magic == GEOMETRY_MAGIC and 0 < slots <= MAX_SLOTS and 0 < max_size <= MAX_METADATA
                and max_size % SECTOR == 0 and geometry.logical_block_size % SECTOR == 0):
            return geometry
        else:
            errors.append(f"geometry out of range (slots {slots}, metadata size {max_size})")
    raise SuperError("no valid liblp geometry: " + "; ".join(errors))


def _sha256_ok(struct: bytes, at: int) -> bool:
    """Whether the SHA-256 stored at `at` in `struct` is that of `struct` with it zeroed (liblp
    checks the same with `assert`, which `python -O` drops)."""
    zeroed = struct[:at] + bytes(32) + struct[at + 32:]
    return len(struct) > at + 32 and hashlib.sha256(zeroed).digest() == struct[at:at + 32]


def _name(raw: bytes) -> str:
    text = raw.split(b"\0", 1)[0].decode("ascii", "replace")
    if not PARTITION_NAME.fullmatch(text):
        raise SuperError(f"invalid partition name {text[:40]!r}")
    return text


def _metadata(handle: BinaryIO, geometry: Any, offsets: tuple[int, ...], what: str) -> Any:
    """The first metadata copy at `offsets` that parses; SuperError if none does."""
    reader = _liblp()
    errors = []
    for offset in offsets:
        handle.seek(offset)
        region = io.BytesIO(handle.read(geometry.metadata_max_size))
        try:
            metadata = reader.ParseMetadata(geometry, region)
        except Exception as exc:  # liblp raises AssertionError, Exception, ValueError, IndexError
            errors.append(str(exc) or type(exc).__name__)
            continue
        raw, header = region.getvalue(), metadata.header
        tables = raw[header.header_size:header.header_size + header.tables_size]
        if _sha256_ok(raw[:header.header_size], 12) and hashlib.sha256(tables).digest() == bytes(
                header.tables_checksum):
            return metadata
        errors.append("checksum mismatch")
    raise SuperError(f"{what}: " + "; ".join(errors))


def _partitions(metadata: Any, slot: int) -> list[Partition]:
    """The slot's partitions, every index checked here again (not by assert)."""
    header = metadata.header
    if header.extents.num_entries != len(metadata.extents) or not metadata.block_devices:
        raise SuperError("metadata tables do not match their header")
    out = []
    for part in metadata.partitions:
        name = _name(bytes(part.name))
        if part.attributes & SLOT_SUFFIXED and slot < 2:
            name += ("_a", "_b")[slot]
        first, count = part.first_extent_index, part.num_extents
        if first + count > len(metadata.extents):
            raise SuperError(f"partition {name}: extent list out of range")
        extents = []
        for raw in metadata.extents[first:first + count]:
            if raw.target_type not in (LINEAR, ZERO):
                raise SuperError(f"partition {name}: unknown extent type {raw.target_type}")
            if raw.target_type == LINEAR and raw.target_source >= len(metadata.block_devices):
                raise SuperError(f"partition {name}: extent on a block device the metadata lacks")
            extents.append(Extent(raw.num_sectors, raw.target_type, raw.target_data, raw.target_source))
        out.append(Partition(name, tuple(extents)))
    return out


def read_super(handle: BinaryIO, start: int, file_size: int) -> Super:
    """Geometry and every slot's metadata of the super image at `start` (on-device layout)."""
    geometry = read_geometry(handle, start + RESERVED)
    slots, max_size = geometry.metadata_slot_count, geometry.metadata_max_size
    metadata_end = RESERVED + 2 * (GEOMETRY_SIZE + max_size * slots)
    first = start + RESERVED + 2 * GEOMETRY_SIZE
    if first + max_size > file_size:
        raise SuperError("truncated before the first metadata copy")
    seen: dict[object, Partition] = {}     # by extents: slot-suffixed copies name the same data
    names: dict[str, int] = {}
    problems = []
    device_size = devices_size = 0
    for slot in range(slots):
        try:
            copies = (first + max_size * slot, first + max_size * (slots + slot))
            metadata = _metadata(handle, geometry, copies, f"metadata slot {slot}")
            partitions = _partitions(metadata, slot)
        except SuperError as exc:
            problems.append(str(exc))
            continue
        device_size = device_size or metadata.block_devices[0].size
        devices_size = devices_size or sum(device.size for device in metadata.block_devices)
        for part in partitions:
            key = part.extents or part.name
            if key in seen:
                continue
            names[part.name] = names.get(part.name, 0) + 1
            shown = part.name if names[part.name] == 1 else f"{part.name}.slot{slot}"
            seen[key] = Partition(shown, part.extents)
    if not device_size:
        raise SuperError("no slot has readable metadata: " + "; ".join(problems))
    return Super(device_size, devices_size, metadata_end, tuple(seen.values()), tuple(problems))


def read_empty(handle: BinaryIO, start: int) -> Super:
    """A super_empty.img at `start`: one geometry, then one metadata copy (liblp's image-file
    layout, what lpmake writes without partition images). Its end is that copy's end."""
    geometry = read_geometry(handle, start, copies=1)
    metadata = _metadata(handle, geometry, (start + GEOMETRY_SIZE,), "metadata")
    partitions = tuple(p for p in _partitions(metadata, 0) if p.extents)
    end = GEOMETRY_SIZE + metadata.header.header_size + metadata.header.tables_size
    return Super(metadata.block_devices[0].size, sum(d.size for d in metadata.block_devices), end,
                 partitions, empty=True)


def _empty_layout(handle: BinaryIO, start: int = 0) -> bool:
    """Whether the image at `start` begins with the geometry (super_empty.img) rather than 4096
    reserved bytes then the geometry (a super partition image)."""
    handle.seek(start)
    return handle.read(4) == GEOMETRY_MAGIC.to_bytes(4, "little")


@dataclass
class Allowance:
    """What the partitions of one super image may still declare, in bytes (holes included)."""

    budget: int             # the extraction's byte budget
    devices: int            # partitions share no sectors: together they fit in the block devices


def _check(part: Partition, sup: Super, available: int, left: Allowance) -> None:
    """SuperError unless every extent can be read from this file and the partition fits what is
    left: a table pointing many partitions at the same bytes, or declaring holes larger than
    the devices, would multiply what one image costs."""
    if part.size > left.budget:
        raise SuperError(f"declares {part.size} bytes, more than the {left.budget} bytes left of the "
                         "byte budget")
    if part.size > left.devices:
        raise SuperError(f"declares {part.size} bytes where {left.devices} bytes of the "
                         f"{sup.devices_size}-byte block devices are left: its extents overlap other "
                         "partitions' or declare more than the devices hold")
    for extent in part.extents:
        if extent.kind != LINEAR:
            continue
        if extent.device != 0:
            raise SuperError(f"data on block device {extent.device} (a retrofit super split over "
                             "several partitions): only the super device's own data is in this image")
        begin, end = extent.sector * SECTOR, (extent.sector + extent.sectors) * SECTOR
        if begin < sup.metadata_end or end > sup.device_size:
            raise SuperError(f"extent at sector {extent.sector} lies outside the data area of the "
                             f"{sup.device_size}-byte super device")
        if end > available:
            raise SuperError(f"its data runs past the end of the image ({available} bytes)")


def _copy(source: int, target: int, offset: int, position: int, length: int) -> None:
    """Copy `length` bytes at `offset` of `source` to `position` of `target` (file descriptors):
    in the kernel with copy_file_range, through a buffer where that is not available."""
    while length:
        try:
            done = os.copy_file_range(source, target, min(length, COPY_CHUNK), offset, position)
        except OSError as exc:
            if exc.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
                raise
            done = os.pwrite(target, os.pread(source, min(length, BLOCK), offset), position)
        if done <= 0:
            raise SuperError("image ended while copying")
        offset, position, length = offset + done, position + done, length - done


def extract_partition(handle: BinaryIO, sup: Super, part: Partition, target: Path, available: int,
                      left: Allowance) -> int:
    """Write the logical partition to `target`; the bytes copied from the image."""
    _check(part, sup, available, left)
    written = 0
    with target.open("xb") as out:
        position = 0
        for extent in part.extents:
            length = extent.sectors * SECTOR
            if extent.kind == LINEAR:
                _copy(handle.fileno(), out.fileno(), extent.sector * SECTOR, position, length)
                written += length
            position += length
        out.truncate(position)
    return written


class SuperExtractor(Extractor):
    def extract(self, inpath: Path, outdir: Path) -> ExtractResult:
        outdir.mkdir(parents=True, exist_ok=True)
        budget = budget_left()
        with inpath.open("rb") as handle:
            available = handle.seek(0, 2)
            sup = read_empty(handle, 0) if _empty_layout(handle) else read_super(handle, 0, available)
            problems = list(sup.problems)
            left = Allowance(budget, sup.devices_size)
            for part in () if sup.empty else sup.partitions:     # super_empty: layout, no data
                if not part.extents:
                    continue        # declared but empty: the other slot's copy of an A/B pair
                target = outdir / f"{part.name}.img"
                try:
                    extract_partition(handle, sup, part, target, available, left)
                    left.budget -= part.size
                    left.devices -= part.size
                except SuperError as exc:
                    target.unlink(missing_ok=True)
                    problems.append(f"partition {part.name}: {exc}; not extracted")
                except OSError as exc:
                    target.unlink(missing_ok=True)
                    problems.append(f"partition {part.name}: {exc.strerror or exc}; not extracted")
        return ExtractResult(reports=[SuperProblem(exception=p) for p in problems])


_REFERENCES = [Reference(title="metadata_format.h", url=_AOSP_URL)]


class SuperHandler(Handler):
    NAME = "android_super"
    # the geometry's magic and struct size (52), 4096 bytes into the image
    PATTERNS = [HexString("67 44 6c 61 34 00 00 00")]
    PATTERN_MATCH_OFFSET = -RESERVED
    EXTRACTOR = SuperExtractor()
    DOC = HandlerDoc(
        name="Android dynamic partitions (super.img)",
        description="liblp super partition: geometry, metadata slots and the logical partitions "
                    "(system, vendor, product, odm, their A/B copies) laid out in extents.",
        handler_type=HandlerType.FILESYSTEM,
        limitations=["partitions on other block devices (retrofit dynamic partitions) are reported, "
                     "not extracted"],
        vendor="Google",
        references=_REFERENCES,
    )

    def calculate_chunk(self, file: File, start_offset: int) -> ValidChunk | None:
        file.seek(0, io.SEEK_END)
        size = file.tell()
        try:
            sup = read_super(file, start_offset, size)   # type: ignore[arg-type]
        except SuperError as exc:
            raise InvalidInputFormat(str(exc)) from exc
        end = start_offset + sup.device_size
        if end > size or end < start_offset + sup.metadata_end:
            end = size      # truncated or trimmed: extraction says which partitions are missing
        return ValidChunk(start_offset=start_offset, end_offset=end)


class SuperEmptyHandler(Handler):
    NAME = "android_super_empty"
    PATTERNS = SuperHandler.PATTERNS
    EXTRACTOR = SuperExtractor()
    DOC = HandlerDoc(
        name="Android dynamic partition layout (super_empty.img)",
        description="liblp geometry and one metadata copy without partition data, as lpmake writes "
                    "it without images; factory images ship the partitions as separate files.",
        handler_type=HandlerType.FILESYSTEM,
        limitations=["holds no partition data: nothing is extracted"],
        vendor="Google",
        references=_REFERENCES,
    )

    def calculate_chunk(self, file: File, start_offset: int) -> ValidChunk | None:
        try:
            empty = read_empty(file, start_offset)   # type: ignore[arg-type]
        except SuperError as exc:
            raise InvalidInputFormat(str(exc)) from exc
        return ValidChunk(start_offset=start_offset, end_offset=start_offset + empty.metadata_end)
