"""Images given to the server to scan: `POST /api/uploads` (a bearer token of the admin role)
and the page `/upload` (an admin's session and the form's CSRF token).

One scanner thread takes the jobs in turn and scans each image with `batch.scan_apart`, in a
spawned process of its own (a scan forks; a hostile image can kill that process, not the
server), under `serve`'s limits (its `scan` options and configuration file) and the batch's
per-image wall-clock guard, and stores what it hands back through
the batch's one writer path (`batch.store_outcome`: the report with its components and
inventory, or the error). An image the store already holds a good scan of, by this firmproof
and rules version, goes straight to that scan. A job is queued, scanning, done (its scan) or
failed (why, and the error scan the store keeps). Each job is kept in the data folder as it
changes (`firmproof.web.jobs`: `uploads/<id>.json`), the scans in the store: a server started
again on the same data folder queues again the jobs it finds queued or scanning and still
answers for the others. A done or failed job is forgotten once it ended longer ago than
`serve --keep-jobs` days (`Scanner.prune`: at start, whenever a job is added, and every
PRUNE_SECONDS while the scanner waits); its scan and the kept image stay. The thread and its
scanning process are ended when the server stops.

How the body is read and kept: `firmproof.web.receive`.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from firmproof.config import MIN_EXAMINED, Limits
from firmproof.store import StoreError, rules_version
from firmproof.web import jobs
from firmproof.web.access import CSRF_COOKIE, admin
from firmproof.web.api import REFUSED, Problem, found
from firmproof.web.auth import User, csrf_ok
from firmproof.web.jobs import Job, State
from firmproof.web.rendering import render

if TYPE_CHECKING:

    from firmproof.store import Store

from firmproof.web.receive import (
    DEFAULT_LIMIT,
    FIELD_BYTES,
    FIELDS,
    Refused,
    image_info,
    keep,
    receive,
    remove_stale,
    size_text,
)

log = logging.getLogger(__name__)

REFRESH_SECONDS = 2                      # the status page's, while queued or scanning
PRUNE_SECONDS = 3600                     # how often an idle scanner forgets the jobs past retention


# ---------------------------------------------------------------- the queue and its scanner


class Scanner:
    """The one background scanner of the server (see the module's doc): images kept in
    `folder`, jobs in `records` (`firmproof.web.jobs`)."""

    def __init__(self, store: Store, folder: Path | None, limit: int = DEFAULT_LIMIT,
                 limits: Limits | None = None, min_examined: float = MIN_EXAMINED,
                 records: Path | None = None, retention: timedelta = jobs.RETENTION) -> None:
        from firmproof.batch import BatchOptions

        self.store, self.folder, self.limit, self.records = store, folder, limit, records
        self.retention = retention
        self.pruned = time.monotonic()
        self.limits = limits or Limits()
        self.min_examined = min_examined
        self.guard = BatchOptions(limits=self.limits).guard()
        self.jobs: dict[str, Job] = {}
        self.waiting: deque[str] = deque()
        self.lock = threading.Condition()
        self.stopping = False
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        """Queue again the jobs a stopped server left queued or scanning, and start the thread."""
        remove_stale(self.folder)
        if self.records is not None and self.folder is not None:
            for job in jobs.load(self.records, self.folder):
                self.jobs[job.id] = job
                if job.state == "queued":
                    self.waiting.append(job.id)
            if self.waiting:
                log.info("uploads: %d job(s) queued again", len(self.waiting))
            self.prune()
        self.thread = threading.Thread(target=self._run, name="firmproof-uploads", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """End the thread: a scan under way is stopped (its process killed) and nothing of it
        stored; that job and the queued ones stay queued in their files, for the next start."""
        from firmproof.batch import end_apart

        with self.lock:
            self.stopping = True
            scanning = any(j.state == "scanning" for j in self.jobs.values())
            self.lock.notify_all()
        thread = self.thread
        if thread is None:
            return
        log.debug("uploads: stopping the scanner (scanning: %s)", scanning)
        deadline = time.monotonic() + 60
        while thread.is_alive() and time.monotonic() < deadline:
            if scanning and thread.ident is not None:
                end_apart(thread.ident, kill=True)        # a scan that had not started yet is killed too
            thread.join(timeout=0.5)
        log.debug("uploads: scanner stopped (thread alive: %s)", thread.is_alive())

    def submit(self, job: Job) -> Job:
        """Queue `job`, or, where the store already holds a good scan of its image by this
        firmproof and rules version, finish it with that scan."""
        known = self._stored(job.sha256)
        with self.lock:
            self.jobs[job.id] = job
            if known is not None:
                job.state, job.scan_id, job.seconds = "done", known, 0.0
            else:
                self.waiting.append(job.id)
                self.lock.notify_all()
            if job.state in jobs.ENDED:
                job.finished = datetime.now(UTC)
            self._keep(job)
            self.prune()
        return job

    def prune(self, now: datetime | None = None) -> list[str]:
        """Forget the jobs that ended (done or failed) longer than the retention period before
        `now`: their files and their entries; the ids forgotten. A job whose file cannot be
        removed is kept (and said so in the log), to be tried again next time; one whose file no
        longer says it ended (its last state could not be written) is forgotten and its file
        left as it is (`jobs.remove`)."""
        now = now or datetime.now(UTC)
        gone = []
        with self.lock:
            self.pruned = time.monotonic()
            for job in [j for j in self.jobs.values() if jobs.expired(j, now, self.retention)]:
                try:
                    removed = self.records is None or jobs.remove(self.records, job)
                except OSError as exc:
                    log.warning("upload %s: cannot remove its file (%s)", job.id, exc.strerror or exc)
                    continue
                if not removed:
                    log.warning("upload %s: its file no longer holds it; left as it is", job.id)
                del self.jobs[job.id]
                gone.append(job.id)
        if gone:
            log.info("uploads: %d job(s) ended over %s ago forgotten", len(gone), self.retention)
        return gone

    def _keep(self, job: Job) -> None:
        """Write the job's file (under the lock: one job's states are written in turn)."""
        if self.records is None:
            return
        try:
            jobs.save(self.records, job)
        except OSError as exc:                # the job goes on; a restart would not know it
            log.warning("upload %s: cannot keep its state (%s)", job.id, exc.strerror or exc)

    def listing(self) -> list[Job]:
        """The jobs remembered, newest first."""
        with self.lock:
            return sorted(self.jobs.values(), key=lambda j: j.created, reverse=True)

    def position(self, job: Job) -> int | None:
        """Where a queued job stands: 1 is scanned next."""
        with self.lock:
            return self.waiting.index(job.id) + 1 if job.id in self.waiting else None

    def elapsed(self, job: Job) -> float | None:
        if job.seconds is not None:
            return job.seconds
        return time.monotonic() - job.began if job.began is not None else None

    def _stored(self, sha256: str) -> int | None:
        from sqlalchemy import select

        from firmproof import __version__
        from firmproof.store.schema import Image, Scan

        with self.store.sessions() as session:
            return session.scalars(
                select(Scan.id).join(Image, Scan.image_id == Image.id)
                .where(Image.sha256 == sha256, Scan.tool_version == __version__,
                       Scan.rules_version == rules_version(), Scan.status == "ok")
                .order_by(Scan.id.desc()).limit(1)).first()

    def _run(self) -> None:
        from firmproof.batch import end_apart

        try:
            while True:
                with self.lock:
                    while not self.waiting and not self.stopping:
                        self.lock.wait(timeout=PRUNE_SECONDS)
                        if time.monotonic() - self.pruned >= PRUNE_SECONDS:
                            self.prune()
                    if self.stopping:
                        break
                    job = self.jobs[self.waiting.popleft()]
                    job.state, job.began = "scanning", time.monotonic()
                    self._keep(job)
                try:
                    self._scan(job)
                except Exception as exc:          # a bug of firmproof's: the job says so, the thread goes on
                    if self.stopping:
                        break
                    log.exception("upload %s: scan failed", job.id)
                    self._finish(job, None, f"{type(exc).__name__}: {exc}")
        finally:
            with self.lock:
                self.waiting.clear()
            end_apart()

    def _scan(self, job: Job) -> None:
        from firmproof.batch import end_apart, scan_apart, store_outcome

        known = self._stored(job.sha256)        # the same bytes, queued before, scanned since
        if known is not None:
            self._finish(job, known, None)
            return
        ident = threading.get_ident()

        def overdue() -> None:
            job.overdue = True
            end_apart(ident, kill=True)

        timer = threading.Timer(self.guard, overdue)
        timer.daemon = True
        timer.start()
        try:
            outcome = scan_apart(str(job.path), job.info, self.limits, self.min_examined)
        finally:
            timer.cancel()
        if self.stopping:
            return                                # not the image's doing: nothing stored
        if job.overdue:
            outcome = replace(outcome, report=None, error=f"still scanning after {self.guard:g} s "
                                                          "(per-image wall-clock guard): stopped")
        if outcome.error is not None:                # it names the kept file: name the upload instead
            outcome = replace(outcome, error=outcome.error.replace(str(job.path), job.name)
                              .replace(f"{job.sha256}: ", f"{job.name}: ", 1))
        try:
            scan_id, outcome = store_outcome(self.store, outcome, job.info, job.name, job.sha256, job.size,
                                             rules_version())
        except StoreError as exc:
            self._finish(job, None, str(exc))
            return
        self._finish(job, scan_id, None if outcome.report is not None else outcome.error or "failed")

    def _finish(self, job: Job, scan_id: int | None, error: str | None) -> None:
        with self.lock:
            job.seconds = self.elapsed(job) or 0.0
            job.scan_id, job.error = scan_id, error
            job.state = "failed" if error is not None else "done"
            job.finished = datetime.now(UTC)
            self._keep(job)


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The scanner runs while the server does."""
    from firmproof.web.app import images_dir, jobs_dir

    state = app.state
    scanner = Scanner(state.store, images_dir(app), getattr(state, "upload_limit", DEFAULT_LIMIT),
                      getattr(state, "scan_limits", None), getattr(state, "min_examined", MIN_EXAMINED),
                      jobs_dir(app), getattr(state, "job_retention", jobs.RETENTION))
    app.state.uploads = scanner
    scanner.start()
    try:
        yield
    finally:
        await run_in_threadpool(scanner.stop)


def scanner_of(request: Request) -> Scanner:
    scanner: Scanner | None = getattr(request.app.state, "uploads", None)
    if scanner is None or scanner.folder is None:
        raise HTTPException(503, "this server takes no uploads: it keeps no images (no data folder)")
    return scanner


async def upload(request: Request, user: User, allowed: tuple[str, ...] = FIELDS,
                 before_file: Callable[[dict[str, str]], None] | None = None) -> Job:
    """Receive, keep and queue the image `request` carries (Refused as `receive` says)."""
    scanner = scanner_of(request)
    assert scanner.folder is not None
    received = await receive(request, scanner.folder, scanner.limit, allowed, before_file)
    try:
        info = image_info(received)
    except Refused:
        received.temp.unlink(missing_ok=True)
        raise
    path = await run_in_threadpool(keep, received, scanner.folder)
    job = Job(secrets.token_hex(8), received.name, received.sha256, received.size, path, info, user.name)
    log.info("upload %s: %s (%s, %d bytes) from %s", job.id, job.name, job.sha256, job.size, user.name)
    return await run_in_threadpool(scanner.submit, job)


def job_of(request: Request, upload_id: str) -> Job:
    scanner = scanner_of(request)
    return found(scanner.jobs.get(upload_id),
                 f"no upload {upload_id} (an upload is forgotten {_days(scanner.retention)} after its "
                 "scan ended; the scan stays in the store)")


def _days(period: timedelta) -> str:
    days = period / timedelta(days=1)
    return f"{days:g} day{'' if days == 1 else 's'}"


# ---------------------------------------------------------------- the API


class UploadOut(BaseModel):
    id: str
    name: str = Field(description="the client's file name reduced to a safe base name: shown, never a path")
    sha256: str
    size: int
    vendor: str | None
    product: str | None
    version: str | None
    release_date: date | None
    state: State
    position: int | None = Field(description="while queued: 1 is scanned next")
    elapsed: float | None = Field(description="seconds scanning so far, or the scan's once it ended")
    scan_id: int | None = Field(description="done: its scan; failed: the error scan the store keeps, if any")
    error: str | None
    created: datetime
    who: str
    finished: datetime | None = Field(description="when it ended (done or failed); the server forgets "
                                                  "it after its retention period (serve --keep-jobs)")


def _out(scanner: Scanner, job: Job) -> dict[str, Any]:
    return {"id": job.id, "name": job.name, "sha256": job.sha256, "size": job.size,
            "vendor": job.info.vendor, "product": job.info.product, "version": job.info.version,
            "release_date": job.info.release_date, "state": job.state, "position": scanner.position(job),
            "elapsed": scanner.elapsed(job), "scan_id": job.scan_id, "error": job.error,
            "created": job.created, "who": job.who, "finished": job.finished}


FORM_SCHEMA = {"type": "object", "required": ["file"], "properties": {
    "file": {"type": "string", "format": "binary", "description": "the image"},
    **{name: {"type": "string", "maxLength": FIELD_BYTES} for name in ("vendor", "product", "version")},
    "release_date": {"type": "string", "format": "date"}}}
UPLOAD_REFUSED: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "no file, an empty one, an unknown field, a body cut short"},
    413: {"model": Problem, "description": "larger than the server's upload limit"},
    415: {"model": Problem, "description": "not multipart/form-data"},
    422: {"model": Problem, "description": "a field's value is not what it should be"},
    503: {"model": Problem, "description": "the server keeps no images (no data folder)"},
    507: {"model": Problem, "description": "the server cannot keep the image (its disk)"}}

api = APIRouter(prefix="/api", tags=["uploads"], responses=REFUSED)


@api.post("/uploads", status_code=202, response_model=UploadOut, responses=UPLOAD_REFUSED,
          summary="upload an image to scan (multipart/form-data); needs the admin role",
          openapi_extra={"requestBody": {"required": True, "content": {
              "multipart/form-data": {"schema": FORM_SCHEMA}}}})
async def upload_api(request: Request, user: Annotated[User, Depends(admin)]) -> Response:
    try:
        job = await upload(request, user)
    except Refused as exc:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status)
    scanner = scanner_of(request)
    return JSONResponse(UploadOut(**_out(scanner, job)).model_dump(mode="json"), status_code=202,
                        headers={"Location": f"/api/uploads/{job.id}"})


NO_UPLOADS: dict[int | str, dict[str, Any]] = {503: UPLOAD_REFUSED[503]}


@api.get("/uploads", response_model=list[UploadOut], responses=NO_UPLOADS,
         summary="this server's uploads, newest first")
def uploads_api(request: Request) -> list[dict[str, Any]]:
    scanner = scanner_of(request)
    return [_out(scanner, j) for j in scanner.listing()]


@api.get("/uploads/{upload_id}", response_model=UploadOut, responses={404: {"model": Problem}, **NO_UPLOADS},
         summary="one upload: queued (its place), scanning (for how long), done (its scan) or failed (why)")
def upload_state(request: Request, upload_id: str) -> dict[str, Any]:
    return _out(scanner_of(request), job_of(request, upload_id))


# ---------------------------------------------------------------- the pages

pages = APIRouter(include_in_schema=False)


def _form(request: Request, status: int = 200, problem: str | None = None) -> HTMLResponse:
    scanner = scanner_of(request)
    return render(request, "upload.html", status_code=status, problem=problem, limit=size_text(scanner.limit),
                  jobs=[_out(scanner, j) for j in scanner.listing()])


@pages.get("/upload", response_class=HTMLResponse)
def upload_page(request: Request, user: Annotated[User, Depends(admin)]) -> HTMLResponse:
    return _form(request)


@pages.post("/upload")
async def upload_form(request: Request, user: Annotated[User, Depends(admin)]) -> Response:
    browser = request.cookies.get(CSRF_COOKIE)

    def csrf(fields: dict[str, str]) -> None:     # the form's token comes before its file
        if not csrf_ok(request.app.state.secret, browser, fields.get("csrf")):
            raise Refused(403, "the form is stale or came from another site: reload the page")

    try:
        job = await upload(request, user, (*FIELDS, "csrf"), csrf)
    except Refused as exc:
        return _form(request, exc.status, exc.detail)
    return RedirectResponse(f"/uploads/{job.id}", status_code=303)


@pages.get("/uploads/{upload_id}", response_class=HTMLResponse)
def upload_status(request: Request, upload_id: str) -> Response:
    scanner = scanner_of(request)
    job = job_of(request, upload_id)
    if job.state == "done":
        return RedirectResponse(f"/scans/{job.scan_id}", status_code=303)
    return render(request, "upload_status.html", job=_out(scanner, job),
                  refresh=REFRESH_SECONDS if job.state in ("queued", "scanning") else None)
