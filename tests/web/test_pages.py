"""The pages as a person's browser reads them: the scans list, its search, filters and pages,
then a scan, then one of its findings, all from links the pages themselves hold."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import httpx

from tests.web.conftest import IMAGES, RULE_SETS, Server


class Page(HTMLParser):
    """The links, the text and the ids of a page."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.links: list[tuple[str, str]] = []      # (href, text)
        self.stylesheets: list[str] = []
        self.scripts: list[str] = []
        self._href: str | None = None
        self._text: list[str] = []
        self.text_parts: list[str] = []
        self.feed(html)
        self.text = " ".join(" ".join(self.text_parts).split())

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self._href, self._text = a["href"], []
        if tag == "link" and a.get("rel") == "stylesheet":
            self.stylesheets.append(a["href"] or "")
        if tag == "script":
            self.scripts.append(a.get("src") or "inline")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._href is not None:
            self.links.append((self._href, " ".join("".join(self._text).split())))
            self._href = None

    def handle_data(self, data: str) -> None:
        self.text_parts.append(data)
        if self._href is not None:
            self._text.append(data)

    def hrefs(self, prefix: str) -> list[str]:
        return list(dict.fromkeys(h for h, _ in self.links if re.match(prefix, h)))


def visit(client: httpx.Client, url: str) -> Page:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("text/html")
    return Page(response.text)


def test_list_then_scan_then_finding(server: Server) -> None:
    with httpx.Client(base_url=server.base, follow_redirects=True) as browser:
        home = browser.get("/")
        assert home.url.path == "/scans"
        scans = Page(home.text)
        assert scans.stylesheets == ["/static/firmproof.css"] and scans.scripts == []
        css = browser.get("/static/firmproof.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
        assert f"{len(IMAGES) * len(RULE_SETS)} scans" in scans.text
        # the newest scan first: the ext4 image, added last
        first = scans.hrefs(r"^/scans/\d+$")[0]
        scan = visit(browser, first)
        assert "ext4-router.bin" in scan.text and "Globex G2 7.0" in scan.text
        assert "Coverage" in scan.text and "Components" in scan.text and "busybox" in scan.text
        assert "telnetd -l /bin/sh" in scan.text
        findings = scan.hrefs(r"^/findings/\d+$")
        assert len(findings) >= 2
        telnet = next(h for h, text in scan.links if h.startswith("/findings/") and "telnetd" in text)
        finding = visit(browser, telnet)
        assert "FP-SVC-001" in finding.text and "/etc/init.d/rcS" in finding.text
        assert "Why it matters" in finding.text and "How to confirm by hand" in finding.text
        # the evidence's bytes, 16 a line from its offset in the file
        offset = int(re.search(r"bytes at offset (\d+)", finding.text).group(1))
        line = f"{offset:08x} 2f 75 73 72 2f 73 62 69 6e 2f 74 65 6c 6e 65 74 |/usr/sbin/telnet|"
        assert line in finding.text
        # the same finding in the other scans (other rule sets, the demo image) is linked
        assert len(finding.hrefs(r"^/findings/\d+$")) >= len(RULE_SETS) - 1
        back = finding.hrefs(r"^/scans/\d+$")
        assert back == [first]


def test_search_filters_and_pages(server: Server) -> None:
    with httpx.Client(base_url=server.base) as browser:
        page = visit(browser, "/scans?vendor=Globex")
        assert f"{len(RULE_SETS)} scans" in page.text and "demo-router.bin" not in page.text
        assert visit(browser, "/scans?q=clean").text.count("clean-router.bin") == len(RULE_SETS)
        # the clean image has no critical finding; the other two have
        critical = visit(browser, "/scans?severity=critical")
        assert f"{2 * len(RULE_SETS)} scans" in critical.text and "clean-router.bin" not in critical.text
        by_rule = visit(browser, "/scans?rule=FP-KEY-004&vendor=Acme")
        assert "demo-router.bin" in by_rule.text and "clean-router.bin" not in by_rule.text
        assert re.search(r"(?<!\d)0 scans", visit(browser, "/scans?since=2999-01-01").text)
        assert f"{len(IMAGES) * 2} scans" in visit(browser, "/scans?since=2024-01-02&until=2024-01-03").text
        assert f"{len(IMAGES) * len(RULE_SETS)} scans" in visit(browser, "/scans?triage=untriaged").text
        assert re.search(r"(?<!\d)0 scans", visit(browser, "/scans?triage=confirmed").text)
        ignored = visit(browser, "/scans?severity=dire&since=yesterday")
        assert "Ignored: severity 'dire'" in ignored.text
        # pages of five, walked by their "next" links, filters kept
        seen: list[str] = []
        url: str | None = "/scans?vendor=Acme&per_page=5"
        while url:
            page = visit(browser, url)
            seen += page.hrefs(r"^/scans/\d+$")
            url = next((h for h, text in page.links if text.startswith("next")), None)
            assert url is None or "vendor=Acme" in url
        assert len(seen) == len(set(seen)) == 2 * len(RULE_SETS)
        assert "page 2 of 2" in visit(browser, "/scans?vendor=Acme&per_page=5&page=2").text


def test_a_missing_scan_or_finding_is_a_page_saying_so(server: Server) -> None:
    with httpx.Client(base_url=server.base) as browser:
        # ids past what the database holds (2**63 - 1) name no row either: not a server error
        huge = "9" * 20
        for url in ("/scans/999999", "/findings/999999", f"/scans/{huge}", f"/findings/{huge}",
                    f"/diff?old={huge}&new=1", "/scans/0"):
            response = browser.get(url)
            assert response.status_code == 404 and "text/html" in response.headers["content-type"], url
            assert "no " in Page(response.text).text
        far = browser.get(f"/scans?page={huge}")             # a page past the last: an empty one
        assert far.status_code == 200 and "text/html" in far.headers["content-type"]


def test_a_scan_links_to_its_products_timeline(server: Server) -> None:
    with httpx.Client(base_url=server.base, follow_redirects=True) as browser:
        listed = visit(browser, "/scans?q=clean-router&per_page=1")
        scan = visit(browser, listed.hrefs(r"^/scans/\d+$")[0])
        link = next(h for h, text in scan.links if text == "its product's timeline")
        assert link == "/timeline?vendor=Acme&product=R1"
        response = browser.get(link)
        page = Page(response.text)
        assert "Acme R1 2 releases" in page.text
        # 1.0 (2023-01-10) before 1.1 (2023-06-01), each linked to its newest scan
        releases = re.findall(r"<tr>\s*<td>(\d{4}-\d\d-\d\d)</td><td>([^<]*)</td>", response.text)
        assert releases == [("2023-01-10", "1.0"), ("2023-06-01", "1.1")]
        assert [t for _, t in page.links if t.endswith(".bin")] == ["demo-router.bin", "clean-router.bin"]
        # the chart: one stacked bar per severity present, a title per bar
        assert response.text.count('<svg class="timeline"') == 1
        assert len(re.findall(r'<rect class="bar critical"', response.text)) == 1    # none in the clean one
        assert "1.0: 5 critical" in response.text
        # the diff with the release before, and the form that compares any two
        diff_link = next(h for h, text in page.links if text == "diff with the release before")
        diff = visit(browser, diff_link)
        assert "firmproof diff: demo-router.bin → clean-router.bin" in diff.text
        assert re.search(r"\d+ appeared, \d+ vanished, \d+ changed", diff.text)
        assert "vanished critical FP-SVC-001" in diff.text
        scans = re.findall(r'<option value="(\d+)"', response.text)
        assert f"/diff?old={scans[0]}&new={scans[-1]}" == diff_link.replace("&amp;", "&")
        assert browser.get("/diff?old=999999&new=1").status_code == 404
        assert browser.get("/timeline?vendor=Acme").status_code == 404
        assert "No image of this product" in visit(browser, "/timeline?vendor=Acme&product=Z9").text
