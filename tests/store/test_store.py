"""The results store on SQLite and on a real PostgreSQL server, fed with reports of real scans."""

from __future__ import annotations

import copy
import json
import multiprocessing
import os
import zlib
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import func, select

from firmproof.store import ImageInfo, Store, StoreError, add_error, add_report, open_store
from firmproof.store.schema import Base, FindingRow, Image, Scan
from tests.servers import DaskCluster, ServerError
from tests.store.conftest import Scanned
from tests.store.rows import counts, dump
from tests.store.writer import write

INFO = {
    "demo-router": ImageInfo(vendor="Demo Networks", product="DR-1", version="1.0.2",
                             release_date=date(2024, 3, 1)),
    "clean-router": ImageInfo(vendor="Demo Networks", product="DR-1", version="1.0.3",
                              release_date=date(2024, 9, 1), guessed=frozenset({"release_date"})),
    "ext4-router": ImageInfo(vendor="Other Corp", product="X", guessed=frozenset({"vendor", "product"})),
}
STARTED = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def fill(store: Store, scanned: dict[str, Scanned]) -> list[int]:
    return [add_report(store, s.report, INFO[name], s.components, started=STARTED, inventory=s.inventory)
            for name, s in scanned.items()]


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    url = str(tmp_path / "store.sqlite") if request.param == "sqlite" else request.getfixturevalue("pg_url")
    opened = open_store(url)
    yield opened
    opened.close()


def test_sqlite_and_postgresql_hold_the_same_rows(scanned: dict[str, Scanned], tmp_path: Path,
                                                   pg_url: str) -> None:
    lite, pg = open_store(str(tmp_path / "store.sqlite")), open_store(pg_url)
    assert (lite.dialect, pg.dialect) == ("sqlite", "postgresql")
    fill(lite, scanned)
    fill(pg, scanned)
    rows = dump(lite)
    assert rows == dump(pg)
    # what went in: every finding and component of every scan, the report itself
    assert len(rows["scans"]) == len(scanned)
    assert len(rows["findings"]) == sum(len(s.report["findings"]) for s in scanned.values())
    assert len(rows["components"]) == sum(len(s.components) for s in scanned.values()) > 0
    for table, part in (("shipped_keys", "keys"), ("executables", "executables"), ("boot_entries", "boot"),
                        ("setuid_files", "setuid")):
        assert len(rows[table]) == sum(len(getattr(s.inventory, part)) for s in scanned.values()) > 0
    assert sorted(r["report"]["image"]["sha256"] for r in rows["reports"]) == \
        sorted(s.report["image"]["sha256"] for s in scanned.values())
    assert all(r["report"] == scanned[Path(r["report"]["image"]["name"]).stem].report
               for r in rows["reports"])
    assert {f["severity"] for f in rows["findings"]} >= {"critical", "high"}


def test_a_scan_row_says_what_the_report_says(store: Store, scanned: dict[str, Scanned]) -> None:
    demo = scanned["demo-router"]
    scan_id = add_report(store, demo.report, INFO["demo-router"], demo.components, started=STARTED)
    with store.sessions() as session:
        scan = session.get(Scan, scan_id)
        assert scan is not None
        report = demo.report
        assert (scan.image.sha256, scan.image.name, scan.image.size) == \
            (report["image"]["sha256"], "demo-router.bin", report["image"]["size"])
        assert (scan.image.vendor, scan.image.product, scan.image.version, scan.image.release_date) == \
            ("Demo Networks", "DR-1", "1.0.2", date(2024, 3, 1))
        assert (scan.tool_version, scan.schema, scan.status, scan.error) == \
            (report["tool"]["version"], "firmproof.report/1", "ok", None)
        assert (scan.complete, scan.examined_share) == (report["coverage"]["complete"],
                                                        report["coverage"]["examined_share"])
        assert scan.started == STARTED and scan.seconds == report["stats"]["seconds"]
        assert scan.finished is not None and scan.finished > STARTED
        assert scan.findings_count == len(scan.findings) == len(report["findings"])
        stored = {f.finding_id: f for f in scan.findings}
        for finding in report["findings"]:
            row = stored[finding["id"]]
            assert (row.rule, row.path, row.container, row.details) == \
                (finding["rule"], finding["path"], finding["container"], finding["details"])
            evidence = finding["evidence"]
            assert (row.evidence_sha256, row.evidence_offset, row.evidence_length, row.excerpt) == \
                (evidence["sha256"], evidence["offset"], evidence["length"], evidence["excerpt"])
        assert {(c.name, c.version, c.path) for c in scan.components} == \
            {(c.name, c.version, c.path) for c in demo.components}


def test_a_typed_report_gives_the_rows_of_its_json(scanned: dict[str, Scanned], tmp_path: Path) -> None:
    """What the scan returns (with its own components) and the JSON file it wrote: same rows."""
    typed, plain = open_store(str(tmp_path / "typed.sqlite")), open_store(str(tmp_path / "plain.sqlite"))
    for name, s in scanned.items():
        add_report(typed, s.typed, INFO[name], started=STARTED)
        add_report(plain, s.report, INFO[name], s.components, started=STARTED)
    assert dump(typed) == dump(plain)


def test_adding_the_same_reports_again_adds_nothing(store: Store, scanned: dict[str, Scanned]) -> None:
    first = fill(store, scanned)
    rows = dump(store)
    assert fill(store, scanned) == first
    # the same scan with other metadata: still the same scan, the image's row keeps what was given
    demo = scanned["demo-router"]
    guess = ImageInfo(vendor="Guess", guessed=frozenset({"vendor"}))
    assert add_report(store, demo.report, guess) == first[0]
    assert dump(store) == rows


def test_a_new_firmproof_version_adds_a_scan_of_the_same_image(store: Store,
                                                               scanned: dict[str, Scanned]) -> None:
    demo = scanned["demo-router"]
    old = add_report(store, demo.report, INFO["demo-router"], demo.components)
    newer = copy.deepcopy(demo.report)
    newer["tool"]["version"] = "9.9.9"
    new = add_report(store, newer, None, demo.components)
    assert new != old
    assert add_report(store, newer, None, demo.components) == new
    # and another rule set is another scan too
    other_rules = add_report(store, demo.report, None, demo.components, rules="another-rule-set")
    assert other_rules not in (old, new)
    n = counts(store)
    assert (n["images"], n["scans"], n["reports"]) == (1, 3, 3)
    assert n["findings"] == 3 * len(demo.report["findings"])
    assert n["components"] == 3 * len(demo.components)
    # the image's newest scan is the one stored last; adding an old one again changes nothing
    assert add_report(store, newer, None, demo.components) == new
    with store.sessions() as session:
        assert session.scalars(select(Image.newest_scan_id)).one() == other_rules


def test_an_image_that_could_not_be_scanned_is_recorded_then_replaced_by_its_report(
        store: Store, scanned: dict[str, Scanned]) -> None:
    report = scanned["clean-router"].report
    image = report["image"]
    failed = add_error(store, sha256=image["sha256"], name=image["name"], size=image["size"],
                       error="unpacking hit the time limit", tool_version=report["tool"]["version"])
    assert add_error(store, sha256=image["sha256"], name=image["name"], size=image["size"],
                     error="again", tool_version=report["tool"]["version"]) == failed
    with store.sessions() as session:
        scan = session.get(Scan, failed)
        assert scan is not None and (scan.status, scan.error) == ("error", "unpacking hit the time limit")
        assert session.scalars(select(Image.newest_scan_id)).one() is None      # no report yet
    ok = add_report(store, report)
    with store.sessions() as session:
        scans = session.scalars(select(Scan)).all()
        assert [(s.id, s.status, s.error) for s in scans] == [(ok, "ok", None)]
        assert session.scalars(select(Image.newest_scan_id)).one() == ok
    # an error of a later firmproof is a scan, not the newest report
    add_error(store, sha256=image["sha256"], name=image["name"], size=image["size"], error="crashed",
              tool_version="9.9.9")
    with store.sessions() as session:
        assert session.scalars(select(Image.newest_scan_id)).one() == ok


def test_given_metadata_replaces_a_guess_and_a_guess_never_replaces_what_was_given(
        store: Store, scanned: dict[str, Scanned]) -> None:
    s = scanned["ext4-router"]
    add_report(store, s.report, ImageInfo(vendor="Guessed Inc", version="0.9",
                                          guessed=frozenset({"vendor", "version"})))
    add_report(store, s.report, ImageInfo(vendor="Real Vendor", product="P", version="0.8",
                                          guessed=frozenset({"product"}), release_date=date(2023, 1, 1)),
               rules="a second scan")
    image = dump(store)["images"][0]
    assert (image["vendor"], image["vendor_guessed"]) == ("Real Vendor", False)
    assert (image["version"], image["version_guessed"]) == ("0.8", False)
    assert (image["product"], image["product_guessed"]) == ("P", True)
    assert (image["release_date"], image["release_date_guessed"]) == (date(2023, 1, 1), False)
    with pytest.raises(ValueError, match="unknown fields"):
        ImageInfo(guessed=frozenset({"colour"}))


def test_triage_key_follows_a_finding_into_another_image(store: Store, scanned: dict[str, Scanned]) -> None:
    """The same telnetd line of rcS in two images whose rcS files differ: the same key."""
    fill(store, scanned)
    with store.sessions() as session:
        rows = session.scalars(select(FindingRow).where(FindingRow.path == "/etc/init.d/rcS",
                                                        FindingRow.excerpt.contains("telnetd"))).all()
        assert len({r.scan_id for r in rows}) == 2
        assert len({r.evidence_sha256 for r in rows}) == 2      # two different rcS files
        assert len({r.key for r in rows}) == 1                  # one finding to triage
        demo_keys = {f.key for f in session.scalars(select(FindingRow))}
        assert len(demo_keys) < counts(store)["findings"]


def test_a_report_that_cannot_be_stored_leaves_nothing_behind(store: Store,
                                                               scanned: dict[str, Scanned]) -> None:
    """One transaction per report: its last finding refused (a severity the schema does not
    know) undoes the image, the scan and the findings before it, at once (not tried again)."""
    from sqlalchemy.exc import IntegrityError

    broken = copy.deepcopy(scanned["demo-router"].report)
    broken["findings"][-1]["severity"] = "dire"
    with pytest.raises(IntegrityError, match="severity"):
        add_report(store, broken)
    assert set(counts(store).values()) == {0}
    add_report(store, scanned["demo-router"].report)
    assert counts(store)["findings"] == len(broken["findings"])


def test_a_nul_character_read_from_the_image_is_stored_on_both_databases(
        scanned: dict[str, Scanned], tmp_path: Path, pg_url: str) -> None:
    """A literal of a vendor's binary may hold NUL (a real TP-Link report's FP-KNOWN finding
    does): PostgreSQL's jsonb and text refuse it. Both databases store it as the text `\\x00`,
    the same rows; the report blob keeps it as it was."""
    report = copy.deepcopy(scanned["demo-router"].report)
    report["findings"][0]["details"]["literal"] = "master\x00key"
    report["findings"][0]["title"] += " \x00"
    lite, pg = open_store(str(tmp_path / "store.sqlite")), open_store(pg_url)
    for store in (lite, pg):
        add_report(store, report)
    rows = dump(lite)
    assert rows == dump(pg)
    stored = next(f for f in rows["findings"] if f["details"].get("literal", "").startswith("master"))
    assert stored["details"]["literal"] == "master\\x00key" and stored["title"].endswith(" \\x00")
    assert rows["reports"][0]["report"]["findings"][0]["details"]["literal"] == "master\x00key"


def test_the_migrations_build_exactly_the_models(store: Store) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []
        assert context.get_current_revision() is not None
    assert open_store(store.engine.url.render_as_string(hide_password=False)).dialect == store.dialect


def test_a_report_is_stored_compressed_and_whole(store: Store, scanned: dict[str, Scanned]) -> None:
    from firmproof.store.schema import ReportBlob

    demo = scanned["demo-router"]
    scan_id = add_report(store, demo.report)
    with store.sessions() as session:
        blob = session.get(ReportBlob, scan_id)
        assert blob is not None
        assert json.loads(zlib.decompress(blob.data)) == demo.report


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_writers_lose_nothing_and_duplicate_nothing(
        backend: str, scanned: dict[str, Scanned], tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Four processes add the same three reports, each in its own order, all at once, into one
    store; the result is the rows one writer alone makes."""
    url = str(tmp_path / "store.sqlite") if backend == "sqlite" else request.getfixturevalue("pg_url")
    reports = [(s.report, INFO[name], s.components) for name, s in scanned.items()]
    # a newer tool version of each too, so that scans of one image race each other as well
    for report, info, components in list(reports):
        newer = copy.deepcopy(report)
        newer["tool"]["version"] = "9.9.9"
        reports.append((newer, info, components))
    context = multiprocessing.get_context("spawn")
    writers = 4
    barrier, results = context.Barrier(writers), context.Queue()
    processes = [context.Process(target=write, args=(url, reports, seed, barrier, results))
                 for seed in range(writers)]
    for p in processes:
        p.start()
    outcomes = [results.get(timeout=300) for _ in processes]
    for p in processes:
        p.join(timeout=60)
    assert [error for _, _, error in outcomes if error] == []
    ids = {tuple(ids) for _, ids, _ in outcomes}
    assert len(ids) == 1 and len(next(iter(ids))) == len(reports)      # every writer saw the same scans
    store = open_store(url)
    alone = open_store(str(tmp_path / "alone.sqlite"))
    for report, info, components in reports:
        add_report(alone, report, info, components)
    # each image's newest scan is the one stored last, which the race decides: the greatest id
    # here, whichever of the two firmproof versions that is
    with store.sessions() as session:
        greatest = {image: scan for image, scan in session.execute(
            select(Scan.image_id, func.max(Scan.id)).where(Scan.status == "ok").group_by(Scan.image_id))}
        assert {i.id: i.newest_scan_id for i in session.scalars(select(Image))} == greatest
    raced, single = dump(store), dump(alone)
    for rows in (raced, single):
        rows["images"] = [{k: v for k, v in i.items() if k != "newest_scan"} for i in rows["images"]]
    assert raced == single
    assert counts(store)["scans"] == 2 * len(scanned)


def test_a_bad_url_is_one_sentence() -> None:
    with pytest.raises(StoreError, match="unsupported database"):
        open_store("mysql://x@127.0.0.1/db")
    with pytest.raises(StoreError, match="cannot open the store"):
        open_store("postgresql://nobody@127.0.0.1:1/none?connect_timeout=2")


def test_postgresql_missing_says_make_setup_installs_it(monkeypatch: pytest.MonkeyPatch,
                                                         tmp_path: Path) -> None:
    from tests import servers

    monkeypatch.setattr(servers, "POSTGRES_BIN", tmp_path)
    with pytest.raises(ServerError) as caught:
        servers.postgres_bin()
    assert "install the Debian package postgresql (`make setup` does)" in str(caught.value)


def test_the_dask_cluster_runs_work_on_its_two_workers(dask: DaskCluster) -> None:
    from distributed import Client

    with Client(dask.scheduler, timeout=60) as client:
        pids = client.run(os.getpid)                  # on every worker: its address and process
        assert len(pids) == 2 and all(w.startswith("tcp://127.0.0.1:") for w in pids)
        assert len(set(pids.values())) == 2
        ran = {w: client.submit(os.getpid, pure=False, workers=[w]).result(timeout=60) for w in pids}
        assert ran == pids
        assert client.submit(sum, [1, 2, 3]).result(timeout=60) == 6


def test_the_default_store_is_sqlite_in_the_users_data_folder(monkeypatch: pytest.MonkeyPatch,
                                                              tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    store = open_store()
    assert store.dialect == "sqlite"
    assert (tmp_path / "data" / "firmproof" / "store.sqlite").is_file()
    store.close()


def test_postgresql_urls_go_through_psycopg(pg_url: str) -> None:
    for url in (pg_url, pg_url.replace("postgresql://", "postgres://", 1)):
        store = open_store(url)
        assert (store.dialect, store.engine.driver) == ("postgresql", "psycopg")
        store.close()
