"""The web interface over PostgreSQL answers as it does over SQLite: the same scans added in the
same order to a real PostgreSQL server (initdb in a temporary folder, loopback) and served by
`firmproof serve --db postgresql://…`; every API answer and page compared with the SQLite
server's, byte for byte but for the CSRF tokens each server signs with its own secret."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.servers import ServerError, postgres
from tests.web.conftest import Server, fill, running

CSRF = re.compile(r'name="csrf" value="[^"]*"')


@pytest.fixture(scope="module")
def pg_server(scanned: list[tuple[Any, Any]]) -> Iterator[Server]:
    try:
        with postgres() as database:
            with running("--db", fill(database.create_database("web"), scanned)) as server:
                yield server
    except ServerError as exc:
        pytest.fail(str(exc), pytrace=False)


def _paths(sqlite: httpx.Client) -> list[str]:
    """Every read the interface offers on this store: lists, each scan, its report, each finding
    of one scan, the timelines, the vendors, searches, and the pages."""
    scans = sqlite.get("/api/scans", params={"per_page": 200}).json()["items"]
    first = sqlite.get(f"/api/scans/{scans[0]['id']}").json()
    busybox = next(c for c in first["components"] if c["name"] == "busybox")
    paths = ["/api/images", "/api/scans?per_page=200", "/api/scans?severity=critical&vendor=Acme",
             "/api/scans?q=router&rule=FP-SVC-001", "/api/timeline?vendor=Acme&product=R1",
             "/api/vendors", "/api/vendors/Acme", "/api/vendors/Globex",
             f"/api/search?kind=component&q=busybox%20{busybox['version']}",
             "/api/search?kind=component&q=BusyBox",
             "/scans", "/scans?severity=high&per_page=5&page=2", "/timeline?vendor=Acme&product=R1",
             "/vendors", "/vendors/Acme", "/vendors/Acme.csv",
             f"/diff?old={scans[-1]['id']}&new={scans[0]['id']}"]
    for scan in scans:
        paths += [f"/api/scans/{scan['id']}", f"/scans/{scan['id']}"]
    paths.append(f"/api/scans/{first['id']}/report")
    for finding in first["findings_list"]:
        paths += [f"/api/findings/{finding['id']}", f"/findings/{finding['id']}"]
    return paths


def _timeless(answer: Any) -> Any:
    """An answer without the time it took (a search says how long it ran)."""
    return {k: v for k, v in answer.items() if k != "seconds"} if isinstance(answer, dict) else answer


def test_every_answer_over_postgresql_is_the_answer_over_sqlite(server: Server, pg_server: Server) -> None:
    with httpx.Client(base_url=server.base, timeout=60) as sqlite, \
            httpx.Client(base_url=pg_server.base, timeout=60) as pg:
        paths = _paths(sqlite)
        assert len(paths) > 40
        for path in paths:
            one, other = sqlite.get(path), pg.get(path)
            assert (one.status_code, other.status_code) == (200, 200), path
            if path.startswith("/api/"):
                pg_server.check(other)
                assert _timeless(other.json()) == _timeless(one.json()), path
            else:
                assert CSRF.sub("", other.text) == CSRF.sub("", one.text), path
