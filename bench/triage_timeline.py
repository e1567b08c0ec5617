"""What triage and the product timeline cost on a big store: a synthetic store of PRODUCTS x
RELEASES scans (10 findings each: 7 that stay from release to release, 3 that change) and 20
marks per product, then `firmproof db findings` with its triage, `--triage`, `db timeline`,
`states()` and one mark, each timed (the best of a few runs).

    python bench/triage_timeline.py [--db URL] [--products 100] [--releases 100]

Without --db a SQLite file in a temporary folder. The rows are inserted directly (one
executemany per table), not through add_report: the queries are what is measured.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SEVERITIES = ("critical", "high", "medium", "low", "info")


def _h(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def fill(store: Any, products: int, releases: int) -> int:
    from sqlalchemy import insert

    from firmproof.store.schema import FindingRow, Image, Scan, Triage

    rnd = random.Random(1)
    now = datetime.now(UTC)

    def work(session: Any) -> int:
        images, scans, found, marks = [], [], [], []
        n = 0
        for p in range(products):
            for r in range(releases):
                n += 1
                images.append(dict(id=n, sha256=_h("img", p, r), name=f"p{p}-{r}.bin", size=1,
                                   vendor=f"V{p % 10}", product=f"P{p}", version=f"1.{r}",
                                   vendor_guessed=False, product_guessed=False, version_guessed=False,
                                   release_date_guessed=False))
                scans.append(dict(id=n, image_id=n, tool_version="1", rules_version="r", schema="s",
                                  errors=0, findings_count=10, status="ok"))
                for f in range(10):
                    key = _h("k", p, f if f < 7 else (r, f))
                    found.append(dict(scan_id=n, finding_id=_h(n, f)[:24], rule=f"FP-X-{f:03d}", category="c",
                                      severity=SEVERITIES[f % 5], title="t", path=f"/f{f}", container=[],
                                      evidence_sha256=key, evidence_offset=0, evidence_length=1, excerpt="x",
                                      details={}, references=[], key=key))
            for f in range(20):
                marks.append(dict(key=_h("k", p, f % 7), state=rnd.choice(["confirmed", "false-positive"]),
                                  comment="", who="bench", at=now, vendor=f"V{p % 10}", product=f"P{p}",
                                  image_sha256=_h("img", p, 0)))
        session.execute(insert(Image), images)
        session.execute(insert(Scan), scans)
        session.execute(insert(FindingRow), found)
        session.execute(insert(Triage), marks)
        return len(found)

    return int(store.write(work))


def best(fn: Callable[[], Any], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times) * 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", metavar="URL")
    parser.add_argument("--products", type=int, default=100)
    parser.add_argument("--releases", type=int, default=100)
    args = parser.parse_args()

    from firmproof.store import open_store
    from firmproof.store.query import Filters, findings
    from firmproof.store.timeline import timeline
    from firmproof.store.triage import Place, mark, states

    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(args.db or str(Path(tmp) / "store.sqlite"))
        start = time.perf_counter()
        rows = fill(store, args.products, args.releases)
        print(f"{store.dialect}: {args.products * args.releases} scans, {rows} findings, "
              f"{args.products * 20} marks (filled in {time.perf_counter() - start:.1f} s)")
        one = Filters(vendor="V3", product="P3")
        places = [Place(_h("k", p, f), f"V{p % 10}", f"P{p}", _h("img", p, 0))
                  for p in range(args.products) for f in range(10)][:10_000]
        key = findings(store, one)[0]["key"]
        cases: list[tuple[str, Callable[[], Any], int]] = [
            (f"db findings, one product ({args.releases * 10} rows, triage annotated)",
             lambda: findings(store, one), 3),
            ("db findings --triage untriaged, one product",
             lambda: findings(store, Filters(vendor="V3", product="P3", triage="untriaged")), 3),
            (f"db findings --triage false-positive, whole store ({rows} findings)",
             lambda: findings(store, Filters(triage="false-positive")), 1),
            (f"db findings, whole store ({rows} rows annotated)", lambda: findings(store), 1),
            (f"db timeline, one product ({args.releases} releases)", lambda: timeline(store, "V3", "P3"), 3),
            (f"states() of {len(places)} places", lambda: states(store, places), 3),
            ("one mark (db triage)", lambda: mark(store, key, "confirmed", vendor="V3", product="P3"), 5),
        ]
        for what, fn, runs in cases:
            print(f"  {what}: {best(fn, runs):.0f} ms")
        store.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
