"""Triage: a person's word on a finding (confirmed, false-positive, accepted-risk, fixed), kept
across releases the way code-scanning tools carry an alert from commit to commit.

A mark hangs on the finding's `key` (`ingest.evidence_key`: the same rule at the same path over
the same evidence bytes). Its scope is the product: a mark holds for that key in every release
of the product whose image was marked (the image row's vendor and product at the time of the
mark, kept with it), earlier and later releases alike. It does not hold for another product,
even one of the same vendor, nor for another vendor's image that ships identical bytes: a lab
judges a finding per product (the same telnetd line is a debug leftover in one product and a
backdoor in another). Where the marked image names no vendor or no product, there is no
product to follow and the mark holds for that image alone. Vendor and product compare exactly
(case and spaces included), as the image rows have them.

Every mark is kept (`marks` is the history); the newest one (by its time, then by the order
marks were written) is the finding's state, and a finding no mark covers is 'untriaged'.
'confirmed' and 'untriaged' findings are open; the three other states close them.

The functions here are the API (the command line's `firmproof db triage|history|findings` use
them, and so can any other front end):

    mark(store, key, "false-positive", comment="…", who="alice")          # by key (or a prefix)
    mark_finding(store, scan_id, finding_id, "confirmed")                  # as `db findings` lists
    marks(store, key)                                                      # the history
    states(store, [Place(key, vendor, product, image_sha256), …])          # many at once
    state_of(FindingRow.key, Image.vendor, …)     # the same, as an SQL expression (filters, pages)
"""

from __future__ import annotations

import getpass
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import and_, func, or_, select

from firmproof.store.schema import TRIAGE_STATES, FindingRow, Image, Scan, Triage

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from firmproof.store.open import Store

STATES = TRIAGE_STATES
UNTRIAGED = "untriaged"
OPEN = (UNTRIAGED, "confirmed")            # what still needs work
MIN_PREFIX = 8                             # a key may be given by its first 8 hex digits or more
CHUNK = 500                                # keys per IN (…)
HEX = frozenset("0123456789abcdef")


class TriageError(ValueError):
    """A mark that cannot be set or a key that cannot be found: one sentence for the user."""


class Place(NamedTuple):
    """A finding where triage looks for its mark: its key and the image it is in."""

    key: str
    vendor: str | None
    product: str | None
    image_sha256: str


@dataclass(frozen=True)
class Mark:
    """One mark as stored. `vendor`/`product` set: it holds across that product's releases;
    else it holds for the image `image_sha256` alone."""

    id: int
    key: str
    state: str
    comment: str
    who: str
    at: datetime
    vendor: str | None
    product: str | None
    image_sha256: str | None

    @property
    def product_wide(self) -> bool:
        return self.vendor is not None and self.product is not None

    def covers(self, place: Place) -> bool:
        """Whether this mark holds for the finding at `place`."""
        if place.key != self.key:
            return False
        if self.product_wide:
            return (place.vendor, place.product) == (self.vendor, self.product)
        return self.image_sha256 is not None and place.image_sha256 == self.image_sha256

    @property
    def scope(self) -> str:
        """The scope in words: 'Acme R1' or 'image 1a2b3c4d5e6f7a8b'."""
        if self.product_wide:
            return f"{self.vendor} {self.product}"
        return f"image {(self.image_sha256 or '?')[:16]}"

    def to_row(self) -> dict[str, Any]:
        return {"key": self.key, "state": self.state, "comment": self.comment, "who": self.who,
                "at": self.at, "vendor": self.vendor, "product": self.product,
                "image_sha256": self.image_sha256, "scope": self.scope}

    @classmethod
    def of(cls, row: Triage) -> Mark:
        return cls(id=row.id, key=row.key, state=row.state, comment=row.comment, who=row.who, at=row.at,
                   vendor=row.vendor, product=row.product, image_sha256=row.image_sha256)


def login() -> str:
    """Who is marking, when not said: the login name (LOGNAME, USER, … then the password file)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def place_of(row: dict[str, Any]) -> Place:
    """The place of a `firmproof db findings` row (it has key, vendor, product, image_sha256)."""
    return Place(row["key"], row["vendor"], row["product"], row["image_sha256"])


# ---------------------------------------------------------------- finding what is to be marked

def _is_key_text(text: str) -> bool:
    return MIN_PREFIX <= len(text) <= 64 and set(text) <= HEX


def resolve_key(store: Store, text: str) -> str:
    """The whole key of the findings `text` names (a key, or its first 8 hex digits or more, as
    the table of `firmproof db findings` shows it). TriageError when no stored finding has it or
    the prefix names several keys."""
    text = text.strip().lower()
    if not _is_key_text(text):
        raise TriageError(f"{text!r}: not a finding key (64 hex digits, or the first {MIN_PREFIX} or "
                          "more, as `firmproof db findings` lists them)")
    with store.sessions() as session:
        query = select(FindingRow.key).distinct()
        query = query.where(FindingRow.key == text) if len(text) == 64 else \
            query.where(FindingRow.key.startswith(text, autoescape=True))
        found = sorted(session.scalars(query.limit(3)))
    if not found:
        raise TriageError(f"no finding with key {text} in the store {store.url} "
                          "(`firmproof db findings` lists the keys)")
    if len(found) > 1:
        listed = ", ".join(k[:16] for k in found[:2]) + (" …" if len(found) > 2 else "")
        raise TriageError(f"key {text} is the start of several findings' keys ({listed}): give more of it")
    return found[0]


class _Target(NamedTuple):
    vendor: str | None
    product: str | None
    image_sha256: str
    name: str


def _scope_of(target: _Target) -> tuple[str | None, str | None, str | None]:
    """(vendor, product, image) of a mark set on `target`: the product where the image names one."""
    if target.vendor is not None and target.product is not None:
        return target.vendor, target.product, target.image_sha256
    return None, None, target.image_sha256


def _targets(session: Session, key: str) -> list[_Target]:
    """The images holding a finding with this key, the one scanned last at the end."""
    rows = session.execute(
        select(Image.vendor, Image.product, Image.sha256, Image.name)
        .join(Scan, Scan.image_id == Image.id).join(FindingRow, FindingRow.scan_id == Scan.id)
        .where(FindingRow.key == key)
        .group_by(Image.id, Image.vendor, Image.product, Image.sha256, Image.name)
        .order_by(func.max(Scan.id)))
    return [_Target(*row) for row in rows]


def _write(store: Store, key: str, state: str, comment: str, who: str | None, at: datetime | None,
           scope: tuple[str | None, str | None, str | None]) -> Mark:
    if state not in STATES:
        raise TriageError(f"{state!r}: a triage state is one of {', '.join(STATES)}")
    when = at or datetime.now(UTC)
    if when.tzinfo is None:
        raise TriageError(f"{when.isoformat()}: a mark's time needs a time zone")
    vendor, product, image = scope

    def work(session: Session) -> Mark:
        row = Triage(key=key, state=state, comment=comment or "", who=who or login(), at=when,
                     vendor=vendor, product=product, image_sha256=image)
        session.add(row)
        session.flush()
        return Mark.of(row)

    return store.write(work)


def mark(store: Store, key: str, state: str, *, comment: str = "", who: str | None = None,
         vendor: str | None = None, product: str | None = None, image_sha256: str | None = None,
         at: datetime | None = None) -> Mark:
    """Mark the finding `key` (whole, or a prefix of 8 hex digits or more) `state`, for the
    product its images belong to (see the module's docstring); `who` defaults to the login name.

    Where the key is found in more than one product (or in images naming none), `vendor` and
    `product` (or `image_sha256`, a prefix of it) say which; a key with no finding in the store,
    or a choice that leaves none or several scopes, is a TriageError."""
    key = resolve_key(store, key)
    with store.sessions() as session:
        targets = _targets(session, key)
    chosen = [t for t in targets
              if (vendor is None or t.vendor == vendor) and (product is None or t.product == product)
              and (image_sha256 is None or t.image_sha256.startswith(image_sha256.lower()))]
    if not chosen:
        where = ", ".join(f"{t.vendor or '?'} {t.product or '?'} ({t.name})" for t in targets)
        raise TriageError(f"key {key[:16]} is not found in the images asked for; it is in: {where}")
    # one scope per product (the mark keeps its image scanned last), one per image naming none
    groups: dict[tuple[str | None, ...], _Target] = {}
    for target in chosen:
        vendor_, product_, image = _scope_of(target)
        groups[(vendor_, product_) if vendor_ is not None else (image,)] = target
    if len(groups) > 1:
        where = "; ".join(f"{t.vendor} {t.product}" if _scope_of(t)[0] is not None
                          else f"image {t.image_sha256[:16]} ({t.name})" for t in groups.values())
        raise TriageError(f"key {key[:16]} is found in {len(groups)} products or unnamed images ({where}): "
                          "say which with --vendor and --product (or --image)")
    return _write(store, key, state, comment, who, at, _scope_of(next(iter(groups.values()))))


def mark_finding(store: Store, scan_id: int, finding_id: str, state: str, *, comment: str = "",
                 who: str | None = None, at: datetime | None = None) -> Mark:
    """Mark the finding `finding_id` of scan `scan_id` (the `scan` and `finding` columns of
    `firmproof db findings`): its key, for its image's product."""
    with store.sessions() as session:
        row = session.execute(
            select(FindingRow.key, Image.vendor, Image.product, Image.sha256, Image.name)
            .join(Scan, Scan.id == FindingRow.scan_id).join(Image, Image.id == Scan.image_id)
            .where(FindingRow.scan_id == scan_id, FindingRow.finding_id == finding_id.strip().lower())
        ).first()
    if row is None:
        raise TriageError(f"no finding {finding_id} in scan {scan_id} of the store {store.url} "
                          "(`firmproof db findings` lists scans and findings)")
    key, vendor, product, sha256, name = row
    return _write(store, key, state, comment, who, at, _scope_of(_Target(vendor, product, sha256, name)))


# ---------------------------------------------------------------- reading marks

def marks(store: Store, key: str, *, vendor: str | None = None, product: str | None = None) -> list[Mark]:
    """Every mark set on the key `key` (whole), oldest first, in every scope or in the product
    `vendor`/`product` alone."""
    query = select(Triage).where(Triage.key == key).order_by(Triage.at, Triage.id)
    if vendor is not None:
        query = query.where(Triage.vendor == vendor)
    if product is not None:
        query = query.where(Triage.product == product)
    with store.sessions() as session:
        return [Mark.of(row) for row in session.scalars(query)]


def _newer(a: Mark, b: Mark | None) -> bool:
    return b is None or (a.at, a.id) > (b.at, b.id)


def states(store: Store, places: Iterable[Place]) -> dict[Place, Mark]:
    """The mark in force at each of `places` (the newest mark covering it); a place no mark
    covers is left out (untriaged). One query per 500 keys, whatever the number of places."""
    wanted = list(dict.fromkeys(places))
    keys = sorted({p.key for p in wanted})
    by_key: dict[str, list[Mark]] = {}
    with store.sessions() as session:
        for start in range(0, len(keys), CHUNK):
            for row in session.scalars(select(Triage).where(Triage.key.in_(keys[start:start + CHUNK]))):
                by_key.setdefault(row.key, []).append(Mark.of(row))
    found: dict[Place, Mark] = {}
    for place in wanted:
        best: Mark | None = None
        for candidate in by_key.get(place.key, ()):
            if candidate.covers(place) and _newer(candidate, best):
                best = candidate
        if best is not None:
            found[place] = best
    return found


def state_of(key: Any, vendor: Any, product: Any, image_sha256: Any) -> Any:
    """The state in force as an SQL expression over the columns of a query's finding and image
    (`state_of(FindingRow.key, Image.vendor, Image.product, Image.sha256)`), NULL where no mark
    covers it: for queries that filter or page in SQL. The same rule as `Mark.covers`, newest
    mark first."""
    covering = or_(
        and_(Triage.vendor.is_not(None), Triage.product.is_not(None), Triage.vendor == vendor,
             Triage.product == product),
        and_(or_(Triage.vendor.is_(None), Triage.product.is_(None)), Triage.image_sha256 == image_sha256))
    return (select(Triage.state).where(Triage.key == key, covering)
            .order_by(Triage.at.desc(), Triage.id.desc()).limit(1).scalar_subquery())


def state(store: Store, place: Place) -> str:
    """The triage state at one place: a state of STATES, or 'untriaged'."""
    held = states(store, [place]).get(place)
    return held.state if held is not None else UNTRIAGED


def annotate(store: Store, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`firmproof db findings` rows with their triage: `triage` (a state or 'untriaged'), and
    the mark's `triage_comment`, `triage_who`, `triage_at` (None where untriaged)."""
    held = states(store, [place_of(r) for r in rows])
    for row in rows:
        got = held.get(place_of(row))
        row["triage"] = got.state if got is not None else UNTRIAGED
        row["triage_comment"] = got.comment if got is not None else None
        row["triage_who"] = got.who if got is not None else None
        row["triage_at"] = got.at if got is not None else None
    return rows
