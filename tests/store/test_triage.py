"""Triage across releases and a product's timeline, on SQLite and on a real PostgreSQL server.

Three releases of one product (Acme R1 1.9, 1.10, 1.10.1) and one of another vendor's product
(Globex G2) are built at test time with the real tools and scanned for real: the telnetd line
stays with identical evidence in every release and ships in G2 too; the serial root console of
1.9 is fixed in 1.10; a netcat bind shell appears in 1.10; a known backdoor (the Huawei
'telecomadmin' account) appears in 1.10.1.
"""

from __future__ import annotations

import csv
import getpass
import io
import json
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from firmproof.store import ImageInfo, Store, add_error, add_report, evidence_key, open_store
from firmproof.store.query import Filters, findings
from firmproof.store.schema import SEVERITIES, FindingRow, Image, Scan
from firmproof.store.timeline import release_order, timeline, version_key
from firmproof.store.triage import (
    Place,
    TriageError,
    mark,
    mark_finding,
    marks,
    resolve_key,
    state,
    state_of,
    states,
)

HUAWEI_CTREE = ('<X_HW_WebUserInfo>\n<X_HW_WebUserInfoInstance InstanceID="2" UserName="telecomadmin" '
                'Password="admintelecom" UserLevel="0"/>\n</X_HW_WebUserInfo>\n')

# name -> (vendor, product, version, plants of firmproof.testing.demo)
RELEASES = {
    "r1-1.10.1": ("Acme", "R1", "1.10.1", ("telnetd-shell", "nc-bind-shell")),
    "r1-1.9": ("Acme", "R1", "1.9", ("telnetd-shell", "serial-root-shell")),
    "g2-3.0": ("Globex", "G2", "3.0", ("telnetd-shell",)),
    "r1-1.10": ("Acme", "R1", "1.10", ("telnetd-shell", "nc-bind-shell")),
}
TELNETD = "FP-SVC-001"      # stays
CONSOLE = "FP-CON-001"      # fixed in 1.10
NETCAT = "FP-SVC-006"       # appears in 1.10
HUAWEI = "FP-KNOWN-014"     # appears in 1.10.1


@dataclass(frozen=True)
class Release:
    name: str
    info: ImageInfo
    typed: Any                  # the Report the scan returned
    report: dict[str, Any]      # its JSON


@pytest.fixture(scope="module")
def releases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Release]:
    from firmproof.config import ScanConfig
    from firmproof.scan import scan
    from firmproof.testing.demo import build_rootfs
    from firmproof.testing.fixtures import pack

    root = tmp_path_factory.mktemp("releases")
    out = {}
    for name, (vendor, product, version, plants) in RELEASES.items():
        tree = build_rootfs(root / name, plants=plants, decoys=())
        if name == "r1-1.10.1":
            (tree / "etc/wap").mkdir(parents=True)
            (tree / "etc/wap/hw_default_ctree.xml").write_text(HUAWEI_CTREE)
        image = pack(tree, "squashfs-xz", root / f"{name}.bin")
        result = scan(ScanConfig(image=image))
        out[name] = Release(name, ImageInfo(vendor=vendor, product=product, version=version),
                            result, result.to_json())
    return out


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, tmp_path: Path, releases: dict[str, Release]) -> Any:
    url = str(tmp_path / "store.sqlite") if request.param == "sqlite" else request.getfixturevalue("pg_url")
    opened = open_store(url)
    for release in releases.values():
        add_report(opened, release.typed, release.info)
    yield opened
    opened.close()


def _rules(release: Release) -> list[str]:
    return sorted(f["rule"] for f in release.report["findings"])


def _key(release: Release, rule: str) -> str:
    [finding] = [f for f in release.report["findings"] if f["rule"] == rule]
    return evidence_key(rule, finding["path"], finding["evidence"])


def test_the_releases_hold_what_was_planted(releases: dict[str, Release]) -> None:
    for name in RELEASES:
        assert TELNETD in _rules(releases[name])
    assert CONSOLE in _rules(releases["r1-1.9"]) and CONSOLE not in _rules(releases["r1-1.10"])
    assert NETCAT not in _rules(releases["r1-1.9"]) and NETCAT in _rules(releases["r1-1.10"])
    assert HUAWEI in _rules(releases["r1-1.10.1"]) and HUAWEI not in _rules(releases["r1-1.10"])
    # the telnetd line is the same finding everywhere: one key
    assert len({_key(releases[name], TELNETD) for name in RELEASES}) == 1


def _by(rows: list[dict[str, Any]], rule: str) -> dict[tuple[str, str], str]:
    return {(r["product"], r["version"]): r["triage"] for r in rows if r["rule"] == rule}


def test_a_mark_in_release_1_follows_the_finding_into_later_releases_of_that_product_only(
        store: Store, releases: dict[str, Release]) -> None:
    rows = findings(store)
    assert {r["triage"] for r in rows} == {"untriaged"}
    [first] = [r for r in rows if r["rule"] == TELNETD and r["version"] == "1.9"]
    done = mark_finding(store, first["scan"], first["finding"], "false-positive",
                        comment="debug telnetd, firewalled", who="alice")
    assert (done.vendor, done.product, done.image_sha256, done.who) == \
        ("Acme", "R1", first["image_sha256"], "alice")

    rows = findings(store)
    assert _by(rows, TELNETD) == {("R1", "1.9"): "false-positive", ("R1", "1.10"): "false-positive",
                                  ("R1", "1.10.1"): "false-positive", ("G2", "3.0"): "untriaged"}
    assert set(_by(rows, NETCAT).values()) == {"untriaged"}         # the new one: not carried
    [later] = [r for r in rows if r["rule"] == TELNETD and r["version"] == "1.10"]
    assert (later["triage_comment"], later["triage_who"]) == ("debug telnetd, firewalled", "alice")

    fp = findings(store, Filters(triage="false-positive"))
    assert sorted(r["version"] for r in fp) == ["1.10", "1.10.1", "1.9"]
    untriaged = findings(store, Filters(triage="untriaged"))
    assert len(untriaged) == len(rows) - 3 and TELNETD in {r["rule"] for r in untriaged}
    assert findings(store, Filters(vendor="Acme", triage="open", rule=TELNETD)) == []


def test_a_key_in_two_products_is_marked_for_the_one_named_and_history_keeps_every_mark(
        store: Store, releases: dict[str, Release]) -> None:
    key = _key(releases["r1-1.9"], TELNETD)
    with pytest.raises(TriageError, match=r"2 products .*Acme R1; Globex G2"):
        mark(store, key[:12], "confirmed")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    mark(store, key[:12], "false-positive", vendor="Acme", product="R1", who="alice", at=t0)
    mark(store, key, "confirmed", vendor="Globex", product="G2", comment="reachable on WAN", at=t0)
    places = {name: Place(key, r.info.vendor, r.info.product, r.report["image"]["sha256"])
              for name, r in releases.items()}
    assert {n: state(store, p) for n, p in places.items()} == {
        "r1-1.10.1": "false-positive", "r1-1.9": "false-positive", "r1-1.10": "false-positive",
        "g2-3.0": "confirmed"}
    # the newest mark holds; every mark is kept
    mark(store, key, "confirmed", vendor="Acme", product="R1", who="bob", comment="reopened",
         at=t0 + timedelta(days=1))
    assert state(store, places["r1-1.9"]) == "confirmed"
    history = marks(store, key)
    assert [(m.state, m.who, m.scope) for m in history] == [
        ("false-positive", "alice", "Acme R1"), ("confirmed", getpass.getuser(), "Globex G2"),
        ("confirmed", "bob", "Acme R1")]
    assert [m.who for m in marks(store, key, vendor="Acme", product="R1")] == ["alice", "bob"]
    # many places at once, one of them unmarked
    netcat = Place(_key(releases["r1-1.10"], NETCAT), "Acme", "R1", places["r1-1.10"].image_sha256)
    held = states(store, [*places.values(), netcat])
    assert netcat not in held and {m.state for m in held.values()} == {"confirmed"}
    # the SQL expression says what the marks say, finding by finding
    with store.sessions() as session:
        in_sql = dict(session.execute(
            select(FindingRow.id, state_of(FindingRow.key, Image.vendor, Image.product, Image.sha256))
            .join(Scan, Scan.id == FindingRow.scan_id).join(Image, Image.id == Scan.image_id)).all())
        where = {row.id: Place(row.key, row.vendor, row.product, row.sha256) for row in session.execute(
            select(FindingRow.id, FindingRow.key, Image.vendor, Image.product, Image.sha256)
            .join(Scan, Scan.id == FindingRow.scan_id).join(Image, Image.id == Scan.image_id))}
    held = states(store, where.values())
    assert in_sql == {i: held[p].state if p in held else None for i, p in where.items()}
    assert sum(v is not None for v in in_sql.values()) == 4


def test_a_key_no_finding_has_is_refused_with_a_sentence(store: Store) -> None:
    with pytest.raises(TriageError, match="no finding with key 0123456789abcdef in the store"):
        mark(store, "0123456789abcdef", "confirmed")
    with pytest.raises(TriageError, match="not a finding key"):
        resolve_key(store, "12ab")
    with pytest.raises(TriageError, match="no finding nope in scan 1"):
        mark_finding(store, 1, "nope", "fixed")
    rows = findings(store)
    with pytest.raises(TriageError, match="a triage state is one of"):
        mark_finding(store, rows[0]["scan"], rows[0]["finding"], "wontfix")
    with pytest.raises(TriageError, match="not found in the images asked for"):
        mark(store, rows[0]["key"], "fixed", vendor="Initech")


def test_an_image_naming_no_product_keeps_its_mark_to_itself(tmp_path: Path,
                                                              releases: dict[str, Release]) -> None:
    store = open_store(str(tmp_path / "store.sqlite"))
    try:
        bare = {name: add_report(store, releases[name].typed, ImageInfo(vendor="Acme"))
                for name in ("r1-1.9", "r1-1.10")}
        assert len(bare) == 2
        key = _key(releases["r1-1.9"], TELNETD)
        sha = {n: releases[n].report["image"]["sha256"] for n in bare}
        with pytest.raises(TriageError, match="2 products or unnamed images"):
            mark(store, key, "accepted-risk")
        done = mark(store, key, "accepted-risk", image_sha256=sha["r1-1.9"][:12])
        assert (done.vendor, done.product, done.image_sha256) == (None, None, sha["r1-1.9"])
        assert state(store, Place(key, "Acme", None, sha["r1-1.9"])) == "accepted-risk"
        assert state(store, Place(key, "Acme", None, sha["r1-1.10"])) == "untriaged"
    finally:
        store.close()


def _expected(releases: list[Release], closed: set[str]) -> list[dict[str, Any]]:
    """The timeline as the reports say it, with the keys in `closed` marked closed."""
    out, before = [], None
    for release in releases:
        found = release.report["findings"]
        keys = Counter(evidence_key(f["rule"], f["path"], f["evidence"]) for f in found)
        per = Counter(f["severity"] for f in found)
        out.append({
            "version": release.info.version, "findings": len(found), **{s: per[s] for s in SEVERITIES},
            "new": None if before is None else sum((keys - before).values()),
            "gone": None if before is None else sum((before - keys).values()),
            "open_critical_high": sum(1 for f in found if f["severity"] in ("critical", "high")
                                      and evidence_key(f["rule"], f["path"], f["evidence"]) not in closed),
            "known_backdoors": sorted({f["rule"] for f in found if f["category"] == "known-backdoor"}),
        })
        before = keys
    return out


def test_the_timeline_counts_what_the_reports_say(store: Store, releases: dict[str, Release]) -> None:
    add_error(store, sha256="e" * 64, name="r1-1.9.5.bin", size=1, error="unpacking timed out",
              tool_version="0", image=ImageInfo(vendor="Acme", product="R1", version="1.9.5"))
    telnetd = _key(releases["r1-1.9"], TELNETD)
    mark(store, telnetd, "false-positive", vendor="Acme", product="R1")
    rows = timeline(store, "Acme", "R1")
    assert [(r["version"], r["status"]) for r in rows] == [("1.9", "ok"), ("1.9.5", "error"), ("1.10", "ok"),
                                                          ("1.10.1", "ok")]
    assert rows[1]["findings"] is None and rows[1]["error"] == "unpacking timed out"
    scanned = [r for r in rows if r["status"] == "ok"]
    ordered = [releases[n] for n in ("r1-1.9", "r1-1.10", "r1-1.10.1")]
    fields = ["version", "findings", *SEVERITIES, "new", "gone", "open_critical_high", "known_backdoors"]
    assert [{f: r[f] for f in fields} for r in scanned] == _expected(ordered, {telnetd})
    # what changed, by rule: 1.10 fixed the console and added netcat; 1.10.1 added the backdoor
    rule_of = {_key(r, f["rule"]): f["rule"] for r in ordered for f in r.report["findings"]}
    assert [rule_of[k] for k in scanned[1]["gone_keys"]] == [CONSOLE]
    assert [rule_of[k] for k in scanned[1]["new_keys"]] == [NETCAT]
    assert HUAWEI in [rule_of[k] for k in scanned[2]["new_keys"]]
    assert [r["known_backdoors"] for r in scanned] == [[], [], [HUAWEI]]
    # the other product's timeline is its own, and its telnetd is open
    [g2] = timeline(store, "Globex", "G2")
    assert (g2["version"], g2["new"], g2["open_critical_high"]) == ("3.0", None, g2["critical"] + g2["high"])
    assert timeline(store, "Acme", "Nope") == []


def test_versions_compare_as_versions() -> None:
    ordered = ["1.2", "1.9", "1.10rc1", "1.10", "1.10.1", "v1.11", "1.11a", "2.0", None]
    assert sorted(reversed(ordered), key=version_key) == ordered
    assert sorted(["1.10.1", "1.9", "1.10"], key=version_key) == ["1.9", "1.10", "1.10.1"]
    jan = date(2024, 1, 1)
    given = [(None, "1.0"), (jan, "1.10"), (date(2023, 6, 1), "1.9"), (jan, "1.9.1")]
    rows = [{"release_date": d, "version": v, "image": v} for d, v in given]
    assert [r["version"] for r in sorted(rows, key=release_order)] == ["1.9", "1.9.1", "1.10", "1.0"]


def _db(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "firmproof.cli", "db", *args], capture_output=True,
                          text=True, timeout=300, check=False)


def test_the_command_line_marks_lists_and_refuses(tmp_path: Path, releases: dict[str, Release]) -> None:
    url = str(tmp_path / "store.sqlite")
    opened = open_store(url)
    for release in releases.values():
        add_report(opened, release.typed, release.info)
    opened.close()
    key = _key(releases["r1-1.9"], TELNETD)

    ambiguous = _db("triage", key[:16], "--state", "false-positive", "--db", url)
    assert ambiguous.returncode == 2 and ambiguous.stderr.count("\n") == 1
    assert "Acme R1; Globex G2" in ambiguous.stderr and "Traceback" not in ambiguous.stderr
    done = _db("triage", key[:16], "--state", "false-positive", "--vendor", "Acme", "--product", "R1",
               "--comment", "debug build", "--who", "carol", "--db", url, "--json")
    assert done.returncode == 0, done.stderr
    assert [(m["state"], m["who"], m["scope"], m["key"]) for m in json.loads(done.stdout)] == \
        [("false-positive", "carol", "Acme R1", key)]
    missing = _db("triage", "0123456789abcdef", "--state", "fixed", "--db", url)
    assert (missing.returncode, missing.stderr.count("\n")) == (2, 1)
    assert "no finding with key" in missing.stderr and "Traceback" not in missing.stderr
    bad = _db("triage", "x:y", "--state", "fixed", "--db", url)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr

    listed = json.loads(_db("findings", "--db", url, "--json", "--rule", NETCAT).stdout)
    by_scan = _db("triage", f"{listed[0]['scan']}:{listed[0]['finding']}", "--state", "confirmed",
                  "--db", url)
    assert by_scan.returncode == 0 and "confirmed" in by_scan.stdout
    untriaged = list(csv.DictReader(io.StringIO(
        _db("findings", "--db", url, "--csv", "--triage", "untriaged", "--vendor", "Acme").stdout)))
    assert untriaged and {r["triage"] for r in untriaged} == {"untriaged"}
    assert TELNETD not in {r["rule"] for r in untriaged}
    history = _db("history", key[:20], "--db", url)
    assert history.returncode == 0 and "carol" in history.stdout and "1 row" in history.stdout

    table = _db("timeline", "--vendor", "Acme", "--product", "R1", "--db", url, "--csv")
    rows = list(csv.DictReader(io.StringIO(table.stdout)))
    assert [(r["version"], r["known_backdoors"]) for r in rows] == [("1.9", ""), ("1.10", ""),
                                                                  ("1.10.1", HUAWEI)]
    assert [r["new"] for r in rows][1:] and rows[0]["new"] == ""
    as_json = json.loads(_db("timeline", "--vendor", "Acme", "--product", "R1", "--db", url, "--json").stdout)
    assert as_json[2]["known_backdoors"] == [HUAWEI]
