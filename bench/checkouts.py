"""Benchmark: the scan time of this checkout against another (a git worktree of an older
commit), on the same images, runs interleaved so that both sides see the same machine load.

    git worktree add /tmp/before REV
    python bench/checkouts.py /tmp/before IMAGE... [--runs 5]

Each run is `firmproof scan IMAGE -o /dev/null -q` in a fresh process of this venv's Python,
with the checkout's folder first on PYTHONPATH (its own firmproof, not the installed one).
Prints, per image, the median wall-clock and CPU seconds (the scan and all its children) of
each side and their ratio (this checkout / the other): a refactoring that must not slow the
scan shows a ratio within its bound.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CODE = "import sys; from firmproof.cli import main; sys.exit(main())"


def one_scan(checkout: Path, image: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the scan and its children) of one scan."""
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    with tempfile.TemporaryDirectory(prefix="fp-bench-") as work:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, "-c", CODE, "scan", str(image), "-o", os.devnull, "-q",
                               "--workdir", work], env=env, capture_output=True, text=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in (0, 1, 3):
        raise SystemExit(f"{checkout}: scan of {image} failed ({proc.returncode}): {proc.stderr.strip()}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("other", type=Path, help="the checkout to compare with (a git worktree)")
    parser.add_argument("images", type=Path, nargs="+")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    this = HERE.parent
    print("| image | this wall s | other wall s | wall ratio | this CPU s | other CPU s | CPU ratio |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for image in args.images:
        one_scan(this, image)                   # warm the page cache for both sides
        times: dict[str, list[tuple[float, float]]] = {"this": [], "other": []}
        for n in range(args.runs):
            order = [("this", this), ("other", args.other)]
            for side, checkout in (order if n % 2 == 0 else order[::-1]):
                times[side].append(one_scan(checkout, image))
        wall = {s: statistics.median(w for w, _ in t) for s, t in times.items()}
        cpu = {s: statistics.median(c for _, c in t) for s, t in times.items()}
        print(f"| {image.name} | {wall['this']:.2f} | {wall['other']:.2f} "
              f"| {wall['this'] / wall['other']:.3f} | {cpu['this']:.2f} | {cpu['other']:.2f} "
              f"| {cpu['this'] / cpu['other']:.3f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
