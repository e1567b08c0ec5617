"""What the web pages and the API read from the store (read only): scans by filters a page at a
time, one scan with its findings and components, one finding, the stored report.

Rows come back as plain dicts; the API's models (`api.py`) and the templates read them alike.
A finding's triage state is the mark in force for it (`firmproof.store.triage`: the newest mark
on its key in its product, so that a mark made on one release shows on every release of the
product that has the same finding).
"""

from __future__ import annotations

import json
import zlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, exists, func, or_, select

from firmproof.store.schema import SEVERITIES, ComponentRow, FindingRow, Image, ReportBlob, Scan, Triage
from firmproof.store.triage import OPEN, UNTRIAGED, Place, marks, state_of, states

if TYPE_CHECKING:
    from firmproof.store import Store

Row = dict[str, Any]
TRIAGE_FILTERS = (UNTRIAGED, "open")  # besides the states: no mark in force; untriaged or confirmed
MAX_PER_PAGE = 200
# what the database can take: a row id past 2**63 - 1 (or an offset of a page that far) was a
# server error on every page and endpoint that took one from the address
MAX_PAGE = 10**6
MAX_ID = 2**63 - 1


def _row_id(value: int) -> bool:
    """`value` can be a row's id (anything else names no row)."""
    return 1 <= value <= MAX_ID


@dataclass(frozen=True)
class ScanFilters:
    """A scan matches when its image matches the image fields and, when any finding field is
    given, one of its findings matches all of them. Dates are the scan's start, both ends kept."""

    q: str | None = None               # part of the image's name, vendor, product, version or sha256
    vendor: str | None = None
    product: str | None = None
    version: str | None = None
    severity: str | None = None        # this severity or above
    category: str | None = None
    rule: str | None = None
    triage: str | None = None          # a triage state, or one of TRIAGE_FILTERS
    since: date | None = None
    until: date | None = None

    @property
    def on_findings(self) -> bool:
        return any(v is not None for v in (self.severity, self.category, self.rule, self.triage))


@dataclass(frozen=True)
class Page:
    items: list[Row]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

    @classmethod
    def of(cls, rows: list[Row], page: int = 1, per_page: int = 50) -> Page:
        """Page `page` of `rows` (a list already read whole, in its order), `per_page` a page,
        with the same bounds as the pages read from the database."""
        per_page = max(1, min(per_page, MAX_PER_PAGE))
        page = max(1, min(page, MAX_PAGE))
        start = (page - 1) * per_page
        return cls(rows[start:start + per_page], len(rows), page, per_page)


def _finding_condition(filters: ScanFilters) -> Any:
    conditions = [FindingRow.scan_id == Scan.id]
    if filters.severity is not None:
        conditions.append(FindingRow.severity.in_(SEVERITIES[:SEVERITIES.index(filters.severity) + 1]))
    if filters.category is not None:
        conditions.append(FindingRow.category == filters.category)
    if filters.rule is not None:
        conditions.append(FindingRow.rule == filters.rule)
    if filters.triage is not None:
        # the image is the outer query's (two levels up: say so, or it would be a FROM of its own)
        state = state_of(FindingRow.key, Image.vendor, Image.product, Image.sha256).correlate_except(Triage)
        if filters.triage == UNTRIAGED:
            conditions.append(state.is_(None))
        elif filters.triage == "open":
            conditions.append(or_(state.is_(None), state.in_([s for s in OPEN if s != UNTRIAGED])))
        else:
            conditions.append(state == filters.triage)
    return exists(select(FindingRow.id).where(and_(*conditions)))


def _where(query: Any, filters: ScanFilters) -> Any:
    for column, value in ((Image.vendor, filters.vendor), (Image.product, filters.product),
                          (Image.version, filters.version)):
        if value is not None:
            query = query.where(column == value)
    if filters.q:
        like = f"%{filters.q.lower()}%"
        query = query.where(or_(*(func.lower(c).like(like) for c in
                                  (Image.name, Image.vendor, Image.product, Image.version, Image.sha256))))
    if filters.since is not None:
        query = query.where(Scan.started >= datetime.combine(filters.since, time(), UTC))
    if filters.until is not None:
        query = query.where(Scan.started < datetime.combine(filters.until + timedelta(days=1), time(), UTC))
    if filters.on_findings:
        query = query.where(_finding_condition(filters))
    return query


_SCAN_COLUMNS = (Scan.id, Scan.image_id, Image.name.label("image"), Image.sha256, Image.size, Image.vendor,
                 Image.product, Image.version, Image.release_date, Scan.tool_version, Scan.rules_version,
                 Scan.status, Scan.error, Scan.findings_count.label("findings"), Scan.complete,
                 Scan.examined_share, Scan.started, Scan.seconds)


def scans(store: Store, filters: ScanFilters = ScanFilters(), page: int = 1, per_page: int = 50) -> Page:
    """The scans matching `filters`, newest first, one page of them with the count of every
    finding by severity."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, min(page, MAX_PAGE))
    base = select(*_SCAN_COLUMNS).join(Image, Image.id == Scan.image_id)
    with store.sessions() as session:
        total = session.scalar(_where(select(func.count(Scan.id)).join(Image, Image.id == Scan.image_id),
                                      filters)) or 0
        rows = [dict(r._mapping) for r in session.execute(
            _where(base, filters).order_by(Scan.id.desc()).limit(per_page).offset((page - 1) * per_page))]
        counts = _severity_counts(session, [r["id"] for r in rows])
    for row in rows:
        row["severities"] = counts.get(row["id"], {})
    return Page(rows, total, page, per_page)


def _severity_counts(session: Any, scan_ids: list[int]) -> dict[int, dict[str, int]]:
    out: dict[int, dict[str, int]] = {}
    if not scan_ids:
        return out
    query = (select(FindingRow.scan_id, FindingRow.severity, func.count(FindingRow.id))
             .where(FindingRow.scan_id.in_(scan_ids)).group_by(FindingRow.scan_id, FindingRow.severity))
    for scan_id, severity, n in session.execute(query):
        out.setdefault(scan_id, {})[severity] = n
    return {k: {s: v[s] for s in SEVERITIES if s in v} for k, v in out.items()}


def scan(store: Store, scan_id: int) -> Row | None:
    """One scan with its image, or None."""
    if not _row_id(scan_id):
        return None
    with store.sessions() as session:
        row = session.execute(select(*_SCAN_COLUMNS).join(Image, Image.id == Scan.image_id)
                              .where(Scan.id == scan_id)).one_or_none()
        if row is None:
            return None
        out = dict(row._mapping)
        out["severities"] = _severity_counts(session, [scan_id]).get(scan_id, {})
    return out


_FINDING_COLUMNS = (FindingRow.id, FindingRow.scan_id, FindingRow.finding_id, FindingRow.rule,
                    FindingRow.category, FindingRow.severity, FindingRow.title, FindingRow.path,
                    FindingRow.container, FindingRow.evidence_sha256, FindingRow.evidence_offset,
                    FindingRow.evidence_length, FindingRow.excerpt, FindingRow.details, FindingRow.references,
                    FindingRow.key, Image.vendor, Image.product, Image.sha256)


def _findings_query() -> Any:
    return (select(*_FINDING_COLUMNS).join(Scan, Scan.id == FindingRow.scan_id)
            .join(Image, Image.id == Scan.image_id))


def _by_key(value: Any) -> Any:
    """`value` with every object's keys in order of name: PostgreSQL's jsonb keeps no key order
    (SQLite keeps the report's), and a page must read the same whichever database it came from."""
    if isinstance(value, dict):
        return {k: _by_key(value[k]) for k in sorted(value)}
    if isinstance(value, list):
        return [_by_key(v) for v in value]
    return value


def _finding_row(row: Any) -> Row:
    out = dict(row._mapping)
    out["details"] = _by_key(out.get("details"))
    out["evidence"] = {"sha256": out.pop("evidence_sha256"), "offset": out.pop("evidence_offset"),
                       "length": out.pop("evidence_length"), "excerpt": out.pop("excerpt")}
    return out


def _with_triage(store: Store, rows: list[Row]) -> list[Row]:
    """Each finding row (with its image's vendor, product and sha256) gets its triage state
    (None: untriaged)."""
    places = {r["id"]: Place(r["key"], r["vendor"], r["product"], r["sha256"]) for r in rows}
    held = states(store, places.values())
    for row in rows:
        mark = held.get(places[row["id"]])
        row["triage"] = mark.state if mark is not None else None
    return rows


_SEVERITY_ORDER = {s: i for i, s in enumerate(SEVERITIES)}


def findings(store: Store, scan_id: int) -> list[Row]:
    """A scan's findings, the most severe first, then by rule, path and offset."""
    if not _row_id(scan_id):
        return []
    with store.sessions() as session:
        found = session.execute(_findings_query().where(FindingRow.scan_id == scan_id))
        rows = [_finding_row(r) for r in found]
    rows = _with_triage(store, rows)
    return sorted(rows, key=lambda r: (_SEVERITY_ORDER[r["severity"]], r["rule"], r["path"],
                                       r["evidence"]["offset"], r["id"]))


def finding(store: Store, finding_id: int) -> Row | None:
    """One finding (by its row id), with the triage marks that hold for it, newest first."""
    if not _row_id(finding_id):
        return None
    with store.sessions() as session:
        row = session.execute(_findings_query().where(FindingRow.id == finding_id)).one_or_none()
    if row is None:
        return None
    out = _with_triage(store, [_finding_row(row)])[0]
    place = Place(out["key"], out["vendor"], out["product"], out["sha256"])
    out["marks"] = [{"state": m.state, "comment": m.comment, "who": m.who, "at": m.at, "scope": m.scope}
                    for m in reversed(marks(store, out["key"])) if m.covers(place)]
    return out


def same_finding_elsewhere(store: Store, key: str, but: int, limit: int = 20) -> tuple[int, list[Row]]:
    """Other findings with this triage key (the same rule, path and evidence) in any scan: how
    many, and the `limit` stored last with their image. (Newest by row id, which the key's index
    holds in order: by scan id, SQLite would read every row of the key to sort them, 77 ms for
    a key in 10,000 scans instead of 0.1 ms.)"""
    newest = (select(FindingRow.id, FindingRow.scan_id).where(FindingRow.key == key, FindingRow.id != but)
              .order_by(FindingRow.id.desc()).limit(limit).subquery())
    query = (select(newest.c.id, newest.c.scan_id, Image.name.label("image"), Image.vendor, Image.product,
                    Image.version)
             .join(Scan, Scan.id == newest.c.scan_id).join(Image, Image.id == Scan.image_id)
             .order_by(newest.c.id.desc()))
    with store.sessions() as session:
        total = session.scalar(select(func.count(FindingRow.id)).where(FindingRow.key == key,
                                                                        FindingRow.id != but)) or 0
        return total, [dict(r._mapping) for r in session.execute(query)]


def components(store: Store, scan_id: int) -> list[Row]:
    query = (select(ComponentRow.name, ComponentRow.version, ComponentRow.source, ComponentRow.cpe,
                    ComponentRow.purl, ComponentRow.path, ComponentRow.container, ComponentRow.version_from,
                    ComponentRow.evidence_sha256, ComponentRow.evidence_offset, ComponentRow.evidence_length)
             .where(ComponentRow.scan_id == scan_id)
             .order_by(func.lower(ComponentRow.name), ComponentRow.version, ComponentRow.path))
    with store.sessions() as session:
        return [dict(r._mapping) for r in session.execute(query)]


def report(store: Store, scan_id: int) -> dict[str, Any] | None:
    """The report JSON stored with a scan (None: no such scan, or a scan that failed)."""
    if not _row_id(scan_id):
        return None
    with store.sessions() as session:
        data = session.scalar(select(ReportBlob.data).where(ReportBlob.scan_id == scan_id))
    if data is None:
        return None
    parsed: dict[str, Any] = json.loads(zlib.decompress(data))
    return parsed


def images(store: Store, page: int = 1, per_page: int = 50) -> Page:
    """Every image, by vendor, product, release and name, a page at a time, with how many scans
    it has and how the last one went."""
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, page)
    last = (select(Scan.image_id, func.max(Scan.id).label("last"), func.count(Scan.id).label("scans"))
            .group_by(Scan.image_id).subquery())
    query = (select(Image.id, Image.name, Image.sha256, Image.size, Image.vendor, Image.product,
                    Image.version, Image.release_date, last.c.scans, Scan.id.label("last_scan"),
                    Scan.status.label("last_status"), Scan.findings_count.label("last_findings"))
             .join(last, last.c.image_id == Image.id).join(Scan, Scan.id == last.c.last)
             .order_by(Image.vendor, Image.product, Image.release_date, Image.version, Image.name, Image.id)
             .limit(per_page).offset((page - 1) * per_page))
    with store.sessions() as session:
        total = session.scalar(select(func.count(Image.id))) or 0
        rows = [dict(r._mapping) for r in session.execute(query)]
    return Page(rows, total, page, per_page)


def choices(store: Store) -> dict[str, list[str]]:
    """The values the scan filters offer: the store's vendors and products, and every rule and
    category firmproof knows (from its rule table: reading them from the findings would read
    every finding row for each page)."""
    from firmproof.analyzers.registry import all_rules

    rules = all_rules()
    with store.sessions() as session:
        def distinct(column: Any) -> list[str]:
            return [v for v in session.scalars(select(column).distinct().order_by(column)) if v is not None]

        return {"vendor": distinct(Image.vendor), "product": distinct(Image.product),
                "category": sorted({r.category.value for r in rules}), "rule": sorted(r.id for r in rules)}
