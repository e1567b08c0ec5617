"""The vendor view's queries (`firmproof.store.vendors`) on SQLite and on a real PostgreSQL: the
same scans (tests/web/vendor_store.py: two vendors' images built with the real tools, one key
shared between them, a decoy, a backdoor in two releases, a false-positive mark) give the same
rows on both, with the place lists cut by the window function on both."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from firmproof.store import open_store, vendors
from firmproof.store.vendors import csv_rows, vendor
from tests.web.vendor_store import Scanned, fill, scan_images


@pytest.fixture(scope="module")
def vendor_scans(tmp_path_factory: pytest.TempPathFactory) -> Scanned:
    return scan_images(tmp_path_factory.mktemp("vendor-images"))


def _read(url: str) -> dict[str, Any]:
    store = open_store(url)
    try:
        return {"vendors": vendors.vendors(store),
                **{name: vendor(store, name) for name in ("Acme", "Globex", "Initech", "Ac\x00me")}}
    finally:
        store.close()


def test_sqlite_and_postgresql_give_the_same_view(vendor_scans: Scanned, tmp_path: Path, pg_url: str,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    lite = fill(f"sqlite:///{tmp_path / 'vendors.sqlite'}", vendor_scans).url
    pg = fill(pg_url, vendor_scans).url
    seen = _read(lite)
    assert _read(pg) == seen
    assert seen["Initech"] is None and seen["Ac\x00me"] is None          # (PostgreSQL refuses NUL in text)
    assert [(v["vendor"], v["products"], v["releases"]) for v in seen["vendors"]] == [("Acme", 2, 4),
                                                                                       ("Globex", 1, 1)]
    acme = seen["Acme"]
    assert [k["item"] for k in acme["shared_keys"]] == [vendor_scans.shared, vendor_scans.fleet]
    assert vendor_scans.decoy not in str(acme)
    assert vendor_scans.telnetd_key not in {f["key"] for f in acme["open_findings"]}
    assert vendor_scans.telnetd_key in {f["key"] for f in seen["Globex"]["open_findings"]}
    assert [(b["rule"], b["releases"], b["in_latest"]) for b in acme["backdoors"]] == [
        ("FP-KNOWN-014", 2, False)]
    assert {r["section"] for r in csv_rows(acme)} == {"finding", "backdoor", "key", "executable"}
    # the window function that cuts the place lists, on both
    monkeypatch.setattr(vendors, "MAX_PLACES", 1)
    cut = _read(lite)
    assert _read(pg) == cut
    assert all(len(i["here"]) == 1 and len(i["elsewhere"]) <= 1
               for i in cut["Acme"]["shared_keys"] + cut["Acme"]["shared_executables"])
    assert [(i["here_total"], i["elsewhere_total"]) for i in cut["Acme"]["shared_keys"]] == [(2, 1), (2, 0)]
