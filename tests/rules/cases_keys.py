"""FP-KEY-001…005 (firmproof/analyzers/keys.py) and FP-KSTORE-001/002
(firmproof/analyzers/keystores.py): keys and key stores made by ssh-keygen, openssl and keytool."""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_ssh_public_key

from tests.variants.families.adbkeys import adb_struct

from .case import Files, Kit, hit, miss

STRONG = "Xq9-unique-Vendor-Secret!"


def key(kit: Kit, name: str, *command: str) -> Path:
    """`command` run once per session with {out} standing for the file it writes."""
    out = kit.tmp / "keys" / name
    if not out.exists():
        out.parent.mkdir(exist_ok=True)
        kit.run(*(part.replace("{out}", str(out)) for part in command))
    return out


def ssh_key(kit: Kit, kind: str, passphrase: str = "") -> Path:
    bits = ("-b", "2048") if kind == "rsa" else ()     # adb_keys holds RSA-2048 keys only
    return key(kit, f"id_{kind}{'_sealed' if passphrase else ''}", "ssh-keygen", "-q", "-t", kind, *bits,
               "-N", passphrase, "-C", "dev@build-host", "-f", "{out}")


def pair(kit: Kit) -> tuple[Path, Path]:
    """A TR-069 client key and its self-signed certificate."""
    cert = key(kit, "cwmp.crt", "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
               "-keyout", str(kit.tmp / "keys" / "cwmp.key"), "-out", "{out}",
               "-subj", "/O=Vendor/CN=cwmp-client", "-days", "3650")
    return kit.tmp / "keys" / "cwmp.key", cert


def p12(password: str, *extra: str) -> Callable[[Kit], Files]:
    def build(kit: Kit) -> Files:
        private, cert = pair(kit)
        store = key(kit, f"client-{password}{''.join(extra)}.p12", "openssl", "pkcs12", "-export",
                    "-inkey", str(private), "-in", str(cert), "-name", "cwmp", "-passout", f"pass:{password}",
                    "-out", "{out}", *extra)
        return {"/etc/cwmp/client.p12": store.read_bytes()}
    return build


def public_line(kit: Kit, kind: str) -> str:
    return Path(f"{ssh_key(kit, kind)}.pub").read_text().strip()


def adb_line(kit: Kit) -> str:
    """ssh-keygen's RSA key as adb writes it in adb_keys."""
    public = load_ssh_public_key(Path(f"{ssh_key(kit, 'rsa')}.pub").read_bytes())
    assert isinstance(public, rsa.RSAPublicKey)
    numbers = public.public_numbers()
    return f"{base64.b64encode(adb_struct(numbers.n, numbers.e)).decode()} builder@factory"


def whole(data: bytes) -> bytes:
    return data


def stripped(data: bytes) -> bytes:
    return data.rstrip(b"\n")


def second_line(data: bytes) -> bytes:
    return data.split(b"\n")[1].strip()


CASES = [
    hit("FP-KEY-001", "openssh-host-key",
        lambda kit: {"/etc/ssh/ssh_host_ed25519_key": ssh_key(kit, "ed25519").read_bytes()},
        "/etc/ssh/ssh_host_ed25519_key", stripped),
    miss("FP-KEY-001", "host-public-key-only",
         lambda kit: {"/etc/ssh/ssh_host_ed25519_key.pub": public_line(kit, "ed25519") + "\n"}, silent=True),

    hit("FP-KEY-002", "pkcs8-pem-key",
        lambda kit: {"/etc/ssl/private/server.key": key(
            kit, "pkcs8.pem", "openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048",
            "-out", "{out}").read_bytes()},
        "/etc/ssl/private/server.key", stripped),
    miss("FP-KEY-002", "certificate-and-public-key",
         lambda kit: {"/etc/ssl/certs/cwmp.pem": pair(kit)[1].read_bytes(),
                      "/root/.ssh/id_ed25519.pub": public_line(kit, "ed25519") + "\n"}, silent=True),

    hit("FP-KEY-003", "passphrase-protected-openssh-key",
        lambda kit: {"/home/admin/.ssh/id_ed25519": ssh_key(kit, "ed25519", STRONG).read_bytes()},
        "/home/admin/.ssh/id_ed25519", stripped),
    miss("FP-KEY-003", "sealed-block-with-a-broken-body",
         {"/etc/broken.key": b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n"
                             b"MIIFHDBOBgkqhkiG9w0BBQ0wQTApBgkqhkiG9w0BBQwwHAQI\n"
                             b"-----END ENCRYPTED PRIVATE KEY-----\n"}, silent=True),

    hit("FP-KEY-004", "authorized-keys-line",
        lambda kit: {"/root/.ssh/authorized_keys": f"# vendor support access\n{public_line(kit, 'rsa')}\n"},
        "/root/.ssh/authorized_keys", second_line, details={"user": "root", "comment": "dev@build-host"}),
    miss("FP-KEY-004", "commented-key-and-known-hosts",
         lambda kit: {"/root/.ssh/authorized_keys": f"# {public_line(kit, 'rsa')}\n\n   # none yet\n",
                      "/root/.ssh/known_hosts": f"192.168.1.1 {public_line(kit, 'rsa')}\n"}, silent=True),

    hit("FP-KEY-005", "adb-keys-of-the-root",
        lambda kit: {"/adb_keys": f"# factory\n{adb_line(kit)}\n"}, "/adb_keys", second_line,
        details={"comment": "builder@factory", "read_by_adbd": True}),
    miss("FP-KEY-005", "ssh-line-in-adb-keys-and-sdk-example",
         lambda kit: {"/data/misc/adb/adb_keys": f"# none\n{public_line(kit, 'rsa')}\n",
                      "/opt/sdk/tests/data/adb_keys": f"{adb_line(kit)}\n"}, silent=True),

    hit("FP-KSTORE-001", "pkcs12-with-changeit", p12("changeit"), "/etc/cwmp/client.p12", whole,
        details={"format": "pkcs12", "password": "changeit", "alias": "cwmp"}),
    miss("FP-KSTORE-001", "pkcs12-trust-store", p12("changeit", "-nokeys"), silent=True),

    hit("FP-KSTORE-002", "pkcs12-with-a-strong-password", p12(STRONG), "/etc/cwmp/client.p12", whole,
        details={"type": "unknown", "fingerprint": None}),
    miss("FP-KSTORE-002", "pkcs12-trust-store-with-a-strong-password", p12(STRONG, "-nokeys"), silent=True),
]
