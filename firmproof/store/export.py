"""The rows of `firmproof db` as CSV or JSON (dates and moments in ISO 8601)."""

from __future__ import annotations

import csv
import io
import json
from datetime import date, datetime
from typing import Any


def plain(value: Any) -> Any:
    """A cell as JSON has it: dates and moments as ISO 8601 text."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    return value


def to_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps([{k: plain(v) for k, v in row.items()} for row in rows], indent=2,
                      ensure_ascii=False) + "\n"


def to_csv(rows: list[dict[str, Any]], columns: list[str]) -> str:
    """One header line of `columns`, then a line per row (no value: empty)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow(["" if row.get(c) is None else plain(row.get(c)) for c in columns])
    return out.getvalue()
