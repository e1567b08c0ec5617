"""FP-KSTORE: private keys inside key stores (PKCS#12 .p12/.pfx, Java JKS and JCEKS).

TR-069/CWMP clients, VPN and Wi-Fi (EAP-TLS) supplicants and Java or Android programs
keep their client key in a key store sealed with a password; when that password is empty,
a tool default (`changeit`, keytool's) or a vendor default, the key is as public as the
firmware. Stores are recognised by content (firmproof.device.keystores), in every file of a
key-store name (.p12 .pfx .jks .keystore …) and every untyped data file, up to MAX_KEYSTORE_BYTES.

Severities: a store that opens with a password from the lists and holds a private key is
high, as a private key in clear is (FP-KEY-002): whoever has the firmware can present the
device's client certificate to its ACS, VPN or Wi-Fi network. It is not raised to critical
for an empty or vendor password: the key still only impersonates the device, it does not
open it (`details.password_source` says which list the password came from). A store holding
a private key whose password none of the guesses finds is medium, as a sealed PEM key is
(FP-KEY-003): the device opens it unattended, so its password is usually in the image too.
Stores with certificates only (trust stores such as Java's cacerts) are never findings.

Guessing is bounded: each store gets as many guesses as its own parameters say fit in
FILE_BUDGET_SECONDS (a PKCS#12 MAC with a high iteration count gets few), and once a view
has spent TOTAL_BUDGET_SECONDS the other stores get only the short list of tool defaults.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from typing import Any

from firmproof.analyzers.base import Analyzer, rule
from firmproof.analyzers.common import keystore_candidate
from firmproof.device.keystores import Keystore, StoredKey, open_store, store_format
from firmproof.device.wordlists import default_credentials, known_test_keys, passphrases
from firmproof.fs.rootfs import FileEntry, RootFS
from firmproof.model import Category, Finding, Severity

_CWE = "https://cwe.mitre.org/data/definitions/{}.html"

DEFAULT_PASSWORD_STORE = rule(
    "FP-KSTORE-001", Category.PRIVATE_KEY, Severity.HIGH,
    title="key store with a default password holds a private key",
    why="""A PKCS#12 or Java key store of the image opens with an empty, tool-default
        (`changeit`, `changeme`, `android`…), vendor-default or common password
        (`details.password`, `details.password_source`) and holds a private key
        (`details.type`, `details.fingerprint`) with its certificate (`details.certificate`:
        subject, issuer, expiry, SHA-256 fingerprint). Such stores carry TR-069/CWMP client
        certificates, VPN and Wi-Fi (EAP-TLS) client keys and signing keys of programs:
        whoever has the firmware presents the device's identity to its management server or
        network, or decrypts what was sent to it.""",
    confirm="""Extract the file and list it with the password: `openssl pkcs12 -info -in <file>
        -passin pass:<password> -nokeys` (add `-legacy` for RC2/3DES stores), or `keytool -list -v
        -keystore <file> -storepass <password>` (`-storetype JKS|JCEKS|PKCS12`). The certificate's
        SHA-256 fingerprint is `details.certificate.sha256`; `openssl pkcs12 -in <file> -nocerts
        -nodes -passin pass:<password> | openssl pkey -pubout` gives the public half of
        `details.fingerprint`.""",
    references=[_CWE.format(321), _CWE.format(798), _CWE.format(1392),
                "https://www.rfc-editor.org/rfc/rfc7292",
                "https://docs.oracle.com/en/java/javase/17/docs/specs/man/keytool.html"],
)
SEALED_STORE = rule(
    "FP-KSTORE-002", Category.PRIVATE_KEY, Severity.MEDIUM,
    title="password-protected key store holds a private key",
    why="""A PKCS#12 or Java key store of the image holds a private key behind a password that
        none of the usual ones opens (`details.tried` guesses). The key is shipped all the same:
        the device opens the store unattended, so the password is usually in the image too (a
        configuration file, a string in the program that loads the store), and a Java store's
        certificate chain is in clear (`details.certificate`).""",
    confirm="""Extract the file; `openssl pkcs12 -info -in <file> -noout` (PKCS#12) or `keytool
        -list -keystore <file>` (JKS/JCEKS) asks for a password. Search the image for the
        program and configuration that load the store (its name, `-storepass`, `keystorePass`,
        `pkcs12` options) for the password.""",
    references=[_CWE.format(321), _CWE.format(522), "https://www.rfc-editor.org/rfc/rfc7292"],
)

FILE_BUDGET_SECONDS = 2.0           # estimated cost of the guesses one store may get
TOTAL_BUDGET_SECONDS = 20.0         # over one view; past it, stores get the short list
KEYSTORE_PASSWORDS = ("", "changeit", "changeme", "password", "android", "secret", "123456")
SHORT_LIST = len(KEYSTORE_PASSWORDS)


@cache
def guesses() -> tuple[str, ...]:
    """Store passwords to try, in order: the tool defaults, then the key passphrase list
    (vendor defaults and common passwords)."""
    return tuple(dict.fromkeys([*KEYSTORE_PASSWORDS, *passphrases()]))


def password_source(password: str) -> str:
    if password == "":
        return "empty"
    if password in KEYSTORE_PASSWORDS:
        return "tool default"
    if any(d.password == password for d in default_credentials()):
        return "vendor default"
    return "common password"


class Keystores(Analyzer):
    family = "KSTORE"
    name = "keystores"
    rules = (DEFAULT_PASSWORD_STORE, SEALED_STORE)

    def run(self, fs: RootFS) -> Iterator[Finding]:
        findings = list(self._stores(fs))
        _link_copies(findings)
        yield from findings

    def _stores(self, fs: RootFS) -> Iterator[Finding]:
        spent = 0.0
        for entry in fs.files():
            if not keystore_candidate(entry):
                continue
            data = fs.read(entry.path)
            if not data or store_format(data) is None:
                continue
            tries = guesses() if spent < TOTAL_BUDGET_SECONDS else guesses()[:SHORT_LIST]
            store = open_store(data, tries, FILE_BUDGET_SECONDS)
            if store is None:
                continue
            spent += store.seconds
            for key in store.keys:
                yield self._finding(fs, entry, store, key)

    def _finding(self, fs: RootFS, entry: FileEntry, store: Keystore, key: StoredKey) -> Finding:
        details: dict[str, Any] = {"type": key.type, "fingerprint": key.fingerprint, "format": store.format}
        if key.fingerprint_of:
            details["fingerprint_of"] = key.fingerprint_of
        if key.alias is not None:
            details["alias"] = key.alias
        if key.certificate is not None:
            details["certificate"] = key.certificate
            details["chain_length"] = key.chain_length
        if key.key is None:
            details["tried"] = store.tried
            if store.password is not None:      # the store opened, the key's own password did not
                details["store_password"] = store.password
            if store.key_bags > 1:
                details["key_bags"] = store.key_bags
            return SEALED_STORE.at(fs, entry.path, key.offset, key.length, **details)
        assert store.password is not None
        details.update(password=store.password, password_source=password_source(store.password))
        known = known_test_keys().get(key.fingerprint or "")
        if known:
            details["known_key"] = known
            return DEFAULT_PASSWORD_STORE.at(fs, entry.path, key.offset, key.length, severity=Severity.INFO,
                                             title="key store holds a well-known test private key", **details)
        return DEFAULT_PASSWORD_STORE.at(fs, entry.path, key.offset, key.length, **details)


def _link_copies(findings: list[Finding]) -> None:
    """Name, in each finding, the other stores that hold the same key (one key, many files)."""
    by_fp: dict[str, list[Finding]] = {}
    for f in findings:
        if f.details.get("fingerprint"):
            by_fp.setdefault(f.details["fingerprint"], []).append(f)
    for same in by_fp.values():
        for f in same:
            others = sorted({o.path for o in same if o.path != f.path})
            if others:
                f.details["same_key_in"] = others


