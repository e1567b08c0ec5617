"""Coverage and the incomplete verdict: a scan says what it did not examine, and exits 3.

Images are built with the real tools (mksquashfs, mkfs.cramfs, mkfs.ext4, mkimage, openssl);
truncation is what a cut download or a partial flash dump does: the file ends early.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from conftest import firmproof, need_tools

from firmproof.config import Limits
from firmproof.fs.examined import Skipped
from firmproof.model import AnalyzerError, UnpackError
from firmproof.report.coverage import (
    FAILED,
    LIMIT,
    METADATA,
    MISSING,
    Region,
    Searched,
    build,
    error_kind,
    headline,
)
from firmproof.testing.demo import build_image
from firmproof.testing.fixtures import concat, pack, uimage

INCOMPLETE = 3


def scan(image: Path, tmp_path: Path, *extra: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    out = tmp_path / "report.json"
    proc = firmproof("scan", image, "-o", out, *extra)
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc, json.loads(out.read_text())


def summary(proc: subprocess.CompletedProcess[str]) -> list[str]:
    """The summary's lines (after the progress lines and the vulnerability database's notice)."""
    return [line for line in proc.stderr.splitlines()
            if not line.startswith(("unpacking ", "firmproof: no vulnerability database"))]


def after(part: Path) -> int:
    """The next 64 KiB boundary after `part`: where a flash layout puts the next partition."""
    return (part.stat().st_size + 0xFFFF) & ~0xFFFF


def cut(image: Path, share: float, out: Path) -> Path:
    """The first `share` of the image, as a broken download leaves it."""
    out.write_bytes(image.read_bytes()[:int(image.stat().st_size * share)])
    return out


@pytest.fixture(scope="module")
def router(tmp_path_factory: pytest.TempPathFactory) -> Path:
    need_tools("mksquashfs", "mkimage")
    return build_image(tmp_path_factory.mktemp("router") / "router.bin", plants=("telnetd-shell",), decoys=())


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small root file system with enough incompressible bytes to cut in the middle."""
    root = tmp_path_factory.mktemp("tree") / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (root / "bin").mkdir()
    (root / "bin" / "blob").write_bytes(os.urandom(256 * 1024))
    return root


# -- units -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("message", "kind"), [
    ("not unpacked: depth limit 8 reached", LIMIT),
    ("extraction stopped: byte limit reached (1048576 bytes extracted)", LIMIT),
    ("extraction stopped: time limit reached", LIMIT),
    ("unpacking stopped: file limit of 5 entries reached; 0 containers found and 2 files to search were left",
     LIMIT),
    ("7z stopped: byte limit reached while writing a file", LIMIT),
    ("missing extractor ubireader_extract_images", MISSING),
    ("metadata: inode table damaged", METADATA),
    ("7z exited 2: ERROR: Data Error", FAILED),
    ("SquashFS 4.0 file system truncated: its header declares 9 bytes, the file holds 5 of them", FAILED),
])
def test_each_unpack_error_has_a_kind(message: str, kind: str):
    assert error_kind(message) == kind


def test_unknown_bytes_are_told_apart(tmp_path: Path):
    """Filler (erased flash), high-entropy (encrypted) and other bytes outside the containers."""
    blob = tmp_path / "blob"
    parts = [b"\xff" * 65536, os.urandom(65536), b"#!/bin/sh\necho hello\n" * 3000, b"\x00" * 8192]
    blob.write_bytes(b"".join(parts))
    contained = len(parts[0]) + len(parts[1])
    searched = Searched("", blob, blob.stat().st_size,
                        [Region(contained, contained + len(parts[2]), "text", "unpacked")])
    searched.measure()
    assert searched.unknown == len(parts[0]) + len(parts[1]) + len(parts[3])
    assert searched.filler == len(parts[0]) + len(parts[3])
    assert searched.high_entropy == len(parts[1])
    assert searched.unpacked() == searched.identified() == len(parts[2])


def test_verdict_lists_every_reason(tmp_path: Path):
    blob = tmp_path / "img"
    blob.write_bytes(os.urandom(8192))
    image = Searched("", blob, 8192, [Region(0, 8192, "squashfs", "partial")])
    image.measure()
    skip = Skipped("squashfs@0x0", "/etc/rcS", "bootchain", 1 << 24, "a boot script larger than 2 MiB")
    coverage = build(image, [], Limits(), 1 << 26, {"bytes": 1, "files": 1, "depth": 1},
                     [UnpackError("squashfs@0x0", "extraction stopped: time limit reached")],
                     [AnalyzerError("keys", "squashfs@0x0", "ValueError: bad")],
                     [skip], files=1)
    assert not coverage.complete
    assert [i["kind"] for i in coverage.incomplete] == ["limit", "analysis-error", "file-skipped"]
    assert coverage.limits["reached"] == ["seconds"]
    assert coverage.incomplete[2]["path"] == "squashfs@0x0/etc/rcS"
    line = headline(coverage.to_json())
    assert line.startswith("incomplete (100% of the image examined): limit (1), analysis-error (1)")


# -- whole scans -------------------------------------------------------------------------------


def test_whole_image_is_complete(router: Path, tmp_path: Path):
    proc, report = scan(router, tmp_path)
    assert proc.returncode == 0, proc.stderr
    coverage = report["coverage"]
    assert coverage["complete"] and coverage["incomplete"] == []
    assert coverage["examined_share"] >= 0.99
    assert [c["format"] for c in coverage["image"]["containers"]] == ["uimage"]
    assert coverage["image"]["containers"][0]["status"] == "unpacked"
    assert coverage["limits"]["reached"] == [] and coverage["limits"]["max_files"] == Limits().max_files
    assert summary(proc)[0].startswith("complete: every container unpacked")


@pytest.mark.parametrize("fmt", ["squashfs-xz", "squashfs-gzip", "cramfs", "ext4"])
@pytest.mark.parametrize("share", [0.5, 0.9])
def test_a_cut_file_system_makes_the_scan_incomplete(router: Path, tree: Path, fmt: str, share: float,
                                                     tmp_path: Path):
    """A router image whose second partition is cut at `share` of its length."""
    need_tools("mksquashfs", "mkfs.cramfs", "mkfs.ext4")
    part = pack(tree, fmt, tmp_path / f"root.{fmt}")
    offset = after(router)
    whole = concat([(0, router), (offset, part)], tmp_path / "whole.bin")
    image = tmp_path / "cut.bin"
    image.write_bytes(whole.read_bytes()[:offset + int(part.stat().st_size * share)])
    proc, report = scan(image, tmp_path)
    assert proc.returncode == INCOMPLETE, proc.stderr
    coverage = report["coverage"]
    assert not coverage["complete"]
    reasons = [i["reason"] for i in coverage["incomplete"]]
    assert any("truncated: its header declares" in r for r in reasons), reasons
    assert summary(proc)[0].startswith("incomplete"), proc.stderr
    assert report["findings"], "the first partition is still read"


@pytest.mark.parametrize("fmt", ["squashfs-xz", "cramfs", "ext4"])
def test_a_cut_file_system_alone_is_unreadable(tree: Path, fmt: str, tmp_path: Path):
    need_tools("mksquashfs", "mkfs.cramfs", "mkfs.ext4")
    image = cut(pack(tree, fmt, tmp_path / f"root.{fmt}"), 0.5, tmp_path / "cut.bin")
    proc = firmproof("scan", image, "-q", "-o", tmp_path / "r.json")
    assert proc.returncode == 2, proc.stderr
    assert "truncated: its header declares" in proc.stderr and "Traceback" not in proc.stderr


@pytest.mark.parametrize("fmt", ["squashfs-xz", "cramfs", "ext4"])
def test_the_same_file_system_whole_is_no_truncation(tree: Path, fmt: str, tmp_path: Path):
    need_tools("mksquashfs", "mkfs.cramfs", "mkfs.ext4")
    image = pack(tree, fmt, tmp_path / f"root.{fmt}")
    proc, report = scan(image, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert report["coverage"]["complete"], report["coverage"]["incomplete"]
    assert proc.returncode != INCOMPLETE, proc.stderr


def test_a_cut_root_after_a_kernel_is_named(router: Path, tree: Path, tmp_path: Path):
    """Kernel (uImage) then root file system, cut in the root: the kernel is unpacked, the root
    is reported as truncated, and the exit code says incomplete, not clean."""
    need_tools("mksquashfs", "mkimage")
    kernel = uimage(router, tmp_path / "kernel.uimg", name="Linux kernel", image_type="kernel")
    root = pack(tree, "squashfs-xz", tmp_path / "root.sqfs")
    image = concat([(0, kernel), (after(kernel), root)], tmp_path / "flash.bin")
    proc, report = scan(cut(image, 0.9, tmp_path / "cut.bin"), tmp_path)
    assert proc.returncode == INCOMPLETE, proc.stderr
    containers = report["coverage"]["image"]["containers"]
    assert [(c["format"], c["status"]) for c in containers] == [("uimage", "unpacked"),
                                                               ("truncated_squashfs", "failed")]
    assert any(f["rule"].startswith("FP-SVC") for f in report["findings"])   # the kernel's tree is read


def test_a_cut_uimage_alone_is_unreadable(router: Path, tmp_path: Path):
    """Nothing but a cut uImage: no container could be unpacked at all (exit 2), and the
    message says why."""
    proc = firmproof("scan", cut(router, 0.6, tmp_path / "cut.bin"), "-q", "-o", tmp_path / "r.json")
    assert proc.returncode == 2
    assert "uImage 'firmproof demo router' truncated: its header declares" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.fixture(scope="module")
def damaged(router: Path, tree: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A router image whose second partition (a SquashFS) was cut off."""
    need_tools("mksquashfs")
    folder = tmp_path_factory.mktemp("damaged")
    root = pack(tree, "squashfs-xz", folder / "root.sqfs")
    return cut(concat([(0, router), (after(router), root)], folder / "whole.bin"), 0.95, folder / "cut.bin")


def test_encrypted_bytes_are_not_examined(router: Path, tmp_path: Path):
    """A root file system encrypted with a scheme no extractor knows: high-entropy unknown
    bytes, below the examined share, incomplete; the same image with erased flash is whole."""
    need_tools("openssl")
    secret = tmp_path / "rootfs.enc"
    subprocess.run(["openssl", "enc", "-aes-256-cbc", "-pbkdf2", "-pass", "pass:vendor", "-in", str(router),
                    "-out", str(secret)], check=True)
    big = tmp_path / "rootfs4.enc"
    big.write_bytes(secret.read_bytes() * 4)
    image = concat([(0, router), (after(router), big)], tmp_path / "enc.bin")
    proc, report = scan(image, tmp_path)
    assert proc.returncode == INCOMPLETE, proc.stderr
    coverage = report["coverage"]
    assert coverage["image"]["high_entropy"] >= big.stat().st_size - 8192
    assert [i["kind"] for i in coverage["incomplete"]] == ["unexamined-bytes"]
    assert "high-entropy" in coverage["incomplete"][0]["reason"]

    erased = tmp_path / "erased"
    erased.write_bytes(b"\xff" * big.stat().st_size)
    proc, report = scan(concat([(0, router), (after(router), erased)], tmp_path / "erased.bin"), tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert report["coverage"]["image"]["filler"] >= big.stat().st_size


def test_min_examined_is_the_users_to_set(router: Path, tmp_path: Path):
    need_tools("openssl")
    blob = tmp_path / "blob.enc"
    subprocess.run(["openssl", "enc", "-aes-256-cbc", "-pbkdf2", "-pass", "pass:x", "-in", str(router),
                    "-out", str(blob)], check=True)
    image = concat([(0, router), (after(router), blob)], tmp_path / "img.bin")
    proc, _report = scan(image, tmp_path, "--min-examined", "0.3")
    assert proc.returncode == 0, proc.stderr
    proc = firmproof("scan", image, "-q", "--min-examined", "1.5")
    assert proc.returncode == 2 and "between 0 and 1" in proc.stderr


def test_limits_reached_are_named_with_their_values(router: Path, tmp_path: Path):
    proc, report = scan(router, tmp_path, "--max-files", "3")
    assert proc.returncode == INCOMPLETE, proc.stderr
    limits = report["coverage"]["limits"]
    assert limits["max_files"] == 3 and "files" in limits["reached"]
    proc, report = scan(router, tmp_path, "--max-depth", "1")
    assert proc.returncode == INCOMPLETE, proc.stderr
    assert "depth" in report["coverage"]["limits"]["reached"]


def test_findings_at_fail_on_take_precedence_over_incomplete(router: Path, tmp_path: Path):
    image = cut(router, 0.999, tmp_path / "cut.bin")    # the uImage's data CRC breaks, nothing else
    proc, _report = scan(concat([(0, router), (after(router), image)], tmp_path / "two.bin"), tmp_path,
                         "--fail-on", "high")
    assert proc.returncode == 1, proc.stderr
    proc, _report = scan(tmp_path / "two.bin", tmp_path)
    assert proc.returncode == INCOMPLETE, proc.stderr


def test_quiet_scan_still_says_incomplete(damaged: Path, tmp_path: Path):
    proc = firmproof("scan", damaged, "-q", "-o", tmp_path / "r.json")
    assert proc.returncode == INCOMPLETE
    assert [line for line in proc.stderr.splitlines() if line.startswith("firmproof: incomplete")]


def test_a_boot_script_too_big_to_read_is_named(tmp_path: Path):
    """A boot script past the boot chain's bound is not silently passed over."""
    need_tools("mksquashfs")
    root = tmp_path / "root"
    (root / "etc" / "init.d").mkdir(parents=True)
    (root / "etc" / "inittab").write_text("::sysinit:/etc/init.d/rcS\n")
    filler = "echo booting\n" * (3 * 1024 * 1024 // 13)
    (root / "etc" / "init.d" / "rcS").write_text("#!/bin/sh\n" + filler + "telnetd -l /bin/sh\n")
    (root / "etc" / "init.d" / "rcS").chmod(0o755)
    (root / "bin").mkdir()
    image = pack(root, "squashfs-xz", tmp_path / "root.sqfs")
    proc, report = scan(image, tmp_path)
    assert proc.returncode in (1, INCOMPLETE), proc.stderr
    skips = report["coverage"]["files"]["skips"]
    assert ("/etc/init.d/rcS", "bootchain") in [(s["path"], s["analyzer"]) for s in skips]
    assert any(i["kind"] == "file-skipped" for i in report["coverage"]["incomplete"])


def test_sarif_and_html_carry_the_verdict(damaged: Path, tmp_path: Path):
    out = tmp_path / "r.sarif"
    proc = firmproof("scan", damaged, "-q", "--format", "sarif", "-o", out)
    assert proc.returncode == INCOMPLETE, proc.stderr
    invocation = json.loads(out.read_text())["runs"][0]["invocations"][0]
    first = invocation["toolExecutionNotifications"][0]
    assert first["descriptor"]["id"] == "coverage" and first["level"] == "error"
    assert first["message"]["text"].startswith("incomplete")
    assert invocation["properties"]["coverage"]["complete"] is False
    page = tmp_path / "r.html"
    proc = firmproof("scan", damaged, "-q", "--format", "html", "-o", page)
    assert proc.returncode == INCOMPLETE, proc.stderr
    html = page.read_text()
    assert 'class="verdict incomplete"' in html and "truncated" in html


def test_a_boot_script_of_one_huge_line_ends_in_bounded_time_and_says_so(tmp_path: Path):
    """30,000 commands on one line before a telnetd: the walk is linear in the line (it was
    quadratic: every command looked at every other on its line) and, past its step bound,
    names the script it did not follow to the end instead of passing for clean."""
    need_tools("mksquashfs")
    root = tmp_path / "root"
    (root / "etc" / "init.d").mkdir(parents=True)
    (root / "bin").mkdir()
    (root / "etc" / "inittab").write_text("::sysinit:/etc/init.d/rcS\n")
    rcs = root / "etc" / "init.d" / "rcS"
    rcs.write_text("#!/bin/sh\n" + "echo booting; " * 30_000 + "telnetd -l /bin/sh\n")
    rcs.chmod(0o755)
    image = pack(root, "squashfs-xz", tmp_path / "root.sqfs")
    started = time.monotonic()
    proc, report = scan(image, tmp_path)
    assert time.monotonic() - started < 120
    telnetd = [f for f in report["findings"] if f["rule"] == "FP-SVC-001"]
    if not telnetd:
        assert proc.returncode == INCOMPLETE, proc.stderr
        (skip,) = report["coverage"]["files"]["skips"]
        assert skip["path"] == "/etc/init.d/rcS" and "20,000 steps" in skip["reason"]


def test_a_telnetd_at_the_end_of_a_10_mb_line_is_found_with_its_own_bytes(tmp_path: Path):
    """A boot script line of 10 MB (one huge word, then 200,000 words) ending in a telnetd:
    the telnetd is found, its evidence is the command (not the 10 MB line), and the scan is
    complete; a script beyond the token bound is named as not fully read."""
    need_tools("mksquashfs")
    root = tmp_path / "root"
    (root / "etc" / "init.d").mkdir(parents=True)
    (root / "bin").mkdir()
    (root / "bin" / "busybox").write_bytes(b"\x7fELF\x01\x01\x01" + b"\0" * 57)
    (root / "bin" / "telnetd").symlink_to("busybox")
    (root / "etc" / "inittab").write_text("::sysinit:/etc/init.d/rcS\n")
    rcs = root / "etc" / "init.d" / "rcS"
    rcs.write_text("#!/bin/sh\necho " + "x" * 10_000_000 + " " + "a " * 200_000
                   + "; /bin/telnetd -l /bin/sh &\n")
    rcs.chmod(0o755)
    image = pack(root, "squashfs-xz", tmp_path / "root.sqfs")
    proc, report = scan(image, tmp_path)
    (telnetd,) = [f for f in report["findings"] if f["rule"] == "FP-SVC-001"]
    assert telnetd["evidence"]["excerpt"] == "/bin/telnetd -l /bin/sh"
    assert telnetd["evidence"]["offset"] == rcs.read_bytes().index(b"/bin/telnetd")
    assert report["coverage"]["complete"], report["coverage"]["incomplete"]
    assert proc.returncode != INCOMPLETE, proc.stderr
