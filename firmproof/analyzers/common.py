"""What analyzer families share: the password guesses and their budget (FP-CRED, FP-WEBCRED and
FP-CRED's configuration files), where account files are, which files are key stores (FP-KSTORE
reads them, FP-KEY leaves them to it) and the comparison functions of C (FP-HCRED, FP-TRIG).

A family imports what it borrows from here, never from another family's module.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Callable

from firmproof.device import crypt
from firmproof.device.keystores import store_format
from firmproof.device.parsers.passwd import kind_of_name
from firmproof.device.parsers.webusers import BUSYBOX, BUSYBOX_CONFIG_NAMES, PLAIN, referenced_files
from firmproof.device.parsers.webusers import kind_of_name as web_kind_of_name
from firmproof.device.wordlists import common_passwords, default_credentials
from firmproof.fs.filetype import DATA, EMPTY, SCRIPT, TEXT
from firmproof.fs.rootfs import FileEntry, RootFS

# -- password guesses ------------------------------------------------------------------------

HASH_BUDGET_SECONDS = 1.0            # estimated cost of the guesses one hash may get
TOTAL_BUDGET_SECONDS = 20.0          # over one file system; past it, hashes get the short list
SHORT_LIST = 12                      # guesses a hash gets once the total budget is spent
FAST_SECONDS = 1 / 1_000_000        # one SHA-1 or MD5


def name_guesses(user: str) -> list[str]:
    """Passwords people derive from the user name."""
    guesses = [user, user.lower(), user[::-1], user + user, user + "1", user + "123",
               user + "1234", user + "12345", user.capitalize(), user + "!", user + "@123"]
    return [g for g in guesses if g]


def candidates(user: str) -> list[str]:
    """Guesses for one account, most likely first (slow hashes only get the head): the empty
    password, the user name, the vendor defaults of that user, the other variants of the
    user name, every vendor default, the common passwords."""
    defaults = default_credentials()
    ordered = ["", user,
               *(d.password for d in defaults if d.user.lower() == user.lower()),
               *name_guesses(user),
               *(d.password for d in defaults),
               *common_passwords()]
    return list(dict.fromkeys(ordered))


def classify(user: str, password: str) -> tuple[str, str | None]:
    """('default', source) | ('common', source) | ('empty', None) for a found password."""
    if password == "":
        return "empty", None
    defaults = default_credentials()
    same_user = [d for d in defaults if d.password == password and d.user.lower() == user.lower()]
    any_user = [d for d in defaults if d.password == password]
    if same_user:
        return "default", same_user[0].source
    if any_user:
        return "default", f"{any_user[0].source} (listed for user {any_user[0].user})"
    if password in name_guesses(user):
        return "common", "guess derived from the user name"
    return "common", "common-password list"


def weak_clear_text(user: str | None, password: str) -> tuple[str, str] | None:
    """('default'|'common', source) when a clear-text password is a vendor default, a common
    password or a guess from the user name; None when it is none of these (a strong password
    is not weak, even hard-coded: see firmproof.analyzers.configcreds)."""
    if password in {d.password for d in default_credentials()} or password in common_passwords() \
            or (user and password in name_guesses(user)):
        kind, source = classify(user or "", password)
        return kind, source or ""
    return None


class Cracker:
    """Password guesses for one view: cached per (hash, user), each hash given as many of the
    user's candidates as fit in HASH_BUDGET_SECONDS at its scheme's cost, and only the short
    list once the view has spent its total budget (FP-CRED and FP-WEBCRED share it)."""

    def __init__(self, total_budget: float = TOTAL_BUDGET_SECONDS) -> None:
        self.total_budget = total_budget
        self.spent = 0.0
        self.cache: dict[tuple[str, str], str | None] = {}
        self.unchecked = 0

    def crack(self, user: str, hashed: str) -> str | None:
        """The password of a crypt(3) hash among the guesses, through libcrypt."""
        scheme = crypt.scheme_of(hashed)
        if scheme is None:
            return None
        return self.guess(user, hashed, lambda pw: crypt.check(pw, hashed), scheme.seconds)

    def guess(self, user: str, hashed: str, check: Callable[[str], bool], seconds: float) -> str | None:
        """The first guess `check` accepts, `seconds` being what one check costs."""
        key = (hashed, user)
        if key in self.cache:
            return self.cache[key]
        limit = max(1, int(HASH_BUDGET_SECONDS / seconds))
        if self.spent >= self.total_budget:
            limit = min(limit, SHORT_LIST)
        guesses = candidates(user)[:limit]
        self.spent += len(guesses) * seconds
        try:
            found = next((g for g in guesses if check(g)), None)
        except crypt.CryptUnavailable:
            self.unchecked += 1
            found = None
        except ValueError:          # a hash its library refuses (damaged): no password found
            found = None
        self.cache[key] = found
        return found


# -- account files -----------------------------------------------------------------------------

MAX_DB_BYTES = 4 * 1024 * 1024
_DB_NAME = re.compile(r"^(?:passwd|shadow|group|gshadow|master\.passwd|opasswd|npasswd|nshadow)"
                      r"(?:[-.~_][\w.~-]*)?$", re.I)
# folders of the image (not of the host) where copies of the account databases are kept
_DB_DIRS = ("/etc/", "/var/", "/etc_ro/", "/usr/etc/", "/config/", "/mnt/", "/data/",
            "/tmp/")  # noqa: S108
_CODE_SUFFIXES = (".c", ".h", ".py", ".pyc", ".js", ".htm", ".html", ".asp", ".php", ".cgi", ".so",
                  ".ko", ".sh", ".lua", ".pl", ".pm", ".mo", ".po", ".xml", ".json", ".conf",
                  ".txt", ".md", ".gz", ".desktop", ".service", ".rules")
MAX_WEB_ACCOUNT_BYTES = 1 << 20
_CONFIG_WORDS = ("userfile", "AuthUserFile", "AuthDigestFile", "auth_basic_user_file")
# account files known by their name alone, whatever configuration names them (or none does):
# lighttpd's conventional `plain` user files, Boa's and mini_httpd's password files (None:
# htpasswd or htdigest, line by line)
NAMED_FILES: dict[str, str | None] = {
    "lighttpd.user": PLAIN, "lighttpd.users": PLAIN, "lighttpd-plain.user": PLAIN,
    "lighttpd.passwd": PLAIN, "boa.passwd": None, "boa.htpasswd": None, "mini_httpd.passwd": None,
}


def is_account_database(entry: FileEntry) -> bool:
    name = entry.name
    lower = name.lower()
    if kind_of_name(name) is None or lower.endswith(_CODE_SUFFIXES):
        return False
    if entry.ftype not in (TEXT, DATA) or entry.size > MAX_DB_BYTES:
        return False
    if _DB_NAME.match(name):
        return True
    in_db_dir = any(entry.path.startswith(d) or f"/{d.strip('/')}/" in entry.path for d in _DB_DIRS)
    return in_db_dir and ("passwd" in lower or "shadow" in lower)


def account_files(fs: RootFS) -> list[tuple[str, str | None]]:
    """(path, kind) of every web account file of the view: by name, BusyBox httpd.conf, and
    those the web servers' configurations name (kind None: htpasswd or htdigest by line)."""
    found: dict[str, str | None] = {}
    for entry in fs.files(TEXT, DATA, SCRIPT):
        if entry.size > MAX_WEB_ACCOUNT_BYTES:
            continue
        kind = web_kind_of_name(entry.name)
        if kind is not None:
            found.setdefault(entry.path, kind)
        elif entry.name.lower() in NAMED_FILES:
            found.setdefault(entry.path, NAMED_FILES[entry.name.lower()])
        elif entry.name in BUSYBOX_CONFIG_NAMES:
            found.setdefault(entry.path, BUSYBOX)
        if entry.name.endswith(".conf") or entry.name == ".htaccess":
            text = fs.text(entry.path) or ""
            if not any(word in text for word in _CONFIG_WORDS):
                continue
            for named, named_kind in referenced_files(text):
                target = posixpath.join(posixpath.dirname(entry.path), named)   # absolute stays
                resolved = fs.stat(target)
                if resolved is not None and resolved.size <= MAX_WEB_ACCOUNT_BYTES:
                    # a configuration's word beats a name: lighttpd's plain file may be called anything
                    if named_kind == PLAIN or resolved.path not in found:
                        found[resolved.path] = named_kind
    return sorted(found.items())


# -- key stores --------------------------------------------------------------------------------

MAX_KEYSTORE_BYTES = 1 << 20        # key stores are kilobytes; cacerts ~200 KiB
KEYSTORE_SUFFIXES = (".p12", ".pfx", ".jks", ".bks", ".keystore", ".ks", ".jceks", ".ubr")


def is_keystore(entry: FileEntry, data: bytes) -> bool:
    """Whether FP-KSTORE reads the file as a key store (FP-KEY leaves it to it)."""
    return keystore_candidate(entry) and store_format(data) is not None


def keystore_candidate(entry: FileEntry) -> bool:
    """A file the key-store family reads: a key store's name, or untyped data, not too big."""
    if entry.size > MAX_KEYSTORE_BYTES or entry.ftype == EMPTY:
        return False
    return entry.ftype == DATA or posixpath.basename(entry.path).lower().endswith(KEYSTORE_SUFFIXES)


# -- programs ----------------------------------------------------------------------------------

# functions of C that compare their arguments: a literal passed to one is compared with input
COMPARE = frozenset({"strcmp", "strncmp", "strcasecmp", "strncasecmp", "memcmp", "strstr", "strcasestr",
                     "bcmp", "strcoll"})
