"""The HTML report: self-contained, and it renders in Debian's headless Chromium with its content
and its filters working."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import firmproof

from firmproof.fs.rootfs import RootFS
from firmproof.model import Evidence
from firmproof.report.html import hex_view
from tests.browser import chromium_page


@pytest.fixture(scope="module")
def rendered(tmp_path_factory: pytest.TempPathFactory, demo_scan: tuple[Path, dict]) -> tuple[Path, dict]:
    image, report = demo_scan
    root = tmp_path_factory.mktemp("html")
    proc = firmproof("scan", image, "-q", "--format", "html", "-o", root / "report.html")
    assert proc.returncode == 0, proc.stderr
    return root / "report.html", report


def test_html_is_one_self_contained_file(rendered: tuple[Path, dict]):
    page, report = rendered
    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>")
    # nothing is loaded from anywhere: no src/href attributes, no stylesheet links, no imports
    assert not re.search(r"\s(src|href|srcset|action)\s*=", html, re.I)
    assert "<link" not in html and "@import" not in html and "url(" not in html
    assert html.count("<script>") == 1
    assert html.count("<svg") == 2
    assert html.count('<article class="finding"') == len(report["findings"])


def test_hex_view_marks_the_evidence_bytes():
    """The bytes the evidence kept around itself when it was made, evidence marked."""
    fs = RootFS.from_files({"/bin/x": bytes(range(256)) * 8})
    view = hex_view(Evidence.of(fs, "/bin/x", 40, 3))
    assert view is not None and "<mark>28</mark> <mark>29</mark> <mark>2a</mark>" in view
    assert view.count("<mark>") == 6             # three bytes, in hex and as characters
    assert view.splitlines()[0].startswith("00000000")
    later = hex_view(Evidence.of(fs, "/bin/x", 700, 400))
    assert later is not None and later.splitlines()[0].startswith("00000280")     # 700 - 48, by 16
    assert later.splitlines()[-1] == "… 144 more evidence bytes"
    assert later.count("<mark>") == 2 * 256
    assert hex_view(Evidence("ab" * 32, 40, 3, "x")) is None    # evidence read back from a report




def test_html_renders_in_chromium_and_filters(rendered: tuple[Path, dict], tmp_path: Path):
    page_file, report = rendered
    findings = report["findings"]
    requests: list[str] = []
    with chromium_page(tmp_path / "profile") as page:
        page.on("request", lambda r: requests.append(r.url))
        page.goto(page_file.as_uri())
        assert page.title() == "firmproof: demo.bin"
        articles = page.locator("article.finding")
        assert articles.count() == len(findings)
        assert page.locator("#shown").inner_text() == str(len(findings))
        body = page.locator("body").inner_text()
        assert report["image"]["sha256"] in body
        tree = page.locator("ul.tree").first.inner_text()
        assert "uimage@0x0" in tree and "filesystem/squashfs@0x0" in tree
        assert page.locator("ul.tree ul.tree").count() == 1      # squashfs nested in the uImage
        assert page.locator("svg.chart").count() == 2
        assert page.locator("svg.chart rect").count() >= 5
        shell = page.locator("article.finding", has_text="FP-SVC-001")
        assert "telnetd -l /bin/sh -p 2323" in shell.locator("pre.excerpt").inner_text()
        assert shell.locator("pre.hex mark").count() > 0
        assert "How to confirm by hand." in shell.inner_text()
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)

        # severity filter: unticking critical hides exactly the critical findings
        page.locator("input.sevbox[value=critical]").uncheck()
        critical = sum(f["severity"] == "critical" for f in findings)
        assert critical > 0
        assert articles.filter(visible=True).count() == len(findings) - critical
        assert page.locator("#shown").inner_text() == str(len(findings) - critical)
        page.locator("input.sevbox[value=critical]").check()

        # category filter
        page.select_option("#cat", "key.private")
        visible = articles.filter(visible=True)
        assert visible.count() == sum(f["category"] == "key.private" for f in findings) >= 1
        assert all(visible.nth(i).get_attribute("data-category") == "key.private"
                   for i in range(visible.count()))
        page.select_option("#cat", "")

        # text search
        page.fill("#q", "31337")
        assert articles.filter(visible=True).count() == 1
        page.screenshot(path=str(tmp_path / "filtered.png"))
    assert [u for u in requests if not u.startswith("file://")] == []
    assert (tmp_path / "report.png").stat().st_size > 10_000


def test_diff_html_renders_in_chromium(rendered: tuple[Path, dict], tmp_path: Path):
    """The diff page of a report against itself: no change, still a valid page."""
    _, report = rendered
    (tmp_path / "r.json").write_text(json.dumps(report))
    proc = firmproof("diff", tmp_path / "r.json", tmp_path / "r.json", "--html", tmp_path / "diff.html")
    assert proc.returncode == 0, proc.stderr
    with chromium_page(tmp_path / "profile") as page:
        page.goto((tmp_path / "diff.html").as_uri())
        text = page.locator("body").inner_text()
        assert "0 appeared, 0 vanished, 0 changed" in text
