"""A person in Debian's headless Chromium (through Playwright), against `firmproof serve` with
authentication on: log in, the scans list, a filter chosen in the form, a scan, a finding, back,
log out; an admin marks a finding from the scan page. Every request the pages make stays on the
server (no CDN, no script). Screenshots of each step are kept as test artefacts, in
build/test-artifacts/web/TEST/ (the `shots` fixture)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from firmproof.testing.demo import build_image
from tests.browser import chromium_page, follow
from tests.web.conftest import RULE_SETS, Accounts, Server
from tests.web.vendor_store import VendorStore


def test_log_in_list_filter_scan_finding_log_out(guarded: Server, accounts: Accounts, tmp_path: Path,
                                                 shots: Path) -> None:
    requests: list[str] = []
    with chromium_page(tmp_path / "profile") as page:
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{guarded.base}/scans")
        assert page.url.startswith(f"{guarded.base}/login")
        page.fill("input[name=name]", "bob")
        page.fill("input[name=password]", "wrong password")
        follow(page.locator("button[type=submit]"))
        assert page.locator("#problem").inner_text() == "Wrong name or password."
        page.fill("input[name=name]", "bob")
        page.fill("input[name=password]", accounts.passwords["bob"])
        follow(page.locator("button[type=submit]"))
        assert page.url == f"{guarded.base}/scans"
        assert "bob (read)" in page.locator("header").inner_text()
        page.screenshot(path=str(shots / "1-scans.png"), full_page=True)
        assert page.locator("#scans tbody tr").count() == 12

        page.select_option("select[name=vendor]", "Globex")
        page.select_option("select[name=severity]", "critical")
        follow(page.locator("form.filters button[type=submit]"))
        assert "vendor=Globex" in page.url and "severity=critical" in page.url
        assert page.locator("#total").inner_text().startswith(f"{len(RULE_SETS)} scans")
        assert page.locator("select[name=vendor]").input_value() == "Globex"      # the form keeps it
        page.screenshot(path=str(shots / "2-filtered.png"), full_page=True)

        follow(page.locator("#scans tbody tr").first.locator("a").first)
        assert "/scans/" in page.url
        assert page.locator("h1").inner_text().startswith("ext4-router.bin")
        assert page.locator("#coverage .verdict").inner_text().startswith("complete")
        page.screenshot(path=str(shots / "3-scan.png"), full_page=True)

        follow(page.locator("#findings a", has_text="telnetd").first)
        assert "/findings/" in page.url
        assert "FP-SVC-001" in page.locator("main").inner_text()
        assert "/usr/sbin/telnetd -l /bin/sh" in page.locator("#excerpt").inner_text()
        assert "2f 75 73 72 2f 73 62 69 6e" in page.locator("#hex").inner_text()
        page.screenshot(path=str(shots / "4-finding.png"), full_page=True)

        page.go_back()
        assert "/scans/" in page.url
        follow(page.locator("header button[type=submit]"))      # log out
        assert page.url.startswith(f"{guarded.base}/login")
        page.goto(f"{guarded.base}/scans")
        assert page.url.startswith(f"{guarded.base}/login")
    assert requests and all(url.startswith(guarded.base + "/") for url in requests), \
        [u for u in requests if not u.startswith(guarded.base)]
    assert any(url.endswith("/static/firmproof.css") for url in requests)
    assert sorted(p.name for p in shots.iterdir()) == ["1-scans.png", "2-filtered.png", "3-scan.png",
                                                       "4-finding.png"]


def test_an_admin_marks_a_finding_then_reads_the_timeline_and_a_diff(writable: Server, accounts: Accounts,
                                                                    tmp_path: Path, shots: Path) -> None:
    with chromium_page(tmp_path / "profile") as page:
        page.goto(f"{writable.base}/login")
        page.fill("input[name=name]", "alice")
        page.fill("input[name=password]", accounts.passwords["alice"])
        follow(page.locator("button[type=submit]"))
        page.goto(f"{writable.base}/scans?vendor=Acme&q=demo")
        follow(page.locator("#scans tbody tr").first.locator("a").first)
        row = page.locator("tr.finding", has_text="FP-SVC-001")
        row.locator("select[name=state]").select_option("accepted-risk")
        row.locator("input[name=comment]").fill("lab network only")
        follow(row.locator("button", has_text="Mark"))
        assert "#f-" in page.url                                  # back on the scan page, at the row
        assert page.locator("tr.finding", has_text="FP-SVC-001").locator(".triage-state") \
            .inner_text().startswith("accepted-risk")
        page.screenshot(path=str(shots / "1-marked.png"), full_page=True)
        follow(page.locator("tr.finding", has_text="FP-SVC-001").locator("a").first)
        marks = page.locator("#marks").inner_text()
        assert "alice" in marks and "lab network only" in marks and "Acme R1" in marks
        # the product's timeline, from the scan: a chart of its two releases
        page.go_back()
        follow(page.locator("#timeline"))
        assert "/timeline?" in page.url
        assert page.locator("svg").count() >= 1
        body = page.locator("main").inner_text()
        assert "1.0" in body and "1.1" in body
        page.screenshot(path=str(shots / "2-timeline.png"), full_page=True)
        # the diff of 1.1 (clean) with the release before (all the plants): they are gone
        follow(page.locator("a.diff").first)
        assert "/diff?" in page.url
        gone = page.locator("tr.removed", has_text="FP-SVC-001")
        assert gone.count() >= 1 and gone.first.locator("td").first.inner_text() == "vanished"
        assert page.locator("tr.added").count() == 0          # the clean release adds nothing
        page.screenshot(path=str(shots / "3-diff.png"), full_page=True)
    assert sorted(p.name for p in shots.iterdir()) == ["1-marked.png", "2-timeline.png", "3-diff.png"]


def _pdf_title_and_pages(pdf: bytes) -> tuple[str, int]:
    """The document title chromium writes in a PDF's information dictionary (UTF-16 when not
    ASCII), and its number of pages."""
    found = re.search(rb"/Title\s*(?:<FEFF([0-9A-Fa-f]*)>|\(([^)]*)\))", pdf)
    assert found is not None, "the PDF has no title"
    if found[1] is not None:
        return bytes.fromhex(found[1].decode()).decode("utf-16-be"), _pages(pdf)
    return found[2].decode(), _pages(pdf)


def _pages(pdf: bytes) -> int:
    return len(re.findall(rb"/Type\s*/Page(?![s\w])", pdf))


def test_the_vendor_view_from_the_navigation_to_its_csv_and_its_pdf(vendor_server: Server,
                                                                   vendor_store: VendorStore,
                                                                   tmp_path: Path, shots: Path) -> None:
    """Procurement's walk: Vendors in the navigation, Acme, the key it shares with Globex and its
    open findings on the page, the CSV downloaded and read, the printable page printed to PDF."""
    base = vendor_server.base
    requests: list[str] = []
    with chromium_page(tmp_path / "profile") as page:
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{base}/scans")
        follow(page.locator("header nav a", has_text="Vendors"))
        assert page.url == f"{base}/vendors"
        assert page.locator("#vendors tbody tr").count() == 2
        follow(page.locator("#vendors a", has_text="Acme"))
        assert page.url == f"{base}/vendors/Acme"
        keys = page.locator("#keys").inner_text()
        assert vendor_store.shared in keys and "Globex G2 2.0: globex-g2-2.0.bin" in keys
        assert vendor_store.decoy not in page.locator("main").inner_text()
        opened = page.locator("#open").inner_text()
        assert "FP-KNOWN-014" in opened and "FP-SVC-001" not in opened     # telnetd: marked false positive
        assert "2 of 3" in page.locator("#backdoors tr.backdoor").inner_text()
        page.screenshot(path=str(shots / "1-vendor.png"), full_page=True)

        with page.expect_download() as downloading:
            page.locator("#csv").click()
        download = downloading.value
        assert download.suggested_filename == "firmproof-vendor-Acme.csv"
        rows = list(csv.DictReader(io.StringIO(Path(download.path()).read_text(encoding="utf-8"))))
        assert {r["item"] for r in rows if r["section"] == "key"} == {vendor_store.shared, vendor_store.fleet}
        assert all("Globex G2 2.0" in r["elsewhere"] for r in rows if r["item"] == vendor_store.shared)
        assert [r["item"] for r in rows if r["section"] == "backdoor"] == ["FP-KNOWN-014"]
        findings = [r for r in rows if r["section"] == "finding"]
        # the CSV has a line per release, the page one per product and finding with its releases
        per_finding = {(r["product"], r["item"]) for r in findings}
        assert len(findings) > len(per_finding) == page.locator("#open tr.finding").count() > 0
        huawei = page.locator("#open tr.finding", has_text="FP-KNOWN-014").inner_text()
        held = sum(1 for r in findings if r["rule"] == "FP-KNOWN-014")
        assert f"{held} of 3" in huawei and "1.0" in huawei

        follow(page.locator("#printable"))
        assert page.url == f"{base}/vendors/Acme?print=1"
        assert not page.locator("header.top").is_visible() and not page.locator("#exports").is_visible()
        page.screenshot(path=str(shots / "2-printable.png"), full_page=True)
        pdf = page.pdf(path=str(shots / "3-vendor.pdf"), format="A4")
    assert pdf.startswith(b"%PDF-")
    title, pages = _pdf_title_and_pages(pdf)
    assert title.startswith("Acme: vendor view") and pages >= 1
    assert all(url.startswith(base + "/") for url in requests), \
        [u for u in requests if not u.startswith(base)]
    assert sorted(p.name for p in shots.iterdir()) == ["1-vendor.png", "2-printable.png", "3-vendor.pdf"]


def test_an_admin_uploads_an_image_and_waits_for_its_scan(uploading: Server, accounts: Accounts,
                                                           tmp_path: Path, shots: Path) -> None:
    """Issue 15's walk-through ends here: an admin logs in, uploads an image from the form, and
    the status page (it reloads itself, no script) turns into the scan page when the scan ends."""
    image = build_image(tmp_path / "router-fw.bin")
    requests: list[str] = []
    with chromium_page(tmp_path / "profile") as page:
        page.on("request", lambda r: requests.append(r.url))
        page.goto(f"{uploading.base}/login")
        page.fill("input[name=name]", "alice")
        page.fill("input[name=password]", accounts.passwords["alice"])
        follow(page.locator("button[type=submit]"))
        follow(page.locator("header nav a", has_text="Upload"))
        assert page.url == f"{uploading.base}/upload"
        page.set_input_files("input[name=file]", str(image))
        page.fill("input[name=vendor]", "Acme")
        page.fill("input[name=product]", "R9")
        page.screenshot(path=str(shots / "1-upload.png"), full_page=True)
        follow(page.locator("form.upload button[type=submit]"))
        assert "/uploads/" in page.url
        assert page.locator("#state").inner_text().startswith(("queued", "scanning"))
        page.screenshot(path=str(shots / "2-status.png"), full_page=True)
        page.wait_for_url(f"{uploading.base}/scans/*", timeout=300_000)
        assert page.locator("h1").inner_text().startswith("router-fw.bin")
        assert page.locator("#findings tr.finding", has_text="FP-SVC-001").count() == 1
        page.screenshot(path=str(shots / "3-scan.png"), full_page=True)
    assert all(url.startswith(uploading.base + "/") for url in requests), \
        [u for u in requests if not u.startswith(uploading.base)]
    assert sorted(p.name for p in shots.iterdir()) == ["1-upload.png", "2-status.png", "3-scan.png"]
