"""Who may read and who may write: users with passwords for the pages, bearer tokens for the
API, each with a role (`read` or `admin`: writes such as triage need admin).

They live in one JSON file that `firmproof user` and `firmproof token` write (mode 0600), with
the secret that signs session cookies. Nothing in it is usable as given: passwords are kept as
scrypt hashes (hashlib.scrypt, memory-hard, from the standard library: no new compiled
dependency, and its cost parameters are stored with each hash so they can be raised), tokens as
their SHA-256 (a token is 256 random bits: a fast hash is enough). The server reads the file
again when it changes, so that a user added or removed counts at once.

Pages: a signed session cookie (HttpOnly, SameSite=Lax) naming the user, ending after
SESSION_SECONDS, and void when the user's password changes. Every form carries a CSRF token: the
HMAC of a random per-browser cookie, checked on every POST (the signed double-submit cookie).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

ROLES = ("read", "admin")
SESSION_SECONDS = 12 * 3600
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**15, 8, 1      # 32 MiB and ~0.25 s a hash on this 2-core machine
TOKEN_PREFIX = "fpt_"


class AuthError(Exception):
    """The authentication file cannot be read or written, or a request is malformed: one line."""


@dataclass(frozen=True)
class User:
    name: str
    role: str

    @property
    def admin(self) -> bool:
        return self.role == "admin"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=256 * n * r + 2**20, dklen=32)
    return f"scrypt${n}${r}${p}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        again = hashlib.scrypt(password.encode(), salt=_unb64(salt), n=int(n), r=int(r), p=int(p),
                               maxmem=256 * int(n) * int(r) + 2**20, dklen=32)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(again, _unb64(digest))


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class AuthFile:
    """The users, tokens and session secret, as stored in one JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.secret = secrets.token_bytes(32)
        self.users: dict[str, dict[str, str]] = {}     # name -> {role, password}
        self.tokens: dict[str, dict[str, str]] = {}    # name -> {role, sha256}
        self._stamp: tuple[int, int] | None = None
        if path.exists():
            self._read()

    def _read(self) -> None:
        try:
            stat = self.path.stat()
            data = json.loads(self.path.read_text())
            self.secret = bytes.fromhex(data["secret"])
            self.users = {str(k): dict(v) for k, v in data.get("users", {}).items()}
            self.tokens = {str(k): dict(v) for k, v in data.get("tokens", {}).items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise AuthError(f"{self.path}: not a firmproof authentication file ({exc})") from None
        self._stamp = (stat.st_mtime_ns, stat.st_size)

    def refresh(self) -> None:
        """Read the file again if it changed since it was read."""
        try:
            stat = self.path.stat()
        except OSError:
            return
        if (stat.st_mtime_ns, stat.st_size) != self._stamp:
            self._read()

    def save(self) -> None:
        """Write the file (mode 0600) in one step: a reader sees the old one or the new one."""
        data = {"secret": self.secret.hex(), "users": self.users, "tokens": self.tokens}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        part = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        fd = os.open(part, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            json.dump(data, out, indent=1, sort_keys=True)
            out.write("\n")
        part.replace(self.path)
        self._stamp = None

    @property
    def configured(self) -> bool:
        return bool(self.users or self.tokens)

    # ------------------------------------------------------------------ changes (the CLI)

    def add_user(self, name: str, role: str, password: str) -> None:
        _check(name, role)
        if len(password) < 8:
            raise AuthError("a password of at least 8 characters")
        self.users[name] = {"role": role, "password": hash_password(password)}

    def add_token(self, name: str, role: str) -> str:
        """A new token (shown once: only its hash is kept)."""
        _check(name, role)
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        self.tokens[name] = {"role": role, "sha256": token_digest(token)}
        return token

    def remove(self, name: str, *, token: bool) -> None:
        table = self.tokens if token else self.users
        if table.pop(name, None) is None:
            raise AuthError(f"no {'token' if token else 'user'} named {name!r} in {self.path}")

    # ------------------------------------------------------------------ checks (the server)

    def login(self, name: str, password: str) -> User | None:
        entry = self.users.get(name)
        if entry is None:
            check_password(password, _dummy())        # the same time whether the user exists or not
            return None
        return User(name, entry["role"]) if check_password(password, entry["password"]) else None

    def bearer(self, token: str) -> User | None:
        digest = token_digest(token)
        for name, entry in self.tokens.items():
            if hmac.compare_digest(digest, entry["sha256"]):
                return User(f"token:{name}", entry["role"])
        return None

    def _sign(self, text: str) -> str:
        return _b64(hmac.new(self.secret, text.encode(), hashlib.sha256).digest())

    def _password_tag(self, name: str) -> str:
        return self._sign("password:" + self.users[name]["password"])[:16]

    def session_cookie(self, user: User, now: float | None = None) -> str:
        expires = int((now or time.time()) + SESSION_SECONDS)
        payload = _b64(json.dumps([user.name, expires, self._password_tag(user.name)]).encode())
        return f"{payload}.{self._sign('session:' + payload)}"

    def session_user(self, cookie: str, now: float | None = None) -> User | None:
        payload, _, signature = cookie.partition(".")
        if not hmac.compare_digest(signature, self._sign("session:" + payload)):
            return None
        try:
            name, expires, tag = json.loads(_unb64(payload))
        except (ValueError, TypeError):
            return None
        entry = self.users.get(name)
        if entry is None or expires < (now or time.time()) or tag != self._password_tag(name):
            return None
        return User(name, entry["role"])



def csrf_token(secret: bytes, browser: str) -> str:
    """The token a form carries, for the browser holding the CSRF cookie `browser`."""
    return _b64(hmac.new(secret, f"csrf:{browser}".encode(), hashlib.sha256).digest())


def csrf_ok(secret: bytes, browser: str | None, token: str | None) -> bool:
    return bool(browser and token) and hmac.compare_digest(csrf_token(secret, browser or ""), token or "")


@cache
def _dummy() -> str:
    return hash_password("not a password")


def _check(name: str, role: str) -> None:
    if role not in ROLES:
        raise AuthError(f"{role}: a role is one of {', '.join(ROLES)}")
    if not name or not name.isprintable() or any(c.isspace() for c in name) or len(name) > 64:
        raise AuthError(f"{name!r}: a name of 1 to 64 printable characters without spaces")


def default_path() -> Path:
    """The authentication file when --auth is not given: users.json in firmproof's config folder."""
    from platformdirs import user_config_path

    return user_config_path("firmproof") / "users.json"


def describe(auth: AuthFile) -> list[dict[str, Any]]:
    """Users and tokens by name and role (no secret), for `firmproof user list`."""
    return ([{"kind": "user", "name": n, "role": e["role"]} for n, e in sorted(auth.users.items())]
            + [{"kind": "token", "name": n, "role": e["role"]} for n, e in sorted(auth.tokens.items())])
