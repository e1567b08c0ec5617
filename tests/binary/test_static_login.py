"""FP-HCRED-001 in static, stripped programs: login_master linked static by every toolchain of the
variants (MIPS in both byte orders at -O0, -Os and -O2), whose strcmp has no name, is found by
what its compare does (a call passing the input and the literal to a function of the program
that reaches no system call); packed with upx too, in a file system. Its decoy, the same login
reading the master password from a configuration file (src/login_config.c), is not reported."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import need_tools, scan_report

from firmproof.analyzers.hardcoded import Hardcoded
from firmproof.device.binary import Executable
from firmproof.device.binary.elf import parse
from firmproof.fs.rootfs import RootFS
from firmproof.model import Severity
from firmproof.testing.fixtures import pack

from .conftest import unpacked_evidence, verify_holds

MASTER = b"Xm4st3r_k3y!2017"
CASES = [("mips", "-O0"), ("mips", "-Os"), ("mips", "-O2"), ("mipsel", "-O0"), ("mipsel", "-Os"),
         ("mipsel", "-O2"), ("armel", "-Os"), ("aarch64", "-Os"), ("i686", "-O0"), ("x86-64", "-Os"),
         ("musl", "-O2")]
Build = Callable[[str, str, str], Path]


def _findings(data: bytes) -> list:
    return list(Hardcoded().run(RootFS.from_files({"/bin/login": data})))


@pytest.mark.parametrize(("toolchain", "opt"), CASES)
def test_static_master_password_is_found(static_build: Build, toolchain: str, opt: str) -> None:
    data = static_build("login_master", toolchain, opt).read_bytes()
    exe = Executable("/bin/login", "x", data, parse(data))
    assert exe.static and not exe.imports and exe.hardening.stripped
    (finding,) = _findings(data)
    assert finding.rule.id == "FP-HCRED-001" and finding.severity is Severity.HIGH
    assert finding.evidence.offset == data.index(MASTER + b"\0") and finding.evidence.length == len(MASTER)
    details = finding.details
    assert details["literal"] == MASTER.decode() and details["compare"].startswith("fcn.")
    # the compare is named by its address, a call site passes it the literal
    target = int(details["compare"].removeprefix("fcn."), 16)
    sites = {int(s, 16) for s in details["sites"]}
    assert sites and all(c.target == target for c, _, ref in exe.compares_with_string()
                         if c.site in sites and ref.offset == finding.evidence.offset)


@pytest.mark.parametrize(("toolchain", "opt"), CASES)
def test_static_master_password_read_from_a_file_is_not_reported(static_build: Build, toolchain: str,
                                                                 opt: str) -> None:
    """The input is compared with what /etc/login.conf says; the build tag, which reads like a
    secret, is printed (puts reaches a system call: no compare); `master=`, compared, is a key."""
    data = static_build("login_config", toolchain, opt).read_bytes()
    assert b"Bld_7f3a9c2e-r2017\0" in data
    assert _findings(data) == []


def test_static_compares_are_known_by_what_they_do(static_build: Build) -> None:
    """At -O0 the decoy's strncmp(line, "master=", 7) is a compare of the program; puts, which
    prints the build tag, reaches a system call and is none."""
    data = static_build("login_config", "mips", "-O0").read_bytes()
    exe = Executable("/bin/login", "x", data, parse(data))
    compared = {ref.text for _, _, ref in exe.compares_with_string()}
    assert "master=" in compared and "Bld_7f3a9c2e-r2017" not in compared


def test_static_mips_packed_programs_in_a_file_system(static_build: Build, tmp_path: Path) -> None:
    """Static MIPS logins packed with upx (big- and little-endian) in a SquashFS root: the master
    password is found in the program `upx -d` gives back, at its bytes, and verify holds; the
    packed decoy gives nothing."""
    need_tools("upx", "mksquashfs")
    placed = {"usr/sbin/loginbe": ("login_master", "mips", "-O2"),
              "usr/sbin/loginle": ("login_master", "mipsel", "-Os"),
              "usr/sbin/logincf": ("login_config", "mips", "-O2")}
    tree = tmp_path / "rootfs"
    for rel, build in placed.items():
        target = tree / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["upx", "-q", "-o", str(target), str(static_build(*build))], check=True,
                       capture_output=True)
    (tree / "etc").mkdir()
    (tree / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    image = pack(tree, "squashfs-xz", tmp_path / "fw.sqfs")
    report = scan_report(image, tmp_path)
    assert report["coverage"]["incomplete"] == []
    hits = [f for f in report["findings"] if f["rule"] == "FP-HCRED-001"]
    assert sorted(f["container"][2] for f in hits) == ["/usr/sbin/loginbe", "/usr/sbin/loginle"]
    for finding in hits:
        assert unpacked_evidence(finding, tree / finding["container"][2].lstrip("/"), tmp_path) == MASTER
    verify_holds(report, image, tmp_path)
