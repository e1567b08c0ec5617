"""FP-SUID rules: the first bytes of the file are the evidence; mode and owner are details."""

from __future__ import annotations

import pytest

from firmproof.analyzers.suid import Setuid, expected_setuid
from firmproof.fs.rootfs import RootFS
from firmproof.model import Severity


def run(fs: RootFS, rule_id: str | None = None):
    return [f for f in Setuid().run(fs) if rule_id is None or f.rule.id == rule_id]


def evidence(fs: RootFS, finding) -> bytes:
    data = fs.read(finding.path)
    assert data is not None
    return data[finding.evidence.offset:finding.evidence.offset + finding.evidence.length]


# FP-SUID-001 ---------------------------------------------------------------------------

def test_fp_suid_001_copy_of_the_shell_under_another_name(elf_programs):
    shell = elf_programs["execonly"]          # stands for /bin/dash: any real ELF will do
    fs = RootFS.from_files({"/bin/dash": shell, "/usr/bin/.sysd": shell},
                           modes={"/bin/dash": 0o755, "/usr/bin/.sysd": 0o4755},
                           links={"/bin/sh": "dash"})
    (finding,) = run(fs, "FP-SUID-001")
    assert finding.path == "/usr/bin/.sysd" and finding.severity is Severity.CRITICAL
    assert evidence(fs, finding) == shell[:16] and shell[:4] == b"\x7fELF"
    assert finding.evidence.offset == 0 and finding.evidence.length == 16
    assert finding.details["mode"] == "4755" and finding.details["uid"] == 0
    assert finding.details["meta_source"] == "fs"
    assert "/bin/sh" in finding.details["shell"]


def test_fp_suid_001_by_name_and_by_version_string(elf_programs):
    fs = RootFS.from_files({"/tmp/.x/sh": elf_programs["execonly"],
                            "/usr/local/bin/helper": elf_programs["bashlike"],
                            "/sbin/mtd_debug": elf_programs["bashlike"]},
                           modes={"/tmp/.x/sh": 0o4755, "/usr/local/bin/helper": 0o6711,
                                  "/sbin/mtd_debug": 0o755})
    found = {f.path: f for f in run(fs, "FP-SUID-001")}
    assert found.keys() == {"/tmp/.x/sh", "/usr/local/bin/helper"}
    assert found["/tmp/.x/sh"].details["shell"] == "named sh"
    assert "GNU bash" in found["/usr/local/bin/helper"].details["shell"]
    assert found["/usr/local/bin/helper"].details["setgid"] is True


def test_fp_suid_001_busybox_copy_under_another_name(elf_programs):
    fake_busybox = elf_programs["execonly"] + b"BusyBox v1.36.1 (2023-01-01) multi-call binary.\0"
    fs = RootFS.from_files({"/usr/bin/.sysd": fake_busybox}, modes={"/usr/bin/.sysd": 0o4755})
    (finding,) = run(fs, "FP-SUID-001")
    assert evidence(fs, finding) == fake_busybox[:16]


# FP-SUID-002 ---------------------------------------------------------------------------

def test_fp_suid_002_unexpected_setuid_root_program(elf_programs):
    data = elf_programs["udpecho"]
    fs = RootFS.from_files({"/usr/sbin/debugd": data, "/tmp/su": data, "/usr/bin/cfgtool": data},
                           modes={"/usr/sbin/debugd": 0o4755, "/tmp/su": 0o4755, "/usr/bin/cfgtool": 0o2755})
    found = {f.path: f for f in run(fs, "FP-SUID-002")}
    assert found.keys() == {"/usr/sbin/debugd", "/tmp/su", "/usr/bin/cfgtool"}
    debugd = found["/usr/sbin/debugd"]
    assert evidence(fs, debugd) == data[:16]
    assert debugd.severity is Severity.MEDIUM and debugd.details["setuid"] is True
    assert "usually" in found["/tmp/su"].details["note"]
    assert found["/usr/bin/cfgtool"].details == {**found["/usr/bin/cfgtool"].details,
                                                 "mode": "2755", "setuid": False, "setgid": True}


def test_fp_suid_002_decoys(elf_programs):
    data = elf_programs["udpecho"]
    fs = RootFS.from_files(
        {"/bin/su": data, "/usr/bin/passwd": data, "/usr/bin/ping": data, "/sbin/unix_chkpwd": data,
         "/usr/lib/x86_64-linux-gnu/utempter/utempter": data,
         "/opt/app/bin/tool": data, "/usr/bin/chage": data, "/usr/bin/plain": data,
         "/usr/bin/suid-script": b"#!/bin/sh\nid\n"},
        modes={"/bin/su": 0o4755, "/usr/bin/passwd": 0o4755, "/usr/bin/ping": 0o4755,
               "/sbin/unix_chkpwd": 0o2755, "/usr/lib/x86_64-linux-gnu/utempter/utempter": 0o2755,
               "/opt/app/bin/tool": 0o4755, "/usr/bin/chage": 0o2755, "/usr/bin/plain": 0o755,
               "/usr/bin/suid-script": 0o4755},
        owners={"/opt/app/bin/tool": (1000, 1000), "/usr/bin/chage": (0, 42),
                "/usr/lib/x86_64-linux-gnu/utempter/utempter": (0, 0)})
    assert run(fs) == []


# FP-SUID-003 ---------------------------------------------------------------------------

def test_fp_suid_003_setuid_busybox(elf_programs):
    busybox = elf_programs["execonly"] + b"BusyBox v1.19.4 (2015-12-16) multi-call binary.\0"
    fs = RootFS.from_files({"/bin/busybox": busybox}, modes={"/bin/busybox": 0o4755},
                           links={"/bin/sh": "busybox"})
    (finding,) = run(fs)
    assert finding.rule.id == "FP-SUID-003" and finding.severity is Severity.MEDIUM
    assert evidence(fs, finding) == busybox[:16]
    assert "applet" in finding.details["note"]


def test_fp_suid_003_decoy_busybox_without_setuid(elf_programs):
    fs = RootFS.from_files({"/bin/busybox": elf_programs["execonly"]}, modes={"/bin/busybox": 0o755},
                           links={"/bin/sh": "busybox"})
    assert run(fs) == []


@pytest.mark.parametrize("name", ["su", "passwd", "ping", "unix_chkpwd", "fusermount3", "Xorg.wrap"])
def test_expected_list_has_the_usual_programs(name):
    assert name in expected_setuid()
