"""FP-KEY: private keys shipped in the image, and authorized_keys entries.

Every file's bytes are searched, binaries included: PEM blocks (PKCS#1, SEC1, PKCS#8,
encrypted PKCS#8, OpenSSH), DER keys (whole files or blobs inside programs), Dropbear's
own key files and PuTTY .ppk files. A candidate counts only when it loads as a key
(firmproof.keymaterial); certificates, public keys and CA bundles are never findings.

Severities: a host key of an SSH server is high (every device of the model shares it,
so one extracted key lets anyone impersonate all of them); any other private key in
clear (TLS server keys, client keys, keys compiled into programs) is high; a key sealed
with a passphrase that none of the usual ones opens is medium (`details.encrypted`); a
key that is public knowledge (OpenSSL's benchmark keys, data/known-test-keys.txt) is info.
An authorized_keys entry is critical: whoever holds the matching private key logs in.
"""

from __future__ import annotations

import base64
import posixpath
import re
from collections.abc import Iterator
from typing import Any

from cryptography.hazmat.primitives import serialization

from firmproof import examined
from firmproof.analyzers.base import Analyzer, rule
from firmproof.analyzers.keystores import is_keystore
from firmproof.filetype import APK, ARCHIVE, DATA, ELF, EMPTY, MEDIA, PRIVATE_KEY, SCRIPT, TEXT
from firmproof.keymaterial import KeyInfo, der_length, load_der, load_dropbear, load_pem_block, load_putty
from firmproof.model import Category, Finding, Rule, Severity
from firmproof.parsers.passwd import AccountLine, parse_passwd
from firmproof.parsers.pem import find_pem_blocks
from firmproof.parsers.sshkey import (
    AuthorizedKey,
    fingerprint,
    key_type_of_blob,
    looks_like_dropbear,
    parse_authorized_keys,
    parse_dropbear,
    parse_putty,
)
from firmproof.rootfs import FileEntry, RootFS
from firmproof.wordlists import known_test_keys, passphrases

_CWE = "https://cwe.mitre.org/data/definitions/{}.html"

HOST_KEY = rule(
    "FP-KEY-001", Category.PRIVATE_KEY, Severity.HIGH,
    title="SSH host private key shipped in the image",
    why="""The image carries the private host key of its SSH server (OpenSSH or Dropbear) instead
        of generating one on first boot: every device of the model presents the same key, so
        whoever extracts it from the public firmware can impersonate any of them and read or
        alter their SSH sessions (man in the middle).""",
    confirm="""Extract the quoted bytes and run `ssh-keygen -l -f <file>` (`dropbearconvert dropbear
        openssh` first for a Dropbear key): the fingerprint equals `details.fingerprint`. On a
        device, `ssh-keyscan <ip> | ssh-keygen -lf -` shows the same fingerprint.""",
    references=["https://www.kb.cert.org/vuls/id/566724", _CWE.format(321), _CWE.format(798)],
)
PRIVATE_KEY_RULE = rule(
    "FP-KEY-002", Category.PRIVATE_KEY, Severity.HIGH,
    title="private key shipped in the image",
    why="""A private key is in the image in clear (or behind a passphrase from a public list,
        `details.passphrase`): a TLS server key, a client or signing key, or a key compiled
        into a program (`details.embedded`). Everyone with the firmware holds it: they can
        impersonate the device's services, decrypt recorded traffic without forward secrecy,
        or log in wherever the key is trusted. A key that is public knowledge, such as the
        benchmark keys compiled into every openssl binary, is reported at info
        (`details.known_key`).""",
    confirm="""Extract the quoted bytes into a file and load it: `openssl pkey -in <file> -noout
        -text` (`-inform DER` for a DER blob) or `ssh-keygen -y -f <file>`; the public half's
        fingerprint (`ssh-keygen -l`) is `details.fingerprint`.""",
    references=[_CWE.format(321), _CWE.format(798), "https://www.rfc-editor.org/rfc/rfc7468"],
)
ENCRYPTED_KEY = rule(
    "FP-KEY-003", Category.PRIVATE_KEY, Severity.MEDIUM,
    title="passphrase-protected private key shipped in the image",
    why="""A private key sealed with a passphrase ships in the image. It is safe only while the
        passphrase stays secret, and a device that uses the key unattended usually carries the
        passphrase too (a config file, a string in a program). For OpenSSH keys the public half
        is stored in clear, so `details.fingerprint` still identifies the key.""",
    confirm="""Extract the quoted bytes; `openssl pkey -in <file>` (or `ssh-keygen -y -f <file>`)
        asks for a passphrase. Search the image for it (scripts and programs that load the key).""",
    references=[_CWE.format(321), _CWE.format(522)],
)
AUTHORIZED_KEY = rule(
    "FP-KEY-004", Category.AUTHORIZED_KEY, Severity.CRITICAL,
    title="authorized_keys entry lets a key holder log in",
    why="""An authorized_keys file of the image trusts a public key: whoever holds the matching
        private key (the vendor, a developer, an attacker who planted it) logs in over SSH as
        `details.user` on every device, without any password.""",
    confirm="""Read the quoted line: `details.fingerprint` is `ssh-keygen -l -f` of it,
        `details.comment` often names its owner. Check whether the vendor documents the key;
        on a device, `ssh -v <ip>` shows the key accepted for that user.""",
    references=["https://man.openbsd.org/sshd#AUTHORIZED_KEYS_FILE_FORMAT",
                "https://attack.mitre.org/techniques/T1098/004/", _CWE.format(798)],
)

MAX_SCAN_BYTES = 128 * 1024 * 1024
MAX_SEALED_GUESSED = 16     # encrypted keys per file system whose passphrase is guessed
_SKIP_TYPES = (ARCHIVE, APK, MEDIA, EMPTY)    # containers are unpacked and read as trees
_BINARY_TYPES = (ELF, DATA, PRIVATE_KEY)
_HOST_KEY_NAME = re.compile(r"ssh_host_|host[_-]?key", re.I)
_HOST_KEY_DIRS = ("/etc/dropbear/", "/etc/ssh/")
_HOSTKEY_LINE = re.compile(rb"^[ \t]*HostKey[ \t=]+(\S+)", re.M | re.I)
# SEQUENCE opening a PKCS#1/DSA (version 0, INTEGER), PKCS#8 (version 0, SEQUENCE), SEC1
# (version 1, OCTET STRING) key, or an EncryptedPrivateKeyInfo (PBES2 or PKCS#12 PBE)
_DER_KEY = re.compile(
    rb"\x30(?:\x82..|\x81.|[\x20-\x7f])"
    rb"(?:\x02\x01\x00[\x02\x30]|\x02\x01\x01\x04"
    rb"|\x30(?:\x82..|\x81.|[\x00-\x7f])\x06(?:\x09\x2a\x86\x48\x86\xf7\x0d\x01\x05\x0d"
    rb"|\x0a\x2a\x86\x48\x86\xf7\x0d\x01\x0c\x01))", re.S)
_SSH_PUBLIC_TYPES = frozenset({"ssh-rsa", "ssh-dss", "ssh-ed25519", "ecdsa-sha2-nistp256",
                               "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521"})


class Keys(Analyzer):
    family = "KEY"
    name = "keys"
    rules = (HOST_KEY, PRIVATE_KEY_RULE, ENCRYPTED_KEY, AUTHORIZED_KEY)

    def run(self, fs: RootFS) -> Iterator[Finding]:
        scan = _KeyScan(fs)
        findings: list[Finding] = []
        for entry in fs.files():
            if entry.ftype in _SKIP_TYPES:
                continue
            if entry.size > MAX_SCAN_BYTES:
                examined.skipped(fs, entry, self.name, examined.mib(MAX_SCAN_BYTES))
                continue
            if is_authorized_keys(entry.path):
                findings.extend(self._authorized(fs, entry))
                continue
            data = fs.read(entry.path)
            if data:
                findings.extend(scan.private_keys(entry, data))
        _link_copies(findings)
        yield from findings

    # -- authorized_keys -----------------------------------------------------------------------

    def _authorized(self, fs: RootFS, entry: FileEntry) -> Iterator[Finding]:
        if entry.ftype not in (TEXT, SCRIPT, DATA):
            return
        text = fs.text(entry.path)
        if not text:
            return
        owner = authorized_keys_owner(fs, entry.path)
        for key in parse_authorized_keys(text):
            kind = _checked_type(key)
            if kind is None:
                continue
            details: dict[str, Any] = {"user": owner[0] if owner else None}
            if len(owner) > 1:
                details["users"] = owner
            details.update(type=kind, key_type=key.key_type, fingerprint=fingerprint(key.blob),
                           comment=key.comment)
            if key.options:
                details["options"] = key.options
            yield AUTHORIZED_KEY.at(fs, entry.path, key.start, key.end - key.start, **details)


class _KeyScan:
    """The private-key search over one file system."""

    def __init__(self, fs: RootFS) -> None:
        self.fs = fs
        self.host_paths = _configured_host_keys(fs)
        self.sealed = 0          # encrypted keys met so far

    def guesses(self) -> tuple[str, ...]:
        """Passphrases to try on the next encrypted key: none once enough keys had theirs
        guessed (an image full of sealed keys must not stall the scan)."""
        return passphrases() if self.sealed < MAX_SEALED_GUESSED else ()

    def private_keys(self, entry: FileEntry, data: bytes) -> Iterator[Finding]:
        embedded = entry.ftype in (ELF, DATA)
        if b"PRIVATE KEY-----" in data:
            for block in find_pem_blocks(data, private_only=True):
                info = load_pem_block(block, self.guesses())
                if info is not None:
                    yield self.key(entry, block.start, block.end - block.start, info, embedded=embedded)
        if data.startswith(b"PuTTY-User-Key-File-"):
            ppk = parse_putty(data.decode("latin-1"))
            info = load_putty(ppk) if ppk else None
            if ppk and info:
                yield self.key(entry, 0, ppk.length, info, embedded=False)
        if looks_like_dropbear(data):
            dropbear = parse_dropbear(data)
            info = load_dropbear(dropbear) if dropbear else None
            if dropbear and info:
                yield self.key(entry, 0, dropbear.length, info, embedded=False)
                return
        if entry.ftype in _BINARY_TYPES and not is_keystore(entry, data):   # stores: FP-KSTORE
            yield from self.der_keys(entry, data)

    def der_keys(self, entry: FileEntry, data: bytes) -> Iterator[Finding]:
        pos = 0
        while (m := _DER_KEY.search(data, pos)) is not None:
            start = m.start()
            blob = data[start:start + (der_length(data, start) or 0)]
            info = load_der(blob, self.guesses()) if blob else None
            if info is None:
                pos = start + 1
                continue
            whole = start == 0 and len(blob) == len(data)
            yield self.key(entry, start, len(blob), info, embedded=not whole)
            pos = start + len(blob)

    def key(self, entry: FileEntry, offset: int, length: int, info: KeyInfo, *, embedded: bool) -> Finding:
        if info.encrypted:
            self.sealed += 1
        details: dict[str, Any] = info.details()
        host = is_host_key(entry.path, info.format, self.host_paths)
        details["host_key"] = host
        details["embedded"] = embedded
        rule_: Rule
        if info.encrypted and info.passphrase is None:
            rule_ = ENCRYPTED_KEY
        elif host and not embedded:
            rule_ = HOST_KEY
        else:
            rule_ = PRIVATE_KEY_RULE
        known = known_test_keys().get(info.fingerprint or "")
        if known:
            details["known_key"] = known
            return rule_.at(self.fs, entry.path, offset, length, severity=Severity.INFO,
                            title="well-known test private key", **details)
        return rule_.at(self.fs, entry.path, offset, length, **details)


def _checked_type(key: AuthorizedKey) -> str | None:
    """The key's type when its blob is a valid public key ('must load'), else None."""
    kind = key_type_of_blob(key.blob)
    if kind is None:
        return None
    if key.key_type in _SSH_PUBLIC_TYPES:
        line = key.key_type.encode() + b" " + base64.b64encode(key.blob)
        try:
            serialization.load_ssh_public_key(line)
        except (ValueError, TypeError, NotImplementedError):    # NotImplementedError: a compressed EC point
            return None
    return kind


def _link_copies(findings: list[Finding]) -> None:
    """Name, in each key finding, the other places that hold the same key."""
    by_fp: dict[str, list[Finding]] = {}
    for f in findings:
        fp = f.details.get("fingerprint")
        if fp and f.rule is not AUTHORIZED_KEY:
            by_fp.setdefault(fp, []).append(f)
    for same in by_fp.values():
        if len(same) > 1:
            for f in same:
                f.details["same_key_in"] = sorted({o.path for o in same if o is not f and o.path != f.path})


def _configured_host_keys(fs: RootFS) -> frozenset[str]:
    """Files named by `HostKey` in sshd_config files."""
    paths: set[str] = set()
    for entry in fs.glob("**/sshd_config*"):
        data = fs.read(entry.path)
        for m in _HOSTKEY_LINE.finditer(data or b""):
            paths.add(m.group(1).decode("latin-1"))
    return frozenset(paths)


def is_host_key(path: str, fmt: str, configured: frozenset[str] = frozenset()) -> bool:
    """A server's host key: named by sshd_config, named like one, kept in /etc/ssh or
    /etc/dropbear, or in Dropbear's own format outside a user's ~/.ssh."""
    if path in configured or _HOST_KEY_NAME.search(posixpath.basename(path)):
        return True
    if path.startswith(_HOST_KEY_DIRS):
        return True
    return fmt == "dropbear" and "/.ssh/" not in path


def is_authorized_keys(path: str) -> bool:
    folder, name = posixpath.split(path)
    return (name.startswith("authorized_keys") and not name.endswith(".pub")) \
        or posixpath.basename(folder) in ("authorized_keys", "authorized_keys.d")


def authorized_keys_owner(fs: RootFS, path: str) -> list[str]:
    """Who the file lets in: from the path (/root, /home/<user>, /etc/dropbear, a per-user
    file in an authorized_keys folder) or from the passwd entries whose home holds it."""
    folder, name = posixpath.split(path)
    if posixpath.basename(folder) in ("authorized_keys", "authorized_keys.d"):
        return [name]
    if path.startswith("/etc/dropbear/"):
        return ["root"]
    if "/.ssh/" not in path:
        return []
    home = path[:path.index("/.ssh/")] or "/"
    users = [line.name for line in _passwd_lines(fs) if (line.home or "").rstrip("/") == home.rstrip("/")
             or (home == "/" and line.home in ("/", ""))]
    users.sort(key=lambda u: (u != "root", u))
    if users:
        return users
    if home == "/root":
        return ["root"]
    m = re.fullmatch(r"/home/([^/]+)", home)
    return [m.group(1)] if m else []


def _passwd_lines(fs: RootFS) -> list[AccountLine]:
    text = fs.text("/etc/passwd")
    return [line for line in parse_passwd(text) if line.kind == "passwd"] if text else []
