"""Uploading an image to scan, against the real `firmproof serve` (`uploading`: authentication
on, an empty store, uploads kept in the test's data folder, a 2 MiB limit): the image is kept
under its sha256 in `<data dir>/images/`, queued, scanned in the server's scanning process and
stored as the batch stores a scan; refusals (no token, a reader's token, a path in the file
name, an oversize or empty upload, a stale form) keep nothing; a corrupt image is a failed job
with its reason, and the server goes on. Images are built at test time (`build_image`)."""

from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import signal
import sqlite3
import time
from collections.abc import Iterator
from contextlib import suppress
from pathlib import Path
from typing import Any

import httpx
import pytest

from firmproof.testing.demo import build_image, build_rootfs
from firmproof.testing.fixtures import pack
from tests.web.conftest import UPLOAD_LIMIT, Accounts, Server, firmproof_cli, running

SCAN_SECONDS = 300
DEMO_RULES = {"FP-SVC-001", "FP-CON-001", "FP-CRED-002", "FP-SUID-001", "FP-SVC-006", "FP-KEY-002"}


def _bearer(accounts: Accounts, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {accounts.tokens[role]}"}


def multipart(parts: list[tuple[str, bytes | None, bytes]]) -> tuple[bytes, dict[str, str]]:
    """A multipart/form-data body written byte for byte (a file name goes as the client sends
    it: slashes, backslashes, NUL): (name, file name or None for a text field, value) each."""
    boundary = f"firmproof-test-{secrets.token_hex(8)}".encode()
    body = b""
    for name, filename, value in parts:
        head = b'Content-Disposition: form-data; name="' + name.encode() + b'"'
        if filename is not None:
            head += b'; filename="' + filename + b'"\r\nContent-Type: application/octet-stream'
        body += b"--" + boundary + b"\r\n" + head + b"\r\n\r\n" + value + b"\r\n"
    body += b"--" + boundary + b"--\r\n"
    return body, {"Content-Type": f"multipart/form-data; boundary={boundary.decode()}"}


def upload(api: httpx.Client, server: Server, headers: dict[str, str], content: bytes,
           filename: bytes = b"image.bin", **fields: str) -> httpx.Response:
    texts = [(k, None, v.encode()) for k, v in fields.items()]
    body, types = multipart([*texts, ("file", filename, content)])
    return server.check(api.post("/api/uploads", content=body, headers={**headers, **types}))


def wait_ended(api: httpx.Client, server: Server, headers: dict[str, str], upload_id: str) -> dict[str, Any]:
    """The upload's state once it is done or failed (every answer checked on the way)."""
    deadline = time.monotonic() + SCAN_SECONDS
    while time.monotonic() < deadline:
        state = server.check(api.get(f"/api/uploads/{upload_id}", headers=headers)).json()
        if state["state"] in ("done", "failed"):
            return dict(state)
        assert state["state"] in ("queued", "scanning")
        time.sleep(0.5)
    raise AssertionError(f"upload {upload_id} still {state['state']} after {SCAN_SECONDS} s")


def kept(data: Path) -> dict[str, bytes]:
    """Every image under the data folder, by its path relative to it: only images/<sha256>,
    each holding the bytes it is named by; besides them only jobs' files, uploads/<id>.json."""
    files = {str(p.relative_to(data)): p.read_bytes() for p in data.rglob("*") if p.is_file()}
    images = {name: content for name, content in files.items() if not name.startswith("uploads/")}
    for name, content in images.items():
        assert re.fullmatch(r"images/[0-9a-f]{64}", name), f"{name}: not an image kept by its sha256"
        assert hashlib.sha256(content).hexdigest() == name.removeprefix("images/")
    assert all(re.fullmatch(r"uploads/[0-9a-f]{16}\.json", name) for name in files.keys() - images.keys())
    return images


def job_files(data: Path) -> dict[str, dict[str, Any]]:
    """The jobs' files the data folder keeps, by job id."""
    return {p.stem: json.loads(p.read_text()) for p in (data / "uploads").glob("*.json")}


def _rows(store: Path, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with sqlite3.connect(store) as db:
        return db.execute(sql, args).fetchall()


@pytest.fixture(scope="module")
def images(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The demo router, a clean one, and a SquashFS cut in half."""
    folder = tmp_path_factory.mktemp("upload-images")
    tree = build_rootfs(folder / "rootfs", ("telnetd-shell",), ())
    whole = pack(tree, "squashfs-xz", folder / "rootfs.sqfs").read_bytes()
    (folder / "truncated.sqfs").write_bytes(whole[:len(whole) // 2])
    return {"demo": build_image(folder / "demo.bin"), "clean": build_image(folder / "clean.bin", plants=()),
            "truncated": folder / "truncated.sqfs"}


def test_an_admin_uploads_images_they_queue_and_each_becomes_its_scan(
        uploading: Server, accounts: Accounts, images: dict[str, Path], tmp_path: Path) -> None:
    admin, read = _bearer(accounts, "admin"), _bearer(accounts, "read")
    demo, clean = images["demo"].read_bytes(), images["clean"].read_bytes()
    with httpx.Client(base_url=uploading.base, timeout=60) as api:
        first = upload(api, uploading, admin, demo, b"demo router.bin", vendor="Acme", product="R9",
                       version="2.0", release_date="2024-03-01")
        assert first.status_code == 202, first.text
        job = first.json()
        assert first.headers["location"] == f"/api/uploads/{job['id']}"
        assert (job["name"], job["sha256"], job["size"]) == \
            ("demo router.bin", hashlib.sha256(demo).hexdigest(), len(demo))
        assert (job["vendor"], job["product"], job["version"], job["who"]) == \
            ("Acme", "R9", "2.0", "token:admin-bot")
        second = upload(api, uploading, admin, clean, b"clean.bin").json()
        # the first is being scanned (its scanning process takes seconds to start): the second waits
        assert server_state(api, uploading, read, job["id"])["state"] == "scanning"
        assert (second["state"], second["position"]) == ("queued", 1)
        listed = uploading.check(api.get("/api/uploads", headers=read)).json()
        assert [u["id"] for u in listed] == [second["id"], job["id"]]

        done = wait_ended(api, uploading, read, job["id"])
        assert done["state"] == "done" and done["error"] is None and done["elapsed"] > 0, done
        scans = uploading.check(api.get("/api/scans", headers=read)).json()["items"]
        mine = next(s for s in scans if s["id"] == done["scan_id"])
        assert (mine["image"], mine["vendor"], mine["product"], mine["version"], mine["release_date"],
                mine["status"]) == ("demo router.bin", "Acme", "R9", "2.0", "2024-03-01", "ok")
        detail = uploading.check(api.get(f"/api/scans/{done['scan_id']}", headers=read)).json()
        assert DEMO_RULES <= {f["rule"] for f in detail["findings_list"]}
        # the batch's writer: the inventory rows of the scan are there too
        store = tmp_path / "uploads.sqlite"
        assert _rows(store, "select count(*) from shipped_keys where scan_id = ?", done["scan_id"])[0][0] > 0
        assert _rows(store, "select count(*) from executables where scan_id = ?", done["scan_id"])[0][0] > 0

        other = wait_ended(api, uploading, read, second["id"])
        assert other["state"] == "done" and other["scan_id"] != done["scan_id"]
        assert "FP-SVC-001" not in {f["rule"] for f in uploading.check(
            api.get(f"/api/scans/{other['scan_id']}", headers=read)).json()["findings_list"]}

        # the same bytes again: straight to their scan, one copy kept
        again = upload(api, uploading, admin, demo, b"again.bin").json()
        assert (again["state"], again["scan_id"]) == ("done", done["scan_id"])
        assert uploading.check(api.get("/api/scans", headers=read)).json()["total"] == 2
    files = kept(tmp_path / "data")
    assert sorted(files) == sorted(f"images/{hashlib.sha256(b).hexdigest()}" for b in (demo, clean))
    assert {i: (j["state"], j["scan_id"]) for i, j in job_files(tmp_path / "data").items()} == {
        job["id"]: ("done", done["scan_id"]), second["id"]: ("done", other["scan_id"]),
        again["id"]: ("done", done["scan_id"])}


def server_state(api: httpx.Client, server: Server, headers: dict[str, str],
                 upload_id: str) -> dict[str, Any]:
    return dict(server.check(api.get(f"/api/uploads/{upload_id}", headers=headers)).json())


NAMES = (b"../../evil", b"/etc/passwd", b"..\\\\..\\\\evil-windows", b"ev\x00il",
         b"C:\\\\evil\\\\boot.bin", b"..", b".upload-mine",
         hashlib.sha256(b"other bytes").hexdigest().encode())


def test_refusals_keep_nothing_and_no_name_is_the_clients(uploading: Server, accounts: Accounts,
                                                           tmp_path: Path) -> None:
    admin, read = _bearer(accounts, "admin"), _bearer(accounts, "read")
    data = tmp_path / "data"
    passwd = Path("/etc/passwd").stat()
    with httpx.Client(base_url=uploading.base, timeout=60) as api:
        body, types = multipart([("file", b"image.bin", os.urandom(1000))])
        assert uploading.check(api.post("/api/uploads", content=body, headers=types)).status_code == 401
        refused = uploading.check(api.post("/api/uploads", content=body, headers={**read, **types}))
        assert refused.status_code == 403 and "admin" in refused.json()["detail"]
        assert not data.exists() or not kept(data)

        jobs = {}
        for name in NAMES:
            answer = upload(api, uploading, admin, os.urandom(4096), name)
            assert answer.status_code == 202, answer.text
            jobs[name] = answer.json()
        shown = [jobs[n]["name"] for n in NAMES]
        assert shown == ["evil", "passwd", "evil-windows", "evil", "boot.bin", "upload", ".upload-mine",
                         NAMES[-1].decode()]
        for job in jobs.values():       # random bytes: each a failed scan, none of them in the way
            assert wait_ended(api, uploading, read, job["id"])["state"] == "failed"
        assert sorted(kept(data)) == sorted(f"images/{j['sha256']}" for j in jobs.values())
        for where in (tmp_path, data, data / "images"):
            assert not {"evil", "evil-windows", "passwd", "boot.bin"} & {p.name for p in where.iterdir()}
        assert not Path("/evil").exists()
        assert Path("/etc/passwd").stat().st_mtime_ns == passwd.st_mtime_ns
        before = kept(data)

        over = upload(api, uploading, admin, os.urandom(UPLOAD_LIMIT + 1), b"big.bin")
        assert over.status_code == 413 and "upload limit (2 MiB" in over.json()["detail"]

        body, types = multipart([("file", b"big.bin", os.urandom(UPLOAD_LIMIT + 65536))])

        def chunks() -> Iterator[bytes]:            # no Content-Length: refused as it streams
            for at in range(0, len(body), 65536):
                yield body[at:at + 65536]

        streamed = uploading.check(api.post("/api/uploads", content=chunks(), headers={**admin, **types}))
        assert streamed.status_code == 413 and "upload limit" in streamed.json()["detail"]
        for fields, status, said in (({}, 400, "empty"), ({"release_date": "yesterday"}, 422, "no date"),
                                     ({"colour": "red"}, 400, "unknown form field 'colour'")):
            answer = upload(api, uploading, admin, b"" if not fields else b"x" * 100, b"a.bin", **fields)
            assert answer.status_code == status and said in answer.json()["detail"], answer.text
        body, types = multipart([("vendor", None, b"Acme")])
        answer = uploading.check(api.post("/api/uploads", content=body, headers={**admin, **types}))
        assert answer.status_code == 400 and "no file" in answer.json()["detail"]
        answer = uploading.check(api.post("/api/uploads", json={"file": "AAAA"}, headers=admin))
        assert answer.status_code == 415
        missing = uploading.check(api.get("/api/uploads/0123456789abcdef", headers=read))
        assert missing.status_code == 404
        assert kept(data) == before and not list((data / "images").glob(".upload-*"))

        exact = upload(api, uploading, admin, os.urandom(UPLOAD_LIMIT), b"exact.bin")
        assert exact.status_code == 202 and exact.json()["size"] == UPLOAD_LIMIT


def test_a_corrupt_image_is_a_failed_job_and_the_server_goes_on(
        uploading: Server, accounts: Accounts, images: dict[str, Path]) -> None:
    admin, read = _bearer(accounts, "admin"), _bearer(accounts, "read")
    with httpx.Client(base_url=uploading.base, timeout=60) as api:
        noise = upload(api, uploading, admin, os.urandom(100_000), b"noise.bin").json()
        cut = upload(api, uploading, admin, images["truncated"].read_bytes(), b"cut.sqfs").json()
        demo = upload(api, uploading, admin, images["demo"].read_bytes(), b"demo.bin").json()
        failed = wait_ended(api, uploading, read, noise["id"])
        assert failed["state"] == "failed"
        assert failed["error"] == "noise.bin: no known container or file system found", failed
        failed = wait_ended(api, uploading, read, cut["id"])
        assert failed["state"] == "failed" and failed["error"].startswith("cut.sqfs: ")
        assert "truncated" in failed["error"] and "SquashFS" in failed["error"], failed
        # the store keeps each as an error scan, as the batch does
        scan = uploading.check(api.get(f"/api/scans/{failed['scan_id']}", headers=read)).json()
        assert (scan["status"], scan["error"], scan["image"]) == ("error", failed["error"], "cut.sqfs")
        assert wait_ended(api, uploading, read, demo["id"])["state"] == "done"
    assert uploading.process.poll() is None


def _login(browser: httpx.Client, name: str, password: str) -> None:
    page = browser.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    assert browser.post("/login", data={"name": name, "password": password, "csrf": token}).status_code == 303


def test_the_upload_form_wants_an_admin_and_its_csrf_token(uploading: Server, accounts: Accounts,
                                                           images: dict[str, Path], tmp_path: Path) -> None:
    demo = images["demo"].read_bytes()
    with httpx.Client(base_url=uploading.base, timeout=60) as bob:
        _login(bob, "bob", accounts.passwords["bob"])
        assert "/upload" not in bob.get("/scans").text                 # no link for a reader
        assert bob.get("/upload").status_code == 403
        token = re.search(r'name="csrf" value="([^"]+)"', bob.get("/scans").text).group(1)
        body, types = multipart([("csrf", None, token.encode()), ("file", b"demo.bin", demo)])
        refused = bob.post("/upload", content=body, headers=types)
        assert refused.status_code == 403 and "admin" in refused.text
    with httpx.Client(base_url=uploading.base, timeout=60) as alice:
        _login(alice, "alice", accounts.passwords["alice"])
        form = alice.get("/upload")
        assert form.status_code == 200 and 'enctype="multipart/form-data"' in form.text
        assert 'href="/upload"' in alice.get("/scans").text
        token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)
        body, types = multipart([("csrf", None, b"forged"), ("file", b"demo.bin", demo)])
        stale = alice.post("/upload", content=body, headers=types)
        assert stale.status_code == 403 and "stale" in stale.text
        assert not (tmp_path / "data").exists() or not kept(tmp_path / "data")
        body, types = multipart([("csrf", None, token.encode()), ("vendor", None, b"Acme"),
                                 ("file", b"demo.bin", b"")])
        empty = alice.post("/upload", content=body, headers=types)
        assert empty.status_code == 400 and "empty" in empty.text and 'id="problem"' in empty.text
        body, types = multipart([("csrf", None, token.encode()), ("product", None, b"R9"),
                                 ("file", b"demo.bin", demo)])
        sent = alice.post("/upload", content=body, headers=types)
        assert sent.status_code == 303 and sent.headers["location"].startswith("/uploads/")
        status = alice.get(sent.headers["location"])
        assert status.status_code == 200 and '<meta http-equiv="refresh" content="2">' in status.text
        # the scanner thread takes it at once, or a moment later: queued (first in line) till then
        assert re.search(r'id="state">(scanning: \d+ s so far|queued: 1 in the queue)<', status.text)
        # noise sent while the demo is scanned: it waits its turn, then fails, and its page says why
        body, types = multipart([("csrf", None, token.encode()), ("file", b"noise.bin", os.urandom(5000))])
        noise = alice.post("/upload", content=body, headers=types).headers["location"]
        assert 'id="state">queued: 1 in the queue' in alice.get(noise).text
        deadline = time.monotonic() + SCAN_SECONDS
        while status.status_code == 200 and time.monotonic() < deadline:
            time.sleep(0.5)
            status = alice.get(sent.headers["location"])
        assert status.status_code == 303 and re.fullmatch(r"/scans/\d+", status.headers["location"])
        scan = alice.get(status.headers["location"]).text
        assert "demo.bin" in scan and "FP-SVC-001" in scan
        failed = alice.get(noise)
        while 'http-equiv="refresh"' in failed.text and time.monotonic() < deadline:
            time.sleep(0.5)
            failed = alice.get(noise)
        assert failed.status_code == 200 and 'http-equiv="refresh"' not in failed.text
        assert re.search(r'id="state">failed after [\d.]+ s', failed.text)
        assert 'id="error">noise.bin: no known container or file system found' in failed.text
        listed = alice.get("/upload").text                               # listed under the form
        assert "demo.bin" in listed and "noise.bin" in listed


def _scanning_processes(server: Server) -> list[int]:
    """The server's spawned scanning processes (its children running multiprocessing's spawn)."""
    pids = []
    for task in Path(f"/proc/{server.process.pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            with suppress(OSError):
                if b"spawn_main" in Path(f"/proc/{child}/cmdline").read_bytes():
                    pids.append(int(child))
    return pids


def _wait_scanning(api: httpx.Client, server: Server, headers: dict[str, str], upload_id: str) -> list[int]:
    deadline = time.monotonic() + SCAN_SECONDS
    while time.monotonic() < deadline:
        state = server_state(api, server, headers, upload_id)
        assert state["state"] in ("queued", "scanning"), state
        scanning = _scanning_processes(server)
        if state["state"] == "scanning" and scanning:
            return scanning
        time.sleep(0.2)
    raise AssertionError(f"upload {upload_id} never started scanning")


def test_a_scan_that_dies_fails_alone_and_the_server_stops_its_scan_when_it_stops(
        uploading: Server, accounts: Accounts, images: dict[str, Path], tmp_path: Path) -> None:
    admin, read = _bearer(accounts, "admin"), _bearer(accounts, "read")
    with httpx.Client(base_url=uploading.base, timeout=60) as api:
        doomed = upload(api, uploading, admin, images["demo"].read_bytes(), b"doomed.bin").json()
        (scanner,) = _wait_scanning(api, uploading, read, doomed["id"])
        os.kill(scanner, signal.SIGKILL)            # as a hostile image's crash would
        failed = wait_ended(api, uploading, read, doomed["id"])
        assert failed["state"] == "failed" and failed["error"] == "the scanning process died (exit code -9)"
        # a new scanning process takes the next image
        after = upload(api, uploading, admin, images["clean"].read_bytes(), b"after.bin").json()
        assert wait_ended(api, uploading, read, after["id"])["state"] == "done"
        # stopping the server while it scans: the scan is killed with it, nothing left running
        last = upload(api, uploading, admin, images["demo"].read_bytes(), b"last.bin").json()
        scanning = _wait_scanning(api, uploading, read, last["id"])
    started = time.monotonic()
    uploading.process.terminate()
    uploading.process.wait(timeout=30)
    assert time.monotonic() - started < 15
    for pid in scanning:
        assert not _running(pid), f"scanning process {pid} outlived the server"
    # the scan it stopped is not stored: the demo image's one scan is still the killed one's error
    assert _rows(tmp_path / "uploads.sqlite", "select s.status from scans s join images i "
                 "on i.id = s.image_id where i.sha256 = ?", doomed["sha256"]) == [("error",)]


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def test_an_upload_is_scanned_under_serves_limits_as_scan_would_be(
        accounts: Accounts, images: dict[str, Path], tmp_path: Path) -> None:
    """`serve` takes `scan`'s limit options and the configuration file's [limits] and [scan]:
    a file limit of 3 entries from the file, a depth from the flag; the upload's scan ends
    incomplete ("limit") exactly as `scan` under the same file and flag reports it."""
    config = tmp_path / "config.toml"
    config.write_text("[limits]\nmax_files = 3\n[scan]\nmin_examined = 0.95\n")
    limits = ("--config", str(config), "--max-depth", "5")
    admin, read = _bearer(accounts, "admin"), _bearer(accounts, "read")
    with running("--db", f"sqlite:///{tmp_path / 'limited.sqlite'}", "--auth", str(accounts.path),
                 "--data-dir", str(tmp_path / "data"), *limits) as server, \
            httpx.Client(base_url=server.base, timeout=60) as api:
        job = upload(api, server, admin, images["demo"].read_bytes(), b"demo.bin").json()
        done = wait_ended(api, server, read, job["id"])
        assert done["state"] == "done", done
        scan = server.check(api.get(f"/api/scans/{done['scan_id']}", headers=read)).json()
        assert scan["complete"] is False
        stored = api.get(f"/api/scans/{done['scan_id']}/report", headers=read).json()["coverage"]
    out = tmp_path / "report.json"
    cli = firmproof_cli("scan", str(images["demo"]), "-q", "-o", str(out), *limits)
    assert cli.returncode == 3, cli.stderr                      # EXIT_INCOMPLETE
    scanned = json.loads(out.read_text())["coverage"]
    assert stored["incomplete"] == scanned["incomplete"] == [
        {"kind": "limit", "path": "", "reason": "file limit of 3 entries exceeded"}]
    assert stored["limits"] == scanned["limits"]
    assert (stored["limits"]["max_files"], stored["limits"]["max_depth"], stored["limits"]["reached"],
            stored["min_examined_share"]) == (3, 5, ["files"], 0.95)
    # a configuration file that cannot be read: `serve` says so and does not start
    refused = firmproof_cli("serve", "--config", str(tmp_path / "missing.toml"), "--port", "0")
    assert refused.returncode == 2 and "no such configuration file" in refused.stderr


def test_jobs_outlive_the_server_queued_or_scanning_ones_are_queued_again(
        images: dict[str, Path], tmp_path: Path) -> None:
    """A server stopped while it scans one upload and two wait, started again on the same data
    folder and store: the three are queued again in their order and end as they would have;
    started once more, each /uploads/<id> still answers (a done one with its scan)."""
    data, store = tmp_path / "data", tmp_path / "uploads.sqlite"
    args = ("--db", f"sqlite:///{store}", "--data-dir", str(data))      # loopback, no login
    with running(*args) as server, httpx.Client(base_url=server.base, timeout=60) as api:
        demo = upload(api, server, {}, images["demo"].read_bytes(), b"demo.bin", vendor="Acme",
                      release_date="2024-03-01").json()
        _wait_scanning(api, server, {}, demo["id"])
        clean = upload(api, server, {}, images["clean"].read_bytes(), b"clean.bin").json()
        noise = upload(api, server, {}, os.urandom(5000), b"noise.bin").json()
        assert (clean["state"], noise["state"]) == ("queued", "queued")
        before = server.check(api.get("/api/uploads")).json()
    ids = [demo["id"], clean["id"], noise["id"]]
    states = {i: j["state"] for i, j in job_files(data).items()}
    assert states == dict(zip(ids, ("scanning", "queued", "queued"), strict=True))
    assert _rows(store, "select count(*) from scans") == [(0,)]           # the cut scan stored nothing

    with running(*args) as server, httpx.Client(base_url=server.base, timeout=60) as api:
        again = server.check(api.get("/api/uploads")).json()
        assert [(u["id"], u["name"], u["created"]) for u in again] == \
            [(u["id"], u["name"], u["created"]) for u in before]
        assert {u["id"]: u["state"] for u in again}[noise["id"]] == "queued"
        ended = {i: wait_ended(api, server, {}, i) for i in ids}
        assert [ended[i]["state"] for i in ids] == ["done", "done", "failed"], ended
        assert (ended[demo["id"]]["vendor"], ended[demo["id"]]["release_date"]) == ("Acme", "2024-03-01")
        assert ended[noise["id"]]["error"] == "noise.bin: no known container or file system found"
        scan = server.check(api.get(f"/api/scans/{ended[demo['id']]['scan_id']}")).json()
        assert (scan["image"], scan["vendor"], scan["status"]) == ("demo.bin", "Acme", "ok")
    (data / "uploads" / "0123456789abcdef.json").write_text("{ not a job")     # left alone, logged

    with running(*args) as server, httpx.Client(base_url=server.base, timeout=60) as api:
        for i in ids:
            assert server.check(api.get(f"/api/uploads/{i}")).json() == ended[i]
        for i in ids[:2]:
            page = api.get(f"/uploads/{i}")
            assert (page.status_code, page.headers["location"]) == (303, f"/scans/{ended[i]['scan_id']}")
        failed = api.get(f"/uploads/{noise['id']}")
        assert failed.status_code == 200 and 'http-equiv="refresh"' not in failed.text
        assert 'id="error">noise.bin: no known container or file system found' in failed.text
        assert server.check(api.get("/api/uploads/0123456789abcdef")).status_code == 404
    assert _rows(store, "select count(*) from scans") == [(3,)]
    assert (data / "uploads" / "0123456789abcdef.json").read_text() == "{ not a job"


def test_a_job_whose_image_is_gone_fails_when_loaded_and_a_crash_s_leftovers_go(tmp_path: Path) -> None:
    from firmproof.store import ImageInfo
    from firmproof.web import jobs

    records, folder = tmp_path / "uploads", tmp_path / "images"
    folder.mkdir()
    sha256 = hashlib.sha256(b"kept").hexdigest()
    (folder / sha256).write_bytes(b"kept")
    for number, (state, digest) in enumerate((("scanning", sha256), ("queued", "0" * 64), ("done", sha256))):
        jobs.save(records, jobs.Job(f"{number:016x}", f"{state}.bin", digest, 4, folder / digest,
                                    ImageInfo(name=f"{state}.bin"), "local", state=state,
                                    scan_id=7 if state == "done" else None))
    (records / f"{jobs.TEMP_PREFIX}left").write_text("{")
    loaded = jobs.load(records, folder)
    assert [(j.name, j.state, j.error, j.scan_id) for j in loaded] == [
        ("scanning.bin", "queued", None, None),
        ("queued.bin", "failed", "its kept image is no longer in the data folder", None),
        ("done.bin", "done", None, 7)]
    assert sorted(p.name for p in records.iterdir()) == [f"{n:016x}.json" for n in range(3)]
    assert [j.state for j in jobs.load(records, folder)] == ["queued", "failed", "done"]
