"""firmproof's own SquashFS reader, on images packed at test time with the real tools
(squashfs-tools' mksquashfs, squashfs-tools-ng's gensquashfs) and on the shared real corpus.

Images 4.0 little-endian are packed here with every compressor mksquashfs has. 2.x, 3.x and
big-endian 4.0 images cannot be made with any Debian tool: 2.0 big-endian with vendor LZMA
is covered by corpus file 5 (checked against `unsquashfs -lln`), vendor LZMA 4.0 by corpus
files 4 and 12.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import shutil
import signal
import stat
import struct
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import corpus_file, need_tools

from firmproof.fs.rootfs import CHARDEV, DIR, FIFO, FILE, SOCKET, SYMLINK, FileMeta
from firmproof.unpack.squashfs import SquashFSError, extract, read_metadata
from firmproof.unpack.squashfs.walk import bad_name

COMPRESSORS = ("gzip", "xz", "lzo", "lz4", "zstd", "lzma")
BLOCK = 4096                     # small blocks: the big file spans several at little cost
ESCAPE = "../../../../etc/passwd"

# pseudo definitions: modes and owners set in the image whoever builds it
PSEUDO = (
    "etc/shadow m 600 0 0",
    "bin/su m 4755 0 0",
    "bin/busybox m 755 0 0",
    "home/user m 700 1000 1000",
    "home/user/notes m 640 1000 1000",
    "tmp m 1777 0 0",
    "dev/console c 600 0 5 5 1",
    "dev/fifo i 644 0 0 f",
    "dev/sock i 755 0 0 s",
)
PSEUDO_META = {
    "etc/shadow": (0o600, 0, 0), "bin/su": (0o4755, 0, 0), "bin/busybox": (0o755, 0, 0),
    "bin/busybox-hardlink": (0o755, 0, 0),     # one inode with bin/busybox
    "home/user": (0o700, 1000, 1000), "home/user/notes": (0o640, 1000, 1000),
    "tmp": (0o1777, 0, 0),
}
PSEUDO_NODES = {
    "dev/console": FileMeta(CHARDEV, 0o600, 0, 5),
    "dev/fifo": FileMeta(FIFO, 0o644, 0, 0),
    "dev/sock": FileMeta(SOCKET, 0o755, 0, 0),
}


@dataclass(frozen=True)
class Source:
    root: Path
    meta: dict[str, FileMeta]            # what the image must say of each entry
    files: dict[str, bytes]              # content of each regular file


def _build_tree(root: Path) -> Source:
    rng = random.Random(7)
    files = {
        "etc/passwd": b"root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home/user:/bin/sh\n",
        "etc/shadow": b"root:$1$abc$0123456789abcdefghijkl:19000:0:99999:7:::\n",
        "etc/empty": b"",
        "bin/busybox": b"\x7fELF" + rng.randbytes(3000),
        "bin/su": b"\x7fELF" + rng.randbytes(500),
        "home/user/notes": b"hello\n" * 50,
        # several blocks and a tail kept in a fragment
        "data/big": rng.randbytes(3 * BLOCK + 1234),
        # blocks of zeros inside and at the end are holes in the image
        "data/sparse": rng.randbytes(BLOCK) + bytes(2 * BLOCK) + rng.randbytes(BLOCK) + bytes(BLOCK),
        "data/text": b"".join(b"line %d\n" % i for i in range(5000)),
    }
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content)
    (root / "tmp").mkdir()
    (root / "dev").mkdir()
    os.link(root / "bin/busybox", root / "bin/busybox-hardlink")
    files["bin/busybox-hardlink"] = files["bin/busybox"]
    links = {"bin/sh": "busybox", "bin/abs": "/bin/busybox", "www/escape": ESCAPE,
             "www/dangling": "nowhere/at/all"}
    for rel, target in links.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        os.symlink(target, root / rel)
    meta: dict[str, FileMeta] = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        st = path.lstat()
        kind = DIR if stat.S_ISDIR(st.st_mode) else SYMLINK if stat.S_ISLNK(st.st_mode) else FILE
        mode, uid, gid = PSEUDO_META.get(rel, (stat.S_IMODE(st.st_mode), st.st_uid, st.st_gid))
        meta[rel] = FileMeta(kind, mode, uid, gid, links.get(rel))
    meta.update(PSEUDO_NODES)
    return Source(root, meta, files)


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Source:
    return _build_tree(tmp_path_factory.mktemp("tree") / "root")


def mksquashfs(src: Path, out: Path, *options: str) -> Path:
    need_tools("mksquashfs")
    pseudo = [arg for definition in PSEUDO for arg in ("-p", definition)]
    subprocess.run(["mksquashfs", str(src), str(out), "-noappend", "-quiet", "-no-progress",
                    "-b", str(BLOCK), *pseudo, *options], check=True, capture_output=True)
    return out


@pytest.fixture(scope="module")
def images(source: Source, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("images")
    return {comp: mksquashfs(source.root, folder / f"{comp}.sqfs", "-comp", comp)
            for comp in COMPRESSORS}


def assert_meta(meta: dict[str, FileMeta], source: Source) -> None:
    assert set(meta) == set(source.meta)
    for key, want in source.meta.items():
        assert meta[key] == want, key


def assert_tree(outdir: Path, source: Source) -> None:
    for rel, content in source.files.items():
        path = outdir / rel
        assert not path.is_symlink() and path.read_bytes() == content, rel
        assert stat.S_IMODE(path.stat().st_mode) & 0o7000 == 0, f"{rel}: image mode set on host"
    for rel, want in source.meta.items():
        path = outdir / rel
        if want.kind == SYMLINK:
            assert os.readlink(path) == want.link, rel
        elif want.kind == DIR:
            assert path.is_dir() and not path.is_symlink(), rel
        elif want.kind != FILE:
            assert not os.path.lexists(path), f"{rel}: device node or fifo created"
    assert (outdir / "bin/busybox").stat().st_ino == (outdir / "bin/busybox-hardlink").stat().st_ino


# -- every compressor ---------------------------------------------------------------------

@pytest.mark.parametrize("comp", COMPRESSORS)
def test_read_metadata_gives_every_entry_as_the_image_says(comp: str, images: dict[str, Path],
                                                          source: Source) -> None:
    meta = read_metadata(images[comp])
    assert_meta(meta, source)
    assert meta["etc/shadow"] == FileMeta(FILE, 0o600, 0, 0)
    assert meta["bin/su"].mode == 0o4755
    assert meta["home/user/notes"] == FileMeta(FILE, 0o640, 1000, 1000)
    assert meta["www/escape"] == FileMeta(SYMLINK, 0o777, meta["www/escape"].uid,
                                          meta["www/escape"].gid, ESCAPE)
    assert all(not key.startswith("/") and key for key in meta)


@pytest.mark.parametrize("comp", COMPRESSORS)
def test_extract_writes_every_file_byte_for_byte(comp: str, images: dict[str, Path],
                                                 source: Source, tmp_path: Path) -> None:
    outdir = tmp_path / "out" / "nested"        # created when missing
    result = extract(images[comp], outdir)
    assert result.errors == []
    assert_meta(result.meta, source)
    assert_tree(outdir, source)
    # host modes are the defaults, the image's are only in the metadata
    umask = os.umask(0o022)
    os.umask(umask)
    assert stat.S_IMODE((outdir / "etc/shadow").stat().st_mode) == 0o644 & ~umask
    assert stat.S_IMODE((outdir / "home/user").stat().st_mode) == 0o755 & ~umask


# -- layouts mksquashfs and gensquashfs choose --------------------------------------------

@pytest.mark.parametrize("options", [
    ("-comp", "gzip", "-noI", "-noD", "-noF", "-noX"),      # everything stored uncompressed
    ("-comp", "xz", "-no-fragments"),
    ("-comp", "gzip", "-always-use-fragments"),
    ("-comp", "zstd", "-b", "1M"),
    ("-comp", "xz", "-no-sparse", "-no-duplicates"),
], ids=["uncompressed", "no-fragments", "always-fragments", "1M-blocks", "no-sparse"])
def test_layout_variants(options: tuple[str, ...], source: Source, tmp_path: Path) -> None:
    image = mksquashfs(source.root, tmp_path / "img.sqfs", *options)
    result = extract(image, tmp_path / "out")
    assert result.errors == []
    assert_meta(result.meta, source)
    assert_tree(tmp_path / "out", source)


def test_gensquashfs_image(source: Source, tmp_path: Path) -> None:
    """squashfs-tools-ng writes its own layout (extended inodes, its own table order)."""
    need_tools("gensquashfs")
    lines = ["dir /home 0755 0 0", "dir /home/user 0700 1000 1000", "dir /etc 0755 0 0",
             "dir /bin 0755 0 0", "dir /data 0755 0 0", "dir /www 0755 0 0", "dir /dev 0755 0 0",
             f"file /etc/shadow 0600 0 0 {source.root}/etc/shadow",
             f"file /bin/su 04755 0 0 {source.root}/bin/su",
             f"file /home/user/notes 0640 1000 1000 {source.root}/home/user/notes",
             f"file /data/big 0644 0 0 {source.root}/data/big",
             f"file /data/sparse 0644 0 0 {source.root}/data/sparse",
             f"file /etc/empty 0644 0 0 {source.root}/etc/empty",
             f"slink /www/escape 0777 0 0 {ESCAPE}",
             "nod /dev/console 0600 0 5 c 5 1", "pipe /dev/fifo 0644 0 0"]
    pack = tmp_path / "pack.txt"
    pack.write_text("\n".join(lines) + "\n")
    image = tmp_path / "ng.sqfs"
    subprocess.run(["gensquashfs", "--pack-file", str(pack), "--compressor", "xz",
                    "--block-size", str(BLOCK), "--quiet", str(image)], check=True,
                   capture_output=True)
    result = extract(image, tmp_path / "out")
    assert result.errors == []
    assert result.meta["etc/shadow"] == FileMeta(FILE, 0o600, 0, 0)
    assert result.meta["bin/su"] == FileMeta(FILE, 0o4755, 0, 0)
    assert result.meta["home/user"] == FileMeta(DIR, 0o700, 1000, 1000)
    assert result.meta["www/escape"].link == ESCAPE
    assert result.meta["dev/console"] == FileMeta(CHARDEV, 0o600, 0, 5)
    assert result.meta["dev/fifo"].kind == FIFO
    for rel in ("data/big", "data/sparse", "etc/shadow", "home/user/notes", "etc/empty"):
        assert (tmp_path / "out" / rel).read_bytes() == source.files[rel], rel


def test_image_at_an_offset(images: dict[str, Path], source: Source, tmp_path: Path) -> None:
    carrier = tmp_path / "firmware.bin"
    carrier.write_bytes(b"\xff" * 0x1234 + images["xz"].read_bytes() + b"\xff" * 100)
    assert_meta(read_metadata(carrier, 0x1234), source)
    result = extract(carrier, tmp_path / "out", offset=0x1234)
    assert result.errors == []
    assert_tree(tmp_path / "out", source)


def test_single_worker_gives_the_same_tree(images: dict[str, Path], source: Source,
                                           tmp_path: Path) -> None:
    result = extract(images["gzip"], tmp_path / "out", workers=1)
    assert result.errors == []
    assert_tree(tmp_path / "out", source)


# -- limits and hostile input --------------------------------------------------------------

def test_max_bytes_stops_writing_and_says_so(images: dict[str, Path], source: Source,
                                             tmp_path: Path) -> None:
    limit = 10_000
    result = extract(images["gzip"], tmp_path / "out", max_bytes=limit)
    assert any("past the byte limit of 10,000 bytes" in e for e in result.errors)
    written = sum(p.stat().st_size for p in (tmp_path / "out").rglob("*")
                  if p.is_file() and not p.is_symlink())
    assert written <= limit
    assert set(result.meta) == set(source.meta)        # the metadata is still whole


def test_one_huge_sparse_file_is_left_out_not_the_rest(tmp_path: Path) -> None:
    """A 1 GiB sparse file (a few bytes in an image) past the byte budget: that file is not
    written, named with its declared size; the files after it in the image still are."""
    need_tools("mksquashfs")
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    with (tree / "aaa-huge").open("wb") as huge:
        huge.truncate(1 << 30)      # (100 GiB behaves the same; mksquashfs reads every zero)
    (tree / "etc" / "inittab").write_text("::sysinit:/etc/init.d/rcS\n")
    (tree / "zzz-after").write_text("still here\n")
    image = tmp_path / "sparse.sqfs"
    subprocess.run(["mksquashfs", str(tree), str(image), "-noappend", "-quiet", "-comp", "xz"], check=True,
                   capture_output=True)
    assert image.stat().st_size < 1 << 20
    result = extract(image, tmp_path / "out", max_bytes=64 << 20)
    (error,) = result.errors
    assert error.startswith("aaa-huge: not written: it declares 1,073,741,824 bytes, past the byte limit")
    assert (tmp_path / "out" / "etc" / "inittab").read_text() == "::sysinit:/etc/init.d/rcS\n"
    assert (tmp_path / "out" / "zzz-after").read_text() == "still here\n"
    assert not (tmp_path / "out" / "aaa-huge").exists()
    assert "aaa-huge" in result.meta                     # listed, with its size, in the metadata


def test_never_writes_through_a_symlink_already_in_outdir(images: dict[str, Path],
                                                          tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.mkdir()
    outdir = tmp_path / "out"
    outdir.mkdir()
    (outdir / "etc").symlink_to(victim)
    result = extract(images["gzip"], outdir)
    assert list(victim.iterdir()) == []
    assert any(e.startswith("etc: not created") for e in result.errors)
    assert (outdir / "data/big").is_file()              # the rest is extracted


def test_symlinks_are_created_not_followed(images: dict[str, Path], tmp_path: Path) -> None:
    outdir = tmp_path / "a" / "b" / "out"
    extract(images["gzip"], outdir)
    assert os.readlink(outdir / "www/escape") == ESCAPE
    assert not (tmp_path / "etc").exists()
    assert {p.name for p in tmp_path.iterdir()} == {"a"}


@pytest.mark.parametrize("name", [b"", b".", b"..", b"a/b", b"../x", b"nul\0"])
def test_hostile_names_are_refused(name: bytes) -> None:
    assert bad_name(name) is not None


def test_plain_names_are_kept() -> None:
    assert bad_name(b"..hidden") is None and bad_name(b"\xff\xfe name") is None


@contextlib.contextmanager
def deadline(seconds: int) -> Iterator[None]:
    def expire(*_: object) -> None:
        raise TimeoutError(f"no answer within {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.mark.parametrize("comp", ["gzip", "xz"])
def test_truncated_image_gives_part_or_a_clear_error(comp: str, images: dict[str, Path],
                                                     tmp_path: Path) -> None:
    data = images[comp].read_bytes()
    used = struct.unpack_from("<Q", data, 40)[0]        # bytes_used; the rest is padding
    for cut in (used // 2, used - 10, 200, 50):
        image = tmp_path / f"cut{cut}.sqfs"
        image.write_bytes(data[:cut])
        with deadline(30):
            try:
                result = extract(image, tmp_path / f"out{cut}")
            except SquashFSError as exc:
                assert "\n" not in str(exc)
            else:
                assert result.errors


def test_random_bytes_after_the_magic_are_refused(tmp_path: Path) -> None:
    rng = random.Random(1)
    for magic in (b"hsqs", b"sqsh", b"shsq", b"qshs", b"sqlz", b"tqsh"):
        image = tmp_path / "random.bin"
        image.write_bytes(magic + rng.randbytes(200_000))
        with pytest.raises(SquashFSError):
            read_metadata(image)
        with pytest.raises(SquashFSError):
            extract(image, tmp_path / "out")


def test_damaged_images_never_raise_anything_else(images: dict[str, Path], tmp_path: Path) -> None:
    """Bytes overwritten in the tables (the image's second half) or anywhere."""
    rng = random.Random(42)
    names = sorted(images)
    partial = refused = 0
    with deadline(120):
        for round_ in range(120):
            data = bytearray(images[names[round_ % len(names)]].read_bytes())
            start = 0 if round_ % 3 == 0 else len(data) // 2
            for _ in range(rng.choice((1, 3, 10))):
                data[rng.randrange(start, len(data))] = rng.randrange(256)
            image = tmp_path / "damaged.sqfs"
            image.write_bytes(bytes(data))
            outdir = tmp_path / f"out{round_}"
            try:
                read_metadata(image)
                result = extract(image, outdir, max_bytes=10_000_000)
            except SquashFSError:
                refused += 1
            else:
                partial += bool(result.errors)
            shutil.rmtree(outdir, ignore_errors=True)
    assert refused and partial


# -- the shared real corpus ----------------------------------------------------------------

def carve(name: str, offset: int, tmp_path: Path) -> Path:
    data = corpus_file(name).read_bytes()
    image = tmp_path / "carved.sqfs"
    image.write_bytes(data[offset:])
    return image


LLN = re.compile(r"^(?P<mode>\S{10}) (?P<uid>\d+)/(?P<gid>\d+) .*? \d\d:\d\d "
                 r"squashfs-root/?(?P<path>.*?)(?: -> (?P<link>.*))?$")
LLN_KINDS = {"d": DIR, "-": FILE, "l": SYMLINK, "c": CHARDEV, "b": "blockdev", "p": FIFO,
             "s": SOCKET}


def unsquashfs_listing(image: Path) -> dict[str, FileMeta]:
    """What Debian's unsquashfs says of each entry (it lists 2.x images it cannot extract)."""
    need_tools("unsquashfs")
    proc = subprocess.run(["unsquashfs", "-lln", str(image)], capture_output=True, text=True,
                          errors="surrogateescape", check=True)
    listing = {}
    for line in proc.stdout.splitlines():
        m = LLN.match(line)
        if m is None or not m["path"]:
            continue
        text = m["mode"]
        mode = stat.S_IMODE(_mode_bits(text))
        listing[m["path"]] = FileMeta(LLN_KINDS[text[0]], mode, int(m["uid"]), int(m["gid"]),
                                      m["link"])
    return listing


def _mode_bits(text: str) -> int:
    bits = 0
    for i, (char, bit) in enumerate(zip(text[1:], (0o400, 0o200, 0o100, 0o40, 0o20, 0o10, 4, 2, 1),
                                        strict=True)):
        special = {2: 0o4000, 5: 0o2000, 8: 0o1000}.get(i, 0)
        if char in "rwx":
            bits |= bit
        elif char in "st":
            bits |= bit | special
        elif char in "ST":
            bits |= special
    return bits


@pytest.mark.corpus
def test_corpus_1_tplink_xz_at_offset(tmp_path: Path) -> None:
    image = carve("tplink_tl-wr841n-v14-eu_stock_2023.bin", 0x100200, tmp_path)
    result = extract(image, tmp_path / "out")
    assert result.errors == []
    assert b"admin:$1$$iC.dUsGpxNNJGeOm1dFio/" in (tmp_path / "out/etc/passwd.bak").read_bytes()
    assert (tmp_path / "out/usr/bin/tddp").read_bytes()[:4] == b"\x7fELF"
    assert len(result.meta) == 551
    assert result.meta == unsquashfs_listing(image)


@pytest.mark.corpus
def test_corpus_10_librarybox_xz_at_offset(tmp_path: Path) -> None:
    image = carve("librarybox-2.1_openwrt_tl-mr3020-v1_squashfs-factory.bin", 0xED0CC, tmp_path)
    result = extract(image, tmp_path / "out")
    assert result.errors == []
    assert b"r42647" in (tmp_path / "out/etc/openwrt_release").read_bytes()
    assert (tmp_path / "out/etc/shadow").read_bytes().startswith(b"root:x:")
    assert result.meta == unsquashfs_listing(image)


@pytest.mark.corpus
def test_corpus_4_trendnet_vendor_lzma(tmp_path: Path) -> None:
    image = corpus_file("trendnet_tew-733gr_v1.02b01_rootfs_squashfs-lzma.squashfs")
    result = extract(image, tmp_path / "out")
    assert result.errors == []
    assert len(result.meta) == 1810
    assert b"Alphanetworks" in (tmp_path / "out/etc/init0.d/S80telnetd.sh").read_bytes()
    assert (tmp_path / "out/etc/config/image_sign").read_bytes().strip() == b"wrgn80_trendnet_tew733gr"
    assert result.meta["usr/sbin/telnetd"].kind == FILE


@pytest.mark.corpus
def test_corpus_12_tplink_vendor_lzma_at_offset(tmp_path: Path) -> None:
    image = carve("tplink_tl-wr841n-v10_en_3.16.9_150310_up_boot.bin", 0x120200, tmp_path)
    result = extract(image, tmp_path / "out")
    assert result.errors == []
    shadow = (tmp_path / "out/etc/shadow").read_bytes()
    assert shadow.startswith(b"root:$1$GTN.gpri$DlSyKvZKMR9A9Uj9e9wR3/:")
    assert b"tddp_UploadFlashData" in (tmp_path / "out/usr/bin/httpd").read_bytes()
    assert result.meta == unsquashfs_listing(image)


@pytest.mark.corpus
def test_corpus_5_broadcom_v2_big_endian_lzma(tmp_path: Path) -> None:
    image = corpus_file("broadcom-bcm63xx-adsl-gateway_rootfs_squashfs-v2-be.bin")
    assert read_metadata(image) == unsquashfs_listing(image)
    result = extract(image, tmp_path / "out")
    assert result.errors == []
    out = tmp_path / "out"
    assert result.meta["bin/adsl"] == FileMeta(SYMLINK, 0o777, 0, 0, "adslctl")
    busybox = (out / "bin/busybox").read_bytes()
    assert len(busybox) == 224756 and busybox[:6] == b"\x7fELF\x01\x02"     # MIPS big-endian
    assert b"BcmDb_" in (out / "bin/cfm").read_bytes()
    assert (out / "etc/default.cfg").read_bytes().startswith(b"<psitree>")
    assert (out / "lib/modules/2.6.8.1/extra/adsldd.ko").read_bytes()[:4] == b"\x7fELF"
