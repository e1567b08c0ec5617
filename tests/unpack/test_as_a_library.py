"""firmproof called as a library, by a program that set up its process its own way.

- The multiprocessing start method already chosen (by a host program, a library, or a batch
  run before): unblob sets its own when imported, which multiprocessing refuses once one is set,
  so such a process could not scan at all.
- No logging or structlog set up: unblob's structured log stays quiet, as on the command line,
  instead of printing every debug event with rich tracebacks (megabytes, and most of the scan's
  time on a vendor image); a program that asks for debug logging still gets unblob's events.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from firmproof.testing.demo import build_image

SCAN = """
import logging, multiprocessing, sys
from pathlib import Path
{before}
from firmproof.config import ScanConfig
from firmproof.scan import scan
report = scan(ScanConfig(image=Path(sys.argv[1]), workdir=Path(sys.argv[2])))
print("findings:", len(report.findings))
"""


def _library_scan(tmp_path: Path, before: str) -> tuple[int, subprocess.CompletedProcess[str]]:
    """The demo image scanned by a program that runs `before` first: its findings, and what the
    program printed."""
    image = build_image(tmp_path / "demo.bin")
    (tmp_path / "work").mkdir()
    command = [sys.executable, "-c", SCAN.format(before=before), str(image), str(tmp_path / "work")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    counts = [int(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("findings: ")]
    assert len(counts) == 1
    return counts[0], done


@pytest.mark.parametrize("before", [
    'multiprocessing.set_start_method("spawn")',                  # a host program's choice
    "multiprocessing.get_start_method()",                         # reading it fixes the default
    'multiprocessing.set_start_method("forkserver", force=True)',
    "",                                                           # nothing chosen: as before
])
def test_a_scan_runs_whatever_start_method_the_process_chose(tmp_path: Path, before: str) -> None:
    found, _ = _library_scan(tmp_path, before)
    assert found >= 5          # the demo's plants


@pytest.mark.parametrize("before", ["", "logging.basicConfig(level=logging.INFO)"])
def test_a_library_scan_prints_nothing_of_unblobs(tmp_path: Path, before: str) -> None:
    _, done = _library_scan(tmp_path, before)
    assert [line for line in done.stdout.splitlines() if not line.startswith("findings: ")] == []
    assert "Calculating chunk" not in done.stdout + done.stderr


def test_a_program_asking_for_debug_logs_gets_unblobs(tmp_path: Path) -> None:
    _, done = _library_scan(tmp_path, "logging.basicConfig(level=logging.DEBUG)")
    assert "Calculating chunk" in done.stdout + done.stderr
