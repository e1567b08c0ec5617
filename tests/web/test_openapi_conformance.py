"""Every API operation against the OpenAPI document the live server publishes, by schemathesis:
cases generated from the document (valid and invalid parameters), sent to `firmproof serve` on
127.0.0.1, each response checked (a documented status code, a body matching the documented
schema, the documented content type, no server error). The GET operations on the loopback
server (no authentication) and on the guarded one with a read token; the write (triage) with
an admin token on a copy of the store, so that its marks reach no other test; and the
refusals (no token, a read token on a write) against the same document.

Bounded and repeatable: a few examples per operation, no deadline, derandomized."""

from __future__ import annotations

from typing import Any

import httpx
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from tests.web.conftest import Accounts, Server

EXAMPLES = settings(max_examples=15, deadline=None, derandomize=True, database=None,
                    suppress_health_check=list(HealthCheck))


# which texts a search takes depends on its kind (a fingerprint, a hash, a pattern): no schema
# in the document can say so, and the 400 that refuses the rest is documented
EXCLUDED = {"/api/search": [positive_data_acceptance]}
# the writes checked here: triage (an upload writes to the server's data folder)
TRIAGE = ("/api/findings/{finding_id}/triage",)


def conformance(server: Server, method: str, headers: dict[str, str] | None = None,
                expect: tuple[int, ...] | None = None, paths: tuple[str, ...] | None = None) -> list[str]:
    """Every `method` operation of the document `server` publishes, with cases schemathesis
    generates from it, valid and invalid, each response through schemathesis' checks (and its
    status among `expect` when given): the operations checked (a failure raises, naming the case)."""
    schema = schemathesis.openapi.from_url(f"{server.base}/api/openapi.json")
    checked = []
    for found in schema.get_all_operations():
        operation = found.ok()
        if operation.method.upper() != method or (paths is not None and operation.path not in paths):
            continue
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            @EXAMPLES
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case: Any) -> None:
                response = case.call_and_validate(headers=headers,
                                                  excluded_checks=EXCLUDED.get(case.path, []))
                if expect is not None:
                    assert response.status_code in expect, (case.as_curl_command(), response.text)

            try:
                check()
            except Unsatisfiable:
                # an operation whose every parameter takes any text has no invalid case
                assert mode is GenerationMode.NEGATIVE, operation.path
                print(f"{method} {operation.path}: no invalid case can be made")
        checked.append(f"{method} {operation.path}")
    return checked


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_every_read_on_the_loopback_server(server: Server) -> None:
    checked = conformance(server, "GET")
    assert {"GET /api/images", "GET /api/scans/{scan_id}", "GET /api/search"} <= set(checked)


def test_every_read_with_a_read_token(guarded: Server, accounts: Accounts) -> None:
    assert len(conformance(guarded, "GET", _bearer(accounts.tokens["read"]))) >= 7


def test_every_write_with_an_admin_token_on_a_copy(writable: Server, accounts: Accounts) -> None:
    checked = conformance(writable, "POST", _bearer(accounts.tokens["admin"]), paths=TRIAGE)
    assert checked == ["POST /api/findings/{finding_id}/triage"]


def test_without_a_token_every_operation_is_a_documented_401(guarded: Server) -> None:
    for method in ("GET", "POST"):
        assert conformance(guarded, method, {}, expect=(401,))


def test_a_read_token_on_a_write_is_a_documented_403(writable: Server, accounts: Accounts) -> None:
    """(A body that is no mark is refused as such before the role is looked at: 400, 422.)"""
    assert conformance(writable, "POST", _bearer(accounts.tokens["read"]), expect=(403, 400, 422),
                       paths=TRIAGE)


def test_a_write_of_a_real_finding_and_its_refusals_as_documented(writable: Server,
                                                                  accounts: Accounts) -> None:
    """A mark on a finding that exists (generated ids rarely name one), then each refusal."""
    with httpx.Client(base_url=writable.base) as api:
        scan = api.get("/api/scans", params={"per_page": 1, "q": "demo-router"},
                       headers=_bearer(accounts.tokens["read"])).json()["items"][0]
        finding = api.get(f"/api/scans/{scan['id']}", headers=_bearer(accounts.tokens["read"])) \
            .json()["findings_list"][0]["id"]
        url = f"/api/findings/{finding}/triage"
        body = {"state": "confirmed", "comment": "schemathesis"}
        for headers, status in ((_bearer(accounts.tokens["admin"]), 200), ({}, 401),
                                (_bearer(accounts.tokens["read"]), 403), (_bearer("no such token"), 401)):
            assert writable.check(api.post(url, json=body, headers=headers)).status_code == status
        admin = _bearer(accounts.tokens["admin"])
        assert writable.check(api.post("/api/findings/999999/triage", json=body, headers=admin)) \
            .status_code == 404
        assert writable.check(api.post(url, json={"state": "fine"}, headers=admin)).status_code == 422
        broken = api.post(url, content=b"{", headers={**admin, "content-type": "application/json"})
        assert writable.check(broken).status_code == 422
