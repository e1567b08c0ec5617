"""Benchmark: firmproof's own SquashFS extraction vs Debian's unsquashfs, on one image.

    python bench/squashfs_extract.py [IMAGE] [--runs 3] [--out DIR]

IMAGE defaults to the xz SquashFS of a Debian root that bench/run.py builds
(build/bench/rootfs.sqfs). Each run is a fresh process writing into a fresh folder; runs
alternate between the two tools so that machine noise hits both alike; the output folders
are removed only after all runs (a removal just before a run slows ext4's inode allocation).
Prints medians and the ratio.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_IMAGE = HERE.parent / "build" / "bench" / "rootfs.sqfs"
OURS = "import sys; from pathlib import Path; from firmproof.unpack.squashfs import extract; " \
       "r = extract(Path(sys.argv[1]), Path(sys.argv[2])); sys.exit(1 if r.errors else 0)"


def timed(cmd: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("image", type=Path, nargs="?", default=DEFAULT_IMAGE)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--out", type=Path, default=None, help="folder for the extracted trees")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sqfs-bench-", dir=args.out))
    times: dict[str, list[float]] = {"unsquashfs": [], "firmproof": []}
    try:
        for run in range(args.runs):
            times["unsquashfs"].append(timed(["unsquashfs", "-q", "-n", "-d",
                                              str(work / f"u{run}"), str(args.image)]))
            times["firmproof"].append(timed([sys.executable, "-c", OURS, str(args.image),
                                             str(work / f"f{run}")]))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"image {args.image} ({args.image.stat().st_size / 1e6:.1f} MB), {args.runs} runs")
    for name, values in times.items():
        print(f"  {name:10} median {medians[name]:.2f} s  ({', '.join(f'{t:.2f}' for t in values)})")
    print(f"  firmproof / unsquashfs = {medians['firmproof'] / medians['unsquashfs']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
