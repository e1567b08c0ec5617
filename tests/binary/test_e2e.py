"""Through the CLI: cross-compiled backdoors and decoys in a real SquashFS image."""

from __future__ import annotations

import hashlib
import struct

from conftest import need_tools, scan_report

from firmproof.testing.fixtures import pack

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
