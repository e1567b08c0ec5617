"""The code base stays clean: ruff and mypy, as `make lint` runs them, are part of the suite."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def _run(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *cmd], cwd=REPO, capture_output=True, text=True,
                          timeout=600)


def test_ruff():
    proc = _run("ruff", "check", "firmproof", "tests", "bench")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_mypy():
    proc = _run("mypy", "firmproof")
    assert proc.returncode == 0, proc.stdout + proc.stderr
