"""Every crash the fuzz harnesses found, as the smallest input that showed it: a hex literal,
or a seed built here with the real tool and edited the way the falsifying example was.
Each must now give the parser's documented error (or a result), quickly.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import tempfile
from pathlib import Path
from unittest import mock

import pytest
from unblob.file_utils import File, InvalidInputFormat

from firmproof.analyzers.android import Android
from firmproof.analyzers.keys import _checked_type
from firmproof.device import keymaterial, keystores
from firmproof.device.android.apk import analyse_apk, entry_span
from firmproof.device.parsers import pem, sshkey
from firmproof.fs.rootfs import RootFS
from firmproof.unpack.handlers import androidboot, payload, truncated
from firmproof.unpack.meta import cpio
from firmproof.unpack.meta import zip as zip_meta
from firmproof.unpack.meta.common import MetadataError
from firmproof.unpack.metadata import read_metadata
from firmproof.unpack.squashfs import SquashFSError, extract
from firmproof.unpack.squashfs import read_metadata as squashfs_metadata
from firmproof.unpack.squashfs.superblock import parse_superblock

from .harness import bounded

# the first 30 bytes of a SquashFS 4.0 superblock (mksquashfs, gzip): magic, inode count,
# mkfs time, block size, fragments, compressor, block log, flags, id count and half the version
SUPERBLOCK_30 = bytes.fromhex("687371731200000000f15365001000000100000001000c00c00001000400")


@pytest.mark.parametrize("size", [30, 31])
def test_superblock_cut_inside_the_version(size: int) -> None:
    """struct.error at superblock.py:88 (major/minor read at 28-31 past a 30-byte head)."""
    head = (SUPERBLOCK_30 + b"\0")[:size]
    with pytest.raises(SquashFSError, match="shorter than a SquashFS superblock"):
        parse_superblock(head)
    with tempfile.TemporaryDirectory() as tmp:
        image = Path(tmp) / "cut.sqfs"
        image.write_bytes(head)
        with pytest.raises(SquashFSError):
            extract(image, Path(tmp) / "out", max_bytes=1 << 20)
        with pytest.raises(SquashFSError):
            squashfs_metadata(image)


def _relabelled(image: bytes, version: int, *, vendor: bool = False) -> bytes:
    at = 8 if vendor else 40
    return image[:at] + struct.pack("<I", version) + image[at + 4:]


@pytest.mark.parametrize(("seed", "version", "size"), [
    ("mkbootimg-v1", 1, 1632), ("mkbootimg-v1", 1, 1647),
    ("mkbootimg-v2", 2, 1632), ("mkbootimg-v2", 2, 1648), ("mkbootimg-v2", 2, 1651),
    ("mkbootimg-v0", 2, 1640),
])
def test_boot_header_cut_before_its_version_fields(boot_seeds: dict[str, bytes], seed: str,
                                                   version: int, size: int) -> None:
    """struct.error at androidboot.py:98 (v1: recovery DTBO fields at 1632-1647) and :101 (v2:
    DTB size at 1648-1651): parse_boot checked only for 1632 bytes."""
    head = _relabelled(boot_seeds[seed], version)[:size]
    with pytest.raises(InvalidInputFormat, match="truncated"):
        androidboot.parse_boot(head)
    file = File.from_bytes(head)
    try:
        with pytest.raises(InvalidInputFormat):
            androidboot.AndroidBootHandler().calculate_chunk(file, 0)
    finally:
        file.close()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "boot.img"
        path.write_bytes(head)
        with pytest.raises(InvalidInputFormat):
            androidboot.AndroidBootExtractor().extract(path, Path(tmp) / "out")


@pytest.mark.parametrize("size", [2112, 2127])
def test_vendor_boot_v4_header_cut_in_its_v4_fields(boot_seeds: dict[str, bytes], size: int) -> None:
    """struct.error at androidboot.py:116 (vendor_boot v4 table fields at 2112-2127)."""
    head = boot_seeds["mkbootimg-vendor_boot-v4"][:size]
    with pytest.raises(InvalidInputFormat, match="truncated"):
        androidboot.parse_boot(head)


def test_whole_boot_seeds_still_parse(boot_seeds: dict[str, bytes]) -> None:
    for name, image in boot_seeds.items():
        layout = androidboot.parse_boot(image[:8192])
        names = {section for section, _offset, _size in layout.sections}
        assert names & {"kernel", "vendor_ramdisk"}, name


def test_cpio_negative_file_size_is_refused_not_looped(meta_seeds: dict[str, bytes]) -> None:
    """A hang in cpio.read: int(field, 16) takes a sign, so a newc header whose filesize is
    "-0000074" (minus the header and name of the first entry, rounded) sent the walk back to
    that same header for ever; the entries all had one name, so the MAX_ENTRIES bound never
    tripped. Built from the cpio-newc seed (cpio -H newc) with that one field edited."""
    archive = bytearray(meta_seeds["cpio-newc"])
    name_size = int(archive[94:102], 16)
    back = (cpio.NEWC_HEADER + name_size + 3) // 4 * 4
    archive[54:62] = b"-" + format(back, "07x").encode()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "loop.cpio"
        path.write_bytes(archive)
        with bounded() as expired:
            with pytest.raises(MetadataError, match="bad filesize field"):
                cpio.read(path)
            with pytest.raises(MetadataError, match="bad filesize field"):
                read_metadata("cpio_portable_ascii", path)
        assert not expired[0]


def test_payload_partition_name_not_utf8(payload_seeds: dict[str, bytes]) -> None:
    """TypeError at payload.py:339 (PARTITION_NAME.fullmatch on bytes): protobuf hands a proto2
    `string` field that is not UTF-8 over as bytes. Found as ('byte', 249, 0xde) on the
    full-ota seed: the first byte of the name "system" made 0xde."""
    image = bytearray(payload_seeds["full-ota"])
    at = image.find(b"\n\x06system") + 2
    image[at] = 0xDE
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "payload.bin"
        path.write_bytes(image)
        with path.open("rb") as handle:
            manifest = payload.read_payload(handle, 0, len(image)).manifest
        names = [part.partition_name for part in manifest.partitions]
        assert names == ["boot", b"\xdeystem"]
        with mock.patch.object(payload, "budget_left", return_value=16 << 20):
            result = payload.PayloadExtractor().extract(path, Path(tmp) / "out")
        problems = [str(getattr(report, "exception", report)) for report in result.reports]
        assert problems == ["partition b'\\xdeystem': invalid or repeated name, not extracted"]
        assert sorted(p.name for p in (Path(tmp) / "out").iterdir()) == ["boot.img"]


def test_boot_sections_declared_past_the_file_cost_no_memory(boot_seeds: dict[str, bytes]) -> None:
    """MemoryError at androidboot.py:133 under the extraction's address-space limit: the
    extractor read each section with handle.read(declared size), and a buffered read sets
    aside the size asked for. Found as ('overwrite', 8, b'NDROID!\\xbc') on the v3 seed: a
    kernel of 1.3 GB and a ramdisk of 3.2 GB declared in a 12 KiB file."""
    image = bytearray(boot_seeds["mkbootimg-v3"])
    image[8:16] = b"NDROID!\xbc"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "boot.img"
        path.write_bytes(image)
        with bounded(memory=True) as expired:
            androidboot.AndroidBootExtractor().extract(path, Path(tmp) / "out")
        assert not expired[0]
        kernel = (Path(tmp) / "out" / "kernel").read_bytes()
        assert kernel == bytes(image[4096:])        # what the file holds of it


def test_truncated_ext_declared_on_a_head_cut_before_blocks_hi() -> None:
    """struct.error at truncated.py:164: TruncatedExtFSHandler.declared accepted 0x500 bytes but
    reads s_blocks_count_hi at 0x400 + 0x150 when the 64bit feature (incompat 0x80) is set.
    Found on 1348 bytes of a uImage's data (('delete', 0, 216) on mkimage-filesystem)."""
    sb = bytearray(0x154 - 4)
    struct.pack_into("<I", sb, 0x4, 1000)           # blocks
    struct.pack_into("<I", sb, 0x20, 8192)          # blocks per group
    struct.pack_into("<I", sb, 0x28, 128)           # inodes per group
    struct.pack_into("<H", sb, 0x38, 0xEF53)
    struct.pack_into("<I", sb, 0x60, 0x80)          # INCOMPAT_64BIT
    head = bytes(0x400) + bytes(sb)
    with pytest.raises(InvalidInputFormat, match="shorter than an ext superblock"):
        truncated.TruncatedExtFSHandler.declared(head)
    full = head + bytes(4)
    assert truncated.TruncatedExtFSHandler.declared(full) == (1000 * 1024, "ext file system")


def test_pem_key_openssl_refuses(key_seeds: dict[str, bytes]) -> None:
    """cryptography InternalError out of keymaterial.py:257 (load_pem_block): the ed25519 PKCS#8
    from `openssl genpkey` with one bit flipped (('flip', 43, 0): its OID becomes X25519's)
    parses, then OpenSSL refuses to set the key up."""
    text = bytearray(key_seeds["openssl-ed25519.pem"])
    text[43] ^= 1
    block = pem.find_pem_blocks(bytes(text))[0]
    assert block.der is not None and bytes.fromhex("2b656f") in block.der
    assert keymaterial.load_pem_block(block) is None
    assert keymaterial.load_der(block.der) is None


def _der(tag: int, content: bytes) -> bytes:
    size = len(content)
    head = bytes([size]) if size < 0x80 else b"\x82" + size.to_bytes(2, "big")
    return bytes([tag]) + head + content


def _jks_holding(plain: bytes, password: str) -> bytes:
    """A JKS store of one private key entry sealed the way sun.security.provider.KeyProtector
    seals it (the inverse of keystores._jks_unprotect), without certificates."""
    salt, secret = bytes(20), password.encode("utf-16-be")
    stream, digest = b"", salt
    while len(stream) < len(plain):
        digest = hashlib.sha1(secret + digest).digest()
        stream += digest
    body = bytes(a ^ b for a, b in zip(plain, stream, strict=False))
    sealed = salt + body + hashlib.sha1(secret + plain).digest()
    protector = _der(0x30, bytes.fromhex("060a2b060104012a02110101") + b"\x05\x00")
    key = _der(0x30, protector + _der(0x04, sealed))
    store = (struct.pack(">IIII", 0xFEEDFEED, 2, 1, 1) + struct.pack(">H", 4) + b"fuzz"
            + struct.pack(">QI", 0, len(key)) + key + struct.pack(">I", 0))
    return store + hashlib.sha1(secret + b"Mighty Aphrodite" + store).digest()


def test_jks_key_openssl_refuses(key_seeds: dict[str, bytes]) -> None:
    """The same InternalError out of keystores._load_pkcs8: a JKS whose password is guessed and
    whose key is that refused X25519 key."""
    text = bytearray(key_seeds["openssl-ed25519.pem"])
    text[43] ^= 1
    plain = pem.find_pem_blocks(bytes(text))[0].der
    assert plain is not None
    store = keystores.open_store(_jks_holding(plain, "changeit"), ("changeit",), 5.0)
    assert store is not None and store.password == "changeit"
    assert [key.key for key in store.keys] == [None]


def test_openssh_key_with_a_compressed_point(key_seeds: dict[str, bytes]) -> None:
    """NotImplementedError("Need uncompressed point") out of keymaterial.py:270: an OpenSSH
    ecdsa key whose point does not start 0x04 (('flip', 82, 0) on the decoded ssh-keygen key)."""
    block = pem.find_pem_blocks(key_seeds["ssh-keygen-id_ecdsa"])[0]
    assert block.der is not None
    body = bytearray(block.der)
    assert body[82] == 0x04
    body[82] ^= 1
    assert keymaterial.load_pem_block(pem.PemBlock(block.label, 0, 0, {}, bytes(body))) is None


def test_authorized_key_with_a_compressed_point(key_seeds: dict[str, bytes]) -> None:
    """The same NotImplementedError out of analyzers/keys.py _checked_type (load_ssh_public_key),
    for an authorized_keys line whose ecdsa point starts 0x02."""
    key_type, encoded, *_ = key_seeds["ssh-keygen-id_ecdsa.pub"].split()
    blob = bytearray(base64.b64decode(encoded))
    assert blob[-65] == 0x04
    blob[-65] = 0x02
    line = f"{key_type.decode()} {base64.b64encode(bytes(blob)).decode()} x@y\n"
    (key,) = sshkey.parse_authorized_keys(line)
    assert _checked_type(key) is None


def _zip_version(archive: bytes, version: int) -> bytes:
    """`archive` with the "version needed to extract" of its first central directory entry set."""
    edited = bytearray(archive)
    at = edited.find(b"PK\x01\x02")
    edited[at + 6] = version
    return bytes(edited)


def test_zip_metadata_of_a_zip_version_zipfile_refuses(meta_seeds: dict[str, bytes]) -> None:
    """NotImplementedError("zip file version 8.4") out of meta/zip.py:55 (zipfile.ZipFile):
    ('flip', 23864, 6) on the zip seed, the central directory's "version needed" 20 -> 84."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chunk.zip"
        path.write_bytes(_zip_version(meta_seeds["zip"], 84))
        with pytest.raises(MetadataError, match=r"zip file version 8\.4"):
            zip_meta.read(path)
        with pytest.raises(MetadataError, match="zip: cannot read the archive"):
            read_metadata("zip", path)


def test_entry_span_of_an_apk_zipfile_refuses(app_seeds: dict[str, bytes]) -> None:
    """The same NotImplementedError out of android/apk.py entry_span, which the Android analyzer
    calls on APKs androguard did read: androguard does not check the zip version."""
    apk = _zip_version(app_seeds["aapt-apk"], 84)
    assert analyse_apk(apk, code=False).package == "com.example.fuzz"
    assert entry_span(apk, "AndroidManifest.xml") is None
    assert entry_span(app_seeds["aapt-apk"], "AndroidManifest.xml") is not None


def _nameless(archive: bytes) -> bytes:
    """`archive` with the name of its first central directory entry removed."""
    edited = bytearray(archive)
    at = edited.find(b"PK\x01\x02")
    (size,) = struct.unpack_from("<H", edited, at + 28)
    del edited[at + 46:at + 46 + size]
    struct.pack_into("<H", edited, at + 28, 0)
    end = edited.rfind(b"PK\x05\x06")
    struct.pack_into("<I", edited, end + 12, struct.unpack_from("<I", edited, end + 12)[0] - size)
    return bytes(edited)


def _otacerts_edits(archive: bytes) -> dict[str, bytes]:
    first = archive.find(b"PK\x01\x02")
    encrypted = bytearray(archive)
    encrypted[first + 8] |= 1                       # general purpose flag: encrypted
    method = bytearray(archive)
    method[first + 10] = method[8] = 99             # compression method 99 (AES), both headers
    shifted = bytearray(archive)
    shifted[28] ^= 1                                # ('flip', 28, 0): local extra field length 0 -> 1
    return {"encrypted": bytes(encrypted), "method": bytes(method), "shifted": bytes(shifted),
            "nameless": _nameless(archive), "version": _zip_version(archive, 84)}


@pytest.mark.parametrize("edit", ["encrypted", "method", "shifted", "nameless", "version"])
def test_otacerts_zip_zipfile_cannot_read(otacerts_seeds: dict[str, bytes], edit: str) -> None:
    """analyzers/android.py:393 (Android._ota_certificates, which reads otacerts.zip with
    zipfile) let out RuntimeError (an encrypted entry), NotImplementedError (compression
    method 99; zip version 8.4), zlib.error (deflate data read one byte off: the fuzzer's
    ('flip', 28, 0)) and IndexError (an entry without a name: ZipInfo.is_dir)."""
    archive = _otacerts_edits(otacerts_seeds["zip-otacerts"])[edit]
    fs = RootFS.from_files({"/system/etc/security/otacerts.zip": archive})
    assert list(Android()._ota_certificates(fs)) == []
