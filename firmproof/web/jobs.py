"""Upload jobs as the data folder keeps them, so that they outlive the server that took them.

One small JSON file per job, `<data dir>/uploads/<id>.json`, written whenever the job changes
state: whole, to a temporary file in the same folder (`.job-<random>`), flushed to disk, then
renamed over the last one, so that a reader or a crash finds the old state or the new, never
part of one. A server started again reads them back (`load`): a job found queued or scanning
is queued again (a scan cut short by the stop stored nothing), in the order the jobs were
made; a done or failed one stays as it was, so that `/uploads/<id>` still answers with it.

A done or failed job is kept for a retention period (`serve --keep-jobs DAYS`, RETENTION by
default) after it finished, then forgotten (`expired`, `remove`): its file is removed and its
`/uploads/<id>` answers 404. A queued or scanning job is never removed, nor any file of the folder
that is not a job's own (`<id>.json`, a regular file holding that job). What the job led to
stays: its scan (or error scan) in the store, and the kept image `images/<sha256>`, which is
the image's, not the job's (the string search reads it; another upload of the same bytes is
the same file).

Files next to the images rather than a table of the store: a job is the server's, as the kept
image it scans is, and lives in the data folder with it; the store may be a PostgreSQL server
that batches and other servers share (where a job of one server's data folder means nothing),
and its schema changes by migrations, too heavy for a queue's bookkeeping. One data folder is
for one server at a time.
"""

from __future__ import annotations

import json
import logging
import os
import re
import tempfile
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal, get_args

from firmproof.store import ImageInfo

log = logging.getLogger(__name__)

State = Literal["queued", "scanning", "done", "failed"]
ENDED: tuple[State, ...] = ("done", "failed")
RETENTION = timedelta(days=30)           # how long an ended job is kept, by default
FORMAT = 1                               # of a job's file
JOB_ID = re.compile(r"[0-9a-f]{16}")
_SHA256 = re.compile(r"[0-9a-f]{64}")
TEMP_PREFIX = ".job-"


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
    began: float | None = None           # monotonic, when its scan began (not kept)
    seconds: float | None = None         # how long it took, once done or failed
    scan_id: int | None = None
    error: str | None = None
    overdue: bool = False
    finished: datetime | None = None     # when it ended (done or failed)


def record(job: Job) -> dict[str, Any]:
    """What the job's file holds: the job, but for where its image is (`images/<sha256>`) and
    when its scan began (a moment of this process's clock)."""
    info = job.info
    return {"format": FORMAT, "id": job.id, "name": job.name, "sha256": job.sha256, "size": job.size,
            "vendor": info.vendor, "product": info.product, "version": info.version,
            "release_date": info.release_date.isoformat() if info.release_date else None,
            "who": job.who, "created": job.created.isoformat(), "state": job.state,
            "seconds": job.seconds, "scan_id": job.scan_id, "error": job.error,
            "finished": job.finished.isoformat() if job.finished else None}


def save(folder: Path, job: Job) -> None:
    """Write the job's file in `folder` in one step (see the module's doc). OSError when the
    folder cannot be written."""
    folder.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=folder)
    temp = Path(name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            json.dump(record(job), out, indent=1)
            out.write("\n")
            out.flush()
            os.fsync(out.fileno())
        temp.replace(folder / f"{job.id}.json")
    except BaseException:
        temp.unlink(missing_ok=True)
        raise


def _job(data: dict[str, Any], images: Path) -> Job:
    """The job a file's `data` holds (KeyError, TypeError, ValueError when it holds none)."""
    if data["format"] != FORMAT or not JOB_ID.fullmatch(data["id"]) or not _SHA256.fullmatch(data["sha256"]):
        raise ValueError("not a job of this firmproof's")
    if data["state"] not in get_args(State):
        raise ValueError(f"state {data['state']!r}")
    released = data["release_date"]
    finished = data.get("finished")      # (not in the files written before it was kept)
    info = ImageInfo(vendor=data["vendor"], product=data["product"], version=data["version"],
                     release_date=date.fromisoformat(released) if released else None, name=data["name"])
    return Job(data["id"], str(data["name"]), data["sha256"], int(data["size"]), images / data["sha256"],
               info, str(data["who"]), _aware(datetime.fromisoformat(data["created"])), data["state"],
               seconds=data["seconds"], scan_id=data["scan_id"], error=data["error"],
               finished=_aware(datetime.fromisoformat(finished)) if finished else None)


def _aware(moment: datetime) -> datetime:
    """`moment` in UTC where it names no zone (the jobs' files have it: this is for a hand-made one)."""
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def load(folder: Path, images: Path) -> list[Job]:
    """The jobs kept in `folder`, oldest first, their images in `images`: a queued or
    scanning one queued again, or failed where its image is gone from the folder; a file that
    holds no job is left alone, and said so in the log. Temporary files a crash left are removed.
    An ended job whose file does not say when it ended (written before it did) ended when its
    file was last written."""
    jobs = []
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else ():
        try:
            if path.is_symlink():
                raise ValueError("a symbolic link, not a job's file")
            job = _job(json.loads(path.read_text(encoding="utf-8")), images)
            if path.stem != job.id:
                raise ValueError(f"the file of job {job.id}")
            if job.state in ENDED and job.finished is None:
                job.finished = datetime.fromtimestamp(path.stat().st_mtime, UTC)
        except (OSError, UnicodeDecodeError, KeyError, TypeError, ValueError) as exc:
            log.warning("uploads: %s: not read, left as it is (%s)", path.name, exc)
            continue
        if job.state in ("queued", "scanning"):
            job.state = "queued"
            if not job.path.is_file():
                job.state, job.error = "failed", "its kept image is no longer in the data folder"
                job.finished = datetime.now(UTC)
            with suppress(OSError):
                save(folder, job)
        jobs.append(job)
    for left in folder.glob(f"{TEMP_PREFIX}*") if folder.is_dir() else ():
        with suppress(OSError):
            left.unlink()
    return sorted(jobs, key=lambda j: j.created)


def expired(job: Job, now: datetime, retention: timedelta = RETENTION) -> bool:
    """`job` ended (done or failed) more than `retention` before `now`: it may be forgotten. A
    queued or scanning job never is."""
    return job.state in ENDED and job.finished is not None and job.finished < now - retention


def remove(folder: Path, job: Job) -> bool:
    """Remove the file of `job` from `folder`: `<id>.json`, where it is a regular file (not a
    link) that still holds this job; anything else there is left as it is. Whether the job's file
    is gone (True also where it already was). OSError where it cannot be removed."""
    if not JOB_ID.fullmatch(job.id):
        return False
    path = folder / f"{job.id}.json"
    try:
        if path.is_symlink() or not path.is_file():
            return not path.exists() and not path.is_symlink()
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return True
    except (UnicodeDecodeError, ValueError):
        return False                       # no longer a job's file: not ours to remove
    if not isinstance(data, dict) or data.get("id") != job.id or data.get("state") not in ENDED:
        return False
    path.unlink(missing_ok=True)
    return True
