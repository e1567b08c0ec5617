"""FP-CRED: accounts that let someone in: empty, default, weak and clear-text passwords,
extra uid-0 accounts, and telnetd started with a fixed user:password.

The account databases are /etc/passwd, /etc/shadow, /etc/group, /etc/gshadow and every
copy an image carries (passwd-, shadow.bak, /etc/config/passwd, /var/passwd…). A copy
identical to a file already read adds no finding: the first file (the live database
before its backups) holds it, `details.copies` names the others. Hashes are checked with
the system's libcrypt against the vendor defaults of data/default-credentials.txt, guesses
derived from the user name and data/common-passwords.txt, as many as the hash scheme's
cost allows (see firmproof.device.crypt).
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from firmproof.analyzers.base import Analyzer, rule
from firmproof.analyzers.common import HASH_BUDGET_SECONDS as HASH_BUDGET_SECONDS  # bench/crypt_speed.py
from firmproof.analyzers.common import MAX_DB_BYTES, Cracker, classify, is_account_database
from firmproof.device import crypt
from firmproof.device.parsers import shell
from firmproof.device.parsers.passwd import EMPTY as EMPTY_PASSWORD
from firmproof.device.parsers.passwd import (
    GROUP,
    GSHADOW,
    LOCKED,
    PASSWD,
    SHADOW,
    SHADOWED,
    VALUE,
    AccountLine,
    kind_of_name,
    parse_accounts,
)
from firmproof.fs import examined
from firmproof.fs.filetype import DATA, SCRIPT, TEXT
from firmproof.fs.rootfs import FileEntry, RootFS
from firmproof.model import Category, Finding, Severity

_CWE = "https://cwe.mitre.org/data/definitions/{}.html"
_SHADOW_MAN = "https://man7.org/linux/man-pages/man5/shadow.5.html"
_PASSWD_MAN = "https://man7.org/linux/man-pages/man5/passwd.5.html"

EMPTY_PASSWORD_RULE = rule(
    "FP-CRED-001", Category.WEAK_PASSWORD, Severity.CRITICAL,
    title="account without a password",
    why="""The password field of the account is empty (or holds the hash of the empty string):
        login, su, telnet or SSH with empty passwords let anyone in as that user without typing
        anything. Severity drops to medium when the account's shell cannot log in
        (`details.shell` is /bin/false or nologin), and for root when the image itself asks for a
        password to be set (a documented first-boot state, such as OpenWrt's "There is no root
        password defined on this device!" and the scripts that check root's shadow field to
        switch telnet off once one is set): `details.first_boot` names the file that says so.""",
    confirm="""Read the quoted line: the second field is empty (`user::…`). If the passwd entry
        says `x`, the shadow entry decides. On a device: log in as `details.user` and press Enter
        at the password prompt.""",
    references=[_SHADOW_MAN, _CWE.format(258), _CWE.format(521)],
)
DEFAULT_PASSWORD = rule(
    "FP-CRED-002", Category.WEAK_PASSWORD, Severity.CRITICAL,
    title="account password is a known vendor default",
    why="""The password hash of the account matches a published vendor default or hard-coded
        credential (`details.source`): every device running this firmware shares it, and the
        lists it comes from are what botnets such as Mirai try first.""",
    confirm="""Recompute the quoted hash: `openssl passwd -1 -salt <salt> <password>` for `$1$`
        hashes, or in Python `crypt.crypt(password, hash) == hash`; `details.password` is the
        password, `details.scheme` the hash scheme.""",
    references=["https://krebsonsecurity.com/2016/10/who-makes-the-iot-things-under-attack/",
                _CWE.format(798), _CWE.format(1392)],
)
COMMON_PASSWORD = rule(
    "FP-CRED-003", Category.WEAK_PASSWORD, Severity.HIGH,
    title="account password falls to a small wordlist",
    why="""The password hash of the account matches a very common password or a guess made from
        the user name (`details.source`): a dictionary attack over telnet, SSH or the web login
        finds it in seconds.""",
    confirm="""Recompute the quoted hash with `details.password` (`openssl passwd`, or Python's
        `crypt.crypt(password, hash) == hash`).""",
    references=[_CWE.format(521), _CWE.format(1391)],
)
PLAINTEXT_PASSWORD = rule(
    "FP-CRED-004", Category.WEAK_PASSWORD, Severity.HIGH,
    title="password stored in clear text in an account database",
    why="""The password field holds no hash but the password itself: anyone who reads the image
        (or the file on the device) has it, and vendor login programs that compare it as text
        let it in. `details.source` says when it is also a published default.""",
    confirm="""Read the quoted field: it is not `x`, `*`, `!…` or a crypt hash (`$1$…`, `$6$…`,
        13-character DES). Try it as the password of `details.user`.""",
    references=[_PASSWD_MAN, _CWE.format(256), _CWE.format(798)],
)
SECOND_UID0 = rule(
    "FP-CRED-005", Category.WEAK_PASSWORD, Severity.HIGH,
    title="second uid-0 account",
    why="""An account other than root has user id 0: it is root under another name, easy to miss
        in an audit and a classic way to keep a backdoor login. Severity drops to medium when its
        password is locked (`details.password_state`).""",
    confirm="""Read the quoted passwd line: the third field is 0. Check the account's password in
        the shadow file and whether any service or script logs it in.""",
    references=[_PASSWD_MAN, "https://attack.mitre.org/techniques/T1136/001/", _CWE.format(250)],
)
TELNETD_CREDENTIAL = rule(
    "FP-CRED-006", Category.HARDCODED, Severity.CRITICAL,
    title="telnetd started with a fixed user:password",
    why="""A vendor telnetd is started with `-u user:password` (the Alpha Networks factory account
        `Alphanetworks:$image_sign` of D-Link and TRENDnet firmware): that login works on every
        device of the model, whatever password the owner sets. When the password is a variable
        read from a file of the image (`image_sign=`cat /etc/config/image_sign``),
        `details.password` is that file's content and `details.password_file` names it.""",
    confirm="""Read the quoted command and, when `details.password_file` is set, that file of the
        image. On a device: `telnet <ip>` and log in as `details.user` with `details.password`.""",
    references=["https://xaccel.net/critical-vulnerability-in-d-link-routers-cve-2026-42373/",
                _CWE.format(798), _CWE.format(912)],
)

MAX_SCRIPT_BYTES = 16 * 1024 * 1024
NON_LOGIN_SHELLS = frozenset({"false", "nologin", "sync", "halt", "shutdown", "true"})
_PRIMARY = ("/etc/shadow", "/etc/passwd", "/etc/gshadow", "/etc/group")
_HEX_DIGEST = re.compile(r"(?:[0-9a-fA-F]{32}|[0-9a-fA-F]{40}|[0-9a-fA-F]{64}|[0-9a-fA-F]{128})")
TELNETD_NAMES = frozenset({"telnetd", "utelnetd", "in.telnetd"})
_TELNETD_USER = re.compile(r"telnetd\b[^\n]*?\s-u\s*\S")   # cheap test before parsing
_CAT_SUBST = re.compile(r'"?(?:`\s*cat\s+([^`\s;|&]+)\s*`|\$\(\s*cat\s+([^)\s;|&]+)\s*\))"?')
_VAR = re.compile(r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)\}|([A-Za-z_][A-Za-z0-9_]*))")


# -- account databases -----------------------------------------------------------------


@dataclass
class _Database:
    entry: FileEntry
    kind: str
    lines: list[AccountLine]

    @property
    def path(self) -> str:
        return self.entry.path


@dataclass
class _Pending:
    """A finding waiting for the copies of its account to be counted."""

    finding: Finding
    copies: list[str] = field(default_factory=list)


def account_databases(fs: RootFS) -> list[_Database]:
    """Every account database of the view, the live ones first, then copies by path."""
    dbs = []
    for entry in fs.files(TEXT, DATA):
        if not is_account_database(entry):
            continue
        kind = kind_of_name(entry.name)
        text = fs.text(entry.path)
        if kind is None or text is None:
            continue
        lines = parse_accounts(text, kind)
        if lines:
            dbs.append(_Database(entry, kind, lines))
    rank = {p: i for i, p in enumerate(_PRIMARY)}
    dbs.sort(key=lambda d: (rank.get(d.path, len(rank)), d.path))
    return dbs


def _pair(dbs: list[_Database], db: _Database, want: str) -> _Database | None:
    """The database of kind `want` that goes with `db` (the shadow of a passwd, the passwd of
    a shadow): the one in the same folder whose name differs only by that word
    (passwd.bak → shadow.bak), else the plain one there; `db` itself when its name says
    `want` (a passwd file holding shadow-style lines)."""
    folder, name = posixpath.split(db.path)
    own = kind_of_name(name)
    if own == want:
        return db
    wanted = [posixpath.join(folder, want)]
    if own and own in name:
        wanted.insert(0, posixpath.join(folder, name.replace(own, want)))
    for path in wanted:
        for other in dbs:
            if other.path == path and other is not db:
                return other
    return None


def _lookup(db: _Database | None, name: str, kind: str) -> AccountLine | None:
    if db is None:
        return None
    return next((line for line in db.lines if line.name == name and line.kind == kind), None)


# where a distribution tells its user that root has no password yet, or checks root's field
# to change what runs once one is set
_FIRST_BOOT_FILES = ("/etc/profile", "/etc/banner", "/etc/motd", "/etc/issue", "/bin/login.sh",
                     "/usr/libexec/login.sh", "/etc/init.d/telnet", "/etc/init.d/dropbear",
                     "/lib/preinit/99_10_failsafe_login")
_FIRST_BOOT = re.compile(r"no root password|root password (?:is )?not (?:yet )?set"
                         r"|set your (?:login|root) password"
                         r"|(?:grep|awk|sed)\b[^\n]*\^root:[^\n]*/etc/(?:shadow|passwd)", re.I)


def _first_boot_prompt(fs: RootFS) -> str | None:
    """The file in which the image asks for a root password to be set, if one does."""
    for path in _FIRST_BOOT_FILES:
        entry = fs.stat(path)
        if entry is not None and entry.size <= MAX_DB_BYTES:
            text = fs.text(path)
            if text is not None and _FIRST_BOOT.search(text):
                return path
    return None


def _non_login(shell_path: str | None) -> bool:
    return bool(shell_path) and posixpath.basename(shell_path or "") in NON_LOGIN_SHELLS


def _password_kind(line: AccountLine) -> str:
    """'empty', 'locked', 'hash' or 'clear-text' (an 'x' without its shadow entry is locked)."""
    state = line.password_state()
    if state == VALUE:
        return "hash" if crypt.scheme_of(line.password.value) or _looks_hashed(line.password.value) \
            else "clear-text"
    return LOCKED if state == SHADOWED else state


def _looks_hashed(value: str) -> bool:
    """A hash in a format libcrypt does not know ($apr1$, {SSHA}, hex digests…): not clear text."""
    return value.startswith(("$", "{")) or bool(_HEX_DIGEST.fullmatch(value))


class Accounts(Analyzer):
    family = "CRED"
    name = "accounts"
    on_device = "accounts"
    rules = (EMPTY_PASSWORD_RULE, DEFAULT_PASSWORD, COMMON_PASSWORD, PLAINTEXT_PASSWORD,
             SECOND_UID0, TELNETD_CREDENTIAL)

    def run(self, fs: RootFS) -> Iterator[Finding]:
        cracker = Cracker()
        pending: dict[tuple[Any, ...], _Pending] = {}
        dbs = account_databases(fs)
        for db in dbs:
            for line in db.lines:
                for key, finding in self._account(fs, dbs, db, line, cracker):
                    if key in pending:
                        if db.path not in pending[key].copies:
                            pending[key].copies.append(db.path)
                    else:
                        pending[key] = _Pending(finding)
        for item in pending.values():
            if item.copies:
                item.finding.details["copies"] = item.copies
            yield item.finding
        yield from self._telnetd_credentials(fs)
        if cracker.unchecked:
            raise crypt.CryptUnavailable(f"{cracker.unchecked} password hashes not checked: "
                                         "libcrypt is missing")

    # -- one account line ----------------------------------------------------------------

    def _account(self, fs: RootFS, dbs: list[_Database], db: _Database, line: AccountLine,
                 cracker: Cracker) -> Iterator[tuple[tuple[Any, ...], Finding]]:
        user = line.name
        pw = line.password
        state = line.password_state()
        group = line.kind in (GROUP, GSHADOW)
        base: dict[str, Any] = {"user": user, "account": "group" if group else "user"}
        shell_path = self._shell_of(dbs, db, line)
        if shell_path is not None and not group:
            base["shell"] = shell_path

        if line.kind == PASSWD and line.uid == 0 and user != "root":
            yield self._uid0(fs, dbs, db, line, base)

        if state == EMPTY_PASSWORD and not group and self._empty_counts(dbs, db, line):
            first_boot = _first_boot_prompt(fs) if user == "root" else None
            if first_boot is not None:
                base["first_boot"] = first_boot
            severity = Severity.MEDIUM if _non_login(shell_path) or first_boot else None
            finding = EMPTY_PASSWORD_RULE.at(fs, db.path, line.start, line.end - line.start,
                                             severity=severity, password="", **base)
            yield ("empty", user, line.kind, ""), finding
            return
        if state != VALUE:
            return
        scheme = crypt.scheme_of(pw.value)
        if scheme is None:
            if group or _looks_hashed(pw.value):
                return
            details = dict(base, password=pw.value)
            kind, source = classify(user, pw.value)
            if kind == "default" and source:
                details["source"] = source
            yield ("plain", user, pw.value), PLAINTEXT_PASSWORD.at(
                fs, db.path, pw.start, pw.end - pw.start, **details)
            return
        found = cracker.crack(user, pw.value)
        if found is None:
            return
        kind, source = classify(user, found)
        details = dict(base, password=found, scheme=scheme.name, source=source)
        key = ("hash", user, pw.value)
        if kind == "empty":
            if group:
                return
            del details["source"]
            severity = Severity.MEDIUM if _non_login(shell_path) else None
            yield key, EMPTY_PASSWORD_RULE.at(fs, db.path, pw.start, pw.end - pw.start, severity=severity,
                                              title="account password is the empty string", **details)
        else:
            rule_ = DEFAULT_PASSWORD if kind == "default" else COMMON_PASSWORD
            yield key, rule_.at(fs, db.path, pw.start, pw.end - pw.start, **details)

    @staticmethod
    def _shell_of(dbs: list[_Database], db: _Database, line: AccountLine) -> str | None:
        if line.kind == PASSWD:
            return line.shell
        if line.kind == SHADOW:
            entry = _lookup(_pair(dbs, db, PASSWD), line.name, PASSWD) or _lookup(db, line.name, PASSWD)
            return entry.shell if entry else None
        return None

    @staticmethod
    def _empty_counts(dbs: list[_Database], db: _Database, line: AccountLine) -> bool:
        """An empty shadow field lets in only an account that exists and whose passwd entry
        defers to shadow; an empty passwd field always does."""
        if line.kind != SHADOW:
            return True
        passwd_db = _pair(dbs, db, PASSWD)
        entry = _lookup(passwd_db, line.name, PASSWD)
        if passwd_db is None or (entry is None and passwd_db is db):
            return True     # no passwd to defer to, or one file holding both
        if entry is None:
            return False
        return entry.password_state() not in (EMPTY_PASSWORD, VALUE)

    @staticmethod
    def _uid0(fs: RootFS, dbs: list[_Database], db: _Database, line: AccountLine,
              base: dict[str, Any]) -> tuple[tuple[Any, ...], Finding]:
        entry = line
        if line.password_state() == SHADOWED:
            entry = _lookup(_pair(dbs, db, SHADOW), line.name, SHADOW) or line
        state = _password_kind(entry)
        locked = state == LOCKED
        details = dict(base, uid=0, password_state=state)
        finding = SECOND_UID0.at(fs, db.path, line.start, line.end - line.start,
                                 severity=Severity.MEDIUM if locked else None, **details)
        return ("uid0", line.name, line.text), finding

    # -- telnetd -u user:password ------------------------------------------------------------

    def _telnetd_credentials(self, fs: RootFS) -> Iterator[Finding]:
        for entry in fs.files(SCRIPT, TEXT):
            if entry.size > MAX_SCRIPT_BYTES:
                if entry.ftype == SCRIPT:
                    examined.skipped(fs, entry, self.name, f"a script {examined.mib(MAX_SCRIPT_BYTES)}")
                continue
            text = fs.text(entry.path)
            if text is None or "telnetd" not in text or not _TELNETD_USER.search(text):
                continue
            yield from self._telnetd_in(fs, entry.path, text)

    def _telnetd_in(self, fs: RootFS, path: str, text: str) -> Iterator[Finding]:
        script = shell.parse(text)
        entry = fs.stat(path)
        if script.cut_at is not None and entry is not None:
            examined.skipped(fs, entry, self.name, f"a script of more than {shell.MAX_TOKENS:,} "
                             f"words: read up to byte {script.cut_at:,}")
        from_files: dict[str, str] = {}
        for command in script.commands:
            for assignment in () if command.words else command.assignments:
                m = _CAT_SUBST.fullmatch(assignment.value.raw)
                if m:
                    from_files[assignment.name] = m.group(1) or m.group(2)
                else:
                    from_files.pop(assignment.name, None)
            credential = _telnetd_user_option(command)
            if credential is None:
                continue
            value = shell.expand_joined(credential, command.env)
            user, sep, password = value.partition(":")
            if not user or not sep:
                continue
            details: dict[str, Any] = {"user": user, "password": password}
            resolved = self._resolve(fs, password, from_files)
            if resolved is not None:
                details.update(password=resolved[0], password_expression=password,
                               password_file=resolved[1])
            elif "$" in password or "`" in password:
                details["password_resolved"] = False
            login = _option_value(command, "-l")
            if login:
                details["login"] = login
            yield TELNETD_CREDENTIAL.at(fs, path, command.start, command.end - command.start, **details)

    @staticmethod
    def _resolve(fs: RootFS, password: str, from_files: dict[str, str]) -> tuple[str, str] | None:
        """The password with `$var` replaced by the content of the file `var` was read from
        (`var=`cat FILE``), when that file is in the image; None when nothing was resolved."""
        files: list[str] = []

        def substitute(m: re.Match[str]) -> str:
            name = m.group(1) or m.group(2)
            path = from_files.get(name)
            content = fs.text(path) if path and path.startswith("/") else None
            if content is None:
                return m.group(0)
            files.append(path or "")
            return content.rstrip("\n")

        value = _VAR.sub(substitute, password)
        if not files or "$" in value:
            return None
        return value, files[0] if len(files) == 1 else ", ".join(files)


def _telnetd_words(command: shell.Command) -> list[shell.Word]:
    """The arguments of telnetd in `command` (also through `busybox telnetd`), or []."""
    words = list(command.words)
    for i, word in enumerate(words):
        name = posixpath.basename(word.value)
        if name in TELNETD_NAMES:
            return words[i + 1:]
    return []


def _telnetd_user_option(command: shell.Command) -> shell.Word | None:
    """The word after telnetd's `-u` (or glued to it: `-uuser:pass`)."""
    args = _telnetd_words(command)
    for i, word in enumerate(args):
        if word.value == "-u" and i + 1 < len(args):
            return args[i + 1]
        if word.value.startswith("-u") and len(word.value) > 2 and ":" in word.value:
            raw = word.raw[2:]
            return shell.Word(raw, word.start + 2, word.end, ((raw, ""),))
    return None


def _option_value(command: shell.Command, option: str) -> str | None:
    args = _telnetd_words(command)
    for i, word in enumerate(args):
        if word.value == option and i + 1 < len(args):
            return args[i + 1].value
    return None
