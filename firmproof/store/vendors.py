"""A vendor as procurement reads it (issue 15): its products and releases, the critical and high
findings still open (`open_by_finding`: each once per product, with the releases holding it),
how long each known backdoor stayed, and the keys and executables it
shares with another product or another vendor.

Every image is read through its newest scan that gave a report (as `timeline` and `firmproof
db` read them). Releases, their counts and their known backdoors are each product's
`timeline` rows; a finding is open when the triage mark in force for it (`triage.state_of`,
so a mark set on one release holds on the product's other releases) is none or 'confirmed';
a key (by fingerprint) or an executable (by sha256) is shared when the newest scans of images
of more than one product (of this vendor or another, or an image naming none) hold it.

    vendors(store)                   # one row per vendor: images, products, releases, scans
    vendor(store, "Acme")            # the view (None: no image names this vendor)
    csv_rows(view)                   # its rows for a spreadsheet, CSV_COLUMNS in this order
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import case, distinct, func, or_, select

from firmproof.store.query import CHUNK, newest_of
from firmproof.store.schema import NUL, ExecutableRow, FindingRow, Image, Scan, ShippedKeyRow
from firmproof.store.timeline import release_order, timeline
from firmproof.store.triage import OPEN, UNTRIAGED, state_of

if TYPE_CHECKING:
    from firmproof.store.open import Store

Row = dict[str, Any]
SERIOUS = ("critical", "high")
MAX_PLACES = 50          # places listed per shared key or executable, on each side (totals are given)

# The CSV's columns, in order. `section` says what a row is:
#   finding     an open critical or high finding of a release's newest scan (item: its triage key)
#   backdoor    a known-backdoor rule in a product's releases (item: the rule; first_seen,
#               last_seen: versions; releases: how many releases held it; in_latest: still there)
#   key         a shipped key of this vendor also shipped by another product (item: its
#               fingerprint; elsewhere: every other product's image and path holding it)
#   executable  an ELF file of this vendor also shipped by another product (item: its sha256)
CSV_COLUMNS = ["section", "vendor", "product", "version", "release_date", "image", "severity", "rule",
               "title", "path", "triage", "item", "type", "first_seen", "last_seen", "releases",
               "in_latest", "elsewhere"]


def _product_label(vendor: str | None, product: str | None) -> str:
    return f"{vendor or '(no vendor)'} {product or '(no product)'}"


def vendors(store: Store) -> list[Row]:
    """Every vendor the images name, by name (any case): how many images, products, releases
    (product and version pairs; an image naming no version is a release of its own) and scans,
    and the newest release date known."""
    # in SQL, a release at a time: a store of 10,000 images is 10,000 rows to read otherwise
    releases = (select(Image.vendor, Image.product, Image.version, func.count().label("images"),
                       func.max(Image.release_date).label("latest"))
                .where(Image.vendor.is_not(None)).group_by(Image.vendor, Image.product, Image.version)
                .subquery())
    per_vendor = (select(releases.c.vendor, func.sum(releases.c.images).label("images"),
                         # an image naming no version is a release of its own
                         func.sum(case((releases.c.version.is_(None), releases.c.images), else_=1))
                         .label("releases"),
                         (func.count(distinct(releases.c.product))
                          + func.max(case((releases.c.product.is_(None), 1), else_=0))).label("products"),
                         func.max(releases.c.latest).label("latest_release"))
                  .group_by(releases.c.vendor))
    scans = (select(Image.vendor, func.count(Scan.id)).join(Scan, Scan.image_id == Image.id)
             .where(Image.vendor.is_not(None)).group_by(Image.vendor))
    with store.sessions() as session:
        counted = {vendor_: n for vendor_, n in session.execute(scans)}
        rows = [{"vendor": r.vendor, "images": int(r.images), "scans": counted.get(r.vendor, 0),
                 "products": int(r.products), "releases": int(r.releases), "latest_release": r.latest_release}
                for r in session.execute(per_vendor)]
    return sorted(rows, key=lambda r: (r["vendor"].casefold(), r["vendor"]))


def vendor(store: Store, name: str, *, per_release: bool = True) -> Row | None:
    """The view of the vendor `name` (exactly as the images have it), or None where no image
    names it: `products` (each with its `releases`, `timeline` rows with the newest scan's
    start as `scanned`), `open_findings` (unless not `per_release`: the page reads them through
    `open_by_finding`), `backdoors`, `shared_keys`, `shared_executables`.
    A name holding NUL names no image (they are stored without it; PostgreSQL would refuse it)."""
    if NUL in name:
        return None
    with store.sessions() as session:
        names = [p for p in session.scalars(select(Image.product).where(Image.vendor == name).distinct())]
    if not names:
        return None
    products: list[Row] = []
    for named in sorted(names, key=lambda p: (p is None, (p or "").casefold(), p or "")):
        # an image naming no product: the timeline's query compares with IS NULL
        products.append({"product": named, "releases": timeline(store, name, cast(str, named))})
    scan_ids = [r["scan"] for p in products for r in p["releases"] if r["scan"] is not None]
    with store.sessions() as session:
        found = session.execute(select(Scan.id, Scan.started).where(Scan.id.in_(scan_ids)))
        started = {scan_id: at for scan_id, at in found}
    for product in products:
        for release in product["releases"]:
            release["scanned"] = started.get(release["scan"])
    view = {"vendor": name, "products": products}
    if per_release:
        view["open_findings"] = _open_findings(store, name, _release_order(products))
    return {**view, "backdoors": _backdoors(name, products),
            "shared_keys": _shared(store, name, ShippedKeyRow.fingerprint),
            "shared_executables": _shared(store, name, ExecutableRow.sha256)}


def _release_order(products: list[Row]) -> dict[int, int]:
    """Each scanned release's place in its product's timeline (which has them in release order)."""
    return {r["scan"]: i for p in products for i, r in enumerate(p["releases"]) if r["scan"] is not None}


_OPEN_COLUMNS = (FindingRow.id, FindingRow.scan_id.label("scan"), FindingRow.finding_id, FindingRow.rule,
                 FindingRow.severity, FindingRow.title, FindingRow.path,
                 FindingRow.evidence_offset.label("offset"), FindingRow.key, Image.product, Image.version,
                 Image.release_date, Image.name.label("image"), Image.sha256.label("image_sha256"))


def _open(name: str, *columns: Any) -> Any:
    """`columns` (and `triage`) of the critical and high findings of the newest scan of each of
    the vendor's images whose triage state in force is open (none, or 'confirmed')."""
    held = func.coalesce(state_of(FindingRow.key, Image.vendor, Image.product, Image.sha256), UNTRIAGED)
    return (select(*columns, held.label("triage")).join(Image, newest_of(FindingRow))
            .where(Image.vendor == name, FindingRow.severity.in_(SERIOUS), held.in_(OPEN)))


def _open_findings(store: Store, name: str, order: dict[int, int]) -> list[Row]:
    """The open critical and high findings, by product, release (`order`: a scan's place among
    its product's releases), severity, rule, path, offset, then row id: one order whatever order
    the database reads them in, so that the API's pages of them neither overlap nor miss one."""
    with store.sessions() as session:
        rows = [dict(r._mapping) for r in session.execute(_open(name, *_OPEN_COLUMNS))]
    return sorted(rows, key=lambda r: ((r["product"] is None, r["product"] or ""), order.get(r["scan"], -1),
                                       SERIOUS.index(r["severity"]), r["rule"], r["path"], r["offset"],
                                       r["id"]))


def open_by_finding(store: Store, view: Row) -> list[Row]:
    """The view's open findings once per product and finding (its triage key: the same rule,
    place and evidence from one release to the next), as the page lists them: the newest
    release's row, with `releases` (how many of the product's scanned releases hold it open, of
    `of_releases`), `first_seen` and `last_seen` (versions) and `in_latest` (the product's newest
    scanned release holds it open). Per release they are the `open_findings` (and the CSV);
    this reads only their keys, then the newest row of each."""
    order = _release_order(view["products"])
    releases = {r["scan"]: r for p in view["products"] for r in p["releases"] if r["scan"] is not None}
    latest: dict[str | None, int | None] = {}
    scanned: dict[str | None, int] = {}
    for product in view["products"]:
        held = [r["scan"] for r in product["releases"] if r["scan"] is not None]
        latest[product["product"]], scanned[product["product"]] = (held[-1] if held else None), len(held)
    groups: dict[tuple[str | None, str], list[tuple[int, int, int]]] = defaultdict(list)
    with store.sessions() as session:
        for product, key, scan, row_id, _ in session.execute(
                _open(view["vendor"], Image.product, FindingRow.key, FindingRow.scan_id, FindingRow.id)):
            groups[(product, key)].append((order.get(scan, -1), scan, row_id))
        newest = {max(held)[2]: sorted(held) for held in groups.values()}
        wanted = list(newest)
        rows = [dict(r._mapping) for start in range(0, len(wanted), CHUNK) for r in session.execute(
            _open(view["vendor"], *_OPEN_COLUMNS).where(FindingRow.id.in_(wanted[start:start + CHUNK])))]

    def seen(scan: int) -> str:
        return str(releases[scan]["version"] or releases[scan]["image"])

    out = [{**row, "releases": len(held), "of_releases": scanned.get(row["product"], len(held)),
            "first_seen": seen(held[0][1]), "last_seen": seen(held[-1][1]),
            "in_latest": held[-1][1] == latest.get(row["product"])}
           for row in rows for held in (newest[row["id"]],)]
    return sorted(out, key=lambda r: ((r["product"] is None, r["product"] or ""), not r["in_latest"],
                                      SERIOUS.index(r["severity"]), r["rule"], r["path"], r["offset"]))


def _backdoors(name: str, products: list[Row]) -> list[Row]:
    """Each known-backdoor rule of each product (as its timeline finds them, a finding's own
    rule or one it absorbed): the releases that held it, how many, the first and the last, and
    whether the product's newest scanned release still does."""
    from firmproof.analyzers.registry import rule_by_id

    out = []
    for product in products:
        scanned = [r for r in product["releases"] if r["scan"] is not None]
        held: dict[str, list[Row]] = defaultdict(list)
        for release in scanned:
            for rule in release["known_backdoors"]:
                held[rule].append(release)
        for rule, releases in sorted(held.items()):
            known = rule_by_id(rule)
            out.append({"vendor": name, "product": product["product"], "rule": rule,
                        "title": known.title if known is not None else rule,
                        "releases": len(releases), "of_releases": len(scanned),
                        "first_seen": releases[0]["version"] or releases[0]["image"],
                        "first_date": releases[0]["release_date"],
                        "last_seen": releases[-1]["version"] or releases[-1]["image"],
                        "last_date": releases[-1]["release_date"],
                        "in_latest": releases[-1] is scanned[-1],
                        "versions": [r["version"] or r["image"] for r in releases]})
    return out


def _shared(store: Store, name: str, column: Any) -> list[Row]:
    """The keys (`ShippedKeyRow.fingerprint`) or executables (`ExecutableRow.sha256`) of the
    vendor's images that the newest scans of images of more than one product hold: one row each,
    with the vendor's `products` and the other `vendors` holding it, and the places: `here` (the
    vendor's images and paths) and `elsewhere` (every other vendor's, and images naming none),
    each the first MAX_PLACES of `here_total` and `elsewhere_total` (BusyBox may be in
    thousands of images)."""
    table = column.class_
    newest = newest_of(table)
    ours = select(column).join(Image, newest).where(Image.vendor == name, column.is_not(None)).distinct()
    # who holds each of them, in how many places: one pass over their rows
    counted = (select(column, Image.vendor, Image.product, func.count()).join(Image, newest)
               .where(column.in_(ours)).group_by(column, Image.vendor, Image.product))
    with store.sessions() as session:
        held: dict[str, list[tuple[str | None, str | None, int]]] = defaultdict(list)
        for item, vendor_, product, places in session.execute(counted):
            held[item].append((vendor_, product, places))
    items: dict[str, Row] = {}
    for key, owners in held.items():
        if len({v or "" for v, _, _ in owners}) < 2 and len({p or "" for _, p, _ in owners}) < 2:
            continue                       # one product of this vendor only: not shared
        items[key] = {"item": key, "here": [], "elsewhere": [],
                      "here_total": sum(n for v, _, n in owners if v == name),
                      "elsewhere_total": sum(n for v, _, n in owners if v != name),
                      "products": sorted({_product_label(v, p) for v, p, _ in owners if v == name}),
                      "vendors": sorted({v or "(no vendor)" for v, _, _ in owners if v != name})}
    extra = ((ShippedKeyRow.kind, ShippedKeyRow.type, ShippedKeyRow.comment) if table is ShippedKeyRow
             else (ExecutableRow.size,))
    places = select(column.label("item"), table.path, *extra, Image.vendor, Image.product, Image.version,
                    Image.release_date, Image.name.label("image"), table.scan_id.label("scan")
                    ).join(Image, newest)
    # an item held in few places: all of them, many items a query; one in more places than a side
    # lists: the first of each side, by an ordered LIMIT (a window over BusyBox's thousands of
    # places would sort them all)
    few = [k for k, i in items.items() if max(i["here_total"], i["elsewhere_total"]) <= MAX_PLACES]
    queries = [places.where(column.in_(few[start:start + CHUNK])) for start in range(0, len(few), CHUNK)]
    order = (Image.vendor, Image.product, Image.release_date, Image.version, Image.name, table.path, table.id)
    for key in sorted(set(items) - set(few)):
        for side in (Image.vendor == name, or_(Image.vendor != name, Image.vendor.is_(None))):
            queries.append(places.where(column == key, side).order_by(*order).limit(MAX_PLACES))
    with store.sessions() as session:
        rows = [dict(r._mapping) for query in queries for r in session.execute(query)]
    for row in rows:
        item = items[row["item"]]
        if table is ShippedKeyRow:
            item.setdefault("type", row["type"])
            if row["comment"] and not item.get("comment"):
                item["comment"] = row["comment"]
        else:
            item["size"] = row["size"]
        item["here" if row["vendor"] == name else "elsewhere"].append(
            {k: v for k, v in row.items() if k not in _NOT_PLACE})

    def place_order(row: Row) -> tuple[Any, ...]:
        return ((row["vendor"] or "").casefold(), row["product"] or "", release_order(row), row["path"])

    for item in items.values():
        item.setdefault("comment", "")
        item["here"].sort(key=place_order)
        item["elsewhere"].sort(key=place_order)
    # what other vendors ship too first, then by how many places hold it
    return sorted(items.values(), key=lambda i: (not i["vendors"], -i["elsewhere_total"], i["item"]))


_NOT_PLACE = frozenset({"item", "type", "comment", "size"})


def _where(place: Row) -> str:
    if "more" in place:
        return f"and {place['more']} more places (the view lists {MAX_PLACES} a side)"
    text = f"{_product_label(place['vendor'], place['product'])} {place['version'] or ''}".rstrip()
    kind = f" ({place['kind']})" if place.get("kind") else ""
    return f"{text}: {place['image']} {place['path']}{kind}"


def csv_rows(view: Row) -> list[Row]:
    """The view as rows of CSV_COLUMNS: the open findings, the backdoors, then one row per place
    of this vendor holding a shared key or executable (`elsewhere`: where else, '; ' between)."""
    name = view["vendor"]
    rows: list[Row] = []
    for f in view["open_findings"]:
        rows.append({"section": "finding", "vendor": name, **{k: f[k] for k in (
            "product", "version", "release_date", "image", "severity", "rule", "title", "path", "triage")},
            "item": f["key"]})
    for b in view["backdoors"]:
        rows.append({"section": "backdoor", "vendor": name, "product": b["product"], "rule": b["rule"],
                     "title": b["title"], "item": b["rule"], "first_seen": b["first_seen"],
                     "last_seen": b["last_seen"], "releases": b["releases"],
                     "in_latest": "yes" if b["in_latest"] else "no"})
    for section, items in (("key", view["shared_keys"]), ("executable", view["shared_executables"])):
        for item in items:
            for here in item["here"]:
                others = [p for p in item["here"] + item["elsewhere"]
                          if (p["vendor"], p["product"]) != (here["vendor"], here["product"])]
                hidden = (item["here_total"] + item["elsewhere_total"]
                          - len(item["here"]) - len(item["elsewhere"]))
                if hidden:
                    others.append({"more": hidden})
                rows.append({"section": section, "vendor": name, "product": here["product"],
                             "version": here["version"], "release_date": here["release_date"],
                             "image": here["image"], "path": here["path"], "item": item["item"],
                             "type": f"{item['type']} {here['kind']}" if section == "key" else "elf",
                             "elsewhere": "; ".join(_where(p) for p in others)})
    return rows

