"""Upload jobs are forgotten once they ended longer ago than `serve --keep-jobs` days
(`firmproof.web.jobs`, `Scanner.prune`): on real files in a data folder of the test's, with the
real `firmproof serve` and a real store. Removed: the files of done and failed jobs past the
period. Kept: newer ones, queued and scanning ones whatever their age, and every file that is not
a job's own (stray files, a link, a sub-folder, the kept images, anything outside uploads/)."""

from __future__ import annotations

import copy
import hashlib
import json
import os
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from firmproof.store import ImageInfo, add_report, open_store
from firmproof.web import jobs
from firmproof.web.jobs import Job, State
from firmproof.web.uploads import Scanner
from tests.web.conftest import running
from tests.web.test_uploads import job_files, wait_ended

DAY = timedelta(days=1)


def _image(images: Path, content: bytes) -> str:
    """Keep `content` as the data folder keeps an upload: images/<sha256>; its sha256."""
    images.mkdir(parents=True, exist_ok=True)
    sha256 = hashlib.sha256(content).hexdigest()
    (images / sha256).write_bytes(content)
    return sha256


def _job(records: Path, images: Path, number: int, state: State, *, created: datetime,
         finished: datetime | None = None, content: bytes | None = None) -> Job:
    """A job of the given state written to `records` as the server writes it (`jobs.save`)."""
    sha256 = _image(images, content or f"image {number}".encode())
    job = Job(f"{number:016x}", f"{state}-{number}.bin", sha256, 8, images / sha256,
              ImageInfo(name=f"{state}-{number}.bin"), "alice", created, state,
              seconds=1.0 if state in jobs.ENDED else None, scan_id=number if state == "done" else None,
              error="no known container or file system found" if state == "failed" else None,
              finished=finished)
    jobs.save(records, job)
    return job


def _tree(folder: Path) -> dict[str, bytes | str]:
    """Every file and link under `folder`: a link by its target, a file by its bytes."""
    return {str(p.relative_to(folder)): (f"-> {os.readlink(p)}" if p.is_symlink() else p.read_bytes())
            for p in sorted(folder.rglob("*")) if p.is_symlink() or p.is_file()}


def test_serve_forgets_the_jobs_that_ended_before_its_period_and_nothing_else(tmp_path: Path) -> None:
    data, store = tmp_path / "data", tmp_path / "uploads.sqlite"
    records, images = data / "uploads", data / "images"
    now = datetime.now(UTC)
    old_done = _job(records, images, 1, "done", created=now - 40 * DAY, finished=now - 40 * DAY)
    old_failed = _job(records, images, 2, "failed", created=now - 9 * DAY, finished=now - 8 * DAY)
    recent_done = _job(records, images, 3, "done", created=now - 6 * DAY, finished=now - 6 * DAY)
    recent_failed = _job(records, images, 4, "failed", created=now - 30 * DAY, finished=now - DAY)
    # a scan stopped with a server 40 days ago: queued again (and scanned: it is no image), kept
    scanning = _job(records, images, 5, "scanning", created=now - 40 * DAY, content=os.urandom(4096))
    queued = _job(records, images, 6, "queued", created=now - 40 * DAY, content=os.urandom(4096))
    # a job's file written before jobs said when they ended: its file's time is when it ended
    legacy = _job(records, images, 7, "done", created=now - 50 * DAY, finished=now - 50 * DAY)
    written = json.loads((records / f"{legacy.id}.json").read_text())
    del written["finished"]
    (records / f"{legacy.id}.json").write_text(json.dumps(written))
    os.utime(records / f"{legacy.id}.json", (time.time() - 50 * 86400,) * 2)
    legacy_recent = _job(records, images, 8, "done", created=now - 50 * DAY, finished=now - 50 * DAY)
    written = json.loads((records / f"{legacy_recent.id}.json").read_text())
    del written["finished"]
    (records / f"{legacy_recent.id}.json").write_text(json.dumps(written))        # written just now
    # what is not a job's own file, all of it old: left as it is
    old = time.time() - 90 * 86400
    strays = {"notes.txt": b"the lab's notes\n", "0123456789abcdef.json": b"{ not a job",
              "00000000000000aa.json.bak": (records / f"{old_done.id}.json").read_bytes()}
    for name, content in strays.items():
        (records / name).write_bytes(content)
        os.utime(records / name, (old, old))
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    # an old done job's file outside the folder, linked in under its own name; and one in a sub-folder
    linked = _job(outside, images, 0xfe, "done", created=now - 90 * DAY, finished=now - 90 * DAY)
    (records / f"{linked.id}.json").symlink_to(outside / f"{linked.id}.json")
    _job(records / "old", images, 0xfd, "done", created=now - 90 * DAY, finished=now - 90 * DAY)
    before = _tree(tmp_path)

    args = ("--db", f"sqlite:///{store}", "--data-dir", str(data), "--keep-jobs", "7")
    with running(*args) as server, httpx.Client(base_url=server.base, timeout=60) as api:
        listed = {u["id"]: u for u in server.check(api.get("/api/uploads")).json()}
        kept = [recent_done, recent_failed, scanning, queued, legacy_recent]
        assert set(listed) == {j.id for j in kept}
        for job in (old_done, old_failed, legacy, linked):
            gone = server.check(api.get(f"/api/uploads/{job.id}"))
            assert gone.status_code == 404
            assert gone.json()["detail"] == (f"no upload {job.id} (an upload is forgotten 7 days after its "
                                             "scan ended; the scan stays in the store)")
            assert api.get(f"/uploads/{job.id}").status_code == 404
        assert listed[recent_done.id]["finished"] == (now - 6 * DAY).isoformat().replace("+00:00", "Z")
        assert listed[legacy_recent.id]["finished"] is not None
        ended = {j.id: wait_ended(api, server, {}, j.id) for j in (scanning, queued)}
    assert {i: e["state"] for i, e in ended.items()} == {scanning.id: "failed", queued.id: "failed"}

    after = _tree(tmp_path)
    removed = {f"data/uploads/{j.id}.json" for j in (old_done, old_failed, legacy)}
    assert before.keys() - after.keys() == removed
    # nothing else went: the kept images (the pruned jobs' too), strays, the link and what it
    # names, the sub-folder's job
    for name in before.keys() - removed:
        if not name.startswith("data/uploads/0000000000000005") and \
                not name.startswith("data/uploads/0000000000000006"):           # (scanned since)
            assert after[name] == before[name], name
    assert {f"data/images/{j.sha256}" for j in (old_done, old_failed, legacy)} <= after.keys()
    assert {p.stem for p in records.glob("*.json")} == {j.id for j in kept} | {"0123456789abcdef", linked.id}


def _scanner(tmp_path: Path, retention: timedelta) -> Scanner:
    return Scanner(open_store(f"sqlite:///{tmp_path / 'store.sqlite'}"), tmp_path / "data" / "images",
                   records=tmp_path / "data" / "uploads", retention=retention)


def test_a_running_or_queued_job_is_never_forgotten_however_old(tmp_path: Path) -> None:
    """The jobs a server holds, each with its file, pruned as time passes: only ended ones go,
    each once its period has passed since it ended (not since it was made)."""
    scanner = _scanner(tmp_path, 7 * DAY)
    records, images = tmp_path / "data" / "uploads", tmp_path / "data" / "images"
    now = datetime.now(UTC)
    made = now - 400 * DAY
    held = {job.id: job for job in (
        _job(records, images, 1, "queued", created=made), _job(records, images, 2, "scanning", created=made),
        _job(records, images, 3, "done", created=made, finished=now - 3 * DAY),
        _job(records, images, 4, "failed", created=made, finished=now - 2 * DAY))}
    scanner.jobs.update(held)
    try:
        assert scanner.prune(now) == []
        assert scanner.prune(now + 4 * DAY + timedelta(seconds=1)) == [f"{3:016x}"]
        assert scanner.prune(now + 365 * DAY) == [f"{4:016x}"]
        assert sorted(scanner.jobs) == sorted(job_files(tmp_path / "data")) == [f"{1:016x}", f"{2:016x}"]
        assert len(list(images.iterdir())) == 4                          # the images stay
        # a job whose file no longer says it ended (its last state could not be written):
        # forgotten by the server, its file left as it is (a server started again queues it)
        scanner.jobs[f"{2:016x}"].state, scanner.jobs[f"{2:016x}"].finished = "done", now - 30 * DAY
        assert scanner.prune(now) == [f"{2:016x}"]
        assert job_files(tmp_path / "data")[f"{2:016x}"]["state"] == "scanning"
    finally:
        scanner.store.close()


def test_a_new_upload_forgets_the_jobs_past_their_period(scanned: list[tuple[Any, Any]],
                                                         tmp_path: Path) -> None:
    """A server that runs: a job that ended is forgotten when an upload comes after its period
    (here a few seconds) has passed; the new one is kept."""
    report = scanned[0][0]
    scanner = _scanner(tmp_path, timedelta(seconds=2))
    records, images = tmp_path / "data" / "uploads", tmp_path / "data" / "images"
    # an image the store holds a good scan of: its upload is done at once, nothing is scanned
    content = b"an image scanned before"
    data = copy.deepcopy(report.to_json())
    data["image"]["sha256"] = sha256 = _image(images, content)
    add_report(scanner.store, data, ImageInfo(vendor="Acme"), list(report.components))
    ended = _job(records, images, 1, "done", created=datetime.now(UTC), finished=datetime.now(UTC))
    scanner.start()
    try:
        assert list(scanner.jobs) == [ended.id]                         # not two seconds old yet
        time.sleep(2.5)
        new = scanner.submit(Job("00000000000000ff", "again.bin", sha256, len(content), images / sha256,
                                 ImageInfo(name="again.bin"), "alice"))
        assert new.state == "done" and new.finished is not None
        assert list(scanner.jobs) == [new.id] and set(job_files(tmp_path / "data")) == {new.id}
    finally:
        scanner.stop()
        scanner.store.close()


def test_keep_jobs_is_documented_and_checked() -> None:
    shown = subprocess.run([sys.executable, "-m", "firmproof.cli", "serve", "--help"], capture_output=True,
                           text=True, check=True, env={**os.environ, "COLUMNS": "200"}).stdout
    assert "--keep-jobs DAYS" in shown and f"(default {jobs.RETENTION.days};" in shown
    for bad in ("0", "-3", "soon", "nan"):
        refused = subprocess.run([sys.executable, "-m", "firmproof.cli", "serve", "--keep-jobs", bad,
                                  "--port", "0"], capture_output=True, text=True, timeout=60, check=False)
        assert refused.returncode == 2 and "a number of days above 0" in refused.stderr, bad


@pytest.mark.parametrize(("state", "ended_days_ago", "expired"), [
    ("done", 31, True), ("failed", 31, True), ("done", 29, False), ("failed", 29, False),
    ("queued", None, False), ("scanning", None, False), ("done", None, False)])
def test_which_jobs_have_expired(state: State, ended_days_ago: int | None, expired: bool) -> None:
    now = datetime.now(UTC)
    job = Job("0" * 16, "x.bin", "0" * 64, 1, Path("x"), ImageInfo(), "alice", now - 400 * DAY, state,
              finished=now - ended_days_ago * DAY if ended_days_ago is not None else None)
    assert jobs.expired(job, now) is expired
