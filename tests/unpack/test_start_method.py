"""A scan in a process whose multiprocessing start method is already chosen (by a host program,
a library, or a batch run before it): unblob sets its own when imported, which multiprocessing
refuses once one is set, so such a process could not scan at all."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from firmproof.testing.demo import build_image

SCAN = """
import multiprocessing, sys
from pathlib import Path
{before}
from firmproof.config import ScanConfig
from firmproof.scan import scan
report = scan(ScanConfig(image=Path(sys.argv[1]), workdir=Path(sys.argv[2])))
print("findings:", len(report.findings))
"""


@pytest.mark.parametrize("before", [
    'multiprocessing.set_start_method("spawn")',                  # a host program's choice
    "multiprocessing.get_start_method()",                         # reading it fixes the default
    'multiprocessing.set_start_method("forkserver", force=True)',
    "",                                                           # nothing chosen: as before
])
def test_a_scan_runs_whatever_start_method_the_process_chose(tmp_path: Path, before: str) -> None:
    image = build_image(tmp_path / "demo.bin")
    (tmp_path / "work").mkdir()
    command = [sys.executable, "-c", SCAN.format(before=before), str(image), str(tmp_path / "work")]
    done = subprocess.run(command, capture_output=True, text=True, timeout=600, check=False,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr[-2000:]
    counts = [int(line.split()[1]) for line in done.stdout.splitlines() if line.startswith("findings: ")]
    assert counts and counts[0] >= 5          # the demo's plants, found
