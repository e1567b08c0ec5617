"""Web server account files: who may log in to the device's web interface, and with what.

Formats, one account per line:

- htpasswd (Apache `htpasswd`, lighttpd's `htpasswd` backend, nginx `auth_basic_user_file`,
  mini_httpd/thttpd `.htpasswd`): `user:hash`, the hash a crypt(3) string (DES, `$1$`,
  `$5$`, `$6$`, bcrypt `$2y$`), Apache's MD5 variant `$apr1$` or `{SHA}` + base64(SHA-1);
- htdigest (Apache `htdigest`, lighttpd's `htdigest` backend): `user:realm:md5hex`, the MD5 of
  `user:realm:password`;
- plain (lighttpd's `plain` backend): `user:password` in clear text;
- BusyBox httpd.conf: `/url-prefix:user:password` protects the prefix, the password in clear
  text or, with `FEATURE_HTTPD_AUTH_MD5`, an MD5-crypt `$1$` string (`httpd -m` makes one).

Which files hold accounts comes from their names (`.htpasswd`, `*.htdigest`, BusyBox
`httpd.conf`) and from the web servers' configurations that name them (lighttpd
`auth.backend.<kind>.userfile`, Apache `AuthUserFile`, nginx `auth_basic_user_file`); only the
lighttpd `plain` backend says that a `user:password` file is clear text.

Spans are offsets in the text, which callers decode as latin-1 so that they are byte offsets.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

HTPASSWD, HTDIGEST, PLAIN, BUSYBOX = "htpasswd", "htdigest", "plain", "busybox"
KINDS = (HTPASSWD, HTDIGEST, PLAIN, BUSYBOX)

_USER = r"[^\s:#][^\s:]{0,63}"
_HTPASSWD_LINE = re.compile(rf"^({_USER}):(\S{{1,200}})$")
_HTDIGEST_LINE = re.compile(rf"^({_USER}):([^:\n]{{0,128}}):([0-9a-fA-F]{{32}})$")
_BUSYBOX_LINE = re.compile(rf"^(/[^:\s]*):({_USER}):(\S{{0,200}})$")
_HASH = re.compile(r"^(?:\$(?:1|5|6|2[abxy]?|apr1|y|7|md5|sha1)\$\S+|\{SHA\}[A-Za-z0-9+/]{27}="
                   r"|[./0-9A-Za-z]{13}|_[./0-9A-Za-z]{19})$")

# configuration directives that name an account file, and the kind of file they name
_LIGHTTPD = re.compile(r'^\s*auth\.backend\.(plain|htpasswd|htdigest)\.userfile\s*=\s*"([^"\n]+)"', re.M)
_APACHE = re.compile(r'^\s*Auth(?:User|Digest)File\s+"?([^"\s]+)"?', re.M | re.I)
_NGINX = re.compile(r"^\s*auth_basic_user_file\s+\"?([^\";\s]+)\"?\s*;", re.M)
_NAMES = {".htpasswd": HTPASSWD, "htpasswd": HTPASSWD, ".htdigest": HTDIGEST, "htdigest": HTDIGEST}
_SUFFIXES = {".htpasswd": HTPASSWD, ".htdigest": HTDIGEST}
BUSYBOX_CONFIG_NAMES = frozenset({"httpd.conf", "httpd.conf.default", "httpd_default.conf"})


@dataclass(frozen=True)
class WebAccount:
    user: str
    secret: str             # as stored: a hash, an htdigest MD5, or the password itself
    kind: str               # HTPASSWD, HTDIGEST, PLAIN or BUSYBOX
    start: int              # the line's span in the text
    end: int
    realm: str | None = None        # htdigest
    prefix: str | None = None       # BusyBox: the URL prefix the account protects

    @property
    def hashed(self) -> bool:
        """Whether the secret is a hash (else the password in clear text)."""
        return self.kind == HTDIGEST or (self.kind != PLAIN and bool(_HASH.match(self.secret)))


def kind_of_name(name: str) -> str | None:
    """The account-file kind a file name implies, if any (BusyBox configs are checked apart)."""
    lower = name.lower()
    if lower in _NAMES:
        return _NAMES[lower]
    return next((kind for suffix, kind in _SUFFIXES.items() if lower.endswith(suffix)), None)


def referenced_files(config: str) -> list[tuple[str, str | None]]:
    """(path, kind) of the account files a web server configuration names; kind None when the
    directive does not say (Apache's AuthUserFile serves Basic and Digest alike)."""
    out: list[tuple[str, str | None]] = [(m.group(2), m.group(1)) for m in _LIGHTTPD.finditer(config)]
    out += [(m.group(1), None) for m in _APACHE.finditer(config)]
    out += [(m.group(1), HTPASSWD) for m in _NGINX.finditer(config)]
    return out


def _lines(text: str) -> list[tuple[int, int, str]]:
    out, pos = [], 0
    for raw in text.splitlines(keepends=True):
        line = raw.rstrip("\r\n")
        out.append((pos, pos + len(line), line))
        pos += len(raw)
    return out


def parse_accounts(text: str, kind: str | None) -> list[WebAccount]:
    """The accounts of an account file of `kind` (None: htpasswd or htdigest, line by line)."""
    accounts = []
    for start, end, line in _lines(text):
        if not line or line.lstrip().startswith("#"):
            continue
        if kind in (None, HTDIGEST) and (m := _HTDIGEST_LINE.match(line)):
            accounts.append(WebAccount(m.group(1), m.group(3).lower(), HTDIGEST, start, end,
                                       realm=m.group(2)))
        elif kind in (None, HTPASSWD) and (m := _HTPASSWD_LINE.match(line)) and _HASH.match(m.group(2)):
            accounts.append(WebAccount(m.group(1), m.group(2), HTPASSWD, start, end))
        elif kind == PLAIN and (m := re.match(rf"^({_USER}):(.*)$", line)):
            accounts.append(WebAccount(m.group(1), m.group(2), PLAIN, start, end))
    return accounts


def parse_busybox_config(text: str) -> list[WebAccount]:
    """The `/prefix:user:password` lines of a BusyBox httpd.conf (other lines are not accounts:
    `A:`/`D:` address rules, `E404:`, `I:`, `H:`, `P:` proxies, `.ext:mime` types)."""
    accounts = []
    for start, _end, line in _lines(text):
        if (m := _BUSYBOX_LINE.match(line.strip())) is not None:
            offset = line.index(m.group(0))
            accounts.append(WebAccount(m.group(2), m.group(3), BUSYBOX, start + offset,
                                       start + offset + len(m.group(0)), prefix=m.group(1)))
    return accounts
