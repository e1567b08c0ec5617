"""Benchmark: what looking for UPX-packed programs costs a scan of plain programs.

Every ELF file's first 4 KiB are checked for UPX's l_info right after the program headers
(firmproof.fs.filetype.upx_l_info); a packed one is searched and unpacked with `upx -d`. On
the benchmark image of bench/run.py (a Debian 12 minbase root of real Debian programs, none
packed) this measures, before (the check turned off in the child that scans) and after:

- the classification of every ELF file of the root (microseconds per file);
- `firmproof scan` of the image, end to end (median of --runs, the two alternating).

    python bench/upx_cost.py [--runs 3]      # --runs 0: the classification only

Prints a Markdown table for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import BUILD, build_image, build_rootfs

from firmproof.fs import filetype

# the scan as `firmproof scan` runs it, with the UPX check turned off for "before"
SCAN = """
import sys
from firmproof.fs import filetype
if sys.argv[1] == "before":
    filetype.upx_magic = lambda head: None
from firmproof.cli import main
sys.exit(main(["scan", sys.argv[2], "-q", "-o", sys.argv[3]]))
"""


def elf_heads(rootfs: Path) -> list[bytes]:
    heads = []
    for folder, _dirs, files in os.walk(rootfs):
        for name in files:
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            with path.open("rb") as handle:
                head = handle.read(4096)
            if head.startswith(b"\x7fELF"):
                heads.append(head)
    return heads


def classify_seconds(heads: list[bytes], *, check: bool, rounds: int = 20) -> float:
    """Seconds to classify every head once: the fastest of `rounds` (other jobs on the
    machine only ever add time)."""
    real = filetype.upx_magic
    if not check:
        filetype.upx_magic = lambda head: None  # type: ignore[assignment]
    try:
        best = float("inf")
        for _ in range(rounds):
            started = time.perf_counter()
            for head in heads:
                filetype.classify(head, "/usr/bin/x")
            best = min(best, time.perf_counter() - started)
        return best
    finally:
        filetype.upx_magic = real  # type: ignore[assignment]


def scan_seconds(which: str, image: Path, work: Path) -> float:
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", SCAN, which, str(image), str(work / "r.json")],
                          capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    shutil.rmtree(work, ignore_errors=True)
    if proc.returncode not in (0, 1, 3):
        raise SystemExit(f"scan failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rootfs", type=Path, default=BUILD / "rootfs")
    args = parser.parse_args()
    rootfs = build_rootfs(args.rootfs)
    image, _sqfs = build_image(rootfs)
    heads = elf_heads(rootfs)
    packed = sum(1 for head in heads if filetype.classify(head) == filetype.PACKED)
    before_c = classify_seconds(heads, check=False)
    after_c = classify_seconds(heads, check=True)
    times: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(args.runs):
        for which in ("before", "after"):
            times[which].append(scan_seconds(which, image, BUILD / "work-upx"))
    print(f"{len(heads)} ELF files in {image.name} ({image.stat().st_size:,} bytes), {packed} UPX-packed\n")
    print("| | without the UPX check | with it | difference |")
    print("|---|---:|---:|---:|")
    print(f"| classifying the {len(heads)} ELF files | {before_c * 1e3:.2f} ms "
          f"({before_c / len(heads) * 1e6:.2f} µs/file) | {after_c * 1e3:.2f} ms "
          f"({after_c / len(heads) * 1e6:.2f} µs/file) | {(after_c - before_c) * 1e3:+.2f} ms |")
    if not args.runs:
        return 0
    before, after = statistics.median(times["before"]), statistics.median(times["after"])
    print(f"| `firmproof scan`, median of {args.runs} | {before:.2f} s | {after:.2f} s | "
          f"{(after - before) / before * 100:+.1f} % |")
    print(f"\nruns: before {', '.join(f'{t:.2f}' for t in times['before'])}; "
          f"after {', '.join(f'{t:.2f}' for t in times['after'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
