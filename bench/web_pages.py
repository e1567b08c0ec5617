"""Response times of `firmproof serve`'s pages and API (median, p95) on a store of many scans.

    python bench/web_pages.py [--scans 10000] [--requests 60] [--store PATH]

The store: the demo router image built and scanned once (firmproof.testing.demo), its report and inventory
added again as the scan of N synthetic images (their own sha256, name, vendor, product, version
and day; 20 vendors of 5 products each), through `add_report`, as a batch would add them. With
--store an existing file is reused (and filled up to N scans first).

The load: the real `firmproof serve` on 127.0.0.1 (a free port), asked by one client in turn,
each URL warmed up 3 times then asked --requests times; bounded in count, and every URL stops
after 60 s whatever its count. Nothing is sent anywhere but loopback.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

VENDORS = [f"Vendor{v:02d}" for v in range(20)]
URL_SECONDS = 60


def fill(url: str, scans: int) -> None:
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    from firmproof.batch import scan_with_inventory
    from firmproof.config import ScanConfig
    from firmproof.host.tools import use_tool_path
    from firmproof.store import ImageInfo, add_report, open_store
    from firmproof.store.schema import Scan
    from firmproof.testing.demo import build_image

    use_tool_path()
    store = open_store(url)
    with store.sessions() as session:
        have = session.query(Scan).count()
    if have >= scans:
        store.close()
        return
    with tempfile.TemporaryDirectory() as tmp:
        result, held = scan_with_inventory(ScanConfig(image=build_image(Path(tmp) / "demo.bin")))
    report, components = result.to_json(), list(result.components)
    start = time.perf_counter()
    for i in range(have, scans):
        synthetic = copy.deepcopy(report)
        synthetic["image"]["sha256"] = hashlib.sha256(f"synthetic image {i}".encode()).hexdigest()
        synthetic["image"]["name"] = f"fw-{i:05d}.bin"
        vendor = VENDORS[i % len(VENDORS)]
        info = ImageInfo(vendor=vendor, product=f"P{(i // len(VENDORS)) % 5}",
                         version=f"1.{i // 100}.{i % 100}")
        add_report(store, synthetic, info, components,
                   started=datetime(2024, 1, 1, tzinfo=UTC) + timedelta(hours=i), inventory=held)
        if (i + 1) % 1000 == 0:
            print(f"  {i + 1} scans stored ({time.perf_counter() - start:.0f} s)", file=sys.stderr)
    store.close()


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def measure(base: str, paths: list[str], requests: int) -> list[tuple[str, float, float, int]]:
    import httpx

    rows = []
    with httpx.Client(base_url=base, timeout=60) as client:
        for path in paths:
            for _ in range(3):
                client.get(path).raise_for_status()
            times, size, deadline = [], 0, time.monotonic() + URL_SECONDS
            for _ in range(requests):
                if time.monotonic() > deadline:
                    break
                t = time.perf_counter()
                response = client.get(path)
                times.append(time.perf_counter() - t)
                response.raise_for_status()
                size = len(response.content)
            times.sort()
            p95 = times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]
            rows.append((path, statistics.median(times) * 1000, p95 * 1000, size))
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--store", type=Path, help="a SQLite file to fill (or reuse)")
    args = parser.parse_args()

    import httpx

    with tempfile.TemporaryDirectory() as tmp:
        path = args.store or Path(tmp) / "store.sqlite"
        url = f"sqlite:///{path.resolve()}"
        t = time.perf_counter()
        fill(url, args.scans)
        print(f"store: {args.scans} scans, {path.stat().st_size / 1e6:.0f} MB "
              f"(filled in {time.perf_counter() - t:.0f} s)", file=sys.stderr)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen([sys.executable, "-m", "firmproof.cli", "serve", "--db", url,
                                   "--host", "127.0.0.1", "--port", str(port)])
        try:
            for _ in range(300):
                try:
                    httpx.get(f"{base}/api/openapi.json", timeout=1)
                    break
                except httpx.TransportError:
                    time.sleep(0.1)
            scans = httpx.get(f"{base}/api/scans", params={"per_page": 1}).json()
            last = scans["items"][0]["id"]
            one = httpx.get(f"{base}/api/scans/{last}").json()
            finding = one["findings_list"][0]["id"]
            middle = max(1, scans["total"] // 50 // 2)          # a page of 50 halfway down
            paths = ["/scans", f"/scans?page={middle}", "/scans?vendor=Vendor07&severity=critical",
                     "/scans?q=fw-0999", "/scans?rule=FP-SVC-001&since=2024-06-01", "/scans?triage=open",
                     f"/scans/{last}",
                     f"/findings/{finding}", "/api/scans", f"/api/scans?page={middle}",
                     "/api/scans?vendor=Vendor07&severity=critical", "/api/scans?triage=untriaged&page=2",
                     f"/api/scans/{last}",
                     f"/api/scans/{last}/report", f"/api/findings/{finding}"]
            # the vendor view, search and upload form (every image holds the demo's two keys and
            # executables: the vendor view's worst case, each shared by all 20 vendors)
            details = [httpx.get(f"{base}/api/findings/{f['id']}").json().get("details") or {}
                       for f in one["findings_list"] if f["rule"].startswith("FP-KEY")]
            fingerprint = next((d["fingerprint"] for d in details if d.get("fingerprint")), None)
            paths += ["/vendors", "/vendors/Vendor07", "/vendors/Vendor07.csv", "/api/vendors",
                      "/api/vendors/Vendor07", "/timeline?vendor=Vendor07&product=P2",
                      "/search?kind=component&q=busybox", "/api/search?kind=component&q=busybox",
                      "/upload"]
            if fingerprint:
                paths.append(f"/api/search?kind=key&q={quote(fingerprint, safe='')}")
            rows = measure(base, [*paths, "/api/images"], args.requests)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"| request ({args.scans:,} scans) | median ms | p95 ms | bytes |")
    print("|---|---:|---:|---:|")
    for path, median, p95, size in rows:
        print(f"| `{path}` | {median:.1f} | {p95:.1f} | {size:,} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
