"""Android A/B OTA payloads (`payload.bin`, update_engine's `CrAU` format).

Layout (update_metadata.proto in AOSP system/update_engine, integers big-endian): magic
`CrAU`, major version (2 since Android 7), manifest size, metadata signature size, the
protobuf `DeltaArchiveManifest`, the metadata signature, then the data blobs the
operations point at (offsets relative to the end of the metadata signature) and the
payload signature. Each partition (system, vendor, boot, ...) is a list of operations
that write blocks of the new image; a full OTA uses REPLACE, REPLACE_BZ, REPLACE_XZ, ZERO
and DISCARD. Some vendors added a zstd REPLACE whose type number the AOSP schema does not
know: an operation of an unknown type whose data is a zstd frame is decoded as such.

The manifest is read with the protobuf classes of the `android-payload-dumper` package,
corrected to AOSP's schema: the package declares `data_offset`/`data_length` as uint32,
which silently wraps the offsets of payloads larger than 4 GiB (AOSP made them uint64 in
minor version 6). The operations are applied here rather than by its extraction loop,
which writes the operations in sequence without reading their destination extents, builds
ZERO runs and decompressed blobs in memory without a bound and joins partition names into
output paths unchecked. Here every extent is checked against the partition's declared
size, the declared sizes together against the byte budget the driver gives the extraction
(the child's RLIMIT_FSIZE), decoding runs in blocks, and both the operation hashes and
the partition hash are verified. A partition that fails any check is not written at all
and is reported by name; delta operations (SOURCE_COPY, BSDIFF, PUFFDIFF, ...) need the
source build and are reported likewise.
"""

from __future__ import annotations

import bz2
import contextlib
import functools
import hashlib
import io
import lzma
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import zstandard
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

MAGIC = b"CrAU"
HEADER = struct.Struct(">4sQQI")          # magic, major version, manifest size, metadata signature size
MAJOR_VERSION = 2
MAX_MANIFEST = 64 << 20                   # real manifests are below 2 MiB
MAX_SIGNATURE = 1 << 20
BLOCK = 1 << 20
LZMA_MEMLIMIT = 512 << 20
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
PARTITION_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")

REPLACE, REPLACE_BZ, ZERO, DISCARD, REPLACE_XZ = 0, 1, 6, 7, 8
FULL_OPERATIONS = {REPLACE, REPLACE_BZ, ZERO, DISCARD, REPLACE_XZ}
_AOSP_URL = "https://android.googlesource.com/platform/system/update_engine/+/refs/heads/main/update_metadata.proto"


class PayloadError(ValueError):
    """The payload, or one partition of it, cannot be extracted as declared."""


class PayloadProblem(UnknownError):
    """One partition not extracted; the driver reports `exception` as the reason."""

    severity: Severity = Severity.ERROR


@functools.cache
def manifest_class() -> Any:
    """DeltaArchiveManifest: the package's protobuf class with AOSP's uint64 blob offsets
    (protobuf is imported here: every scan loads the handlers, few meet a payload)."""
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from payload_dumper import update_metadata_pb2

    proto = descriptor_pb2.FileDescriptorProto()
    update_metadata_pb2.DESCRIPTOR.CopyToProto(proto)
    for message in proto.message_type:
        if message.name == "InstallOperation":
            for fld in message.field:
                if fld.name in ("data_offset", "data_length"):
                    fld.type = descriptor_pb2.FieldDescriptorProto.TYPE_UINT64
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(
        pool.FindMessageTypeByName(f"{proto.package}.DeltaArchiveManifest"))


@dataclass(frozen=True)
class Payload:
    manifest: Any                          # DeltaArchiveManifest
    data_start: int                        # offset of the data blobs in the file
    end: int                               # end of the last blob or of the payload signature
    block_size: int
    file_size: int


def parse_header(raw: bytes) -> tuple[int, int, int]:
    """(header size, manifest size, metadata signature size); InvalidInputFormat if not a payload."""
    if len(raw) < HEADER.size:
        raise InvalidInputFormat("payload header truncated")
    magic, major, manifest_size, signature_size = HEADER.unpack_from(raw)
    if magic != MAGIC:
        raise InvalidInputFormat("not an update_engine payload")
    if major != MAJOR_VERSION:
        raise InvalidInputFormat(f"payload major version {major} (only 2, Android's, is read)")
    if not 0 < manifest_size <= MAX_MANIFEST or signature_size > MAX_SIGNATURE:
        raise InvalidInputFormat("implausible payload manifest or signature size")
    return HEADER.size, manifest_size, signature_size


def read_payload(handle: BinaryIO, start: int, size: int) -> Payload:
    """The payload whose header is at `start` of a file of `size` bytes; PayloadError if unreadable."""
    handle.seek(start)
    try:
        header, manifest_size, signature_size = parse_header(handle.read(HEADER.size))
    except InvalidInputFormat as exc:
        raise PayloadError(str(exc)) from None
    if start + header + manifest_size > size:
        raise PayloadError(f"payload truncated: the manifest of {manifest_size} bytes runs past the "
                           f"end of the file ({size - start} bytes)")
    from google.protobuf.message import DecodeError

    manifest = manifest_class()()
    try:
        manifest.ParseFromString(handle.read(manifest_size))
    except DecodeError as exc:
        raise PayloadError(f"payload manifest cannot be decoded: {exc}") from None
    block_size = manifest.block_size
    if block_size < 512 or block_size > (1 << 20) or block_size & (block_size - 1):
        raise PayloadError(f"implausible payload block size {block_size}")
    data_start = start + header + manifest_size + signature_size
    last = max((op.data_offset + op.data_length for part in manifest.partitions
                for op in part.operations), default=0)
    last = max(last, manifest.signatures_offset + manifest.signatures_size)
    return Payload(manifest, data_start, data_start + last, block_size, size)


def _op_name(op: Any) -> str:
    """SOURCE_COPY, REPLACE_XZ, ...; `type 14` for a number the schema does not define."""
    from google.protobuf.unknown_fields import UnknownFieldSet

    if op.HasField("type"):
        return str(op.DESCRIPTOR.fields_by_name["type"].enum_type.values_by_number[op.type].name)
    numbers = [f.data for f in UnknownFieldSet(op) if f.field_number == 1]
    return f"type {numbers[0]}" if numbers else "no type"


def _extents(op: Any, index: int, blocks: int, block_size: int) -> list[tuple[int, int]]:
    """(byte offset, byte length) of the operation's destination extents, inside the partition."""
    out = []
    for extent in op.dst_extents:
        if extent.num_blocks == 0 or extent.start_block + extent.num_blocks > blocks:
            raise PayloadError(
                f"operation {index} writes blocks {extent.start_block}.."
                f"{extent.start_block + extent.num_blocks - 1}, beyond the partition's {blocks} blocks")
        out.append((extent.start_block * block_size, extent.num_blocks * block_size))
    if not out:
        raise PayloadError(f"operation {index} has no destination")
    return out


class _Region(io.RawIOBase):
    """The bytes of one operation's blob, read in blocks and hashed as they go."""

    def __init__(self, handle: BinaryIO, offset: int, length: int) -> None:
        super().__init__()
        self.handle, self.pos, self.left = handle, offset, length
        self.digest = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        self.handle.seek(self.pos)
        data = self.handle.read(min(len(buffer), self.left))
        buffer[:len(data)] = data
        self.pos += len(data)
        self.left -= len(data)
        self.digest.update(data)
        return len(data)

    def drain(self) -> bytes:
        """SHA-256 of the whole blob, reading what the decoder left."""
        while self.read(BLOCK):
            pass
        return self.digest.digest()


def _decoded(kind: str, region: _Region) -> Iterator[bytes]:
    """The operation's data, decompressed in blocks of at most BLOCK bytes."""
    if kind == "raw":
        while block := region.read(BLOCK):
            yield block
        return
    if kind == "zstd":
        source = io.BufferedReader(region)
        reader = zstandard.ZstdDecompressor().stream_reader(source, read_across_frames=True)
        while block := reader.read(BLOCK):
            yield block
        return
    decomp: Any = (bz2.BZ2Decompressor() if kind == "bz2"
                   else lzma.LZMADecompressor(lzma.FORMAT_AUTO, memlimit=LZMA_MEMLIMIT))
    while not decomp.eof:
        data = b""
        if decomp.needs_input:
            data = region.read(BLOCK)
            if not data:
                raise PayloadError(f"{kind} data of an operation ends early")
        block = decomp.decompress(data, max_length=BLOCK)
        if block:
            yield block


def _kind(op: Any, region: _Region, index: int) -> str:
    if not op.HasField("type"):
        head = region.handle
        head.seek(region.pos)
        if head.read(4) == ZSTD_MAGIC:
            return "zstd"       # a vendor's zstd REPLACE, not in the AOSP schema
        raise PayloadError(f"operation {index} has {_op_name(op)}, which the AOSP schema does not "
                           "define, and its data is no zstd frame")
    return {REPLACE: "raw", REPLACE_BZ: "bz2", REPLACE_XZ: "xz"}[op.type]


def _write_operation(out: BinaryIO, handle: BinaryIO, payload: Payload, op: Any, index: int,
                     extents: list[tuple[int, int]]) -> None:
    if op.HasField("type") and op.type in (ZERO, DISCARD):
        return                  # the file starts as zeros; DISCARD leaves blocks undefined
    region = _Region(handle, payload.data_start + op.data_offset, op.data_length)
    kind = _kind(op, region, index)
    room = sum(length for _o, length in extents)
    written = 0
    pending = list(extents)
    errors = (OSError, EOFError, lzma.LZMAError, zstandard.ZstdError, ValueError)
    try:
        for block in _decoded(kind, region):
            if written + len(block) > room:
                raise PayloadError(f"operation {index} decodes to more than its {room} destination bytes")
            view = memoryview(block)
            while view:
                offset, length = pending[0]
                out.seek(offset)
                out.write(view[:length])
                taken = min(length, len(view))
                view = view[taken:]
                pending[0] = (offset + taken, length - taken)
                if pending[0][1] == 0:
                    pending.pop(0)
            written += len(block)
    except PayloadError:
        raise
    except errors as exc:
        raise PayloadError(f"operation {index} ({_op_name(op)}) cannot be decoded: {exc}") from None
    if room - written >= payload.block_size:
        raise PayloadError(f"operation {index} decodes to {written} bytes for {room} destination bytes")
    if op.data_sha256_hash and region.drain() != op.data_sha256_hash:
        raise PayloadError(f"operation {index}: data hash mismatch")


def _check(part: Any, payload: Payload, budget: int) -> int:
    """The partition's size, once every operation is checked against it and the budget.

    The operations of a full payload write each block once: more bytes to decode than the
    partition holds (overlapping destinations) would let a small payload cost unbounded work.
    """
    size = part.new_partition_info.size
    if size <= 0:
        raise PayloadError("no partition size declared")
    if size > budget:
        raise PayloadError(f"declares {size} bytes, more than the {budget} bytes left of the byte budget")
    blocks = -(-size // payload.block_size)
    to_decode = 0
    for index, op in enumerate(part.operations):
        if op.HasField("type") and op.type not in FULL_OPERATIONS:
            raise PayloadError(f"operation {index} is {_op_name(op)}, a delta operation that needs the "
                               "source build")
        room = sum(length for _offset, length in _extents(op, index, blocks, payload.block_size))
        if not (op.HasField("type") and op.type in (ZERO, DISCARD)):
            to_decode += room
        if payload.data_start + op.data_offset + op.data_length > payload.file_size:
            raise PayloadError(f"operation {index} reads data past the end of the payload "
                               f"(truncated at {payload.file_size} bytes)")
    if to_decode > blocks * payload.block_size:
        raise PayloadError(f"operations write {to_decode} bytes into {blocks * payload.block_size} "
                           "(overlapping destinations)")
    return size


def extract_partition(handle: BinaryIO, payload: Payload, part: Any, target: Path, budget: int) -> int:
    """Write the partition image to `target`; its size. PayloadError (nothing written) if it fails."""
    size = _check(part, payload, budget)
    digest = hashlib.sha256()
    try:
        with target.open("xb") as out:
            out.truncate(size)
            for index, op in enumerate(part.operations):
                extents = _extents(op, index, -(-size // payload.block_size), payload.block_size)
                _write_operation(out, handle, payload, op, index, extents)
            out.truncate(size)
        expected = part.new_partition_info.hash
        if expected:
            with target.open("rb") as done:
                while block := done.read(BLOCK):
                    digest.update(block)
            if digest.digest() != expected:
                raise PayloadError("partition hash mismatch")
    except BaseException:
        with contextlib.suppress(OSError):
            target.unlink()
        raise
    return size


class PayloadExtractor(Extractor):
    def extract(self, inpath: Path, outdir: Path) -> ExtractResult:
        outdir.mkdir(parents=True, exist_ok=True)
        problems: list[str] = []
        budget = budget_left()
        with inpath.open("rb") as handle:
            size = handle.seek(0, 2)
            payload = read_payload(handle, 0, size)
            seen: set[str] = set()
            for part in payload.manifest.partitions:
                name = part.partition_name          # bytes when not UTF-8 (proto2 `string`)
                if not isinstance(name, str) or not PARTITION_NAME.fullmatch(name) or name in seen:
                    problems.append(f"partition {name[:80]!r}: invalid or repeated name, not extracted")
                    continue
                seen.add(name)
                try:
                    budget -= extract_partition(handle, payload, part, outdir / f"{name}.img", budget)
                except PayloadError as exc:
                    problems.append(f"partition {name}: {exc}; not extracted")
                except OSError as exc:
                    problems.append(f"partition {name}: {exc.strerror or exc}; not extracted")
        return ExtractResult(reports=[PayloadProblem(exception=p) for p in problems])


class PayloadHandler(Handler):
    NAME = "android_payload"
    PATTERNS = [HexString("43 72 41 55 00 00 00 00 00 00 00 02")]
    EXTRACTOR = PayloadExtractor()
    DOC = HandlerDoc(
        name="Android OTA payload (payload.bin)",
        description="update_engine payload of A/B OTA packages: header, protobuf manifest, "
                    "metadata signature and the compressed blocks of each partition image.",
        handler_type=HandlerType.ARCHIVE,
        vendor="Google",
        references=[Reference(title="update_metadata.proto", url=_AOSP_URL)],
        limitations=["delta (incremental) payloads need the source build: their partitions are "
                     "reported, not extracted", "signatures are not verified"],
    )

    def calculate_chunk(self, file: File, start_offset: int) -> ValidChunk | None:
        file.seek(start_offset)
        parse_header(file.read(HEADER.size))
        file.seek(0, 2)
        size = file.tell()
        try:
            end = read_payload(file, start_offset, size).end   # type: ignore[arg-type]
        except PayloadError:
            end = size          # damaged or truncated: extraction says what is wrong
        end = min(max(end, start_offset + HEADER.size), size)
        return ValidChunk(start_offset=start_offset, end_offset=end)
