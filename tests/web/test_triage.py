"""Triage from the API and from the pages: only admins may mark; a mark holds for the finding in
every release of its product, and not in another vendor's image with the same bytes. Each test
marks a copy of the session's store, served on its own (`writable`)."""

from __future__ import annotations

import re

import httpx

from tests.web.conftest import RULE_SETS, Accounts, Server


def _telnet_findings(api: httpx.Client, server: Server, vendor: str, headers: dict[str, str]) -> list[dict]:
    page = server.check(api.get("/api/scans", params={"vendor": vendor}, headers=headers)).json()
    found = []
    for item in page["items"]:
        scan = server.check(api.get(f"/api/scans/{item['id']}", headers=headers)).json()
        found += [f for f in scan["findings_list"] if f["rule"] == "FP-SVC-001"]
    return found


def test_marks_from_the_api_need_the_admin_role_and_hold_across_the_product(
        writable: Server, accounts: Accounts) -> None:
    read = {"Authorization": f"Bearer {accounts.tokens['read']}"}
    admin = {"Authorization": f"Bearer {accounts.tokens['admin']}"}
    with httpx.Client(base_url=writable.base) as api:
        acme = _telnet_findings(api, writable, "Acme", read)
        globex = _telnet_findings(api, writable, "Globex", read)
        assert len(acme) == len(globex) == len(RULE_SETS) and acme[0]["key"] == globex[0]["key"]
        url = f"/api/findings/{acme[0]['id']}/triage"
        body = {"state": "false-positive", "comment": "debug build only"}
        assert writable.check(api.post(url, json=body)).status_code == 401
        refused = writable.check(api.post(url, json=body, headers=read))
        assert refused.status_code == 403 and "admin" in refused.json()["detail"]
        assert writable.check(api.post(url, json={"state": "dismissed"}, headers=admin)).status_code == 422
        missing = api.post("/api/findings/999999/triage", json=body, headers=admin)
        assert writable.check(missing).status_code == 404
        done = writable.check(api.post(url, json=body, headers=admin)).json()
        assert (done["state"], done["who"], done["scope"]) == ("false-positive", "token:admin-bot", "Acme R1")
        # every release (here: every scan) of Acme R1 with that finding, and no Globex image
        for finding in acme:
            assert writable.check(api.get(f"/api/findings/{finding['id']}", headers=read)).json()["triage"] \
                == "false-positive"
        for finding in globex:
            answer = writable.check(api.get(f"/api/findings/{finding['id']}", headers=read))
            assert answer.json()["triage"] is None

        def total(**params: str) -> int:
            return int(writable.check(api.get("/api/scans", params=params, headers=read)).json()["total"])

        assert total(triage="false-positive") == len(RULE_SETS)
        assert total(triage="false-positive", vendor="Globex") == 0
        assert total(triage="untriaged", vendor="Globex") == len(RULE_SETS)
        marks = writable.check(api.get(f"/api/findings/{acme[-1]['id']}", headers=read)).json()["marks"]
        assert [(m["state"], m["comment"]) for m in marks] == [("false-positive", "debug build only")]


def _login(browser: httpx.Client, name: str, password: str) -> None:
    page = browser.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    done = browser.post("/login", data={"name": name, "password": password, "csrf": token})
    assert done.status_code == 303, done.text


def test_an_admin_marks_from_the_scan_page_and_a_reader_cannot(writable: Server, accounts: Accounts) -> None:
    with httpx.Client(base_url=writable.base) as alice:
        _login(alice, "alice", accounts.passwords["alice"])
        listed = alice.get("/scans", params={"vendor": "Globex"}).text
        scan_url = re.search(r'href="(/scans/\d+)"', listed).group(1)
        scan = alice.get(scan_url).text
        row = re.search(r'<tr class="finding" id="f-(\d+)">((?:(?!</tr>).)*FP-SVC-001(?:(?!</tr>).)*)</tr>',
                        scan, re.S)
        assert row and 'action="/findings/' in row.group(2), "an admin sees the triage form on the scan page"
        finding_id = row.group(1)
        form = dict(re.findall(r'name="(csrf|back)" value="([^"]*)"', row.group(2)))
        marked = alice.post(f"/findings/{finding_id}/triage",
                            data={**form, "state": "confirmed", "comment": "reachable on WAN"})
        assert marked.status_code == 303 and marked.headers["location"] == f"{scan_url}#f-{finding_id}"
        again = alice.get(scan_url).text
        assert re.search(rf'id="f-{finding_id}">.*?class="triage-state">confirmed', again, re.S)
        page = alice.get(f"/findings/{finding_id}").text
        assert "reachable on WAN" in page and "alice" in page and "Globex G2" in page
        # another release of the product shows it; Acme's image with the same bytes does not
        assert "4 scans" in alice.get("/scans", params={"triage": "confirmed"}).text
        assert "0 scans" in alice.get("/scans", params={"triage": "confirmed", "vendor": "Acme"}).text
    with httpx.Client(base_url=writable.base) as bob:
        _login(bob, "bob", accounts.passwords["bob"])
        page = bob.get(f"/findings/{finding_id}").text
        assert "Mark</button>" not in page and "confirmed" in page
        token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
        refused = bob.post(f"/findings/{finding_id}/triage", data={"csrf": token, "state": "fixed"})
        assert refused.status_code == 403 and "admin" in refused.text
