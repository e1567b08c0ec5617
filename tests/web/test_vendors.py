"""The vendor view for procurement (issue 15): the API (checked against the OpenAPI document),
the pages and the CSV, on the web tests' store and on `vendor_store` (two vendors' images
built and scanned at test time that ship the same key; see tests/web/vendor_store.py)."""

from __future__ import annotations

import copy
import csv
import hashlib
import io
import re
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from firmproof.store import ImageInfo, add_report, open_store, vendors
from firmproof.store.vendors import CSV_COLUMNS, csv_rows, open_by_finding, vendor
from firmproof.web.vendors import to_csv
from tests.store.test_triage import HUAWEI, TELNETD
from tests.web.conftest import RULE_SETS, Accounts, Server, running
from tests.web.test_pages import Page, visit
from tests.web.vendor_store import MARKED, VendorStore


def _view(server: Server, vendor: str) -> dict[str, Any]:
    """The vendor's view by the API, its open findings read page by page into one list."""
    with httpx.Client(base_url=server.base) as api:
        view = dict(server.check(api.get(f"/api/vendors/{vendor}", params={"per_page": 200})).json())
        opened = view["open_findings"]
        rows = list(opened["items"])
        for page in range(2, opened["pages"] + 1):
            rows += server.check(api.get(f"/api/vendors/{vendor}", params={"per_page": 200, "page": page})
                                 ).json()["open_findings"]["items"]
    assert len(rows) == opened["total"]
    return {**view, "open_findings": rows}


def _csv(server: Server, vendor: str) -> list[dict[str, str]]:
    response = httpx.get(f"{server.base}/vendors/{vendor}.csv")
    assert response.status_code == 200, response.text[:300]
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"] == f'attachment; filename="firmproof-vendor-{vendor}.csv"'
    reader = csv.DictReader(io.StringIO(response.text))
    assert reader.fieldnames == CSV_COLUMNS
    return list(reader)


def test_vendors_and_a_vendor_on_the_web_tests_store(server: Server) -> None:
    with httpx.Client(base_url=server.base) as api:
        listed = server.check(api.get("/api/vendors")).json()
        assert [(v["vendor"], v["products"], v["releases"], v["images"], v["scans"]) for v in listed] == [
            ("Acme", 1, 2, 2, 2 * len(RULE_SETS)), ("Globex", 1, 1, 1, len(RULE_SETS))]
        assert listed[0]["latest_release"] == "2023-06-01" and listed[1]["latest_release"] is None
        timeline = server.check(api.get("/api/timeline", params={"vendor": "Acme", "product": "R1"})).json()
        assert server.check(api.get("/api/vendors/Nope")).status_code == 404
        empty = api.get("/api/vendors/")        # (the checker would take it for /api/vendors)
        assert (empty.status_code, empty.json()) == (404, {"detail": "no image of vendor '' in the store"})
    acme = _view(server, "Acme")
    [r1] = acme["products"]
    # the product's releases are its timeline's rows, each with its newest scan's start
    assert r1["product"] == "R1" and [r["version"] for r in r1["releases"]] == ["1.0", "1.1"]
    for release, same in zip(r1["releases"], timeline, strict=True):
        assert {k: release[k] for k in same} == same
        assert release["scanned"].startswith(f"2024-01-0{len(RULE_SETS)}T12:00:00")
    # the open critical and high findings are those the timeline counts, release by release
    opened = acme["open_findings"]
    assert len(opened) == sum(r["open_critical_high"] for r in timeline) == 7
    assert {f["severity"] for f in opened} == {"critical", "high"}
    assert {f["triage"] for f in opened} == {"untriaged"}
    assert {f["scan"] for f in opened} == {timeline[0]["scan"]}
    assert acme["backdoors"] == []


def test_the_key_two_vendors_ship_is_shared_and_the_decoy_is_not(vendor_server: Server,
                                                                 vendor_store: VendorStore) -> None:
    acme = _view(vendor_server, "Acme")
    key, fleet = acme["shared_keys"]                  # what another vendor ships too comes first
    assert (key["item"], key["type"]) == (vendor_store.shared, "ssh-ed25519")
    assert key["comment"] == "shared@factory"
    assert (key["vendors"], key["products"]) == (["Globex"], ["Acme R1"])
    assert [(p["version"], p["path"], p["kind"]) for p in key["here"]] == [
        ("1.0", "/root/.ssh/authorized_keys", "authorized"),
        ("1.1", "/root/.ssh/authorized_keys", "authorized")]
    assert [(p["vendor"], p["product"], p["version"], p["image"], p["path"], p["kind"])
            for p in key["elsewhere"]] == [
        ("Globex", "G2", "2.0", "globex-g2-2.0.bin", "/etc/ssh/ssh_host_ed25519_key", "private")]
    assert (key["here_total"], key["elsewhere_total"]) == (2, 1)
    # the fleet key: two products of one vendor
    assert (fleet["item"], fleet["products"], fleet["vendors"], fleet["elsewhere"]) == (
        vendor_store.fleet, ["Acme R1", "Acme R2"], [], [])
    assert [(p["product"], p["version"], p["path"]) for p in fleet["here"]] == [
        ("R1", "1.2", "/etc/ssh/keys/root.authorized_keys"),
        ("R2", "1.0", "/etc/ssh/keys/root.authorized_keys")]
    # the decoy is in two releases of one product: reused by nobody
    assert vendor_store.decoy not in str(acme["shared_keys"])
    # and from the other side: Acme's own fleet key is not Globex's business
    [key] = _view(vendor_server, "Globex")["shared_keys"]
    assert (key["item"], key["vendors"], key["products"]) == (vendor_store.shared, ["Acme"], ["Globex G2"])
    assert [(p["product"], p["version"]) for p in key["elsewhere"]] == [("R1", "1.0"), ("R1", "1.1")]
    # the executables the images were built from (the same BusyBox) are shared too
    assert any(e["here"][0]["path"] == "/bin/busybox" and e["vendors"] == ["Globex"]
               for e in acme["shared_executables"])

    page = visit(httpx.Client(base_url=vendor_server.base), "/vendors/Acme")
    assert vendor_store.shared in page.text and vendor_store.decoy not in page.text
    assert "Globex G2 2.0: globex-g2-2.0.bin /etc/ssh/ssh_host_ed25519_key (private)" in page.text

    rows = _csv(vendor_server, "Acme")
    keys = [r for r in rows if r["section"] == "key"]
    assert [(r["product"], r["version"], r["path"], r["item"], r["type"]) for r in keys] == [
        ("R1", "1.0", "/root/.ssh/authorized_keys", vendor_store.shared, "ssh-ed25519 authorized"),
        ("R1", "1.1", "/root/.ssh/authorized_keys", vendor_store.shared, "ssh-ed25519 authorized"),
        ("R1", "1.2", "/etc/ssh/keys/root.authorized_keys", vendor_store.fleet, "ssh-ed25519 authorized"),
        ("R2", "1.0", "/etc/ssh/keys/root.authorized_keys", vendor_store.fleet, "ssh-ed25519 authorized")]
    assert [r["elsewhere"] for r in keys] == [
        "Globex G2 2.0: globex-g2-2.0.bin /etc/ssh/ssh_host_ed25519_key (private)",
        "Globex G2 2.0: globex-g2-2.0.bin /etc/ssh/ssh_host_ed25519_key (private)",
        "Acme R2 1.0: acme-r2-1.0.bin /etc/ssh/keys/root.authorized_keys (authorized)",
        "Acme R1 1.2: acme-r1-1.2.bin /etc/ssh/keys/root.authorized_keys (authorized)"]
    assert not any(vendor_store.decoy in value for r in rows for value in r.values())


def test_a_false_positive_is_not_open_on_any_release_of_its_product(vendor_server: Server,
                                                                    vendor_store: VendorStore) -> None:
    acme = _view(vendor_server, "Acme")
    opened = acme["open_findings"]
    assert TELNETD not in {f["rule"] for f in opened}
    assert [f["key"] for f in opened if f["key"] == vendor_store.telnetd_key] == []
    # marked on 1.0, it is closed on 1.1 and 1.2 too: 1.2's one critical finding is not open
    r1, r2 = acme["products"]
    assert (r1["product"], r2["product"], [r["version"] for r in r2["releases"]]) == ("R1", "R2", ["1.0"])
    latest = r1["releases"][-1]
    assert (latest["version"], latest["critical"], latest["open_critical_high"]) == ("1.2", 1, 0)
    assert [r["open_critical_high"] for r in r1["releases"]] == [
        sum(1 for f in opened if (f["product"], f["version"]) == ("R1", r["version"]))
        for r in r1["releases"]]
    # the page's list: each finding once per product, with the releases holding it open; none
    # is open in R1's latest release (1.2), and each row links the newest release's finding
    store = open_store(vendor_store.url)
    try:
        grouped = open_by_finding(store, vendor(store, "Acme", per_release=False))
    finally:
        store.close()
    assert len(grouped) == len({(f["product"], f["key"]) for f in opened}) < len(opened)
    for row in grouped:
        same = [f for f in opened if (f["product"], f["key"]) == (row["product"], row["key"])]
        assert (row["releases"], row["id"], row["first_seen"], row["last_seen"]) == (
            len(same), same[-1]["id"], same[0]["version"], same[-1]["version"])
        assert row["of_releases"] == {"R1": 3, "R2": 1}[row["product"]]
        assert row["in_latest"] == (row["product"] == "R2")
    with httpx.Client(base_url=vendor_server.base) as api:
        scan = vendor_server.check(api.get(f"/api/scans/{latest['scan']}")).json()
        [telnetd] = [f for f in scan["findings_list"] if f["rule"] == TELNETD]
        assert telnetd["key"] == vendor_store.telnetd_key and telnetd["triage"] == "false-positive"
        marks = vendor_server.check(api.get(f"/api/findings/{telnetd['id']}")).json()["marks"]
        assert [(m["comment"], m["scope"]) for m in marks] == [(MARKED, "Acme R1")]
    # the mark is Acme R1's: the same line in Globex G2 stays open
    globex = _view(vendor_server, "Globex")["open_findings"]
    assert [(f["rule"], f["key"], f["triage"]) for f in globex if f["rule"] == TELNETD] == [
        (TELNETD, vendor_store.telnetd_key, "untriaged")]
    rows = _csv(vendor_server, "Acme")
    assert TELNETD not in {r["rule"] for r in rows if r["section"] == "finding"}
    assert len([r for r in rows if r["section"] == "finding"]) == len(opened)


def test_how_long_a_known_backdoor_stayed(vendor_server: Server) -> None:
    acme = _view(vendor_server, "Acme")
    assert [(b["product"], b["rule"], b["releases"], b["of_releases"], b["first_seen"], b["last_seen"],
             b["first_date"], b["last_date"], b["in_latest"], b["versions"]) for b in acme["backdoors"]] == [
        ("R1", HUAWEI, 2, 3, "1.0", "1.1", "2023-01-10", "2023-06-01", False, ["1.0", "1.1"])]
    assert "telecomadmin" in acme["backdoors"][0]["title"]
    assert {f["rule"] for f in acme["open_findings"] if f["version"] in ("1.0", "1.1")} >= {HUAWEI}
    assert _view(vendor_server, "Globex")["backdoors"] == []
    [row] = [r for r in _csv(vendor_server, "Acme") if r["section"] == "backdoor"]
    assert [row[c] for c in ("product", "item", "first_seen", "last_seen", "releases", "in_latest")] == [
        "R1", HUAWEI, "1.0", "1.1", "2", "no"]


def test_the_pages_link_to_the_view_and_it_links_to_its_csv_and_printable_form(vendor_server: Server) -> None:
    with httpx.Client(base_url=vendor_server.base, follow_redirects=True) as browser:
        scans = visit(browser, "/scans")
        assert "/vendors" in scans.hrefs(r"^/vendors$")                  # the navigation
        listed = visit(browser, "/vendors")
        assert listed.hrefs(r"^/vendors/") == ["/vendors/Acme", "/vendors/Globex"]
        scan = visit(browser, scans.hrefs(r"^/scans/\d+$")[0])
        assert scan.hrefs(r"^/vendors/") in (["/vendors/Acme"], ["/vendors/Globex"])
        timeline = visit(browser, "/timeline?vendor=Acme&product=R1")
        assert timeline.hrefs(r"^/vendors/") == ["/vendors/Acme"]
        view = browser.get("/vendors/Acme")
        page = Page(view.text)
        assert ("/vendors/Acme?print=1", "Printable") in page.links
        assert ("/vendors/Acme.csv", "CSV") in page.links
        assert "/timeline?vendor=Acme&product=R1" in page.hrefs("^/timeline")
        assert page.scripts == [] and 'class="vendor-view"' in view.text
        printable = browser.get("/vendors/Acme?print=1")
        assert 'class="vendor-view printable"' in printable.text
        assert "Back to the page" in Page(printable.text).text
        missing = browser.get("/vendors/Initech")
        assert missing.status_code == 404 and "no image of vendor" in Page(missing.text).text
        assert browser.get("/vendors/Initech.csv").status_code == 404
        css = browser.get("/static/firmproof.css").text
        assert "@media print" in css and ".vendor-view tr" in css


def test_a_csv_cell_a_spreadsheet_would_run_is_quoted() -> None:
    view = {"vendor": "=cmd", "open_findings": [], "shared_keys": [], "shared_executables": [],
            "backdoors": [{"product": "+R1", "rule": "FP-KNOWN-014", "title": "@SUM(A1)", "releases": 1,
                           "first_seen": "-1", "last_seen": "1.0", "in_latest": True}]}
    [row] = list(csv.DictReader(io.StringIO(to_csv(view))))
    assert (row["vendor"], row["product"], row["title"], row["first_seen"], row["last_seen"]) == (
        "'=cmd", "'+R1", "'@SUM(A1)", "'-1", "1.0")


def test_the_read_role_suffices(guarded: Server, accounts: Accounts) -> None:
    with httpx.Client(base_url=guarded.base) as api:
        assert guarded.check(api.get("/api/vendors")).status_code == 401
        read = {"Authorization": f"Bearer {accounts.tokens['read']}"}
        assert [v["vendor"] for v in guarded.check(api.get("/api/vendors", headers=read)).json()] == ["Acme",
                                                                                                      "Globex"]
        assert guarded.check(api.get("/api/vendors/Globex", headers=read)).json()["vendor"] == "Globex"
    with httpx.Client(base_url=guarded.base) as browser:
        refused = browser.get("/vendors/Globex.csv")
        assert (refused.status_code, refused.headers["location"]) == (303, "/login?next=/vendors/Globex.csv")
        csrf = re.search(r'name="csrf" value="([^"]+)"', browser.get("/login").text)
        assert csrf is not None
        login = browser.post("/login", data={"name": "bob", "password": accounts.passwords["bob"],
                                             "csrf": csrf[1]})
        assert login.status_code == 303                                       # bob: the read role
        exported = browser.get("/vendors/Globex.csv")
        assert exported.status_code == 200 and exported.text.startswith(",".join(CSV_COLUMNS))


def test_a_place_list_stops_at_its_bound_and_says_how_many_more(vendor_store: VendorStore,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """BusyBox may be in thousands of images: each side lists MAX_PLACES places and the total."""
    store = open_store(vendor_store.url)
    try:
        whole = vendor(store, "Acme")
        monkeypatch.setattr(vendors, "MAX_PLACES", 1)
        cut = vendor(store, "Acme")
    finally:
        store.close()
    assert whole is not None and cut is not None
    [busybox] = [e for e in whole["shared_executables"] if e["here"][0]["path"] == "/bin/busybox"]
    [short] = [e for e in cut["shared_executables"] if e["item"] == busybox["item"]]
    assert (busybox["here_total"], len(busybox["here"]), busybox["elsewhere_total"]) == (4, 4, 1)
    assert (short["here_total"], short["here"]) == (4, busybox["here"][:1])
    assert short["elsewhere"] == busybox["elsewhere"]
    assert (short["products"], short["vendors"]) == (busybox["products"], busybox["vendors"]) == (
        ["Acme R1", "Acme R2"], ["Globex"])
    [row] = [r for r in csv_rows(cut) if r["section"] == "executable"]
    assert row["elsewhere"] == ("Globex G2 2.0: globex-g2-2.0.bin /bin/busybox; "
                                "and 3 more places (the view lists 1 a side)")


# ---------------------------------------------------------------- the API's open findings, paged

RELEASES = 12           # of Initech R9, each the demo router's scan: more open findings than a page


@pytest.fixture(scope="module")
def many_releases(scanned: list[tuple[Any, Any]],
                  tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A vendor with more open findings than the API's default page: the demo router's report
    (7 open critical and high findings) stored as the scan of RELEASES releases of one product,
    each with its own sha256, served on 127.0.0.1."""
    report = scanned[0][0]                              # demo-router
    url = f"sqlite:///{tmp_path_factory.mktemp('many-releases') / 'store.sqlite'}"
    store = open_store(url)
    try:
        for i in range(RELEASES):
            data = copy.deepcopy(report.to_json())
            data["image"]["sha256"] = hashlib.sha256(f"initech r9 {i}".encode()).hexdigest()
            data["image"]["name"] = f"initech-r9-1.{i}.bin"
            add_report(store, data, ImageInfo(vendor="Initech", product="R9", version=f"1.{i}",
                                              release_date=date(2023, 1, 1) + timedelta(days=30 * i)),
                       list(report.components))
        whole = vendor(store, "Initech")
    finally:
        store.close()
    assert whole is not None and len(whole["open_findings"]) > 50
    with running("--db", url) as server:
        yield server


def _opened(server: Server, api: httpx.Client, vendor_: str, **params: Any) -> dict[str, Any]:
    page = server.check(api.get(f"/api/vendors/{vendor_}", params=params)).json()["open_findings"]
    return dict(page)


def test_the_open_findings_come_a_page_at_a_time_and_the_csv_has_them_all(many_releases: Server) -> None:
    server = many_releases
    with httpx.Client(base_url=server.base) as api:
        first = _opened(server, api, "Initech")
        total = first["total"]
        assert total == RELEASES * 7
        # the default page: 50 rows, the total, how many pages
        assert (first["page"], first["per_page"], first["pages"], len(first["items"])) == (
            1, 50, 2, 50)
        second = _opened(server, api, "Initech", page=2)
        assert (second["page"], second["total"], len(second["items"])) == (2, total, total - 50)
        # the second page goes on where the first stopped: no row twice, none left out, in the
        # order of the whole list (one page of 200)
        whole = _opened(server, api, "Initech", per_page=200)
        assert (whole["pages"], len(whole["items"])) == (1, total)
        ids = [f["id"] for f in first["items"] + second["items"]]
        assert ids == [f["id"] for f in whole["items"]] and len(set(ids)) == total
        # the order is release by release, oldest first
        versions = [f["version"] for f in whole["items"]]
        assert versions == sorted(versions, key=lambda v: int(v.split(".")[1]))
        # past the last page: no rows, the same total (as /api/scans answers)
        beyond = _opened(server, api, "Initech", page=3)
        assert (beyond["items"], beyond["total"], beyond["pages"]) == ([], total, 2)
        # the answer with a page of 50 is the smaller one
        sizes = [len(api.get("/api/vendors/Initech", params=p).content) for p in ({}, {"per_page": 200})]
        assert sizes[0] < sizes[1]
    rows = _csv(server, "Initech")
    assert len([r for r in rows if r["section"] == "finding"]) == total


def test_pages_of_a_few_walk_the_whole_list(vendor_server: Server) -> None:
    with httpx.Client(base_url=vendor_server.base) as api:
        whole = _opened(vendor_server, api, "Acme")["items"]
        assert len(whole) > 4
        walked = []
        for page in range(1, -(-len(whole) // 2) + 1):
            found = _opened(vendor_server, api, "Acme", page=page, per_page=2)
            assert (found["total"], found["pages"], found["per_page"]) == (len(whole), -(-len(whole) // 2), 2)
            assert len(found["items"]) == min(2, len(whole) - 2 * (page - 1))
            walked += found["items"]
    assert walked == whole


@pytest.mark.parametrize("params", [{"page": 0}, {"page": -1}, {"page": "two"}, {"page": 10**6 + 1},
                                    {"page": 2**64}, {"per_page": 0}, {"per_page": 201},
                                    {"per_page": ""}, {"page": "1.5"}])
def test_a_bad_page_is_refused_as_documented(vendor_server: Server, params: dict[str, Any]) -> None:
    with httpx.Client(base_url=vendor_server.base) as api:
        refused = vendor_server.check(api.get("/api/vendors/Acme", params=params))
    assert refused.status_code == 422, refused.text


def test_the_document_describes_the_page_parameters(vendor_server: Server) -> None:
    operation = vendor_server.openapi["paths"]["/api/vendors/{vendor}"]["get"]
    parameters = {p["name"]: p for p in operation["parameters"] if p["in"] == "query"}
    assert {k: (v["schema"]["minimum"], v["schema"]["maximum"], v["schema"]["default"])
            for k, v in parameters.items()} == {"page": (1, 10**6, 1), "per_page": (1, 200, 50)}
    assert all(p["description"] for p in parameters.values())
    documented = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    detail = vendor_server.openapi["components"]["schemas"][documented.rsplit("/", 1)[1]]
    page = detail["properties"]["open_findings"]
    assert page["$ref"].endswith("/OpenFindingPage")
    assert set(vendor_server.openapi["components"]["schemas"]["OpenFindingPage"]["required"]) == {
        "items", "total", "page", "per_page", "pages"}
