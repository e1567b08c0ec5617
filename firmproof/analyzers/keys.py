"""FP-KEY: private keys shipped in the image, and authorized_keys entries.

Every file's bytes are searched, binaries included: PEM blocks (PKCS#1, SEC1, PKCS#8,
encrypted PKCS#8, OpenSSH), DER keys (whole files or blobs inside programs), Dropbear's
own key files and PuTTY .ppk files. A candidate counts only when it loads as a key
(firmproof.device.keymaterial); certificates, public keys and CA bundles are never findings.

Severities: a host key of an SSH server is high (every device of the model shares it,
so one extracted key lets anyone impersonate all of them); any other private key in
clear (TLS server keys, client keys, keys compiled into programs) is high; a key sealed
with a passphrase that none of the usual ones opens is medium (`details.encrypted`); a
key that is public knowledge (OpenSSL's benchmark keys, data/known-test-keys.txt) is info.
An authorized_keys entry is critical: whoever holds the matching private key logs in.

Android's adb_keys files are the same trust for adb: a line is the base64 of adbd's
524-byte RSAPublicKey struct (modulus size in words, n0inv, modulus, R^2 mod n, exponent,
little-endian 32-bit words) and a `user@host` comment. An entry counts only when the
struct is consistent (64 words, an odd 2048-bit modulus, n0inv and R^2 mod n matching it,
exponent 3 or 65537): a real key. A file adbd reads (/adb_keys in the ramdisk,
/data/misc/adb/adb_keys, /product/etc/security/adb_keys where PRODUCT_ADB_KEYS goes) is
critical; an adb_keys file elsewhere in a system, vendor or product partition is high (a
vendor's adbd or init script may read it; AOSP's does not). A file under documentation,
test, example or source folders (/usr/share/doc/…, …/tests/…, /usr/src/…) is no device's
trust list and is not reported; neither is a host's own adbkey.pub.
"""

from __future__ import annotations

import base64
import hashlib
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization

from firmproof.analyzers.base import Analyzer, rule
from firmproof.analyzers.common import is_keystore
from firmproof.device.keymaterial import (
    KeyInfo,
    der_length,
    load_der,
    load_dropbear,
    load_pem_block,
    load_putty,
)
from firmproof.device.parsers.passwd import AccountLine, parse_passwd
from firmproof.device.parsers.pem import find_pem_blocks
from firmproof.device.parsers.sshkey import (
    AuthorizedKey,
    fingerprint,
    key_type_of_blob,
    looks_like_dropbear,
    parse_authorized_keys,
    parse_dropbear,
    parse_putty,
)
from firmproof.device.wordlists import known_test_keys, passphrases
from firmproof.fs import examined
from firmproof.fs.filetype import APK, ARCHIVE, DATA, ELF, EMPTY, MEDIA, PRIVATE_KEY, SCRIPT, TEXT
from firmproof.fs.rootfs import FileEntry, RootFS
from firmproof.model import Category, Finding, Rule, Severity

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

ADB_KEY = rule(
    "FP-KEY-005", Category.AUTHORIZED_KEY, Severity.CRITICAL,
    title="adb_keys entry lets a key holder use adb without confirmation",
    why="""An adb_keys file of the image trusts an adb RSA key: adbd accepts whoever holds the
        matching private key (the vendor, a factory or repair tool, an attacker who planted
        it) without the "Allow USB debugging?" prompt, so adb shell, app installs and file
        access are open to them over USB, or over the network when adb listens on TCP.
        `details.adb_fingerprint` is what the device's prompt would show; a file outside the
        places AOSP's adbd reads (`details.read_by_adbd` false) is high.""",
    confirm="""Read the quoted line: base64-decode its first word; it is 524 bytes, the first
        little-endian word is 64 (modulus words) and the last the exponent.
        `md5sum` of the decoded bytes is `details.adb_fingerprint`. On a device with USB
        debugging enabled, the holder's `adb devices` lists it as `device` without a prompt.""",
    references=["https://android.googlesource.com/platform/packages/modules/adb/+/refs/heads/main/daemon/auth.cpp",
                "https://android.googlesource.com/platform/system/core/+/refs/heads/main/libcrypto_utils/android_pubkey.cpp",
                "https://attack.mitre.org/techniques/T1098/", _CWE.format(798)],
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
    rules = (HOST_KEY, PRIVATE_KEY_RULE, ENCRYPTED_KEY, AUTHORIZED_KEY, ADB_KEY)

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
            if is_adb_keys(entry.path):
                findings.extend(self._adb_keys(fs, entry))
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


    def _adb_keys(self, fs: RootFS, entry: FileEntry) -> Iterator[Finding]:
        if entry.ftype not in (TEXT, SCRIPT, DATA) or entry.size > MAX_ADB_KEYS_BYTES:
            return
        data = fs.read(entry.path)
        if not data:
            return
        trusted = entry.path in ADB_KEY_PATHS
        for key in parse_adb_keys(data):
            yield ADB_KEY.at(fs, entry.path, key.start, key.end - key.start,
                             severity=None if trusted else Severity.HIGH,
                             user="shell", read_by_adbd=trusted, type=f"rsa-{key.bits}",
                             key_type="adb-rsa", fingerprint=key.fingerprint,
                             adb_fingerprint=key.adb_fingerprint, comment=key.comment)


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
        if fp and f.rule not in (AUTHORIZED_KEY, ADB_KEY):
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


# -- adb_keys -----------------------------------------------------------------------------

# the files AOSP's adbd reads its trusted keys from (ramdisk, data, product partition)
ADB_KEY_PATHS = frozenset({"/adb_keys", "/data/misc/adb/adb_keys", "/product/etc/security/adb_keys",
                           "/system/product/etc/security/adb_keys", "/system/adb_keys"})
MAX_ADB_KEYS_BYTES = 1024 * 1024
ADB_KEY_BYTES = 524             # sizeof(RSAPublicKey): 2 + 64 + 64 + 1 words
_ADB_WORDS = 64
_NOT_A_DEVICE_DIR = frozenset({"doc", "docs", "man", "test", "tests", "testdata", "test-data",
                               "fixtures", "example", "examples", "sample", "samples"})
_ADB_LINE = re.compile(rb"[^\r\n]+")


@dataclass(frozen=True)
class AdbKey:
    start: int                  # the line, leading and trailing blanks left out
    end: int
    bits: int
    fingerprint: str            # OpenSSH's SHA256 of the same RSA key as ssh-rsa
    adb_fingerprint: str        # MD5 of the decoded struct, as the device's prompt shows it
    comment: str


def is_adb_keys(path: str) -> bool:
    """An adb trust list of the device: a file named adb_keys that is not in a documentation,
    test or example folder, nor in a source tree."""
    folder, name = posixpath.split(path)
    if name != "adb_keys" or path.startswith(("/usr/share/", "/usr/src/", "/usr/include/")):
        return False
    return not any(part.lower() in _NOT_A_DEVICE_DIR for part in folder.split("/"))


def adb_public_key(blob: bytes) -> tuple[int, int] | None:
    """(n, e) of an adb RSAPublicKey struct when it is a consistent 2048-bit key, else None."""
    if len(blob) != ADB_KEY_BYTES:
        return None
    words, n0inv = int.from_bytes(blob[0:4], "little"), int.from_bytes(blob[4:8], "little")
    if words != _ADB_WORDS:
        return None
    size = 4 * _ADB_WORDS
    n = int.from_bytes(blob[8:8 + size], "little")
    rr = int.from_bytes(blob[8 + size:8 + 2 * size], "little")
    e = int.from_bytes(blob[8 + 2 * size:], "little")
    if e not in (3, 65537) or n % 2 == 0 or n.bit_length() != 32 * _ADB_WORDS:
        return None
    if (n0inv * n + 1) % (1 << 32) != 0 or rr != pow(2, 2 * 32 * _ADB_WORDS, n):
        return None
    return n, e


def _ssh_rsa_blob(n: int, e: int) -> bytes:
    def mpint(v: int) -> bytes:
        raw = v.to_bytes(v.bit_length() // 8 + 1, "big")
        return len(raw).to_bytes(4, "big") + raw
    return (7).to_bytes(4, "big") + b"ssh-rsa" + mpint(e) + mpint(n)


def parse_adb_keys(data: bytes) -> list[AdbKey]:
    """The valid keys of an adb_keys file: one per line, base64 of the struct then a comment
    (adbd reads up to the first blank); comments, blank and malformed lines are left out."""
    out: list[AdbKey] = []
    for m in _ADB_LINE.finditer(data):
        line = m.group(0)
        stripped = line.strip()
        if not stripped or stripped.startswith(b"#"):
            continue
        word, _, comment = stripped.partition(b" ")
        try:
            blob = base64.b64decode(word, validate=True)
        except ValueError:
            continue
        key = adb_public_key(blob)
        if key is None:
            continue
        lead = len(line) - len(line.lstrip())
        start = m.start() + lead
        digest = hashlib.md5(blob, usedforsecurity=False).hexdigest().upper()
        out.append(AdbKey(start, start + len(stripped), key[0].bit_length(),
                          fingerprint(_ssh_rsa_blob(*key)),
                          ":".join(digest[i:i + 2] for i in range(0, len(digest), 2)),
                          comment.strip().decode("utf-8", "replace")))
    return out


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
