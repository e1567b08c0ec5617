"""FP-KEY rules: keys made at test time with the real tools (ssh-keygen, openssl, dropbearkey,
puttygen, gcc) hit with the whole key as evidence and the fingerprint the tools print;
certificates, public keys, CA bundles, help text and comment-only files do not."""

from __future__ import annotations

import base64
import hashlib
import re
import struct
import subprocess
from pathlib import Path

import pytest
from debs import debian_package

from firmproof.analyzers.keys import (
    MAX_SEALED_GUESSED,
    Keys,
    authorized_keys_owner,
    is_authorized_keys,
    is_host_key,
)
from firmproof.fs.rootfs import RootFS
from firmproof.model import Category, Severity
from tests.conftest import system_file, tool


def sh(*args: str | Path) -> str:
    proc = subprocess.run([tool(str(args[0])), *map(str, args[1:])], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def ssh_fingerprint(path: Path) -> str:
    """The SHA256 fingerprint ssh-keygen prints for a key or public key file; for an Ed25519
    PKCS#8 key (which ssh-keygen does not read) the same hash over the raw public key that
    openssl prints."""
    if path.name == "ed25519.pem":
        proc = subprocess.run([tool("openssl"), "pkey", "-in", str(path), "-pubout", "-outform", "DER"],
                              capture_output=True, check=True)
        raw = proc.stdout[-32:]
        blob = struct.pack(">I", 11) + b"ssh-ed25519" + struct.pack(">I", 32) + raw
        return "SHA256:" + base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
    return sh(ssh_keygen(path), "-l", "-E", "sha256", "-f", path).split()[1]


def ssh_keygen(path: Path) -> str:
    """This machine's ssh-keygen; for DSA keys, which OpenSSH 10 (Debian 13) no longer reads
    while devices still ship them, Debian 12's, downloaded at test time."""
    host = tool("ssh-keygen")
    if not path.name.startswith("dsa") or subprocess.run(
            [host, "-l", "-f", str(path)], capture_output=True).returncode == 0:
        return host
    tree, _ = debian_package("openssh-client", "bookworm")
    return str(tree / "usr/bin/ssh-keygen")


@pytest.fixture(scope="session")
def keys(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every kind of key file, made once per session."""
    d = tmp_path_factory.mktemp("keys")
    sh("ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-C", "dev@build-host", "-f", d / "id_rsa")
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "support@vendor", "-f", d / "id_ed25519")
    sh("ssh-keygen", "-q", "-t", "ecdsa", "-b", "256", "-N", "", "-f", d / "id_ecdsa")
    sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "Tr1cky-passphrase", "-f", d / "id_sealed")
    sh("openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", d / "pkcs8.pem")
    sh("openssl", "genrsa", "-traditional", "-out", d / "rsa_trad.pem", "2048")
    sh("openssl", "ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", d / "ec.pem")
    sh("openssl", "genpkey", "-algorithm", "ed25519", "-out", d / "ed25519.pem")
    sh("openssl", "dsaparam", "-out", d / "dsaparam.pem", "1024")
    sh("openssl", "gendsa", "-out", d / "dsa.pem", d / "dsaparam.pem")
    sh("openssl", "pkey", "-in", d / "dsa.pem", "-traditional", "-out", d / "dsa_trad.pem")
    sh("openssl", "rsa", "-in", d / "rsa_trad.pem", "-traditional", "-outform", "DER", "-out", d / "rsa.der")
    sh("openssl", "pkcs8", "-topk8", "-nocrypt", "-in", d / "ec.pem", "-outform", "DER",
       "-out", d / "ec8.der")
    sh("openssl", "pkcs8", "-topk8", "-in", d / "pkcs8.pem", "-v2", "aes-256-cbc",
       "-passout", "pass:Tr1cky-passphrase", "-out", d / "sealed8.pem")
    sh("openssl", "genrsa", "-traditional", "-aes128", "-passout", "pass:admin",
       "-out", d / "weak_trad.pem", "2048")
    sh("openssl", "req", "-x509", "-new", "-key", d / "pkcs8.pem", "-subj", "/CN=device", "-days", "1",
       "-out", d / "cert.pem")
    sh("openssl", "req", "-x509", "-new", "-key", d / "ec.pem", "-subj", "/CN=ca", "-days", "1",
       "-out", d / "cert2.pem")
    sh("openssl", "pkey", "-in", d / "pkcs8.pem", "-pubout", "-out", d / "public.pem")
    for kind in ("rsa", "ecdsa", "ed25519", "dss"):
        sh(dropbearkey(kind), "-t", kind, "-f", d / f"dropbear_{kind}_host_key")
    sh("puttygen", "-t", "ed25519", "-C", "putty-user", "-o", d / "v3.ppk", "--new-passphrase", "/dev/null")
    sh("puttygen", "-t", "rsa", "-b", "2048", "--ppk-param", "version=2", "-o", d / "v2.ppk",
       "--new-passphrase", "/dev/null")
    (d / "pass.txt").write_text("Tr1cky-passphrase\n")
    sh("puttygen", "-t", "ed25519", "-o", d / "sealed.ppk", "--new-passphrase", d / "pass.txt")
    return d


def run(fs: RootFS, rule_id: str | None = None):
    return [f for f in Keys().run(fs) if rule_id is None or f.rule.id == rule_id]


def evidence(fs: RootFS, finding) -> bytes:
    data = fs.read(finding.path)
    assert data is not None
    assert hashlib.sha256(data).hexdigest() == finding.evidence.sha256
    return data[finding.evidence.offset:finding.evidence.offset + finding.evidence.length]


def dropbearkey(kind: str) -> str:
    """A dropbearkey that makes `kind` keys: this machine's, or for DSS keys, which Dropbear
    dropped in 2025 (Debian 13's lists rsa, ecdsa, ed25519 only) while devices still ship them,
    Debian 12's dropbearkey, downloaded at test time (it runs on Debian 13's libtomcrypt)."""
    host = tool("dropbearkey")
    usage = subprocess.run([host, "-h"], capture_output=True, text=True).stderr
    if re.search(rf"^\s+{kind}$", usage, re.MULTILINE):
        return host
    tree, _ = debian_package("dropbear-bin", "bookworm")
    return str(tree / "usr/bin/dropbearkey")


def dropbear_fingerprint(path: Path) -> str:
    kind = "dss" if "_dss_" in path.name else "rsa"
    return re.search(r"Fingerprint: (SHA256:\S+)", sh(dropbearkey(kind), "-y", "-f", path)).group(1)


def putty_fingerprint(path: Path) -> str:
    return sh("puttygen", "-l", "-E", "sha256", path).split()[2]


# FP-KEY-001: SSH host keys ----------------------------------------------------------------

def test_fp_key_001_openssh_host_key(keys: Path):
    data = (keys / "id_ed25519").read_bytes()
    fs = RootFS.from_files({"/etc/ssh/ssh_host_ed25519_key": data})
    (finding,) = run(fs)
    assert finding.rule.id == "FP-KEY-001" and finding.severity is Severity.HIGH
    assert evidence(fs, finding) == data.rstrip(b"\n")
    assert finding.category is Category.PRIVATE_KEY
    assert finding.details["type"] == "ed25519" and finding.details["format"] == "openssh"
    assert finding.details["fingerprint"] == ssh_fingerprint(keys / "id_ed25519")
    assert finding.details["encrypted"] is False and finding.details["host_key"] is True


@pytest.mark.parametrize(("kind", "type_"), [("rsa", "rsa-2048"), ("ecdsa", "ecdsa-p256"),
                                              ("ed25519", "ed25519"), ("dss", "dsa-1024")])
def test_fp_key_001_dropbear_host_keys(keys: Path, kind: str, type_: str):
    name = f"dropbear_{kind}_host_key"
    data = (keys / name).read_bytes()
    fs = RootFS.from_files({f"/etc/dropbear/{name}": data})
    (finding,) = run(fs, "FP-KEY-001")
    assert evidence(fs, finding) == data
    assert finding.details["format"] == "dropbear" and finding.details["type"] == type_
    assert finding.details["fingerprint"] == dropbear_fingerprint(keys / name)


def test_fp_key_001_host_key_named_by_sshd_config(keys: Path):
    data = (keys / "ec.pem").read_bytes()
    fs = RootFS.from_files({"/etc/ssh/sshd_config": "Port 22\nHostKey /opt/vendor/server_identity\n",
                            "/opt/vendor/server_identity": data})
    (finding,) = run(fs, "FP-KEY-001")
    assert finding.path == "/opt/vendor/server_identity" and evidence(fs, finding) == data.rstrip(b"\n")


def test_fp_key_001_same_key_in_two_places(keys: Path):
    data = (keys / "dropbear_rsa_host_key").read_bytes()
    fs = RootFS.from_files({"/etc/dropbear/dropbear_rsa_host_key": data,
                            "/usr/share/dropbear/rsa_host_key": data})
    first, second = run(fs, "FP-KEY-001")
    assert first.details["same_key_in"] == ["/usr/share/dropbear/rsa_host_key"]
    assert second.details["same_key_in"] == ["/etc/dropbear/dropbear_rsa_host_key"]


def test_fp_key_001_decoys(keys: Path):
    fs = RootFS.from_files({
        "/etc/ssh/ssh_host_ed25519_key.pub": (keys / "id_ed25519.pub").read_bytes(),
        "/etc/ssh/ssh_host_rsa_key.pub": (keys / "id_rsa.pub").read_bytes(),
        # a Dropbear key cut short
        "/etc/dropbear/dropbear_rsa_host_key": b"\x00\x00\x00\x07ssh-rsa\x00\x00\x00\x03\x01\x00\x01",
        "/etc/ssh/moduli": "20190801000000 2 6 100 2047 2 C2E2\n",
    })
    assert run(fs) == []


def test_is_host_key():
    assert is_host_key("/etc/ssh/ssh_host_rsa_key", "pem-pkcs1")
    assert is_host_key("/etc/rsa_host_key", "pem-pkcs1")
    assert is_host_key("/mnt/flash/dropbear_key", "dropbear")
    assert not is_host_key("/root/.ssh/id_dropbear", "dropbear")
    assert not is_host_key("/etc/ssl/private/server.key", "pem-pkcs8")


# FP-KEY-002: private keys in clear ----------------------------------------------------------

@pytest.mark.parametrize(("name", "path", "type_", "fmt"), [
    ("id_rsa", "/root/.ssh/id_rsa", "rsa-2048", "openssh"),
    ("id_ecdsa", "/home/dev/.ssh/id_ecdsa", "ecdsa-p256", "openssh"),
    ("pkcs8.pem", "/etc/ssl/private/server.key", "rsa-2048", "pem-pkcs8"),
    ("rsa_trad.pem", "/etc/certs/client.pem", "rsa-2048", "pem-pkcs1"),
    ("ec.pem", "/etc/lighttpd/ec.key", "ecdsa-p256", "pem-sec1"),
    ("ed25519.pem", "/etc/keys/signing.pem", "ed25519", "pem-pkcs8"),
    ("dsa.pem", "/etc/keys/dsa.pem", "dsa-1024", "pem-pkcs8"),
    ("dsa_trad.pem", "/etc/keys/dsa.key", "dsa-1024", "pem-pkcs1"),
])
def test_fp_key_002_pem_and_openssh(keys: Path, name: str, path: str, type_: str, fmt: str):
    data = (keys / name).read_bytes()
    fs = RootFS.from_files({path: data})
    (finding,) = run(fs)
    assert finding.rule.id == "FP-KEY-002" and finding.severity is Severity.HIGH
    assert evidence(fs, finding) == data.rstrip(b"\n")
    assert finding.details["type"] == type_ and finding.details["format"] == fmt
    assert finding.details["fingerprint"] == ssh_fingerprint(keys / name)
    assert finding.details["encrypted"] is False and finding.details["embedded"] is False


def test_fp_key_002_openssh_comment(keys: Path):
    fs = RootFS.from_files({"/root/.ssh/id_rsa": (keys / "id_rsa").read_bytes()})
    (finding,) = run(fs)
    assert finding.details["comment"] == "dev@build-host"


@pytest.mark.parametrize(("name", "pem", "fmt"), [("rsa.der", "rsa_trad.pem", "der-pkcs1"),
                                                  ("ec8.der", "ec.pem", "der-pkcs8")])
def test_fp_key_002_der_files(keys: Path, name: str, pem: str, fmt: str):
    data = (keys / name).read_bytes()
    fs = RootFS.from_files({f"/etc/keys/{name}": data})
    (finding,) = run(fs, "FP-KEY-002")
    assert evidence(fs, finding) == data
    assert finding.details["format"] == fmt
    assert finding.details["fingerprint"] == ssh_fingerprint(keys / pem)


def test_fp_key_002_pem_inside_a_larger_file(keys: Path):
    """A server.pem holding certificate and key, and a key pasted into a shell script."""
    key = (keys / "pkcs8.pem").read_bytes()
    bundle = (keys / "cert.pem").read_bytes() + key
    script = b"#!/bin/sh\ncat > /tmp/k <<EOF\n" + key + b"EOF\n"
    fs = RootFS.from_files({"/etc/server.pem": bundle, "/usr/bin/provision.sh": script})
    found = {f.path: evidence(fs, f) for f in run(fs, "FP-KEY-002")}
    assert found == {"/etc/server.pem": key.rstrip(b"\n"), "/usr/bin/provision.sh": key.rstrip(b"\n")}


def test_fp_key_002_json_escaped_pem(keys: Path):
    key = (keys / "rsa_trad.pem").read_text().rstrip("\n")
    escaped = key.replace("\n", "\\n")
    doc = '{"tls": {"key": "' + escaped + '"}}\n'
    fs = RootFS.from_files({"/etc/cloud.json": doc})
    (finding,) = run(fs, "FP-KEY-002")
    assert evidence(fs, finding) == escaped.encode()
    assert finding.details["fingerprint"] == ssh_fingerprint(keys / "rsa_trad.pem")


def test_fp_key_002_keys_compiled_into_a_program(keys: Path, tmp_path: Path):
    """A real ELF (gcc) carrying a PEM key as a string and a DER key as a byte array."""
    pem = (keys / "rsa_trad.pem").read_text()
    der = (keys / "ec8.der").read_bytes()
    c_pem = pem.replace("\n", "\\n")
    c_der = ",".join(str(b) for b in der)
    source = tmp_path / "prog.c"
    source.write_text(f'#include <stdio.h>\nstatic const char pem[] = "{c_pem}";\n'
                      f"static const unsigned char der[] = {{{c_der}}};\n"
                      "int main(void) { printf(\"%s%d\", pem, der[5]); return 0; }\n")
    sh("gcc", "-O0", "-o", tmp_path / "prog", source)
    elf = (tmp_path / "prog").read_bytes()
    fs = RootFS.from_files({"/usr/bin/cloudagent": elf})
    found = {f.details["format"]: f for f in run(fs, "FP-KEY-002")}
    assert set(found) == {"pem-pkcs1", "der-pkcs8"}
    assert evidence(fs, found["pem-pkcs1"]) == pem.rstrip("\n").encode()
    assert evidence(fs, found["der-pkcs8"]) == der
    assert all(f.details["embedded"] for f in found.values())
    assert found["der-pkcs8"].details["fingerprint"] == ssh_fingerprint(keys / "ec.pem")


@pytest.mark.parametrize(("name", "fmt"), [("v3.ppk", "putty-v3"), ("v2.ppk", "putty-v2")])
def test_fp_key_002_putty(keys: Path, name: str, fmt: str):
    data = (keys / name).read_bytes()
    fs = RootFS.from_files({f"/etc/vpn/{name}": data})
    (finding,) = run(fs, "FP-KEY-002")
    assert evidence(fs, finding) == data.rstrip(b"\n")
    assert finding.details["format"] == fmt
    assert finding.details["fingerprint"] == putty_fingerprint(keys / name)


def test_fp_key_002_encrypted_with_a_listed_passphrase(keys: Path):
    data = (keys / "weak_trad.pem").read_bytes()
    fs = RootFS.from_files({"/etc/ssl/private/vpn.key": data})
    (finding,) = run(fs)
    assert finding.rule.id == "FP-KEY-002"
    assert finding.details["encrypted"] is True and finding.details["passphrase"] == "admin"
    assert finding.details["type"] == "rsa-2048" and evidence(fs, finding) == data.rstrip(b"\n")


def test_passphrases_are_guessed_for_a_bounded_number_of_keys(keys: Path):
    data = (keys / "weak_trad.pem").read_bytes()
    fs = RootFS.from_files({f"/etc/keys/{i:02d}.key": data for i in range(MAX_SEALED_GUESSED + 1)})
    findings = run(fs)
    assert [f.rule.id for f in findings] == ["FP-KEY-002"] * MAX_SEALED_GUESSED + ["FP-KEY-003"]
    assert findings[-1].path == f"/etc/keys/{MAX_SEALED_GUESSED:02d}.key"


def test_fp_key_002_openssl_benchmark_keys_are_info():
    """The keys of `openssl speed`, compiled into every openssl binary, are public knowledge."""
    data = Path(tool("openssl")).read_bytes()
    fs = RootFS.from_files({"/usr/bin/openssl": data})
    findings = run(fs, "FP-KEY-002")
    assert findings and all(f.severity is Severity.INFO and "OpenSSL speed" in f.details["known_key"]
                            for f in findings)
    assert {f.details["type"] for f in findings} >= {"rsa-512", "rsa-1024", "rsa-2048", "rsa-4096"}


def test_fp_key_002_gnutls_self_test_keys_are_info():
    """GnuTLS's FIPS self-test keys sit in every libgnutls: public knowledge, so info only."""
    library = system_file("/usr/lib/*/libgnutls.so.30")
    fs = RootFS.from_files({"/usr/lib/libgnutls.so.30": library.read_bytes()})
    findings = run(fs, "FP-KEY-002")
    assert len(findings) >= 4
    assert all(f.severity is Severity.INFO and "GnuTLS self-test" in f.details["known_key"] for f in findings)


def test_fp_key_002_decoys(keys: Path):
    cert, cert2 = (keys / "cert.pem").read_bytes(), (keys / "cert2.pem").read_bytes()
    fake_body = b"MIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf9Cnzj4p4WGeKLs1Pt8Qu\n"
    fs = RootFS.from_files({
        "/etc/ssl/certs/device.pem": cert,
        "/etc/ssl/certs/ca-certificates.crt": cert + cert2,
        "/etc/ssl/public.pem": (keys / "public.pem").read_bytes(),
        "/root/.ssh/id_rsa.pub": (keys / "id_rsa.pub").read_bytes(),
        "/usr/share/doc/ssl/HOWTO": b"Paste the key between -----BEGIN RSA PRIVATE KEY----- and "
                                    b"-----END RSA PRIVATE KEY----- into the box.\n",
        "/www/help.html": b"<pre>-----BEGIN RSA PRIVATE KEY-----\n" + fake_body
                          + b"-----END RSA PRIVATE KEY-----</pre>\n",
        "/www/example.txt": b"-----BEGIN PRIVATE KEY-----\n...your key here...\n-----END PRIVATE KEY-----\n",
    })
    assert run(fs) == []


# FP-KEY-003: sealed keys ------------------------------------------------------------------

def test_fp_key_003_encrypted_openssh_key_keeps_its_fingerprint(keys: Path):
    data = (keys / "id_sealed").read_bytes()
    fs = RootFS.from_files({"/root/.ssh/id_ed25519": data})
    (finding,) = run(fs)
    assert finding.rule.id == "FP-KEY-003" and finding.severity is Severity.MEDIUM
    assert evidence(fs, finding) == data.rstrip(b"\n")
    assert finding.details["encrypted"] is True and finding.details["type"] == "ed25519"
    assert finding.details["fingerprint"] == ssh_fingerprint(keys / "id_sealed.pub")
    assert finding.details["cipher"] == "aes256-ctr"


def test_fp_key_003_encrypted_pkcs8(keys: Path):
    data = (keys / "sealed8.pem").read_bytes()
    fs = RootFS.from_files({"/etc/ssl/private/sealed.key": data})
    (finding,) = run(fs, "FP-KEY-003")
    assert evidence(fs, finding) == data.rstrip(b"\n")
    assert finding.details["format"] == "pem-pkcs8-encrypted" and finding.details["fingerprint"] is None


def test_fp_key_003_encrypted_putty(keys: Path):
    data = (keys / "sealed.ppk").read_bytes()
    fs = RootFS.from_files({"/etc/sealed.ppk": data})
    (finding,) = run(fs, "FP-KEY-003")
    assert finding.details["fingerprint"] == putty_fingerprint(keys / "sealed.ppk")
    assert finding.details["cipher"] == "aes256-cbc"


# FP-KEY-004: authorized_keys ----------------------------------------------------------------

def test_fp_key_004_authorized_keys_lines(keys: Path):
    rsa_pub = (keys / "id_rsa.pub").read_text().strip()
    ed_pub = (keys / "id_ed25519.pub").read_text().strip()
    with_options = f'from="10.0.0.0/8",command="/bin/sh -c \\"id\\"" {ed_pub}'
    text = f"# vendor support access\n\n{rsa_pub}\n  {with_options}\n#{rsa_pub}\n"
    fs = RootFS.from_files({"/root/.ssh/authorized_keys": text})
    first, second = run(fs, "FP-KEY-004")
    assert evidence(fs, first) == rsa_pub.encode()
    assert evidence(fs, second) == with_options.encode()
    assert first.severity is Severity.CRITICAL and first.category is Category.AUTHORIZED_KEY
    assert first.details == {"user": "root", "type": "rsa-2048", "key_type": "ssh-rsa",
                             "fingerprint": ssh_fingerprint(keys / "id_rsa.pub"), "comment": "dev@build-host"}
    assert second.details["options"] == 'from="10.0.0.0/8",command="/bin/sh -c \\"id\\""'
    assert second.details["comment"] == "support@vendor" and second.details["type"] == "ed25519"


@pytest.mark.parametrize(("path", "user"), [
    ("/root/.ssh/authorized_keys", "root"),
    ("/home/bob/.ssh/authorized_keys2", "bob"),
    ("/etc/dropbear/authorized_keys", "root"),
    ("/.ssh/authorized_keys", "root"),
    ("/etc/ssh/authorized_keys/admin", "admin"),
    ("/var/lib/svc/.ssh/authorized_keys", "svc"),
])
def test_fp_key_004_user_of_the_file(keys: Path, path: str, user: str):
    fs = RootFS.from_files({
        path: (keys / "id_ecdsa.pub").read_bytes(),
        "/etc/passwd": "root:x:0:0:root:/:/bin/sh\nsvc:x:100:100::/var/lib/svc:/bin/sh\n",
    })
    (finding,) = run(fs, "FP-KEY-004")
    assert finding.details["user"] == user and finding.path == path
    assert finding.details["fingerprint"] == ssh_fingerprint(keys / "id_ecdsa.pub")


def test_fp_key_004_decoys(keys: Path):
    rsa_pub = (keys / "id_rsa.pub").read_text().strip()
    ed_blob = (keys / "id_ed25519.pub").read_text().split()[1]
    fs = RootFS.from_files({
        "/root/.ssh/authorized_keys": f"# {rsa_pub}\n\n   # none yet\n",
        "/home/a/.ssh/authorized_keys": "",
        "/home/b/.ssh/authorized_keys": "ssh-rsa AAAA!!notbase64 x@y\nssh-rsa " + ed_blob + " wrong type\n",
        "/root/.ssh/id_rsa.pub": rsa_pub + "\n",
        "/root/.ssh/known_hosts": "192.168.1.1 " + rsa_pub + "\n",
    })
    assert run(fs) == []


def test_authorized_keys_paths():
    assert is_authorized_keys("/root/.ssh/authorized_keys2")
    assert is_authorized_keys("/etc/ssh/authorized_keys.d/root")
    assert not is_authorized_keys("/root/.ssh/authorized_keys.pub")
    assert not is_authorized_keys("/root/.ssh/known_hosts")
    fs = RootFS.from_files({"/etc/passwd": "root:x:0:0::/:/bin/sh\nadmin:x:0:0::/:/bin/sh\n"})
    assert authorized_keys_owner(fs, "/.ssh/authorized_keys") == ["root", "admin"]


# FP-KEY-005: adb_keys -----------------------------------------------------------------------

def _adb_line(keys: Path, comment: str = "builder@factory") -> tuple[str, bytes]:
    """ssh-keygen's RSA-2048 key as adb writes it in adb_keys (and the decoded struct)."""
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.hazmat.primitives.serialization import load_ssh_public_key

    from tests.variants.families.adbkeys import adb_struct

    public = load_ssh_public_key((keys / "id_rsa.pub").read_bytes())
    assert isinstance(public, rsa.RSAPublicKey)
    numbers = public.public_numbers()
    blob = adb_struct(numbers.n, numbers.e)
    assert len(blob) == 524
    return f"{base64.b64encode(blob).decode()} {comment}", blob


@pytest.mark.parametrize(("path", "severity"), [
    ("/adb_keys", Severity.CRITICAL),
    ("/data/misc/adb/adb_keys", Severity.CRITICAL),
    ("/product/etc/security/adb_keys", Severity.CRITICAL),
    ("/vendor/etc/adb_keys", Severity.HIGH),
    ("/system/etc/adb_keys", Severity.HIGH),
])
def test_fp_key_005_adb_keys(keys: Path, path: str, severity: Severity):
    line, blob = _adb_line(keys)
    fs = RootFS.from_files({path: f"# factory\r\n\r\n  {line}  \r\n"})
    (finding,) = run(fs)
    assert finding.rule.id == "FP-KEY-005" and finding.category is Category.AUTHORIZED_KEY
    assert finding.path == path and finding.severity is severity
    assert evidence(fs, finding) == line.encode()
    # the same key as ssh-keygen sees it, and the MD5 the device's prompt shows
    assert finding.details["fingerprint"] == ssh_fingerprint(keys / "id_rsa.pub")
    md5 = hashlib.md5(blob).hexdigest().upper()
    assert finding.details["adb_fingerprint"] == ":".join(md5[i:i + 2] for i in range(0, 32, 2))
    assert finding.details["type"] == "rsa-2048" and finding.details["comment"] == "builder@factory"
    assert finding.details["read_by_adbd"] is (severity is Severity.CRITICAL)


def test_fp_key_005_decoys(keys: Path):
    line, blob = _adb_line(keys)
    flipped = bytearray(blob)
    flipped[8 + 256 + 3] ^= 1                        # R^2 mod n no longer matches n
    rsa_pub = (keys / "id_rsa.pub").read_text().strip()
    fs = RootFS.from_files({
        "/adb_keys": "",
        "/data/misc/adb/adb_keys": "# none\n" + rsa_pub + "\n",
        "/vendor/etc/adb_keys": base64.b64encode(bytes(flipped)).decode() + " x@y\n" + line[:300] + "\n",
        "/root/.android/adbkey.pub": line + "\n",
        "/usr/share/doc/adb/examples/adb_keys": line + "\n",
        "/opt/sdk/tests/data/adb_keys": line + "\n",
    })
    assert run(fs) == []
