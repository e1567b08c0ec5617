"""Who is asking, for every request: nobody needs to say on loopback without authentication
configured (the person at the machine, admin); otherwise the API wants a bearer token
(401 without one) and the pages a session (a redirect to the login page), and every POST from
a page must carry its CSRF token (403). The login and logout pages live here too."""

from __future__ import annotations

import getpass
import secrets
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import APIRouter, Form, HTTPException, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse

from firmproof.web.auth import AuthFile, User, csrf_ok, csrf_token
from firmproof.web.rendering import render
from firmproof.web.throttle import LoginThrottle

SESSION_COOKIE = "firmproof_session"
CSRF_COOKIE = "firmproof_csrf"
PUBLIC = ("/static/", "/login", "/api/openapi.json")
STREAMED = ("/upload",)     # POSTs read as they arrive by their route, which checks the CSRF token

router = APIRouter(include_in_schema=False)


def local_user() -> User:
    try:
        name = getpass.getuser()
    except (KeyError, OSError):
        name = "local"
    return User(name, "admin")


def _auth(request: Request) -> AuthFile | None:
    auth: AuthFile | None = request.app.state.auth
    return auth


def _public(path: str) -> bool:
    return any(path == p.rstrip("/") or path.startswith(p) for p in PUBLIC)


async def middleware(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
    auth = _auth(request)
    if auth is not None:
        auth.refresh()
    secret: bytes = request.app.state.secret
    browser = request.cookies.get(CSRF_COOKIE)
    new_browser = None if browser else secrets.token_urlsafe(24)
    request.state.csrf = csrf_token(secret, browser or new_browser or "")
    path = request.url.path
    request.state.user = local_user() if auth is None else _who(request, auth)
    if request.state.user is None and not _public(path):
        if path.startswith("/api/"):
            return JSONResponse({"detail": "a bearer token is needed (Authorization: Bearer …)"},
                                status_code=401, headers={"WWW-Authenticate": "Bearer"})
        if request.method != "GET":
            return _refused(request, 401, "log in first")
        return RedirectResponse(f"/login?next={path}", status_code=303)
    if request.method == "POST" and not path.startswith("/api/") and path not in STREAMED:
        await request.body()              # read once, kept for the route's own form parsing
        form = await request.form()
        token = form.get("csrf")
        if not csrf_ok(secret, browser, token if isinstance(token, str) else None):
            return _refused(request, 403, "the form is stale or came from another site: reload the page")
    response = await call_next(request)
    if new_browser:
        response.set_cookie(CSRF_COOKIE, new_browser, httponly=True, samesite="lax",
                            secure=request.url.scheme == "https")
    return response


def _who(request: Request, auth: AuthFile) -> User | None:
    """The API's bearer token, the pages' session cookie."""
    if request.url.path.startswith("/api/"):
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        return auth.bearer(token.strip()) if scheme.lower() == "bearer" else None
    cookie = request.cookies.get(SESSION_COOKIE)
    return auth.session_user(cookie) if cookie else None


def _refused(request: Request, status: int, detail: str) -> Response:
    return render(request, "error.html", status_code=status, status=status, detail=detail)


def admin(request: Request) -> User:
    """The user, when an admin: writes (triage) need it."""
    user: User | None = request.state.user
    if user is None or not user.admin:
        raise HTTPException(403, "this needs the admin role")
    return user


def _next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/scans"


@router.get("/login")
def login_page(request: Request, next: str | None = None) -> Response:
    if _auth(request) is None:
        return RedirectResponse(_next(next), status_code=303)
    return render(request, "login.html", next=_next(next), problem=None)


@router.post("/login")
def login(request: Request, name: Annotated[str, Form()], password: Annotated[str, Form()],
          next: Annotated[str, Form()] = "/scans") -> Response:
    auth = _auth(request)
    if auth is None:
        return RedirectResponse(_next(next), status_code=303)
    throttle: LoginThrottle = request.app.state.throttle
    address = request.client.host if request.client else None
    wait = throttle.wait(name, address)
    if wait:
        refused = render(request, "login.html", status_code=429, next=_next(next),
                         problem=f"Too many failed logins: try again in {wait} s.")
        refused.headers["Retry-After"] = str(wait)
        return refused
    user = auth.login(name, password)
    if user is None:
        throttle.failed(name, address)
        return render(request, "login.html", status_code=401, next=_next(next),
                      problem="Wrong name or password.")
    throttle.succeeded(name)
    response = RedirectResponse(_next(next), status_code=303)
    response.set_cookie(SESSION_COOKIE, auth.session_cookie(user), httponly=True, samesite="lax",
                        secure=request.url.scheme == "https", max_age=None)
    return response


@router.post("/logout")
def logout() -> Response:
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE)
    return response
