"""The file system's own metadata, read back from images packed with the real tools.

Every format is packed from one tree, unpacked by unblob's own handler as firmproof does
(outer chunk found by unblob, extracted, then unblob's clean-up of the output folder), and
read with `read_metadata`. The tests check that each extracted entry has a key, that the
modes, owners and link targets are right, and which of them unblob's tree on disk lost:
the reason the readers exist.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from firmproof.fs.rootfs import DIR, FILE, SYMLINK, FileMeta
from firmproof.testing.fixtures import pack
from firmproof.unpack import formats
from firmproof.unpack.metadata import MetadataError, read_metadata

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the tree needs chown (run as root)")

FORMATS = ("cpio-newc", "cpio-newc-gz", "cpio-crc", "cpio-odc", "cpio-bin", "tar", "tar-gz",
           "ext2", "ext4", "jffs2", "jffs2-be", "ubi", "ubifs", "cramfs", "cramfs-be", "zip")

# What unblob's tree on disk loses, per format (checked both ways below). Every format also
# loses 0600 -> 0644 on files and 0700 -> 0775 on folders: unblob's clean-up forces those.
#   setuid:  the setuid and setgid bits
#   owner:   uid/gid (the tree is owned by the extracting user)
#   symlink: the relative link ../../bin/busybox is missing or turned into a regular file
LOSSES: dict[str, set[str]] = {
    "cpio-newc": {"setuid", "owner"},
    "cpio-newc-gz": {"setuid", "owner"},
    "cpio-crc": {"setuid", "owner", "symlink"},      # unblob drops entries whose CRC it rejects
    "cpio-odc": {"setuid", "owner"},
    "cpio-bin": {"setuid", "owner"},
    "tar": set(),                                    # tarfile keeps mode bits and owners
    "tar-gz": set(),
    "ext2": {"setuid"},                              # debugfs rdump keeps owners, drops s-bits
    "ext4": {"setuid"},
    "jffs2": {"owner"},                              # jefferson chmods but never chowns
    "jffs2-be": {"owner"},
    "ubi": {"setuid", "owner"},                      # ubireader_extract_files runs without -k
    "ubifs": {"setuid", "owner"},
    "cramfs": {"setuid", "owner", "symlink"},        # 7z refuses links that climb
    "cramfs-be": {"setuid", "owner", "symlink"},
    "zip": {"setuid", "owner", "symlink"},
}
CONTAINERS = ("gzip", "ubi")     # layers whose only output is the image inside


def build_tree(root: Path) -> Path:
    for folder in ("etc", "bin", "usr/bin", "home/user", "root"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    for folder in ("etc", "bin", "usr", "usr/bin", "home", "home/user"):
        os.chmod(root / folder, 0o755)
    os.chmod(root, 0o755)
    os.chmod(root / "root", 0o700)
    (root / "etc/shadow").write_text("root:$1$abc$0123456789abcdefghijkl:19000:0:99999:7:::\n")
    os.chmod(root / "etc/shadow", 0o600)
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n")
    os.chmod(root / "etc/passwd", 0o644)
    true = shutil.which("true") or "/bin/true"
    for name in ("bin/busybox", "bin/sush", "usr/bin/sg"):
        shutil.copyfile(true, root / name)
    os.chown(root / "usr/bin/sg", 0, 42)
    for name, mode in (("bin/busybox", 0o755), ("bin/sush", 0o4755), ("usr/bin/sg", 0o2755)):
        os.chmod(root / name, mode)     # after chown, which clears s-bits
    (root / "home/user/file").write_text("notes\n")
    os.chown(root / "home/user/file", 1000, 1000)
    os.chmod(root / "home/user/file", 0o640)
    os.chown(root / "home/user", 1000, 1000)
    os.symlink("/bin/busybox", root / "bin/sh")
    os.symlink("../../bin/busybox", root / "usr/bin/env")
    return root


@dataclass
class Layer:
    handler: str
    chunk: Path          # the carved chunk unblob extracted
    outdir: Path


def carve(source: Path, chunk: object, target: Path) -> Path:
    start, end = chunk.start_offset, chunk.end_offset   # type: ignore[attr-defined]
    if start == 0 and end == source.stat().st_size:
        return source
    with source.open("rb") as src:
        src.seek(start)
        target.write_bytes(src.read(end - start))
    return target


def unpack_layers(image: Path, work: Path) -> list[Layer]:
    """Extract `image` with unblob as firmproof does, following compression and UBI layers."""
    from unblob.extractor import fix_extracted_directory
    from unblob.models import ExtractError, Task, TaskResult

    from firmproof.unpack.driver import find_chunks

    layers: list[Layer] = []
    current = image
    for depth in range(3):
        chunks = find_chunks(current)
        assert len(chunks) == 1, [c.handler.NAME for c in chunks]
        chunk = chunks[0]
        carved = carve(current, chunk, work / f"chunk{depth}")
        outdir = work / f"out{depth}"
        with contextlib.suppress(ExtractError):     # firmproof reports it and goes on
            chunk.extract(carved, outdir)
        fix_extracted_directory(outdir, TaskResult(task=Task(path=carved, depth=0, blob_id="")))
        layers.append(Layer(chunk.handler.NAME, carved, outdir))
        if chunk.handler.NAME not in CONTAINERS:
            break
        (current,) = list(outdir.iterdir())
    return layers


@dataclass
class Unpacked:
    fmt: str
    layers: list[Layer]
    meta: dict[str, FileMeta]

    @property
    def inner(self) -> Layer:
        return self.layers[-1]


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tree(tmp_path_factory.mktemp("tree") / "root")


@pytest.fixture(scope="module", params=FORMATS)
def unpacked(request: pytest.FixtureRequest, tree: Path,
             tmp_path_factory: pytest.TempPathFactory) -> Unpacked:
    fmt = request.param
    work = tmp_path_factory.mktemp(fmt)
    image = pack(tree, fmt, work / f"image.{fmt}")
    layers = unpack_layers(image, work)
    meta = read_metadata(layers[-1].handler, layers[-1].chunk, strict=True)
    assert meta is not None, f"{fmt}: {layers[-1].handler} has no metadata reader"
    return Unpacked(fmt, layers, meta)


def on_disk(outdir: Path) -> Iterator[str]:
    for dirpath, dirnames, filenames in os.walk(outdir):
        for name in dirnames + filenames:
            yield os.path.relpath(os.path.join(dirpath, name), outdir)


def test_container_layers_carry_no_metadata(unpacked: Unpacked) -> None:
    for layer in unpacked.layers[:-1]:
        assert read_metadata(layer.handler, layer.chunk) is None


def test_every_extracted_entry_has_a_key(unpacked: Unpacked) -> None:
    on_disk_paths = set(on_disk(unpacked.inner.outdir))
    assert on_disk_paths, "unblob extracted nothing"
    assert on_disk_paths - unpacked.meta.keys() == set()
    assert all(not key.startswith("/") for key in unpacked.meta)


def test_modes_owners_and_links_come_from_the_image(unpacked: Unpacked) -> None:
    meta = unpacked.meta
    gid_bits = 0xFF if unpacked.fmt.startswith("cramfs") else 0xFFFFFFFF  # cramfs keeps 8 bits
    assert meta["etc/shadow"] == FileMeta(FILE, 0o600, 0, 0)
    assert meta["etc/passwd"] == FileMeta(FILE, 0o644, 0, 0)
    assert meta["bin/sush"] == FileMeta(FILE, 0o4755, 0, 0)
    assert meta["usr/bin/sg"] == FileMeta(FILE, 0o2755, 0, 42)
    assert meta["home/user/file"] == FileMeta(FILE, 0o640, 1000, 1000 & gid_bits)
    assert meta["root"] == FileMeta(DIR, 0o700, 0, 0)
    assert meta["bin/sh"] == FileMeta(SYMLINK, 0o777, 0, 0, link="/bin/busybox")
    assert meta["usr/bin/env"] == FileMeta(SYMLINK, 0o777, 0, 0, link="../../bin/busybox")


def test_what_unblob_lost_on_disk(unpacked: Unpacked) -> None:
    out = unpacked.inner.outdir
    # every format: unblob's clean-up forces files to at least 0644 and folders to 0775
    assert stat.S_IMODE((out / "etc/shadow").lstat().st_mode) == 0o644
    assert stat.S_IMODE((out / "root").lstat().st_mode) == 0o775
    sush, sg = (out / "bin/sush").lstat(), (out / "usr/bin/sg").lstat()
    lost = set()
    if not sush.st_mode & stat.S_ISUID and not sg.st_mode & stat.S_ISGID:
        lost.add("setuid")
    else:
        assert sush.st_mode & stat.S_ISUID and sg.st_mode & stat.S_ISGID
    user_file = (out / "home/user/file").lstat()
    if (user_file.st_uid, user_file.st_gid) != (1000, 1000):
        lost.add("owner")
    if not (out / "usr/bin/env").is_symlink():
        lost.add("symlink")
    else:
        assert os.readlink(out / "usr/bin/env") == "../../bin/busybox"
    assert lost == LOSSES[unpacked.fmt]


class Hang(BaseException):
    """Raised by the alarm: a reader ran too long (BaseException, so no reader swallows it)."""


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    def ring(signum: int, frame: object) -> None:
        raise Hang(f"still reading after {seconds}s")

    previous = signal.signal(signal.SIGALRM, ring)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


def damaged_copies(chunk: Path, work: Path) -> Iterator[Path]:
    data = chunk.read_bytes()
    for fraction in (0.02, 0.1, 0.5, 0.9):
        cut = work / f"truncated-{fraction}"
        cut.write_bytes(data[:max(1, int(len(data) * fraction))])
        yield cut
    for seed in range(4):
        rng = random.Random(seed)
        flipped = bytearray(data)
        for _ in range(32):
            at = rng.randrange(len(flipped))
            flipped[at] ^= 1 << rng.randrange(8)
        bad = work / f"flipped-{seed}"
        bad.write_bytes(bytes(flipped))
        yield bad


def test_damaged_images_give_metadata_error_or_partial(unpacked: Unpacked, tmp_path: Path) -> None:
    handler = unpacked.inner.handler
    for damaged in damaged_copies(unpacked.inner.chunk, tmp_path):
        for strict in (True, False):
            try:
                with deadline(60):
                    result = read_metadata(handler, damaged, strict=strict)
            except MetadataError as exc:
                assert str(exc).strip()
                assert isinstance(exc.partial, dict)
                continue
            assert result is None or isinstance(result, dict)
            for key, meta in (result or {}).items():
                assert key and not key.startswith("/") and ".." not in key.split("/")
                assert isinstance(meta, FileMeta)


def test_truncated_cpio_keeps_what_was_read(tree: Path, tmp_path: Path) -> None:
    image = pack(tree, "cpio-newc", tmp_path / "image.cpio")
    cut = tmp_path / "cut.cpio"
    cut.write_bytes(image.read_bytes()[: image.stat().st_size * 2 // 3])
    with pytest.raises(MetadataError) as caught:
        read_metadata("cpio_portable_ascii", cut, strict=True)
    assert "bin/sush" in caught.value.partial
    partial = read_metadata("cpio_portable_ascii", cut)
    assert partial == caught.value.partial
    assert partial["bin/sush"].mode == 0o4755


def test_formats_without_metadata(tmp_path: Path) -> None:
    plain = tmp_path / "dos.zip"
    with zipfile.ZipFile(plain, "w") as archive:
        info = zipfile.ZipInfo("readme.txt")
        info.create_system = 0          # made on MS-DOS: no Unix attributes
        archive.writestr(info, b"hello")
    assert read_metadata("zip", plain) is None
    for name in ("gzip", "xz", "lzma", "ubi", "elf32", "no-such-handler"):
        assert read_metadata(name, plain) is None


def test_not_an_image_is_a_metadata_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk"
    junk.write_bytes(bytes(range(256)) * 64)
    for handler in (name for fmt in formats.FORMATS if fmt.metadata is not None for name in fmt.handlers):
        try:
            result = read_metadata(handler, junk, strict=True)
        except MetadataError:
            continue
        assert result in (None, {}), handler
    with pytest.raises(MetadataError, match="cannot read"):
        read_metadata("tar", tmp_path / "missing")


def test_firmproof_extraction_uses_the_reader(tree: Path, tmp_path: Path) -> None:
    """Through firmproof's own extraction child: the metadata reaches the outcome."""
    import time

    from firmproof.unpack.driver import find_chunks
    from firmproof.unpack.extract import extract_chunk, finish

    image = pack(tree, "cpio-newc", tmp_path / "image.cpio")
    (chunk,) = find_chunks(image)
    outcome = finish(extract_chunk(chunk, chunk.handler.NAME, image, tmp_path / "out",
                                   byte_budget=64 << 20, deadline=time.monotonic() + 120))
    assert outcome.meta is not None, outcome.errors
    assert outcome.meta["bin/sush"].mode == 0o4755
    assert outcome.meta["home/user/file"].uid == 1000


@pytest.mark.parametrize("fmt", ["cramfs", "cramfs-be"])
def test_links_7z_refuses_are_kept_without_an_error(fmt: str, tree: Path, tmp_path: Path) -> None:
    """7-Zip will not write the link ../../bin/busybox ("Dangerous link path was ignored"): the
    cramfs inodes keep it, so the extraction reports no error and the scan sees the link."""
    import json
    import time

    from firmproof.unpack.driver import find_chunks
    from firmproof.unpack.extract import extract_chunk, finish
    from tests.conftest import firmproof

    image = pack(tree, fmt, tmp_path / f"image.{fmt}")
    (chunk,) = find_chunks(image)
    outcome = finish(extract_chunk(chunk, chunk.handler.NAME, image, tmp_path / "out",
                                   byte_budget=64 << 20, deadline=time.monotonic() + 120))
    assert not (tmp_path / "out" / "usr/bin/env").is_symlink()       # 7z did refuse it
    assert outcome.errors == []
    assert outcome.meta is not None
    assert outcome.meta["usr/bin/env"] == FileMeta(SYMLINK, 0o777, 0, 0, link="../../bin/busybox")
    report = tmp_path / "report.json"
    assert firmproof("scan", image, "-o", report, "-q").returncode == 0
    assert json.loads(report.read_text())["unpack"]["errors"] == []


def test_a_refused_link_the_metadata_lacks_stays_an_error() -> None:
    from firmproof.unpack.extract import _links_not_restored

    meta = {"usr/bin/env": FileMeta(SYMLINK, 0o777, 0, 0, link="../../bin/busybox")}
    assert _links_not_restored([("usr/bin/env", "../../bin/busybox")], meta) == []
    (error,) = _links_not_restored([("usr/bin/env", "../../etc/passwd")], meta)
    assert "usr/bin/env -> ../../etc/passwd" in error
    assert _links_not_restored([("a", "../b")], None) != []


# -- loops in hostile images: each reader must stop ---------------------------------------


def test_ext_folder_linked_to_its_ancestor(tree: Path, tmp_path: Path) -> None:
    """debugfs itself makes the loop: /usr/bin/up is a second link to /usr."""
    import subprocess

    image = pack(tree, "ext4", tmp_path / "image.ext4")
    subprocess.run(["debugfs", "-w", "-R", "link /usr /usr/bin/up", str(image)],
                   check=True, capture_output=True)
    with deadline(60):
        meta = read_metadata("extfs", image, strict=True)
    assert meta is not None
    assert meta["usr/bin/up"].kind == DIR
    assert not any(key.startswith("usr/bin/up/") for key in meta)   # walked once, not again
    assert meta["bin/sush"].mode == 0o4755


def _cramfs_entries(data: bytes, folder_at: int) -> Iterator[tuple[int, bytes, int]]:
    """(entry offset, name, data offset) of the entries of the little-endian cramfs folder
    whose inode is at `folder_at`."""
    import struct

    _, _, w2, w3 = struct.unpack_from("<HHII", data, folder_at)
    at, end = (w3 >> 6) * 4, (w3 >> 6) * 4 + (w2 & 0xFFFFFF)
    while at < end:
        _, _, _, w3 = struct.unpack_from("<HHII", data, at)
        name_len = (w3 & 0x3F) * 4
        yield at, data[at + 12: at + 12 + name_len].rstrip(b"\0"), (w3 >> 6) * 4
        at += 12 + name_len


def test_cramfs_folder_pointing_at_the_root(tree: Path, tmp_path: Path) -> None:
    import struct

    image = pack(tree, "cramfs", tmp_path / "image.cramfs")
    data = bytearray(image.read_bytes())
    root_data = struct.unpack_from("<I", data, 64 + 8)[0] >> 6
    (usr_at,) = [at for at, name, _ in _cramfs_entries(bytes(data), 64) if name == b"usr"]
    mode, uid, w2, w3 = struct.unpack_from("<HHII", data, usr_at)
    struct.pack_into("<HHII", data, usr_at, mode, uid, w2, (w3 & 0x3F) | root_data << 6)
    looped = tmp_path / "looped.cramfs"
    looped.write_bytes(bytes(data))
    with deadline(60):
        meta = read_metadata("cramfs", looped, strict=True)
    assert meta is not None
    assert meta["bin/sush"].mode == 0o4755
    assert "usr/usr" not in meta


def test_jffs2_parents_in_a_loop(tree: Path, tmp_path: Path) -> None:
    """bin's parent is usr and usr's parent is bin: paths stop after jefferson's 100 hops."""
    import struct

    image = pack(tree, "jffs2", tmp_path / "image.jffs2")
    data = bytearray(image.read_bytes())
    dirents: dict[bytes, tuple[int, int]] = {}        # name -> (node offset, ino)
    at = 0
    while at + 12 <= len(data):
        magic, nodetype, totlen = struct.unpack_from("<HHI", data, at)
        if magic != 0x1985 or totlen < 12:
            at += 4
            continue
        if nodetype == 0xE001:
            ino, nsize = struct.unpack_from("<I", data, at + 20)[0], data[at + 28]
            dirents[bytes(data[at + 40: at + 40 + nsize])] = (at, ino)
        at += (totlen + 3) & ~3
    (bin_at, bin_ino), (usr_at, usr_ino) = dirents[b"bin"], dirents[b"usr"]
    struct.pack_into("<I", data, bin_at + 12, usr_ino)
    struct.pack_into("<I", data, usr_at + 12, bin_ino)
    looped = tmp_path / "looped.jffs2"
    looped.write_bytes(bytes(data))
    with deadline(60):
        meta = read_metadata("jffs2_new", looped, strict=True)
    assert meta is not None
    assert meta["etc/shadow"].mode == 0o600
    depths = [key.count("/") for key in meta]
    assert 90 < max(depths) <= 102
