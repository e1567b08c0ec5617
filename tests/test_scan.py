"""End to end: images built with the real tools, scanned through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import firmproof, need_tools, scan_report

from firmproof.model import Category
from firmproof.testing.demo import DECOYS, PLANTS, build_image

# what each plant must produce: (category, path)
EXPECTED = {
    "weak-root-password": (Category.WEAK_PASSWORD.value, "/etc/shadow"),
    "telnetd-shell": (Category.REMOTE_SHELL.value, "/etc/init.d/rcS"),
    "serial-root-shell": (Category.DEBUG_CONSOLE.value, "/etc/inittab"),
    "authorized-key": (Category.AUTHORIZED_KEY.value, "/root/.ssh/authorized_keys"),
    "private-key": (Category.PRIVATE_KEY.value, "/etc/ssl/private/server.key"),
    "setuid-shell": (Category.SUID.value, "/usr/bin/.sysd"),
    "nc-bind-shell": (Category.REMOTE_SHELL.value, "/etc/init.d/rcS"),
}
FORMATS = ["squashfs-xz", "squashfs-gzip", "cramfs", "jffs2", "ubi", "cpio-newc-gz", "ext4", "tar-gz", "zip"]


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    need_tools("mksquashfs", "mkimage", "openssl", "ssh-keygen")
    root = tmp_path_factory.mktemp("images")
    return {fmt: build_image(root / f"{fmt}.bin", fmt=fmt, wrap_uimage=fmt.startswith(("squashfs", "cramfs")))
            for fmt in FORMATS}



@pytest.mark.parametrize("fmt", FORMATS)
def test_every_plant_is_found_in_every_format(images: dict[str, Path], fmt: str, tmp_path: Path):
    report = scan_report(images[fmt], tmp_path)
    places = {(f["category"], f["path"]) for f in report["findings"]}
    for plant in PLANTS:
        category, path = EXPECTED[plant]
        assert any(c == category and p.endswith(path) for c, p in places), (plant, fmt, sorted(places))


@pytest.mark.parametrize("fmt", ["squashfs-xz", "cpio-newc-gz", "ext4"])
def test_evidence_points_at_the_bytes(images: dict[str, Path], fmt: str, tmp_path: Path):
    report = scan_report(images[fmt], tmp_path, "--workdir", str(tmp_path), "--keep")
    assert report["findings"]
    for finding in report["findings"]:
        ev = finding["evidence"]
        assert ev["length"] > 0 and ev["offset"] >= 0
        assert len(ev["sha256"]) == 64
        assert finding["path"].startswith("/")
        assert finding["container"][0] == images[fmt].name


def test_clean_image_has_no_critical_findings(tmp_path: Path):
    need_tools("mksquashfs", "mkimage")
    image = build_image(tmp_path / "clean.bin", plants=(), decoys=DECOYS)
    report = scan_report(image, tmp_path)
    bad = [f for f in report["findings"] if f["severity"] in ("critical", "high")]
    assert bad == [], json.dumps(bad, indent=1)


def test_report_follows_the_contract_and_is_deterministic(images: dict[str, Path], tmp_path: Path):
    first = scan_report(images["squashfs-xz"], tmp_path)
    (tmp_path / "report.json").unlink()
    second = scan_report(images["squashfs-xz"], tmp_path)
    assert first["schema"] == "firmproof.report/1"
    assert set(first) == {"schema", "tool", "image", "unpack", "findings", "errors", "coverage", "stats"}
    # the contract's image fields, and firmproof's own `guessed`: what the image says it is
    # (here the uImage header's name and time), each with its bytes
    assert set(first["image"]) == {"name", "sha256", "size", "vendor", "product", "version", "guessed"}
    assert set(first["image"]["guessed"]) == {"product", "release_date"}
    assert set(first["unpack"]) == {"files", "bytes", "depth", "containers", "errors"}
    assert first["findings"] == second["findings"]
    assert [f["id"] for f in first["findings"]] == [f["id"] for f in second["findings"]]
    assert first["unpack"]["containers"][0]["format"] == "uimage"
    for finding in first["findings"]:
        assert set(finding) == {"id", "rule", "category", "severity", "title", "path", "container",
                                "evidence", "details", "references"}


def test_fail_on_sets_the_exit_code(images: dict[str, Path], tmp_path: Path):
    proc = firmproof("scan", images["squashfs-xz"], "-q", "-o", tmp_path / "r.json", "--fail-on", "high")
    assert proc.returncode == 1, proc.stderr
    proc = firmproof("scan", images["squashfs-xz"], "-q", "-o", tmp_path / "r.json")
    assert proc.returncode == 0, proc.stderr


def test_nested_three_levels(tmp_path: Path):
    """zip → tar.gz → uImage → squashfs: the findings come from the innermost tree."""
    need_tools("mksquashfs", "mkimage")
    from firmproof.testing.fixtures import pack

    inner = build_image(tmp_path / "inner" / "fw.bin", plants=("telnetd-shell",), decoys=())
    level2 = pack(inner.parent, "tar-gz", tmp_path / "level2.tar.gz")
    staging = tmp_path / "staging"
    staging.mkdir()
    level2.rename(staging / "update.tar.gz")
    outer = pack(staging, "zip", tmp_path / "outer.zip")
    report = scan_report(outer, tmp_path)
    hits = [f for f in report["findings"] if f["category"] == "service.remote-shell"]
    assert hits, report["unpack"]
    assert len(hits[0]["container"]) >= 6
    assert report["unpack"]["depth"] >= 4


def test_rules_command_lists_every_rule():
    proc = firmproof("rules", "--json", check=True)
    rules = json.loads(proc.stdout)
    ids = [r["id"] for r in rules]
    assert len(ids) == len(set(ids)) >= 10
    for r in rules:
        assert r["why"] and r["confirm"] and r["category"] in {c.value for c in Category}
