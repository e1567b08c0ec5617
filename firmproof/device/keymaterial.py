"""Private keys of every common encoding, loaded with `cryptography` to prove they are keys.

A candidate found by the parsers (a PEM block, a DER blob, a Dropbear or PuTTY file) is
a key only when it loads: the private numbers must fit the public ones. What comes back
names the key the way `ssh-keygen -l` does: its type ('rsa-2048', 'ecdsa-p256',
'ed25519') and the SHA256 fingerprint of its public half, so the same key can be found
on a device or in another image.

Encrypted keys: the public half of an OpenSSH key is stored in clear (fingerprint known,
nothing decrypted); PEM and PKCS#8 keys are tried with a short list of passphrases, as
many as the key's KDF cost allows, and come back with the passphrase when one opens them.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InternalError, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa, x448, x25519

from firmproof.device.parsers.pem import PemBlock
from firmproof.device.parsers.sshkey import (
    DropbearKey,
    OpenSSHKey,
    PuttyKey,
    Reader,
    WireError,
    dropbear_public_blob,
    fingerprint,
    key_type_of_blob,
    parse_openssh_private,
)

PASSPHRASE_BUDGET_SECONDS = 1.0
PBKDF2_SECONDS_PER_ITERATION = 0.3e-6     # measured: 2048 iterations of PBKDF2-SHA256 ~0.6 ms
SCRYPT_FACTOR = 10
_CURVES = {"secp256r1": "ecdsa-p256", "secp384r1": "ecdsa-p384", "secp521r1": "ecdsa-p521"}
_SSH_CURVES = {"nistp256": ec.SECP256R1(), "nistp384": ec.SECP384R1(), "nistp521": ec.SECP521R1()}
# NotImplementedError: an SSH EC point not uncompressed; InternalError: a key OpenSSL parsed and refused
_LOAD_ERRORS = (ValueError, TypeError, UnsupportedAlgorithm, WireError, AssertionError, OverflowError,
                NotImplementedError, InternalError)
_OID_SCRYPT = bytes.fromhex("2b06010401da47040b")       # 1.3.6.1.4.1.11591.4.11
_TRADITIONAL_TYPES = {"RSA PRIVATE KEY": "rsa", "DSA PRIVATE KEY": "dsa", "EC PRIVATE KEY": "ec"}
_DEK_CIPHERS = {"DES-CBC", "DES-EDE3-CBC", "AES-128-CBC", "AES-192-CBC", "AES-256-CBC",
                "DES-EDE3-CFB", "DES-EDE-CBC", "CAMELLIA-128-CBC", "CAMELLIA-192-CBC",
                "CAMELLIA-256-CBC", "SEED-CBC", "IDEA-CBC", "BF-CBC"}

PrivateKey = Any   # any of cryptography's private key classes
# OpenSSL's RSA key check tests p and q for primality: minutes for the 15360-bit keys some
# binaries carry. `describe` checks the numbers fit together instead (_check_rsa).
_FAST: dict[str, Any] = {"unsafe_skip_rsa_key_validation": True}


@dataclass(frozen=True)
class KeyInfo:
    type: str                       # 'rsa-2048', 'ed25519', 'ecdsa-p256'; 'rsa'/'unknown' when sealed
    format: str                     # 'pem-pkcs1', 'pem-pkcs8', 'pem-sec1', 'openssh', 'der-pkcs8'…
    encrypted: bool
    fingerprint: str | None         # 'SHA256:…' of the public half; None when it cannot be known
    fingerprint_of: str | None = None   # 'ssh-public-key' or 'subject-public-key-info'
    passphrase: str | None = None   # the passphrase that opened an encrypted key
    cipher: str | None = None
    comment: str | None = None

    def details(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "fingerprint": self.fingerprint,
                               "encrypted": self.encrypted, "format": self.format}
        for name in ("fingerprint_of", "passphrase", "cipher", "comment"):
            value = getattr(self, name)
            if value is not None and value != "":
                out[name] = value
        return out


# -- the public half ------------------------------------------------------------------------


def key_type(public: Any) -> str:
    if isinstance(public, rsa.RSAPublicKey):
        return f"rsa-{public.key_size}"
    if isinstance(public, dsa.DSAPublicKey):
        return f"dsa-{public.key_size}"
    if isinstance(public, ec.EllipticCurvePublicKey):
        return _CURVES.get(public.curve.name, f"ec-{public.curve.name}")
    for cls, name in ((ed25519.Ed25519PublicKey, "ed25519"), (ed448.Ed448PublicKey, "ed448"),
                      (x25519.X25519PublicKey, "x25519"), (x448.X448PublicKey, "x448")):
        if isinstance(public, cls):
            return name
    return "unknown"


def ssh_blob(public: Any) -> bytes | None:
    """The SSH wire blob of a public key, None for a key SSH cannot carry."""
    if isinstance(public, dsa.DSAPublicKey):    # built here: the library is dropping ssh-dss
        n = public.public_numbers()
        fields = (n.parameter_numbers.p, n.parameter_numbers.q, n.parameter_numbers.g, n.y)
        return _string(b"ssh-dss") + b"".join(_string(v.to_bytes(v.bit_length() // 8 + 1, "big"))
                                              for v in fields)
    try:
        line = public.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        return None
    return base64.b64decode(line.split()[1])


def _check_rsa(key: rsa.RSAPrivateKey) -> None:
    """The private numbers of an RSA key fit its public ones (no primality test)."""
    n = key.private_numbers()
    e, modulus = n.public_numbers.e, n.public_numbers.n
    if (n.p * n.q != modulus or n.p < 3 or n.q < 3 or (e * n.dmp1) % (n.p - 1) != 1
            or (e * n.dmq1) % (n.q - 1) != 1 or (n.iqmp * n.q) % n.p != 1
            or n.d % (n.p - 1) != n.dmp1 or n.d % (n.q - 1) != n.dmq1):
        raise ValueError("RSA private numbers do not fit the public key")


def _string(data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + data


def describe(private: PrivateKey, fmt: str, *, encrypted: bool = False, passphrase: str | None = None,
             comment: str | None = None) -> KeyInfo:
    """Type and fingerprint of a loaded key; ValueError when an RSA key does not fit together."""
    if isinstance(private, rsa.RSAPrivateKey):
        _check_rsa(private)
    public = private.public_key()
    fp, of = public_fingerprint(public)
    return KeyInfo(key_type(public), fmt, encrypted, fp, of, passphrase, comment=comment)


def public_fingerprint(public: Any) -> tuple[str, str]:
    """(fingerprint, what it is of) of a public key: SHA256 of the SSH public-key blob for the
    types SSH knows, else of the DER SubjectPublicKeyInfo."""
    blob = ssh_blob(public)
    if blob is not None:
        return fingerprint(blob), "ssh-public-key"
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return "SHA256:" + base64.b64encode(hashlib.sha256(spki).digest()).decode().rstrip("="), \
        "subject-public-key-info"


# -- DER ---------------------------------------------------------------------------------------


def der_length(data: bytes, pos: int = 0) -> int | None:
    """Total length of the DER TLV at `pos` (tag, length and content), None if malformed."""
    if pos + 2 > len(data):
        return None
    first = data[pos + 1]
    if first < 0x80:
        size, head = first, 2
    else:
        n = first & 0x7F
        if n == 0 or n > 3 or pos + 2 + n > len(data):
            return None
        size, head = int.from_bytes(data[pos + 2:pos + 2 + n], "big"), 2 + n
    total = head + size
    return total if pos + total <= len(data) else None


def der_children(data: bytes, start: int, end: int) -> list[tuple[int, int, int, int]]:
    """(tag, start, content start, end) of the TLVs between start and end; empty when one of
    them is malformed."""
    out = []
    pos = start
    while pos < end:
        total = der_length(data, pos)
        if total is None or pos + total > end:
            return []
        first = data[pos + 1]
        head = 2 if first < 0x80 else 2 + (first & 0x7F)
        out.append((data[pos], pos, pos + head, pos + total))
        pos += total
    return out


def der_inside(data: bytes, pos: int) -> list[tuple[int, int, int, int]]:
    """der_children of the constructed TLV at `pos`; empty when it is malformed or primitive."""
    total = der_length(data, pos)
    if total is None or not data[pos] & 0x20:
        return []
    first = data[pos + 1]
    return der_children(data, pos + 2 + (first & 0x7F if first >= 0x80 else 0), pos + total)


def _encrypted_pkcs8_cost(der: bytes) -> float | None:
    """Seconds one passphrase guess costs for an EncryptedPrivateKeyInfo; None if `der` is none."""
    total = der_length(der)
    if total is None or der[0] != 0x30:
        return None
    top = der_inside(der, 0)
    if len(top) != 2 or top[0][0] != 0x30 or top[1][0] != 0x04:
        return None
    iterations = _first_integer(der, top[0][2], top[0][3]) or 2048
    factor = SCRYPT_FACTOR if _OID_SCRYPT in der[top[0][2]:top[0][3]] else 1
    return iterations * PBKDF2_SECONDS_PER_ITERATION * factor


def _first_integer(data: bytes, start: int, end: int, depth: int = 0) -> int | None:
    if depth > 6:
        return None
    for tag, _, a, b in der_children(data, start, end):
        if tag == 0x02:
            return int.from_bytes(data[a:b], "big")
        if tag == 0x30:
            found = _first_integer(data, a, b, depth + 1)
            if found is not None:
                return found
    return None


def _der_format(der: bytes) -> str:
    head = 2 if der[1] < 0x80 else 2 + (der[1] & 0x7F)
    body = der[head:head + 4]
    if body[:3] == b"\x02\x01\x01":
        return "sec1"
    if body[:3] == b"\x02\x01\x00" and body[3:4] == b"\x30":
        return "pkcs8"
    if body[:3] == b"\x02\x01\x00":
        return "pkcs1"
    if body[:1] == b"\x30":
        return "pkcs8-encrypted"
    return "der"


# -- passphrases -------------------------------------------------------------------------------


def _open(load: Callable[[bytes | None], PrivateKey], passphrases: Sequence[str],
          seconds_per_guess: float) -> tuple[PrivateKey, str] | None:
    limit = max(1, int(PASSPHRASE_BUDGET_SECONDS / max(seconds_per_guess, 1e-6)))
    for guess in passphrases[:limit]:
        try:
            return load(guess.encode("utf-8")), guess
        except _LOAD_ERRORS:
            continue
    return None


# -- loaders -------------------------------------------------------------------------------------


def load_pem_block(block: PemBlock, passphrases: Sequence[str] = ()) -> KeyInfo | None:
    """The key of a PEM block labelled '… PRIVATE KEY', None when it does not load."""
    der = block.der
    if der is None or not block.is_private_key:
        return None
    try:
        if block.label == "OPENSSH PRIVATE KEY":
            return _openssh(block, der)
        if block.label == "ENCRYPTED PRIVATE KEY":
            return _encrypted_pkcs8(der, "pem-pkcs8-encrypted", passphrases)
        if block.label in _TRADITIONAL_TYPES and "ENCRYPTED" in block.headers.get("Proc-Type", ""):
            return _encrypted_traditional(block, der, passphrases)
        key = serialization.load_pem_private_key(block.canonical(), None, **_FAST)
        fmt = {"PRIVATE KEY": "pem-pkcs8", "EC PRIVATE KEY": "pem-sec1"}.get(block.label, "pem-pkcs1")
        return describe(key, fmt)
    except _LOAD_ERRORS:
        return None


def _openssh(block: PemBlock, der: bytes) -> KeyInfo | None:
    container = parse_openssh_private(der)
    if container is None:
        return None
    if container.encrypted:
        return _sealed_openssh(container)
    key = serialization.load_ssh_private_key(block.canonical(), None, **_FAST)
    info = describe(key, "openssh", comment=container.comment)
    return info if info.fingerprint == fingerprint(container.public_blob) else None


def _sealed_openssh(container: OpenSSHKey) -> KeyInfo | None:
    kind = key_type_of_blob(container.public_blob)
    if kind is None:
        return None
    return KeyInfo(kind, "openssh", True, fingerprint(container.public_blob), "ssh-public-key",
                   cipher=container.cipher)


def _encrypted_pkcs8(der: bytes, fmt: str, passphrases: Sequence[str]) -> KeyInfo | None:
    cost = _encrypted_pkcs8_cost(der)
    if cost is None:
        return None
    opened = _open(lambda pw: serialization.load_der_private_key(der, pw, **_FAST), passphrases, cost)
    if opened is not None:
        return describe(opened[0], fmt, encrypted=True, passphrase=opened[1])
    return KeyInfo("unknown", fmt, True, None, cipher="pkcs8")


def _encrypted_traditional(block: PemBlock, der: bytes, passphrases: Sequence[str]) -> KeyInfo | None:
    cipher = block.headers.get("DEK-Info", "").split(",")[0].strip().upper()
    if cipher not in _DEK_CIPHERS or len(der) % 8:
        return None
    pem = block.canonical()
    opened = _open(lambda pw: serialization.load_pem_private_key(pem, pw, **_FAST), passphrases, 2e-5)
    fmt = "pem-sec1" if block.label == "EC PRIVATE KEY" else "pem-pkcs1"
    if opened is not None:
        return describe(opened[0], fmt, encrypted=True, passphrase=opened[1])
    return KeyInfo(_TRADITIONAL_TYPES[block.label], fmt, True, None, cipher=cipher.lower())


def load_der(data: bytes, passphrases: Sequence[str] = ()) -> KeyInfo | None:
    """A DER private key (PKCS#1 RSA/DSA, SEC1 EC, PKCS#8, encrypted PKCS#8) that spans
    exactly `data`; None when it does not load."""
    if len(data) < 32 or data[0] != 0x30 or der_length(data) != len(data):
        return None
    fmt = "der-" + _der_format(data)
    try:
        if fmt == "der-pkcs8-encrypted":
            return _encrypted_pkcs8(data, fmt, passphrases)
        return describe(serialization.load_der_private_key(data, None, **_FAST), fmt)
    except _LOAD_ERRORS:
        return None


def load_dropbear(key: DropbearKey) -> KeyInfo | None:
    """A Dropbear key file, checked by rebuilding the key from its numbers."""
    try:
        private = _dropbear_private(key)
        if private is None:
            return None
        info = describe(private, "dropbear")
    except _LOAD_ERRORS:
        return None
    return info if info.fingerprint == fingerprint(dropbear_public_blob(key)) else None


def _dropbear_private(key: DropbearKey) -> PrivateKey | None:
    if key.key_type == "ssh-rsa":
        e, n, d = key.numbers[:3]
        p, q = key.numbers[3:5] if len(key.numbers) == 5 else rsa.rsa_recover_prime_factors(n, e, d)
        return _rsa(n, e, d, p, q)
    if key.key_type == "ssh-dss":
        p, q, g, y, x = key.numbers
        return _dsa(p, q, g, y, x)
    if key.key_type == "ssh-ed25519":
        edkey = ed25519.Ed25519PrivateKey.from_private_bytes(key.ed25519[:32])
        raw = edkey.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return edkey if raw == key.ed25519[32:] else None
    curve = _SSH_CURVES.get(key.curve)
    if curve is None:
        return None
    private = ec.derive_private_key(key.numbers[0], curve)
    point = private.public_key().public_bytes(serialization.Encoding.X962,
                                              serialization.PublicFormat.UncompressedPoint)
    return private if point == key.point else None


def _rsa(n: int, e: int, d: int, p: int, q: int) -> PrivateKey:
    if p * q != n:
        raise ValueError("p*q != n")
    numbers = rsa.RSAPrivateNumbers(p, q, d, rsa.rsa_crt_dmp1(d, p), rsa.rsa_crt_dmq1(d, q),
                                    rsa.rsa_crt_iqmp(p, q), rsa.RSAPublicNumbers(e, n))
    return numbers.private_key(**_FAST)


def _dsa(p: int, q: int, g: int, y: int, x: int) -> PrivateKey:
    if p < 3 or pow(g, x, p) != y:
        raise ValueError("g^x != y")
    return dsa.DSAPrivateNumbers(x, dsa.DSAPublicNumbers(y, dsa.DSAParameterNumbers(p, q, g))).private_key()


def load_putty(key: PuttyKey) -> KeyInfo | None:
    """A PuTTY key: the public blob gives type and fingerprint; an unencrypted private blob
    must fit it."""
    kind = key_type_of_blob(key.public_blob)
    if kind is None or Reader(key.public_blob).text() != key.key_type:
        return None
    fp = fingerprint(key.public_blob)
    fmt = f"putty-v{key.version}"
    if key.encrypted:
        return KeyInfo(kind, fmt, True, fp, "ssh-public-key", cipher=key.encryption,
                       comment=key.comment or None)
    try:
        private = _putty_private(key)
        if private is None:
            return None
        info = describe(private, fmt, comment=key.comment or None)
    except _LOAD_ERRORS:
        return None
    return info if info.fingerprint == fp else None


def _putty_private(key: PuttyKey) -> PrivateKey | None:
    pub, priv = Reader(key.public_blob), Reader(key.private_blob)
    name = pub.text()
    if name == "ssh-rsa":
        e, n = pub.mpint(), pub.mpint()
        d, p, q = priv.mpint(), priv.mpint(), priv.mpint()
        return _rsa(n, e, d, p, q)
    if name == "ssh-dss":
        p, q, g, y = (pub.mpint() for _ in range(4))
        return _dsa(p, q, g, y, priv.mpint())
    if name == "ssh-ed25519":
        public_raw = pub.string()
        edkey = ed25519.Ed25519PrivateKey.from_private_bytes(priv.string())
        raw = edkey.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return edkey if raw == public_raw else None
    if name.startswith("ecdsa-sha2-"):
        curve = _SSH_CURVES.get(pub.text())
        point = pub.string()
        if curve is None:
            return None
        private = ec.derive_private_key(priv.mpint(), curve)
        ours = private.public_key().public_bytes(serialization.Encoding.X962,
                                                 serialization.PublicFormat.UncompressedPoint)
        return private if ours == point else None
    return None
