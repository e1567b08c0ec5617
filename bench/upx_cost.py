"""Benchmark: what looking for UPX-packed programs costs a scan of plain programs.

Every ELF file's first 4 KiB are checked for UPX's l_info right after the program headers
(firmproof.fs.filetype.upx_l_info); a shared object without section headers also has its last
36 bytes read (where UPX says where a packed library's l_info is); a packed one is searched
and unpacked with `upx -d`. On the benchmark image of bench/run.py (a Debian 12 minbase root
of real Debian programs, none packed) this measures, before (the check turned off in the
child that scans) and after:

- the classification of every ELF file of the root as the index does it (open, read the
  head, classify, close; microseconds per file);
- the same with every file's section headers dropped from the head (as OpenWrt's sstrip
  leaves its programs and libraries: each shared object then has its end read too);
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
    filetype.upx_l_info = lambda head, read=None, size=0: None
from firmproof.cli import main
sys.exit(main(["scan", sys.argv[2], "-q", "-o", sys.argv[3]]))
"""


def elf_files(rootfs: Path) -> list[Path]:
    files = []
    for folder, _dirs, names in os.walk(rootfs):
        for name in names:
            path = Path(folder) / name
            if path.is_symlink() or not path.is_file():
                continue
            with path.open("rb") as handle:
                if handle.read(4) == b"\x7fELF":
                    files.append(path)
    return sorted(files)


def sectionless(head: bytes) -> bytes:
    """The ELF header with e_shoff, e_shnum and e_shstrndx zeroed (what sstrip leaves)."""
    out = bytearray(head)
    wide = head[4] == 2
    shoff, shnum = (0x28, 0x3C) if wide else (0x20, 0x30)
    out[shoff:shoff + (8 if wide else 4)] = bytes(8 if wide else 4)
    out[shnum:shnum + 4] = bytes(4)
    return bytes(out)


def classify_all(files: list[Path], *, stripped: bool) -> list[str]:
    """Each file classified as fs/index.py does (`stripped`: its head sectionless)."""
    out = []
    for path in files:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
        try:
            head = os.read(fd, 4096)
            out.append(filetype.classify(sectionless(head) if stripped else head, str(path),
                                         lambda offset, length, fd=fd: os.pread(fd, length, offset),
                                         os.fstat(fd).st_size))
        finally:
            os.close(fd)
    return out


def classify_seconds(files: list[Path], *, stripped: bool = False, rounds: int = 30) -> tuple[float, float]:
    """Seconds to classify every file once without the UPX check and with it: the fastest of
    `rounds` each, alternating (other jobs on the machine only ever add time)."""
    real = filetype.upx_l_info
    best = {False: float("inf"), True: float("inf")}
    try:
        for _ in range(rounds):
            for check in (False, True):
                filetype.upx_l_info = real if check else (  # type: ignore[assignment]
                    lambda head, read=None, size=0: None)
                started = time.perf_counter()
                classify_all(files, stripped=stripped)
                best[check] = min(best[check], time.perf_counter() - started)
    finally:
        filetype.upx_l_info = real  # type: ignore[assignment]
    return best[False], best[True]


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
    files = elf_files(rootfs)
    packed = classify_all(files, stripped=False).count(filetype.PACKED)
    packed_stripped = classify_all(files, stripped=True).count(filetype.PACKED)
    shared = sum(1 for path in files if path.read_bytes()[16] == 3)
    rows = []
    for label, stripped in (("", False), (" sectionless", True)):
        before_c, after_c = classify_seconds(files, stripped=stripped)
        rows.append((label, before_c, after_c))
    times: dict[str, list[float]] = {"before": [], "after": []}
    for _ in range(args.runs):
        for which in ("before", "after"):
            times[which].append(scan_seconds(which, image, BUILD / "work-upx"))
    print(f"{len(files)} ELF files in {image.name} ({image.stat().st_size:,} bytes), {shared} of them "
          f"shared objects (ET_DYN); classified UPX-packed: {packed}, sectionless {packed_stripped}\n")
    print("| | without the UPX check | with it | difference |")
    print("|---|---:|---:|---:|")
    for label, before_c, after_c in rows:
        print(f"| classifying the {len(files)}{label} ELF files | {before_c * 1e3:.2f} ms "
              f"({before_c / len(files) * 1e6:.2f} µs/file) | {after_c * 1e3:.2f} ms "
              f"({after_c / len(files) * 1e6:.2f} µs/file) | {(after_c - before_c) * 1e3:+.2f} ms |")
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
