"""Questions asked of the store (read only): what a batch already did, and the `firmproof db`
verbs' rows (plain dicts, one per line of output, in a stable order)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select, union_all

from firmproof.store import triage
from firmproof.store.schema import (
    SEVERITIES,
    ComponentRow,
    ExecutableRow,
    FindingRow,
    Image,
    Scan,
    ShippedKeyRow,
)

if TYPE_CHECKING:
    from firmproof.store.open import Store

CHUNK = 500          # hashes per IN (…): well below every database's bound on parameters


def stored_scans(store: Store, sha256s: Iterable[str], tool_version: str, rules: str) -> dict[str, str]:
    """The images among `sha256s` that have a scan by this tool and rules version: sha256 ->
    the scan's status ('ok' or 'error')."""
    wanted = sorted(set(sha256s))
    found: dict[str, str] = {}
    with store.sessions() as session:
        for start in range(0, len(wanted), CHUNK):
            rows = session.execute(
                select(Image.sha256, Scan.status).join(Scan, Scan.image_id == Image.id)
                .where(Image.sha256.in_(wanted[start:start + CHUNK]), Scan.tool_version == tool_version,
                       Scan.rules_version == rules))
            found.update({sha: status for sha, status in rows})
    return found


# ---------------------------------------------------------------- `firmproof db`: rows for people

Row = dict[str, Any]


@dataclass(frozen=True)
class Filters:
    vendor: str | None = None
    product: str | None = None
    rule: str | None = None
    severity: str | None = None          # this severity or above
    triage: str | None = None            # a triage state, 'untriaged' or 'open' (untriaged, confirmed)


def newest_of(table: Any) -> Any:
    """The join of a table of scan rows with the image whose newest scan that gave a report (by
    a later firmproof, or the same) holds the row: rows of older scans join nothing."""
    return Image.newest_scan_id == table.scan_id


def _where_image(query: Any, filters: Filters) -> Any:
    if filters.vendor is not None:
        query = query.where(Image.vendor == filters.vendor)
    if filters.product is not None:
        query = query.where(Image.product == filters.product)
    return query


def _rows(store: Store, query: Any) -> list[Row]:
    with store.sessions() as session:
        return [dict(row._mapping) for row in session.execute(query)]


def images(store: Store, filters: Filters = Filters()) -> list[Row]:
    """Every image with what is known of it and its scans (how many, how the last one went)."""
    last = (select(Scan.image_id, func.max(Scan.id).label("last"), func.count(Scan.id).label("scans"))
            .group_by(Scan.image_id).subquery())
    query = (select(Image.name, Image.sha256, Image.size, Image.vendor, Image.product, Image.version,
                    Image.release_date, last.c.scans, Scan.status.label("last_status"),
                    Scan.findings_count.label("last_findings"))
             .join(last, last.c.image_id == Image.id).join(Scan, Scan.id == last.c.last)
             .order_by(Image.vendor, Image.product, Image.release_date, Image.version, Image.name))
    return _rows(store, _where_image(query, filters))


def scans(store: Store, filters: Filters = Filters()) -> list[Row]:
    """Every scan: of which image, by which firmproof and rules, how it went."""
    query = (select(Scan.id.label("scan"), Image.name, Image.vendor, Image.product, Image.version,
                    Scan.tool_version, Scan.rules_version, Scan.status, Scan.findings_count.label("findings"),
                    Scan.complete, Scan.started, Scan.seconds, Scan.error, Image.sha256)
             .join(Image, Image.id == Scan.image_id).order_by(Scan.id))
    return _rows(store, _where_image(query, filters))


_FINDING_COLUMNS = (Image.name.label("image"), Image.vendor, Image.product, Image.version,
                    Image.release_date, FindingRow.rule, FindingRow.severity, FindingRow.category,
                    FindingRow.path, FindingRow.evidence_offset.label("offset"), FindingRow.excerpt,
                    FindingRow.key, Image.sha256.label("image_sha256"), FindingRow.scan_id.label("scan"),
                    FindingRow.finding_id.label("finding"))


def findings(store: Store, filters: Filters = Filters()) -> list[Row]:
    """The findings of each image's newest scan, by vendor, product, release and rule, each with
    its triage (`triage.annotate`: the state, or 'untriaged', and the mark's comment, who, when)."""
    query = (select(*_FINDING_COLUMNS).join(Image, newest_of(FindingRow))
             .order_by(Image.vendor, Image.product, Image.release_date, Image.version, Image.name,
                       FindingRow.rule, FindingRow.path, FindingRow.evidence_offset))
    if filters.rule is not None:
        query = query.where(FindingRow.rule == filters.rule)
    if filters.severity is not None:
        at_least = SEVERITIES[:SEVERITIES.index(filters.severity) + 1]
        query = query.where(FindingRow.severity.in_(at_least))
    if filters.triage is not None:
        held = func.coalesce(triage.state_of(FindingRow.key, Image.vendor, Image.product, Image.sha256),
                             triage.UNTRIAGED)
        query = query.where(held.in_(triage.OPEN if filters.triage == "open" else (filters.triage,)))
    return triage.annotate(store, _rows(store, _where_image(query, filters)))


def _key_places(fingerprint: str) -> Any:
    wanted = fingerprint if fingerprint.startswith("SHA256:") else f"SHA256:{fingerprint}"
    return (select(ShippedKeyRow.id, Image.name.label("image"), Image.vendor, Image.product, Image.version,
                   Image.release_date, ShippedKeyRow.kind, ShippedKeyRow.type, ShippedKeyRow.path,
                   ShippedKeyRow.container, ShippedKeyRow.comment, ShippedKeyRow.fingerprint,
                   Image.sha256.label("image_sha256"), ShippedKeyRow.offset, ShippedKeyRow.number,
                   ShippedKeyRow.scan_id.label("scan"))
            .join(Image, newest_of(ShippedKeyRow)).where(ShippedKeyRow.fingerprint == wanted))


def key(store: Store, fingerprint: str, limit: int | None = None) -> list[Row]:
    """Every image (newest scan) that ships the key with this fingerprint (OpenSSH's
    'SHA256:…', with or without the prefix), as a private key or an authorized one, from the
    scan's key rows: a key that made no finding is there too (`rule` empty). A fingerprint is
    the same whatever the key's format, so the same key stored as PEM and in authorized_keys
    comes back from both. Each row names its scan (`scan`) and the key's offset in its file.
    With `limit`, the first `limit` rows (`places` counts them all)."""
    places = _key_places(fingerprint)
    order = ("vendor", "product", "release_date", "image", "path", "number")
    first = places.order_by(*(places.selected_columns[c] for c in order)).limit(limit).subquery()
    # the rule of a finding on the same key in the same file of the same scan, if one fired:
    # looked up for the rows kept only (a JSON read per finding of their scans)
    rule = (select(func.min(FindingRow.rule))
            .where(FindingRow.scan_id == first.c.scan, FindingRow.path == first.c.path,
                   FindingRow.details["fingerprint"].as_string() == first.c.fingerprint)
            .correlate(first).scalar_subquery())
    query = (select(*(c for c in first.c if c.key not in ("id", "number")), rule.label("rule"))
             .order_by(*(first.c[c] for c in order)))
    return _inside(_rows(store, query))


def _executable_places(sha256: str) -> Any:
    wanted = sha256.strip().lower()
    columns = (Image.name.label("image"), Image.vendor, Image.product, Image.version, Image.release_date,
               ExecutableRow.path, ExecutableRow.container, ExecutableRow.size, ExecutableRow.sha256,
               ExecutableRow.packer, ExecutableRow.unpacked_sha256, Image.sha256.label("image_sha256"),
               ExecutableRow.scan_id.label("scan"))
    # one indexed search per column (an OR of the two would read the table on SQLite)
    return union_all(*(select(*columns).join(Image, newest_of(ExecutableRow)).where(column == wanted)
                       for column in (ExecutableRow.sha256, ExecutableRow.unpacked_sha256)))


def executable(store: Store, sha256: str, limit: int | None = None) -> list[Row]:
    """Every image (newest scan) that ships the ELF file with these bytes, at every path: as it
    is, or packed (a UPX-packed program whose unpacked program has these bytes). With `limit`,
    the first `limit` rows (`places` counts them all)."""
    both = _executable_places(sha256).subquery()
    query = (select(both).order_by(both.c.vendor, both.c.product, both.c.release_date, both.c.image,
                                   both.c.path).limit(limit))
    return _inside(_rows(store, query))


def _inside(rows: list[Row]) -> list[Row]:
    """A row's container chain as the text of a report ('uimage@0x0/filesystem/squashfs@0x0'),
    below the image itself, as `inside`."""
    for row in rows:
        row["inside"] = "/".join(part.strip("/") for part in row.pop("container")[1:])
    return rows


def _component_places(name: str, version: str | None) -> Any:
    query = (select(Image.name.label("image"), Image.vendor, Image.product, Image.version,
                    Image.release_date, ComponentRow.name.label("component"),
                    ComponentRow.version.label("component_version"), ComponentRow.path,
                    ComponentRow.source, ComponentRow.purl, Image.sha256.label("image_sha256"),
                    ComponentRow.evidence_offset.label("offset"), ComponentRow.scan_id.label("scan"))
             .join(Image, newest_of(ComponentRow)).where(func.lower(ComponentRow.name) == name.lower()))
    return query if version is None else query.where(ComponentRow.version == version)


def component(store: Store, name: str, version: str | None = None, limit: int | None = None) -> list[Row]:
    """Every image (newest scan) holding the component `name` (any case), at `version` if given.
    With `limit`, the first `limit` rows (`places` counts them all)."""
    return _rows(store, _component_places(name, version).order_by(
        Image.vendor, Image.product, Image.release_date, Image.name, ComponentRow.path).limit(limit))


def places(store: Store, kind: str, *what: Any) -> int:
    """How many rows `key`, `executable` or `component` (`kind`) would give for `what`."""
    builders: dict[str, Callable[..., Any]] = {"key": _key_places, "executable": _executable_places,
                                               "component": _component_places}
    builder = builders[kind]
    with store.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(builder(*what).subquery())) or 0)
