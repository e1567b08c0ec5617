"""`firmproof batch`: real images scanned by a real process pool and a real Dask cluster into
SQLite and a real PostgreSQL; a worker killed mid-image; the per-image guard; resuming."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from firmproof.batch import BatchError, BatchOptions, BatchResult, Item, Outcome, collect, run_batch
from firmproof.store import ImageInfo, Store, add_report, open_store
from firmproof.store.schema import Image, Scan
from tests.servers import DaskCluster
from tests.store.rows import steady

DEMO = ImageInfo(vendor="Demo Networks", product="DR-1", version="1.0.2", release_date=date(2024, 3, 1))
CLEAN = ImageInfo(vendor="Demo Networks", product="DR-1", version="1.0.3")


@dataclass(frozen=True)
class Corpus:
    folder: Path              # demo.bin, clean.bin, corrupt.bin
    manifest: Path            # those three and a folder named as an image, with metadata
    reference: Path           # a SQLite store filled by direct scans of the two good images


@pytest.fixture(scope="session")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Corpus:
    """Two small router images built with the real tools, a corrupt one, and a manifest that
    also names a folder; the store their direct scans make (`scan` + `add_report`)."""
    from firmproof.batch import scan_with_inventory
    from firmproof.config import ScanConfig
    from firmproof.testing.demo import build_image

    root = tmp_path_factory.mktemp("batch")
    folder = root / "images"
    build_image(folder / "demo.bin")
    build_image(folder / "clean.bin", plants=())
    (folder / "corrupt.bin").write_bytes(bytes(range(256)) * 64)       # no container in it
    (root / "folder.bin").mkdir()
    manifest = root / "manifest.csv"
    manifest.write_text("path,vendor,product,version,release_date\n"
                        "images/clean.bin,Demo Networks,DR-1,1.0.3,\n"
                        "images/corrupt.bin,,,,\n"
                        "folder.bin,,,,\n"
                        "images/demo.bin,Demo Networks,DR-1,1.0.2,2024-03-01\n")
    reference = root / "reference.sqlite"
    store = open_store(str(reference))
    for name, info in (("demo", DEMO), ("clean", CLEAN)):
        report, inventory = scan_with_inventory(ScanConfig(
            image=folder / f"{name}.bin", vendor=info.vendor, product=info.product, version=info.version))
        add_report(store, report, info, inventory=inventory)
    store.close()
    return Corpus(folder, manifest, reference)


def statuses(store: Store) -> dict[str, tuple[str, str | None]]:
    with store.sessions() as session:
        return {name: (status, error) for name, status, error in session.execute(
            select(Image.name, Scan.status, Scan.error).join(Scan, Scan.image_id == Image.id))}


def good_rows(store: Store) -> dict[str, list[dict[str, Any]]]:
    """The rows of the good images' scans: what the reference store holds."""
    rows = steady(store)
    errors = {s["image"] for s in rows["scans"] if s["status"] == "error"}
    rows["images"] = [i for i in rows["images"] if i["sha256"] not in errors]
    rows["scans"] = [s for s in rows["scans"] if s["image"] not in errors]
    return rows


def reference_rows(corpus: Corpus) -> dict[str, list[dict[str, Any]]]:
    store = open_store(str(corpus.reference))
    try:
        return steady(store)
    finally:
        store.close()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_batch_stores_one_scan_per_image_and_resumes_without_scanning(
        backend: str, corpus: Corpus, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    url = str(tmp_path / "store.sqlite") if backend == "sqlite" else request.getfixturevalue("pg_url")
    store = open_store(url)
    items = collect(str(corpus.manifest))
    result = run_batch(items, store, BatchOptions(jobs=2))
    assert (result.total, result.scanned, result.skipped, result.unreadable) == (4, 2, 0, 1)
    assert sorted(Path(p).name for p, _ in result.failed) == ["corrupt.bin", "folder.bin"]
    assert dict((Path(p).name, why) for p, why in result.failed)["folder.bin"] == \
        "is a directory, not a firmware image"
    found = statuses(store)
    assert found == {"demo.bin": ("ok", None), "clean.bin": ("ok", None),
                     "corrupt.bin": ("error", "corrupt.bin: no known container or file system found")}
    # the good images' rows are those of direct scans, the manifest's metadata on the image rows
    assert good_rows(store) == reference_rows(corpus)
    assert result.findings == sum(s["findings_count"] for s in steady(store)["scans"]) > 0

    rows = steady(store)
    again = run_batch(collect(str(corpus.manifest)), store, BatchOptions(jobs=2))
    assert (again.scanned, again.skipped, again.stored_errors, again.unreadable) == (0, 3, 1, 1)
    assert steady(store) == rows
    assert not again.ok
    store.close()


def test_dask_gives_the_rows_of_the_local_pool(corpus: Corpus, dask: DaskCluster, tmp_path: Path) -> None:
    local, cluster = open_store(str(tmp_path / "local.sqlite")), open_store(str(tmp_path / "dask.sqlite"))
    items = collect(str(corpus.manifest))
    by_pool = run_batch(items, local, BatchOptions(jobs=2))
    by_dask = run_batch(items, cluster, BatchOptions(scheduler=dask.scheduler))
    assert sorted(by_dask.failed) == sorted(by_pool.failed)      # the same two, for the same reasons
    assert (by_dask.scanned, by_dask.findings) == (by_pool.scanned, by_pool.findings)
    assert by_pool.scanned == len(by_pool.failed) == 2
    assert steady(cluster) == steady(local)
    assert run_batch(items, cluster, BatchOptions(scheduler=dask.scheduler)).scanned == 0


def _threads(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads:")))


def test_a_dask_task_scans_in_a_process_of_one_thread(corpus: Corpus) -> None:
    """A Dask worker runs tasks in threads, and a scan forks: scan_apart scans in a spawned
    process of the calling thread's, which has one thread when it forks, and keeps it for
    the thread's next image."""
    import threading

    from firmproof.batch import _APART, scan_apart
    from firmproof.config import MIN_EXAMINED, Limits

    stop = threading.Event()
    other = threading.Thread(target=stop.wait)      # this process is multi-threaded, as a Dask worker is
    other.start()
    try:
        assert _threads(os.getpid()) > 1
        first = scan_apart(str(corpus.folder / "demo.bin"), ImageInfo(), Limits(), MIN_EXAMINED)
        process, _ = _APART[threading.get_ident()]
        assert first.error is None and first.report is not None
        assert process.pid != os.getpid() and _threads(process.pid) == 1
        again = scan_apart(str(corpus.folder / "clean.bin"), ImageInfo(), Limits(), MIN_EXAMINED)
        assert again.error is None and _APART[threading.get_ident()][0] is process
        process.kill()                              # a dead scanning process is replaced
        process.join()
        third = scan_apart(str(corpus.folder / "demo.bin"), ImageInfo(), Limits(), MIN_EXAMINED)
        assert third.error is None and _APART[threading.get_ident()][0] is not process
    finally:
        stop.set()
        other.join()
        held = _APART.pop(threading.get_ident(), None)
        if held is not None:
            held[1].send(None)
            held[0].join(timeout=30)


class KillOnStart:
    """Events that SIGKILL the worker as it starts scanning the image named `victim` (once)."""

    def __init__(self, victim: str) -> None:
        self.victim, self.killed, self.done = victim, 0, []

    def planned(self, total: int, skipped: int) -> None:
        pass

    def started(self, path: str, worker: int) -> None:
        if Path(path).name == self.victim and not self.killed:
            os.kill(worker, signal.SIGKILL)
            self.killed = worker

    def finished(self, outcome: Outcome, findings: int) -> None:
        self.done.append(Path(outcome.path).name)

    def unreadable(self, path: str, why: str) -> None:
        pass


def test_a_killed_worker_loses_no_finished_result_and_a_rerun_completes_it(corpus: Corpus,
                                                                           tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "store.sqlite"))
    items = collect(str(corpus.folder))            # clean, corrupt, demo: demo last
    assert [i.path.name for i in items] == ["clean.bin", "corrupt.bin", "demo.bin"]
    events = KillOnStart("demo.bin")
    result = run_batch(items, store, BatchOptions(jobs=2), events)
    assert events.killed
    assert sorted(events.done) == ["clean.bin", "corrupt.bin", "demo.bin"]
    found = statuses(store)
    assert found["clean.bin"] == ("ok", None)
    assert found["demo.bin"] == ("error", "the worker scanning it died (killed by SIGKILL)")
    assert result.scanned == 1 and len(result.failed) == 2
    # the re-run scans the errors again; the killed image now has its report
    rerun = run_batch(items, store, BatchOptions(jobs=2, retry_errors=True))
    assert (rerun.scanned, rerun.skipped, len(rerun.failed)) == (1, 1, 1)
    assert statuses(store)["demo.bin"] == ("ok", None)
    assert not (os.path.exists(f"/proc/{events.killed}"))


def test_an_image_past_the_wall_clock_guard_is_stopped_and_recorded(corpus: Corpus, tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "store.sqlite"))
    items = [Item(corpus.folder / "demo.bin"), Item(corpus.folder / "corrupt.bin")]
    started = time.monotonic()
    result = run_batch(items, store, BatchOptions(jobs=1, image_timeout=0.5))
    assert time.monotonic() - started < 30
    assert statuses(store)["demo.bin"] == ("error", "still scanning after 0.5 s (per-image wall-clock "
                                                    "guard): stopped")
    assert len(result.failed) == 2


def test_what_a_batch_argument_names(corpus: Corpus, tmp_path: Path) -> None:
    names = ["clean.bin", "corrupt.bin", "demo.bin"]
    assert [i.path.name for i in collect(str(corpus.folder))] == names
    assert [i.path.name for i in collect(str(corpus.folder / "*.bin"))] == names
    assert [i.path.name for i in collect(str(corpus.folder.parent / "**" / "d*.bin"))] == ["demo.bin"]
    listing = tmp_path / "images.txt"
    listing.write_text(f"# two images\n{corpus.folder / 'demo.bin'}\n\n../x/other.bin\n")
    assert [i.path for i in collect(str(listing))] == \
        [corpus.folder / "demo.bin", tmp_path / "../x/other.bin"]
    items = {i.path.name: i.info for i in collect(str(corpus.manifest))}
    assert items["demo.bin"] == DEMO and items["corrupt.bin"] == ImageInfo()
    as_json = tmp_path / "manifest.json"
    as_json.write_text(json.dumps([{"path": str(corpus.folder / "demo.bin"), "vendor": "Demo Networks",
                                    "product": "DR-1", "version": "1.0.2", "release_date": "2024-03-01"},
                                   str(corpus.folder / "clean.bin")]))
    assert [(i.path.name, i.info) for i in collect(str(as_json))] == \
        [("demo.bin", DEMO), ("clean.bin", ImageInfo())]


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such folder, list, manifest or glob"),
    ("path,vendor,colour\nx.bin,A,red\n", "manifest.csv:2: unknown field 'colour'"),
    ("vendor\nA\n", "first line names its columns, path among them"),
    ("path,release_date\nx.bin,March\n", "manifest.csv:2: release_date: 'March' is no date"),
    ("", "first line names its columns"),
])
def test_a_bad_batch_argument_is_one_sentence(tmp_path: Path, content: str | None, message: str) -> None:
    manifest = tmp_path / "manifest.csv"
    if content is not None:
        manifest.write_text(content)
    with pytest.raises(BatchError, match=message.replace("(", r"\(")):
        collect(str(manifest))


def test_a_binary_file_is_no_list_and_an_empty_list_names_nothing(corpus: Corpus, tmp_path: Path) -> None:
    with pytest.raises(BatchError, match="binary, not a list of images"):
        collect(str(corpus.folder / "demo.bin"))
    (tmp_path / "images.txt").write_text("# none yet\n")
    with pytest.raises(BatchError, match="lists no image"):
        collect(str(tmp_path / "images.txt"))
    (tmp_path / "empty").mkdir()
    with pytest.raises(BatchError, match="no files in this folder"):
        collect(str(tmp_path / "empty"))


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "firmproof.cli", "batch", *args], capture_output=True,
                          text=True, timeout=600, check=False)


def test_the_command_line_scans_resumes_and_says_so_in_one_line_each(corpus: Corpus, tmp_path: Path) -> None:
    db = str(tmp_path / "store.sqlite")
    first = _cli(str(corpus.folder), "--db", db)
    assert first.returncode == 1, first.stderr                  # corrupt.bin failed
    lines = first.stderr.splitlines()
    assert "Traceback" not in first.stderr
    assert sum(line.startswith("[") and " scanned " in line for line in lines) == 2
    assert any("failed" in line and "corrupt.bin: no known container" in line for line in lines)
    assert "3 images: 2 scanned, 0 already in the store" in lines[-1]
    again = _cli(str(corpus.folder), "--db", db)
    assert again.returncode == 1                                # the stored error still stands
    assert "3 images: 0 scanned, 3 already in the store (1 of them errors" in again.stderr
    assert " scanned " not in again.stderr.replace("0 scanned", "")
    nothing = _cli(str(tmp_path / "missing"), "--db", db)
    assert (nothing.returncode, nothing.stderr.strip()) == \
        (2, f"firmproof: {tmp_path / 'missing'}: no such folder, list, manifest or glob")
    # the scheduler is reached before anything is hashed
    unreachable = _cli(str(corpus.folder), "--db", db, "--scheduler", "tcp://127.0.0.1:1")
    assert unreachable.returncode == 2
    assert unreachable.stderr.startswith("firmproof: tcp://127.0.0.1:1: cannot reach the Dask scheduler")
    assert len(unreachable.stderr.splitlines()) == 1


def test_a_batch_result_is_ok_only_when_every_image_has_a_report() -> None:
    assert BatchResult().ok
    assert not BatchResult(stored_errors=1).ok
    assert not BatchResult(failed=[("x", "why")]).ok


def test_the_batch_killed_midway_keeps_what_it_wrote_and_a_rerun_completes_the_rest(
        corpus: Corpus, tmp_path: Path) -> None:
    """SIGKILL to the batch process itself once its first image is stored: its workers die with
    it (no scan goes on orphaned), the stored row stays, the re-run scans only the others."""
    db = tmp_path / "store.sqlite"
    batch = subprocess.Popen([sys.executable, "-m", "firmproof.cli", "batch", str(corpus.folder), "--db",
                              str(db), "--jobs", "1", "-q", "--workdir", str(tmp_path / "work")],
                             stderr=subprocess.PIPE, text=True)   # a batch killed so leaves its folder
    deadline = time.monotonic() + 300
    stored: dict[str, tuple[str, str | None]] = {}
    while not stored and time.monotonic() < deadline and batch.poll() is None:
        time.sleep(0.2)
        if db.exists():
            store = open_store(str(db))
            stored = statuses(store)
            store.close()
    assert batch.poll() is None and 1 <= len(stored) < 3, "the batch ended before it could be killed"
    workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(batch.pid)], capture_output=True,
                                              text=True, check=False).stdout.split()]
    batch.kill()
    batch.wait(timeout=60)

    def alive() -> list[int]:
        running = []
        for pid in workers:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError):
                if "zombie" not in Path(f"/proc/{pid}/status").read_text().lower():
                    running.append(pid)
        return running

    # each worker is told by the kernel (its parent-death signal) and stops its scan's children
    # first: a second or so, more on a loaded machine (a run at load average 8 took over 1 s)
    gone_by = time.monotonic() + 15
    while alive() and time.monotonic() < gone_by:
        time.sleep(0.2)
    assert alive() == []
    store = open_store(str(db))
    kept = statuses(store)           # what was written stays (one more may have come before the kill)
    assert stored.items() <= kept.items()
    rerun = run_batch(collect(str(corpus.folder)), store, BatchOptions(jobs=2))
    assert (rerun.scanned + len(rerun.failed), rerun.skipped) == (3 - len(kept), len(kept))
    assert {name for name, (status, _) in statuses(store).items() if status == "ok"} == \
        {"clean.bin", "demo.bin"}
    store.close()


def test_the_vulnerability_database_given_to_the_batch_reaches_the_dask_workers(
        corpus: Corpus, dask: DaskCluster, tmp_path: Path) -> None:
    """`--vulndb` is the batch's to give: the Dask workers (other processes, started elsewhere)
    scan with it too, and one that cannot read it says so for each image, naming the path."""
    from firmproof.device.components import vulndb
    from firmproof.store.query import component
    from firmproof.store.schema import FindingRow

    reference = open_store(str(corpus.reference))
    try:
        versions = {row["component_version"] for row in component(reference, "busybox")}
    finally:
        reference.close()
    assert len(versions) == 1                  # the BusyBox the demo image ships, as its scan read it
    record = {"id": "FIRMPROOF-TEST-0001", "modified": "2026-01-01T00:00:00Z", "aliases": ["CVE-2099-0001"],
              "summary": "a record naming the demo's BusyBox", "affected": [
                  {"package": {"ecosystem": "Debian", "name": "busybox"}, "versions": sorted(versions)}]}
    (tmp_path / "record.json").write_text(json.dumps(record))
    database = tmp_path / "vulndb.sqlite"
    vulndb.import_files([tmp_path / "record.json"], database)
    demo = [Item(corpus.folder / "demo.bin", DEMO)]

    store = open_store(str(tmp_path / "given.sqlite"))
    try:
        result = run_batch(demo, store, BatchOptions(scheduler=dask.scheduler, vulndb=database))
        assert (result.scanned, result.failed) == (1, [])
        with store.sessions() as session:
            rules = set(session.scalars(select(FindingRow.rule)))
        assert "FP-VULN-001" in rules
    finally:
        store.close()

    missing = tmp_path / "nowhere" / "vulndb.sqlite"
    store = open_store(str(tmp_path / "missing.sqlite"))
    try:
        result = run_batch(demo, store, BatchOptions(scheduler=dask.scheduler, vulndb=missing))
        ((path, why),) = result.failed
        assert path == str(corpus.folder / "demo.bin") and result.scanned == 0
        assert f"the vulnerability database {missing} is not readable on" in why
    finally:
        store.close()
