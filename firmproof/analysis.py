"""Running the analyzers: every family on every view, the big views in forked workers.

Unpacking is mostly one process's work (our SquashFS reader aside), and a root file system
of thousands of files takes seconds to analyse. So, as soon as a layer is indexed, each
(view, analyzer) pair of a big view is handed to a forked worker, which inherits the index
without copying it, while the parent goes on unpacking the layers below. Small views (a
decompressed man page, a one-file partition) are analysed in the parent at once: a fork
costs more than they do. Findings come back pickled; order is restored by sorting, so the
report does not depend on which worker finished first.
"""

from __future__ import annotations

import contextlib
import logging
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection, wait
from typing import Any

from firmproof.analyzers.base import Analyzer
from firmproof.model import Finding, NoEvidence
from firmproof.rootfs import RootFS
from firmproof.rules import analyzers

log = logging.getLogger(__name__)

BIG_VIEW = 256          # entries from which a view is worth a worker of its own


def _label(view: RootFS) -> str:
    return "/".join(part.strip("/") for part in view.container[1:]) or view.label


def guarded(analyzer: Analyzer, view: RootFS, errors: list[dict[str, str]]) -> Iterator[Finding]:
    """The analyzer boundary: an exception becomes a report entry, never a traceback."""
    try:
        yield from analyzer.run(view)
    except NoEvidence as exc:
        log.debug("finding without evidence dropped: %s", exc)
    except Exception as exc:
        log.debug("analyzer %s failed on %s", analyzer.name, view.label, exc_info=True)
        errors.append({"analyzer": analyzer.name, "path": _label(view),
                       "error": f"{type(exc).__name__}: {exc}"})


def dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per rule and place, in a stable order."""
    unique: dict[tuple[Any, ...], Finding] = {}
    for finding in findings:
        key = (finding.rule.id, finding.container, finding.path, finding.evidence.offset,
               finding.evidence.length)
        unique.setdefault(key, finding)
    return sorted(unique.values(), key=Finding.sort_key)


def _worker(conn: Connection, analyzer: Analyzer, view: RootFS) -> None:
    errors: list[dict[str, str]] = []
    findings = list(guarded(analyzer, view, errors))
    conn.send((findings, errors))
    conn.close()


@dataclass
class _Task:
    analyzer: Analyzer
    view: RootFS
    process: Any = None
    conn: Connection | None = None


@dataclass
class Analysis:
    """Collects findings of every view handed to `add`; `finish` waits for the workers."""

    workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    family: tuple[Analyzer, ...] | None = None
    deadline: float | None = None
    findings: list[Finding] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    _pending: deque[_Task] = field(default_factory=deque)
    _running: list[_Task] = field(default_factory=list)

    def add(self, views: list[RootFS]) -> None:
        for view in views:
            for analyzer in self.family or analyzers():
                if analyzer.needs_root and not view.is_root:
                    continue
                if self.workers > 1 and len(view) >= BIG_VIEW:
                    self._pending.append(_Task(analyzer, view))
                else:
                    self.findings.extend(guarded(analyzer, view, self.errors))
        self._pump()

    def _pump(self) -> None:
        self._collect(block=False)
        ctx = multiprocessing.get_context("fork")
        while self._pending and len(self._running) < self.workers:
            task = self._pending.popleft()
            parent, child = ctx.Pipe(duplex=False)
            task.process = ctx.Process(target=_worker, args=(child, task.analyzer, task.view), daemon=True)
            task.process.start()
            child.close()
            task.conn = parent
            self._running.append(task)

    def _collect(self, *, block: bool) -> None:
        """Take in the workers that are done; with `block`, wait until at least one is."""
        while self._running:
            ready = [t for t in self._running if t.conn is not None and t.conn.poll(0)]
            ready += [t for t in self._running if t not in ready and not t.process.is_alive()]
            if ready:
                for task in ready:
                    self._running.remove(task)
                    self._receive(task)
                return
            if not block:
                return
            if self.deadline is not None and time.monotonic() > self.deadline:
                self._stop_all("time limit reached")
                return
            wait([t.conn for t in self._running if t.conn is not None],
                                            timeout=0.2)

    def _receive(self, task: _Task) -> None:
        assert task.conn is not None
        try:
            findings, errors = task.conn.recv() if task.conn.poll(0) else (None, None)
        except (EOFError, OSError):
            findings, errors = None, None
        task.conn.close()
        task.process.join()
        if findings is None:
            self.errors.append({"analyzer": task.analyzer.name, "path": _label(task.view),
                                "error": f"analyzer process died (exit code {task.process.exitcode})"})
            return
        self.findings.extend(findings)
        self.errors.extend(errors or [])

    def _stop_all(self, reason: str) -> None:
        for task in [*self._running, *self._pending]:
            if task.process is not None:
                with contextlib.suppress(ProcessLookupError):
                    task.process.kill()
                task.process.join()
            self.errors.append({"analyzer": task.analyzer.name, "path": _label(task.view),
                                "error": f"analysis stopped: {reason}"})
        self._running.clear()
        self._pending.clear()

    def finish(self) -> list[Finding]:
        while self._running or self._pending:
            self._pump()
            self._collect(block=True)
        self.errors.sort(key=lambda e: (e.get("analyzer", ""), e.get("path", ""), e.get("error", "")))
        return dedupe(self.findings)
