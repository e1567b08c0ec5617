"""Failed logins slow the one who fails: per account name and per client address, on a server
of its own (the shared test servers must not be throttled by this test's failures)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from firmproof.web.throttle import (
    ACCOUNT_LIMIT,
    ADDRESS_LIMIT,
    BASE_DELAY,
    MAX_DELAY,
    WINDOW,
    LoginThrottle,
)
from tests.web.conftest import Accounts, Server, running


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_an_account_waits_after_its_limit_longer_each_time_and_the_window_forgets():
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    for _ in range(ACCOUNT_LIMIT - 1):
        throttle.failed("bob", "192.0.2.1")
    assert throttle.wait("bob", "192.0.2.1") == 0                  # one failure left
    throttle.failed("bob", "192.0.2.1")
    assert throttle.wait("bob", "192.0.2.9") == BASE_DELAY          # the account, from anywhere
    assert throttle.wait("alice", "192.0.2.1") == 0                 # the address is under its limit
    clock.now += BASE_DELAY
    assert throttle.wait("bob", "192.0.2.1") == 0
    throttle.failed("bob", "192.0.2.1")                             # failing again doubles the wait
    assert throttle.wait("bob", "192.0.2.1") == 2 * BASE_DELAY
    for _ in range(20):
        throttle.failed("bob", "192.0.2.1")
    assert throttle.wait("bob", "192.0.2.1") <= MAX_DELAY
    clock.now += WINDOW                                             # failures older than the window
    assert throttle.wait("bob", "192.0.2.1") == 0


def test_an_address_trying_many_names_waits_and_a_success_clears_only_the_account():
    clock = Clock()
    throttle = LoginThrottle(clock=clock)
    for n in range(ADDRESS_LIMIT):
        throttle.failed(f"user{n}", "198.51.100.7")
    assert throttle.wait("alice", "198.51.100.7") == BASE_DELAY      # spraying: the address waits
    assert throttle.wait("alice", "198.51.100.8") == 0
    for _ in range(ACCOUNT_LIMIT):
        throttle.failed("carol", "203.0.113.1")
    throttle.succeeded("carol")
    assert throttle.wait("carol", "203.0.113.2") == 0


@pytest.fixture
def own_server(store_url: str, accounts: Accounts) -> Iterator[Server]:
    with running("--db", store_url, "--auth", str(accounts.path)) as server:
        yield server


def _login(browser: httpx.Client, name: str, password: str) -> httpx.Response:
    page = browser.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token is not None
    return browser.post("/login", data={"name": name, "password": password, "next": "/scans",
                                        "csrf": token.group(1)})


def test_the_login_page_refuses_an_account_after_its_failures_even_with_its_password(
        own_server: Server, accounts: Accounts) -> None:
    with httpx.Client(base_url=own_server.base) as bob, httpx.Client(base_url=own_server.base) as alice:
        for _ in range(ACCOUNT_LIMIT):
            assert _login(bob, "bob", "a guess").status_code == 401
        refused = _login(bob, "bob", accounts.passwords["bob"])
        assert refused.status_code == 429 and refused.headers["retry-after"] == str(int(BASE_DELAY))
        assert "Too many failed logins: try again in 30 s." in refused.text
        # another account from the same address (under the address's limit) logs in as before
        done = _login(alice, "alice", accounts.passwords["alice"])
        assert done.status_code == 303 and alice.get("/scans").status_code == 200
