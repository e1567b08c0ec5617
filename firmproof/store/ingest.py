"""A report becomes rows: the one place that reads a report for the store.

The report is the typed `firmproof.report.Report` a scan returns, or its JSON (schema
firmproof.report/1, as `firmproof.report.file.load` returns it): both are read as that JSON, in
`_add` alone. Components (the SBOM) are not in the JSON: a typed report carries its own, and
for a report read from a file the scan that made it hands them over. The inventory (keys,
executables, boot entries, setuid files: `firmproof.device.inventory.Holdings`) is not in the
report either: whoever scanned the image hands it over, and its rows go in with the scan's.

Scanning the same image with the same firmproof version and the same rules is the same scan:
adding its report again returns the scan already stored. A new firmproof version (or another
rule set) is a new scan of the same image. An image that could not be scanned is recorded by
`add_error` as a scan with status 'error'; a report for it later takes that scan's place.
"""

from __future__ import annotations

import hashlib
import json
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, or_, select, update
from sqlalchemy.orm import Session

from firmproof.report import Image as ReportImage
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

if TYPE_CHECKING:
    from firmproof.device.components import Component
    from firmproof.device.inventory import Holdings
    from firmproof.report import Report
    from firmproof.store.open import Store

GUESSABLE = ("vendor", "product", "version", "release_date")
SCHEMA = "firmproof.report/1"          # the reports this firmproof writes (the contract)


@dataclass(frozen=True)
class ImageInfo:
    """What is known of an image besides its bytes: given on the command line or in a manifest,
    or guessed from the image (the fields named in `guessed`). None: not known."""

    vendor: str | None = None
    product: str | None = None
    version: str | None = None
    release_date: date | None = None
    guessed: frozenset[str] = field(default_factory=frozenset)
    name: str | None = None            # overrides the report's image name

    def __post_init__(self) -> None:
        unknown = set(self.guessed) - set(GUESSABLE)
        if unknown:
            raise ValueError(f"guessed: unknown fields {sorted(unknown)} (one of {', '.join(GUESSABLE)})")


@cache
def rules_version() -> str:
    """The rule set this firmproof applies, as a hash of its rules' ids, severities and
    categories and of the report schema: a scan by the same rules finds the same things."""
    from firmproof.analyzers.registry import all_rules

    lines = [SCHEMA, *(f"{r.id} {r.severity.value} {r.category.value}" for r in all_rules())]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def evidence_key(rule: str, path: str, evidence: dict[str, Any]) -> str:
    """What a triage mark follows from release to release: the same rule at the same path over
    the same evidence bytes (as the report shows them: their length and excerpt), whatever
    else in the file or the image changed."""
    text = json.dumps([rule, path, evidence["length"], evidence["excerpt"]], ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def add_report(store: Store, report: Report | dict[str, Any], image: ImageInfo | None = None,
               components: Iterable[Component] | None = None, *, started: datetime | None = None,
               rules: str | None = None, inventory: Holdings | None = None) -> int:
    """Store one report (with the image's metadata and the scan's components) in one
    transaction; the id of its scan, the one already stored if this scan was added before.

    `started`: when the scan began (the report does not say); `rules`: the rules version of the
    firmproof that made the report, when it is not this one; `inventory`: what the scan saw in
    the image (keys, executables, boot entries, setuid files), rows of the same scan."""
    info = image or ImageInfo()
    if isinstance(report, dict):
        data, parts = report, list(components or ())
    else:
        data, parts = report.to_json(), list(report.components if components is None else components)
    return store.write(lambda session: _add(session, data, info, parts, started, rules or rules_version(),
                                            inventory))


def add_error(store: Store, *, sha256: str, name: str, size: int, error: str, tool_version: str,
              image: ImageInfo | None = None, started: datetime | None = None,
              seconds: float | None = None, rules: str | None = None) -> int:
    """Record that an image could not be scanned (it crashed, hung or hit a limit): a scan with
    status 'error' and no findings. Returns the scan's id (an existing scan is kept)."""
    info = image or ImageInfo()
    rules = rules or rules_version()

    def work(session: Session) -> int:
        row = _image(session, sha256, info.name or name, size, info)
        existing = _scan(session, row.id, tool_version, rules)
        if existing is not None:
            return existing.id
        scan = Scan(image_id=row.id, tool_version=tool_version, rules_version=rules, schema=SCHEMA,
                    started=started, seconds=seconds, status="error", error=error,
                    finished=started + timedelta(seconds=seconds) if started and seconds is not None
                    else None)
        session.add(scan)
        session.flush()
        return scan.id

    return store.write(work)


def _scan(session: Session, image_id: int, tool_version: str, rules: str) -> Scan | None:
    return session.scalars(select(Scan).where(Scan.image_id == image_id, Scan.tool_version == tool_version,
                                              Scan.rules_version == rules)).one_or_none()


def _day(text: str | None) -> date | None:
    """A guessed release date as the report says it (ISO 8601); a report is anyone's input, so
    a malformed one is no date."""
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def _image(session: Session, sha256: str, name: str, size: int, info: ImageInfo) -> Image:
    """The image's row, made or completed: a given value fills an unknown or guessed one; a
    guess fills only an unknown one."""
    row = session.scalars(select(Image).where(Image.sha256 == sha256)).one_or_none()
    if row is None:
        row = Image(sha256=sha256, name=name, size=size)
        session.add(row)
    for name_ in GUESSABLE:
        value = getattr(info, name_)
        if value is None:
            continue
        guessed = name_ in info.guessed
        was_guessed = bool(getattr(row, f"{name_}_guessed"))
        if getattr(row, name_) is None or (was_guessed and not guessed):
            setattr(row, name_, value)
            setattr(row, f"{name_}_guessed", guessed)
    session.flush()
    return row


def _add(session: Session, report: dict[str, Any], info: ImageInfo, components: list[Component],
         started: datetime | None, rules: str, inventory: Holdings | None = None) -> int:
    image = report["image"]
    said = ReportImage.from_json(image)         # given to the scan, else read from the image's files
    values: dict[str, str | None] = {}
    guessed = {f for f in info.guessed if getattr(info, f) is not None}
    for name in ("vendor", "product", "version"):
        values[name] = getattr(info, name)
        if values[name] is None:
            values[name], guess = said.said(name)
            if guess:
                guessed.add(name)
    released = info.release_date
    if released is None:
        day, guess = said.said("release_date")
        released = _day(day)
        if guess and released is not None:
            guessed.add("release_date")
    given = ImageInfo(**values, release_date=released, guessed=frozenset(guessed))
    row = _image(session, image["sha256"], info.name or image["name"], image["size"], given)
    tool_version = report["tool"]["version"]
    existing = _scan(session, row.id, tool_version, rules)
    if existing is not None:
        if existing.status == "ok":
            return existing.id
        session.delete(existing)                  # an error recorded before: the report replaces it
        session.flush()

    coverage = report.get("coverage") or {}
    unpack = report.get("unpack") or {}
    seconds = (report.get("stats") or {}).get("seconds")
    scan = Scan(image_id=row.id, tool_version=tool_version, rules_version=rules, schema=report["schema"],
                started=started, seconds=seconds,
                finished=started + timedelta(seconds=seconds) if started and seconds is not None else None,
                complete=coverage.get("complete"), examined_share=coverage.get("examined_share"),
                incomplete=coverage.get("incomplete_count"),
                unpacked_files=unpack.get("files"), unpacked_bytes=unpack.get("bytes"),
                errors=len(report.get("errors") or ()) + len(unpack.get("errors") or ()),
                findings_count=len(report["findings"]), status="ok")
    session.add(scan)
    session.flush()
    # the image's newest report, as the queries have always read it: the greatest id of its ok
    # scans (conditional: two writers adding scans of one image may commit out of id order)
    session.execute(update(Image).where(Image.id == row.id, or_(Image.newest_scan_id.is_(None),
                                                                Image.newest_scan_id < scan.id))
                    .values(newest_scan_id=scan.id).execution_options(synchronize_session=False))
    session.add(ReportBlob(scan_id=scan.id, data=zlib.compress(
        json.dumps(report, ensure_ascii=False, sort_keys=True).encode(), 6)))
    # rows by the thousand: one executemany each (the ORM's unit of work costs ~1 ms a row)
    if report["findings"]:
        session.execute(insert(FindingRow), [_finding(scan.id, f) for f in report["findings"]])
    if components:
        session.execute(insert(ComponentRow), [_component(scan.id, c) for c in components])
    if inventory is not None:
        _add_inventory(session, scan.id, inventory)
    return scan.id


def _add_inventory(session: Session, scan_id: int, held: Holdings) -> None:
    """The inventory's rows, one executemany per table."""
    tables: list[tuple[Any, list[dict[str, Any]]]] = [
        (ShippedKeyRow, [dict(scan_id=scan_id, fingerprint=k.fingerprint, kind=k.kind, type=k.type,
                              path=k.path, container=list(k.container), number=k.number,
                              offset=k.offset, comment=k.comment) for k in held.keys]),
        (ExecutableRow, [dict(scan_id=scan_id, sha256=e.sha256, path=e.path, container=list(e.container),
                              size=e.size, packer=e.packer, unpacked_sha256=e.unpacked_sha256)
                         for e in held.executables]),
        (BootEntryRow, [dict(scan_id=scan_id, file=b.file, offset=b.offset, command=b.command, name=b.name,
                             binary=b.binary, binary_sha256=b.binary_sha256, via=b.via, chain=list(b.chain),
                             port=b.port, listener=b.listener, container=list(b.container))
                        for b in held.boot]),
        (SetuidFileRow, [dict(scan_id=scan_id, path=f.path, container=list(f.container), mode=f.mode,
                              uid=f.uid, gid=f.gid, sha256=f.sha256) for f in held.setuid]),
    ]
    for table, rows in tables:
        if rows:
            session.execute(insert(table), rows)


def _finding(scan_id: int, finding: dict[str, Any]) -> dict[str, Any]:
    evidence = finding["evidence"]
    return dict(scan_id=scan_id, finding_id=finding["id"], rule=finding["rule"],
                category=finding["category"], severity=finding["severity"], title=finding["title"],
                path=finding["path"], container=list(finding["container"]),
                evidence_sha256=evidence["sha256"], evidence_offset=evidence["offset"],
                evidence_length=evidence["length"], excerpt=evidence["excerpt"],
                details=finding.get("details") or {}, references=list(finding.get("references") or ()),
                key=evidence_key(finding["rule"], finding["path"], evidence))


def _component(scan_id: int, component: Component) -> dict[str, Any]:
    return dict(scan_id=scan_id, name=component.name, version=component.version,
                source=component.source, cpe=component.cpe, purl=component.purl, path=component.path,
                container=list(component.container), version_from=component.version_from,
                evidence_sha256=component.evidence.sha256, evidence_offset=component.evidence.offset,
                evidence_length=component.evidence.length)

