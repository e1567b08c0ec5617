"""The offline vulnerability database: importing real OSV/NVD records, version ranges, and
FP-VULN-001 on real Debian binaries (vulnerable versions flagged, patched ones not)."""

from __future__ import annotations

import gzip
import json
import zipfile
from pathlib import Path

import pytest
from conftest import firmproof
from debs import debian_package

from firmproof.analyzers.vulns import VULNERABLE_COMPONENT, Vulnerabilities
from firmproof.device.components import vulndb
from firmproof.fs.rootfs import RootFS
from firmproof.model import Severity

DATA = Path(__file__).resolve().parent / "data" / "vulndb"
NVD = sorted((DATA / "nvd").glob("*.json"))
OSV = sorted((DATA / "osv").glob("*.json"))


@pytest.fixture
def db(tmp_path):
    path = tmp_path / "vulndb.sqlite"
    vulndb.import_files([*NVD, *OSV], path)
    vulndb.configure(path)
    yield path
    vulndb.configure(None)


def records_for(key: str, version: str) -> set[str]:
    return {m.id for m in vulndb.lookup((key,), version)}


def test_import_through_the_cli(tmp_path):
    path = tmp_path / "db.sqlite"
    proc = firmproof("vulndb", "import", *NVD, *OSV, "--db", path)
    assert proc.returncode == 0, proc.stderr
    assert "imported 6 records" in proc.stderr
    info = firmproof("vulndb", "info", "--db", path)
    assert info.returncode == 0 and "5 nvd records" in info.stdout and "1 osv records" in info.stdout


def test_feed_envelopes_zip_and_gzip(tmp_path):
    """The same real records as an NVD 2.0 feed file (gzipped) and an OSV zip, as published."""
    feed = {"resultsPerPage": len(NVD), "startIndex": 0, "totalResults": len(NVD), "format": "NVD_CVE",
            "version": "2.0", "vulnerabilities": [{"cve": json.loads(p.read_text())} for p in NVD]}
    (tmp_path / "nvdcve-2.0-modified.json.gz").write_bytes(gzip.compress(json.dumps(feed).encode()))
    with zipfile.ZipFile(tmp_path / "all.zip", "w") as archive:
        for p in OSV:
            archive.write(p, p.name)
    count, rows = vulndb.import_files([tmp_path / "nvdcve-2.0-modified.json.gz", tmp_path / "all.zip"],
                                      tmp_path / "db.sqlite")
    assert (count, rows) == (6, 14)


@pytest.mark.parametrize(("key", "version", "expected"), [
    ("cpe:busybox:busybox", "1.35.0", {"CVE-2022-48174"}),
    ("cpe:busybox:busybox", "1.36.1", {"CVE-2022-48174"}),      # versionEndIncluding
    ("cpe:busybox:busybox", "1.37.0", set()),
    ("cpe:dropbear_ssh_project:dropbear_ssh", "2016.73", {"CVE-2016-7406"}),
    ("cpe:dropbear_ssh_project:dropbear_ssh", "2016.74", set()),
    ("cpe:dropbear_ssh_project:dropbear_ssh", "2022.83", set()),
    ("cpe:openssl:openssl", "1.0.1", {"CVE-2014-0160"}),
    ("cpe:openssl:openssl", "1.0.1f", {"CVE-2014-0160"}),
    ("cpe:openssl:openssl", "1.0.1g", set()),
    ("cpe:openssl:openssl", "1.0.0t", set()),
    ("cpe:openssl:openssl", "1.1.1w", set()),
    ("cpe:thekelleys:dnsmasq", "2.77", {"CVE-2017-14491", "CVE-2023-28450"}),
    ("cpe:thekelleys:dnsmasq", "2.78", {"CVE-2023-28450"}),
    ("cpe:thekelleys:dnsmasq", "2.85", {"CVE-2023-28450"}),
    ("cpe:thekelleys:dnsmasq", "2.90", set()),
    ("cpe:thekelleys:dnsmasq", "2.100", set()),                  # numeric, not lexical
    # OSV, Ubuntu's ranges: an upstream build sorts before Ubuntu's patched build of it
    ("pkg:dnsmasq", "2.66", {"UBUNTU-CVE-2017-14491"}),
    ("pkg:dnsmasq", "2.75", {"UBUNTU-CVE-2017-14491"}),
    ("pkg:dnsmasq", "2.75-1ubuntu0.16.04.3", set()),
    ("pkg:dnsmasq", "2.90", set()),
])
def test_version_ranges(db, key, version, expected):
    assert records_for(key, version) == expected


def test_cvss_and_cve_ids(db):
    (nvd,) = vulndb.lookup(("cpe:openssl:openssl",), "1.0.1f")
    assert (nvd.cves, nvd.cvss_score) == (("CVE-2014-0160",), 7.5)
    (osv,) = vulndb.lookup(("pkg:dnsmasq",), "2.75")
    assert osv.cves == ("CVE-2017-14491",)
    assert osv.cvss_score == 9.8 and osv.cvss_vector.startswith("CVSS:3.1/")


@pytest.mark.parametrize(("name", "content", "message"), [
    ("notjson.json", b"\x00\x01binary", "not JSON"),
    ("other.json", b'{"hello": "world"}', "neither an OSV record nor an NVD CVE record"),
    ("bad.zip", b"PK\x03\x04 truncated", "cannot read"),
])
def test_bad_input(tmp_path, name, content, message):
    (tmp_path / name).write_bytes(content)
    proc = firmproof("vulndb", "import", tmp_path / name, "--db", tmp_path / "db.sqlite")
    assert proc.returncode == 2
    assert message in proc.stderr and "Traceback" not in proc.stderr


def test_missing_file(tmp_path):
    proc = firmproof("vulndb", "import", tmp_path / "nope.json", "--db", tmp_path / "db.sqlite")
    assert proc.returncode == 2 and "cannot read" in proc.stderr and "Traceback" not in proc.stderr


def _busybox_view(suite: str) -> tuple[RootFS, bytes]:
    tree, _ = debian_package("busybox-static", suite)
    binary = next(p for p in (tree / "bin/busybox", tree / "usr/bin/busybox") if p.is_file())
    data = binary.read_bytes()
    return RootFS.from_files({"/bin/busybox": data}, modes={"/bin/busybox": 0o755}), data


def test_fp_vuln_001_flags_busybox_1_35(db):
    """FP-VULN-001: Debian bookworm's BusyBox 1.35.0 is inside CVE-2022-48174's range."""
    fs, data = _busybox_view("bookworm")
    (finding,) = Vulnerabilities().run(fs)
    assert finding.rule is VULNERABLE_COMPONENT
    ev = finding.evidence
    assert data[ev.offset:ev.offset + ev.length] == b"BusyBox v1.35.0"
    assert finding.details["component"] == "busybox" and finding.details["version"] == "1.35.0"
    assert finding.details["cves"] == ["CVE-2022-48174"]
    assert finding.details["cvss"]["score"] == 9.8 and finding.severity is Severity.CRITICAL


def test_fp_vuln_001_leaves_patched_busybox_alone(db):
    fs, _ = _busybox_view("trixie")      # 1.37.0
    assert list(Vulnerabilities().run(fs)) == []


def test_no_database_no_finding(tmp_path):
    vulndb.configure(tmp_path / "absent.sqlite")
    try:
        fs, _ = _busybox_view("bookworm")
        assert list(Vulnerabilities().run(fs)) == []
    finally:
        vulndb.configure(None)


def test_fp_vuln_001_on_opkg_entry(db):
    status = "Package: dnsmasq-full\nVersion: 2.77-1\nStatus: install user installed\n"
    fs = RootFS.from_files({"/usr/lib/opkg/status": status})
    (finding,) = Vulnerabilities().run(fs)
    assert set(finding.details["cves"]) == {"CVE-2017-14491", "CVE-2023-28450"}
    assert finding.evidence.excerpt == "Package: dnsmasq-full\\x0aVersion: 2.77-1"


def test_database_folder_is_created(tmp_path):
    path = tmp_path / "deep" / "er" / "db.sqlite"
    vulndb.import_files(OSV, path)
    assert path.is_file()


def test_withdrawn_osv_record_matches_nothing(tmp_path):
    record = json.loads(OSV[0].read_text())
    record["withdrawn"] = "2018-01-01T00:00:00Z"
    (tmp_path / "w.json").write_text(json.dumps(record))
    vulndb.import_files([tmp_path / "w.json"], tmp_path / "db.sqlite")
    vulndb.configure(tmp_path / "db.sqlite")
    try:
        assert vulndb.lookup(("pkg:dnsmasq",), "2.66") == ()
    finally:
        vulndb.configure(None)


def test_records_filed_under_another_cpe_name_match(db):
    """NVD files one product's CVEs under several names (curl's under `haxx:curl` and
    `haxx:libcurl`, pppd's under `samba:ppp` and `point-to-point_protocol_project:...`): a
    component's `cpe_aliases` are looked up too, its own CPE name staying what the SBOM says."""
    from firmproof.analyzers.vulns import matches
    from firmproof.device.components import Component
    from firmproof.model import Evidence

    def component(aliases: tuple[str, ...]) -> Component:
        return Component(name="busybox", version="1.35.0", source="binary", path="/bin/busybox",
                         fs_path="/bin/busybox", container=("fw",), evidence=Evidence("00" * 32, 0, 1, "x"),
                         vendor="example", product="box", cpe_aliases=aliases)

    assert "CVE-2022-48174" not in {c for m in matches(component(())) for c in m.cves}
    assert "CVE-2022-48174" in {c for m in matches(component(("busybox:busybox",))) for c in m.cves}
    assert component(("busybox:busybox",)).cpe.startswith("cpe:2.3:a:example:box:1.35.0:")
