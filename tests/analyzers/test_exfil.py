"""FP-EXFIL-002 on the router architectures: the beacon of tests/rules/cases_exfil.py (whose
x86-64 build, jobs and decoys are in the rule table) cross-compiled at test time."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from firmproof.analyzers.exfil import Exfiltration
from firmproof.fs.rootfs import RootFS
from tests.conftest import tool
from tests.rules.cases_exfil import PROGRAMS

from .conftest import evidence_bytes


@pytest.mark.parametrize("compiler", ["mipsel-linux-gnu-gcc", "mips-linux-gnu-gcc",
                                      "arm-linux-gnueabi-gcc", "aarch64-linux-gnu-gcc"])
def test_program_beaconing_the_mac_is_found(compiler: str, tmp_path: Path) -> None:
    source, literal = PROGRAMS["beacon"]
    (tmp_path / "beacon.c").write_text(source)
    proc = subprocess.run([tool(compiler), "-O2", "-s", "-w", "-o", str(tmp_path / "beacon"),
                           str(tmp_path / "beacon.c")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    files: dict[str, str | bytes] = {"/usr/bin/cloudd": (tmp_path / "beacon").read_bytes()}
    (found,) = Exfiltration().run(RootFS.from_files(files, modes={"/usr/bin/cloudd": 0o755}))
    assert found.rule.id == "FP-EXFIL-002"
    assert literal in evidence_bytes(files, found)
    assert found.details["host"] == "collect.bad-cloud.cn"
