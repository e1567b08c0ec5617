"""Benchmark: what confining the extraction children with Landlock costs a whole scan.

Each image is scanned in this process with the real sandbox and with `confine` replaced by
one that only sets TMPDIR (what the scan does where the kernel lacks Landlock), alternating
the two, and the medians are compared. Images: the demo router (uImage + SquashFS, built from
real Debian binaries), and, where the shared corpus is present, a TP-Link factory image
(LZMA kernel, SquashFS root) and a Xiongmai camera's cramfs (extracted by 7-Zip).

    python bench/sandbox_cost.py [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from firmproof.config import ScanConfig
from firmproof.host.tools import use_tool_path
from firmproof.scan import scan
from firmproof.testing.demo import build_image
from firmproof.unpack import extract

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "real"
IMAGES = ("tplink_tl-wr841n-v14-eu_stock_2023.bin", "xiongmai_gm8135s_ipc_user_web_MODIFIED.cramfs.img")


def unconfined(box: Path) -> str:
    import os

    os.environ["TMPDIR"] = str(box / "tmp")
    tempfile.tempdir = None
    return "none: benchmark"


def timed(image: Path) -> tuple[float, str]:
    started = time.perf_counter()
    result = scan(ScanConfig(image=image))
    return time.perf_counter() - started, str((result.coverage or {}).get("used", {}).get("sandbox", ""))


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    use_tool_path()
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    with tempfile.TemporaryDirectory() as tmp:
        images = [build_image(Path(tmp) / "demo-router.bin")]
        images += [CORPUS / name for name in IMAGES if (CORPUS / name).is_file()]
        real = extract.confine
        print("| image | with Landlock (s) | without (s) | ratio |\n|---|---|---|---|")
        for image in images:
            timed(image)                                    # warm: page cache, compiled rules
            on, off = [], []
            for _ in range(args.runs):
                extract.confine = real
                seconds, sandbox = timed(image)
                assert sandbox == "landlock", sandbox
                on.append(seconds)
                extract.confine = unconfined
                off.append(timed(image)[0])
            extract.confine = real
            a, b = statistics.median(on), statistics.median(off)
            print(f"| {image.name} | {a:.2f} | {b:.2f} | {a / b:.3f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
