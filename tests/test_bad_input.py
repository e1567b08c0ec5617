"""Bad input: a clear one-line message or a partial report, a clean exit code, nothing written
outside the work directory, bounded time."""

from __future__ import annotations

import io
import json
import os
import shutil
import struct
import subprocess
import tarfile
import time
import zipfile
from pathlib import Path

import pytest
from conftest import firmproof, need_tools

from firmproof.testing.fixtures import pack


def _one_clear_line(stderr: str) -> str:
    assert "Traceback" not in stderr
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert lines[0].startswith("firmproof: ")
    return lines[0]


def test_missing_file(tmp_path: Path):
    proc = firmproof("scan", tmp_path / "nope.bin")
    assert proc.returncode == 2
    assert "no such file" in _one_clear_line(proc.stderr)


def test_directory(tmp_path: Path):
    proc = firmproof("scan", tmp_path)
    assert proc.returncode == 2
    assert "is a directory" in _one_clear_line(proc.stderr)


def test_empty_file(tmp_path: Path):
    image = tmp_path / "empty.bin"
    image.write_bytes(b"")
    proc = firmproof("scan", image)
    assert proc.returncode == 2
    assert "empty" in _one_clear_line(proc.stderr)


def test_random_bytes(tmp_path: Path):
    image = tmp_path / "random.bin"
    image.write_bytes(os.urandom(256 * 1024))
    proc = firmproof("scan", image, "-q", "--workdir", tmp_path)
    assert proc.returncode == 2
    assert "no known container" in _one_clear_line(proc.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["random.bin"]   # work dir cleaned


def test_truncated_squashfs(tmp_path: Path):
    need_tools("mksquashfs")
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "bin").mkdir()
    for i in range(40):
        (tree / "bin" / f"tool{i}").write_bytes(os.urandom(20000))
    (tree / "etc/passwd").write_text("root::0:0:root:/root:/bin/sh\n")
    full = tmp_path / "full.sqfs"
    subprocess.run(["mksquashfs", tree, full, "-comp", "xz", "-noappend", "-quiet", "-no-progress"],
                   check=True)
    cut = tmp_path / "cut.sqfs"
    data = full.read_bytes()
    cut.write_bytes(data[: len(data) // 2])
    started = time.monotonic()
    proc = firmproof("scan", cut, "-o", tmp_path / "r.json", "-q")
    assert time.monotonic() - started < 120
    assert "Traceback" not in proc.stderr
    if proc.returncode == 2:
        _one_clear_line(proc.stderr)
    else:
        assert proc.returncode == 3         # incomplete
        report = json.loads((tmp_path / "r.json").read_text())
        assert report["unpack"]["errors"], "a truncated image must say what could not be read"


def test_zip_bomb_is_stopped_at_the_byte_limit(tmp_path: Path):
    bomb = tmp_path / "bomb.zip"
    block = b"\0" * (1 << 20)
    with zipfile.ZipFile(bomb, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for n in range(3):
            with archive.open(f"zeros{n}.bin", "w", force_zip64=True) as member:
                for _ in range(200):
                    member.write(block)
    assert bomb.stat().st_size < 2 * 1024 * 1024
    work = tmp_path / "work"
    work.mkdir()
    started = time.monotonic()
    proc = firmproof("scan", bomb, "-o", tmp_path / "r.json", "-q", "--max-bytes", "64M",
                     "--workdir", work)
    assert time.monotonic() - started < 120
    assert proc.returncode in (2, 3), proc.stderr
    assert "Traceback" not in proc.stderr
    if proc.returncode == 3:
        report = json.loads((tmp_path / "r.json").read_text())
        errors = " ".join(e["error"] for e in report["unpack"]["errors"])
        assert "limit" in errors and "bytes" in report["coverage"]["limits"]["reached"]
        assert report["unpack"]["bytes"] <= 80 * 1024 * 1024
    else:
        assert "limit" in proc.stderr
    assert list(work.iterdir()) == []


def test_tar_with_traversal_and_absolute_paths_writes_nothing_outside(tmp_path: Path):
    victim_dir = tmp_path / "outside"
    victim_dir.mkdir()
    image = tmp_path / "evil.tar"
    abs_target = tmp_path / "abs-victim"
    entries = {
        "etc/passwd": b"root::0:0:root:/root:/bin/sh\n",
        "../../outside/escaped": b"pwned",
        "../" * 12 + str(victim_dir / "deep").lstrip("/"): b"pwned",
        str(abs_target): b"pwned",
    }
    with tarfile.open(image, "w", format=tarfile.GNU_FORMAT) as archive:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("etc/hostlink")
        link.type = tarfile.SYMTYPE
        link.linkname = str(victim_dir)
        archive.addfile(link)
        through = tarfile.TarInfo("etc/hostlink/through-link")
        through.size = 5
        archive.addfile(through, io.BytesIO(b"pwned"))
    work = tmp_path / "work"
    work.mkdir()
    proc = firmproof("scan", image, "-o", tmp_path / "r.json", "-q", "--workdir", work)
    assert proc.returncode in (0, 2), proc.stderr
    assert "Traceback" not in proc.stderr
    assert list(victim_dir.iterdir()) == []
    assert not abs_target.exists()
    assert not (tmp_path.parent / "outside").exists()
    assert list(work.iterdir()) == []


def test_squashfs_symlink_pointing_outside_is_read_inside_the_image(tmp_path: Path):
    need_tools("mksquashfs")
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "bin").mkdir()
    (tree / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    # both links point at the host's shadow if followed on the host
    os.symlink("/etc/shadow", tree / "etc/shadow")
    os.symlink("../../../../../../../../etc/shadow", tree / "etc/shadow-")
    os.symlink("/", tree / "hostroot")
    image = tmp_path / "links.sqfs"
    subprocess.run(["mksquashfs", tree, image, "-noappend", "-quiet", "-no-progress"], check=True)
    report_path = tmp_path / "r.json"
    proc = firmproof("scan", image, "-o", report_path, "-q")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(report_path.read_text())
    host_shadow = Path("/etc/shadow")
    if host_shadow.exists() and os.access(host_shadow, os.R_OK):
        host_hashes = {line.split(":")[1] for line in host_shadow.read_text().splitlines()
                       if line.count(":") >= 2 and len(line.split(":")[1]) > 3}
        text = json.dumps(report)
        assert not any(h in text for h in host_hashes)
    assert all(not f["path"].startswith("/hostroot/") for f in report["findings"])


@pytest.mark.parametrize("size", [17, 4096])
def test_garbage_after_a_valid_header(tmp_path: Path, size: int):
    """A gzip header followed by garbage: extraction fails, the scan says so cleanly."""
    image = tmp_path / "bad.gz"
    image.write_bytes(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03" + os.urandom(size))
    proc = firmproof("scan", image, "-q", "-o", tmp_path / "r.json")
    assert proc.returncode in (0, 2)
    assert "Traceback" not in proc.stderr
    if proc.returncode == 2:
        _one_clear_line(proc.stderr)


def test_unwritable_report_location(tmp_path: Path):
    need_tools("mksquashfs")
    tree = tmp_path / "tree" / "etc"
    tree.mkdir(parents=True)
    (tree / "passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    image = tmp_path / "ok.sqfs"
    subprocess.run(["mksquashfs", tmp_path / "tree", image, "-noappend", "-quiet", "-no-progress"],
                   check=True)
    proc = firmproof("scan", image, "-q", "-o", tmp_path / "no" / "such" / "dir" / "r.json")
    assert proc.returncode == 2
    assert "cannot write" in _one_clear_line(proc.stderr)
    shutil.rmtree(tmp_path / "tree")


def _overlapping_zip(out: Path, entries: int, body: bytes) -> Path:
    """A zip written by zipfile whose central directory is then pointed, for every entry, at the
    first entry's local header and sizes: many entries sharing one compressed body (the
    overlapping-entry zip bomb)."""
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(entries):
            archive.writestr(f"f{i:05d}.bin", body if i == 0 else b"")
    data = bytearray(out.read_bytes())
    eocd = data.rfind(b"PK\x05\x06")
    pos = struct.unpack_from("<I", data, eocd + 16)[0]
    first = None
    while data[pos:pos + 4] == b"PK\x01\x02":
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, pos + 28)
        if first is None:
            first = bytes(data[pos + 16:pos + 28])      # crc32, compressed and uncompressed sizes
        else:
            data[pos + 16:pos + 28] = first
            struct.pack_into("<I", data, pos + 42, 0)   # local header offset: the first entry's
        pos += 46 + name_len + extra_len + comment_len
    out.write_bytes(bytes(data))
    return out


def test_overlapping_zip_entries_are_refused_by_name(tmp_path: Path):
    bomb = _overlapping_zip(tmp_path / "overlap.zip", 2000, b"\0" * (32 << 20))
    assert bomb.stat().st_size < 1 << 20
    with zipfile.ZipFile(bomb) as archive:
        assert len(archive.infolist()) == 2000
    work = tmp_path / "work"
    work.mkdir()
    started = time.monotonic()
    proc = firmproof("scan", bomb, "-o", tmp_path / "r.json", "-q", "--workdir", work)
    assert time.monotonic() - started < 60
    assert proc.returncode == 2, proc.stderr
    _one_clear_line(proc.stderr)
    assert "overlap, with 1999 entries sharing those bytes: a zip bomb; not extracted" in proc.stderr
    assert list(work.iterdir()) == []


def test_an_honest_zip_is_not_taken_for_overlapping(tmp_path: Path):
    from firmproof.unpack.archives import zip_overlap

    archive = tmp_path / "ok.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(50):
            z.writestr(f"dir/f{i}.txt", f"file {i}\n" * (i + 1))
        z.writestr("empty", b"")
    assert zip_overlap(archive) is None


def test_a_sparse_tar_member_written_short_is_named(tmp_path: Path):
    """GNU tar's sparse 2 GiB member: what was extracted is not what the header declares, and
    the scan says so (incomplete) instead of analysing an empty file as if it were the member."""
    need_tools("tar")
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    with (tree / "huge").open("wb") as huge:
        huge.truncate(2 << 30)
    image = tmp_path / "sparse.tar"
    subprocess.run(["tar", "--sparse", "-C", tree, "-cf", image, "."], check=True)
    assert image.stat().st_size < 1 << 20
    proc = firmproof("scan", image, "-q", "-o", tmp_path / "r.json", "--max-bytes", "64M")
    assert proc.returncode == 3, proc.stderr
    errors = [e["error"] for e in json.loads((tmp_path / "r.json").read_text())["unpack"]["errors"]]
    assert errors == ["/huge: declares 2,147,483,648 bytes, 0 extracted; the rest not examined"]


def test_tar_hard_links_are_not_taken_for_short_files(tmp_path: Path):
    need_tools("tar")
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "busybox").write_bytes(os.urandom(5000))
    os.link(tree / "bin" / "busybox", tree / "bin" / "sh")
    image = tmp_path / "links.tar"
    subprocess.run(["tar", "-C", tree, "-cf", image, "."], check=True)
    proc = firmproof("scan", image, "-q", "-o", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "r.json").read_text())["unpack"]["errors"] == []


def _cpio(tree: Path, out: Path) -> Path:
    names = subprocess.run(["find", "."], cwd=tree, capture_output=True, check=True).stdout
    with out.open("wb") as handle:
        subprocess.run(["cpio", "-o", "-H", "newc"], cwd=tree, input=names, stdout=handle,
                       stderr=subprocess.DEVNULL, check=True)
    return out


def test_a_cpio_member_over_the_byte_limit_is_a_sentence_and_incomplete(tmp_path: Path):
    need_tools("cpio")
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "big").write_bytes(os.urandom(3 << 20))
    image = _cpio(tree, tmp_path / "big.cpio")
    proc = firmproof("scan", image, "-q", "-o", tmp_path / "r.json", "--max-bytes", "2M")
    assert proc.returncode == 3, proc.stderr
    errors = [e["error"] for e in json.loads((tmp_path / "r.json").read_text())["unpack"]["errors"]]
    assert errors[0].startswith("extraction stopped: byte limit"), errors
    # the member cut short is named with both sizes when the extractor could say so (not when
    # the watchdog had to kill it first)
    assert errors[1:] in ([], ["/bin/big: declares 3,145,728 bytes, 2,097,152 extracted; the rest not "
                               "examined"]), errors
    assert "Traceback" not in proc.stderr and not any("Errno" in e for e in errors)


def test_cpio_hard_links_are_not_taken_for_short_files(tmp_path: Path):
    """newc stores a hard-linked file's data with one of its names: the others declare 0
    bytes, which is no short extraction."""
    need_tools("cpio")
    tree = tmp_path / "tree"
    (tree / "bin").mkdir(parents=True)
    (tree / "bin" / "busybox").write_bytes(os.urandom(5000))
    os.link(tree / "bin" / "busybox", tree / "bin" / "sh")
    image = _cpio(tree, tmp_path / "links.cpio")
    proc = firmproof("scan", image, "-q", "-o", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "r.json").read_text())["unpack"]["errors"] == []


def test_cpio_zip_and_cramfs_metadata_declare_regular_file_sizes(tmp_path: Path):
    from firmproof.unpack.metadata import read_metadata

    need_tools("cpio", "mkfs.cramfs")
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (tree / "etc" / "sh").symlink_to("passwd")
    cpio = _cpio(tree, tmp_path / "t.cpio")
    cramfs = pack(tree, "cramfs", tmp_path / "t.cramfs")
    archive = pack(tree, "zip", tmp_path / "t.zip")
    for handler, image in (("cpio_portable_ascii", cpio), ("cramfs", cramfs), ("zip", archive)):
        meta = read_metadata(handler, image)
        assert meta is not None, handler
        assert meta["etc/passwd"].size == 30, (handler, meta["etc/passwd"])
        assert meta["etc/sh"].size is None, handler


def test_an_extraction_over_the_memory_limit_says_so(tmp_path: Path):
    """--max-memory caps each extraction process's address space: below what the extractor
    needs, extraction stops with that limit named, not an errno or "nothing found"."""
    need_tools("cpio")
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    image = _cpio(tree, tmp_path / "t.cpio")
    proc = firmproof("scan", image, "-q", "-o", tmp_path / "r.json", "--max-memory", "64M")
    assert proc.returncode == 2, proc.stderr
    assert "1 container(s) found (cpio), none could be unpacked" in proc.stderr
    assert "memory limit of 67,108,864 bytes reached" in proc.stderr
    assert "Traceback" not in proc.stderr and "Errno" not in proc.stderr
    proc = firmproof("scan", image, "-q", "-o", tmp_path / "r.json", "--max-memory", "2G")
    assert proc.returncode == 0, proc.stderr


def test_many_small_files_are_charged_what_they_take_on_disk(tmp_path: Path):
    """3,000 files of a few bytes are 12 MB of disk blocks: under a 4 MiB budget the SquashFS
    writer stops at about 1,000 files, names what it left out and the scan is incomplete
    (counting apparent sizes, it wrote them all and the work folder outgrew its budget)."""
    need_tools("mksquashfs")
    tree = tmp_path / "tree"
    (tree / "bulk").mkdir(parents=True)
    for i in range(3000):
        (tree / "bulk" / f"f{i:04d}").write_bytes(b"x" * (i % 5))
    image = pack(tree, "squashfs-xz", tmp_path / "many.sqfs")
    work = tmp_path / "work"
    work.mkdir()
    proc = firmproof("scan", image, "-q", "-o", tmp_path / "r.json", "--max-bytes", "4M",
                     "--workdir", work, "--keep")
    assert proc.returncode == 3, proc.stderr
    written = [p for p in work.rglob("f*") if p.is_file()]
    assert 900 <= len(written) <= 1024, len(written)
    errors = [e["error"] for e in json.loads((tmp_path / "r.json").read_text())["unpack"]["errors"]]
    assert any("files counted in 4 KiB blocks" in e for e in errors), errors


def test_identical_nested_containers_are_unpacked_once(tmp_path: Path):
    """A zip of four identical zips, each of four identical zips, …: the bytes of a nested file
    already searched are not unpacked again (their findings would be the same); the report
    names each copy and the one it repeats. Distinct copies are still each unpacked."""
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n")
    data, name = inner.getvalue(), "inner.zip"
    for level in range(4):
        outer = io.BytesIO()
        with zipfile.ZipFile(outer, "w", zipfile.ZIP_STORED) as archive:
            for copy in range(4):
                archive.writestr(f"{copy}-{name}", data)
        data, name = outer.getvalue(), f"level{level}.zip"
    image = tmp_path / "nested.zip"
    image.write_bytes(data)
    proc = firmproof("scan", image, "-q", "-o", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr
    used = json.loads((tmp_path / "r.json").read_text())["coverage"]["used"]
    # 3 copies at each of the 3 levels of zips within the image (the innermost zips, of a few
    # hundred bytes, are below the size at which a file is searched for containers at all)
    assert used["identical_not_unpacked"] == 3 * 3, used
    first = used["identical"][0]
    assert first["path"].endswith("1-level2.zip") and first["same_as"].endswith("0-level2.zip")


def _distinct_nest(levels: int, fan: int, tag: str = "n") -> bytes:
    """A zip of `fan` zips of `fan` zips … `levels` deep, every one of them distinct (no copy
    to collapse): fan ** levels leaves of a few hundred bytes, a container each."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for i in range(fan):
            name = f"{tag}{i}"
            if levels > 1:
                archive.writestr(f"{name}.zip", _distinct_nest(levels - 1, fan, name))
            else:
                archive.writestr(f"{name}.txt", "".join(f"leaf {name} line {n}\n" for n in range(200)))
    return buffer.getvalue()


def test_a_nest_of_distinct_containers_stops_at_the_container_limit(tmp_path: Path):
    """Distinct copies defeat the identical-copy rule; the container budget bounds them. The
    stop is a sentence and a reached limit, the scan incomplete (exit 3)."""
    image = tmp_path / "nest.zip"
    image.write_bytes(_distinct_nest(4, 3))            # 1 + 3 + 9 + 27 zips
    proc = firmproof("scan", image, "-q", "-o", tmp_path / "r.json", "--max-containers", "12")
    assert proc.returncode == 3, proc.stderr
    assert "Traceback" not in proc.stderr
    report = json.loads((tmp_path / "r.json").read_text())
    coverage = report["coverage"]
    assert coverage["limits"]["container_budget"] == 12 and coverage["limits"]["max_containers"] == 12
    assert coverage["used"]["containers"] == 12
    assert "containers" in coverage["limits"]["reached"]
    (stop,) = [i for i in coverage["incomplete"] if "container limit" in i["reason"]]
    assert stop["kind"] == "limit"
    assert "unpacking stopped: container limit of 12 containers reached" in stop["reason"]
    # the same nest under the default budget (1,000 for an image this small) is unpacked whole
    proc = firmproof("scan", image, "-q", "-o", tmp_path / "whole.json")
    assert proc.returncode == 0, proc.stderr
    used = json.loads((tmp_path / "whole.json").read_text())["coverage"]["used"]
    assert used["containers"] == 40


def test_the_default_container_budget_grows_with_the_image():
    from firmproof.config import Limits

    limits = Limits()
    assert limits.container_budget(4 << 20) == 1000
    assert limits.container_budget(64 << 20) == (64 << 20) // 8192
    assert limits.container_budget(2 << 30) > 250_000
    assert Limits(max_containers=5).container_budget(2 << 30) == 5
