"""Benchmark: firmproof's super.img extraction vs AOSP's lpunpack, on the same image, same run.

    python bench/super_extract.py [--runs 5] [--rootfs DIR]

The image is a raw super.img laid out by AOSP's lpmake (built by `make setup` into
.venv/aosp/bin) holding two logical partitions: system_a, an ext4 image of the Debian
minbase root that bench/run.py builds (mkfs.ext4 -d), and vendor_a, an EROFS image of its
/usr/share, with the empty _b copies of an A/B device. Both tools extract every partition
into a fresh folder in a fresh process; runs alternate so that machine noise hits both
alike. firmproof's time is given whole (a Python process importing unblob) and for the
extraction alone, which is what a scan pays. Prints medians and the ratios.
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
BUILD = HERE.parent / "build" / "bench"
AOSP = Path(sys.executable).parent.parent / "aosp" / "bin"
# the extraction alone is timed too: in a scan the modules are loaded once, before any chunk
OURS = ("import sys, time; from pathlib import Path; "
        "from firmproof.unpack.handlers.lpsuper import SuperExtractor; t = time.perf_counter(); "
        "r = SuperExtractor().extract(Path(sys.argv[1]), Path(sys.argv[2])); "
        "print(time.perf_counter() - t); sys.exit(1 if r.reports else 0)")
MiB = 1 << 20


def build_super(rootfs: Path) -> Path:
    image = BUILD / "super.img"
    if image.exists():
        return image
    sys.path.insert(0, str(HERE))
    from run import build_rootfs

    build_rootfs(rootfs)
    from firmproof.testing import fixtures

    system = fixtures.pack(rootfs, "ext4", BUILD / "super-system.img")
    vendor = BUILD / "super-vendor.img"
    subprocess.run(["mkfs.erofs", "--quiet", "-T1230768000", str(vendor), str(rootfs / "usr" / "share")],
                   check=True)
    sizes = {name: path.stat().st_size for name, path in (("system_a", system), ("vendor_a", vendor))}
    device = (sum(sizes.values()) // MiB + 64) * MiB
    cmd = [str(AOSP / "lpmake"), f"--device-size={device}", "--metadata-size=65536", "--metadata-slots=2",
           f"--group=main:{device - 4 * MiB}", f"--output={image}"]
    for name, size in sizes.items():
        cmd += [f"--partition={name}:readonly:{size}:main", f"--partition={name[:-2]}_b:readonly:0:main"]
    cmd += [f"--image=system_a={system}", f"--image=vendor_a={vendor}"]
    subprocess.run(cmd, check=True, capture_output=True)
    system.unlink()
    vendor.unlink()
    return image


def timed(cmd: list[str]) -> tuple[float, str]:
    started = time.perf_counter()
    proc = subprocess.run(cmd, check=True, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    return time.perf_counter() - started, proc.stdout


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--rootfs", type=Path, default=BUILD / "rootfs")
    args = parser.parse_args()
    image = build_super(args.rootfs)
    work = Path(tempfile.mkdtemp(prefix="super-bench-", dir=BUILD))
    times: dict[str, list[float]] = {"lpunpack": [], "firmproof": [], "extraction": []}
    try:
        for run in range(args.runs):
            (work / f"l{run}").mkdir()
            times["lpunpack"].append(timed([str(AOSP / "lpunpack"), str(image), str(work / f"l{run}")])[0])
            whole, inner = timed([sys.executable, "-c", OURS, str(image), str(work / f"f{run}")])
            times["firmproof"].append(whole)
            times["extraction"].append(float(inner))
            for folder in (work / f"l{run}", work / f"f{run}"):
                shutil.rmtree(folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    medians = {name: statistics.median(values) for name, values in times.items()}
    print(f"image {image} ({image.stat().st_size / 1e6:.1f} MB), {args.runs} runs")
    for name, values in times.items():
        print(f"  {name:10} median {medians[name]:.2f} s  ({', '.join(f'{t:.2f}' for t in values)})")
    print(f"  firmproof / lpunpack = {medians['firmproof'] / medians['lpunpack']:.2f} (a process each); "
          f"extraction alone / lpunpack = {medians['extraction'] / medians['lpunpack']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
