"""Time `firmproof verify` on very large reports: wall time and peak memory (RSS).

    .venv/bin/python bench/verify_large.py [--findings 25000 300000] [--keep DIR] [--library]

The image is the demo image as an uncompressed tar (built in seconds). Its report (8 findings)
is grown to N findings: each real finding is moved to another place of its own file (another
offset and length, with the excerpt and id those bytes give), so that every finding holds and
no two are alike. The report is written as compact JSON (about 780 bytes a finding), then
verified by the CLI in a child process, with and without --json. With --library, a child
process also times load_report + verify() alone with the reportfile limits lifted: what the
library does with a report the CLI refuses.

Measured on the 2-core development container (Python 3.11.7, other jobs running; wall time,
peak RSS). load = load_report, verify = verify(), print = report/terminal.py's table:

    25,000 findings, 20 MB     before  load 0.4 s + verify 15.4 s + print 32 s: 50 s, 301 MB
                               after   load 0.5 s + verify 1.9 s; CLI 28-35 s, 295-310 MB
    300,000 findings, 234 MB   before  load 4.1 s + verify 166 s, 1.0 GB; + print ~390 s
                                       (32 s / 25,000 rows, extrapolated): ~9 min in the CLI
                               after   refused by the CLI (larger than 64 MiB): 0.8 s, 54 MB;
                                       library with the limits lifted: load 11.6 s + verify
                                       9.8 s, 1.0 GB

verify itself went from 0.6 ms to 0.03 ms a finding (each finding hashed its whole file again;
now a file is read and hashed once). What remains of the CLI's time is print_verification,
one rich table row a finding at about 1.3 ms a row: firmproof.report.file.MAX_FINDINGS keeps
it within a minute.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from firmproof.evidence.verify import load_report, verify
from firmproof.report import file as reportfile
from firmproof.testing.demo import build_image
from firmproof.testing.fixtures import grown_report


def grow(report: dict[str, Any], image: Path, count: int) -> dict[str, Any]:
    """`report` with `count` findings, each a real finding moved to another place of its file."""
    return grown_report(report, image, count, Path(tempfile.mkdtemp(prefix="firmproof-bench-")))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--findings", type=int, nargs="+", default=[reportfile.MAX_FINDINGS, 300_000])
    parser.add_argument("--timeout", type=float, default=900, help="seconds before verify is killed")
    parser.add_argument("--keep", type=Path, help="build and keep the image and reports here")
    parser.add_argument("--library", action="store_true",
                        help="also time load_report + verify() alone, with the limits lifted")
    parser.add_argument("--library-run", nargs=2, type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.library_run:
        library(*args.library_run)
        return
    root = args.keep or Path(tempfile.mkdtemp(prefix="firmproof-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    venv = Path(sys.executable).parent
    try:
        image = root / "demo.tar"
        if not image.exists():
            build_image(image, fmt="tar", wrap_uimage=False)
        small = root / "report.json"
        if not small.exists():
            subprocess.run([venv / "firmproof", "scan", image, "-q", "-o", small], check=True)
        for count in args.findings:
            big = root / f"report-{count}.json"
            if not big.exists():
                report = grow(json.loads(small.read_text()), image, count)
                big.write_text(json.dumps(report, ensure_ascii=False) + "\n")
            print(f"{count:,} findings, report {big.stat().st_size / 1e6:.0f} MB", flush=True)
            commands = {"verify": [venv / "firmproof", "verify", big, image],
                        "verify --json": [venv / "firmproof", "verify", big, image, "--json"]}
            if args.library:
                commands["library"] = [sys.executable, __file__, "--library-run", big, image]
            for name, command in commands.items():
                seconds, peak, code, last = run(command, args.timeout)
                print(f"  {name}: exit {code} in {seconds:.1f} s, peak RSS {peak:.0f} MB ({last})",
                      flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


def library(report_path: Path, image: Path) -> None:
    """load_report + verify() with the reportfile limits lifted; the times on standard error."""
    from firmproof.cli import _silence_unblob

    _silence_unblob()
    reportfile.MAX_BYTES = reportfile.MAX_VALUES = reportfile.MAX_FINDINGS = 1 << 40
    started = time.monotonic()
    report = load_report(report_path)
    loaded = time.monotonic()
    result = verify(report, image)
    done = time.monotonic()
    print(f"load {loaded - started:.1f} s, verify {done - loaded:.1f} s, "
          f"{sum(c.holds for c in result.checks)} of {len(result.checks)} hold", file=sys.stderr)


def run(cmd: list[Any], timeout: float) -> tuple[float, float, int | None, str]:
    """Wall seconds, peak RSS in MB, exit code (None: killed at `timeout`) and the last line of
    standard error of one command."""
    with tempfile.TemporaryFile() as err:
        started = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        code: int | None = None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                code = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() - started > timeout:
                proc.kill()
                _, _, usage = os.wait4(proc.pid, 0)
                break
            time.sleep(0.05)
        seconds = time.monotonic() - started
        proc.returncode = -1                      # reaped above
        err.seek(0)
        lines = err.read().decode("utf-8", "replace").strip().splitlines()
    return seconds, usage.ru_maxrss / 1024, code, lines[-1] if lines else ""


if __name__ == "__main__":
    main()
