"""Images given to the server to scan: `POST /api/uploads` (a bearer token of the admin role)
and the page `/upload` (an admin's session and the form's CSRF token).

The body is read as it arrives (python-multipart's parser, fed chunk by chunk) and the file
part written to a temporary file inside the data folder's `images/` (`.upload-<random>`),
hashed as it is written; then renamed to `images/<sha256>`, or dropped where that is already
there. The client's file name is never a path: it is kept only to be shown, reduced to a safe
base name. An upload larger than the limit (`serve --upload-limit`) is refused with 413 as soon
as it is, and what was written of it removed; an empty one is refused too.

One scanner thread takes the jobs in turn and scans each image with `batch.scan_apart`, in a
spawned process of its own (a scan forks; a hostile image can kill that process, not the
server), under the batch's per-image wall-clock guard, and stores what it hands back through
the batch's one writer path (`batch.store_outcome`: the report with its components and
inventory, or the error). An image the store already holds a good scan of, by this firmproof
and rules version, goes straight to that scan. A job is queued, scanning, done (its scan) or
failed (why, and the error scan the store keeps); jobs live as long as the server does, the
scans in the store. The thread and its scanning process are ended when the server stops.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import secrets
import tempfile
import threading
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.concurrency import run_in_threadpool

from firmproof.config import MIN_EXAMINED, Limits
from firmproof.store import ImageInfo, StoreError, rules_version
from firmproof.web.access import CSRF_COOKIE, admin
from firmproof.web.api import REFUSED, Problem, found
from firmproof.web.auth import User, csrf_ok
from firmproof.web.rendering import render

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

    from firmproof.store import Store

log = logging.getLogger(__name__)

GiB = 1024 ** 3
DEFAULT_LIMIT = GiB                      # `serve --upload-limit`
FIELDS = ("vendor", "product", "version", "release_date")
FIELD_BYTES = 1024                       # a text field's most
PARTS = 16                               # parts of one upload's body, at most
ENVELOPE = 64 * 1024                     # the body's bytes besides the file's, at most
DRAIN_BYTES = 64 * 1024 ** 2             # read and dropped after a refusal, so the client reads it
STALE_SECONDS = 3600                     # an unfinished `.upload-*` this old is a crashed server's
NAME_CHARS = 200                         # of the client's file name, shown
REFRESH_SECONDS = 2                      # the status page's, while queued or scanning
TEMP_PREFIX = ".upload-"
State = Literal["queued", "scanning", "done", "failed"]


class Refused(Exception):
    """An upload refused: the status and what the client is told."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status, self.detail = status, detail


def display_name(raw: bytes | None) -> str:
    """The client's file name as firmproof shows it: its last component (after / or \\), its
    printable characters, at most NAME_CHARS; 'upload' where nothing is left. Never a path."""
    text = raw.decode("utf-8", "replace") if raw else ""
    base = re.split(r"[/\\]", text)[-1]
    base = "".join(c for c in base if c.isprintable()).strip()
    return base[:NAME_CHARS] if base not in ("", ".", "..") else "upload"


# ---------------------------------------------------------------- reading the body


@dataclass
class Received:
    """An upload's file, written and hashed (in `images/` under a temporary name), and its fields."""

    temp: Path
    sha256: str
    size: int
    name: str
    fields: dict[str, str]


class _Receiver:
    """python-multipart's callbacks: text fields to memory (small), the one file part to a
    temporary file in `folder`, hashed as it comes, refused past `limit` bytes."""

    def __init__(self, folder: Path, limit: int, allowed: tuple[str, ...],
                 before_file: Callable[[dict[str, str]], None] | None) -> None:
        self.folder, self.limit, self.allowed, self.before_file = folder, limit, allowed, before_file
        self.fields: dict[str, str] = {}
        self.parts = 0
        self.ended = False
        self.temp: Path | None = None
        self.out: IO[bytes] | None = None
        self.digest = hashlib.sha256()
        self.size = 0
        self.name = "upload"
        self._headers: dict[bytes, bytes] = {}
        self._field = b""
        self._value = b""
        self._part: str | None = None        # the part's form field name
        self._text = bytearray()
        self._in_file = False

    def callbacks(self) -> MultipartCallbacks:
        return {"on_part_begin": self._begin, "on_header_field": self._header_field,
                "on_header_value": self._header_value, "on_header_end": self._header_end,
                "on_headers_finished": self._headers_done, "on_part_data": self._data,
                "on_part_end": self._part_end, "on_end": self._end}

    def _begin(self) -> None:
        self.parts += 1
        if self.parts > PARTS:
            raise Refused(400, f"more than {PARTS} parts in the form")
        self._headers, self._field, self._value = {}, b"", b""
        self._part, self._in_file = None, False
        self._text.clear()

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def _header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field, self._value = b"", b""

    def _headers_done(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        name = options.get(b"name", b"").decode("latin-1")
        if name == "file":
            if self.temp is not None:
                raise Refused(400, "one file per upload")
            if self.before_file is not None:
                self.before_file(self.fields)
            self.name = display_name(options.get(b"filename"))
            self.folder.mkdir(parents=True, exist_ok=True)
            handle, temp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=self.folder)
            self.temp, self.out = Path(temp), os.fdopen(handle, "wb")
            self._in_file = True
        elif name in self.allowed:
            self._part = name
        else:
            known = ", ".join(("file", *(a for a in self.allowed if a != "csrf")))
            raise Refused(400, f"unknown form field {name[:40]!r} (known: {known})")

    def _data(self, data: bytes, start: int, end: int) -> None:
        chunk = data[start:end]
        if self._in_file:
            assert self.out is not None
            self.size += len(chunk)
            if self.size > self.limit:
                raise Refused(413, f"the image is larger than this server's upload limit "
                                   f"({_size(self.limit)}; `firmproof serve --upload-limit` sets it)")
            self.digest.update(chunk)
            try:
                self.out.write(chunk)
            except OSError as exc:
                raise Refused(507, f"cannot keep the upload: {exc.strerror or exc}") from None
        elif self._part is not None:
            self._text += chunk
            if len(self._text) > FIELD_BYTES:
                raise Refused(400, f"{self._part}: longer than {FIELD_BYTES} bytes")

    def _part_end(self) -> None:
        if self._in_file:
            assert self.out is not None
            self.out.close()
            self._in_file = False
        elif self._part is not None:
            try:
                self.fields[self._part] = self._text.decode("utf-8").strip()
            except UnicodeDecodeError:
                raise Refused(400, f"{self._part}: not UTF-8 text") from None

    def _end(self) -> None:
        self.ended = True

    def discard(self) -> None:
        """Remove what was written of the file."""
        if self.out is not None:
            self.out.close()
        if self.temp is not None:
            self.temp.unlink(missing_ok=True)
            self.temp = None


async def receive(request: Request, folder: Path, limit: int, allowed: tuple[str, ...] = FIELDS,
                  before_file: Callable[[dict[str, str]], None] | None = None) -> Received:
    """Read the multipart body of `request` as it arrives (see the module's doc). Raises Refused;
    on a refusal nothing of the upload is left, and the rest of the body (up to DRAIN_BYTES)
    is read and dropped, so that the client gets to read why."""
    kind, options = parse_options_header(request.headers.get("content-type"))
    if kind != b"multipart/form-data" or not options.get(b"boundary"):
        raise Refused(415, "send the image as multipart/form-data, in a field named 'file'")
    receiver = _Receiver(folder, limit, allowed, before_file)
    parser = MultipartParser(options[b"boundary"], receiver.callbacks())
    refused: Refused | None = None
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + ENVELOPE:
        refused = Refused(413, f"the upload ({_size(int(declared))}) is larger than this server's "
                               f"upload limit ({_size(limit)}; `firmproof serve --upload-limit` sets it)")
    dropped = 0
    try:
        async for chunk in request.stream():
            if refused is None:
                try:
                    await run_in_threadpool(parser.write, chunk)
                except Refused as exc:
                    refused = exc
                except MultipartParseError as exc:
                    refused = Refused(400, f"not a readable multipart/form-data body ({exc})")
                if refused is not None:
                    receiver.discard()
            else:
                dropped += len(chunk)
                if dropped > DRAIN_BYTES:
                    break
        if refused is None and not receiver.ended:
            refused = Refused(400, "the form's body ended before its last part")
        if refused is None and receiver.temp is None:
            refused = Refused(400, "no file: the image goes in a field named 'file'")
        if refused is None and receiver.size == 0:
            refused = Refused(400, "the file is empty: nothing to scan")
    except BaseException:                       # the client went away (ClientDisconnect), the server stops
        receiver.discard()
        raise
    if refused is not None:
        receiver.discard()
        raise refused
    assert receiver.temp is not None
    return Received(receiver.temp, receiver.digest.hexdigest(), receiver.size, receiver.name, receiver.fields)


def keep(received: Received, folder: Path) -> Path:
    """The upload's file renamed to `folder/<sha256>`; where that is already there, the new
    copy is dropped."""
    target = folder / received.sha256
    if target.is_file() and not target.is_symlink():
        received.temp.unlink(missing_ok=True)
    else:
        received.temp.replace(target)
    return target


def image_info(received: Received) -> ImageInfo:
    """What the form said of the image; Refused (422) for a release date that is none."""
    given = received.fields
    released = given.get("release_date") or ""
    try:
        day = date.fromisoformat(released) if released else None
    except ValueError:
        raise Refused(422, f"release_date: {released[:40]!r} is no date (YYYY-MM-DD)") from None
    return ImageInfo(vendor=given.get("vendor") or None, product=given.get("product") or None,
                     version=given.get("version") or None, release_date=day, name=received.name)


def remove_stale(folder: Path | None) -> None:
    """Unfinished uploads a stopped server left (older than STALE_SECONDS)."""
    if folder is None or not folder.is_dir():
        return
    now = time.time()
    for left in folder.glob(f"{TEMP_PREFIX}*"):
        with suppress(OSError):
            if now - left.stat().st_mtime > STALE_SECONDS:
                left.unlink()


def _size(n: int) -> str:
    for unit, scale in (("GiB", GiB), ("MiB", 1024 ** 2), ("KiB", 1024)):
        if n >= scale:
            return f"{n / scale:g} {unit}" if n % scale == 0 else f"{n / scale:.1f} {unit}"
    return f"{n} bytes"


# ---------------------------------------------------------------- the queue and its scanner


@dataclass
class Job:
    id: str
    name: str
    sha256: str
    size: int
    path: Path
    info: ImageInfo
    who: str
    created: datetime = field(default_factory=lambda: datetime.now(UTC))
    state: State = "queued"
    began: float | None = None           # monotonic, when its scan began
    seconds: float | None = None         # how long it took, once done or failed
    scan_id: int | None = None
    error: str | None = None
    overdue: bool = False


class Scanner:
    """The one background scanner of the server (see the module's doc)."""

    def __init__(self, store: Store, folder: Path | None, limit: int = DEFAULT_LIMIT,
                 limits: Limits | None = None, min_examined: float = MIN_EXAMINED) -> None:
        from firmproof.batch import BatchOptions

        self.store, self.folder, self.limit = store, folder, limit
        self.limits = limits or Limits()
        self.min_examined = min_examined
        self.guard = BatchOptions(limits=self.limits).guard()
        self.jobs: dict[str, Job] = {}
        self.waiting: deque[str] = deque()
        self.lock = threading.Condition()
        self.stopping = False
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        remove_stale(self.folder)
        self.thread = threading.Thread(target=self._run, name="firmproof-uploads", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        """End the thread: a scan under way is stopped (its process killed), queued jobs fail."""
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
        return job

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
                        self.lock.wait()
                    if self.stopping:
                        break
                    job = self.jobs[self.waiting.popleft()]
                    job.state, job.began = "scanning", time.monotonic()
                try:
                    self._scan(job)
                except Exception as exc:          # a bug of firmproof's: the job says so, the thread goes on
                    log.exception("upload %s: scan failed", job.id)
                    self._finish(job, None, f"{type(exc).__name__}: {exc}")
        finally:
            with self.lock:
                for job in self.jobs.values():
                    if job.state in ("queued", "scanning"):
                        job.state, job.error = "failed", "the server stopped before its scan ended"
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


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """The scanner runs while the server does."""
    from firmproof.web.app import images_dir

    scanner = Scanner(app.state.store, images_dir(app), getattr(app.state, "upload_limit", DEFAULT_LIMIT))
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
    return found(scanner_of(request).jobs.get(upload_id), f"no upload {upload_id}")


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


def _out(scanner: Scanner, job: Job) -> dict[str, Any]:
    return {"id": job.id, "name": job.name, "sha256": job.sha256, "size": job.size,
            "vendor": job.info.vendor, "product": job.info.product, "version": job.info.version,
            "release_date": job.info.release_date, "state": job.state, "position": scanner.position(job),
            "elapsed": scanner.elapsed(job), "scan_id": job.scan_id, "error": job.error,
            "created": job.created, "who": job.who}


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
    return render(request, "upload.html", status_code=status, problem=problem, limit=_size(scanner.limit),
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
