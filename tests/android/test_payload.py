"""A/B OTA packages: `payload.bin` inside the OTA zip, each partition a root the analyzers read.

The payloads are generated here the way AOSP's delta_generator writes a full payload: the
partition images (ext4 from mkfs.ext4 -d, boot.img from mkbootimg) cut into operations of a
fixed number of blocks, each compressed with the real compressor (xz, bzip2; raw REPLACE
when that is smaller; ZERO for blocks of zeros), the manifest serialized with the protobuf
classes of android-payload-dumper (the update_metadata.proto schema), metadata and payload
signed with an RSA key, and payload.bin stored in the zip as ota_from_target_files does.
"""

from __future__ import annotations

import bz2
import functools
import hashlib
import io
import json
import lzma
import os
import struct
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import zstandard
from conftest import firmproof, need_tools, scan_report
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from payload_dumper import update_metadata_pb2 as um

from firmproof.testing import fixtures
from firmproof.unpack.handlers.payload import (
    PayloadError,
    PayloadExtractor,
    manifest_class,
    read_payload,
)
from tests.rules.cases_android import DEBUG_PROPS, PRODUCTION_PROPS

from .conftest import real_elf

BLOCK_SIZE = 4096
OP_BLOCKS = 16            # delta_generator cuts full images in 2 MiB operations; smaller here
Op = um.InstallOperation
VENDOR_ZSTD = 14          # the number vendors' tools give their zstd REPLACE; AOSP defines none

Tamper = Callable[[Any], None]


@dataclass(frozen=True)
class Partition:
    name: str
    image: bytes
    codec: str = "xz"       # xz, bz2 or zstd (a vendor's REPLACE type the AOSP schema lacks)


def _compress(codec: str, data: bytes) -> tuple[int, bytes]:
    if codec == "xz":
        return Op.REPLACE_XZ, lzma.compress(data, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32)
    if codec == "bz2":
        return Op.REPLACE_BZ, bz2.compress(data)
    return VENDOR_ZSTD, zstandard.ZstdCompressor(level=3).compress(data)


@functools.cache
def _vendor_operation_class() -> Any:
    """InstallOperation of a vendor's update_metadata.proto that adds a zstd REPLACE type."""
    proto = descriptor_pb2.FileDescriptorProto()
    um.DESCRIPTOR.CopyToProto(proto)
    for message in proto.message_type:
        if message.name == "InstallOperation":
            message.enum_type[0].value.add(name="REPLACE_ZSTD", number=VENDOR_ZSTD)
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName(f"{proto.package}.InstallOperation"))


def _operations(part: Partition, blobs: bytearray) -> list[Any]:
    image = part.image + b"\0" * (-len(part.image) % BLOCK_SIZE)
    ops = []
    step = OP_BLOCKS * BLOCK_SIZE
    for start in range(0, len(image), step):
        chunk = image[start:start + step]
        op = Op(dst_extents=[um.Extent(start_block=start // BLOCK_SIZE,
                                       num_blocks=len(chunk) // BLOCK_SIZE)])
        if chunk.count(0) == len(chunk):
            op.type = Op.ZERO
        else:
            kind, data = _compress(part.codec, chunk)
            if len(data) >= len(chunk):
                kind, data = Op.REPLACE, chunk
            op.data_offset, op.data_length = len(blobs), len(data)
            op.data_sha256_hash = hashlib.sha256(data).digest()
            blobs += data
            if kind == VENDOR_ZSTD:
                op.type = Op.REPLACE
                vendor = _vendor_operation_class().FromString(op.SerializeToString())
                vendor.type = VENDOR_ZSTD
                op = Op.FromString(vendor.SerializeToString())   # type kept as an unknown field
            else:
                op.type = kind
        ops.append(op)
    return ops


def build_payload(parts: list[Partition], out: Path, key: rsa.RSAPrivateKey,
                  tamper: Tamper | None = None) -> Path:
    """payload.bin of a full OTA holding `parts`; `tamper(manifest)` edits the manifest first."""
    manifest = um.DeltaArchiveManifest(block_size=BLOCK_SIZE, minor_version=0)
    blobs = bytearray()
    for part in parts:
        image = part.image + b"\0" * (-len(part.image) % BLOCK_SIZE)
        update = manifest.partitions.add(partition_name=part.name)
        update.new_partition_info.size = len(image)
        update.new_partition_info.hash = hashlib.sha256(image).digest()
        update.operations.extend(_operations(part, blobs))
    if tamper is not None:
        tamper(manifest)

    def sign(data: bytes) -> bytes:
        signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        return um.Signatures(signatures=[um.Signatures.Signature(data=signature)]).SerializeToString()

    manifest.signatures_offset = len(blobs)
    manifest.signatures_size = len(sign(b""))
    # a vendor's operation type is an unknown field to this schema: its `type` looks unset
    body = manifest.SerializePartialToString()
    metadata_size = len(sign(b""))
    header = struct.pack(">4sQQI", b"CrAU", 2, len(body), metadata_size)
    metadata_signature = sign(header + body)
    payload_signature = sign(header + body + bytes(blobs))
    out.write_bytes(header + body + metadata_signature + bytes(blobs) + payload_signature)
    return out


def ota_zip(payload: Path, out: Path) -> Path:
    """An A/B OTA package: payload.bin stored (update_engine reads it in place), its properties."""
    data = payload.read_bytes()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("META-INF/com/android/metadata",
                         "ota-type=AB\npost-build=vendor/phone/phone:14/UP1A/1:userdebug/test-keys\n",
                         compress_type=zipfile.ZIP_DEFLATED)
        archive.writestr("payload_properties.txt",
                         f"FILE_HASH={hashlib.sha256(data).hexdigest()}\nFILE_SIZE={len(data)}\n")
        archive.write(payload, "payload.bin", compress_type=zipfile.ZIP_STORED)
    return out


@dataclass(frozen=True)
class Build:
    system: bytes
    vendor: bytes
    boot: bytes

    def partitions(self) -> list[Partition]:
        return [Partition("boot", self.boot), Partition("system", self.system),
                Partition("vendor", self.vendor, codec="bz2")]


def _build(work: Path, *, debug: bool) -> Build:
    need_tools("mke2fs", "mkbootimg", "cpio")
    system = work / "system-tree"
    (system / "system" / "etc" / "init").mkdir(parents=True)
    (system / "system" / "build.prop").write_text(DEBUG_PROPS if debug else PRODUCTION_PROPS)
    (system / "system" / "etc" / "init" / "logd.rc").write_text(
        "service logd /system/bin/logd\n    class core\n    user logd\n")
    os.symlink("/system/etc", system / "etc")
    vendor = work / "vendor-tree"
    (vendor / "etc").mkdir(parents=True)
    (vendor / "build.prop").write_text("ro.vendor.build.type=user\n")
    ramdisk = work / "ramdisk-tree"
    ramdisk.mkdir()
    (ramdisk / "init.rc").write_text("on early-init\n    start ueventd\n")
    cpio = fixtures.pack(ramdisk, "cpio-newc-gz", work / "ramdisk.cpio.gz")
    kernel = work / "kernel"
    kernel.write_bytes(real_elf()[:65536])
    boot = work / "boot.img"
    selinux = "permissive" if debug else "enforcing"
    subprocess.run(["mkbootimg", "--header_version", "2", "--kernel", str(kernel), "--ramdisk", str(cpio),
                    "--dtb", str(kernel), "--cmdline", f"console=ttyMSM0 androidboot.selinux={selinux}",
                    "-o", str(boot)], check=True, capture_output=True)
    return Build(fixtures.pack(system, "ext4", work / "system.img").read_bytes(),
                 fixtures.pack(vendor, "ext4", work / "vendor.img").read_bytes(), boot.read_bytes())


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def debug_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    return _build(tmp_path_factory.mktemp("debug"), debug=True)


@pytest.fixture(scope="module")
def production_build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    return _build(tmp_path_factory.mktemp("production"), debug=False)


def android(report: dict) -> dict[str, dict]:
    return {f["rule"]: f for f in report["findings"] if f["rule"].startswith("FP-ANDROID-")}


def payload_errors(report: dict) -> list[str]:
    return [e["error"] for e in report["unpack"]["errors"] if "android_payload" in e["path"]]


# --- the payload reader on its own ------------------------------------------------------------


def test_every_codec_round_trips_to_the_same_images(tmp_path: Path, debug_build: Build,
                                                    key: rsa.RSAPrivateKey) -> None:
    parts = [Partition("system", debug_build.system, "xz"), Partition("vendor", debug_build.vendor, "bz2"),
             Partition("boot", debug_build.boot, "zstd")]
    payload = build_payload(parts, tmp_path / "payload.bin", key)
    out = tmp_path / "out"
    result = PayloadExtractor().extract(payload, out)
    assert result.reports == []
    for part in parts:
        image = part.image + b"\0" * (-len(part.image) % BLOCK_SIZE)
        assert (out / f"{part.name}.img").read_bytes() == image, part.name
    with payload.open("rb") as handle:
        ops = [op for p in read_payload(handle, 0, payload.stat().st_size).manifest.partitions
               for op in p.operations]
    assert {Op.REPLACE_XZ, Op.REPLACE_BZ, Op.ZERO} <= {op.type for op in ops if op.HasField("type")}
    assert any(not op.HasField("type") for op in ops)        # the vendor's zstd operations


def test_offsets_beyond_4_gib_are_read_as_aosp_writes_them(tmp_path: Path, debug_build: Build,
                                                           key: rsa.RSAPrivateKey) -> None:
    """AOSP's schema has uint64 blob offsets; the package's class (uint32) wraps an offset of 4 GiB
    to 0 and would read the first blob in its place. Written here with the official-schema class."""
    far = 1 << 32
    payload = build_payload([Partition("system", debug_build.system)], tmp_path / "payload.bin", key)
    with payload.open("rb") as handle:
        good = read_payload(handle, 0, payload.stat().st_size).manifest
    official = manifest_class()()
    official.ParseFromString(good.SerializeToString())
    official.partitions[0].operations[0].data_offset = far
    wrapped = um.DeltaArchiveManifest.FromString(official.SerializeToString())
    assert wrapped.partitions[0].operations[0].data_offset == 0          # the package's schema
    raw = payload.read_bytes()
    header_end = 24 + len(good.SerializeToString())
    patched = tmp_path / "far.bin"
    body = official.SerializeToString()
    patched.write_bytes(struct.pack(">4sQQI", b"CrAU", 2, len(body), struct.unpack(">I", raw[20:24])[0])
                        + body + raw[header_end:])
    with patched.open("rb") as handle:
        read = read_payload(handle, 0, patched.stat().st_size)
    assert read.manifest.partitions[0].operations[0].data_offset == far
    result = PayloadExtractor().extract(patched, tmp_path / "out")
    assert [r.exception for r in result.reports] == [
        f"partition system: operation 0 reads data past the end of the payload (truncated at "
        f"{patched.stat().st_size} bytes); not extracted"]
    assert not (tmp_path / "out" / "system.img").exists()


def test_hostile_partition_names_write_nothing_outside(tmp_path: Path, debug_build: Build,
                                                       key: rsa.RSAPrivateKey) -> None:
    parts = [Partition(name, debug_build.vendor) for name in ("../escape", "vendor", "vendor")]
    payload = build_payload(parts, tmp_path / "payload.bin", key)
    out = tmp_path / "a" / "out"
    result = PayloadExtractor().extract(payload, out)
    assert [r.exception for r in result.reports] == [
        "partition '../escape': invalid or repeated name, not extracted",
        "partition 'vendor': invalid or repeated name, not extracted"]
    assert sorted(p.name for p in tmp_path.rglob("*.img")) == ["vendor.img"]


def test_unknown_operation_type_without_zstd_data_is_refused(tmp_path: Path, debug_build: Build,
                                                             key: rsa.RSAPrivateKey) -> None:
    payload = build_payload([Partition("boot", debug_build.boot, "zstd")], tmp_path / "payload.bin", key)
    data = bytearray(payload.read_bytes())
    read = read_payload(io.BytesIO(bytes(data)), 0, len(data))
    first = next(i for i, op in enumerate(read.manifest.partitions[0].operations) if op.data_length)
    data[read.data_start + read.manifest.partitions[0].operations[first].data_offset] ^= 0xFF
    payload.write_bytes(bytes(data))
    result = PayloadExtractor().extract(payload, tmp_path / "out")
    assert [r.exception for r in result.reports] == [
        f"partition boot: operation {first} has type {VENDOR_ZSTD}, which the AOSP schema does not "
        "define, and its data is no zstd frame; not extracted"]
    assert list((tmp_path / "out").iterdir()) == []


def test_not_a_payload_is_refused() -> None:
    from unblob.file_utils import InvalidInputFormat

    from firmproof.unpack.handlers.payload import parse_header

    with pytest.raises(InvalidInputFormat):
        parse_header(struct.pack(">4sQQI", b"CrAU", 1, 100, 0))     # Chrome OS major version 1
    with pytest.raises(InvalidInputFormat):
        parse_header(struct.pack(">4sQQI", b"CrAU", 2, 1 << 40, 0))  # a terabyte manifest


def test_garbage_manifest_is_a_payload_error(tmp_path: Path) -> None:
    path = tmp_path / "payload.bin"
    path.write_bytes(struct.pack(">4sQQI", b"CrAU", 2, 64, 0) + b"\xff" * 64)
    with path.open("rb") as handle, pytest.raises(PayloadError, match="manifest cannot be decoded"):
        read_payload(handle, 0, path.stat().st_size)


# --- end to end: the OTA zip scanned by the CLI -----------------------------------------------


def test_debug_ota_gives_findings_inside_the_system_partition(tmp_path: Path, debug_build: Build,
                                                              key: rsa.RSAPrivateKey) -> None:
    ota = ota_zip(build_payload(debug_build.partitions(), tmp_path / "payload.bin", key),
                  tmp_path / "ota.zip")
    report = scan_report(ota, tmp_path)
    found = android(report)
    debuggable = found["FP-ANDROID-001"]
    assert debuggable["path"] == "/system/build.prop"
    assert debuggable["evidence"]["excerpt"] == "ro.debuggable=1"
    assert debuggable["container"] == ["ota.zip", "zip@0x0", "/payload.bin", "android_payload@0x0",
                                       "/system.img", "extfs@0x0"]
    assert found["FP-ANDROID-002"]["evidence"]["excerpt"] == "ro.secure=0"
    selinux = found["FP-ANDROID-007"]        # the boot partition is a root too
    assert selinux["path"] == "/cmdline"
    assert selinux["container"][2:5] == ["/payload.bin", "android_payload@0x0", "/boot.img"]
    assert report["unpack"]["errors"] == [] and report["errors"] == []
    formats = {c["format"] for c in report["unpack"]["containers"]}
    assert {"android_payload", "extfs", "android_boot"} <= formats
    verify = firmproof("verify", tmp_path / "report.json", ota)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_production_ota_gives_none(tmp_path: Path, production_build: Build,
                                   key: rsa.RSAPrivateKey) -> None:
    ota = ota_zip(build_payload(production_build.partitions(), tmp_path / "payload.bin", key),
                  tmp_path / "ota.zip")
    report = scan_report(ota, tmp_path)
    assert android(report) == {}
    assert report["unpack"]["errors"] == [] and report["errors"] == []
    assert any(c["format"] == "android_payload" for c in report["unpack"]["containers"])


def _beyond_partition(manifest: Any) -> None:
    vendor = manifest.partitions[2]
    vendor.operations[1].dst_extents[0].start_block = vendor.new_partition_info.size // BLOCK_SIZE


def _delta(manifest: Any) -> None:
    op = manifest.partitions[2].operations[0]
    op.type = Op.SOURCE_COPY
    op.src_extents.add(start_block=0, num_blocks=op.dst_extents[0].num_blocks)


def _huge(manifest: Any) -> None:
    huge = manifest.partitions.add(partition_name="userdata")
    huge.new_partition_info.size = 1 << 40
    blocks = (1 << 40) // BLOCK_SIZE
    huge.operations.add(type=Op.ZERO, dst_extents=[um.Extent(start_block=0, num_blocks=blocks)])


def _overlapping(manifest: Any) -> None:
    """A thousand operations decoding the same blob onto the same blocks: work without bound."""
    vendor = manifest.partitions[2]
    writing = next(op for op in vendor.operations if op.type != Op.ZERO)
    vendor.operations.extend([writing] * 1000)


@pytest.mark.parametrize(("tamper", "message"), [
    (_beyond_partition, "partition vendor: operation 1 writes blocks"),
    (_delta, "partition vendor: operation 0 is SOURCE_COPY, a delta operation that needs the source build"),
    (_huge, "partition userdata: declares 1099511627776 bytes, more than the"),
    (_overlapping, "partition vendor: operations write"),
])
def test_hostile_manifest_is_reported_and_the_rest_extracted(tmp_path: Path, debug_build: Build,
                                                             key: rsa.RSAPrivateKey, tamper: Tamper,
                                                             message: str) -> None:
    ota = ota_zip(build_payload(debug_build.partitions(), tmp_path / "payload.bin", key, tamper),
                  tmp_path / "ota.zip")
    report = scan_report(ota, tmp_path, incomplete=True)
    errors = payload_errors(report)
    assert len(errors) == 1 and message in errors[0], errors
    assert errors[0].endswith("; not extracted")
    assert "FP-ANDROID-001" in android(report)          # the system partition is still read
    assert report["stats"]["unpack_seconds"] < 60


def test_damaged_payloads_are_reported_not_crashed(tmp_path: Path, debug_build: Build,
                                                   key: rsa.RSAPrivateKey) -> None:
    """Truncated downloads (in the blobs, in the manifest), a flipped byte in a blob and a garbage
    manifest, in one zip: each is an error naming the payload and what is wrong."""
    good = build_payload(debug_build.partitions(), tmp_path / "payload.bin", key).read_bytes()
    payload = read_payload(io.BytesIO(good), 0, len(good))
    blob = payload.data_start + payload.manifest.partitions[1].operations[0].data_offset
    index, last = max(((i, op) for i, op in enumerate(payload.manifest.partitions[2].operations)
                       if op.data_length), key=lambda item: item[1].data_offset)
    cut = payload.data_start + last.data_offset + last.data_length // 2     # inside vendor's last blob
    flipped = bytearray(good)
    flipped[blob + 40] ^= 0xFF
    garbage = bytearray(good)
    garbage[24:24 + 64] = b"\xff" * 64
    tree = tmp_path / "ota"
    tree.mkdir()
    (tree / "truncated.bin").write_bytes(good[:cut])
    (tree / "flipped.bin").write_bytes(bytes(flipped))
    (tree / "garbage.bin").write_bytes(bytes(garbage))
    (tree / "cut.bin").write_bytes(good[:2000])          # inside the manifest
    ota = fixtures.pack(tree, "zip", tmp_path / "ota.zip")
    proc = firmproof("scan", ota, "-o", tmp_path / "r.json", "-q")
    assert proc.returncode == 3 and "Traceback" not in proc.stderr, proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    by_file = {}
    for error in report["unpack"]["errors"]:
        by_file.setdefault(error["path"].split("/")[1], []).append(error["error"])
    assert by_file["truncated.bin"] == [
        f"PayloadProblem: partition vendor: operation {index} reads data past the end of the payload "
        f"(truncated at {cut} bytes); not extracted"], by_file
    truncated = [f for f in report["findings"] if "/truncated.bin" in f["container"]]
    assert "FP-ANDROID-001" in {f["rule"] for f in truncated}     # boot and system came before the cut
    assert any(e.startswith("PayloadProblem: partition system: operation 0")
               for e in by_file["flipped.bin"]), by_file
    assert [e.split(":")[:2] for e in by_file["garbage.bin"]] == [
        ["PayloadError", " payload manifest cannot be decoded"]], by_file
    assert by_file["cut.bin"][0].startswith("PayloadError: payload truncated: the manifest of"), by_file

