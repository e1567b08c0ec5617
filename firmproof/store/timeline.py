"""A product's timeline: its releases in order, and what each one changed (`firmproof db timeline`).

Releases are the images of one vendor and product, each read through its newest scan. They are
ordered by release date, then by version compared the way versions compare (`version_key`:
1.9 < 1.10 < 1.10.1, 2.0rc1 < 2.0), then by file name; releases with no date come after the
dated ones. A release whose image could not be scanned is listed with its error and no counts,
and the next release is compared with the last one that was scanned.

Per release: findings in all and per severity; findings new since the previous scanned release
and gone since it (by triage key, so a finding that moved within its file is neither); the
open critical and high ones (untriaged or confirmed, by the product's triage marks); and the
known-backdoor rules present (a finding's own rule, or one it absorbed: `details.also`).
"""

from __future__ import annotations

import re
from collections import Counter
from datetime import date
from functools import cache, lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from firmproof.model import Category
from firmproof.store.schema import SEVERITIES, FindingRow, Image, Scan
from firmproof.store.triage import OPEN, UNTRIAGED, Place, states

if TYPE_CHECKING:
    from firmproof.store.open import Store

# words that mark a release before the one they qualify (2.0rc1 < 2.0); any other word is after
PRE_RELEASE = frozenset({"dev", "alpha", "beta", "pre", "preview", "rc", "snapshot"})
_TOKEN = re.compile(r"\d+|[^\W\d_]+")


@lru_cache(maxsize=16_384)      # a vendor view sorts thousands of rows of a few hundred versions
def version_key(version: str | None) -> tuple[Any, ...]:
    """Order of versions: numbers compare as numbers (1.9 < 1.10 < 1.10.1), a missing part
    before a present one (1.10 < 1.10.1), pre-release words before the release (1.10rc2 <
    1.10), other letters after it (1.0.2 < 1.0.2a), a leading 'v' ignored; no version last."""
    if version is None or not version.strip():
        return (1,)
    text = version.strip().lower()
    if re.match(r"v\d", text):
        text = text[1:]
    parts: list[tuple[int, int, str]] = []
    for token in _TOKEN.findall(text):
        if token.isdigit():
            parts.append((3, int(token), ""))
        else:
            parts.append((0 if token in PRE_RELEASE else 2, 0, token))
    parts.append((1, 0, ""))            # the end: after pre-release words, before anything else
    return (0, tuple(parts), text)


def release_order(row: dict[str, Any]) -> tuple[Any, ...]:
    when: date | None = row["release_date"]
    return (when is None, when or date.min, version_key(row["version"]), row["image"])


@cache
def _known_backdoor_rules() -> frozenset[str]:
    from firmproof.analyzers.registry import all_rules

    return frozenset(r.id for r in all_rules() if r.category is Category.KNOWN_BACKDOOR)


COLUMNS = ["release_date", "version", "image", "status", "findings", *SEVERITIES, "new", "gone",
           "open_critical_high", "known_backdoors", "image_sha256"]


def timeline(store: Store, vendor: str, product: str) -> list[dict[str, Any]]:
    """The releases of `vendor` `product`, in order, one row each (COLUMNS; JSON gives
    `known_backdoors` as a list, and the keys new and gone as `new_keys` and `gone_keys`)."""
    ours = select(Image.id).where(Image.vendor == vendor, Image.product == product)   # by its index
    last = (select(Scan.image_id, func.max(Scan.id).label("scan")).where(Scan.image_id.in_(ours))
            .group_by(Scan.image_id).subquery())
    with store.sessions() as session:
        images = session.execute(
            select(Image.name, Image.sha256, Image.vendor, Image.product, Image.version, Image.release_date,
                   Image.newest_scan_id.label("scan"), Scan.status, Scan.error)
            .join(last, last.c.image_id == Image.id).join(Scan, Scan.id == last.c.scan)
            .where(Image.vendor == vendor, Image.product == product)).all()
        scan_ids = [row.scan for row in images if row.scan is not None]
        found: dict[int, list[Any]] = {}
        for start in range(0, len(scan_ids), 500):
            for f in session.execute(
                    select(FindingRow.scan_id, FindingRow.key, FindingRow.severity, FindingRow.rule,
                           FindingRow.category, FindingRow.details["also"].label("also"))
                    .where(FindingRow.scan_id.in_(scan_ids[start:start + 500]))):
                found.setdefault(f.scan_id, []).append(f)
    held = states(store, [Place(f.key, vendor, product, row.sha256) for row in images
                          if row.scan is not None for f in found.get(row.scan, ())])
    known = _known_backdoor_rules()

    releases = sorted(({"image": r.name, "version": r.version, "release_date": r.release_date,
                        "image_sha256": r.sha256, "scan": r.scan, "status": "ok" if r.scan else r.status,
                        "error": None if r.scan else r.error} for r in images), key=release_order)
    before: Counter[str] | None = None
    for release in releases:
        if release["scan"] is None:
            release.update({"findings": None, **dict.fromkeys(SEVERITIES), "new": None, "gone": None,
                            "open_critical_high": None, "known_backdoors": [], "new_keys": [],
                            "gone_keys": []})
            continue
        rows = found.get(release["scan"], [])
        keys = Counter(f.key for f in rows)
        per = Counter(f.severity for f in rows)
        release["findings"] = len(rows)
        release.update({s: per[s] for s in SEVERITIES})
        if before is None:
            release.update(new=None, gone=None, new_keys=[], gone_keys=[])
        else:
            release.update(new=sum((keys - before).values()), gone=sum((before - keys).values()),
                           new_keys=sorted(keys - before), gone_keys=sorted(before - keys))
        release["open_critical_high"] = sum(
            1 for f in rows if f.severity in ("critical", "high")
            and _state(held, Place(f.key, vendor, product, release["image_sha256"])) in OPEN)
        release["known_backdoors"] = sorted(
            {f.rule for f in rows if f.category == Category.KNOWN_BACKDOOR.value}
            | {r for f in rows for r in (f.also or ()) if r in known})
        before = keys
    return releases


def _state(held: dict[Place, Any], place: Place) -> str:
    got = held.get(place)
    return got.state if got is not None else UNTRIAGED
