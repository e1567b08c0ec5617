"""Benchmark: firmproof scan vs unblob's extraction vs bare unsquashfs, on the same image, same run.

The image is a Debian 12 minbase root file system (debootstrap: real Debian binaries), packed
as an xz SquashFS and wrapped in a U-Boot legacy header like a router's firmware. It is built
once and kept in build/bench/.

    python bench/run.py [--runs 3] [--rootfs DIR]

Prints a Markdown table of medians and ratios, for docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
BUILD = HERE.parent / "build" / "bench"
VENV_BIN = Path(sys.executable).parent


def sh(*cmd: str | Path, **kw: object) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(c) for c in cmd], check=True, **kw)  # type: ignore[call-overload]


def build_rootfs(target: Path) -> Path:
    if (target / "etc" / "os-release").exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    print(f"debootstrap minbase into {tmp} …", file=sys.stderr)
    sh("debootstrap", "--variant=minbase", "bookworm", tmp)
    tmp.rename(target)
    return target


def build_image(rootfs: Path) -> tuple[Path, Path]:
    sqfs = BUILD / "rootfs.sqfs"
    image = BUILD / "debian-router.bin"
    if not image.exists():
        sh("mksquashfs", rootfs, sqfs, "-comp", "xz", "-noappend", "-quiet", "-no-progress",
           "-e", "proc", "sys", "dev", "var/cache/apt/archives")   # debootstrap's downloaded .debs
        sh("mkimage", "-A", "mips", "-O", "linux", "-T", "filesystem", "-C", "none",
           "-n", "bench router", "-d", sqfs, image, stdout=subprocess.DEVNULL)
    return image, sqfs


SHIM = """#!/bin/sh
# bench only: lets unblob's CLI extract standard SquashFS with Debian's unsquashfs, as sasquatch would
args=""
for a in "$@"; do case "$a" in -be|-le|-no-exit-code) ;; *) args="$args '$a'";; esac; done
eval exec unsquashfs -no-progress $args
"""


def sasquatch_shim() -> Path:
    """unblob's CLI calls `sasquatch`, which no package ships: give it unsquashfs under that name."""
    shim = BUILD / "shim" / "sasquatch"
    shim.parent.mkdir(parents=True, exist_ok=True)
    shim.write_text(SHIM)
    shim.chmod(0o755)
    return shim.parent


def timed(cmd: list[str | Path], workdir: Path) -> float:
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    env = dict(os.environ, PATH=f"{sasquatch_shim()}:{VENV_BIN}:{os.environ.get('PATH', '')}")
    started = time.perf_counter()
    subprocess.run([str(c) for c in cmd], check=False, env=env, cwd=workdir,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    elapsed = time.perf_counter() - started
    shutil.rmtree(workdir, ignore_errors=True)
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--rootfs", type=Path, default=BUILD / "rootfs")
    args = parser.parse_args()
    image, sqfs = build_image(build_rootfs(args.rootfs))
    work = BUILD / "work"
    commands = {
        "firmproof scan": [VENV_BIN / "firmproof", "scan", image, "-q", "-o", work / "report.json"],
        "unblob (extraction only)": [VENV_BIN / "unblob", "-e", work / "out", image],
        "unsquashfs (bare SquashFS)": ["unsquashfs", "-no-progress", "-d", work / "out", sqfs],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.runs):
        for name, cmd in commands.items():   # interleaved, so that machine noise hits all alike
            times[name].append(timed(cmd, work))
    # one more scan for the report's own figures
    work.mkdir(parents=True, exist_ok=True)
    subprocess.run([str(c) for c in commands["firmproof scan"]], check=False,
                   env=dict(os.environ, PATH=f"{VENV_BIN}:{os.environ.get('PATH', '')}"))
    report = json.loads((work / "report.json").read_text())
    medians = {name: statistics.median(values) for name, values in times.items()}
    floor = medians["unsquashfs (bare SquashFS)"]
    print(f"image: {image.name}, {image.stat().st_size / 1e6:.1f} MB, "
          f"{report['unpack']['files']} files, {report['unpack']['bytes'] / 1e6:.1f} MB unpacked, "
          f"{len(report['findings'])} findings; {args.runs} runs, {os.cpu_count()} cores\n")
    print("| command | median s | runs | × unsquashfs |")
    print("| --- | ---: | --- | ---: |")
    for name, median in medians.items():
        runs = ", ".join(f"{t:.2f}" for t in times[name])
        print(f"| {name} | {median:.2f} | {runs} | {median / floor:.2f} |")
    print(f"\nfirmproof / unblob = {medians['firmproof scan'] / medians['unblob (extraction only)']:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
