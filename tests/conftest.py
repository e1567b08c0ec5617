"""Shared test helpers: run the CLI, build images with the real tools, find the corpus."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CORPUS = REPO.parent / "shared" / "corpus" / "real"


def corpus_file(name: str) -> Path:
    """A file of the shared real corpus, or skip the test saying why."""
    path = CORPUS / name
    if not path.is_file():
        pytest.skip(f"shared corpus file {name} is absent ({CORPUS})")
    return path


def need_tools(*tools: str) -> None:
    missing = [t for t in tools if shutil.which(t) is None and not Path("/usr/sbin", t).exists()
               and not Path("/sbin", t).exists()]
    if missing:
        pytest.fail(f"missing tools {missing}: run `make setup`")


def aosp_tool(name: str) -> str:
    """AOSP's lpmake/lpunpack, which `make setup` builds into the venv's aosp/bin (apart from
    .venv/bin, where the liblp package installs a Python script also named lpunpack)."""
    path = Path(sys.executable).parent.parent / "aosp" / "bin" / name
    if not os.access(path, os.X_OK):
        pytest.fail(f"missing AOSP tool {name}: run `make setup`")
    return str(path)


def firmproof(*args: str | Path, check: bool = False) -> subprocess.CompletedProcess[str]:
    """The real CLI in a child process, as a user runs it."""
    env_path = str(Path(sys.executable).parent)
    system_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
    proc = subprocess.run([sys.executable, "-m", "firmproof.cli", *map(str, args)],
                          capture_output=True, text=True, timeout=600,
                          env={"PATH": f"{env_path}:{system_path}",
                               "HOME": str(Path.home()), "LANG": "C.UTF-8"})
    if check:
        assert proc.returncode in (0, 1), proc.stderr
    return proc


def scan_report(image: Path, tmp_path: Path, *extra: str) -> dict:
    out = tmp_path / "report.json"
    proc = firmproof("scan", image, "-o", out, "-q", *extra)
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return json.loads(out.read_text())
