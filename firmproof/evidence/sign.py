"""Signed reports: a DSSE envelope over the canonical report, ed25519 through `cryptography`.

The envelope is DSSE v1 (the envelope in-toto attestations travel in): the payload is the
report itself as canonical JSON (sorted keys, no whitespace, UTF-8), the payload type names
the report format, and the signature covers the pre-authentication encoding (PAE) of both.
The report already names its image by sha256 and size, so wrapping it in an in-toto
Statement would only repeat that digest; the plain envelope keeps the signed bytes equal to
the report a reader already has. The envelope lies next to the report as
`REPORT.json.dsse.json`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from firmproof.report.file import ReportFileError, read_json

PAYLOAD_TYPE = "application/vnd.firmproof.report+json"
SUFFIX = ".dsse.json"


class SignError(Exception):
    """A key or envelope cannot be used: a one-line message."""


def canonical(report: dict[str, Any]) -> bytes:
    return json.dumps(report, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE v1 pre-authentication encoding."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def envelope_path(report_path: Path) -> Path:
    return report_path.with_name(report_path.name + SUFFIX)


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def keyid(public: Ed25519PublicKey) -> str:
    return "sha256:" + hashlib.sha256(_raw(public)).hexdigest()


def load_private(path: Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except OSError as exc:
        raise SignError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (ValueError, TypeError) as exc:
        raise SignError(f"{path}: not an unencrypted PEM private key ({exc})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise SignError(f"{path}: not an ed25519 key")
    return key


def load_public(path: Path) -> Ed25519PublicKey:
    try:
        data = path.read_bytes()
        key: Any = serialization.load_pem_public_key(data)
    except OSError as exc:
        raise SignError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError:
        try:
            key = serialization.load_pem_private_key(data, password=None).public_key()
        except (ValueError, TypeError) as exc:
            raise SignError(f"{path}: not a PEM public key ({exc})") from None
    if not isinstance(key, Ed25519PublicKey):
        raise SignError(f"{path}: not an ed25519 key")
    return key


def sign(report: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    payload = canonical(report)
    signature = key.sign(pae(PAYLOAD_TYPE, payload))
    return {"payloadType": PAYLOAD_TYPE,
            "payload": base64.b64encode(payload).decode("ascii"),
            "signatures": [{"keyid": keyid(key.public_key()),
                            "sig": base64.b64encode(signature).decode("ascii")}]}


def check(report: dict[str, Any], envelope_file: Path, key: Ed25519PublicKey) -> str:
    """Check the envelope's signature and that it signs exactly `report`; SignError if not."""
    if not envelope_file.exists():
        raise SignError(f"no signature envelope {envelope_file}")
    try:
        envelope = read_json(envelope_file)
        payload_type = envelope["payloadType"]
        payload = base64.b64decode(envelope["payload"], validate=True)
        signatures = [base64.b64decode(s["sig"], validate=True) for s in envelope["signatures"]]
    except ReportFileError as exc:
        raise SignError(str(exc)) from None
    except (OSError, ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise SignError(f"{envelope_file}: not a DSSE envelope ({type(exc).__name__}: {exc})") from None
    if payload_type != PAYLOAD_TYPE:
        raise SignError(f"{envelope_file}: payload type {payload_type!r}, expected {PAYLOAD_TYPE}")
    for signature in signatures:
        try:
            key.verify(signature, pae(payload_type, payload))
            break
        except InvalidSignature:
            continue
    else:
        raise SignError(f"{envelope_file}: no signature by key {keyid(key)}")
    if payload != canonical(report):
        raise SignError("the signature is good but signs another report: the report was changed")
    return f"signed by {keyid(key)}"
