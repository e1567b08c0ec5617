"""FP-WEBCRED-001…003: web interface accounts (firmproof/analyzers/webcred.py). htpasswd lines
come from Apache's htpasswd; the configurations that name user files are lighttpd's own."""

from __future__ import annotations

from collections.abc import Callable

from .case import Files, Kit, hit, miss

STRONG = "q7-Vend0r-Unique!x"
LIGHTTPD_PLAIN = 'auth.backend = "plain"\nauth.backend.plain.userfile = "/etc/lighttpd.user"\n'


def htpasswd(option: str, user: str, password: str) -> Callable[[Kit], Files]:
    return lambda kit: {"/www/.htpasswd": kit.run("htpasswd", f"-nb{option}", user, password).strip() + "\n"}


def first_line(data: bytes) -> bytes:
    return data.split(b"\n")[0]


CASES = [
    hit("FP-WEBCRED-001", "htpasswd-apr1-vendor-default", htpasswd("m", "admin", "admin"), "/www/.htpasswd",
        first_line, details={"user": "admin", "password": "admin", "scheme": "apr1"}),
    miss("FP-WEBCRED-001", "htpasswd-apr1-strong", htpasswd("m", "admin", STRONG)),

    hit("FP-WEBCRED-002", "htpasswd-sha1-common-password", htpasswd("s", "guest", "12345678"),
        "/www/.htpasswd", first_line, details={"user": "guest", "scheme": "sha1"}),
    miss("FP-WEBCRED-002", "htpasswd-sha1-strong", htpasswd("s", "guest", STRONG)),

    hit("FP-WEBCRED-003", "lighttpd-plain-user-file",
        {"/etc/lighttpd.conf": LIGHTTPD_PLAIN, "/etc/lighttpd.user": f"operator:{STRONG}\nops:qwerty\n"},
        "/etc/lighttpd.user", b"ops:qwerty", details={"user": "ops", "source": "common-password list"}),
    miss("FP-WEBCRED-003", "user-file-no-server-names",
         {"/etc/lighttpd.conf": LIGHTTPD_PLAIN, "/etc/app/users.txt": "ops:qwerty\n"}),
]
