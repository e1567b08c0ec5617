"""Benchmark: password checks per second per crypt scheme, against the cost model of
firmproof.device.crypt (which decides how many guesses a hash gets, so results stay deterministic).

    python bench/crypt_speed.py [--seconds 1.0]

Prints a Markdown table: measured checks/s, modelled checks/s, and how many guesses a hash of
that scheme gets within the per-hash budget of the accounts analyzer.
"""

from __future__ import annotations

import argparse
import time

from firmproof.analyzers.accounts import HASH_BUDGET_SECONDS
from firmproof.device import crypt

SETTINGS = {
    "descrypt": "ab",
    "bsdicrypt (725)": "_J9..abcd",
    "md5crypt": "$1$abcdefgh$",
    "sha256crypt (5000)": "$5$abcdefgh$",
    "sha512crypt (5000)": "$6$abcdefgh$",
    "bcrypt cost 5": "$2b$05$abcdefghijklmnopqrstuu",
    "bcrypt cost 10": "$2b$10$abcdefghijklmnopqrstuu",
    "yescrypt j9T": "$y$j9T$abcdefghijklmnop$",
    "scrypt CU": "$7$CU..../....abcdefghijklmnop$",
    "nthash": "$3$",
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time spent per scheme")
    args = parser.parse_args()
    print("| scheme | measured checks/s | model checks/s | guesses per hash |")
    print("|---|---:|---:|---:|")
    for name, setting in SETTINGS.items():
        hashed = crypt.crypt("benchmark", setting)
        scheme = crypt.scheme_of(hashed or "")
        if hashed is None or scheme is None:
            print(f"| {name} | unsupported | | |")
            continue
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < args.seconds:
            crypt.check(f"guess{n}", hashed)
            n += 1
        rate = n / (time.perf_counter() - start)
        print(f"| {name} | {rate:,.0f} | {1 / scheme.seconds:,.0f} | "
              f"{crypt.guesses_allowed(hashed, HASH_BUDGET_SECONDS):,} |")


if __name__ == "__main__":
    main()
