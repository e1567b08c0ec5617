"""Who may use `firmproof serve`: no login on loopback by default; with authentication
configured, tokens for the API and sessions for the pages, CSRF tokens on every form; and a
public address refused without authentication (tested without binding it)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import httpx

from tests.web.conftest import Accounts, Server, firmproof_cli


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page's form carries no CSRF token"
    return found.group(1)


def test_a_public_address_without_authentication_is_refused_before_binding(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "::", "192.0.2.1", "example.org"):
        refused = firmproof_cli("serve", "--host", host, "--port", "9", "--db", str(tmp_path / "s.sqlite"),
                                "--auth", str(tmp_path / "none.json"))
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    # no --auth and no default file (a fresh config folder): the same refusal, naming the way out
    env = {**os.environ, "XDG_CONFIG_HOME": str(tmp_path / "config")}
    refused = subprocess.run([sys.executable, "-m", "firmproof.cli", "serve", "--host", "0.0.0.0"],
                             capture_output=True, text=True, timeout=60, env=env, check=False)
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "no authentication is configured" in refused.stderr and "firmproof user add" in refused.stderr
    assert not (tmp_path / "s.sqlite").exists()


def test_the_api_wants_a_token(guarded: Server, accounts: Accounts) -> None:
    with httpx.Client(base_url=guarded.base) as api:
        bare = guarded.check(api.get("/api/scans"))
        assert bare.status_code == 401 and bare.headers["www-authenticate"] == "Bearer"
        wrong = guarded.check(api.get("/api/scans", headers={"Authorization": "Bearer fpt_nope"}))
        assert wrong.status_code == 401
        # a session cookie is for the pages, not the API
        assert guarded.check(api.get("/api/images", headers={"Authorization": "Basic Ym9iOmJvYg=="})) \
            .status_code == 401
        read = {"Authorization": f"Bearer {accounts.tokens['read']}"}
        assert guarded.check(api.get("/api/scans", headers=read)).json()["total"] > 0
        assert guarded.check(api.get("/api/images", headers=read)).status_code == 200
        assert api.get("/api/openapi.json").status_code == 200        # the document is public


def test_pages_want_a_login_and_forms_a_csrf_token(guarded: Server, accounts: Accounts) -> None:
    with httpx.Client(base_url=guarded.base) as browser:
        first = browser.get("/scans/1")
        assert first.status_code == 303 and first.headers["location"] == "/login?next=/scans/1"
        login = browser.get(first.headers["location"])
        assert login.status_code == 200 and "Log in" in login.text
        assert browser.get("/static/firmproof.css").status_code == 200
        token = _csrf(login.text)
        form = {"name": "bob", "password": "not it", "next": "/scans/1", "csrf": token}
        wrong = browser.post("/login", data=form)
        assert wrong.status_code == 401 and "Wrong name or password" in wrong.text
        assert browser.post("/login", data={**form, "password": accounts.passwords["bob"],
                                            "csrf": "forged"}).status_code == 403
        done = browser.post("/login", data={**form, "password": accounts.passwords["bob"]})
        assert done.status_code == 303 and done.headers["location"] == "/scans/1"
        page = browser.get("/scans/1")
        assert page.status_code == 200 and "bob (read)" in page.text
        # logging out is a POST with the page's token; another site's form has none
        assert browser.post("/logout", data={}).status_code == 403
        assert browser.get("/scans").status_code == 200
        out = browser.post("/logout", data={"csrf": _csrf(page.text)})
        assert out.status_code == 303
        assert browser.get("/scans").status_code == 303
    # a browser that never saw a page of this server (no CSRF cookie) cannot post a login
    with httpx.Client(base_url=guarded.base) as other:
        assert other.post("/login", data={"name": "bob", "password": accounts.passwords["bob"],
                                          "csrf": token}).status_code == 403


def test_a_changed_password_ends_the_sessions(accounts: Accounts, tmp_path: Path) -> None:
    from firmproof.web.auth import AuthFile

    auth = AuthFile(accounts.path)
    user = auth.login("alice", accounts.passwords["alice"])
    assert user is not None and user.admin and auth.login("alice", "wrong") is None
    cookie = auth.session_cookie(user)
    assert auth.session_user(cookie) == user
    assert auth.session_user(cookie.replace(".", ".x", 1)) is None             # a forged signature
    assert auth.session_user(cookie, now=10**10) is None                        # expired
    auth.add_user("alice", "admin", "a new long password")
    assert auth.session_user(cookie) is None
    assert "alice's long password" not in accounts.path.read_text()            # kept hashed
    assert accounts.tokens["read"] not in accounts.path.read_text()
    assert accounts.path.stat().st_mode & 0o077 == 0
