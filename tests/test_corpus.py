"""Real third-party firmware of the shared corpus, end to end through the CLI.

Each test skips, saying so, where the corpus is absent; every feature checked here also has
tests on images built at test time. Ground truth is the corpus manifest's.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path

import pytest
from conftest import CORPUS, corpus_file, firmproof, scan_report

pytestmark = pytest.mark.corpus

STOCK = "tplink_tl-wr841n-v14-eu_stock_2023.bin"
REBUILT = "tplink_tl-wr841n-v14-eu_MODIFIED_bindshell9999.bin"


def _by_rule(report: dict, rule: str) -> list[dict]:
    return [f for f in report["findings"] if f["rule"] == rule]


def test_the_rebuilt_tplink_image_starts_its_bind_shell_from_rcs(tmp_path: Path):
    report = scan_report(corpus_file(REBUILT), tmp_path)
    (finding,) = _by_rule(report, "FP-SVC-008")
    assert finding["path"] == "/etc/init.d/rcS" and finding["severity"] == "critical"
    assert finding["details"]["binary"] == "/bin/backdoor"
    assert finding["evidence"]["excerpt"].startswith("/bin/backdoor")
    assert finding["container"][-1].startswith("squashfs@0x100200")


def test_the_stock_tplink_image_has_no_bind_shell(tmp_path: Path):
    report = scan_report(corpus_file(STOCK), tmp_path)
    assert not _by_rule(report, "FP-SVC-008")
    assert not [f for f in report["findings"] if f["category"] == "service.remote-shell"
                and f["severity"] == "critical"]


def test_the_xiongmai_custom_partition_starts_telnetd(tmp_path: Path):
    report = scan_report(corpus_file("xiongmai_gm8135s_ipc_custom_MODIFIED_telnetd.cramfs.img"), tmp_path)
    (finding,) = _by_rule(report, "FP-SVC-002")
    assert finding["path"] == "/extapp.sh"
    assert "telnetd -F" in finding["evidence"]["excerpt"]
    assert [c["format"] for c in report["unpack"]["containers"]] == ["uimage", "cramfs"]


def test_the_openwrt_control_image_has_nothing_critical_or_high(tmp_path: Path):
    report = scan_report(corpus_file("librarybox-2.1_openwrt_tl-mr3020-v1_squashfs-factory.bin"), tmp_path)
    assert report["unpack"]["errors"] == [] and report["errors"] == []
    loud = [(f["rule"], f["path"]) for f in report["findings"] if f["severity"] in ("critical", "high")]
    assert loud == []
    assert {"/etc/init.d/telnet", "/lib/preinit/99_10_failsafe_login"} <= {
        f["path"] for f in _by_rule(report, "FP-SVC-002")}


def test_the_trendnet_config_daemon_is_not_a_bind_shell(tmp_path: Path):
    report = scan_report(corpus_file("trendnet_tew-733gr_v1.02b01_rootfs_squashfs-lzma.squashfs"), tmp_path)
    assert not _by_rule(report, "FP-SVC-008")      # devconf: a TCP listener using system(), no dup2


@pytest.mark.parametrize(("image", "files"), [
    ("broadcom-bcm63xx-adsl-gateway_rootfs_squashfs-v2-be.bin", 400),
    ("trendnet_tew-733gr_v1.02b01_rootfs_squashfs-lzma.squashfs", 1800),
    ("tplink_tl-wr841n-v10_en_3.16.9_150310_up_boot.bin", 550),
    ("xiongmai_gm8135s_ipc_user_web_MODIFIED.cramfs.img", 150),
])
def test_vendor_images_unpack_to_their_root_without_errors(tmp_path: Path, image: str, files: int):
    report = scan_report(corpus_file(image), tmp_path)
    assert report["unpack"]["errors"] == []
    assert report["unpack"]["files"] >= files


def test_the_broadcom_image_opens_a_root_console(tmp_path: Path):
    report = scan_report(corpus_file("broadcom-bcm63xx-adsl-gateway_rootfs_squashfs-v2-be.bin"), tmp_path)
    consoles = {f["evidence"]["excerpt"] for f in _by_rule(report, "FP-CON-001")}
    assert "::respawn:-/bin/sh" in consoles
    (key,) = _by_rule(report, "FP-KEY-001")
    assert key["path"] == "/etc/rsa_host_key"


def test_an_obfuscated_rtos_image_is_incomplete_not_clean(tmp_path: Path):
    """Arcadyan-obfuscated: only the LZMA tail opens; the rest is high-entropy bytes no
    extractor reads, so the scan says incomplete (exit 3) instead of 'nothing found'."""
    out = tmp_path / "report.json"
    proc = firmproof("scan", corpus_file("linksys_wrt120n_1.0.07.002_us_obfuscated.bin"), "-o", out, "-q")
    assert proc.returncode == 3 and "Traceback" not in proc.stderr
    coverage = json.loads(out.read_text())["coverage"]
    (reason,) = coverage["incomplete"]
    assert reason["kind"] == "unexamined-bytes"
    assert coverage["examined_share"] < 0.5
    assert coverage["image"]["high_entropy"] > 900_000


CORPUS_IMAGES = sorted(p.name for p in CORPUS.glob("*") if p.suffix in (".bin", ".img", ".squashfs")) \
    if CORPUS.is_dir() else []


@pytest.mark.parametrize("image", CORPUS_IMAGES or ["(no corpus)"])
def test_every_corpus_image_is_complete_or_says_what_was_not_examined(tmp_path: Path, image: str):
    """Issue 13's bar: 0 unpack errors and a complete verdict, or an exit code of 3 and a
    coverage block that names each thing not examined."""
    out = tmp_path / "report.json"
    proc = firmproof("scan", corpus_file(image), "-o", out, "-q")
    assert proc.returncode in (0, 1, 3) and "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(out.read_text())
    coverage = report["coverage"]
    if proc.returncode != 3:
        assert coverage["complete"] and report["unpack"]["errors"] == [] and report["errors"] == []
    else:
        assert not coverage["complete"] and coverage["incomplete"]
        assert all(i["reason"] for i in coverage["incomplete"])


def test_evidence_of_every_corpus_finding_is_in_the_unpacked_file(tmp_path: Path):
    """The report's promise on real images: hash and bytes hold in the file the finding names."""
    image = corpus_file(REBUILT)
    work = tmp_path / "work"
    report = scan_report(image, tmp_path, "--workdir", str(work), "--keep")
    assert report["findings"]
    files = {}
    for host in work.rglob("*"):
        if host.is_file() and not host.is_symlink():
            files.setdefault(hashlib.sha256(host.read_bytes()).hexdigest(), host)
    for finding in report["findings"]:
        evidence = finding["evidence"]
        data = files[evidence["sha256"]].read_bytes()
        chunk = data[evidence["offset"]:evidence["offset"] + evidence["length"]]
        assert chunk.decode("latin-1").startswith(evidence["excerpt"].split("\\")[0][:20])


TRUTH = tomllib.loads((Path(__file__).parent / "corpus_truth.toml").read_text())["image"]


def _matches(finding: dict, entry: dict) -> bool:
    """`finding` is the one `entry` names, itself or as a rule it absorbed (`details.also`:
    two rules on the same bytes are one finding)."""
    rules = {finding["rule"], *finding.get("details", {}).get("also", ())}
    return ("rule" not in entry or entry["rule"] in rules) and all(
        finding.get(key) == entry[key] for key in ("category", "path") if key in entry)


@pytest.mark.parametrize("entry", TRUTH, ids=[t["file"] for t in TRUTH])
def test_the_truth_file(tmp_path: Path, entry: dict):
    """Every image: what it holds is found, and every high/critical finding is one the truth
    file calls true. Known false alarms are listed until fixed (the test fails once one goes,
    so that the list only shrinks)."""
    report = scan_report(corpus_file(entry["file"]), tmp_path, incomplete=entry.get("incomplete", False))
    findings = report["findings"]
    missed = [e for e in entry.get("expect", []) if not any(_matches(f, e) for f in findings)]
    assert missed == [], f"not found: {missed}"
    explained = entry.get("expect", []) + entry.get("true", [])
    loud = [f for f in findings if f["severity"] in ("critical", "high")]
    unexplained = [f for f in loud if not any(_matches(f, e) for e in explained)]
    known = entry.get("known_false", [])
    alarms = [(f["rule"], f["path"]) for f in unexplained if not any(_matches(f, e) for e in known)]
    assert alarms == [], f"high/critical findings the truth file does not call true: {alarms}"
    gone = [e for e in known if not any(_matches(f, e) for f in unexplained)]
    assert gone == [], f"known false alarms no longer reported (remove them from the truth file): {gone}"
