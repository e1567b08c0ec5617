"""FP-WEBCRED: accounts of the device's web interface with default, guessable or clear-text
passwords.

Routers and cameras protect their administration pages with the web server's own account
file rather than /etc/shadow: htpasswd and htdigest files (Apache, lighttpd, nginx,
mini_httpd), lighttpd's clear-text `plain` user file, and the `/prefix:user:password` lines
of BusyBox httpd.conf (firmproof.device.parsers.webusers says which files hold accounts), and the
files known by their name alone (`lighttpd.user` in clear text, Boa's `boa.passwd`). A hash is
checked against the same guesses as the system accounts (the empty password, the user name,
the vendor defaults of that user, derived guesses, every vendor default, the common
passwords), as many as the scheme's cost allows: crypt(3) strings with the system's
libcrypt (firmproof.device.crypt), Apache's `$apr1$` MD5 with passlib (libcrypt does not know it),
`{SHA}` and htdigest MD5 with hashlib. A clear-text password is reported only when it is
weak (on the same lists): a strong one, even stored in clear text, is not a weak password.

Evidence: the account's line in the file.
"""

from __future__ import annotations

import base64
import hashlib
import warnings
from collections.abc import Callable, Iterator
from functools import cache
from typing import Any

from firmproof.analyzers.base import Analyzer, rule
from firmproof.analyzers.common import FAST_SECONDS, Cracker, account_files, classify, weak_clear_text
from firmproof.device import crypt
from firmproof.device.parsers.webusers import (
    BUSYBOX,
    HTDIGEST,
    WebAccount,
    parse_accounts,
    parse_busybox_config,
)
from firmproof.fs.rootfs import RootFS
from firmproof.model import Category, Finding, Severity

_CWE = "https://cwe.mitre.org/data/definitions/{}.html"
_HTPASSWD_DOC = "https://httpd.apache.org/docs/2.4/misc/password_encryptions.html"
_LIGHTTPD_DOC = "https://redmine.lighttpd.net/projects/lighttpd/wiki/Mod_auth"
_BUSYBOX_DOC = "https://git.busybox.net/busybox/tree/networking/httpd.c"
APR1_SECONDS = 1 / 700              # passlib's MD5 of `$apr1$`, pure Python on the reference machine
NO_PASSWORD = "web interface account without a password"
DEFAULT_WEB_PASSWORD = rule(
    "FP-WEBCRED-001", Category.WEAK_PASSWORD, Severity.CRITICAL,
    title="web interface account with a vendor default or no password",
    why="""An account of the device's web server (htpasswd, htdigest, lighttpd user file or
        BusyBox httpd.conf) has a published vendor default password (`details.source`) or an
        empty one: every device running this firmware lets anyone who knows the list into its
        administration pages, the first thing scanners such as Mirai's successors try.""",
    confirm="""Recompute the quoted line's hash with `details.password`: `openssl passwd -apr1
        -salt <salt> <password>` for `$apr1$`, `htpasswd -vb <file> <user> <password>` for
        any htpasswd line, `echo -n 'user:realm:password' | md5sum` for htdigest; clear text
        reads as is. On a device: log in to the web interface as `details.user`.""",
    references=[_HTPASSWD_DOC, _LIGHTTPD_DOC, _CWE.format(1392), _CWE.format(798)],
)
COMMON_WEB_PASSWORD = rule(
    "FP-WEBCRED-002", Category.WEAK_PASSWORD, Severity.HIGH,
    title="web interface account password falls to a small wordlist",
    why="""The web account's password is a very common password or a guess made from the user
        name (`details.source`): a dictionary attack on the login page finds it in seconds.""",
    confirm="""Recompute the quoted hash with `details.password` as for FP-WEBCRED-001.""",
    references=[_HTPASSWD_DOC, _CWE.format(521)],
)
PLAINTEXT_WEB_PASSWORD = rule(
    "FP-WEBCRED-003", Category.WEAK_PASSWORD, Severity.HIGH,
    title="weak web interface password stored in clear text",
    why="""The web server reads this account's password in clear text (lighttpd's `plain`
        backend, a BusyBox httpd.conf line without `$1$`) and the password is a published
        vendor default (critical), a very common password or a guess from the user name
        (`details.source`): anyone holding the image, or any list, has the password of every
        device. A strong clear-text password is not reported: it is not weak, and
        `credential.weak-password` is about passwords that are.""",
    confirm="""Read the quoted line: `user:password` (BusyBox: `/prefix:user:password`); for
        lighttpd, the configuration's `auth.backend = "plain"` names the file.""",
    references=[_LIGHTTPD_DOC, _BUSYBOX_DOC, _CWE.format(256), _CWE.format(798)],
)


@cache
def _apr1() -> Any:
    with warnings.catch_warnings():     # passlib imports the `crypt` module, deprecated in 3.11
        warnings.simplefilter("ignore", DeprecationWarning)
        from passlib.hash import apr_md5_crypt
    return apr_md5_crypt


def _checker(account: WebAccount) -> tuple[Callable[[str], bool], float] | None:
    """How to test a guess against the account's hash, and what one test costs (seconds)."""
    secret, user = account.secret, account.user
    if account.kind == HTDIGEST:
        prefix = f"{user}:{account.realm}:"
        return (lambda pw: hashlib.md5((prefix + pw).encode("latin-1", "replace"),
                                       usedforsecurity=False).hexdigest() == secret), FAST_SECONDS
    if secret.startswith("{SHA}"):
        digest = secret[5:]
        return (lambda pw: base64.b64encode(hashlib.sha1(pw.encode("latin-1", "replace"),
                                                         usedforsecurity=False).digest()).decode() == digest,
                FAST_SECONDS)
    if secret.startswith("$apr1$"):
        apr1 = _apr1()
        if not apr1.identify(secret) or secret.count("$") != 3 or len(secret.rsplit("$", 1)[1]) != 22:
            return None         # a damaged hash (passlib would raise on every guess)
        return (lambda pw: bool(apr1.verify(pw, secret))), APR1_SECONDS
    scheme = crypt.scheme_of(secret)
    if scheme is None:
        return None
    return (lambda pw: crypt.check(pw, secret)), scheme.seconds


class WebCredentials(Analyzer):
    family = "WEBCRED"
    name = "webcred"
    rules = (DEFAULT_WEB_PASSWORD, COMMON_WEB_PASSWORD, PLAINTEXT_WEB_PASSWORD)

    def run(self, fs: RootFS) -> Iterator[Finding]:
        cracker = Cracker()
        seen: dict[tuple[str, str, str], Finding] = {}
        for path, kind in account_files(fs):
            text = fs.text(path) or ""
            accounts = parse_busybox_config(text) if kind == BUSYBOX else parse_accounts(text, kind)
            for account in accounts:
                key = (account.kind, account.user, account.secret)
                if key in seen:
                    seen[key].details.setdefault("copies", []).append(path)
                    continue
                finding = self._account(fs, path, account, cracker)
                if finding is not None:
                    seen[key] = finding
        yield from seen.values()

    def _account(self, fs: RootFS, path: str, account: WebAccount, cracker: Cracker) -> Finding | None:
        span = (account.start, account.end - account.start)
        where: dict[str, Any] = {"user": account.user, "format": account.kind}
        if account.prefix is not None:
            where["protects"] = account.prefix
        if account.realm is not None:
            where["realm"] = account.realm
        if not account.hashed:
            if account.secret == "":
                return DEFAULT_WEB_PASSWORD.at(fs, path, *span, title=NO_PASSWORD, password="",
                                               source="empty password", **where)
            weak = weak_clear_text(account.user, account.secret)
            if weak is None:
                return None     # a strong password, even in clear text, is not weak (module doc)
            severity = Severity.CRITICAL if weak[0] == "default" else Severity.HIGH
            return PLAINTEXT_WEB_PASSWORD.at(fs, path, *span, severity=severity, password=account.secret,
                                             source=weak[1], **where)
        checker = _checker(account)
        if checker is None:
            return None
        found = cracker.guess(account.user, f"{account.kind}:{account.realm}:{account.secret}", *checker)
        if found is None:
            return None
        kind, source = classify(account.user, found)
        scheme = "htdigest-md5" if account.kind == HTDIGEST else (
            "apr1" if account.secret.startswith("$apr1$") else
            "sha1" if account.secret.startswith("{SHA}") else
            getattr(crypt.scheme_of(account.secret), "name", None))
        if kind == "common":
            return COMMON_WEB_PASSWORD.at(fs, path, *span, password=found, source=source, scheme=scheme,
                                          **where)
        title = NO_PASSWORD if kind == "empty" else None
        return DEFAULT_WEB_PASSWORD.at(fs, path, *span, title=title, password=found,
                                       source=source or "empty password", scheme=scheme, **where)
