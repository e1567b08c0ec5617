"""Inventory rows: every key, executable, boot entry and setuid file a scan saw is a row, so that
"where else is this key / this executable?" is SQL. Three images of three vendors built at test
time with the real tools (ssh-keygen, mksquashfs, mkfs.ext4), scanned by a real batch into
SQLite and a real PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from firmproof.batch import BatchOptions, collect, run_batch
from firmproof.device.parsers.sshkey import fingerprint, parse_authorized_keys
from firmproof.store import Store, open_store
from firmproof.store.query import executable, key
from tests.store.rows import dump

TRUE, FALSE = Path("/bin/true"), Path("/bin/false")      # two ELF files of the host, not BusyBox


@dataclass(frozen=True)
class Portfolio:
    manifest: Path
    shared: str              # the key planted in Acme's and Globex's images
    decoy: str               # another key, in Initech's image only
    tool: str                # sha256 of an executable in Acme's and Globex's images only


def _keygen(folder: Path, name: str) -> tuple[Path, str]:
    """A new ed25519 key pair by ssh-keygen: the private key's file and the public line."""
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@factory",
                    "-f", str(folder / name)], check=True, capture_output=True)
    return folder / name, (folder / f"{name}.pub").read_text()


def _fp(line: str) -> str:
    return fingerprint(parse_authorized_keys(line)[0].blob)


def _put(tree: Path, path: str, data: bytes | str, mode: int = 0o644) -> None:
    target = tree / path.lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(data.encode() if isinstance(data, str) else data)
    target.chmod(mode)


@pytest.fixture(scope="session")
def portfolio(tmp_path_factory: pytest.TempPathFactory) -> Portfolio:
    """Acme R1 (SquashFS): the shared key in root's authorized_keys, /usr/bin/true.
    Globex G2 (ext4): the shared key's private half as an SSH host key and its public line in
    /etc/ssh/keys/root.authorized_keys (an AuthorizedKeysFile no rule looks at: no finding),
    /bin/true again at another path. Initech I3 (SquashFS): another key, /bin/false."""
    from firmproof.testing.demo import build_rootfs
    from firmproof.testing.fixtures import pack

    root = tmp_path_factory.mktemp("inventory")
    private, shared = _keygen(root, "shared")
    _, decoy = _keygen(root, "decoy")

    def tree(name: str) -> Path:
        return build_rootfs(root / name, plants=("telnetd-shell",), decoys=())

    acme = tree("acme")
    _put(acme, "/root/.ssh/authorized_keys", shared, 0o600)
    _put(acme, "/usr/bin/true", TRUE.read_bytes(), 0o755)
    pack(acme, "squashfs-xz", root / "acme-r1.bin")
    globex = tree("globex")
    _put(globex, "/etc/ssh/ssh_host_ed25519_key", private.read_bytes(), 0o600)
    _put(globex, "/etc/ssh/keys/root.authorized_keys", shared)
    _put(globex, "/opt/tools/check", TRUE.read_bytes(), 0o755)
    pack(globex, "ext4", root / "globex-g2.bin")
    initech = tree("initech")
    _put(initech, "/root/.ssh/authorized_keys", decoy, 0o600)
    _put(initech, "/usr/bin/false", FALSE.read_bytes(), 0o755)
    pack(initech, "squashfs-xz", root / "initech-i3.bin")
    manifest = root / "manifest.json"
    manifest.write_text(json.dumps([
        {"path": "acme-r1.bin", "vendor": "Acme", "product": "R1", "version": "1.0"},
        {"path": "globex-g2.bin", "vendor": "Globex", "product": "G2", "version": "2.0"},
        {"path": "initech-i3.bin", "vendor": "Initech", "product": "I3", "version": "3.0"}]))
    return Portfolio(manifest, _fp(shared), _fp(decoy), hashlib.sha256(TRUE.read_bytes()).hexdigest())


def _fill(url: str, portfolio: Portfolio) -> Store:
    store = open_store(url)
    result = run_batch(collect(str(portfolio.manifest)), store, BatchOptions(jobs=2))
    assert (result.scanned, result.ok) == (3, True), result.failed
    return store


@pytest.fixture(scope="module")
def stores(portfolio: Portfolio, pg_server: Any,
           tmp_path_factory: pytest.TempPathFactory) -> Any:
    """The same batch into SQLite and into PostgreSQL."""
    lite = _fill(str(tmp_path_factory.mktemp("inventory-store") / "store.sqlite"), portfolio)
    pg = _fill(pg_server.create_database("inventory_rows"), portfolio)
    yield {"sqlite": lite, "postgresql": pg}
    lite.close()
    pg.close()
    pg_server.drop_database("inventory_rows")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest, stores: dict[str, Store]) -> Store:
    return stores[request.param]


def test_a_key_in_two_images_of_two_vendors_is_found_in_both_and_the_decoy_is_not(
        store: Store, portfolio: Portfolio) -> None:
    rows = key(store, portfolio.shared)
    assert [(r["vendor"], r["image"], r["kind"], r["path"], r["rule"]) for r in rows] == [
        ("Acme", "acme-r1.bin", "authorized", "/root/.ssh/authorized_keys", "FP-KEY-004"),
        ("Globex", "globex-g2.bin", "authorized", "/etc/ssh/keys/root.authorized_keys", None),
        ("Globex", "globex-g2.bin", "private", "/etc/ssh/ssh_host_ed25519_key", "FP-KEY-001")]
    assert {r["fingerprint"] for r in rows} == {portfolio.shared}
    assert [r["inside"] for r in rows] == ["squashfs@0x0", "extfs@0x0", "extfs@0x0"]
    assert (rows[0]["type"], rows[0]["comment"]) == ("ssh-ed25519", "shared@factory")
    assert key(store, portfolio.shared.removeprefix("SHA256:")) == rows
    decoy = key(store, portfolio.decoy)
    assert [(r["vendor"], r["path"]) for r in decoy] == [("Initech", "/root/.ssh/authorized_keys")]
    assert key(store, "SHA256:" + "A" * 43) == []


def test_an_authorized_key_that_made_no_finding_is_still_a_row(store: Store, portfolio: Portfolio) -> None:
    with store.sessions() as session:
        findings = session.execute(text(
            "SELECT count(*) FROM findings WHERE path = '/etc/ssh/keys/root.authorized_keys'")).scalar()
        rows = session.execute(text(
            "SELECT kind, fingerprint FROM shipped_keys WHERE path = '/etc/ssh/keys/root.authorized_keys'")
        ).all()
    assert findings == 0
    assert [tuple(r) for r in rows] == [("authorized", portfolio.shared)]


def test_an_executable_shared_by_two_images_is_found_in_both(store: Store, portfolio: Portfolio) -> None:
    rows = executable(store, portfolio.tool)
    assert [(r["vendor"], r["path"], r["size"]) for r in rows] == [
        ("Acme", "/usr/bin/true", TRUE.stat().st_size), ("Globex", "/opt/tools/check", TRUE.stat().st_size)]
    assert executable(store, portfolio.tool.upper()) == rows
    busybox = executable(store, hashlib.sha256(Path(shutil.which("busybox") or "/bin/busybox")
                                               .read_bytes()).hexdigest())
    assert {r["vendor"] for r in busybox} == {"Acme", "Globex", "Initech"}
    assert executable(store, hashlib.sha256(FALSE.read_bytes()).hexdigest())[0]["vendor"] == "Initech"
    assert executable(store, "0" * 64) == []


def test_boot_entries_and_setuid_files_are_rows(store: Store) -> None:
    with store.sessions() as session:
        telnetd = session.execute(text(
            "SELECT i.vendor, b.file, b.command, b.listener, b.via FROM boot_entries b "
            "JOIN scans s ON s.id = b.scan_id JOIN images i ON i.id = s.image_id "
            "WHERE b.name = 'telnetd' ORDER BY i.vendor")).all()
    assert [tuple(r) for r in telnetd] == [
        (vendor, "/etc/init.d/rcS", "/usr/sbin/telnetd -l /bin/sh -p 2323", True, "script")
        for vendor in ("Acme", "Globex", "Initech")]


def test_sqlite_and_postgresql_hold_the_same_inventory_rows(stores: dict[str, Store]) -> None:
    lite, pg = dump(stores["sqlite"]), dump(stores["postgresql"])
    for table in ("shipped_keys", "executables", "boot_entries", "setuid_files"):
        assert lite[table] == pg[table], table
    assert len(lite["shipped_keys"]) == 4 and len(lite["executables"]) == 6


def test_rerunning_the_batch_adds_nothing(stores: dict[str, Store], portfolio: Portfolio) -> None:
    for store in stores.values():
        before = dump(store)
        again = run_batch(collect(str(portfolio.manifest)), store, BatchOptions(jobs=2))
        assert (again.scanned, again.skipped) == (0, 3)
        assert dump(store) == before


@pytest.mark.parametrize(("table", "column"), [("shipped_keys", "fingerprint"), ("executables", "sha256")])
def test_the_cross_image_lookups_are_index_scans(stores: dict[str, Store], table: str, column: str) -> None:
    """On both databases, even where the planner would rather read the small table whole."""
    sql = f"SELECT scan_id FROM {table} WHERE {column} = 'x'"
    with stores["sqlite"].engine.connect() as connection:
        plan = " ".join(str(r[-1]) for r in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}"))
    assert f"USING COVERING INDEX ix_{table}_{column}_scan_id" in plan, plan
    with stores["postgresql"].engine.connect() as connection:
        connection.exec_driver_sql("SET enable_seqscan = off")
        plan = " ".join(str(r[0]) for r in connection.exec_driver_sql(f"EXPLAIN {sql}"))
    assert f"ix_{table}_{column}_scan_id" in plan and "Seq Scan" not in plan, plan


def _db(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "firmproof.cli", "db", *args], capture_output=True,
                          text=True, timeout=300, check=False)


def test_the_command_line_answers_key_and_executable_as_table_csv_and_json(
        stores: dict[str, Store], portfolio: Portfolio) -> None:
    url = stores["sqlite"].engine.url.database
    assert url is not None
    as_json = _db("executable", portfolio.tool, "--db", url, "--json")
    assert as_json.returncode == 0, as_json.stderr
    assert [(r["vendor"], r["path"]) for r in json.loads(as_json.stdout)] == \
        [("Acme", "/usr/bin/true"), ("Globex", "/opt/tools/check")]
    as_csv = _db("key", portfolio.shared, "--db", url, "--csv")
    assert as_csv.returncode == 0, as_csv.stderr
    lines = as_csv.stdout.splitlines()
    assert lines[0].startswith("image,vendor,product,version,release_date,kind,type,path,inside")
    assert len(lines) == 4 and "/etc/ssh/keys/root.authorized_keys" in as_csv.stdout
    table = _db("executable", portfolio.tool, "--db", url)
    assert table.returncode == 0 and "/opt/tools/check" in table.stdout and "2 rows" in table.stdout


def test_scans_stored_before_the_inventory_keep_their_keys_through_the_migration(
        stores: dict[str, Store], portfolio: Portfolio, request: pytest.FixtureRequest,
        tmp_path: Path) -> None:
    """A store at revision 0001 holding the three reports (no inventory then): upgraded, their
    key findings are key rows, so `db key` answers as it did from the findings (the key line
    that made no finding is not known for them), on both databases. Today's writer cannot write
    a store of 0001's schema: the reports are added at the head, then the store is taken down to
    0001 (which drops the inventory) and up again."""
    import zlib

    from alembic import command
    from alembic.config import Config

    from firmproof.store import add_report
    from firmproof.store.open import MIGRATIONS
    from firmproof.store.schema import ReportBlob

    with stores["sqlite"].sessions() as session:
        reports = [json.loads(zlib.decompress(blob.data)) for blob in session.query(ReportBlob)]
    assert len(reports) == 3
    for url in (str(tmp_path / "old.sqlite"), request.getfixturevalue("pg_url")):
        old = open_store(url)
        for report in reports:
            add_report(old, report)
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        with old.engine.begin() as connection:
            config.attributes["connection"] = connection
            command.downgrade(config, "0001")
        old.close()
        store = open_store(url)
        try:
            rows = key(store, portfolio.shared)
            assert [(r["image"], r["kind"], r["path"], r["rule"]) for r in rows] == [
                ("acme-r1.bin", "authorized", "/root/.ssh/authorized_keys", "FP-KEY-004"),
                ("globex-g2.bin", "private", "/etc/ssh/ssh_host_ed25519_key", "FP-KEY-001")]
            assert [(r["type"], r["comment"]) for r in rows] == [("ssh-ed25519", "shared@factory"),
                                                                ("ed25519", "shared@factory")]
            assert [r["image"] for r in key(store, portfolio.decoy)] == ["initech-i3.bin"]
            assert dump(store)["executables"] == []          # not known for those scans
        finally:
            store.close()
