"""Through the CLI: cross-compiled backdoors and decoys in a real SquashFS image, or each given alone."""

from __future__ import annotations

import hashlib
import os
import struct
from pathlib import Path

import pytest
from conftest import firmproof, need_tools, scan_report

from firmproof.testing.fixtures import pack
from tests.variants.families.compiled import SOURCES, Program

PLACED = {
    # path in the image -> (program, toolchain, opt, stripped)
    "usr/sbin/udpd": ("udp_trigger", "mipsel", "-O2", True),
    "usr/sbin/httpd": ("httpd_ua", "mips", "-O2", True),
    "bin/login": ("login_master", "arm", "-O0", False),
    "usr/bin/loginx": ("login_master", "x86-64", "-O2", True),
    "usr/sbin/echod": ("udp_echo", "mipsel", "-O2", True),
    "usr/sbin/ntpc": ("ntp_client", "arm", "-O2", False),
    "bin/checkpw": ("login_hash", "mips", "-O2", False),
    "usr/bin/setpw": ("usage_only", "aarch64", "-O0", True),
}


def _rules(finding: dict) -> list[str]:
    return [finding["rule"], *finding["details"].get("also", ())]


def test_binary_rules_through_the_cli(builds, tmp_path):
    need_tools("mksquashfs")
    tree = tmp_path / "rootfs"
    for rel, key in PLACED.items():
        target = tree / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(builds[key].data)
        target.chmod(0o755)
    (tree / "etc").mkdir()
    (tree / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    image = pack(tree, "squashfs-xz", tmp_path / "fw.sqfs")
    report = scan_report(image, tmp_path)
    # a rule whose bytes another rule reports too (the D-Link literal is also FP-KNOWN-001's)
    # is named in that finding's details.also
    wanted = ("FP-HCRED", "FP-TRIG", "FP-ELF")
    findings = [f for f in report["findings"] if any(r.startswith(wanted) for r in _rules(f))]
    got = sorted((r, f["path"]) for f in findings for r in _rules(f) if r.startswith(wanted))
    assert got == [("FP-ELF-001", "/bin/checkpw"),
                   ("FP-HCRED-001", "/bin/login"), ("FP-HCRED-001", "/usr/bin/loginx"),
                   ("FP-HCRED-001", "/usr/sbin/httpd"), ("FP-TRIG-001", "/usr/sbin/udpd")]
    for finding in findings:
        data = (tree / finding["path"].lstrip("/")).read_bytes()
        ev = finding["evidence"]
        assert ev["sha256"] == hashlib.sha256(data).hexdigest()
        span = data[ev["offset"]:ev["offset"] + ev["length"]]
        if "FP-HCRED-001" in _rules(finding):
            assert span == finding["details"]["literal"].encode()
        elif finding["rule"] == "FP-TRIG-001":
            assert span == finding["details"]["command"].encode()
        else:
            # the ELF header and program header table of a 32-bit program (MIPS BE here)
            order = ">" if data[5] == 2 else "<"
            phoff, = struct.unpack_from(order + "I", data, 28)
            phnum, = struct.unpack_from(order + "H", data, 44)
            assert ev["offset"] == 0 and span == data[:phoff + 32 * phnum]
    trigger = next(f for f in findings if f["rule"] == "FP-TRIG-001")
    assert trigger["details"]["magic"] == "w302r_mfg_open" and trigger["category"] == "service.hidden-trigger"
    assert {f["details"]["literal"] for f in findings if "FP-HCRED-001" in _rules(f)} == {
        "Xm4st3r_k3y!2017", "xmlset_roodkcableoj28840ybtide"}
    assert not [e for e in report["errors"] if e["analyzer"] in ("hardening", "hardcoded", "triggers")]


@pytest.mark.parametrize(("key", "rule"), [
    (("udp_trigger", "mipsel", "-O2", True), "FP-TRIG-001"),
    (("login_master", "x86-64", "-O2", True), "FP-HCRED-001"),
    (("udp_echo", "arm", "-O2", False), None),          # a decoy: compares 'PING', runs nothing
])
def test_a_program_given_as_the_image_is_its_own_layer(builds, tmp_path, key, rule):
    """A lab often holds one daemon pulled from a device: the program given as the image is
    read as `/<its name>` (no longer 'none could be unpacked', exit 2), and verify re-derives
    every finding from it."""
    image = tmp_path / key[0]
    image.write_bytes(builds[key].data)
    report = scan_report(image, tmp_path)
    assert [c["path"] for c in report["unpack"]["containers"]] == ["elf@0x0"]
    assert report["unpack"]["files"] == 1 and report["unpack"]["bytes"] == len(builds[key].data)
    got = {r for f in report["findings"] for r in _rules(f) if r.startswith(("FP-TRIG", "FP-HCRED"))}
    assert got == ({rule} if rule else set())
    for finding in report["findings"]:
        assert finding["path"] == f"/{key[0]}"
        ev = finding["evidence"]
        assert ev["sha256"] == hashlib.sha256(builds[key].data).hexdigest()
    proc = firmproof("verify", tmp_path / "report.json", image)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_a_truncated_program_as_the_image_is_refused_clearly(builds, tmp_path):
    """Cut short, the program is no whole ELF chunk: exit 2, and a message that says so."""
    data = builds[("udp_trigger", "mipsel", "-O2", True)].data
    image = tmp_path / "udpd.cut"
    image.write_bytes(data[:len(data) // 2])
    proc = firmproof("scan", image, "-o", tmp_path / "r.json", "-q")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
    assert proc.stderr.strip() == \
        "firmproof: udpd.cut: an ELF file that is no whole program (cut short or damaged): not read"


@pytest.mark.parametrize(("member", "toolchain", "opt", "static", "rule"), [
    ("bind-fork-execve", "mipsel", "-O2", False, "FP-SVC-008"),
    ("connect-back", "aarch64", "-Os", True, "FP-SVC-009"),
    ("bind-fork-execve", "x86-64", "-Os", "upx", "FP-SVC-008"),     # static, packed with UPX
    ("connect-log", "x86-64", "-O2", False, None),      # decoys: connects and sends a log line,
    ("udp-echo", "mips", "-Os", True, None),            # answers on a port, runs nothing
])
def test_a_shell_program_given_alone_is_reported_not_reached(tmp_path, member, toolchain, opt, static, rule):
    """No boot chain says whether a program given alone starts, and nothing says it does not:
    its bind or connect-back shell is reported at the shell string, marked not reached."""
    image = tmp_path / member
    program = Program(SOURCES[member], toolchain, opt, bool(static), packed=static == "upx")
    image.write_bytes(Path(os.fspath(program)).read_bytes())
    report = scan_report(image, tmp_path)
    shells = [f for f in report["findings"] if f["category"] == "service.remote-shell"]
    if rule is None:
        assert shells == []
        return
    (finding,) = shells
    name = f"/{member}.elf" if static == "upx" else f"/{member}"     # upx -d's output: `<name>.elf`
    assert finding["rule"] == rule and finding["severity"] == "critical" and finding["path"] == name
    assert finding["details"]["reached"] is False and "given alone" in finding["title"]
    assert report["unpack"]["containers"][0]["path"] == "elf@0x0"
    assert firmproof("verify", tmp_path / "report.json", image).returncode == 0
    if static != "upx":     # (packed: the evidence is in the program upx -d unpacks)
        data = image.read_bytes()
        ev = finding["evidence"]
        assert data[ev["offset"]:ev["offset"] + ev["length"]] == b"/bin/sh"
