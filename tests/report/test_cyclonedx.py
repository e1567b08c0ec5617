"""`scan --format sbom` on images built from real Debian binaries: CycloneDX 1.6 valid against
the schema, each component with the right version; with real OSV/NVD excerpts imported, the
vulnerable versions are flagged with the right CVEs and patched ones are not."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import firmproof, need_tools
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator
from debs import debian_package, install

from firmproof.testing.demo import build_rootfs
from firmproof.testing.fixtures import pack

DATA = Path(__file__).resolve().parent.parent / "data" / "vulndb"


def build(tmp_path: Path, name: str, *, patched: bool) -> Path:
    """A router image: the demo root file system plus Debian's dropbear, openssl, dnsmasq.
    `patched` takes BusyBox and dnsmasq from trixie (1.37.0, 2.91) instead of bookworm's
    BusyBox (1.35.0) and bullseye's dnsmasq (2.85), whatever release the host runs."""
    need_tools("mksquashfs")
    root = build_rootfs(tmp_path / f"{name}-root", plants=(), decoys=())
    install(root, "dropbear-bin", "bookworm", {"/usr/sbin/dropbear": "/usr/sbin/dropbear"})
    install(root, "openssl", "bullseye", {"/usr/bin/openssl": "/usr/bin/openssl"})
    install(root, "libssl1.1", "bullseye", {
        "/usr/lib/x86_64-linux-gnu/libcrypto.so.1.1": "/usr/lib/libcrypto.so.1.1"})
    if patched:
        install(root, "busybox-static", "trixie", {"/usr/bin/busybox": "/bin/busybox"})
        install(root, "dnsmasq-base", "trixie", {"/usr/sbin/dnsmasq": "/usr/sbin/dnsmasq"})
    else:
        install(root, "busybox-static", "bookworm", {"/bin/busybox": "/bin/busybox"})
        install(root, "dnsmasq-base", "bullseye", {"/usr/sbin/dnsmasq": "/usr/sbin/dnsmasq"})
    return pack(root, "squashfs-xz", tmp_path / f"{name}.bin")


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("sbom")
    return build(tmp, "old", patched=False), build(tmp, "new", patched=True)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    path = tmp_path_factory.mktemp("vulndb") / "vulndb.sqlite"
    proc = firmproof("vulndb", "import", *sorted(DATA.rglob("*.json")), "--db", path)
    assert proc.returncode == 0, proc.stderr
    return path


def sbom_of(image: Path, tmp_path: Path) -> dict:
    out = tmp_path / f"{image.stem}.cdx.json"
    proc = firmproof("scan", image, "--format", "sbom", "-o", out, "-q", "--vulndb", tmp_path / "none")
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(text)
    assert errors is None, errors
    return json.loads(text)


def versions(bom: dict) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for c in bom["components"]:
        found.setdefault(c["name"], set()).add(c["version"])
    return found


def test_sbom_names_each_component_with_its_version(images, tmp_path):
    old, new = images
    bom = sbom_of(old, tmp_path)
    assert bom["specVersion"] == "1.6"
    root = bom["metadata"]["component"]
    assert root["type"] == "firmware" and root["name"] == old.name
    assert root["hashes"] == [{"alg": "SHA-256", "content": hashlib.sha256(old.read_bytes()).hexdigest()}]
    assert versions(bom) == {"busybox": {"1.35.0"}, "dropbear": {"2022.83"}, "openssl": {"1.1.1w"},
                             "dnsmasq": {"2.85"}}
    assert versions(sbom_of(new, tmp_path)) == {"busybox": {"1.37.0"}, "dropbear": {"2022.83"},
                                                "openssl": {"1.1.1w"}, "dnsmasq": {"2.91"}}


def test_sbom_entries_point_at_the_version_bytes(images, tmp_path):
    old, _ = images
    bom = sbom_of(old, tmp_path)
    by_path = {next(p["value"] for p in c["properties"] if p["name"] == "firmproof:path"): c
               for c in bom["components"]}
    dnsmasq = by_path["/usr/sbin/dnsmasq"]
    assert dnsmasq["purl"] == "pkg:generic/dnsmasq@2.85"
    assert dnsmasq["cpe"] == "cpe:2.3:a:thekelleys:dnsmasq:2.85:*:*:*:*:*:*:*"
    tree, _ = debian_package("dnsmasq-base", "bullseye")
    data = (tree / "usr/sbin/dnsmasq").read_bytes()
    assert dnsmasq["hashes"][0]["content"] == hashlib.sha256(data).hexdigest()
    props = {p["name"]: p["value"] for p in dnsmasq["properties"]}
    offset, length = int(props["firmproof:evidence:offset"]), int(props["firmproof:evidence:length"])
    assert data[offset:offset + length] == b"dnsmasq-2.85"   # the version string, not the NUL that ends it
    assert dnsmasq["evidence"]["occurrences"][0]["offset"] == offset
    deps = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    assert dnsmasq["bom-ref"] in deps[bom["metadata"]["component"]["bom-ref"]]


def test_vulnerable_versions_flagged_patched_not(images, db, tmp_path):
    """FP-VULN-001 end to end: BusyBox 1.35.0 and dnsmasq 2.85 carry real CVEs; BusyBox 1.37.0,
    dnsmasq 2.91, dropbear 2022.83 and OpenSSL 1.1.1w do not match any imported record."""
    old, new = images
    report = tmp_path / "old.json"
    proc = firmproof("scan", old, "-o", report, "-q", "--vulndb", db)
    assert proc.returncode == 0, proc.stderr
    assert "vulnerability matching is off" not in proc.stderr
    vulns = {(f["details"]["component"], f["path"]): f
             for f in json.loads(report.read_text())["findings"] if f["rule"] == "FP-VULN-001"}
    assert set(vulns) == {("busybox", "/bin/busybox"), ("dnsmasq", "/usr/sbin/dnsmasq")}
    assert vulns[("busybox", "/bin/busybox")]["details"]["cves"] == ["CVE-2022-48174"]
    assert vulns[("busybox", "/bin/busybox")]["evidence"]["excerpt"] == "BusyBox v1.35.0"
    assert vulns[("dnsmasq", "/usr/sbin/dnsmasq")]["details"]["cves"] == ["CVE-2023-28450"]
    assert vulns[("dnsmasq", "/usr/sbin/dnsmasq")]["severity"] == "high"
    assert vulns[("dnsmasq", "/usr/sbin/dnsmasq")]["category"] == "component.vulnerable"

    report = tmp_path / "new.json"
    proc = firmproof("scan", new, "-o", report, "-q", "--vulndb", db)
    assert proc.returncode == 0, proc.stderr
    assert [f for f in json.loads(report.read_text())["findings"] if f["rule"] == "FP-VULN-001"] == []


def test_without_database_matching_is_off_said_once(images, tmp_path):
    old, _ = images
    proc = firmproof("scan", old, "-o", tmp_path / "r.json", "-q", "--vulndb", tmp_path / "absent.sqlite")
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr.count("vulnerability matching is off") == 1
    report = json.loads((tmp_path / "r.json").read_text())
    assert not [f for f in report["findings"] if f["rule"] == "FP-VULN-001"]


def test_programs_depend_on_the_libraries_they_load(tmp_path):
    """hostapd loads libssl and libcrypto: the SBOM names OpenSSL once, at the library's own
    version (not the 3.0.16 of the headers hostapd was built with), hostapd depends on it, and
    the other file carrying the same version is a further occurrence."""
    need_tools("mksquashfs")
    root = build_rootfs(tmp_path / "root", plants=(), decoys=())
    install(root, "hostapd", "bookworm", {"/usr/sbin/hostapd": "/usr/sbin/hostapd"})
    lib = "/usr/lib/x86_64-linux-gnu"
    install(root, "libssl3", "bookworm", {f"{lib}/libcrypto.so.3": "/usr/lib/libcrypto.so.3",
                                           f"{lib}/libssl.so.3": "/usr/lib/libssl.so.3"})
    install(root, "openssl", "bookworm", {"/usr/bin/openssl": "/usr/bin/openssl"})
    _, libssl_version = debian_package("libssl3", "bookworm")
    bom = sbom_of(pack(root, "squashfs-xz", tmp_path / "ap.bin"), tmp_path)
    by_name = {c["name"]: c for c in bom["components"]}
    openssl, hostapd = by_name["openssl"], by_name["hostapd"]
    assert versions(bom)["openssl"] == {libssl_version.split("-")[0]}
    locations = [o["location"].split(":", 1)[1] for o in openssl["evidence"]["occurrences"]]
    assert locations == ["/usr/lib/libcrypto.so.3", "/usr/bin/openssl"]
    deps = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    assert deps[hostapd["bom-ref"]] == [openssl["bom-ref"]]


def test_a_version_read_from_a_file_name_says_so():
    """A property marks the components whose version is in their file's name (mbed TLS 3,
    uClibc), not in the bytes their evidence points at."""
    from firmproof.device.components import Component
    from firmproof.model import Evidence
    from firmproof.report.cyclonedx import _entry

    def entry(version_from: str) -> dict[str, str]:
        c = Component(name="mbedtls", version="3.6.6", source="binary", path="/usr/lib/libmbedtls.so.3.6.6",
                      fs_path="/usr/lib/libmbedtls.so.3.6.6", container=("fw.bin",),
                      evidence=Evidence("ab" * 32, 100, 8, "mbedtls_"), version_from=version_from)
        return {p.name: p.value for p in _entry(c).properties}

    assert entry("file name")["firmproof:version-from"] == "file name"
    assert "firmproof:version-from" not in entry("content")
