"""`scan --format sbom --sbom-format spdx` on an image built from real Debian binaries: SPDX 2.3
that spdx-tools parses back and validates, the image as the described package, each component
with its version, purl, CPE and file hash, the DT_NEEDED dependencies, and evidence that points at
the version bytes of the file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import firmproof, need_tools
from debs import debian_package, install
from spdx_tools.spdx.model import Relationship, RelationshipType
from spdx_tools.spdx.parser.parse_anything import parse_file
from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

from firmproof.device.components import Component
from firmproof.model import Evidence
from firmproof.report import Image, Report, Unpacked
from firmproof.report.spdx import SpdxInvalid, document, sbom, validate
from firmproof.testing.demo import build_rootfs
from firmproof.testing.fixtures import pack

FILES = {   # (package, suite): {file in the package: where it goes in the image}
    ("dnsmasq-base", "bullseye"): {"/usr/sbin/dnsmasq": "/usr/sbin/dnsmasq"},
    ("busybox-static", "bookworm"): {"/bin/busybox": "/bin/busybox"},
    ("hostapd", "bookworm"): {"/usr/sbin/hostapd": "/usr/sbin/hostapd"},
    ("libssl3", "bookworm"): {"/usr/lib/x86_64-linux-gnu/libssl.so.3": "/usr/lib/libssl.so.3",
                              "/usr/lib/x86_64-linux-gnu/libcrypto.so.3": "/usr/lib/libcrypto.so.3"},
}


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    """A router image: the demo root file system plus Debian's dnsmasq, BusyBox, and hostapd with
    the OpenSSL 3 libraries it loads."""
    need_tools("mksquashfs")
    tmp = tmp_path_factory.mktemp("spdx")
    root = build_rootfs(tmp / "root", plants=(), decoys=())
    for (package, suite), files in FILES.items():
        install(root, package, suite, files)
    return pack(root, "squashfs-xz", tmp / "router.bin")


@pytest.fixture(scope="module")
def written(image, tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("spdx-out") / "router.spdx.json"
    proc = firmproof("scan", image, "--format", "sbom", "--sbom-format", "spdx", "-o", out, "-q",
                     "--vulndb", out.parent / "none")
    assert proc.returncode == 0, proc.stderr
    return out, json.loads(out.read_text())


def packages(doc: dict) -> dict[str, dict]:
    return {p["SPDXID"]: p for p in doc["packages"]}


def by_path(doc: dict) -> dict[str, dict]:
    """Packages by the path of the file their version was read from (their evidence annotation)."""
    out = {}
    for p in doc["packages"]:
        for a in p.get("annotations", []):
            out[json.loads(a["comment"])["firmproof:evidence"]["path"]] = p
    return out


def test_spdx_tools_parses_and_validates_the_sbom(written):
    path, doc = written
    assert doc["spdxVersion"] == "SPDX-2.3"
    parsed = parse_file(str(path))
    assert validate_full_spdx_document(parsed) == []
    assert len(parsed.packages) == len(doc["packages"])


def test_the_image_is_the_described_package(image, written):
    _, doc = written
    described = [r["relatedSpdxElement"] for r in doc["relationships"]
                 if r["spdxElementId"] == "SPDXRef-DOCUMENT" and r["relationshipType"] == "DESCRIBES"]
    assert len(described) == 1
    root = packages(doc)[described[0]]
    assert root["primaryPackagePurpose"] == "FIRMWARE" and root["packageFileName"] == image.name
    assert root["checksums"] == [{"algorithm": "SHA256",
                                  "checksumValue": hashlib.sha256(image.read_bytes()).hexdigest()}]
    contained = {r["relatedSpdxElement"] for r in doc["relationships"]
                 if r["spdxElementId"] == described[0] and r["relationshipType"] == "CONTAINS"}
    assert contained == set(packages(doc)) - {described[0]}


def test_each_component_with_version_purl_cpe_and_file_hash(written):
    _, doc = written
    found = {(p["name"], p.get("versionInfo")) for p in doc["packages"][1:]}
    assert {("dnsmasq", "2.85"), ("busybox", "1.35.0"), ("hostapd", "2.10"), ("openssl", "3.0.20")} <= found
    assert {name for name, _ in found} == {"dnsmasq", "busybox", "hostapd", "openssl"}
    dnsmasq = by_path(doc)["/usr/sbin/dnsmasq"]
    refs = {(r["referenceCategory"], r["referenceType"]): r["referenceLocator"]
            for r in dnsmasq["externalRefs"]}
    assert refs == {("PACKAGE_MANAGER", "purl"): "pkg:generic/dnsmasq@2.85",
                    ("SECURITY", "cpe23Type"): "cpe:2.3:a:thekelleys:dnsmasq:2.85:*:*:*:*:*:*:*"}
    tree, _ = debian_package("dnsmasq-base", "bullseye")
    data = (tree / "usr/sbin/dnsmasq").read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    assert dnsmasq["checksums"] == [{"algorithm": "SHA256", "checksumValue": digest}]


def test_evidence_points_at_the_version_bytes(image, written):
    _, doc = written
    annotation = by_path(doc)["/usr/sbin/dnsmasq"]["annotations"][0]
    evidence = json.loads(annotation["comment"])["firmproof:evidence"]
    assert evidence["container"] == [image.name, "squashfs@0x0"] and evidence["source"] == "binary"
    tree, _ = debian_package("dnsmasq-base", "bullseye")
    data = (tree / "usr/sbin/dnsmasq").read_bytes()
    assert evidence["sha256"] == hashlib.sha256(data).hexdigest()
    assert data[evidence["offset"]:evidence["offset"] + evidence["length"]] == b"dnsmasq-2.85"


def test_programs_depend_on_the_libraries_they_load(written):
    """hostapd loads libssl.so.3 and libcrypto.so.3 (DT_NEEDED): it DEPENDS_ON the OpenSSL package
    read from those libraries; dnsmasq and BusyBox load no library that is a component."""
    _, doc = written
    names = {i: p["name"] for i, p in packages(doc).items()}
    depends = {(names[r["spdxElementId"]], names[r["relatedSpdxElement"]]) for r in doc["relationships"]
               if r["relationshipType"] == "DEPENDS_ON"}
    assert depends == {("hostapd", "openssl")}


def test_the_writer_refuses_an_invalid_document(written):
    """The validator the writer runs is spdx-tools' own: a relationship to an element that is not in
    the document is refused, with the validator's message."""
    path, _ = written
    doc = parse_file(str(path))
    validate(doc)     # the document as written holds
    doc.relationships.append(Relationship("SPDXRef-image", RelationshipType.CONTAINS, "SPDXRef-nowhere"))
    with pytest.raises(SpdxInvalid, match="SPDXRef-nowhere"):
        validate(doc)



def _component(name: str, version: str, source: str, path: str) -> Component:
    return Component(name=name, version=version, source=source, path=path, fs_path=path,
                     container=("fw.bin", "squashfs@0x40000"), vendor="example", product="foo",
                     evidence=Evidence("ab" * 32, 100, len(version), version))


def test_versions_a_cpe_binding_must_quote_still_give_a_valid_document():
    """Versions as package databases and binaries spell them: `~` quoted in the CPE, a space (no
    CPE 2.3 can carry it) leaves the CPE out and in the annotation; a package-database entry
    gets no file checksum (its file is the database, not the component); names that are no SPDX
    id are made into one."""
    result = Report(
        image=Image("fw.bin", "cd" * 32, 4096, vendor="Acme Networks", product="RT-1", version="1.0.4"),
        unpack=Unpacked(files=3, bytes=4096, depth=1),
        components=[_component("libfoo+", "1.2~rc1", "dpkg", "/var/lib/dpkg/status"),
                    _component("libfoo+", "1.2~rc1", "binary", "/usr/lib/libfoo.so.1"),
                    _component("bar", "1.0 beta", "binary", "/usr/bin/bar")])
    validate(document(result))
    image, dpkg, lib, bar = json.loads(sbom(result))["packages"]
    assert image["name"] == "RT-1" and image["versionInfo"] == "1.0.4"
    assert image["supplier"] == "Organization: Acme Networks"
    assert dpkg["SPDXID"] != lib["SPDXID"] and dpkg["SPDXID"].startswith("SPDXRef-libfoo-")
    assert "checksums" not in dpkg and lib["checksums"][0]["checksumValue"] == "ab" * 32

    def cpes(package: dict) -> list[str]:
        return [r["referenceLocator"] for r in package["externalRefs"] if r["referenceType"] == "cpe23Type"]

    assert cpes(lib) == cpes(dpkg) == ["cpe:2.3:a:example:foo:1.2\\~rc1:*:*:*:*:*:*:*"]
    assert cpes(bar) == []

    def noted(package: dict) -> str:
        """The CPE as the vulnerability matching spells it, where the SBOM writes another."""
        return json.loads(package["annotations"][0]["comment"])["cpe"]

    assert noted(bar) == "cpe:2.3:a:example:foo:1.0\\ beta:*:*:*:*:*:*:*"
    # the CPE the vulnerability matching uses is the SBOM's own where the binding can carry it
    assert "cpe" not in json.loads(lib["annotations"][0]["comment"])


def test_a_version_read_from_a_file_name_says_so():
    """mbed TLS 3 and uClibc are named by their libraries' file names: the annotation says the
    version came from the name, the evidence being the marker in the file's bytes."""
    from dataclasses import replace

    lib = replace(_component("mbedtls", "3.6.6", "binary", "/usr/lib/libmbedtls.so.3.6.6"),
                  version_from="file name")
    result = Report(image=Image("fw.bin", "cd" * 32, 4096), unpack=Unpacked(files=2, bytes=4096, depth=1),
                    components=[lib, _component("zlib", "1.3.1", "binary", "/usr/lib/libz.so.1")])
    _, named, read = json.loads(sbom(result))["packages"]
    assert json.loads(named["annotations"][0]["comment"])["version_from"] == "file name"
    assert "version_from" not in json.loads(read["annotations"][0]["comment"])
