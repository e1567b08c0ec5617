"""Key formats without cryptography: PEM blocks with spans, SSH wire blobs, authorized_keys
lines, the OpenSSH container, Dropbear and PuTTY files; malformed input never raises."""

from __future__ import annotations

import base64
import struct
import subprocess
from pathlib import Path

from firmproof.device.keymaterial import der_length
from firmproof.device.parsers.pem import find_pem_blocks
from firmproof.device.parsers.sshkey import (
    fingerprint,
    key_type_of_blob,
    looks_like_dropbear,
    parse_authorized_keys,
    parse_dropbear,
    parse_openssh_private,
    parse_putty,
)
from tests.conftest import tool


def string(b: bytes) -> bytes:
    return struct.pack(">I", len(b)) + b


ED25519_BLOB = string(b"ssh-ed25519") + string(bytes(range(32)))
ED25519_LINE = "ssh-ed25519 " + base64.b64encode(ED25519_BLOB).decode()


def test_pem_blocks_with_spans_headers_and_escaped_breaks():
    body = base64.b64encode(b"\x30\x03\x02\x01\x00").decode()
    text = (f"junk -----BEGIN CERTIFICATE-----\n{body}\n-----END CERTIFICATE-----\n"
            f"-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nDEK-Info: AES-128-CBC,00FF\n\n"
            f"{body}\n-----END RSA PRIVATE KEY-----"
            f'"-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----"').encode()
    cert, trad, escaped = find_pem_blocks(text)
    assert cert.label == "CERTIFICATE" and not cert.is_private_key
    assert text[cert.start:cert.end].startswith(b"-----BEGIN CERTIFICATE") and cert.start == 5
    assert text[trad.start:trad.end].endswith(b"-----END RSA PRIVATE KEY-----")
    assert trad.headers == {"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00FF"}
    assert trad.der == escaped.der == b"\x30\x03\x02\x01\x00"
    assert b"DEK-Info: AES-128-CBC,00FF\n\n" in trad.canonical()
    assert [b.label for b in find_pem_blocks(text, private_only=True)] == ["RSA PRIVATE KEY", "PRIVATE KEY"]


def test_pem_blocks_that_are_no_key():
    assert find_pem_blocks(b"-----BEGIN RSA PRIVATE KEY----- and no end") == []
    (help_text,) = find_pem_blocks(b"-----BEGIN RSA PRIVATE KEY-----\npaste your key here\n"
                                   b"-----END RSA PRIVATE KEY-----")
    assert help_text.der is None
    assert find_pem_blocks(b"-----BEGIN  -----\n-----END  -----") == []


def test_der_length():
    assert der_length(b"\x30\x03\x02\x01\x00") == 5
    assert der_length(b"\x30\x82\x00\x03\x02\x01\x00") == 7
    assert der_length(b"\x30\x82\x01\x00\x02") is None          # runs past the end
    assert der_length(b"\x30\x80") is None                       # indefinite length


def test_wire_blobs_and_fingerprint():
    assert key_type_of_blob(ED25519_BLOB) == "ed25519"
    rsa = string(b"ssh-rsa") + string(b"\x01\x00\x01") + string(b"\x00" + b"\xc1" * 256)
    assert key_type_of_blob(rsa) == "rsa-2048"
    ec = string(b"ecdsa-sha2-nistp384") + string(b"nistp384") + string(b"\x04" + b"\x01" * 96)
    assert key_type_of_blob(ec) == "ecdsa-p384"
    assert key_type_of_blob(string(b"ecdsa-sha2-nistp256") + string(b"nistp384")) is None
    assert key_type_of_blob(ED25519_BLOB[:-3]) is None
    assert key_type_of_blob(b"\xff\xff\xff\xff") is None
    assert fingerprint(ED25519_BLOB).startswith("SHA256:") and "=" not in fingerprint(ED25519_BLOB)


def test_authorized_keys_lines():
    text = (f"# admin keys\n\n{ED25519_LINE} alice@laptop\n"
            f'  no-pty,command="echo \\"hi there\\"" {ED25519_LINE}\n'
            f"ssh-rsa AAAA%%% broken\nssh-rsa {ED25519_LINE.split()[1]} mislabelled\n"
            f"{ED25519_LINE}\n")
    first, second, third = parse_authorized_keys(text)
    assert text[first.start:first.end] == f"{ED25519_LINE} alice@laptop"
    assert first.comment == "alice@laptop" and first.options == "" and first.lineno == 3
    assert second.options == 'no-pty,command="echo \\"hi there\\""' and second.comment == ""
    assert text[second.start:second.end] == f'no-pty,command="echo \\"hi there\\"" {ED25519_LINE}'
    assert third.blob == ED25519_BLOB and third.key_type == "ssh-ed25519"


def test_openssh_container_and_garbage():
    assert parse_openssh_private(b"not a key") is None
    assert parse_openssh_private(b"openssh-key-v1\x00" + string(b"none")) is None


def test_openssh_container_of_a_real_key(tmp_path: Path):
    subprocess.run([tool("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", "me@host", "-f",
                    str(tmp_path / "k")], check=True)
    (block,) = find_pem_blocks((tmp_path / "k").read_bytes())
    key = parse_openssh_private(block.der or b"")
    assert key is not None and not key.encrypted and key.comment == "me@host"
    pub = (tmp_path / "k.pub").read_text().split()[1]
    assert key.public_blob == base64.b64decode(pub)


def test_dropbear_garbage():
    head = string(b"ssh-rsa")
    assert looks_like_dropbear(head) and parse_dropbear(head + b"\x00\x00") is None
    assert not looks_like_dropbear(b"\x00\x00\x00\x07ssh-foo")
    blob = string(b"ssh-ed25519") + string(b"\x01" * 63)
    assert parse_dropbear(blob) is None


def test_putty_garbage():
    cut = "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPublic-Lines: 9\nAAAA\n"
    assert parse_putty(cut) is None
    assert parse_putty("hello") is None
    assert parse_putty("") is None
