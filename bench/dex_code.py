"""Benchmark: which APIs an APK's code calls, with LIEF (firmproof.device.android.dexcode.scan) and
with androguard decoding every method (the fallback, and what firmproof did before), on the
same dex files in the same run.

    python bench/dex_code.py [APK ...] [--runs 5]

The APKs default to those of the shared corpus (../shared/corpus/real/apk_*.apk). Both
libraries are imported before timing: a scan imports them once. Prints the median per dex
file and the ratio; both readers must find the same calls.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE.parent.parent / "shared" / "corpus" / "real"


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("apks", type=Path, nargs="*")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    apks = args.apks or sorted(CORPUS.glob("apk_*.apk"))
    if not apks:
        print(f"no APK given and no corpus at {CORPUS}", file=sys.stderr)
        return 2
    from firmproof.device.android.apk import CODE_APIS, _quiet_androguard

    _quiet_androguard()
    import androguard.core.dex  # noqa: F401  (imported before timing, as in a scan)
    import lief  # noqa: F401

    from firmproof.device.android import dexcode

    totals = {"lief": 0.0, "androguard": 0.0}
    print(f"{'dex':48} {'MB':>6} {'lief s':>8} {'androguard s':>13} {'ratio':>6}")
    for apk in apks:
        with zipfile.ZipFile(apk) as archive:
            for entry in archive.namelist():
                if not (entry.startswith("classes") and entry.endswith(".dex")):
                    continue
                raw = archive.read(entry)
                fast, slow = [], []
                for _ in range(args.runs):
                    started = time.perf_counter()
                    calls, _ = dexcode.scan(raw, CODE_APIS)
                    fast.append(time.perf_counter() - started)
                    started = time.perf_counter()
                    reference, _ = dexcode._scan_androguard(raw, CODE_APIS)
                    slow.append(time.perf_counter() - started)
                if set(calls) != set(reference):
                    print(f"{apk.name}!{entry}: the readers disagree", file=sys.stderr)
                    return 1
                f, s = statistics.median(fast), statistics.median(slow)
                totals["lief"] += f
                totals["androguard"] += s
                print(f"{(apk.name + '!' + entry)[:48]:48} {len(raw) / 1e6:6.2f} {f:8.3f} {s:13.3f} "
                      f"{f / s if s else 0:6.2f}")
    print(f"{'total':48} {'':6} {totals['lief']:8.3f} {totals['androguard']:13.3f} "
          f"{totals['lief'] / totals['androguard']:6.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
