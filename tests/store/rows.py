"""Every row of a store with its surrogate ids replaced by what they stand for, to compare two
stores (SQLite and PostgreSQL, serial and concurrent) row by row."""

from __future__ import annotations

import json
import zlib
from typing import Any

from sqlalchemy import select

from firmproof.store import Store
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
    Triage,
)

INVENTORY = {"shipped_keys": ShippedKeyRow, "executables": ExecutableRow, "boot_entries": BootEntryRow,
             "setuid_files": SetuidFileRow}


def _plain(row: Any, drop: tuple[str, ...] = ()) -> dict[str, Any]:
    return {c.key: getattr(row, c.key) for c in row.__mapper__.column_attrs if c.key not in drop}


def _sorted(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def dump(store: Store) -> dict[str, list[dict[str, Any]]]:
    with store.sessions() as session:
        images = {i.id: i.sha256 for i in session.scalars(select(Image))}
        scans = {s.id: (images[s.image_id], s.tool_version, s.rules_version)
                 for s in session.scalars(select(Scan))}
        return {
            # an image's newest scan by what it is, not by its id (ids follow the writers' order)
            "images": _sorted([{**_plain(i, ("id", "newest_scan_id")),
                                "newest_scan": scans.get(i.newest_scan_id or 0)}
                               for i in session.scalars(select(Image))]),
            "scans": _sorted([{**_plain(s, ("id", "image_id")), "image": images[s.image_id]}
                              for s in session.scalars(select(Scan))]),
            "reports": _sorted([{"scan": scans[r.scan_id], "report": json.loads(zlib.decompress(r.data))}
                                for r in session.scalars(select(ReportBlob))]),
            "findings": _sorted([{**_plain(f, ("id", "scan_id")), "scan": scans[f.scan_id]}
                                 for f in session.scalars(select(FindingRow))]),
            "components": _sorted([{**_plain(c, ("id", "scan_id")), "scan": scans[c.scan_id]}
                                   for c in session.scalars(select(ComponentRow))]),
            "triage": _sorted([_plain(t, ("id",)) for t in session.scalars(select(Triage))]),
            **{table: _sorted([{**_plain(r, ("id", "scan_id")), "scan": scans[r.scan_id]}
                               for r in session.scalars(select(row))])
               for table, row in INVENTORY.items()},
        }


def counts(store: Store) -> dict[str, int]:
    return {table: len(rows) for table, rows in dump(store).items()}


TIMING = ("started", "finished", "seconds")


def steady(store: Store) -> dict[str, list[dict[str, Any]]]:
    """`dump` without what differs from one run of the same scans to the next: when a scan
    started and ended, how long it took (the scan's row and its report's `stats`)."""
    rows = dump(store)
    rows["scans"] = _sorted([{k: v for k, v in s.items() if k not in TIMING} for s in rows["scans"]])
    rows["reports"] = _sorted([{**r, "report": {k: v for k, v in r["report"].items() if k != "stats"}}
                               for r in rows["reports"]])
    return rows
