"""Extract one chunk in a child process, under the unpacking limits.

Every extraction runs in a forked child with its own process group, so that an
extractor that hangs, crashes or writes without end (a zip bomb) is stopped
without taking the scan down: the child's files may not grow past the byte
budget (RLIMIT_FSIZE for each file, a watchdog on the output tree for the sum),
and the whole group is killed when the time budget runs out.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import multiprocessing
import os
import re
import resource
import shutil
import signal
import tempfile
import time
import traceback
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmproof.config import Limits
from firmproof.fs.rootfs import SYMLINK, FileMeta
from firmproof.host.children import check, child_setup
from firmproof.unpack import formats

log = logging.getLogger(__name__)

POLL_SECONDS = 0.05
IDLE_AFTER = 0.2            # a child still busy after this long is worth the parent's wait work


@dataclass
class ChunkOutcome:
    meta: dict[str, FileMeta] | None = None
    errors: list[str] = field(default_factory=list)
    written: int = 0
    corrupt: bool = False      # the decoder failed (not a limit): the bytes are not what was assumed
    sandbox: str = ""          # the child's confinement: 'landlock' or 'none: why' ('' in process)


def tree_size(root: Path) -> int:
    """Bytes of the regular files below `root` (links not followed)."""
    total = 0
    stack = [root]
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as it:
                for entry in it:
                    try:
                        if entry.is_dir(follow_symlinks=False):
                            stack.append(Path(entry.path))
                        elif entry.is_file(follow_symlinks=False):
                            total += entry.stat(follow_symlinks=False).st_blocks * 512
                    except OSError:
                        continue
        except OSError:
            continue
    return total


def _free_bytes(path: Path) -> int:
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def confine(box: Path) -> str:
    """Let this process and every program it starts write below `box` only (Landlock): reads
    stay open (the programs, their libraries, the carved input). Temporary files go to
    `box/tmp`. Returns the sandbox in force: 'landlock', or 'none: why' where the kernel has
    no Landlock (then the RLIMITs, the watchdog and the path checks still hold)."""
    tmp = box / "tmp"
    os.environ["TMPDIR"] = str(tmp)
    tempfile.tempdir = None
    try:
        from unblob._rust.sandbox import AccessFS, SandboxError, restrict_access
    except ImportError as exc:
        return f"none: {exc}"
    try:
        restrict_access(AccessFS.read("/"), AccessFS.read_write(str(box)), AccessFS.read_write("/dev/null"))
    except (SandboxError, OSError) as exc:
        return f"none: {exc}"
    return "landlock"


def _child(conn: Any, chunk: Any, handler_name: str, carved: Path, outdir: Path,
           budget: int, memory: int) -> None:
    """Runs in the forked child: extract, read the file system's own metadata, report back."""
    os.setsid()
    child_setup()
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # an oversized write fails instead of killing
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_FSIZE, (budget, budget))
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    outcome = ChunkOutcome(sandbox=confine(outdir.parent))
    fmt = formats.of(handler_name)
    try:
        if fmt.reader is not None:
            result = fmt.reader.extract(carved, outdir, budget)
            outcome.meta = result.meta
            outcome.errors.extend(result.errors)
        elif fmt.refuse is not None and (why := fmt.refuse(carved)):
            outcome.errors.append(why)
        else:
            errors, refused = _unblob_extract(chunk, carved, outdir)
            if fmt.closed is not None and (why := fmt.closed(carved, outdir)):
                errors.append(why)
            from firmproof.unpack.metadata import read_metadata

            try:
                outcome.meta = read_metadata(handler_name, carved)
            except ValueError as exc:
                outcome.errors.append(f"metadata: {exc}")
            outcome.errors.extend(errors)
            outcome.errors.extend(_links_not_restored(refused, outcome.meta))
            from unblob.extractor import fix_extracted_directory
            from unblob.models import Task, TaskResult

            if outdir.exists():     # foreign extractors: unreadable modes, links out of the tree
                fix_extracted_directory(outdir, TaskResult(task=Task(path=carved, depth=0, blob_id="")))
    except MemoryError:
        outcome.errors.append(f"extraction stopped: memory limit of {memory:,} bytes reached")
    except Exception as exc:  # the boundary of a foreign extractor: becomes a report entry
        from firmproof.unpack.handlers.truncated import TruncatedContainer

        if isinstance(exc, OSError) and exc.errno == errno.ENOMEM:
            outcome.errors.append(f"extraction stopped: memory limit of {memory:,} bytes reached")
        elif isinstance(exc, OSError) and exc.errno == errno.EFBIG:
            outcome.errors.append(f"extraction stopped: byte limit of {budget:,} bytes reached "
                                  "while writing a file")
        else:
            text = str(exc) if isinstance(exc, TruncatedContainer) else failure(handler_name, exc)
            wrote = outdir.exists()
            if fmt.closed is not None and (why := fmt.closed(carved, outdir)):
                text = f"{why} ({text})"
            if wrote or not outdir.exists():    # not opened by `closed` after all
                outcome.errors.append(text)
        if outcome.meta is None and fmt.reader is None:
            # what the archive declares still names the files left short
            from firmproof.unpack.metadata import read_metadata

            with contextlib.suppress(Exception):
                outcome.meta = read_metadata(handler_name, carved)
    conn.send(outcome)
    conn.close()


def failure(handler_name: str, exc: BaseException) -> str:
    """A sentence for an extractor's exception: its type and message, or for one without a
    message (a bare assert) which extractor failed and where it was raised."""
    text = str(exc).strip()
    if text:
        return f"{type(exc).__name__}: {text}"[:300]
    where = ""
    frames = traceback.extract_tb(exc.__traceback__)
    if frames:
        last = frames[-1]
        parts = Path(last.filename).parts
        short = "/".join(parts[parts.index("site-packages") + 1:] if "site-packages" in parts else parts[-2:])
        where = f" at {short}:{last.lineno}"
    return f"the {handler_name} extractor failed: {type(exc).__name__}{where}, without a message"[:300]


# 7-Zip refuses to write a symlink whose target climbs out of the entry's folder ("../bin/busybox"):
# safe, and the file system's own metadata keeps the link, so such a refusal loses nothing
_REFUSED_LINK = re.compile(r"^ERROR: Dangerous link path was ignored : (.+) : (.+)$")


def _unblob_extract(chunk: Any, carved: Path, outdir: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """The extraction's errors, and the (path, target) of each symlink 7-Zip refused to write
    when that was all it complained about."""
    from unblob.file_utils import File
    from unblob.models import ExtractError
    from unblob.report import ErrorReport

    reports: list[Any] = []
    try:
        # handlers ask `chunk.is_whole_file` (the ELF handler does): against the carved bytes,
        # a chunk that was the whole of its file is whole, any other is not
        with File.from_path(carved) as file:
            chunk.file = file
            result = chunk.extract(carved, outdir)
        if result is not None:
            reports.extend(result.reports)
    except ExtractError as exc:
        reports.extend(exc.reports)
    errors, refused = [], []
    for report in reports:
        if not isinstance(report, ErrorReport):
            continue
        links = _refused_links(report)
        if links:
            refused.extend(links)
        else:       # the extractor's words name the file it read by its name, not its host path
            errors.append(_describe(report).replace(str(carved), carved.name))
    return errors, refused


def _refused_links(report: Any) -> list[tuple[str, str]]:
    """(path, target) of the links a 7z run refused, if refusing them was its only error."""
    command = str(getattr(report, "command", "") or "")
    if not command or Path(command.split()[0]).name != "7z":
        return []
    stderr = bytes(getattr(report, "stderr", b"") or b"").decode("utf-8", "replace")
    lines = [line.strip() for line in stderr.splitlines() if line.strip().startswith("ERROR")]
    found = [(m.group(1), m.group(2)) for line in lines if (m := _REFUSED_LINK.match(line))]
    return found if found and len(found) == len(lines) else []


def _links_not_restored(refused: list[tuple[str, str]], meta: dict[str, FileMeta] | None) -> list[str]:
    """An error for each refused link the file system's metadata does not hold as that link
    (the index restores those it does hold, so nothing of the image is lost)."""
    errors = []
    for path, target in refused:
        entry = (meta or {}).get(path.strip("/"))
        if entry is None or entry.kind != SYMLINK or entry.link != target:
            errors.append(f"7z refused the link {path} -> {target} and the file system's "
                          "metadata does not restore it")
    return errors


def _describe(report: Any) -> str:
    name = type(report).__name__
    if hasattr(report, "command"):
        stderr = bytes(getattr(report, "stderr", b"") or b"").decode("utf-8", "replace").strip()
        last = stderr.splitlines()[-1] if stderr else ""
        code = getattr(report, "exit_code", None)
        if code == -signal.SIGXFSZ:
            return f"{report.command.split()[0]} stopped: byte limit reached while writing a file"
        return f"{report.command.split()[0]} exited {code}: {last}"[:300]
    if hasattr(report, "dependencies"):
        return f"missing extractor {', '.join(report.dependencies)}"
    if hasattr(report, "exception"):
        return f"{name}: {report.exception}"[:300]
    return name


def _outcome(conn: Any) -> ChunkOutcome | None:
    """The child's outcome from a pipe that is ready; None when it closed without one."""
    try:
        outcome: ChunkOutcome = conn.recv()
    except EOFError:
        return None
    return outcome


class Idle:
    """What unpacking yields while an extraction child works: the caller may use the wait."""


IDLE = Idle()


def finish(extraction: Generator[Idle, None, ChunkOutcome]) -> ChunkOutcome:
    """The outcome of `extraction` (an extract_chunk), for a caller with nothing to do meanwhile."""
    while True:
        try:
            next(extraction)
        except StopIteration as done:
            return done.value


def extract_chunk(chunk: Any, handler_name: str, carved: Path, outdir: Path, *,
                  byte_budget: int, deadline: float,
                  memory: int = Limits().max_memory) -> Generator[Idle, None, ChunkOutcome]:
    """Extract `carved` (the chunk's bytes) into `outdir` in a child process under limits
    (`outcome = yield from extract_chunk(...)`).

    The child may write below `outdir`'s parent only (its box: `outdir` and `tmp`), which
    must be this extraction's own. It yields IDLE once if the child is still extracting after
    IDLE_AFTER seconds (work waiting for a core; short extractions are not held up by it)."""
    box = outdir.parent
    (box / "tmp").mkdir(parents=True, exist_ok=True)
    ctx = multiprocessing.get_context("fork")
    parent_conn, child_conn = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(child_conn, chunk, handler_name, carved, outdir,
                                               max(byte_budget, 1), memory))
    free_before = _free_bytes(carved.parent)
    process.start()
    child_conn.close()
    try:
        return (yield from _wait(process, parent_conn, carved, outdir, byte_budget, deadline, free_before))
    except BaseException:
        # stopped (a signal) or failed while the child works: its whole group goes with it
        _kill_group(process)
        raise
    finally:
        shutil.rmtree(box / "tmp", ignore_errors=True)


def _kill_group(process: Any) -> None:
    if process.pid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    process.join(timeout=10)


def _wait(process: Any, parent_conn: Any, carved: Path, outdir: Path, byte_budget: int, deadline: float,
          free_before: int) -> Generator[Idle, None, ChunkOutcome]:
    outcome: ChunkOutcome | None = None
    breach = ""
    started = time.monotonic()
    idle = True
    while True:
        check()
        if idle and time.monotonic() - started > IDLE_AFTER:
            idle = False
            yield IDLE          # the child is in for a while: the caller may use the wait
        if parent_conn.poll(POLL_SECONDS):
            outcome = _outcome(parent_conn)
            break
        if not process.is_alive():
            # it may have sent its outcome and exited since the poll above: what a child
            # wrote before it exited is in the pipe, so this read cannot miss it
            outcome = _outcome(parent_conn) if parent_conn.poll(0) else None
            break
        if time.monotonic() > deadline:
            breach = "time limit reached"
            break
        if free_before - _free_bytes(carved.parent) > byte_budget and (
                tree_size(outdir.parent) > byte_budget):
            breach = f"byte limit reached ({byte_budget} bytes extracted)"
            break
    if breach:
        _kill_group(process)
    process.join(timeout=10)
    _kill_group(process)        # what the child left running in its group (an extractor) goes too
    if process.is_alive():
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        process.join()
    parent_conn.close()
    if outcome is None:
        outcome = ChunkOutcome()
        if breach:
            outcome.errors.append(f"extraction stopped: {breach}")
        else:
            outcome.errors.append(f"extractor crashed (exit code {process.exitcode})")
    outcome.written = tree_size(outdir) if outdir.exists() else 0
    return outcome
