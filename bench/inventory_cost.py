"""What the results store's inventory rows cost per image: reading the inventory while the
unpacked files are there (`firmproof.device.inventory.holdings`, what a batch worker does), its
size on the way back to the writer, and its rows in the store's one transaction.

    python bench/inventory_cost.py [--runs 10] [--image IMAGE]

Without --image the demo router image is built (firmproof.testing.demo.build_image). Scans with
and without the inventory alternate, so that a slower moment of the machine falls on both.
"""

from __future__ import annotations

import argparse
import logging
import pickle
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--image", type=Path)
    args = parser.parse_args()

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    from firmproof.batch import scan_with_inventory
    from firmproof.config import ScanConfig
    from firmproof.device.inventory import Holdings, holdings
    from firmproof.host.tools import use_tool_path
    from firmproof.scan import scan
    from firmproof.store import add_report, open_store
    from firmproof.unpack.driver import UnpackResult

    use_tool_path()
    work = Path(tempfile.mkdtemp(prefix="firmproof-inventory-cost-"))
    image = args.image
    if image is None:
        from firmproof.testing.demo import build_image

        image = build_image(work / "demo.bin")
    plain, with_inv, warm, cold = [], [], [], []
    held = Holdings()
    for _ in range(args.runs):
        started = time.perf_counter()
        report = scan(ScanConfig(image=image))
        plain.append(time.perf_counter() - started)

        def take(result: UnpackResult) -> None:
            clock = time.perf_counter()
            holdings(result.layers)                       # as the worker does, after the analysis
            warm.append(time.perf_counter() - clock)
            for layer in result.layers:                   # again, no hash known (reads still cached)
                for view in layer.index.views:
                    view._hashes.clear()
            clock = time.perf_counter()
            holdings(result.layers)
            cold.append(time.perf_counter() - clock)

        scan(ScanConfig(image=image), unpacked=take)
        started = time.perf_counter()
        report, held = scan_with_inventory(ScanConfig(image=image))
        with_inv.append(time.perf_counter() - started)
    data = report.to_json()
    inserts: dict[str, list[float]] = {"without": [], "with": []}
    stores = {how: open_store(str(work / f"{how}.sqlite")) for how in inserts}
    for n in range(max(args.runs, 20)):
        # the same report as another image each time: a new image and scan in the same store
        image_json = {**data["image"], "sha256": f"{n:064x}"}
        for how, store in stores.items():
            started = time.perf_counter()
            add_report(store, {**data, "image": image_json}, None, report.components,
                       inventory=held if how == "with" else None)
            inserts[how].append(time.perf_counter() - started)
    for store in stores.values():
        store.close()

    def ms(values: list[float]) -> str:
        return f"median {statistics.median(values) * 1000:.1f} ms (min {min(values) * 1000:.1f})"

    print(f"image: {image.name}, {image.stat().st_size} bytes, {args.runs} runs")
    print(f"scan alone:                {ms(plain)}")
    print(f"scan with the inventory:   {ms(with_inv)}")
    print(f"holdings(), as a worker:   {ms(warm)}")
    print(f"again, hashes dropped:     {ms(cold)}")
    print(f"inventory: {len(held.keys)} keys, {len(held.executables)} executables, {len(held.boot)} boot "
          f"entries, {len(held.setuid)} setuid files; pickled {len(pickle.dumps(held))} bytes "
          f"(report JSON pickled {len(pickle.dumps(data))} bytes)")
    print(f"add_report without the inventory (SQLite): {ms(inserts['without'])}")
    print(f"add_report with the inventory (SQLite):    {ms(inserts['with'])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
