"""Seeds of the fuzz harnesses: small real inputs built at test time with the real tools
(mksquashfs, mkimage, mkbootimg, img2simg, lpmake, cpio, mkfs.*, mke2fs, openssl, ssh-keygen,
dropbearconvert, puttygen, keytool, aapt, smali), and pieces of the shared real corpus when it
is present (../shared/corpus/real: skipped silently where absent).

Every builder takes a work folder and returns {name: bytes}; the fixtures of conftest.py call
each once per session. A tool that is missing fails the harnesses that need it the way
tests/conftest.py's need_tools does: `make setup` installs them all.

So that the derandomized profile fuzzes the same bytes every run, the seeds are pinned: time
stamps (the tree's times, SOURCE_DATE_EPOCH, E2FSPROGS_FAKE_TIME), the keys (made from a fixed
random sequence, then written in every format by the tools), the certificate's dates. Left
to chance: salts and IVs the tools draw for encrypted keys and key stores, OpenSSH's check
integers, JKS entry dates, file ctimes in ext images and the UBIFS UUID.
"""

from __future__ import annotations

import hashlib
import io
import lzma
import os
import random
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

from firmproof.host.tools import aosp_dir, missing_message, which
from firmproof.testing import fixtures

CORPUS = Path(__file__).resolve().parents[3] / "shared" / "corpus" / "real"
BLOCK = 4096
EPOCH = 1_700_000_000             # every time stamp of the seeds, for the same seeds every session
PASSWORD = "changeit"           # in the guesses the key harnesses try: mutants still open
SQUASHFS_COMPRESSORS = ("gzip", "xz", "lzo", "lz4", "zstd", "lzma")
PSEUDO = ("etc/shadow m 600 0 0", "bin/su m 4755 0 0", "dev/console c 600 0 5 5 1",
          "dev/fifo i 644 0 0 f")
FRAMEWORK_RES = Path("/usr/share/android-framework-res/framework-res.apk")
SMALI_JAR = Path("/usr/share/java/smali.jar")


class MissingTool(RuntimeError):
    """A tool `make setup` installs is missing: the harness fails naming its package."""


def tool(name: str) -> str:
    found = which(name)
    if found is None:
        raise MissingTool(missing_message([name]))
    return found


def run(cmd: list[str], *, cwd: Path | None = None, stdin: bytes | None = None) -> bytes:
    """Run a tool with time stamps pinned (SOURCE_DATE_EPOCH, E2FSPROGS_FAKE_TIME; mksquashfs
    takes its own options instead, and refuses both)."""
    env = {**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH), "E2FSPROGS_FAKE_TIME": str(EPOCH)}
    if cmd[0] == "mksquashfs":
        del env["SOURCE_DATE_EPOCH"]
    proc = subprocess.run([tool(cmd[0]), *cmd[1:]], cwd=cwd, input=stdin, capture_output=True,
                          timeout=300, check=False, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: exit {proc.returncode}: "
                           f"{proc.stderr.decode('utf-8', 'replace')[-400:]}")
    return proc.stdout


# -- the shared corpus -------------------------------------------------------------------------


def corpus_files(*patterns: str) -> list[Path]:
    """Corpus files matching the patterns, none when the corpus is absent."""
    if not CORPUS.is_dir():
        return []
    return sorted({p for pattern in patterns for p in CORPUS.glob(pattern) if p.is_file()})


def corpus_around(magics: tuple[bytes, ...], before: int = 0, after: int = 4096,
                  limit: int = 8) -> dict[str, bytes]:
    """Windows of the corpus images around each occurrence of the magics (at most `limit` per
    file): header seeds from real firmware."""
    out: dict[str, bytes] = {}
    for path in corpus_files("*.img", "*.bin", "*.squashfs"):
        data = path.read_bytes()
        for magic in magics:
            at, found = data.find(magic), 0
            while at >= 0 and found < limit:
                start = max(0, at - before)
                out[f"{path.name}@{at:x}"] = data[start:at + after]
                found += 1
                at = data.find(magic, at + 1)
    return out


# -- a tiny tree -----------------------------------------------------------------------------


def tiny_tree(root: Path) -> Path:
    """A root file system in a few KiB: files of one and several blocks, a hole, an empty
    file, a symlink, a hard link, nested folders."""
    rng = random.Random(1)
    files = {
        "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n",
        "etc/shadow": b"root:$1$abc$0123456789abcdefghijkl:19000:0:99999:7:::\n",
        "etc/init.d/rcS": b"#!/bin/sh\n/usr/sbin/telnetd -l /bin/sh\n",
        "bin/su": b"\x7fELF" + rng.randbytes(700),
        "bin/busybox": b"\x7fELF" + rng.randbytes(2 * BLOCK + 300),
        "data/sparse": rng.randbytes(BLOCK) + bytes(BLOCK) + b"tail",
        "data/empty": b"",
        "home/user/notes": b"hello\n" * 30,
    }
    for name, data in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    (root / "tmp").mkdir()
    os.symlink("busybox", root / "bin" / "sh")
    os.symlink("/etc/init.d/rcS", root / "etc" / "rc.local")
    os.link(root / "bin" / "busybox", root / "bin" / "busybox-hardlink")
    return pinned(root)


def pinned(root: Path) -> Path:
    """`root` with every entry's times set to EPOCH (folders last: writing in one changes it)."""
    for path in sorted(root.rglob("*"), key=lambda p: len(p.parts), reverse=True):
        os.utime(path, (EPOCH, EPOCH), follow_symlinks=False)
    os.utime(root, (EPOCH, EPOCH))
    return root


def _fresh(work: Path, name: str) -> Path:
    path = work / name
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    return path


# -- SquashFS ----------------------------------------------------------------------------------


def squashfs(work: Path) -> dict[str, bytes]:
    """The tiny tree packed by mksquashfs with each compressor, 4 KiB blocks, device nodes
    and modes from pseudo definitions."""
    tree = tiny_tree(_fresh(work, "sqfs-tree"))
    out: dict[str, bytes] = {}
    for comp in SQUASHFS_COMPRESSORS:
        image = work / f"tiny-{comp}.sqfs"
        cmd = ["mksquashfs", str(tree), str(image), "-noappend", "-comp", comp, "-b", str(BLOCK),
               "-all-time", "1700000000", "-mkfs-time", "1700000000", "-no-progress", "-quiet"]
        for line in PSEUDO:
            cmd += ["-p", line]
        run(cmd)
        out[f"mksquashfs-{comp}"] = image.read_bytes()
    # no fragments and no tail-packing: file data only in blocks
    image = work / "tiny-nofrag.sqfs"
    run(["mksquashfs", str(tree), str(image), "-noappend", "-no-fragments", "-b", str(BLOCK),
         "-all-time", "1700000000", "-mkfs-time", "1700000000", "-no-progress", "-quiet"])
    out["mksquashfs-nofrag"] = image.read_bytes()
    # nothing compressed: edits of the inode and directory tables reach their parsers
    image = work / "tiny-uncompressed.sqfs"
    run(["mksquashfs", str(tree), str(image), "-noappend", "-noI", "-noId", "-noD", "-noF", "-noX",
         "-b", str(BLOCK), "-all-time", "1700000000", "-mkfs-time", "1700000000", "-no-progress", "-quiet"])
    out["mksquashfs-uncompressed"] = image.read_bytes()
    return out


def corpus_squashfs(max_bytes: int | None = None) -> dict[str, bytes]:
    """Each SquashFS of the corpus (any version, byte order and vendor magic), cut out of its
    image; with `max_bytes`, only those that small."""
    from firmproof.unpack.squashfs.errors import SquashFSError
    from firmproof.unpack.squashfs.superblock import MAGICS, parse_superblock

    out: dict[str, bytes] = {}
    for path in corpus_files("*.img", "*.bin", "*.squashfs"):
        data = path.read_bytes()
        for magic in MAGICS:
            at = data.find(magic)
            while at >= 0:
                try:
                    sb = parse_superblock(data[at:at + 4096])
                except SquashFSError:
                    pass
                else:
                    if sb.bytes_used <= len(data) - at and (max_bytes is None or sb.bytes_used <= max_bytes):
                        out[f"{path.name}@{at:x}"] = data[at:at + sb.bytes_used]
                at = data.find(magic, at + 1)
    return out


# -- vendor headers --------------------------------------------------------------------------


def uimages(work: Path) -> dict[str, bytes]:
    """uImages by mkimage: a file system, a kernel and a multi-file image."""
    out: dict[str, bytes] = {}
    rng = random.Random(2)
    kernel = work / "uimage-kernel"
    kernel.write_bytes(rng.randbytes(1500))
    ramdisk = work / "uimage-ramdisk"
    ramdisk.write_bytes(rng.randbytes(333))
    for kind in ("kernel", "filesystem", "firmware"):
        image = fixtures.uimage(kernel, work / f"uimage-{kind}.bin", image_type=kind, name=f"fuzz {kind}")
        out[f"mkimage-{kind}"] = image.read_bytes()
    multi = work / "uimage-multi.bin"
    run(["mkimage", "-A", "arm", "-O", "linux", "-T", "multi", "-C", "none", "-a", "0", "-e", "0",
         "-n", "multi", "-d", f"{kernel}:{ramdisk}:{kernel}", str(multi)])
    out["mkimage-multi"] = multi.read_bytes()
    for name, data in corpus_around((b"\x27\x05\x19\x56",), after=64 + 4096).items():
        out[f"corpus-{name}"] = data
    return out


def boot_images(work: Path) -> dict[str, bytes]:
    """Android boot images by mkbootimg: header versions 0-3 and vendor_boot 3 (Debian's
    mkbootimg writes no version 4: the v3 images relabelled 4 stand for them, their layouts
    agree but for fields v3 leaves zero)."""
    out: dict[str, bytes] = {}
    rng = random.Random(3)
    kernel, ramdisk, dtb = work / "boot-kernel", work / "boot-ramdisk", work / "boot-dtb"
    kernel.write_bytes(b"\x7fELF" + rng.randbytes(3000))
    ramdisk.write_bytes(lzma.compress(b"init.rc\n" * 100))
    dtb.write_bytes(b"\xd0\x0d\xfe\xed" + rng.randbytes(200))
    cmdline = "console=ttyMSM0 androidboot.selinux=permissive"
    for version in ("0", "1", "2", "3"):
        image = work / f"boot-v{version}.img"
        cmd = ["mkbootimg", "--header_version", version, "--kernel", str(kernel), "--ramdisk", str(ramdisk),
               "--cmdline", cmdline, "-o", str(image)]
        if version in ("0", "1", "2"):
            cmd += ["--second", str(dtb), "--pagesize", "2048"]
        if version == "2":       # (Debian's mkbootimg cannot write a recovery DTBO: mutants do)
            cmd += ["--dtb", str(dtb)]
        run(cmd)
        out[f"mkbootimg-v{version}"] = image.read_bytes()
    image = work / "vendor_boot-v3.img"
    run(["mkbootimg", "--header_version", "3", "--vendor_boot", str(image), "--vendor_ramdisk", str(ramdisk),
         "--vendor_cmdline", cmdline, "--dtb", str(dtb)])
    out["mkbootimg-vendor_boot-v3"] = image.read_bytes()
    for name in ("mkbootimg-v3", "mkbootimg-vendor_boot-v3"):
        at = 8 if "vendor" in name else 40
        out[name[:-1] + "4"] = out[name][:at] + struct.pack("<I", 4) + out[name][at + 4:]
    return out


def sparse_images(work: Path) -> dict[str, bytes]:
    """Android sparse images by img2simg: an ext4 image (raw, fill and don't-care chunks)."""
    tree = tiny_tree(_fresh(work, "sparse-tree"))
    raw = fixtures.pack(tree, "ext4", work / "sparse-src.img")
    out: dict[str, bytes] = {}
    sparse = work / "system.simg"
    run(["img2simg", str(raw), str(sparse)])
    out["img2simg-ext4"] = sparse.read_bytes()
    small = work / "small.raw"
    small.write_bytes(bytes(BLOCK) + b"\x11" * BLOCK + random.Random(4).randbytes(BLOCK) + bytes(2 * BLOCK))
    run(["img2simg", str(small), str(work / "small.simg")])
    out["img2simg-small"] = (work / "small.simg").read_bytes()
    return out


def super_images(work: Path) -> dict[str, bytes]:
    """Dynamic-partition images by AOSP's lpmake: an A/B super.img with two partitions and
    a super_empty.img (layout without data)."""
    lpmake = aosp_dir() / "lpmake"
    if not os.access(lpmake, os.X_OK):
        raise MissingTool("missing AOSP tool lpmake: `make setup` builds it (tools/build-lptools.sh)")
    rng = random.Random(5)
    system, vendor = work / "lp-system.img", work / "lp-vendor.img"
    system.write_bytes(rng.randbytes(3 * BLOCK))
    vendor.write_bytes(rng.randbytes(BLOCK))
    device = 64 * BLOCK
    out: dict[str, bytes] = {}
    image = work / "super.img"
    subprocess.run([str(lpmake), f"--device-size={device}", "--metadata-size=4096", "--metadata-slots=2",
                    f"--alignment={BLOCK}", f"--group=main:{device // 2}", f"--output={image}",
                    "--partition=system_a:readonly:12288:main", f"--image=system_a={system}",
                    "--partition=system_b:readonly:0:main",
                    "--partition=vendor_a:readonly:4096:main", f"--image=vendor_a={vendor}",
                    "--partition=vendor_b:readonly:0:main"], check=True, capture_output=True)
    out["lpmake-super"] = image.read_bytes()
    empty = work / "super_empty.img"
    subprocess.run([str(lpmake), f"--device-size={device}", "--metadata-size=4096", "--metadata-slots=2",
                    f"--alignment={BLOCK}", f"--group=main:{device // 2}", f"--output={empty}",
                    "--partition=system_a:readonly:12288:main", "--partition=system_b:readonly:0:main"],
                   check=True, capture_output=True)
    out["lpmake-super_empty"] = empty.read_bytes()
    return out


def payloads() -> dict[str, bytes]:
    """Full A/B OTA payloads as update_engine's delta_generator writes them (no Debian tool
    makes one): a manifest serialized with android-payload-dumper's protobuf classes, REPLACE,
    REPLACE_XZ, REPLACE_BZ and ZERO operations with their hashes."""
    import bz2

    from payload_dumper import update_metadata_pb2 as um

    rng = random.Random(6)
    image = rng.randbytes(2 * BLOCK) + bytes(BLOCK) + b"\x42" * BLOCK + rng.randbytes(100)
    image += bytes(-len(image) % BLOCK)
    op_class = um.InstallOperation
    manifest = um.DeltaArchiveManifest(block_size=BLOCK, minor_version=0)
    blobs = bytearray()
    for name, kinds in (("boot", ("xz", "raw", "zero", "bz2")), ("system", ("bz2", "xz", "zero", "raw"))):
        update = manifest.partitions.add(partition_name=name)
        update.new_partition_info.size = len(image)
        update.new_partition_info.hash = hashlib.sha256(image).digest()
        for index, kind in enumerate(kinds):
            chunk = image[index * BLOCK:(index + 1) * BLOCK] if index < 3 else image[3 * BLOCK:]
            op = op_class(dst_extents=[um.Extent(start_block=index, num_blocks=len(chunk) // BLOCK)])
            if kind == "zero":
                op.type = op_class.ZERO
                update.operations.append(op)
                continue
            data = {"xz": lambda c: lzma.compress(c, format=lzma.FORMAT_XZ, check=lzma.CHECK_CRC32),
                    "bz2": bz2.compress, "raw": bytes}[kind](chunk)
            op.type = {"xz": op_class.REPLACE_XZ, "bz2": op_class.REPLACE_BZ, "raw": op_class.REPLACE}[kind]
            op.data_offset, op.data_length = len(blobs), len(data)
            op.data_sha256_hash = hashlib.sha256(data).digest()
            blobs += data
            update.operations.append(op)
    signature = um.Signatures(signatures=[um.Signatures.Signature(data=bytes(256))]).SerializeToString()
    manifest.signatures_offset, manifest.signatures_size = len(blobs), len(signature)
    body = manifest.SerializeToString()
    header = struct.pack(">4sQQI", b"CrAU", 2, len(body), len(signature))
    return {"full-ota": header + body + signature + bytes(blobs) + signature}


def truncated_heads(squashfs_seeds: dict[str, bytes], uimage_seeds: dict[str, bytes],
                    meta_seeds: dict[str, bytes]) -> dict[str, bytes]:
    """The first 4 KiB of real containers of the formats the truncated handlers claim."""
    out = {name: data[:4096] for name, data in {**squashfs_seeds, **uimage_seeds}.items()}
    for name in ("cramfs", "cramfs-be", "ext2", "ext4"):
        out[name] = meta_seeds[name][:4096]
    return out


# -- metadata readers (cpio and the file systems unblob extracts) ------------------------------


META_FORMATS = ("cpio-newc", "cpio-crc", "cpio-odc", "cpio-bin", "cramfs", "cramfs-be", "jffs2",
                "jffs2-be", "tar", "zip")


def meta_images(work: Path) -> dict[str, bytes]:
    """The tiny tree packed by firmproof.testing.fixtures.pack (the real mkfs tools, cpio, tar) in
    every format a metadata reader reads; ext and UBIFS made small by hand (fixtures.pack
    makes them megabytes: too large to copy for every example)."""
    tree = tiny_tree(_fresh(work, "meta-tree"))
    out = {fmt: fixtures.pack(tree, fmt, work / f"meta.{fmt}").read_bytes() for fmt in META_FORMATS}
    for fmt, extra in (("ext2", []), ("ext4", ["-O", "^has_journal"])):
        image = work / f"meta.{fmt}"
        image.unlink(missing_ok=True)
        run(["mke2fs", "-q", "-F", "-t", fmt, "-b", "1024", "-N", "32", "-m", "0", *extra,
             "-U", fixtures.EXT_UUID, "-E", f"hash_seed={fixtures.EXT_UUID},root_owner=0:0",
             "-d", str(tree), str(image), "128"])
        out[fmt] = image.read_bytes()
    image = work / "meta.ubifs"
    image.unlink(missing_ok=True)
    run(["mkfs.ubifs", "-r", str(tree), "-m", "8", "-e", "15360", "-c", "64", "-o", str(image)])
    out["ubifs"] = image.read_bytes()
    return out


def corpus_meta() -> dict[str, bytes]:
    """The corpus' cramfs images (up to 1 MiB) and the ramdisk cpio."""
    out: dict[str, bytes] = {}
    for path in corpus_files("*.cramfs.img"):
        data = path.read_bytes()
        at = data.find(b"\x45\x3d\xcd\x28")
        if at >= 0 and len(data) - at <= 1 << 20:
            out[f"cramfs:{path.name}"] = data[at:]
    for path in corpus_files("*ramdisk.img"):
        import gzip

        try:
            out[f"cpio-newc:{path.name}"] = gzip.decompress(path.read_bytes())[:256 * 1024]
        except (OSError, EOFError):
            pass
    return out


# -- keys and key stores ---------------------------------------------------------------------


def _is_prime(n: int, rng: random.Random) -> bool:
    if n < 2:
        return False
    for p in (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37):
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for _ in range(24):
        x = pow(rng.randrange(2, n - 1), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(rng: random.Random, bits: int) -> int:
    while True:
        n = rng.getrandbits(bits) | (3 << (bits - 2)) | 1      # two top bits: p * q has 2 * bits
        if _is_prime(n, rng):
            return n


def fixed_private_keys() -> dict[str, bytes]:
    """RSA 1024, DSA 1024, P-256 and Ed25519 private keys (PKCS#8 PEM) made from a fixed
    random sequence, so that every session fuzzes the same seeds: the tools only generate
    random keys. The tools then write every format from these."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed25519, rsa

    rng = random.Random("firmproof-fuzz-keys")
    while True:
        p, q = _prime(rng, 512), _prime(rng, 512)
        if p != q and (p - 1) % 65537 and (q - 1) % 65537:
            break
    d = pow(65537, -1, (p - 1) * (q - 1))
    rsa_key = rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p),
                                    rsa.RSAPublicNumbers(65537, p * q)).private_key()
    dq = _prime(rng, 160)
    while True:
        dp = rng.getrandbits(1024 - 160) * dq + 1
        if dp.bit_length() == 1024 and _is_prime(dp, rng):
            break
    g = pow(2, (dp - 1) // dq, dp)
    x = rng.randrange(1, dq)
    dsa_key = dsa.DSAPrivateNumbers(x, dsa.DSAPublicNumbers(
        pow(g, x, dp), dsa.DSAParameterNumbers(dp, dq, g))).private_key()
    ec_key = ec.derive_private_key(rng.randrange(1, 2**255), ec.SECP256R1())
    ed_key = ed25519.Ed25519PrivateKey.from_private_bytes(rng.randbytes(32))
    return {name: key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
            for name, key in (("rsa", rsa_key), ("dsa", dsa_key), ("ec", ec_key), ("ed25519", ed_key))}


def _dated_certificate(key_pem: Path) -> bytes:
    """A self-signed certificate for CN=fuzz valid ten years from EPOCH (PEM)."""
    import datetime

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID

    key: Any = serialization.load_pem_private_key(key_pem.read_bytes(), None)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fuzz")])
    start = datetime.datetime.fromtimestamp(EPOCH, datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(start).not_valid_after(start + datetime.timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def keys(work: Path) -> dict[str, bytes]:
    """Private keys as the real tools write them: openssl (PKCS#1, PKCS#8, SEC1, encrypted
    PKCS#8 and traditional, DER, a self-signed certificate), ssh-keygen (OpenSSH, plain and
    encrypted, and the public lines), dropbearconvert (Dropbear's own files), puttygen (.ppk 2
    and 3, plain and encrypted). The keys are fixed_private_keys(); what still changes from
    session to session is what the tools draw at random: salts and IVs of encrypted keys, the
    OpenSSH check integers, PuTTY's salt."""
    from cryptography.hazmat.primitives import serialization

    out: dict[str, bytes] = {}
    d = _fresh(work, "keys")
    for name, pem_bytes in fixed_private_keys().items():
        (d / f"{name}-in.pem").write_bytes(pem_bytes)

    def openssl(*args: str) -> None:
        run(["openssl", *args], cwd=d)

    for name in ("rsa", "dsa", "ec", "ed25519"):
        openssl("pkey", "-in", f"{name}-in.pem", "-out", f"{name}.pem")
    openssl("pkey", "-in", "rsa.pem", "-traditional", "-out", "rsa-pkcs1.pem")
    openssl("pkey", "-in", "ec.pem", "-traditional", "-out", "ec-sec1.pem")
    openssl("pkey", "-in", "rsa.pem", "-outform", "DER", "-out", "rsa-pkcs8.der")
    openssl("pkey", "-in", "ec.pem", "-traditional", "-outform", "DER", "-out", "ec-sec1.der")
    openssl("pkcs8", "-topk8", "-in", "ec.pem", "-passout", f"pass:{PASSWORD}", "-iter", "16",
            "-out", "ec-enc.pem")
    openssl("pkcs8", "-topk8", "-in", "rsa.pem", "-passout", f"pass:{PASSWORD}", "-iter", "16",
            "-outform", "DER", "-out", "rsa-enc.der")
    openssl("pkey", "-in", "rsa.pem", "-traditional", "-aes128", "-passout", f"pass:{PASSWORD}",
            "-out", "rsa-trad-enc.pem")
    # openssl 3.0 dates a new certificate now: it signs one dated EPOCH again, keeping its dates
    (d / "dated.pem").write_bytes(_dated_certificate(d / "rsa.pem"))
    openssl("x509", "-in", "dated.pem", "-signkey", "rsa.pem", "-preserve_dates", "-set_serial", "1",
            "-out", "cert.pem")
    for name in ("rsa.pem", "ec.pem", "ed25519.pem", "dsa.pem", "rsa-pkcs1.pem", "ec-sec1.pem",
                 "rsa-pkcs8.der", "ec-sec1.der", "ec-enc.pem", "rsa-enc.der", "rsa-trad-enc.pem",
                 "cert.pem"):
        out[f"openssl-{name}"] = (d / name).read_bytes()
    for kind, source in (("ed25519", "ed25519"), ("ecdsa", "ec"), ("rsa", "rsa")):
        for encrypted in (False, True):
            name = f"id_{kind}{'_enc' if encrypted else ''}"
            key = d / name
            private = serialization.load_pem_private_key((d / f"{source}-in.pem").read_bytes(), None)
            key.write_bytes(private.private_bytes(serialization.Encoding.PEM,
                                                  serialization.PrivateFormat.OpenSSH,
                                                  serialization.NoEncryption()))
            key.chmod(0o600)
            # -p rewrites the key in OpenSSH's own format, with the new passphrase
            run(["ssh-keygen", "-q", "-p", "-f", str(key), "-P", "", "-N", PASSWORD if encrypted else "",
                 "-a", "1"])
            run(["ssh-keygen", "-q", "-c", "-f", str(key), "-P", PASSWORD if encrypted else "",
                 "-C", f"fuzz@{kind}"])
            public = run(["ssh-keygen", "-y", "-f", str(key), "-P", PASSWORD if encrypted else ""])
            out[f"ssh-keygen-{name}"] = key.read_bytes()
            out[f"ssh-keygen-{name}.pub"] = public.strip() + f" fuzz@{kind}\n".encode()
    for kind, source in (("rsa", "rsa-pkcs1.pem"), ("ecdsa", "ec-sec1.pem"), ("ed25519", "id_ed25519"),
                         ("dss", "dsa.pem")):
        path = d / f"dropbear_{kind}_host_key"
        if kind == "dss":
            openssl("pkey", "-in", "dsa.pem", "-traditional", "-out", "dsa-trad.pem")
            source = "dsa-trad.pem"
        try:
            run(["dropbearconvert", "openssh", "dropbear", str(d / source), str(path)])
        except RuntimeError:
            continue                # dropbear builds without DSS
        out[f"dropbearkey-{kind}"] = path.read_bytes()
    (d / "pass").write_text(PASSWORD + "\n")
    for version in ("2", "3"):
        for encrypted in (False, True):
            name = f"putty-v{version}{'-enc' if encrypted else ''}.ppk"
            params = f"version={version}" + (",memory=8,passes=1" if version == "3" else "")
            run(["puttygen", str(d / "id_rsa"), "-O", "private", "-o", str(d / name), "--ppk-param", params,
                 "--new-passphrase", str(d / "pass") if encrypted else "/dev/null"])
            out[f"puttygen-{name}"] = (d / name).read_bytes()
    return out


def keystores(work: Path, key_seeds: dict[str, bytes]) -> dict[str, bytes]:
    """Key stores as `openssl pkcs12 -export` (current, -legacy, without MAC, without any
    encryption) and keytool (JKS, JCEKS, PKCS12: the openssl store imported, then a trusted
    certificate added) write them, all with the password the harnesses guess."""
    d = _fresh(work, "stores")
    (d / "key.pem").write_bytes(key_seeds["openssl-rsa.pem"])
    (d / "cert.pem").write_bytes(key_seeds["openssl-cert.pem"])
    out: dict[str, bytes] = {}
    for name, extra in (("p12", ["-iter", "16", "-maciter"]), ("p12-legacy", ["-legacy"]),
                        ("p12-nomac", ["-nomac", "-iter", "16"]),
                        ("p12-plain", ["-nomac", "-keypbe", "NONE", "-certpbe", "NONE"])):
        run(["openssl", "pkcs12", "-export", "-inkey", "key.pem", "-in", "cert.pem", "-name", "fuzz",
             "-passout", f"pass:{PASSWORD}", "-out", f"{name}.p12", *extra], cwd=d)
        out[f"openssl-{name}"] = (d / f"{name}.p12").read_bytes()
    for storetype in ("JKS", "JCEKS", "PKCS12"):
        store = d / f"store.{storetype.lower()}"
        run(["keytool", "-importkeystore", "-noprompt", "-srckeystore", str(d / "p12.p12"),
             "-srcstoretype", "PKCS12", "-srcstorepass", PASSWORD, "-destkeystore", str(store),
             "-deststoretype", storetype, "-deststorepass", PASSWORD, "-destkeypass", PASSWORD])
        run(["keytool", "-importcert", "-noprompt", "-storetype", storetype, "-keystore", str(store),
             "-storepass", PASSWORD, "-alias", "ca", "-file", str(d / "cert.pem")])
        out[f"keytool-{storetype.lower()}"] = store.read_bytes()
    return out


# -- Android apps ------------------------------------------------------------------------------

MANIFEST = """<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android" package="com.example.fuzz"
    android:sharedUserId="android.uid.system">
  <uses-permission android:name="android.permission.INSTALL_PACKAGES"/>
  <uses-permission android:name="android.permission.SEND_SMS"/>
  <application android:label="fuzz" android:permission="com.example.P">
    <activity android:name=".Main"><intent-filter>
      <action android:name="android.intent.action.MAIN"/></intent-filter></activity>
    <receiver android:name=".Boot" android:exported="true"><intent-filter>
      <action android:name="android.intent.action.BOOT_COMPLETED"/></intent-filter></receiver>
    <service android:name="com.example.fuzz.Shell" android:exported="true"/>
    <provider android:name=".Files" android:authorities="com.example.fuzz.files"
        android:readPermission="com.example.R"/>
  </application>
</manifest>
"""

SMALI = """.class public Lcom/example/fuzz/Shell;
.super Ljava/lang/Object;

.method public static run(Ljava/lang/String;)V
    .registers 4
    const-string v0, "http://backdoor.example.net:8080/cmd"
    invoke-static {}, Ljava/lang/Runtime;->getRuntime()Ljava/lang/Runtime;
    move-result-object v1
    invoke-virtual {v1, p0}, Ljava/lang/Runtime;->exec(Ljava/lang/String;)Ljava/lang/Process;
    packed-switch v2, :pswitch
    :pswitch
    .packed-switch 0x1
        :pswitch
    .end packed-switch
    return-void
.end method

.method public static arr()[I
    .registers 2
    const/4 v0, 3
    new-array v0, v0, [I
    fill-array-data v0, :array
    return-object v0
    :array
    .array-data 4
        1 2 3
    .end array-data
.end method
"""


def apps(work: Path) -> dict[str, bytes]:
    """An APK built by aapt (binary manifest against framework-res.apk) with a classes.dex
    assembled by smali, and its two parts: `AndroidManifest.xml` (AXML) and `classes.dex`."""
    if not FRAMEWORK_RES.is_file():
        raise MissingTool(missing_message([str(FRAMEWORK_RES)]))
    if not SMALI_JAR.is_file():
        raise MissingTool(missing_message([str(SMALI_JAR)]))
    d = _fresh(work, "apk")
    (d / "AndroidManifest.xml").write_text(MANIFEST)
    pinned(d)
    run(["aapt", "package", "-f", "-M", "AndroidManifest.xml", "-I", str(FRAMEWORK_RES), "-F", "app.apk"],
        cwd=d)
    (d / "Shell.smali").write_text(SMALI)
    pinned(d)
    run(["java", "-jar", str(SMALI_JAR), "assemble", "-o", "classes.dex", "Shell.smali"], cwd=d)
    pinned(d)
    run(["aapt", "add", "app.apk", "classes.dex"], cwd=d)
    apk = (d / "app.apk").read_bytes()
    with zipfile.ZipFile(io.BytesIO(apk)) as archive:
        manifest = archive.read("AndroidManifest.xml")
    return {"aapt-apk": apk, "aapt-manifest": manifest, "smali-dex": (d / "classes.dex").read_bytes()}


def otacerts(work: Path, key_seeds: dict[str, bytes]) -> dict[str, bytes]:
    """otacerts.zip as an Android build ships it (/system/etc/security): certificates zipped
    the way the suite zips a tree (firmproof.testing.fixtures.pack: deflated, Unix modes and owners)."""
    d = _fresh(work, "otacerts")
    (d / "releasekey.x509.pem").write_bytes(key_seeds["openssl-cert.pem"])
    (d / "testkey.x509.pem").write_bytes(key_seeds["openssl-cert.pem"])
    return {"zip-otacerts": fixtures.pack(pinned(d), "zip", work / "otacerts.zip").read_bytes()}


def corpus_apk_parts(max_dex: int = 256 * 1024) -> dict[str, bytes]:
    """The binary manifests of the corpus APKs, and their dex files up to `max_dex` bytes."""
    out: dict[str, bytes] = {}
    for path in corpus_files("*.apk"):
        try:
            with zipfile.ZipFile(path) as archive:
                out[f"manifest:{path.name}"] = archive.read("AndroidManifest.xml")
                for info in archive.infolist():
                    if info.filename.endswith(".dex") and info.file_size <= max_dex:
                        out[f"dex:{path.name}:{info.filename}"] = archive.read(info)
        except (KeyError, zipfile.BadZipFile, OSError):
            continue
    return out


def repack_apk(apk: bytes, replace: dict[str, bytes]) -> bytes:
    """`apk` with the given entries' contents replaced (stored, so their bytes are as given)."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(apk)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            data = replace.get(info.filename)
            if data is None:
                dst.writestr(info, src.read(info))
            else:
                dst.writestr(info.filename, data, compress_type=zipfile.ZIP_STORED)
    return out.getvalue()


# -- reports -----------------------------------------------------------------------------------


def reports(work: Path, key_seeds: dict[str, bytes]) -> dict[str, bytes]:
    """The report firmproof's CLI writes of a real image: the tiny tree with a few backdoors
    added (an empty root password, a root shell on the console, telnetd, an authorized key, a
    private key) packed by mksquashfs, so that the report holds findings of several kinds."""
    tree = tiny_tree(_fresh(work, "report-tree"))
    (tree / "etc" / "shadow").write_text("root::19000:0:99999:7:::\n"
                                         "user:$1$abc$0123456789abcdefghijkl:19000::::::\n")
    (tree / "etc" / "inittab").write_text("::sysinit:/etc/init.d/rcS\nttyS0::respawn:/bin/sh\n")
    (tree / "root" / ".ssh").mkdir(parents=True)
    (tree / "root" / ".ssh" / "authorized_keys").write_bytes(key_seeds["ssh-keygen-id_ed25519.pub"])
    (tree / "etc" / "dropbear").mkdir()
    (tree / "etc" / "dropbear" / "dropbear_rsa_host_key").write_bytes(key_seeds["dropbearkey-rsa"])
    (tree / "etc" / "ssl").mkdir()
    (tree / "etc" / "ssl" / "server.key").write_bytes(key_seeds["openssl-rsa.pem"])
    image = work / "report-image.sqfs"
    run(["mksquashfs", str(tree), str(image), "-noappend", "-all-time", "1700000000", "-mkfs-time",
         "1700000000", "-no-progress", "-quiet"])
    report = work / "report.json"
    python = Path(sys.executable)
    env = {"PATH": f"{python.parent}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "HOME": str(Path.home()), "LANG": "C.UTF-8"}
    proc = subprocess.run([str(python), "-m", "firmproof.cli", "scan", str(image), "-o", str(report), "-q"],
                          capture_output=True, env=env, timeout=600, check=False)
    if proc.returncode not in (0, 1) or not report.is_file():
        raise RuntimeError(f"firmproof scan of the seed image failed: {proc.stderr.decode()[-400:]}")
    return {"scan-report": report.read_bytes()}
