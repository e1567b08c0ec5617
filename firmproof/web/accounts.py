"""`firmproof user` and `firmproof token`: who may use `firmproof serve`, kept in its
authentication file (`auth.py`). Each action returns the lines to print."""

from __future__ import annotations

from pathlib import Path

from firmproof.web.auth import AuthError, AuthFile, default_path, describe


def _file(path: Path | None) -> AuthFile:
    return AuthFile(path or default_path())


def add_user(path: Path | None, name: str, role: str, password: str) -> str:
    auth = _file(path)
    known = name in auth.users
    auth.add_user(name, role, password)
    auth.save()
    return f"{'changed' if known else 'added'} user {name} ({role}) in {auth.path}"


def add_token(path: Path | None, name: str, role: str) -> tuple[str, str]:
    """The token (printed once, on standard output) and what was done."""
    auth = _file(path)
    token = auth.add_token(name, role)
    auth.save()
    return token, f"token {name} ({role}) in {auth.path}: shown once, keep it"


def remove(path: Path | None, name: str, *, token: bool) -> str:
    auth = _file(path)
    auth.remove(name, token=token)
    auth.save()
    return f"removed {'token' if token else 'user'} {name} from {auth.path}"


def listing(path: Path | None) -> list[str]:
    auth = _file(path)
    return [f"{r['kind']:<6} {r['name']:<24} {r['role']}" for r in describe(auth)] or \
        [f"{auth.path}: no user, no token"]


__all__ = ["AuthError", "add_token", "add_user", "listing", "remove"]
