"""`firmproof db`: the store's first queries over a batch of real scans, on SQLite and PostgreSQL,
and their command line (table, CSV, JSON)."""

from __future__ import annotations

import base64
import csv
import io
import json
import subprocess
import sys
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from firmproof.batch import BatchOptions, collect, run_batch
from firmproof.device.parsers.sshkey import fingerprint
from firmproof.store import Store, open_store
from firmproof.store.query import Filters, component, findings, images, key, scans


@pytest.fixture(scope="session")
def two_vendors(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """One root file system with an authorized key (and a BusyBox), packed twice (SquashFS and
    ext4): two images of two vendors that ship the same key; the manifest naming them; the
    key's fingerprint as OpenSSH computes it."""
    from firmproof.testing.demo import build_rootfs
    from firmproof.testing.fixtures import pack

    root = tmp_path_factory.mktemp("db")
    tree = build_rootfs(root / "rootfs", plants=("authorized-key", "telnetd-shell"), decoys=())
    pack(tree, "squashfs-xz", root / "acme-r1.bin")
    pack(tree, "ext4", root / "globex-g2.bin")
    line = (tree / "root/.ssh/authorized_keys").read_text().split()
    manifest = root / "manifest.json"
    manifest.write_text(json.dumps([
        {"path": "acme-r1.bin", "vendor": "Acme", "product": "R1", "version": "2.1",
         "release_date": "2023-05-01"},
        {"path": "globex-g2.bin", "vendor": "Globex", "product": "G2", "version": "7.0"}]))
    return manifest, fingerprint(base64.b64decode(line[1]))


def _fill(url: str, manifest: Path) -> Store:
    store = open_store(url)
    result = run_batch(collect(str(manifest)), store, BatchOptions(jobs=2))
    assert result.scanned == 2 and result.ok
    return store


@pytest.fixture(params=["sqlite", "postgresql"])
def filled(request: pytest.FixtureRequest, tmp_path: Path, two_vendors: tuple[Path, str]) -> Any:
    url = str(tmp_path / "store.sqlite") if request.param == "sqlite" else request.getfixturevalue("pg_url")
    store = _fill(url, two_vendors[0])
    yield store, url
    store.close()


def test_a_key_planted_in_two_images_of_two_vendors_is_found_in_both(
        filled: tuple[Store, str], two_vendors: tuple[Path, str]) -> None:
    store, _ = filled
    fp = two_vendors[1]
    rows = key(store, fp)
    assert [(r["vendor"], r["product"], r["image"], r["rule"], r["path"]) for r in rows] == [
        ("Acme", "R1", "acme-r1.bin", "FP-KEY-004", "/root/.ssh/authorized_keys"),
        ("Globex", "G2", "globex-g2.bin", "FP-KEY-004", "/root/.ssh/authorized_keys")]
    assert key(store, fp.removeprefix("SHA256:")) == rows
    assert key(store, "SHA256:" + "A" * 43) == []


def test_images_scans_findings_and_components_by_vendor_rule_and_severity(filled: tuple[Store, str]) -> None:
    store, _ = filled
    listed = [(r["name"], r["vendor"], r["release_date"], r["scans"], r["last_status"])
              for r in images(store)]
    assert listed == [("acme-r1.bin", "Acme", date(2023, 5, 1), 1, "ok"),
                      ("globex-g2.bin", "Globex", None, 1, "ok")]
    assert [r["name"] for r in images(store, Filters(vendor="Globex"))] == ["globex-g2.bin"]
    assert [(r["name"], r["status"]) for r in scans(store, Filters(product="R1"))] == [("acme-r1.bin", "ok")]
    every = findings(store)
    assert {r["image"] for r in every} == {"acme-r1.bin", "globex-g2.bin"}
    telnet = findings(store, Filters(rule="FP-SVC-001"))
    assert [(r["vendor"], r["path"]) for r in telnet] == \
        [("Acme", "/etc/init.d/rcS"), ("Globex", "/etc/init.d/rcS")]
    assert len({r["key"] for r in telnet}) == 1            # the same finding in both: one triage key
    critical = findings(store, Filters(vendor="Acme", severity="critical"))
    assert critical and {r["severity"] for r in critical} == {"critical"}
    assert {r["severity"] for r in findings(store, Filters(severity="high"))} <= {"critical", "high"}
    busybox = component(store, "BusyBox")
    assert [(r["image"], r["component"]) for r in busybox] == [("acme-r1.bin", "busybox"),
                                                              ("globex-g2.bin", "busybox")]
    version = busybox[0]["component_version"]
    assert len(component(store, "busybox", version)) == 2
    assert component(store, "busybox", "0.0.1") == []


def _db(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "firmproof.cli", "db", *args], capture_output=True,
                          text=True, timeout=300, check=False)


def test_the_command_line_gives_table_csv_and_json(two_vendors: tuple[Path, str], tmp_path: Path) -> None:
    url = str(tmp_path / "store.sqlite")
    _fill(url, two_vendors[0]).close()
    fp = two_vendors[1]
    as_json = _db("key", fp, "--db", url, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert [(r["vendor"], r["image"]) for r in json.loads(as_json.stdout)] == \
        [("Acme", "acme-r1.bin"), ("Globex", "globex-g2.bin")]
    as_csv = _db("images", "--db", url, "--csv", "--vendor", "Acme")
    rows = list(csv.DictReader(io.StringIO(as_csv.stdout)))
    assert [(r["name"], r["release_date"], r["version"]) for r in rows] == \
        [("acme-r1.bin", "2023-05-01", "2.1")]
    table = _db("findings", "--db", url, "--rule", "FP-SVC-001")
    assert table.returncode == 0 and "telnetd -l /bin/sh" in table.stdout and "2 rows" in table.stdout
    bad = _db("findings", "--db", url, "--severity", "dire")
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    missing = _db("images", "--db", "mysql://x@127.0.0.1/db")
    assert (missing.returncode, missing.stderr.count("\n")) == (2, 1)
    assert "unsupported database" in missing.stderr
