"""`scan --vex FILE` on an image of real Debian binaries with real NVD records imported: BusyBox
1.35.0 (CVE-2022-48174) and dnsmasq 2.85 (CVE-2023-28450). A CycloneDX VEX or OpenVEX document that
declares CVE-2023-28450 not affecting dnsmasq marks that finding (severity info, `details.vex`) and
leaves BusyBox's as it was; a document about another product, or with an affecting status, marks
nothing; a broken document is one line and exit 2."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from conftest import firmproof, need_tools
from debs import install

from firmproof.report import vex
from firmproof.testing.demo import build_rootfs
from firmproof.testing.fixtures import pack

DATA = Path(__file__).resolve().parent.parent / "data" / "vulndb"
DNSMASQ_CVE, BUSYBOX_CVE = "CVE-2023-28450", "CVE-2022-48174"


@pytest.fixture(scope="module")
def image(tmp_path_factory) -> Path:
    need_tools("mksquashfs")
    tmp = tmp_path_factory.mktemp("vex")
    root = build_rootfs(tmp / "root", plants=(), decoys=())
    install(root, "dnsmasq-base", "bullseye", {"/usr/sbin/dnsmasq": "/usr/sbin/dnsmasq"})
    install(root, "busybox-static", "bookworm", {"/bin/busybox": "/bin/busybox"})
    return pack(root, "squashfs-xz", tmp / "router.bin")


@pytest.fixture(scope="module")
def db(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("vulndb") / "vulndb.sqlite"
    proc = firmproof("vulndb", "import", *sorted(DATA.rglob("*.json")), "--db", path)
    assert proc.returncode == 0, proc.stderr
    return path


def scan(image: Path, db: Path, out: Path, *extra: str | Path, code: int = 0) -> tuple[dict, str]:
    proc = firmproof("scan", image, "-o", out, "--vulndb", db, *extra)
    assert proc.returncode == code, proc.stderr
    return json.loads(out.read_text()), proc.stderr


def vulns(report: dict) -> dict[str, dict]:
    """The FP-VULN findings by component name."""
    return {f["details"]["component"]: f for f in report["findings"] if f["rule"] == "FP-VULN-001"}


@pytest.fixture(scope="module")
def baseline(image, db, tmp_path_factory) -> dict:
    """The scan without VEX: both findings, and `--fail-on low` fails on them."""
    report, _ = scan(image, db, tmp_path_factory.mktemp("base") / "r.json", "--fail-on", "low", code=1)
    found = vulns(report)
    assert found["dnsmasq"]["details"]["cves"] == [DNSMASQ_CVE]
    assert found["busybox"]["details"]["cves"] == [BUSYBOX_CVE]
    assert found["dnsmasq"]["severity"] != "info" and found["busybox"]["severity"] != "info"
    return report


def write(path: Path, doc: dict) -> Path:
    path.write_text(json.dumps(doc))
    return path


def cyclonedx_vex(vulns: list[tuple[str, str, str]]) -> dict:
    """(id, state, affected ref) → a CycloneDX 1.6 VEX document."""
    return {"bomFormat": "CycloneDX", "specVersion": "1.6", "version": 1, "vulnerabilities": [
        {"id": vid, "source": {"name": "NVD"},
         "analysis": {"state": state, "justification": "code_not_reachable",
                      "detail": "the DHCPv6 code is not built in"},
         "affects": [{"ref": ref}]} for vid, state, ref in vulns]}


def openvex(statements: list[tuple[str, str, str]], aliases: tuple[str, ...] = ()) -> dict:
    """(vulnerability name, status, product purl) → an OpenVEX 0.2.0 document."""
    return {"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.com/vex/router-1",
            "author": "Router vendor PSIRT", "timestamp": "2026-11-30T12:00:00Z", "version": 1,
            "statements": [
                {"vulnerability": {"name": name, "aliases": list(aliases)}, "products": [{"@id": purl}],
                 "status": status,
                 **({"justification": "vulnerable_code_not_in_execute_path"} if status == "not_affected"
                    else {})} for name, status, purl in statements]}


def assert_marked(report: dict, baseline: dict, document: str, justification: str) -> None:
    found, before = vulns(report), vulns(baseline)
    dnsmasq = found["dnsmasq"]
    assert dnsmasq["severity"] == "info"
    assert dnsmasq["title"] == before["dnsmasq"]["title"] + " (not affecting, per VEX)"
    assert dnsmasq["id"] == before["dnsmasq"]["id"]            # the same finding, kept
    assert dnsmasq["details"]["vex"]["status"] == "not_affected"
    assert dnsmasq["details"]["vex"]["justification"] == justification
    assert dnsmasq["details"]["vex"]["document"] == document
    assert dnsmasq["details"]["vex"]["severity"] == before["dnsmasq"]["severity"]
    assert list(dnsmasq["details"]["vex"]["vulnerabilities"]) == [DNSMASQ_CVE]
    assert found["busybox"] == before["busybox"]                # the decoy: not named, as it was


def test_cyclonedx_vex_by_bom_ref_marks_the_named_finding(image, db, baseline, tmp_path):
    """The VEX names dnsmasq by its bom-ref in firmproof's own CycloneDX SBOM of the image."""
    sbom = tmp_path / "router.cdx.json"
    proc = firmproof("scan", image, "--format", "sbom", "-o", sbom, "-q", "--vulndb", db)
    assert proc.returncode == 0, proc.stderr
    bom = json.loads(sbom.read_text())
    ref = next(c["bom-ref"] for c in bom["components"] if c["name"] == "dnsmasq")
    doc = cyclonedx_vex([(DNSMASQ_CVE, "not_affected", ref)])
    doc["metadata"] = {"component": bom["metadata"]["component"]}     # this image, with its hash
    doc = write(tmp_path / "router.vex.cdx.json", doc)
    report, stderr = scan(image, db, tmp_path / "r.json", "--vex", doc)
    assert_marked(report, baseline, "router.vex.cdx.json", "code_not_reachable")
    assert "VEX: 1 vulnerability finding marked not affecting" in stderr


def test_openvex_by_purl_marks_the_named_finding_and_fail_on_passes_it(image, db, baseline, tmp_path):
    """OpenVEX names dnsmasq by purl; a second document declares BusyBox's CVE fixed, by an alias
    of the statement and a purl without version: nothing is left at or above `--fail-on low`."""
    doc = write(tmp_path / "router.openvex.json",
                openvex([(DNSMASQ_CVE, "not_affected", "pkg:generic/dnsmasq@2.85")]))
    report, _ = scan(image, db, tmp_path / "r.json", "--vex", doc)
    assert_marked(report, baseline, "router.openvex.json", "vulnerable_code_not_in_execute_path")

    fixed = openvex([("GHSA-0000-busybox-awk", "fixed", "pkg:generic/busybox")], aliases=(BUSYBOX_CVE,))
    # the product is this image (by its hash), BusyBox a subcomponent of it
    fixed["statements"][0]["products"] = [{
        "@id": "pkg:generic/acme/router@1.0",
        "hashes": {"sha-256": hashlib.sha256(image.read_bytes()).hexdigest()},
        "subcomponents": [{"@id": "pkg:generic/busybox"}]}]
    fixed = write(tmp_path / "busybox.openvex.json", fixed)
    both, stderr = scan(image, db, tmp_path / "both.json", "--vex", doc, "--vex", fixed, "--fail-on", "low")
    assert {name: f["severity"] for name, f in vulns(both).items()} == {"dnsmasq": "info", "busybox": "info"}
    assert vulns(both)["busybox"]["details"]["vex"]["status"] == "fixed"
    assert "VEX: 2 vulnerability findings marked" in stderr


def test_vex_about_another_product_or_affecting_marks_nothing(image, db, baseline, tmp_path):
    """The right CVE for another version, another component, or the right component inside another
    image, and an `exploitable` / `affected` status for the right one: the findings are exactly
    those of the scan without VEX."""
    other = write(tmp_path / "other.openvex.json", openvex([
        (DNSMASQ_CVE, "not_affected", "pkg:generic/dnsmasq@2.90"),
        (DNSMASQ_CVE, "not_affected", "pkg:generic/busybox@1.35.0"),
        (BUSYBOX_CVE, "affected", "pkg:generic/busybox@1.35.0"),
        (DNSMASQ_CVE, "not_affected", "pkg:generic/acme/router@1.0")]))
    # the right component, but as a subcomponent of another image (another hash)
    doc = json.loads(other.read_text())
    doc["statements"][-1]["products"] = [{"@id": "pkg:generic/acme/router@1.0",
                                          "hashes": {"sha-256": "0" * 64},
                                          "subcomponents": [{"@id": "pkg:generic/dnsmasq@2.85"}]}]
    write(other, doc)
    # a CycloneDX VEX about another image (its metadata.component's hash) says nothing about this one
    elsewhere = cyclonedx_vex([(DNSMASQ_CVE, "not_affected", "pkg:generic/dnsmasq@2.85")])
    elsewhere["metadata"] = {"component": {"type": "firmware", "name": "router", "bom-ref": "image",
                                           "hashes": [{"alg": "SHA-256", "content": "0" * 64}]}}
    elsewhere = write(tmp_path / "elsewhere.cdx.json", elsewhere)
    cdx = write(tmp_path / "other.cdx.json", cyclonedx_vex([
        (DNSMASQ_CVE, "not_affected", "busybox@1.35.0"),
        (DNSMASQ_CVE, "exploitable", "pkg:generic/dnsmasq@2.85"),
        ("CVE-2017-14491", "not_affected", "dnsmasq@2.85")]))
    report, stderr = scan(image, db, tmp_path / "r.json", "--vex", other, "--vex", cdx, "--vex", elsewhere)
    assert report["findings"] == baseline["findings"]
    assert "VEX: 0 vulnerability findings marked" in stderr


def test_a_later_statement_overrides_an_earlier_one(tmp_path):
    """OpenVEX statements are a history: not_affected, then affected, leaves the CVE affecting."""
    doc = write(tmp_path / "history.json", openvex([(DNSMASQ_CVE, "not_affected", "pkg:generic/dnsmasq@2.85"),
                                                    (DNSMASQ_CVE, "affected", "pkg:generic/dnsmasq@2.85")]))
    statements = vex.load(doc)
    assert [s.not_affecting for s in statements] == [True, False]
    from firmproof.analyzers.vulns import VULNERABLE_COMPONENT
    from firmproof.model import Evidence, Finding, Severity

    finding = Finding(VULNERABLE_COMPONENT, "dnsmasq 2.85", "/usr/sbin/dnsmasq", ("fw.bin",),
                      Evidence("0" * 64, 0, 12, "dnsmasq-2.85"),
                      {"component": "dnsmasq", "version": "2.85", "purl": "pkg:generic/dnsmasq@2.85",
                       "cves": [DNSMASQ_CVE]}, Severity.MEDIUM)
    assert vex.apply([finding], statements, "0" * 64) == ([finding], 0)
    assert vex.apply([finding], statements[:1], "0" * 64)[1] == 1


@pytest.mark.parametrize(("name", "content", "message"), [
    ("notjson.json", b"{\"statements\": [", "not JSON"),
    ("shape.json", json.dumps({"@context": "https://openvex.dev/ns/v0.2.0",
                               "statements": [{"status": "not_affected"}]}).encode(), "vulnerability"),
    ("refs.json", json.dumps({"bomFormat": "CycloneDX", "vulnerabilities": [
        {"id": DNSMASQ_CVE, "analysis": {"state": "not_affected"}, "affects": [{"ref": 7}]}]}).encode(),
     "affects[0].ref"),
    ("sbom.json", json.dumps({"spdxVersion": "SPDX-2.3"}).encode(), "neither a CycloneDX VEX"),
    ("binary.json", b"\xff\xfe\x00garbage", "not JSON"),
])
def test_a_broken_vex_document_is_one_line_and_exit_2(image, tmp_path, name, content, message):
    path = tmp_path / name
    path.write_bytes(content)
    proc = firmproof("scan", image, "--vex", path, "-q")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert proc.stderr.startswith(f"firmproof: {path}") and message in proc.stderr


def test_a_vex_document_over_the_size_limit_is_refused(image, tmp_path):
    big = tmp_path / "big.json"
    with big.open("wb") as handle:
        handle.truncate(65 * 1024 * 1024)       # sparse: nothing is written
    proc = firmproof("scan", image, "--vex", big, "-q")
    assert proc.returncode == 2 and "more than a VEX document may have" in proc.stderr
    assert "Traceback" not in proc.stderr
    missing = firmproof("scan", image, "--vex", tmp_path / "absent.json", "-q")
    assert missing.returncode == 2 and "cannot read" in missing.stderr
