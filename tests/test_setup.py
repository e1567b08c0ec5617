"""`make setup`'s Debian step (tools/setup-debian.sh) and `firmproof doctor`, on this machine.

The whole set-up from nothing is proven by `.ci/run`, which runs the README's two commands in a
fresh minimal Debian chroot (tools/fresh-check.sh); these tests check the pieces in place.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from firmproof.host import tools
from tests.conftest import REPO

SCRIPT = REPO / "tools" / "setup-debian.sh"


@pytest.fixture
def public_copy() -> Iterator[Path]:
    """The script and a table in a folder any user can read (the checkout may be under /root)."""
    folder = Path(tempfile.mkdtemp(prefix="fp-setup-"))
    try:
        folder.chmod(0o755)
        (folder / "tools").mkdir(mode=0o755)
        (folder / "firmproof" / "data").mkdir(parents=True, mode=0o755)
        shutil.copy(SCRIPT, folder / "tools" / "setup-debian.sh")
        yield folder
    finally:
        shutil.rmtree(folder)


def _as_nobody(folder: Path, table: str) -> subprocess.CompletedProcess[str]:
    path = folder / "firmproof" / "data" / "debian-packages.txt"
    path.write_text(table)
    for p in (path, path.parent, path.parent.parent):
        p.chmod(0o755 if p.is_dir() else 0o644)
    return subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                           "/usr/bin/env", "-i", "PATH=/usr/bin:/bin", "HOME=/nonexistent",
                           "bash", str(folder / "tools" / "setup-debian.sh"), "python3"],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.skipif(os.geteuid() != 0, reason="switches to the user nobody (run as root)")
def test_without_root_or_sudo_it_prints_the_one_line_to_run(public_copy: Path) -> None:
    if shutil.which("sudo"):
        pytest.skip("sudo is installed here: the script would ask it")
    proc = _as_nobody(public_copy, "squashfs-tools mksquashfs test x\n"
                                   "fp-absent-a /no/such/file.h setup y\n"
                                   "fp-absent-b;bookworm:fp-absent-b-old;trixie:fp-absent-b-new "
                                   "no-such-cmd test z\n")
    assert proc.returncode == 1
    assert "missing: /no/such/file.h no-such-cmd" in proc.stderr
    suite = tools.debian_suite()
    b = {"bookworm": "fp-absent-b-old", "trixie": "fp-absent-b-new"}.get(suite, "fp-absent-b")
    assert f"  apt-get install --no-install-recommends fp-absent-a {b}\n" in proc.stderr
    assert "Traceback" not in proc.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="switches to the user nobody (run as root)")
def test_nothing_missing_is_silent(public_copy: Path) -> None:
    proc = _as_nobody(public_copy, "# a comment\n\nsquashfs-tools mksquashfs test x\n"
                                   "python3-dev /usr/include/python{py}/Python.h setup y\n")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_the_real_table_is_satisfied_and_silent() -> None:
    """After `make setup` every requirement holds, so the step prints nothing and installs nothing."""
    proc = subprocess.run(["bash", str(SCRIPT), sys.executable], capture_output=True, text=True, timeout=60)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_every_package_of_the_table_exists_in_this_release() -> None:
    if not tools.debian_suite() or shutil.which("apt-cache") is None:
        pytest.skip("not a Debian machine")
    # PKG/RELEASE (bookworm-backports) is looked up as PKG: set-up adds RELEASE's source
    packages = sorted({r.package().partition("/")[0] for r in tools.requirements()})
    proc = subprocess.run(["apt-cache", "policy", *packages], capture_output=True, text=True, timeout=60)
    candidates = {}
    name = None
    for line in proc.stdout.splitlines():
        if not line.startswith(" "):
            name = line.rstrip(":")
        elif line.strip().startswith("Candidate:"):
            candidates[name] = line.split(":", 1)[1].strip()
    assert not [p for p in packages if candidates.get(p) in (None, "(none)")], candidates


def test_doctor_finds_everything_after_setup() -> None:
    proc = subprocess.run([sys.executable, "-m", "firmproof.cli", "doctor", "--json"],
                          capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), "LANG": "C.UTF-8"})
    assert proc.returncode == 0, proc.stdout[-2000:]
    report = json.loads(proc.stdout)
    assert report["ok"] and report["install"] is None
    assert [c["name"] for c in report["checks"] if not c["ok"]] == []
    kinds = {c["kind"] for c in report["checks"]}
    assert kinds == {"debian", "extractor", "python", "built"}
    jefferson = next(c for c in report["checks"] if c["name"] == "jefferson")
    assert jefferson["found"].endswith("/jefferson") and "jffs2_new" in jefferson["formats"]
    squashfs = next(c for c in report["checks"] if c["name"] == "sasquatch")
    assert "firmproof's SquashFS reader" in squashfs["purpose"]


def test_doctor_says_what_is_missing_and_fails_for_a_scan_need(tmp_path: Path) -> None:
    """With unblob's 7z and a scan's debugfs hidden (a PATH and system folders without them),
    doctor names them with their packages and exits 1."""
    code = ("import sys; from firmproof.host import tools, doctor; tools.SYSTEM_PATH = ();"
            "sys.exit(doctor.main(brief=True))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={"PATH": str(tmp_path), "HOME": str(Path.home()), "LANG": "C.UTF-8",
                               "COLUMNS": "200"})
    assert proc.returncode == 1
    assert "debugfs" in proc.stdout and "e2fsprogs" in proc.stdout
    assert "apt-get install --no-install-recommends" in proc.stdout
    assert "needed by a default scan" in proc.stdout
