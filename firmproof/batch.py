"""Many images, one store: `firmproof batch`.

    items = collect("images/")                       # a folder, a list file, a glob or a manifest
    result = run_batch(items, store, BatchOptions(jobs=2))

Which images: a folder (its regular files, recursively), a text file listing paths (one a
line, `#` comments), a glob, or a CSV/JSON manifest (path, vendor, product, version,
release_date) whose metadata goes to the store's image rows as given.

Where they are scanned: a local pool of `jobs` worker processes (spawned, each scanning one
image at a time in a work folder of its own, which forks its own children as a scan does), or,
with `scheduler`, the same `scan_one` on a dask.distributed cluster. Either way one writer: the
workers hand back the report (its JSON and components) and the image's inventory (keys,
executables, boot entries, setuid files, read while the unpacked files are there) and this
process adds them to the store, as soon as they arrive, in one transaction; no worker opens
the database.

What can go wrong with one image goes to that image's row, and the batch goes on: an image
that cannot be unpacked, that crashes its worker (the worker is replaced) or that outlives the
per-image wall-clock guard (its worker is killed) is recorded with `add_error`. On Dask a
task cannot be killed: there the scan's own limits (unpacking time, analysis deadline) bound an
image, and a task whose worker died is tried again elsewhere by the scheduler, then recorded.
A path that is no readable file (missing, a folder) has no bytes, hence no row: it is reported
and counted.

The pool spawns its workers, so a script that calls `run_batch` needs the usual
`if __name__ == "__main__":` guard (the command line has it).

Resuming: each image is hashed first (cheap) and skipped when the store already holds a scan
of it by this firmproof and rules version, an error included (`retry_errors` scans those again).
"""

from __future__ import annotations

import csv
import glob
import io
import json
import logging
import multiprocessing
import os
import shutil
import signal
import socket
import tempfile
import threading
import time
import traceback
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.exc import SQLAlchemyError

from firmproof import __version__
from firmproof.config import MIN_EXAMINED, Limits, ScanConfig
from firmproof.store import ImageInfo, StoreError, add_error, add_report, rules_version
from firmproof.store.query import stored_scans

if TYPE_CHECKING:
    from firmproof.device.components import Component
    from firmproof.device.inventory import Holdings
    from firmproof.report import Report
    from firmproof.store import Store

log = logging.getLogger(__name__)

MANIFEST_FIELDS = ("path", "vendor", "product", "version", "release_date")
MAX_LIST_BYTES = 64 * 1024 ** 2          # a list or manifest file read whole
GUARD_FACTOR, GUARD_SLACK = 2.0, 120.0   # default wall-clock guard: 2 x the scan's limit + 2 min
GLOB_CHARS = frozenset("*?[")
SCHEDULER_SECONDS = 10                   # to reach the Dask scheduler


class BatchError(Exception):
    """The batch cannot start: its input cannot be read or names nothing (exit code 2)."""


@dataclass(frozen=True)
class Item:
    """One image to scan, with what the manifest says of it."""

    path: Path
    info: ImageInfo = field(default_factory=ImageInfo)


@dataclass(frozen=True)
class Outcome:
    """What a worker hands back for one image: a report (JSON, components and the image's
    inventory) or an error."""

    path: str
    sha256: str | None = None
    size: int = 0
    report: dict[str, Any] | None = None
    components: tuple[Component, ...] = ()
    inventory: Holdings | None = None
    error: str | None = None
    started: datetime | None = None
    seconds: float = 0.0


@dataclass(frozen=True)
class BatchOptions:
    limits: Limits = field(default_factory=Limits)
    min_examined: float = MIN_EXAMINED
    jobs: int = 2
    scheduler: str | None = None          # tcp://HOST:PORT of a dask.distributed scheduler
    image_timeout: float | None = None    # per-image wall clock of a pool worker; None: default
    retry_errors: bool = False
    workdir: Path | None = None           # where the workers' folders go (default: temporary)
    vulndb: Path | None = None            # the vulnerability database the workers read (default: theirs)

    def guard(self) -> float:
        if self.image_timeout is not None:
            return self.image_timeout
        return self.limits.max_seconds * GUARD_FACTOR + GUARD_SLACK


@dataclass
class BatchResult:
    total: int = 0
    scanned: int = 0                      # scans that gave a report, added to the store
    skipped: int = 0                      # already in the store
    stored_errors: int = 0                # of the skipped: an error is what the store holds
    failed: list[tuple[str, str]] = field(default_factory=list)   # (path, why), stored or not
    unreadable: int = 0                   # of the failed: paths that are no readable file
    findings: int = 0
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        """Every image has a report in the store."""
        return not self.failed and not self.stored_errors


class Events(Protocol):
    """What the batch tells its display (and tests) as it goes."""

    def planned(self, total: int, skipped: int) -> None: ...

    def started(self, path: str, worker: int) -> None: ...

    def finished(self, outcome: Outcome, findings: int) -> None: ...

    def unreadable(self, path: str, why: str) -> None: ...


class Silent:
    """Events that nobody watches."""

    def planned(self, total: int, skipped: int) -> None:
        pass

    def started(self, path: str, worker: int) -> None:
        pass

    def finished(self, outcome: Outcome, findings: int) -> None:
        pass

    def unreadable(self, path: str, why: str) -> None:
        pass


# ---------------------------------------------------------------- which images


def collect(spec: str) -> list[Item]:
    """The images a batch argument names: a folder, a manifest (.csv, .json), a list file, or
    a glob. Raises BatchError when it cannot be read or names nothing."""
    path = Path(spec).expanduser()
    if path.is_dir():
        items = [Item(p) for p in sorted(_files(path))]
        if not items:
            raise BatchError(f"{spec}: no files in this folder")
        return items
    if path.exists():
        text = _read_text(path)
        suffix = path.suffix.lower()
        if suffix == ".csv":
            items = _csv_manifest(text, path)
        elif suffix == ".json":
            items = _json_manifest(text, path)
        else:
            items = _list(text, path)
        if not items:
            raise BatchError(f"{spec}: lists no image")
        return items
    if GLOB_CHARS & set(spec):
        # glob.glob: Path.glob takes no absolute pattern
        found = sorted(Path(p) for p in glob.glob(str(Path(spec).expanduser()), recursive=True))  # noqa: PTH207
        if not found:
            raise BatchError(f"{spec}: matches nothing")
        return [Item(p) for p in found]
    raise BatchError(f"{spec}: no such folder, list, manifest or glob")


def _files(folder: Path) -> Iterator[Path]:
    """Regular files below `folder`; symbolic links are not followed (no loops, no escapes)."""
    for root, dirs, files in os.walk(folder):
        dirs.sort()
        for name in files:
            p = Path(root) / name
            if p.is_file() and not p.is_symlink():
                yield p


def _read_text(path: Path) -> str:
    try:
        if path.stat().st_size > MAX_LIST_BYTES:
            raise BatchError(f"{path}: larger than {MAX_LIST_BYTES >> 20} MiB: not a list of images "
                             "(to scan one image: firmproof scan)")
        data = path.read_bytes()
    except OSError as exc:
        raise BatchError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if b"\0" in data:
        raise BatchError(f"{path}: binary, not a list of images (to scan one image: firmproof scan)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BatchError(f"{path}: not UTF-8 text, not a list of images") from None


def _relative(base: Path, entry: str) -> Path:
    p = Path(entry).expanduser()
    return p if p.is_absolute() else base.parent / p


def _list(text: str, path: Path) -> list[Item]:
    return [Item(_relative(path, line.strip())) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def _info(row: dict[str, Any], where: str) -> ImageInfo:
    def text(name: str) -> str | None:
        value = row.get(name)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise BatchError(f"{where}: {name}: {value!r} is no text")
        return str(value).strip()

    released = text("release_date")
    day = None
    if released is not None:
        try:
            day = date.fromisoformat(released)
        except ValueError:
            raise BatchError(f"{where}: release_date: {released!r} is no date (YYYY-MM-DD)") from None
    return ImageInfo(vendor=text("vendor"), product=text("product"), version=text("version"),
                     release_date=day)


def _manifest_row(row: dict[str, Any], path: Path, where: str) -> Item:
    unknown = sorted(str(k) for k in row if k not in MANIFEST_FIELDS)
    if unknown:
        raise BatchError(f"{where}: unknown field {unknown[0]!r} (known: {', '.join(MANIFEST_FIELDS)})")
    entry = row.get("path")
    if not isinstance(entry, str) or not entry.strip():
        raise BatchError(f"{where}: no path")
    return Item(_relative(path, entry.strip()), _info(row, where))


def _csv_manifest(text: str, path: Path) -> list[Item]:
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or "path" not in reader.fieldnames:
        raise BatchError(f"{path}: a CSV manifest's first line names its columns, path among them "
                         f"({', '.join(MANIFEST_FIELDS)})")
    items = []
    for row in reader:
        if None in row:
            raise BatchError(f"{path}:{reader.line_num}: more values than columns")
        items.append(_manifest_row({k: v for k, v in row.items() if k is not None}, path,
                                   f"{path}:{reader.line_num}"))
    return items


def _json_manifest(text: str, path: Path) -> list[Item]:
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise BatchError(f"{path}: not JSON ({exc})") from None
    if isinstance(data, dict) and "images" in data:
        data = data["images"]
    if not isinstance(data, list):
        raise BatchError(f"{path}: a JSON manifest is a list of {{path, vendor, product, version, "
                         "release_date}} objects")
    items = []
    for n, row in enumerate(data):
        if isinstance(row, str):
            row = {"path": row}
        if not isinstance(row, dict):
            raise BatchError(f"{path}: entry {n}: not an object")
        items.append(_manifest_row(row, path, f"{path}: entry {n}"))
    return items


# ---------------------------------------------------------------- one image, in a worker


def _readable(path: Path) -> str | None:
    """Why `path` cannot be an image (None: it can be tried)."""
    try:
        if path.is_symlink() and not path.exists():
            return "a dangling symbolic link"
        if not path.exists():
            return "no such file"
        if path.is_dir():
            return "is a directory, not a firmware image"
        if not path.is_file():
            return "not a regular file"
        with path.open("rb"):
            pass
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    return None


def scan_with_inventory(config: ScanConfig) -> tuple[Report, Holdings]:
    """Scan one image, and read its inventory while the unpacked files are still there: what
    the store keeps of a scan."""
    from firmproof.device.inventory import holdings
    from firmproof.scan import scan
    from firmproof.unpack.driver import UnpackResult

    held: list[Holdings] = []

    def take(result: UnpackResult) -> None:
        held.append(holdings(result.layers))

    report = scan(config, unpacked=take)
    return report, held[0]


def scan_one(path: str, info: ImageInfo, limits: Limits, min_examined: float,
             workdir: str | None = None, vulndb_path: str | None = None) -> Outcome:
    """Scan one image where this runs (a pool worker, a Dask worker): its report's JSON and
    components, or the error that stopped it, one line. Opens no database but the vulnerability
    database `vulndb_path` (given to the batch), which must be readable where this runs: on a
    cluster, at the same path on every worker."""
    from firmproof.host.tools import use_tool_path
    from firmproof.scan import ImageError, sha256_file
    from firmproof.unpack.driver import UnpackFailed

    use_tool_path()
    _quiet()
    image = Path(path)
    started = datetime.now(UTC)
    clock = time.monotonic()
    digest, size = None, 0
    if vulndb_path is not None and not _use_vulndb(Path(vulndb_path)):
        return Outcome(path, error=f"the vulnerability database {vulndb_path} is not readable on "
                                   f"{socket.gethostname()} (every worker must see it at that path)",
                       started=started)
    with tempfile.TemporaryDirectory(prefix=f"firmproof-batch-{os.getpid()}-", dir=workdir) as work:
        try:
            size = image.stat().st_size
            digest = sha256_file(image)
            config = ScanConfig(image=image, workdir=Path(work), limits=limits, vendor=info.vendor,
                                product=info.product, version=info.version, min_examined=min_examined)
            report, held = scan_with_inventory(config)
            return Outcome(path, digest, size, report.to_json(), tuple(report.components), held,
                           started=started, seconds=time.monotonic() - clock)
        except (ImageError, UnpackFailed) as exc:
            error = str(exc)
        except Exception as exc:            # a bug of firmproof's on this image: its row says so
            log.debug("scan of %s failed", path, exc_info=True)
            where = traceback.extract_tb(exc.__traceback__)[-1]
            error = f"{type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno})"
    return Outcome(path, digest, size, error=error, started=started, seconds=time.monotonic() - clock)


def _use_vulndb(path: Path) -> bool:
    """Scan with the database at `path` from now on, where it is readable here."""
    from firmproof.device.components import vulndb

    if not vulndb.available(path):
        return False
    if vulndb.default_path() != path:
        vulndb.configure(path)
    return True


def _quiet() -> None:
    """unblob's structured log says nothing in a worker: the batch reports per image."""
    import structlog

    if not logging.getLogger().isEnabledFor(logging.DEBUG):
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))


def _worker(conn: Connection, workdir: str, verbose: bool) -> None:
    """A pool worker: scans the images it is sent, one at a time, until it is sent None."""
    from firmproof.host.children import child_setup

    child_setup()                           # dies with the batch; ^C is the batch's to handle
    # spawn set this process's start method; unblob sets it again (to fork) when imported,
    # which multiprocessing refuses once one is set: unset, as in a process that was not spawned
    multiprocessing.set_start_method(None, force=True)  # type: ignore[arg-type]
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    while True:
        try:
            task = conn.recv()
        except (EOFError, OSError):
            return
        if task is None:
            return
        number, (path, info, limits, share, *vulndb_path) = task
        conn.send(("started", number, os.getpid()))
        conn.send(("done", number, scan_one(path, info, limits, share, workdir=workdir,
                                            vulndb_path=vulndb_path[0] if vulndb_path else None)))


# a Dask worker's threads each keep one spawned process that scans for them (scan_apart)
_APART: dict[int, tuple[multiprocessing.process.BaseProcess, Connection]] = {}


def scan_apart(path: str, info: ImageInfo, limits: Limits, min_examined: float,
               vulndb_path: str | None = None) -> Outcome:
    """`scan_one` in a spawned process of this thread's, kept for its next image.

    A Dask worker is multi-threaded, and a scan forks (its extraction and analysis children):
    a child forked from a multi-threaded process holds every lock another thread held at that
    moment, and may wait on it for ever. The spawned process has one thread; it forks safely."""
    key = threading.get_ident()
    held = _APART.get(key)
    if held is None or not held[0].is_alive():
        context = multiprocessing.get_context("spawn")
        parent, child = context.Pipe()
        spawned = context.Process(target=_worker, args=(child, tempfile.gettempdir(), False),
                                  name="firmproof-scan", daemon=False)
        spawned.start()
        child.close()
        held = _APART[key] = (spawned, parent)
    process, conn = held
    try:
        conn.send((0, (path, info, limits, min_examined, vulndb_path)))
        while True:
            message = conn.recv()
            if message[0] == "done":
                return message[2]
    except (EOFError, OSError):
        _APART.pop(key, None)
        process.join(timeout=30)
        for left in Path(tempfile.gettempdir()).glob(f"firmproof-batch-{process.pid}-*"):
            shutil.rmtree(left, ignore_errors=True)        # its work folder, had it no time to remove it
        return Outcome(path, error=f"the scanning process died (exit code {process.exitcode})")


def end_apart(thread: int | None = None, *, kill: bool = False) -> None:
    """End the scanning process `scan_apart` keeps for `thread` (default: the calling one):
    asked to end when it is idle, or killed (`kill`, from another thread: the `scan_apart`
    waiting on it returns its death as the image's error, and removes its work folder)."""
    key = threading.get_ident() if thread is None else thread
    held = _APART.get(key)
    if held is None:
        return
    process, conn = held
    if kill:
        if process.is_alive():
            process.kill()                              # its scan's children die with it (PDEATHSIG)
        return
    _APART.pop(key, None)
    try:
        conn.send(None)
    except OSError:
        pass
    process.join(timeout=30)
    if process.is_alive():
        process.kill()
        process.join(timeout=30)
    conn.close()


# ---------------------------------------------------------------- the batch, in one writer


@dataclass
class _Slot:
    """A pool worker process and the image it holds."""

    process: multiprocessing.process.BaseProcess
    conn: Connection
    folder: Path
    number: int | None = None
    since: float = 0.0


class _Pool:
    """`jobs` spawned workers fed one image at a time: a worker that dies or outlives the guard
    is replaced and its image reported as an error; the rest go on."""

    def __init__(self, jobs: int, root: Path, verbose: bool) -> None:
        self.context = multiprocessing.get_context("spawn")
        self.root, self.verbose = root, verbose
        self.slots = [self._start(n) for n in range(jobs)]

    def _start(self, n: int) -> _Slot:
        folder = Path(tempfile.mkdtemp(prefix=f"w{n}-", dir=self.root))
        parent, child = self.context.Pipe()
        # not daemonic: a scan forks children of its own
        process = self.context.Process(target=_worker, args=(child, str(folder), self.verbose),
                                       name=f"firmproof-batch-{n}", daemon=False)
        process.start()
        child.close()
        return _Slot(process, parent, folder)

    def _replace(self, slot: _Slot) -> None:
        self._kill(slot)
        n = self.slots.index(slot)
        self.slots[n] = self._start(n)

    @staticmethod
    def _kill(slot: _Slot) -> None:
        if slot.process.is_alive():
            slot.process.kill()                 # its scan's children die with it (PDEATHSIG)
        slot.process.join(timeout=30)
        slot.conn.close()
        shutil.rmtree(slot.folder, ignore_errors=True)

    def close(self) -> None:
        for slot in self.slots:
            if slot.number is None and slot.process.is_alive():
                try:
                    slot.conn.send(None)
                except OSError:
                    pass
        deadline = time.monotonic() + 10
        for slot in self.slots:
            if slot.number is None:
                slot.process.join(timeout=max(0.1, deadline - time.monotonic()))
            self._kill(slot)

    def run(self, tasks: list[tuple[int, tuple[Any, ...]]], guard: float,
            events: Events, paths: list[str]) -> Iterator[Outcome]:
        waiting = list(reversed(tasks))
        while waiting or any(s.number is not None for s in self.slots):
            for slot in self.slots:
                if slot.number is None and waiting:
                    number, args = waiting.pop()
                    slot.number, slot.since = number, time.monotonic()
                    try:
                        slot.conn.send((number, args))
                    except OSError:                 # died idle: a new one takes the image
                        self._replace(slot)
                        waiting.append((number, args))
            busy = [s for s in self.slots if s.number is not None]
            ready = wait([s.conn for s in busy] + [s.process.sentinel for s in busy], timeout=1.0)
            now = time.monotonic()
            for slot in busy:
                number = slot.number
                assert number is not None
                message = None
                if slot.conn in ready or slot.process.sentinel in ready:
                    try:
                        while slot.conn.poll(0):
                            message = slot.conn.recv()
                            if message[0] == "started":
                                events.started(paths[number], message[2])
                                message = None
                            else:
                                break
                    except (EOFError, OSError):
                        message = None
                if message is not None:
                    slot.number = None
                    yield message[2]
                elif not slot.process.is_alive():
                    code = slot.process.exitcode or 0
                    how = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit code {code}"
                    self._replace(slot)
                    yield Outcome(paths[number], error=f"the worker scanning it died ({how})")
                elif now - slot.since > guard:
                    self._replace(slot)
                    yield Outcome(paths[number], error=f"still scanning after {guard:g} s (per-image "
                                                       "wall-clock guard): stopped")


def store_outcome(store: Store, outcome: Outcome, info: ImageInfo, name: str, sha256: str, size: int,
                  rules: str) -> tuple[int, Outcome]:
    """Add what a worker handed back for one image to the store, the one writer's way: its
    report with its components and inventory, or, where there is none or the store refuses it,
    its error (`name`, `sha256` and `size` where the outcome has none). The scan's id, and the
    outcome as stored (a refused report becomes its error). Raises StoreError when not even the
    error can be written."""
    report = outcome.report
    if report is not None:
        try:
            return add_report(store, report, info, outcome.components, started=outcome.started,
                              rules=rules, inventory=outcome.inventory), outcome
        except SQLAlchemyError as exc:           # this report refused: its image's row says why
            why = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
            outcome = replace(outcome, report=None, error=f"the store refused its report: {why}")
    try:
        scan_id = add_error(store, sha256=outcome.sha256 or sha256, name=info.name or name,
                            size=outcome.size or size, error=outcome.error or "failed",
                            tool_version=__version__, image=info, started=outcome.started,
                            seconds=outcome.seconds, rules=rules)
    except SQLAlchemyError as exc:
        why = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
        raise StoreError(f"{store.url}: cannot write: {why}") from None
    return scan_id, outcome


def _hash(path: Path) -> tuple[str, int]:
    from firmproof.scan import sha256_file

    return sha256_file(path), path.stat().st_size


def run_batch(items: Iterable[Item], store: Store, options: BatchOptions,
              events: Events | None = None, *, verbose: bool = False) -> BatchResult:
    """Scan `items` into `store` (see the module's doc); what happened, counted."""
    events = events or Silent()
    clock = time.monotonic()
    client = _connect(options.scheduler) if options.scheduler else None
    try:
        return _run(items, store, options, events, client, clock, verbose)
    finally:
        if client is not None:
            client.close()


def _run(items: Iterable[Item], store: Store, options: BatchOptions, events: Events, client: Any,
         clock: float, verbose: bool) -> BatchResult:
    items = list(items)
    result = BatchResult(total=len(items))
    rules = rules_version()
    todo: list[tuple[Item, str, int]] = []           # (item, sha256, size)
    hashes: list[tuple[Item, str, int]] = []
    for item in items:
        why = _readable(item.path)
        if why is None:
            try:
                digest, size = _hash(item.path)
                hashes.append((item, digest, size))
                continue
            except OSError as exc:
                why = f"cannot read: {exc.strerror or exc}"
        result.failed.append((str(item.path), why))
        result.unreadable += 1
        events.unreadable(str(item.path), why)
    known = stored_scans(store, {h for _, h, _ in hashes}, __version__, rules)
    seen: set[str] = set()
    for item, digest, size in hashes:
        status = known.get(digest)
        if digest in seen or status == "ok" or (status == "error" and not options.retry_errors):
            result.skipped += 1
            result.stored_errors += status == "error" and digest not in seen
            continue
        seen.add(digest)                             # the same bytes twice in a batch: one scan
        todo.append((item, digest, size))
    events.planned(len(todo), result.skipped)
    planned = {str(item.path): (item, digest, size) for item, digest, size in todo}

    def record(outcome: Outcome) -> None:
        item, digest, size = planned[outcome.path]
        _, outcome = store_outcome(store, outcome, item.info, item.path.name, digest, size, rules)
        if outcome.report is not None:
            found = len(outcome.report["findings"])
            result.scanned += 1
            result.findings += found
            events.finished(outcome, found)
        else:
            result.failed.append((outcome.path, outcome.error or "failed"))
            events.finished(outcome, 0)

    if todo:
        try:
            root = Path(tempfile.mkdtemp(prefix="firmproof-batch-", dir=options.workdir))
        except OSError as exc:
            raise BatchError(f"cannot make a work folder in {options.workdir or tempfile.gettempdir()}: "
                             f"{exc.strerror or exc}") from None
        try:
            vulndb_path = str(options.vulndb) if options.vulndb is not None else None
            args = [(str(item.path), item.info, options.limits, options.min_examined, vulndb_path)
                    for item, _, _ in todo]
            if client is not None:
                for outcome in _dask(client, args):
                    record(outcome)
            else:
                pool = _Pool(max(1, min(options.jobs, len(todo))), root, verbose)
                try:
                    for outcome in pool.run(list(enumerate(args)), options.guard(), events,
                                            [a[0] for a in args]):
                        record(outcome)
                finally:
                    pool.close()
        finally:
            shutil.rmtree(root, ignore_errors=True)
    result.seconds = time.monotonic() - clock
    return result


def _connect(address: str) -> Any:
    from distributed import Client

    try:
        return Client(address, timeout=SCHEDULER_SECONDS)
    except (OSError, TimeoutError) as exc:
        raise BatchError(f"{address}: cannot reach the Dask scheduler ({exc})") from None


def _dask(client: Any, args: list[tuple[Any, ...]]) -> Iterator[Outcome]:
    """The same `scan_one` on a dask.distributed cluster (the workers read the same paths), in
    a spawned process of each worker thread's (`scan_apart`). A task whose worker died is run
    again elsewhere by the scheduler, up to its limit of tries; then its image is an error."""
    from distributed import as_completed

    batch = uuid.uuid4().hex[:12]
    futures = {client.submit(scan_apart, *a, pure=False, key=f"firmproof-scan-{batch}-{n}"): a[0]
               for n, a in enumerate(args)}
    for future in as_completed(futures):
        path = futures[future]
        try:
            yield future.result()
        except Exception as exc:
            yield Outcome(path, error=f"on the Dask cluster: {type(exc).__name__}: {exc}")
