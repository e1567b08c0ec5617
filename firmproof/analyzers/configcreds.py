"""FP-CRED-007..009: login passwords that ship in configuration files rather than in the
account databases: NVRAM default files (`/etc/nvram.default`, `/etc_ro/default.cfg`,
`/etc/config/*.nvram`, `/usr/etc/default`: `http_passwd=admin`), INI files (`[admin]` /
`password=admin`), ONT/CPE XML configuration databases (`<X_HW_WebUserInfoInstance
UserName="telecomadmin" Password="admintelecom"/>`, `<User><Name>root</Name><Password>…`,
TR-069 `<ConnectionRequestPassword>`), JSON account lists (`{"name": "admin", "password":
"admin"}`) and camera user files holding hex digests of the password.

What is a login password: a key (an NVRAM name, an INI key, an XML attribute or element, a
JSON member) whose last word is `password`, `passwd`, `pass`, `pwd`, `pw`, `pswd` (so
`password_min_length`, `passthrough`, `pass_retry` are not), and that names no Wi-Fi, PPP, VPN,
mail or other service secret (`wl0_wpa_psk`, `pppoe_passwd`, `smtp_pass`: they let no one into
the device). Its user is the key beside it with the same prefix and a user word
(`http_username` for `http_passwd`, `<Name>` for `<Password>` in the same parent element,
`UserName=` in the same XML tag, `"name"` in the same JSON object), else the INI section
(`[admin]`).

What is weak, as the contract says: a value that is a published vendor default, a word of
the small common-password list, or a guess made from the user name; a crypt(3) hash or a hex
digest (MD5, SHA-1, SHA-256, SHA-512) of one, cracked with the same guesses and budget as the
account databases (firmproof.analyzers.common.Cracker). What is not reported:

- a strong value: a unique, hard-coded strong password is a secret the image leaks, not a
  weak password (no contract category covers a config literal that nothing compares);
- an empty value: in a configuration it means "not set" (the account is disabled or the web
  page asks for a password at first login), unlike an empty /etc/shadow field that logs in;
- templates and variables (`${ADMIN_PW}`, `$(X)`, `@X@`, `%s`, `{{x}}`), masks (`****`);
- comment lines, documentation (/usr/share/doc, man pages, README), code and scripts;
- values under /firmadyne/ (an emulation harness's NVRAM overrides, read by no device);
- files the account analyzers read already (passwd/shadow copies, web account files).

Evidence: the bytes of the value (the hash or the clear-text password) in the file.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from firmproof.analyzers.base import Analyzer, rule
from firmproof.analyzers.common import (
    FAST_SECONDS,
    Cracker,
    account_files,
    classify,
    is_account_database,
    weak_clear_text,
)
from firmproof.device import crypt
from firmproof.fs.filetype import DATA, TEXT
from firmproof.fs.rootfs import RootFS
from firmproof.model import Category, Finding, Severity

_CWE = "https://cwe.mitre.org/data/definitions/{}.html"
_NVRAM_DOC = "https://openwrt.org/docs/techref/nvram"
_TR069 = "https://www.broadband-forum.org/pdfs/tr-069-1-6-1.pdf"

CONFIG_DEFAULT_PASSWORD = rule(
    "FP-CRED-007", Category.WEAK_PASSWORD, Severity.CRITICAL,
    title="configuration ships a login password that is a known vendor default",
    why="""A configuration file of the image (NVRAM defaults, an INI, XML or JSON configuration
        database) sets the password of a login (web administration, telnet, the super-admin of
        an ONT, the TR-069 connection request) to a published vendor default
        (`details.source`). The device starts with it after every factory reset, and every
        device of the firmware shares it: it is what botnets and ISP-side scanners try first.""",
    confirm="""Read the quoted value in the file: `details.key` is the key that holds it,
        `details.user` the user of the same entry (a sibling key, the same XML element or JSON
        object, the INI section). On a device: reset to factory defaults and log in as
        `details.user` with `details.password`.""",
    references=[_NVRAM_DOC, _TR069, _CWE.format(1392), _CWE.format(798)],
)
CONFIG_COMMON_PASSWORD = rule(
    "FP-CRED-008", Category.WEAK_PASSWORD, Severity.HIGH,
    title="configuration ships a login password from a small wordlist",
    why="""A configuration file of the image sets the password of a login to a very common
        password or a guess made from the user name (`details.source`): a dictionary attack on
        the login finds it in seconds, on every device that keeps the factory setting.""",
    confirm="""Read the quoted value in the file (`details.key`, `details.user` as for
        FP-CRED-007) and look it up in firmproof's data/common-passwords.txt.""",
    references=[_NVRAM_DOC, _CWE.format(521), _CWE.format(1391)],
)
CONFIG_WEAK_HASH = rule(
    "FP-CRED-009", Category.WEAK_PASSWORD, Severity.HIGH,
    title="configuration ships the hash of a weak login password",
    why="""A configuration file of the image stores a login password as a hash (a crypt(3)
        string or a hex MD5/SHA-1/SHA-256/SHA-512 digest, as camera user files do) and the hash
        is that of a vendor default, a common password or the user name (`details.source`):
        hashing hides nothing when the password is on the lists attackers try. Critical when the
        password is a published vendor default.""",
    confirm="""Recompute the quoted hash with `details.password`: `openssl passwd -1 -salt <salt>
        <password>` (or Python's `crypt.crypt(password, hash)`) for crypt strings, `echo -n
        <password> | md5sum` (sha1sum, sha256sum, sha512sum) for hex digests
        (`details.scheme`).""",
    references=[_CWE.format(916), _CWE.format(1392), _CWE.format(521)],
)

MAX_FILE_BYTES = 1 << 20
PASSWORD_WORDS = frozenset({"password", "passwd", "pass", "pwd", "pw", "pswd", "psw", "passw",
                            "passwrd", "pword", "passwort", "pwd1"})
USER_WORDS = frozenset({"user", "username", "usr", "name", "login", "uname", "account", "loginname",
                        "userid", "acct"})
# words of a key that make its secret something other than a login to the device
NOT_LOGIN = frozenset({
    "wl", "wlan", "wifi", "wireless", "wpa", "wpa2", "wpa3", "psk", "wep", "wps", "ssid", "sae",
    "ppp", "pppoe", "pptp", "l2tp", "radius", "ddns", "dyndns", "smtp", "pop3", "imap", "mail",
    "email", "vpn", "ipsec", "openvpn", "sip", "voip", "isp", "dial", "pin", "puk", "snmp", "ntp",
    "proxy", "upnp", "samba", "smb", "nas", "cloud", "dns", "key", "hint", "old", "new", "confirm",
    "min", "max", "length", "len", "policy", "enable", "enabled", "expire", "retry", "mode",
    "type", "file", "path", "hash", "salt", "encrypt", "encrypted", "crypt", "mysql", "db",
    "database", "mqtt", "bt", "bluetooth", "ap", "sta", "client", "repeater", "mesh", "guest_wifi",
})
_CODE_SUFFIXES = (".c", ".h", ".cpp", ".py", ".pyc", ".js", ".ts", ".htm", ".html", ".asp", ".aspx",
                  ".jsp", ".php", ".cgi", ".so", ".ko", ".sh", ".lua", ".pl", ".pm", ".rb", ".mo",
                  ".po", ".pot", ".md", ".rst", ".gz", ".css", ".svg", ".pem", ".crt", ".key",
                  ".tmpl", ".template", ".example", ".sample", ".dist", ".in", ".m4", ".patch",
                  ".diff")
_DOC_DIRS = ("/usr/share/doc/", "/usr/share/man/", "/usr/share/info/", "/usr/include/",
             "/usr/share/locale/", "/usr/lib/python", "/usr/share/help/",
             # emulation harnesses left in rebuilt images (FirmAE/firmadyne's libnvram override
             # values): read by the emulator's libnvram only, never by the device
             "/firmadyne/")
_DOC_NAMES = re.compile(r"^(?:readme|changelog|changes|license|licence|copying|notice|authors|news"
                        r"|install|todo|faq)(?:[._-].*)?$", re.I)
_PRECHECK = re.compile(rb"pass|pwd|psw|\bpw\b", re.I)
_TOKEN = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|\d+")
_TEMPLATE = re.compile(r"^(?:\$\{?[A-Za-z_]\w*\}?|\$\(.*\)|@[\w.-]+@|%\w*%?|\{\{.*\}\}|<[^<>]*>"
                       r"|\[\[.*\]\]|\*+|x+|X+|\?+|none|null|nil|undefined|disabled?)$", re.I)
_HEX = re.compile(r"[0-9a-fA-F]+")
_DIGESTS = {32: "md5", 40: "sha1", 64: "sha256", 128: "sha512"}
# key=value lines (NVRAM defaults, INI, shell-less config): NUL ends a line too (NVRAM blobs)
_LINE = re.compile(r"[^\n\r\x00]+")
_KEY_VALUE = re.compile(r"^[ \t]*(?:export[ \t]+)?([A-Za-z_][\w.\-\[\]/]{0,80}?)[ \t]*=[ \t]*(.*?)[ \t]*$")
_SECTION = re.compile(r"^[ \t]*\[([^\[\]\n]{1,64})\][ \t]*$")
_COMMENT = ("#", ";", "//", "!", "--", "rem ")
# XML
_TAG = re.compile(r"<(/?)([A-Za-z_][\w.:-]*)((?:\s+[^<>]*?)?)(/?)>")
_ATTR = re.compile(r"([A-Za-z_][\w.:-]*)\s*=\s*(?:\"([^\"<>]*)\"|'([^'<>]*)')")
# JSON: braces and "key": "value" members (string values only)
_JSON = re.compile(r'(?P<open>[{\[])|(?P<close>[}\]])'
                   r'|"(?P<k>(?:[^"\\\n]|\\.){1,80})"\s*:\s*"(?P<v>(?:[^"\\\n]|\\.){0,200})"'
                   r'|"(?:[^"\\\n]|\\.)*"')


@dataclass(frozen=True)
class Entry:
    """One key and its value in a configuration, with where the value's bytes are."""

    key: str
    value: str
    start: int              # the value's span in the text (latin-1: bytes)
    end: int
    scope: Any              # entries of one scope (section, XML parent or tag, JSON object) pair up
    section: str | None = None


def words(key: str) -> list[str]:
    """The lower-case words of a key: `http_passwd` -> [http, passwd], `X_HW_ACSPassword` ->
    [x, hw, acs, password], `wl0_wpa_psk` -> [wl, wpa, psk] (digits dropped)."""
    out = []
    for part in re.split(r"[^A-Za-z0-9]+", key.rsplit(":", 1)[-1]):
        out += [t.lower() for t in _TOKEN.findall(part) if not t.isdigit()]
    return out


def is_password_key(key: str) -> bool:
    tokens = words(key)
    return bool(tokens) and tokens[-1] in PASSWORD_WORDS and not NOT_LOGIN.intersection(tokens)


def _prefix(tokens: list[str], strip: frozenset[str]) -> tuple[str, ...]:
    end = len(tokens)
    while end and tokens[end - 1] in strip:
        end -= 1
    return tuple(tokens[:end])


def is_user_key(key: str) -> bool:
    tokens = words(key)
    return bool(tokens) and tokens[-1] in USER_WORDS and not NOT_LOGIN.intersection(tokens)


def user_of(entry: Entry, entries: list[Entry]) -> str | None:
    """The user of a password entry: the nearest user key of its scope with the same prefix,
    else the INI section's name when the password key has no prefix."""
    prefix = _prefix(words(entry.key), PASSWORD_WORDS)
    users = [e for e in entries if e.scope == entry.scope and e is not entry and is_user_key(e.key)
             and e.value and not _TEMPLATE.match(e.value)
             and prefix in (tuple(words(e.key)[:-1]), _prefix(words(e.key), USER_WORDS))]
    if users:
        return min(users, key=lambda e: abs(e.start - entry.start)).value
    if not prefix and entry.section:
        return entry.section
    return None


# -- readers -------------------------------------------------------------------------------


def key_values(text: str) -> list[Entry]:
    """key=value lines (values unquoted), INI sections as scopes; comment lines skipped."""
    out: list[Entry] = []
    section: str | None = None
    for line in _LINE.finditer(text):
        raw = line.group(0)
        stripped = raw.lstrip()
        if stripped.lower().startswith(_COMMENT):
            continue
        if (s := _SECTION.match(raw)) is not None:
            section = s.group(1).strip()
            continue
        m = _KEY_VALUE.match(raw)
        if m is None:
            continue
        value, start = m.group(2), line.start() + m.start(2)
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value, start = value[1:-1], start + 1
        out.append(Entry(m.group(1), value, start, start + len(value), section, section))
    return out


def xml_entries(text: str) -> list[Entry]:
    """Attributes (scope: their tag) and leaf elements `<K>v</K>` (scope: their parent)."""
    out: list[Entry] = []
    stack: list[tuple[str, int]] = []       # open elements: (name, id)
    pending: tuple[str, int, int] | None = None   # the last opening tag: (name, end, parent id)
    for n, m in enumerate(_TAG.finditer(text)):
        closing, name, attrs, empty = m.group(1), m.group(2), m.group(3), m.group(4)
        if closing:
            if pending is not None and pending[0] == name:
                value = text[pending[1]:m.start()]
                if "<" not in value and "\n" not in value.strip("\r\n\t "):
                    lead = len(value) - len(value.lstrip())
                    clean = value.strip()
                    out.append(Entry(name, clean, pending[1] + lead, pending[1] + lead + len(clean),
                                     ("xml", pending[2])))
            pending = None
            while stack:
                top = stack.pop()
                if top[0] == name:
                    break
            continue
        if name.startswith(("?", "!")):
            continue
        for a in _ATTR.finditer(attrs):
            group = 2 if a.group(2) is not None else 3
            start = m.start(3) + a.start(group)
            out.append(Entry(a.group(1), a.group(group), start, start + len(a.group(group)), ("tag", n)))
        if empty:
            pending = None
            continue
        parent = stack[-1][1] if stack else -1
        stack.append((name, n))
        pending = (name, m.end(), parent)
    return out


def json_entries(text: str) -> list[Entry]:
    """String members of JSON objects; scope: the innermost object."""
    out: list[Entry] = []
    stack: list[int] = []
    for n, m in enumerate(_JSON.finditer(text)):
        if m.group("open"):
            stack.append(n)
        elif m.group("close"):
            if stack:
                stack.pop()
        elif m.group("k") is not None:
            value = m.group("v")
            if "\\" in value:
                continue        # escaped text: its bytes are not the password's
            scope = ("json", stack[-1] if stack else -1)
            out.append(Entry(m.group("k"), value, m.start("v"), m.end("v"), scope))
    return out


def entries_of(text: str) -> list[Entry]:
    head = text.lstrip("\ufeff \t\r\n")[:1]
    if head == "<":
        return xml_entries(text)
    if head in "{[" and head and not _SECTION.match(text.lstrip().split("\n", 1)[0]):
        return json_entries(text)
    return key_values(text)


# -- what is weak --------------------------------------------------------------------------


def _digest_checker(value: str) -> tuple[Callable[[str], bool], str] | None:
    name = _DIGESTS.get(len(value))
    if name is None or not _HEX.fullmatch(value):
        return None
    want = value.lower()

    def check(pw: str) -> bool:
        return hashlib.new(name, pw.encode("utf-8", "surrogateescape")).hexdigest() == want
    return check, name


def candidate_files(fs: RootFS) -> list[str]:
    """Configuration files worth reading: text or data, not code, documentation or the files
    the account and web account analyzers read."""
    taken = {path for path, _ in account_files(fs)}
    out = []
    for entry in fs.files(TEXT, DATA):
        lower = entry.name.lower()
        if entry.size > MAX_FILE_BYTES or entry.path in taken or lower.endswith(_CODE_SUFFIXES):
            continue
        if entry.path.startswith(_DOC_DIRS) or _DOC_NAMES.match(entry.name):
            continue
        if is_account_database(entry):
            continue
        out.append(entry.path)
    return out


class ConfigCredentials(Analyzer):
    family = "CRED"
    name = "configcreds"
    rules = (CONFIG_DEFAULT_PASSWORD, CONFIG_COMMON_PASSWORD, CONFIG_WEAK_HASH)

    def run(self, fs: RootFS) -> Iterator[Finding]:
        cracker = Cracker()
        for path in candidate_files(fs):
            data = fs.read(path)
            if not data or not _PRECHECK.search(data):
                continue
            text = data.decode("latin-1")
            entries = entries_of(text)
            for entry in entries:
                if not is_password_key(entry.key):
                    continue
                finding = self._entry(fs, path, entry, entries, cracker)
                if finding is not None:
                    yield finding
        if cracker.unchecked:
            raise crypt.CryptUnavailable(f"{cracker.unchecked} password hashes not checked: "
                                         "libcrypt is missing")

    @staticmethod
    def _entry(fs: RootFS, path: str, entry: Entry, entries: list[Entry],
               cracker: Cracker) -> Finding | None:
        value = entry.value
        if not value or _TEMPLATE.match(value) or len(value) > 200:
            return None
        user = user_of(entry, entries)
        span = (entry.start, entry.end - entry.start)
        details: dict[str, Any] = {"user": user, "key": entry.key}
        if entry.section is not None:
            details["section"] = entry.section
        scheme = crypt.scheme_of(value)
        digest = None if scheme else _digest_checker(value)
        if scheme is not None or digest is not None:
            if scheme is not None:
                found = cracker.crack(user or "", value)
                scheme_name = scheme.name
            else:
                assert digest is not None
                found = cracker.guess(user or "", f"{digest[1]}:{value.lower()}", digest[0], FAST_SECONDS)
                scheme_name = digest[1]
            if found is None:
                return None
            kind, source = classify(user or "", found)
            severity = Severity.CRITICAL if kind in ("default", "empty") else None
            return CONFIG_WEAK_HASH.at(fs, path, *span, severity=severity, password=found,
                                       scheme=scheme_name, source=source or "empty password", **details)
        if value.startswith("$") or " " in value.strip():
            return None         # a hash libcrypt does not know, or a sentence
        weak = weak_clear_text(user, value)
        if weak is None:
            return None
        kind, source = weak
        rule_ = CONFIG_DEFAULT_PASSWORD if kind == "default" else CONFIG_COMMON_PASSWORD
        return rule_.at(fs, path, *span, password=value, source=source, **details)
