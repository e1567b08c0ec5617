"""Time the executable model and the binary analyzers (FP-ELF, FP-HCRED, FP-TRIG) on a root
file system tree: CPU seconds per analyzer, per executable and per MB of executables.

    .venv/bin/python bench/binary_analyzers.py [build/bench/rootfs] [--runs 3]

Each analyzer starts with an empty model cache, as it does in its own forked worker during
a scan. The tree's files are read once before timing, so the figures leave the disk out.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from firmproof.analyzers import hardcoded, hardening, triggers
from firmproof.analyzers.registry import analyzers
from firmproof.analyzers.schedule import _run
from firmproof.device import binary
from firmproof.fs.index import index_tree


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tree", nargs="?", default="build/bench/rootfs", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    index = index_tree(args.tree, None, ("bench",))
    view = max(index.views, key=len)
    elfs = list(view.files("elf"))
    megabytes = sum(e.size for e in elfs) / 1e6
    for entry in elfs:
        view.read(entry.path)
    candidates = {"hardcoded": 0, "triggers": 0}
    for entry in elfs:
        exe = binary.load(view, entry.path)
        if exe is not None:
            candidates["hardcoded"] += hardcoded.handles_auth(exe)
            candidates["triggers"] += triggers.listens_and_runs(exe)
    print(f"{len(elfs)} ELF files, {megabytes:.1f} MB; first pass keeps {candidates}")
    total = 0.0
    for analyzer in (hardening.Hardening(), hardcoded.Hardcoded(), triggers.Triggers()):
        cpu = []
        findings = 0
        for _ in range(args.runs):
            binary._CACHE.clear()
            started = time.process_time()
            findings = len(list(analyzer.run(view)))
            cpu.append(time.process_time() - started)
        median = statistics.median(cpu)
        total += median
        print(f"{analyzer.name:10} {median:6.2f} s CPU  {findings} findings")
    print(f"all three  {total:6.2f} s CPU = {1000 * total / len(elfs):.1f} ms per executable, "
          f"{total / megabytes:.3f} s per MB of executables (each on its own)")
    # as a scan runs them: one task, files in parts so that each ELF is parsed once for the
    # three, and the task split in shards over the workers
    group = tuple(a for a in analyzers() if a.shares == "binary")
    shards = max(1, os.cpu_count() or 1)
    cpu = []
    for _ in range(args.runs):
        binary._CACHE.clear()
        started = time.process_time()
        for index in range(shards):
            _run(group, view, False, (index, shards))
        cpu.append(time.process_time() - started)
    shared = statistics.median(cpu)
    print(f"as scanned {shared:6.2f} s CPU = {1000 * shared / len(elfs):.1f} ms per executable, "
          f"{shared / megabytes:.3f} s per MB of executables (one task in {shards} shards)")


if __name__ == "__main__":
    main()
