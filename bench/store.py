"""The results store and the batch, measured (issue 14): a store of N synthetic scans on SQLite
and on a real PostgreSQL, the `firmproof db` queries on it, its size; then a batch of real scans
by the local pool and by a 2-worker Dask cluster.

    python bench/store.py [--scans 10000] [--db sqlite|postgresql|both] [--batch 50] [--runs 7]
                          [--part store|batch|all]

Shapes: the demo router image and, when ../shared/corpus/real is there, three of its images
(OpenWrt 15.05.1, TP-Link TL-WR841N v14, Xiongmai camera) are scanned once, each with its
inventory (keys, executables, boot entries, setuid files). Each synthetic scan takes one of
them as its template and varies what varies between real images: the image's sha256, vendor
(40), product (400, 10 per vendor), version and release date (25 releases per product), a
share of its findings (each kept with 85 %), its component versions (per vendor and release),
its key fingerprints (per vendor, with one SDK key of four shared by every vendor that ships
one, as real firmware does) and its executables' sha256 (a third the same everywhere, a third
per vendor, a third per release). The first 1,000 scans go through `add_report` (the batch's
writer; each insert timed), the rest through a bulk path that writes the same rows with one
executemany per table per 200 scans. 300 triage marks are set with `triage.mark`.

Queries: the functions behind the `firmproof db` verbs (`firmproof.store.query`,
`firmproof.store.timeline`), each run --runs times after one warm-up: median and p95. Size:
the SQLite file after a checkpoint, `pg_database_size` on PostgreSQL.

Batch: --batch images (the demo image built with varied plants and decoys, plus the corpus's
three when present), scanned by `run_batch` into a fresh SQLite store by the local pool (2
spawned workers) and by a 2-worker Dask cluster already running (tests/servers.py); per image:
the scan in the worker, the writer's `add_report`, and what is left (start-up, hashing,
dispatch, idle). Bounded: every part has a fixed count; nothing listens beyond 127.0.0.1.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import random
import statistics
import sys
import tempfile
import time
import zlib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

CORPUS = ROOT.parent / "shared" / "corpus" / "real"
SHAPES = ("openwrt_15.05.1_ar71xx_tl-wr703n-v1_squashfs-factory.bin",
          "tplink_tl-wr841n-v14-eu_stock_2023.bin",
          "xiongmai_gm8135s_ipc_web-x_stock.cramfs.img")
VENDORS, PRODUCTS_PER_VENDOR, RELEASES = 40, 10, 25
VIA_ADD_REPORT = 1000
BULK = 200
SDK_KEYS = 4


QUERY_INDEXES = ("ix_components_lower_name_version", "ix_scans_status_image_id_id")


def _h(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def _quiet() -> None:
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ---------------------------------------------------------------- shapes from real scans


@dataclasses.dataclass
class Shape:
    name: str
    report: dict[str, Any]
    components: list[Any]
    held: Any                       # Holdings


def shapes(work: Path) -> list[Shape]:
    from firmproof.batch import scan_with_inventory
    from firmproof.config import ScanConfig
    from firmproof.host.tools import use_tool_path
    from firmproof.testing.demo import build_image

    use_tool_path()
    images = [build_image(work / "demo.bin")]
    images += [CORPUS / name for name in SHAPES if (CORPUS / name).is_file()]
    out = []
    for image in images:
        t = time.perf_counter()
        report, held = scan_with_inventory(ScanConfig(image=image, workdir=work))
        # PostgreSQL's jsonb holds no NUL character (\u0000), which a real finding's details may
        # carry (the matched bytes of a known daemon): the shapes carry them as text "\x00"
        data = json.loads(json.dumps(report.to_json()).replace("\\u0000", "\\\\x00"))
        out.append(Shape(image.name, data, list(report.components), held))
        print(f"  shape {image.name}: {len(data['findings'])} findings, {len(report.components)} components, "
              f"{len(held.keys)} keys, {len(held.executables)} executables, {len(held.boot)} boot entries, "
              f"{len(held.setuid)} setuid ({time.perf_counter() - t:.1f} s)", file=sys.stderr)
    return out


# ---------------------------------------------------------------- synthetic scans


@dataclasses.dataclass
class Synthetic:
    report: dict[str, Any]
    info: Any                       # ImageInfo
    components: list[Any]
    held: Any                       # Holdings
    started: datetime


def product_of(i: int) -> tuple[str, str, int]:
    """Scan i: its vendor, product and release (every product's releases spread over the run)."""
    product = i % (VENDORS * PRODUCTS_PER_VENDOR)
    release = i // (VENDORS * PRODUCTS_PER_VENDOR)
    return f"Vendor{product % VENDORS:02d}", f"Model-{product:03d}", release


def shape_of(product: str, shapes_: list[Shape]) -> Shape:
    """A product keeps its template; small devices (demo, camera) are the most common."""
    weights = [4, 2, 2, 2][:len(shapes_)]
    return random.Random(product).choices(shapes_, weights=weights)[0]


def synthesize(i: int, shapes_: list[Shape]) -> Synthetic:
    from firmproof.store import ImageInfo

    vendor, product, release = product_of(i)
    shape = shape_of(product, shapes_)
    rnd = random.Random(i)
    report = json.loads(json.dumps(shape.report))
    sha = _h("image", i)
    report["image"]["sha256"] = sha
    report["image"]["name"] = f"{product.lower()}-v{release + 1}.{rnd.randrange(10)}.bin"
    # a finding stays from release to release unless dropped in this one (key, triage follow it)
    report["findings"] = [f for f in report["findings"] if rnd.random() < 0.85]
    for f in report["findings"]:          # the same bytes in every release of a product, not elsewhere
        f["evidence"]["excerpt"] += f" [{product}]" if int(_h(f["rule"])[:2], 16) % 2 else f" [{vendor}]"

    def fingerprint(fp: str | None) -> str | None:
        if fp is None:
            return None
        n = int(_h(vendor, fp)[:4], 16)
        if n % 5 == 0:                               # an SDK key several vendors ship
            return "SHA256:" + _h("sdk", n % SDK_KEYS)[:43]
        return "SHA256:" + _h("key", vendor, fp)[:43]

    for finding in report["findings"]:
        fp = (finding.get("details") or {}).get("fingerprint")
        if isinstance(fp, str):
            finding["details"]["fingerprint"] = fingerprint(fp)
    held = shape.held
    keys = tuple(dataclasses.replace(k, fingerprint=fingerprint(k.fingerprint)) for k in held.keys)

    def exe_sha(sha: str) -> str:
        share = int(sha[:2], 16) % 3
        if share == 0:
            return sha
        return _h("exe", sha, vendor) if share == 1 else _h("exe", sha, product, release)

    executables = tuple(dataclasses.replace(e, sha256=exe_sha(e.sha256)) for e in held.executables)
    boot = tuple(dataclasses.replace(b, binary_sha256=exe_sha(b.binary_sha256) if b.binary_sha256 else None)
                 for b in held.boot)
    held = dataclasses.replace(held, keys=keys, executables=executables, boot=boot)

    def version(v: str) -> str:
        bump = (int(_h(vendor)[:2], 16) + release // 5) % 4
        return v if bump == 0 else f"{v}-r{bump}"

    components = [dataclasses.replace(c, version=version(c.version)) for c in shape.components]
    day = date(2016, 1, 1) + timedelta(days=120 * release + int(_h(product)[:3], 16) % 90)
    info = ImageInfo(vendor=vendor, product=product, version=f"{release + 1}.{rnd.randrange(10)}",
                     release_date=day)
    return Synthetic(report, info, components, held,
                     datetime(day.year, day.month, day.day, tzinfo=UTC))


def bulk(store: Any, batch: list[tuple[int, Synthetic]], rules: str) -> None:
    """The rows add_report writes for these scans, one executemany per table (image and scan
    ids given: this process is the only writer)."""
    from sqlalchemy import insert

    from firmproof.store.ingest import SCHEMA, _component, _finding
    from firmproof.store.schema import (
        BootEntryRow,
        ComponentRow,
        ExecutableRow,
        FindingRow,
        Image,
        ReportBlob,
        Scan,
        SetuidFileRow,
        ShippedKeyRow,
    )

    tables = (Image, Scan, ReportBlob, FindingRow, ComponentRow, ShippedKeyRow, ExecutableRow, BootEntryRow,
              SetuidFileRow)
    rows: dict[Any, list[dict[str, Any]]] = {t: [] for t in tables}
    for n, s in batch:
        r, info = s.report, s.info
        rows[Image].append(dict(id=n, sha256=r["image"]["sha256"], name=r["image"]["name"],
                                size=r["image"]["size"],
                                vendor=info.vendor, product=info.product, version=info.version,
                                release_date=info.release_date, vendor_guessed=False, product_guessed=False,
                                version_guessed=False, release_date_guessed=False))
        coverage, unpack = r.get("coverage") or {}, r.get("unpack") or {}
        seconds = (r.get("stats") or {}).get("seconds")
        rows[Scan].append(dict(id=n, image_id=n, tool_version=r["tool"]["version"], rules_version=rules,
                               schema=SCHEMA, started=s.started, seconds=seconds,
                               finished=s.started + timedelta(seconds=seconds or 0),
                               complete=coverage.get("complete"),
                               examined_share=coverage.get("examined_share"),
                               incomplete=coverage.get("incomplete_count"),
                               unpacked_files=unpack.get("files"),
                               unpacked_bytes=unpack.get("bytes"),
                               errors=len(r.get("errors") or ()) + len(unpack.get("errors") or ()),
                               findings_count=len(r["findings"]), status="ok", error=None))
        rows[ReportBlob].append(dict(scan_id=n, data=zlib.compress(
            json.dumps(r, ensure_ascii=False, sort_keys=True).encode(), 6)))
        rows[FindingRow] += [_finding(n, f) for f in r["findings"]]
        rows[ComponentRow] += [_component(n, c) for c in s.components]
        h = s.held
        rows[ShippedKeyRow] += [dict(scan_id=n, fingerprint=k.fingerprint, kind=k.kind, type=k.type,
                                     path=k.path, container=list(k.container), number=k.number,
                                     offset=k.offset, comment=k.comment) for k in h.keys]
        rows[ExecutableRow] += [dict(scan_id=n, sha256=e.sha256, path=e.path, container=list(e.container),
                                     size=e.size) for e in h.executables]
        rows[BootEntryRow] += [dict(scan_id=n, file=b.file, offset=b.offset, command=b.command, name=b.name,
                                    binary=b.binary, binary_sha256=b.binary_sha256, via=b.via,
                                    chain=list(b.chain), port=b.port, listener=b.listener,
                                    container=list(b.container))
                               for b in h.boot]
        rows[SetuidFileRow] += [dict(scan_id=n, path=f.path, container=list(f.container), mode=f.mode,
                                     uid=f.uid, gid=f.gid, sha256=f.sha256) for f in h.setuid]

    def work(session: Any) -> None:
        for table, values in rows.items():
            if values:
                session.execute(insert(table.__table__), values)

    store.write(work)


def fill(store: Any, scans: int, shapes_: list[Shape]) -> dict[str, Any]:
    from sqlalchemy import func, select, text

    from firmproof.store import add_report
    from firmproof.store.ingest import rules_version
    from firmproof.store.schema import FindingRow, Scan
    from firmproof.store.triage import mark

    rules = rules_version()
    per_scan, t0 = [], time.perf_counter()
    first = min(scans, VIA_ADD_REPORT)
    for i in range(first):
        s = synthesize(i, shapes_)
        t = time.perf_counter()
        add_report(store, s.report, s.info, s.components, started=s.started, rules=rules, inventory=s.held)
        per_scan.append(time.perf_counter() - t)
    via_add = time.perf_counter() - t0
    t1 = time.perf_counter()
    pending: list[tuple[int, Synthetic]] = []
    for i in range(first, scans):
        pending.append((i + 1, synthesize(i, shapes_)))
        if len(pending) == BULK or i == scans - 1:
            bulk(store, pending, rules)
            pending = []
        if (i + 1) % 2000 == 0:
            print(f"    {i + 1} scans ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)
    via_bulk = time.perf_counter() - t1
    if store.dialect == "postgresql":                # ids given: move the sequences past them
        with store.engine.begin() as conn:
            for table in ("images", "scans"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
    # triage marks: 300 findings of 100 products, marked through the API
    with store.sessions() as session:
        picks = session.execute(select(FindingRow.key, func.min(FindingRow.scan_id))
                                .group_by(FindingRow.key).order_by(FindingRow.key).limit(300)).all()
        owners = {sid: session.get(Scan, sid).image for _, sid in picks}
        for key, sid in picks:
            image = owners[sid]
            mark(store, key, random.Random(key).choice(["confirmed", "false-positive", "accepted-risk"]),
                 vendor=image.vendor, product=image.product, who="bench")
    return dict(per_scan=per_scan, via_add=via_add, via_bulk=via_bulk, bulk_scans=scans - first)


def size_of(store: Any, path: Path | None) -> float:
    from sqlalchemy import text

    with store.engine.begin() as conn:
        if store.dialect == "sqlite":
            conn.execute(text("PRAGMA wal_checkpoint(TRUNCATE)"))
            assert path is not None
            return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))
        return float(conn.execute(text("SELECT pg_database_size(current_database())")).scalar_one())


def counts(store: Any) -> dict[str, int]:
    from sqlalchemy import text

    with store.engine.connect() as conn:
        return {t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
                for t in ("scans", "findings", "components", "shipped_keys", "executables", "boot_entries",
                          "setuid_files", "triage")}


def queries(store: Any, runs: int) -> list[tuple[str, float, float, int]]:
    from sqlalchemy import func, select

    from firmproof.store.query import Filters, component, executable, findings, images, key
    from firmproof.store.schema import ComponentRow, ExecutableRow, FindingRow, ShippedKeyRow
    from firmproof.store.timeline import timeline

    with store.sessions() as session:
        shared_key = session.execute(select(ShippedKeyRow.fingerprint, func.count()).group_by(
            ShippedKeyRow.fingerprint).order_by(func.count().desc()).limit(1)).one()[0]
        vendor_key = session.execute(
            select(ShippedKeyRow.fingerprint).where(ShippedKeyRow.fingerprint.isnot(None))
            .group_by(ShippedKeyRow.fingerprint).order_by(func.count()).limit(1)).scalar_one()
        common_exe = session.execute(select(ExecutableRow.sha256, func.count()).group_by(ExecutableRow.sha256)
                                     .order_by(func.count().desc()).limit(1)).one()[0]
        rare_exe = session.execute(select(ExecutableRow.sha256).group_by(ExecutableRow.sha256)
                                   .order_by(func.count(), ExecutableRow.sha256).limit(1)).scalar_one()
        comp, comp_version = session.execute(select(ComponentRow.name, ComponentRow.version, func.count())
                                             .group_by(ComponentRow.name, ComponentRow.version)
                                             .order_by(func.count().desc()).limit(1)).one()[:2]
        rule = session.execute(select(FindingRow.rule, func.count()).group_by(FindingRow.rule)
                               .order_by(func.count().desc()).limit(1)).one()[0]
    vendor, product, _ = product_of(7)
    cases: list[tuple[str, Callable[[], list[Any]]]] = [
        ("db images (whole store)", lambda: images(store)),
        (f"db findings --vendor {vendor}", lambda: findings(store, Filters(vendor=vendor))),
        (f"db findings --vendor {vendor} --product {product}",
         lambda: findings(store, Filters(vendor=vendor, product=product))),
        (f"db findings --rule {rule} (its most common)", lambda: findings(store, Filters(rule=rule))),
        ("db findings --severity critical", lambda: findings(store, Filters(severity="critical"))),
        (f"db findings --vendor {vendor} --triage open",
         lambda: findings(store, Filters(vendor=vendor, triage="open"))),
        ("db findings --triage false-positive (whole store)",
         lambda: findings(store, Filters(triage="false-positive"))),
        ("db key (an SDK key shared across vendors)", lambda: key(store, shared_key)),
        ("db key (a key of one image)", lambda: key(store, vendor_key)),
        ("db executable (the most shared ELF)", lambda: executable(store, common_exe)),
        ("db executable (an ELF of one image)", lambda: executable(store, rare_exe)),
        (f"db component {comp} {comp_version}", lambda: component(store, comp, comp_version)),
        (f"db component {comp} (any version)", lambda: component(store, comp)),
        (f"db timeline --vendor {vendor} --product {product}", lambda: timeline(store, vendor, product)),
    ]
    out = []
    for what, fn in cases:
        n = len(fn())                                  # warm-up
        times = []
        deadline = time.monotonic() + 120
        for _ in range(runs):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
            if time.monotonic() > deadline:
                break
        out.append((what, statistics.median(times) * 1000, _pct(times, 0.95) * 1000, n))
        print(f"    {what}: {out[-1][1]:.1f} ms ({n} rows)", file=sys.stderr)
    return out


def store_part(args: argparse.Namespace, work: Path) -> None:
    from firmproof.store import open_store

    print("shapes:", file=sys.stderr)
    shapes_ = shapes(work)
    dbs = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results = {}
    for db in dbs:
        print(f"{db}:", file=sys.stderr)
        if db == "sqlite":
            path = work / "store.sqlite"
            results[db] = _measure(open_store(f"sqlite:///{path}"), path, args, shapes_)
        else:
            from tests.servers import postgres

            with postgres() as server:
                results[db] = _measure(open_store(server.create_database("bench")), None, args, shapes_)
        _print({db: results[db]}, args, shapes_)
    if len(results) > 1:
        _print(results, args, shapes_)


def _print(results: dict[str, Any], args: argparse.Namespace, shapes_: list[Shape]) -> None:
    print(f"\n## store of {args.scans:,} synthetic scans ({len(shapes_)} shapes: "
          f"{', '.join(s.name for s in shapes_)})")
    for db, r in results.items():
        per = r["fill"]["per_scan"]
        c = r["counts"]
        print(f"\n{db}: rows {c}")
        print(f"  add_report, first {len(per)} scans: median {statistics.median(per) * 1000:.1f} ms, "
              f"p95 {_pct(per, 0.95) * 1000:.1f} ms, total {r['fill']['via_add']:.0f} s; bulk "
              f"{r['fill']['bulk_scans']} scans {r['fill']['via_bulk']:.0f} s")
        print(f"  size {r['size'] / 1e6:.1f} MB: "
              f"{r['size'] / 1e6 / c['findings'] * 1000:.2f} MB per 1,000 findings, "
              f"{r['size'] / 1e3 / c['scans']:.1f} kB per scan")
    heads = " | ".join(f"{db} median / p95 ms" for db in results)
    print(f"\n| query ({args.scans:,} scans) | rows | {heads} |")
    print("|---|---:|" + "---:|" * len(results))
    first = next(iter(results.values()))["queries"]
    for n, (what, _, _, rows) in enumerate(first):
        cells = " | ".join(f"{r['queries'][n][1]:.0f} / {r['queries'][n][2]:.0f}" for r in results.values())
        print(f"| `{what}` | {rows:,} | {cells} |")
    if all("queries_before" in r for r in results.values()):
        heads = " | ".join(f"{db} without / with (ratio)" for db in results)
        print(f"\n| query, median ms, without and with the 0004 indexes | {heads} |")
        print("|---|" + "---:|" * len(results))
        for n, (what, _, _, _) in enumerate(first):
            cells = " | ".join(f"{r['queries_before'][n][1]:.0f} / {r['queries'][n][1]:.0f} "
                               f"({r['queries_before'][n][1] / max(r['queries'][n][1], 0.001):.1f}×)"
                               for r in results.values())
            print(f"| `{what}` | {cells} |")
    sys.stdout.flush()


def _measure(store: Any, path: Path | None, args: argparse.Namespace, shapes_: list[Shape]) -> dict[str, Any]:
    t = time.perf_counter()
    filled = fill(store, args.scans, shapes_)
    print(f"  filled in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    if store.dialect == "postgresql":
        from sqlalchemy import text

        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    result = dict(fill=filled, counts=counts(store), size=size_of(store, path))
    if args.compare_indexes:
        # the same store without the query indexes of migration 0004 and with them, twice in
        # turn; each query's lower median of its two rounds (the one less disturbed by others)
        from sqlalchemy import text

        from firmproof.store.schema import Base

        rounds: dict[bool, list[list[tuple[str, float, float, int]]]] = {False: [], True: []}
        for turn in range(2):
            print(f"  round {turn + 1}, without the query indexes (0004):", file=sys.stderr)
            with store.engine.begin() as conn:
                for index in QUERY_INDEXES:
                    conn.execute(text(f"DROP INDEX {index}"))
            store.engine.dispose()                 # no connection keeps the old schema's plans
            rounds[False].append(queries(store, args.runs))
            with store.engine.begin() as conn:
                for table in Base.metadata.sorted_tables:
                    for index in table.indexes:
                        if index.name in QUERY_INDEXES:
                            index.create(conn)
            store.engine.dispose()
            print(f"  round {turn + 1}, with them:", file=sys.stderr)
            rounds[True].append(queries(store, args.runs))
        for name, indexed in (("queries_before", False), ("queries", True)):
            result[name] = [min(pair, key=lambda q: q[1]) for pair in zip(*rounds[indexed], strict=True)]
    else:
        result["queries"] = queries(store, args.runs)
    store.close()
    return result


# ---------------------------------------------------------------- the batch


class Timed:
    """Events that keep each outcome's worker seconds."""

    def __init__(self) -> None:
        self.scan: list[float] = []

    def planned(self, total: int, skipped: int) -> None:
        pass

    def started(self, path: str, worker: int) -> None:
        pass

    def finished(self, outcome: Any, findings: int) -> None:
        self.scan.append(outcome.seconds)

    def unreadable(self, path: str, why: str) -> None:
        pass


def batch_images(work: Path, count: int) -> list[Path]:
    from firmproof.host.tools import use_tool_path
    from firmproof.testing.demo import DECOYS, PLANTS, build_image

    use_tool_path()
    real = [CORPUS / name for name in SHAPES if (CORPUS / name).is_file()]
    out = []
    for n in range(count - len(real)):
        rnd = random.Random(n)
        plants = [p for p in PLANTS if rnd.random() < 0.6]
        decoys = [d for d in DECOYS if rnd.random() < 0.5]
        fmt = ("squashfs-xz", "squashfs-gzip", "squashfs-zstd", "ext4")[n % 4]
        out.append(build_image(work / f"demo-{n:03d}.bin", plants=plants, decoys=decoys, fmt=fmt))
    return out + real


def batch_once(images: list[Path], scheduler: str | None, folder: Path) -> dict[str, Any]:
    import firmproof.batch as batch
    from firmproof.store import open_store

    writer: list[float] = []
    original = batch.add_report

    def timed(*a: Any, **k: Any) -> int:
        t = time.perf_counter()
        try:
            return original(*a, **k)
        finally:
            writer.append(time.perf_counter() - t)

    batch.add_report = timed
    store = open_store(f"sqlite:///{folder / 'batch.sqlite'}")
    events = Timed()
    try:
        t = time.perf_counter()
        result = batch.run_batch([batch.Item(p) for p in images], store,
                                 batch.BatchOptions(jobs=2, scheduler=scheduler), events)
        wall = time.perf_counter() - t
    finally:
        batch.add_report = original
        store.close()
    return dict(wall=wall, scanned=result.scanned, failed=len(result.failed), scan=events.scan, writer=writer,
                findings=result.findings)


def dask_task_cost(scheduler: str, tasks: int = 200) -> float:
    """Seconds per no-op task submitted and gathered one by one through the scheduler."""
    from distributed import Client, as_completed

    with Client(scheduler) as client:
        client.submit(abs, -1, pure=False).result()
        t = time.perf_counter()
        futures = [client.submit(abs, -n, pure=False) for n in range(tasks)]
        for future in as_completed(futures):
            future.result()
        return (time.perf_counter() - t) / tasks


def batch_part(args: argparse.Namespace, work: Path) -> None:
    from tests.servers import dask_cluster

    t = time.perf_counter()
    images = batch_images(work / "images", args.batch)
    size = sum(p.stat().st_size for p in images)
    print(f"batch: {len(images)} images, {size / 1e6:.1f} MB (built in {time.perf_counter() - t:.0f} s)",
          file=sys.stderr)
    runs = {}
    (work / "pool").mkdir()
    runs["local pool (2 spawned workers)"] = batch_once(images, None, work / "pool")
    with dask_cluster(2) as cluster:
        (work / "dask").mkdir()
        runs["Dask, 2 workers (cluster running)"] = batch_once(images, cluster.scheduler, work / "dask")
        per_task = dask_task_cost(cluster.scheduler)
    print(f"\n## batch of {len(images)} images ({size / 1e6:.1f} MB)")
    print("| run | images | wall s | images/hour | scan in worker, median / mean s | writer median / max ms "
          "| left per image s |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for what, r in runs.items():
        n = r["scanned"] + r["failed"]
        left = (2 * r["wall"] - sum(r["scan"])) / max(1, n)
        print(f"| {what} | {n} ({r['failed']} failed) | {r['wall']:.1f} | {3600 * n / r['wall']:,.0f} | "
              f"{statistics.median(r['scan']):.2f} / {statistics.mean(r['scan']):.2f} | "
              f"{statistics.median(r['writer']) * 1000:.1f} / {max(r['writer']) * 1000:.0f} | {left:.2f} |")
    print(f"Dask scheduler, one no-op task submitted and gathered: {per_task * 1000:.2f} ms")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scans", type=int, default=10_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--part", choices=("store", "batch", "all"), default="all")
    parser.add_argument("--compare-indexes", action="store_true",
                        help="also time the queries without the query indexes (migration 0004)")
    args = parser.parse_args()
    _quiet()
    print(f"# bench/store.py {datetime.now(UTC):%Y-%m-%d %H:%M} UTC")
    with tempfile.TemporaryDirectory(prefix="firmproof-bench-store-") as tmp:
        work = Path(tmp)
        if args.part in ("store", "all"):
            store_part(args, work)
        if args.part in ("batch", "all"):
            batch_part(args, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
