"""Key stores opened with a list of passwords: PKCS#12 (.p12/.pfx, `openssl pkcs12`, keytool's
default) through `cryptography`, JKS and JCEKS (keytool's older formats) through
firmproof.device.parsers.jks and the key protectors of the JDK, rebuilt here on hashlib and
`cryptography`.

A store is recognised by its content: PKCS#12 is a DER SEQUENCE { INTEGER 3, ContentInfo
(PKCS#7 data or signedData) … }, JKS and JCEKS open with their magic. What one password
guess costs is read from the store itself (the MAC's iteration count for PKCS#12, the file
size for JKS, whose password check is one SHA-1 over the whole file), so how many guesses
a store gets is decided from its bytes alone, never from a clock: two scans of one image
give the same findings.

What comes back names each private key the way firmproof.device.keymaterial does (type and
fingerprint of the public half) plus the certificate it belongs to; a store that does not
open still tells what it holds when that is written in clear (PKCS#12 key bags, the entries
and certificate chains of a JKS).
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography import x509
from cryptography.exceptions import InternalError, UnsupportedAlgorithm
from cryptography.hazmat.decrepit.ciphers.algorithms import TripleDES
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.ciphers import Cipher, modes
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.utils import CryptographyDeprecationWarning

from firmproof.device.keymaterial import (
    KeyInfo,
    PrivateKey,
    der_inside,
    der_length,
    describe,
    key_type,
    public_fingerprint,
)
from firmproof.device.parsers import jks

PKCS12 = "pkcs12"
# measured (OpenSSL 3.0, x86-64): a wrong password costs 0.27 ms at 2048 MAC iterations
# (openssl's default), 0.9 ms at keytool's 10000, 20 ms at 200000: ~0.1 µs an iteration
PKCS12_SECONDS_PER_ITERATION = 0.15e-6
PKCS12_SECONDS_PER_GUESS = 50e-6           # the parse around the MAC check
PKCS12_DEFAULT_ITERATIONS = 2048           # no MacData: the bags' own PBE decides
PKCS12_SECONDS_TO_LOAD_KEY = 0.5           # OpenSSL checks the RSA key it loads: 2048 bits 70 ms, 4096 0.5 s
JKS_SECONDS_PER_BYTE = 2e-9                # SHA-1 over the store, per guess
JKS_SECONDS_PER_GUESS = 5e-6
JCEKS_SECONDS_PER_ITERATION = 3e-6        # measured: keytool's 200000 iterations take ~0.6 s

_LOAD_ERRORS = (ValueError, TypeError, UnsupportedAlgorithm, OverflowError, InternalError)   # see keymaterial
_FAST: dict[str, Any] = {"unsafe_skip_rsa_key_validation": True}   # describe() checks RSA numbers
_OID_PKCS7_DATA = bytes.fromhex("06092a864886f70d010701")
_OID_PKCS7_SIGNED = bytes.fromhex("06092a864886f70d010702")
_OID_PBKDF2 = bytes.fromhex("06092a864886f70d01050c")               # 1.2.840.113549.1.5.12
_OID_PKCS12_PBE = bytes.fromhex("060a2a864886f70d010c01")           # 1.2.840.113549.1.12.1.(1-6)
_OID_KEY_BAG = bytes.fromhex("060b2a864886f70d010c0a0101")           # 1.2.840.113549.1.12.10.1.1
_OID_SHROUDED_KEY_BAG = bytes.fromhex("060b2a864886f70d010c0a0102")  # 1.2.840.113549.1.12.10.1.2
_OID_JKS_PROTECTOR = bytes.fromhex("060a2b060104012a02110101")  # 1.3.6.1.4.1.42.2.17.1.1
_OID_JCEKS_PROTECTOR = bytes.fromhex("06092b060104012a021301")        # 1.3.6.1.4.1.42.2.19.1
_JKS_WHITENER = b"Mighty Aphrodite"


@dataclass(frozen=True)
class StoredKey:
    """One private key of a store, opened or not."""

    offset: int                    # the bytes that hold it: the JKS entry, the whole PKCS#12
    length: int
    alias: str | None
    key: KeyInfo | None            # the key, when the store (and the key) opened
    type: str                      # 'rsa-2048'…; from the certificate when the key is sealed
    fingerprint: str | None
    fingerprint_of: str | None
    certificate: dict[str, Any] | None
    chain_length: int


@dataclass(frozen=True)
class Keystore:
    format: str                    # 'pkcs12', 'jks', 'jceks'
    length: int                    # bytes of the store (a PKCS#12 may be followed by padding)
    password: str | None           # the store password that opened it; None: none of the guesses
    tried: int                     # guesses made
    seconds_per_guess: float       # estimated from the store's parameters
    seconds: float                 # estimated cost of everything tried (guesses, key unprotection)
    keys: tuple[StoredKey, ...] = field(default=())
    certificates: int = 0          # certificates the store holds (trusted ones included)
    key_bags: int = 0              # PKCS#12 key bags seen in clear in a store that did not open


def store_format(data: bytes) -> str | None:
    """'pkcs12', 'jks' or 'jceks' from the content; None for anything else."""
    fmt = jks.store_format(data)
    if fmt is not None:
        return fmt
    return PKCS12 if _pkcs12_length(data) is not None else None


def costs(data: bytes, fmt: str) -> tuple[float, float]:
    """Estimated seconds of one wrong password guess against this store, and the extra
    seconds the right one costs (decrypting what the password seals)."""
    if fmt != PKCS12:
        return JKS_SECONDS_PER_GUESS + len(data) * JKS_SECONDS_PER_BYTE, 0.0
    opening = _pkcs12_pbe_iterations(data) * PKCS12_SECONDS_PER_ITERATION
    mac = _pkcs12_mac_iterations(data)
    if mac is None:                  # no MAC: every guess decrypts
        default = PKCS12_DEFAULT_ITERATIONS * PKCS12_SECONDS_PER_ITERATION
        return PKCS12_SECONDS_PER_GUESS + max(opening, default), PKCS12_SECONDS_TO_LOAD_KEY
    return PKCS12_SECONDS_PER_GUESS + mac * PKCS12_SECONDS_PER_ITERATION, opening + PKCS12_SECONDS_TO_LOAD_KEY


def seconds_per_guess(data: bytes, fmt: str) -> float:
    """Estimated cost of one wrong password guess against this store."""
    return costs(data, fmt)[0]


def open_store(data: bytes, guesses: Sequence[str], budget_seconds: float) -> Keystore | None:
    """The store in `data` tried with `guesses` in order, as many as fit `budget_seconds`
    (none when even opening it with the right password would not); None when `data` is no
    key store."""
    fmt = store_format(data)
    if fmt is None:
        return None
    cost, opening = costs(data, fmt)
    limit = max(0, min(len(guesses), int((budget_seconds - opening) / cost)))
    if fmt == PKCS12:
        return _open_pkcs12(data, guesses[:limit], cost, opening)
    parsed = jks.parse_keystore(data)
    return _open_jks(data, parsed, guesses[:limit], cost, budget_seconds) if parsed else None


# -- PKCS#12 -----------------------------------------------------------------------------------


def _open_pkcs12(data: bytes, guesses: Sequence[str], cost: float, opening: float) -> Keystore:
    length = _pkcs12_length(data) or len(data)
    blob = data[:length]
    for tried, guess in enumerate(guesses, 1):
        try:
            store = pkcs12.load_pkcs12(blob, guess.encode("utf-8"))
        except _LOAD_ERRORS:
            continue
        certs = [c.certificate for c in ([store.cert] if store.cert else []) + store.additional_certs]
        keys: tuple[StoredKey, ...] = ()
        if store.key is not None:
            cert = store.cert.certificate if store.cert else _matching_cert(store.key, certs)
            alias = store.cert.friendly_name if store.cert else None
            info = _describe(store.key, PKCS12, guess)
            if info is not None:
                keys = (StoredKey(0, length, alias.decode("utf-8", "replace") if alias else None, info,
                                  info.type, info.fingerprint, info.fingerprint_of,
                                  certificate_details(cert) if cert else None, len(certs)),)
        return Keystore(PKCS12, length, guess, tried, cost, tried * cost + opening, keys, len(certs))
    # sealed: the key bags are usually in a plain (unencrypted) PKCS#7 data of the authSafe
    bags = blob.count(_OID_SHROUDED_KEY_BAG) + blob.count(_OID_KEY_BAG)
    sealed = (StoredKey(0, length, None, None, "unknown", None, None, None, 0),) if bags else ()
    return Keystore(PKCS12, length, None, len(guesses), cost, len(guesses) * cost, sealed, key_bags=bags)


def _pkcs12_length(data: bytes) -> int | None:
    """Length of the PFX at the start of `data`: SEQUENCE { INTEGER 3, ContentInfo … }."""
    if len(data) < 32 or data[0] != 0x30:
        return None
    parts = der_inside(data, 0)
    if len(parts) < 2 or parts[0][0] != 0x02 or data[parts[0][2]:parts[0][3]] != b"\x03":
        return None
    tag, _, start, _ = parts[1]
    content = data[start:start + len(_OID_PKCS7_DATA)]
    if tag != 0x30 or content not in (_OID_PKCS7_DATA, _OID_PKCS7_SIGNED):
        return None
    return der_length(data)


def _pkcs12_mac_iterations(data: bytes) -> int | None:
    """MacData.iterations (DEFAULT 1) of a PFX; None when there is no MacData."""
    parts = der_inside(data, 0)
    if len(parts) < 3 or parts[2][0] != 0x30:
        return None
    mac = der_inside(data, parts[2][1])
    if len(mac) < 3:
        return 1
    tag, _, start, end = mac[2]
    if tag != 0x02:
        return 1
    return int.from_bytes(data[start:end], "big") if end - start <= 8 else 1 << 64


def _pkcs12_pbe_iterations(data: bytes) -> int:
    """Iterations of every password-based encryption of the store (PBES2's PBKDF2 and the
    PKCS#12 PBE schemes), whose parameters are in clear: SEQUENCE { salt, iterations … }."""
    total = 0
    for oid, arc in ((_OID_PBKDF2, 0), (_OID_PKCS12_PBE, 1)):
        pos = data.find(oid)
        while pos != -1:
            params = der_inside(data, pos + len(oid) + arc) if pos + len(oid) + arc < len(data) else []
            if len(params) >= 2 and params[0][0] == 0x04 and params[1][0] == 0x02:
                count = data[params[1][2]:params[1][3]]
                total += int.from_bytes(count, "big") if len(count) <= 4 else 1 << 32
            pos = data.find(oid, pos + 1)
    return total


# -- JKS and JCEKS -----------------------------------------------------------------------------


def store_password_matches(data: bytes, password: str, body_end: int | None = None) -> bool:
    """The JKS/JCEKS integrity check: SHA-1(password as UTF-16BE, 'Mighty Aphrodite', body)
    equals the 20 bytes after the body (by default, the last 20 of `data`)."""
    end = len(data) - jks.DIGEST_SIZE if body_end is None else body_end
    digest = hashlib.sha1(password.encode("utf-16-be") + _JKS_WHITENER, usedforsecurity=False)
    digest.update(memoryview(data)[:end])
    return digest.digest() == data[end:end + jks.DIGEST_SIZE]


def _open_jks(data: bytes, store: jks.JavaKeyStore, guesses: Sequence[str], cost: float,
              budget_seconds: float) -> Keystore:
    body_end = store.end if store.complete else None     # a store padded at the end of a partition
    password = next((g for g in guesses if store_password_matches(data, g, body_end)), None)
    tried = guesses.index(password) + 1 if password is not None else len(guesses)
    spent = tried * cost
    keys = []
    for entry in store.private_keys:
        chain = [c for c in (_certificate(der) for der in entry.certificates) if c is not None]
        leaf = chain[0] if chain else None
        info = None
        if password is not None:
            iterations = jceks_iterations(entry.protected_key) or 0
            if spent + iterations * JCEKS_SECONDS_PER_ITERATION > budget_seconds:
                iterations = -1          # too dear: left sealed
            spent += max(iterations, 0) * JCEKS_SECONDS_PER_ITERATION
            plain = unprotect_key(entry.protected_key, password) if iterations >= 0 else None
            private = _load_pkcs8(plain) if plain else None
            info = _describe(private, store.format, password) if private is not None else None
        if info is not None:
            kind, fp, of = info.type, info.fingerprint, info.fingerprint_of
        elif leaf is not None:
            kind, fp, of = public_half(leaf.public_key())
        else:
            kind, fp, of = "unknown", None, None
        keys.append(StoredKey(entry.start, entry.end - entry.start, entry.alias, info, kind, fp, of,
                              certificate_details(leaf) if leaf else None, len(chain)))
    certificates = sum(len(e.certificates) for e in store.entries)
    length = store.end + jks.DIGEST_SIZE if store.complete else len(data)
    return Keystore(store.format, length, password, tried, cost, spent, tuple(keys), certificates)


def unprotect_key(protected: bytes, password: str) -> bytes | None:
    """The PKCS#8 PrivateKeyInfo inside a JKS or JCEKS protected key; None for a wrong password."""
    algorithm = _protector(protected)
    if algorithm is None:
        return None
    oid, sealed, params = algorithm
    if oid == _OID_JKS_PROTECTOR:
        return _jks_unprotect(sealed, password)
    if oid == _OID_JCEKS_PROTECTOR and params is not None:
        return _jceks_unprotect(sealed, password, *params)
    return None


def jceks_iterations(protected: bytes) -> int | None:
    """The iteration count of a JCEKS protected key (PBEWithMD5AndTripleDES); None for others."""
    algorithm = _protector(protected)
    return algorithm[2][1] if algorithm and algorithm[2] else None


def _protector(protected: bytes) -> tuple[bytes, bytes, tuple[bytes, int] | None] | None:
    """(algorithm OID TLV, sealed bytes, (salt, iterations) of a PBEParameter) of an
    EncryptedPrivateKeyInfo."""
    parts = der_inside(protected, 0)
    if len(parts) != 2 or parts[0][0] != 0x30 or parts[1][0] != 0x04:
        return None
    algorithm = der_inside(protected, parts[0][1])
    if not algorithm or algorithm[0][0] != 0x06:
        return None
    oid = protected[algorithm[0][1]:algorithm[0][3]]
    sealed = protected[parts[1][2]:parts[1][3]]
    params = der_inside(protected, algorithm[1][1]) if len(algorithm) == 2 else []
    if len(params) == 2 and params[0][0] == 0x04 and params[1][0] == 0x02:
        salt, count = (protected[p[2]:p[3]] for p in params)
        if len(count) <= 4:
            return oid, sealed, (salt, int.from_bytes(count, "big"))
    return oid, sealed, None


def _jks_unprotect(sealed: bytes, password: str) -> bytes | None:
    """sun.security.provider.KeyProtector: salt(20) | key XOR SHA-1 stream | SHA-1 check(20)."""
    if len(sealed) < 41:
        return None
    salt, body, check = sealed[:20], sealed[20:-20], sealed[-20:]
    secret = password.encode("utf-16-be")
    stream = bytearray()
    digest = salt
    while len(stream) < len(body):
        digest = hashlib.sha1(secret + digest, usedforsecurity=False).digest()
        stream += digest
    plain = bytes(a ^ b for a, b in zip(body, stream, strict=False))
    return plain if hashlib.sha1(secret + plain, usedforsecurity=False).digest() == check else None


def _jceks_unprotect(sealed: bytes, password: str, salt: bytes, iterations: int) -> bytes | None:
    """com.sun.crypto.provider.KeyProtector: PBEWithMD5AndTripleDES as the JDK derives it
    (each salt half hashed `iterations` times with the password; equal halves: the first one
    shuffled the JDK's way)."""
    if len(salt) != 8 or iterations <= 0 or len(sealed) % 8 or not sealed:
        return None
    try:
        secret = password.encode("ascii")
    except UnicodeEncodeError:
        return None                  # the JDK refuses non-ASCII passwords here
    halves = [salt[:4], salt[4:]]
    if halves[0] == halves[1]:
        halves[0] = bytes([salt[3], salt[0], salt[1], salt[3]])
    derived = b""
    for half in halves:
        block = half
        for _ in range(iterations):
            block = hashlib.md5(block + secret, usedforsecurity=False).digest()
        derived += block
    decryptor = Cipher(TripleDES(derived[:24]), modes.CBC(derived[24:])).decryptor()
    padded = decryptor.update(sealed) + decryptor.finalize()
    pad = padded[-1]
    if not 1 <= pad <= 8 or padded[-pad:] != bytes([pad]) * pad:
        return None
    return padded[:-pad]


# -- keys and certificates ---------------------------------------------------------------------


def certificate_details(cert: x509.Certificate) -> dict[str, Any]:
    """What `openssl x509 -noout -subject -issuer -enddate -fingerprint -sha256` prints."""
    return {"subject": cert.subject.rfc4514_string(), "issuer": cert.issuer.rfc4514_string(),
            "not_before": cert.not_valid_before_utc.isoformat(),
            "not_after": cert.not_valid_after_utc.isoformat(),
            "sha256": cert.fingerprint(hashes.SHA256()).hex(":").upper(),
            "self_signed": cert.subject == cert.issuer}


def public_half(public: Any) -> tuple[str, str | None, str | None]:
    """Type and fingerprint of a public key, as firmproof.device.keymaterial.describe names them."""
    try:
        fp, of = public_fingerprint(public)
    except _LOAD_ERRORS:
        return key_type(public), None, None
    return key_type(public), fp, of


def _describe(private: PrivateKey, fmt: str, password: str) -> KeyInfo | None:
    try:
        return describe(private, fmt, encrypted=True, passphrase=password)
    except _LOAD_ERRORS:
        return None


def _load_pkcs8(plain: bytes) -> PrivateKey | None:
    try:
        return serialization.load_der_private_key(plain, None, **_FAST)
    except _LOAD_ERRORS:
        return None


def _certificate(der: bytes) -> x509.Certificate | None:
    """The certificate, or None when it cannot be read whole (cryptography parses its public
    key and validity lazily: a damaged one would raise later, in the middle of a finding)."""
    try:
        with warnings.catch_warnings():     # a damaged serial number warns before it raises
            warnings.simplefilter("ignore", CryptographyDeprecationWarning)
            cert = x509.load_der_x509_certificate(der)
        cert.public_key()
        certificate_details(cert)
    except (*_LOAD_ERRORS, x509.InvalidVersion):
        return None
    return cert


def _matching_cert(private: PrivateKey, certs: list[x509.Certificate]) -> x509.Certificate | None:
    mine = public_half(private.public_key())[1]
    return next((c for c in certs if public_half(c.public_key())[1] == mine), None)
