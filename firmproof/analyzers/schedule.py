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
import posixpath
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from multiprocessing.connection import Connection, wait
from typing import Any

from firmproof.analyzers.base import Analyzer
from firmproof.analyzers.registry import analyzers
from firmproof.device.bootchain import WELL_KNOWN_MOUNTS, copies, mount_points, referenced_paths, walk
from firmproof.device.components import COMPONENTS, Component, identify_cached
from firmproof.device.packed import PACKER, Key, Unpacked, packed_entry, unpacked_programs
from firmproof.device.parsers.passwd import kind_of_name
from firmproof.fs import examined
from firmproof.fs.rootfs import DIR, SYMLINK, FileEntry, RootFS, normalize
from firmproof.host.children import check, child_setup
from firmproof.model import AnalyzerError, Category, Finding, NoEvidence
from firmproof.unpack.driver import chain_label

log = logging.getLogger(__name__)

BIG_VIEW = 256          # entries from which a view is worth a worker of its own
SMALL_QUEUE = 64        # small views kept for a moment when this process would idle
PART_FILES = 32         # files per part of a split group (analyzers with `visits`): each
                        # analyzer of the group reads the part's files while the shared
                        # caches (the ELF models: 64 entries) still hold them


ACCOUNT_FOLDERS = ("/etc", "/etc/config", "/var/etc", "/tmp/etc")  # noqa: S108 - image paths


def _label(view: RootFS) -> str:
    return chain_label(view.container) or view.label


def guarded(analyzer: Analyzer, view: RootFS, errors: list[AnalyzerError]) -> Iterator[Finding]:
    """The analyzer boundary: an exception becomes a report entry, never a traceback."""
    try:
        yield from analyzer.run(view)
    except NoEvidence as exc:
        log.debug("finding without evidence dropped: %s", exc)
    except Exception as exc:
        log.debug("analyzer %s failed on %s", analyzer.name, view.label, exc_info=True)
        errors.append(AnalyzerError(analyzer.name, _label(view), f"{type(exc).__name__}: {exc}"))


# categories about a whole file rather than one way in: never merged with another finding
_WHOLE_FILE = frozenset({Category.HARDENING, Category.VULNERABLE_COMPONENT})


def dedupe(findings: list[Finding]) -> list[Finding]:
    """One finding per place and cause, in a stable order: the same rule at the same bytes
    once; and where two rules point at the same bytes of a file (one evidence inside the
    other: a known-backdoor signature within the line a credential rule quotes), the one that
    says most (highest severity, then a known backdoor, then the wider evidence) stays and
    names the others in `details.also`."""
    unique: dict[tuple[Any, ...], Finding] = {}
    for finding in findings:
        key = (finding.rule.id, finding.container, finding.path, finding.evidence.offset,
               finding.evidence.length)
        unique.setdefault(key, finding)
    by_file: dict[tuple[Any, ...], list[Finding]] = {}
    kept: list[Finding] = []
    for finding in unique.values():
        if finding.category in _WHOLE_FILE:
            kept.append(finding)
        else:
            by_file.setdefault((finding.container, finding.path), []).append(finding)
    for group in by_file.values():
        kept.extend(_merge_overlapping(group))
    return sorted(kept, key=Finding.sort_key)


def _contains(outer: Finding, inner: Finding) -> bool:
    a, b = outer.evidence, inner.evidence
    return a.offset <= b.offset and b.offset + b.length <= a.offset + a.length


def _merge_overlapping(group: list[Finding]) -> list[Finding]:
    if len(group) == 1:
        return group
    order = sorted(group, key=lambda f: (f.severity.rank, f.category is Category.KNOWN_BACKDOOR,
                                         f.evidence.length, f.rule.id), reverse=True)
    out: list[Finding] = []
    absorbed: dict[int, list[Finding]] = {}
    for finding in order:
        home = next((i for i, k in enumerate(out)
                     if k.rule.id != finding.rule.id and (_contains(k, finding) or _contains(finding, k))),
                    None)
        if home is None:
            out.append(finding)
        else:
            absorbed.setdefault(home, []).append(finding)
    for i, others in absorbed.items():
        details = dict(out[i].details)
        for other in others:        # what the others knew (a user and password) and the kept did not
            for key, value in other.details.items():
                details.setdefault(key, value)
        details["also"] = sorted({o.rule.id for o in others} | set(out[i].details.get("also", ())))
        out[i] = replace(out[i], details=details)
    return out


# -- one device, several file systems ------------------------------------------------------------


def nested(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    """One container inside the other (or the same): a layer unpacked from a file of the other."""
    return a[:len(b)] == b or b[:len(a)] == a


def beside(view: RootFS, roots: list[RootFS]) -> bool:
    """A file system (not a root) laid beside a root of the image, not inside it: a partition
    of the same flash image, that the root may mount."""
    return not view.is_root and any(not nested(view.container, r.container) for r in roots)


def _mount_of(root: RootFS, part: RootFS, candidates: list[str], refs: list[str],
              typed: list[tuple[str, str | None]]) -> str | None:
    """Where `root` mounts `part`: the candidate mount point under which most of the paths the
    boot chain names exist in `part` (and not in the root), else the one mount line or fstab
    entry of `part`'s file system type."""
    best, score = None, 0
    for point in candidates:
        count = sum(1 for ref in refs if ref.startswith(point + "/")
                    and part.exists(ref[len(point):]) and not root.exists(ref))
        if count > score:
            best, score = point, count
    if best is not None:
        return best
    family = (part.container[-1] if part.container else "").split("@")[0]
    same = [p for p, fstype in typed if fstype and family and family.startswith(fstype.split(",")[0])]
    return same[0] if len(same) == 1 else None


def device(root: RootFS, partitions: list[RootFS],
           unpacked: dict[Key, Unpacked] | None = None) -> tuple[RootFS, list[str]] | None:
    """`root` with the file systems beside it that it mounts laid at their mount points (from
    its `mount` lines and /etc/fstab, the well-known ones, the paths its boot chain names), its
    UPX-packed programs (and those of the file systems it mounts) replaced by the programs
    `upx -d` gave back (`unpacked`: what runs at boot is the unpacked program) and the account
    databases boot copies into /etc made there; and the paths of those copies. None when the
    root mounts none of them and has no unpacked program."""
    candidates = [p for p in partitions if not nested(p.container, root.container)]
    mounts = _mounts(root, candidates) if candidates else []
    programs = _programs(root, mounts, unpacked or {})
    if not mounts and not programs:
        return None
    mounted = root.device(mounts, programs=programs)
    linked = _account_links(mounted)
    wanted = []
    for source, dest in copied(mounted, walk(mounted)):
        folder, name = dest.rsplit("/", 1)
        folder = mounted.resolve(folder or "/") or folder
        entry = mounted.stat(folder)
        if (folder in ACCOUNT_FOLDERS or (entry is not None and entry.kind == DIR
                and folder.endswith("/etc"))) and kind_of_name(name) is not None:
            wanted.append((source, f"{folder}/{name}"))
        elif f"{folder}/{name}" in linked:      # /etc/shadow -> /tmp/shadow, filled at boot
            wanted.append((source, linked[f"{folder}/{name}"]))
    if not wanted:
        return mounted, []
    return root.device(mounts, wanted, programs), [dest for _, dest in wanted]


def _programs(root: RootFS, mounts: list[tuple[str, RootFS]],
              unpacked: dict[Key, Unpacked]) -> list[tuple[str, RootFS, FileEntry]]:
    """(path on the device, view, entry) of each program unpacked from a packed file of `root`
    or of a file system it mounts; the entry's `detail` names the packed file."""
    out = []
    for point, fs in [("", root), *mounts]:
        for (container, report_path), program in sorted(unpacked.items(), key=lambda kv: kv[0]):
            packed = packed_entry(fs, report_path) if container == fs.container else None
            if packed is None:
                continue
            detail = {**program.entry.detail, "packed": PACKER, "packed_sha256": fs.sha256(packed.path)}
            out.append((point + packed.path, program.view, replace(program.entry, detail=detail)))
    return out


def _mounts(root: RootFS, candidates: list[RootFS]) -> list[tuple[str, RootFS]]:
    """Where `root` mounts each of the file systems `candidates` it mounts."""
    chain = walk(root)
    refs = referenced_paths(chain)
    typed = mount_points(root, chain)
    points: dict[str, None] = dict.fromkeys(p for p, _ in typed)
    points.update(dict.fromkeys(WELL_KNOWN_MOUNTS))
    for ref in refs:
        folder = ref.rsplit("/", 1)[0]
        while folder:
            points.setdefault(folder, None)
            folder = folder.rsplit("/", 1)[0]
    mounts: list[tuple[str, RootFS]] = []
    for part in sorted(candidates, key=lambda v: v.container):
        free = [p for p in points if all(p != m for m, _ in mounts)]
        point = _mount_of(root, part, free, refs, [t for t in typed if t[0] in free])
        if point is not None:
            mounts.append((point, part))
    return mounts


MAX_COPIED = 5000      # files one boot chain's copies may make on the device


def copied(fs: RootFS, chain: Any) -> Iterator[tuple[str, str]]:
    """(source file, destination) of each file the boot chain's copies make on `fs`: globs
    expanded on the file system, folders copied with `cp -r` walked, a destination that is a
    folder on the file system gone into, as `cp` does."""
    made = 0
    for source, dest, into in copies(chain):
        name = posixpath.basename(source)
        matches = [e.path for e in fs.glob(source)] if any(c in name for c in "*?[") else [source]
        for match in matches:
            entry = fs.stat(match)
            if entry is None:
                continue
            target = dest
            where = fs.stat(dest)
            if into or (where is not None and where.kind == DIR):
                target = posixpath.join(dest, posixpath.basename(match))
            if entry.kind != DIR:
                made += 1
                yield match, target
                continue
            top = fs.resolve(match) or match
            for file in fs.files():
                if file.path.startswith(top + "/"):
                    made += 1
                    yield file.path, target + file.path[len(top):]
                    if made >= MAX_COPIED:
                        return
            if made >= MAX_COPIED:
                return


def _account_links(fs: RootFS) -> dict[str, str]:
    """Where an account database's link of the account folders points (a file made at boot,
    absent from the image: /etc/shadow -> /tmp/shadow) -> the link's path."""
    out: dict[str, str] = {}
    for folder in ACCOUNT_FOLDERS:
        for name in fs.listdir(folder) if fs.stat(folder) is not None else []:
            path = posixpath.join(folder, name)
            entry = fs.entry(path)
            if entry is None or entry.kind != SYMLINK or not entry.link or kind_of_name(name) is None:
                continue
            target = normalize(posixpath.join(folder, entry.link))
            if fs.stat(target) is None:
                out[target] = path
    return out


def relocated(view: RootFS, findings: list[Finding]) -> list[Finding]:
    """Findings of a device view moved to the file system whose bytes they point at."""
    out = []
    for finding in findings:
        container, path = view.relocate(finding.path) if finding.container == view.container \
            else (finding.container, finding.path)
        out.append(finding if path == finding.path else replace(finding, container=container, path=path))
    return out


def warm(family: tuple[Analyzer, ...]) -> None:
    """The one-time set-up of the analyzers (compiled rule packs, loaded tables), done before
    the workers fork so that each inherits it."""
    from firmproof.device.components.binaries import markers

    for analyzer in family:
        analyzer.prepare()
    markers()


def _visits(group: tuple[Analyzer, ...]) -> tuple[str, ...]:
    """The file types a group reads one file at a time, when all its analyzers do (then its
    work can be split by file); () otherwise."""
    if not group or not all(a.visits for a in group):
        return ()
    return tuple(sorted({t for a in group for t in a.visits}))


def shard(view: RootFS, ftypes: tuple[str, ...], index: int, count: int) -> list[str]:
    """Paths of the files of shard `index` of `count`: the biggest first to the least
    loaded shard, so that every worker has about as many bytes to read."""
    loads = [0] * count
    mine = []
    for entry in sorted(view.files(*ftypes), key=lambda e: (-e.size, e.path)):
        least = loads.index(min(loads))
        loads[least] += entry.size + 4096      # a small file still costs a parse
        if least == index:
            mine.append(entry.path)
    return sorted(mine)


def merged(group: tuple[Analyzer, ...], findings: list[Finding]) -> list[Finding]:
    """Findings of parts of one view joined per analyzer (`Analyzer.merge`)."""
    out = []
    for analyzer in group:
        out += analyzer.merge([f for f in findings if f.rule in analyzer.rules])
    return out


Outcome = tuple[list[Finding], list[Component], list[AnalyzerError], list[examined.Skipped]]


def _run(group: tuple[Analyzer, ...], view: RootFS, components: bool,
         part: tuple[int, int] | None = None) -> Outcome:
    """One task: the findings of a group (on shard `part` = (index, count) of its files, for a
    group split over workers), the components of the view (when asked), the errors and the
    files skipped."""
    examined.drain()
    found_and_errors = _analyse(group, view, components, part)
    return (*found_and_errors, examined.drain())


def _analyse(group: tuple[Analyzer, ...], view: RootFS, components: bool,
             part: tuple[int, int] | None,
             ) -> tuple[list[Finding], list[Component], list[AnalyzerError]]:
    errors: list[AnalyzerError] = []
    found: list[Component] = []
    if components:
        try:
            found = identify_cached(view)
        except Exception as exc:
            log.debug("component identification failed on %s", view.label, exc_info=True)
            errors.append(AnalyzerError("components", view.label, f"{type(exc).__name__}: {exc}"))
    visits = _visits(group)
    if not visits:
        return [f for analyzer in group for f in guarded(analyzer, view, errors)], found, errors
    paths = shard(view, visits, *part) if part else sorted(e.path for e in view.files(*visits))
    findings = []
    for start in range(0, len(paths), PART_FILES):
        piece = view.part(paths[start:start + PART_FILES])
        findings += [f for analyzer in group for f in guarded(analyzer, piece, errors)]
    return merged(group, findings), found, errors


def _worker(conn: Connection, group: tuple[Analyzer, ...], view: RootFS, components: bool,
            part: tuple[int, int] | None) -> None:
    child_setup()
    conn.send(_run(group, view, components, part))
    conn.close()


def groups(family: tuple[Analyzer, ...], view: RootFS, components: bool,
           ) -> list[tuple[tuple[Analyzer, ...], bool]]:
    """The tasks of one view: analyzers that share a cache (`Analyzer.shares`) run together,
    and component identification joins the analyzers that read components."""
    by_key: dict[str, list[Analyzer]] = {}
    for analyzer in family:
        if analyzer.needs_root and not view.is_root:
            continue
        by_key.setdefault(analyzer.shares or f"analyzer:{analyzer.name}", []).append(analyzer)
    if components:
        by_key.setdefault(COMPONENTS, [])
    return [(tuple(group), components and key == COMPONENTS) for key, group in by_key.items()]


@dataclass
class _Split:
    """The shards of one group on one view: their findings are joined when all are in."""

    group: tuple[Analyzer, ...]
    waiting: int
    findings: list[Finding] = field(default_factory=list)


@dataclass
class _Task:
    group: tuple[Analyzer, ...]
    view: RootFS
    components: bool
    part: tuple[int, int] | None = None
    split: _Split | None = None
    held: bool = False          # a group of on_device="boot" analyzers: its findings wait for the device
    process: Any = None
    conn: Connection | None = None


@dataclass
class Analysis:
    """Collects the findings (and, with `components`, the components) of every view handed to
    `add`; `finish` waits for the workers."""

    workers: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    family: tuple[Analyzer, ...] | None = None
    deadline: float | None = None
    components: bool = False
    findings: list[Finding] = field(default_factory=list)
    found: list[Component] = field(default_factory=list)
    errors: list[AnalyzerError] = field(default_factory=list)
    skips: list[examined.Skipped] = field(default_factory=list)
    _pending: deque[_Task] = field(default_factory=deque)
    _small: deque[RootFS] = field(default_factory=deque)
    _running: list[_Task] = field(default_factory=list)
    _views: list[RootFS] = field(default_factory=list)
    _held: dict[int, list[Finding]] = field(default_factory=dict)   # id(view) -> findings

    def _device_group(self, group: tuple[Analyzer, ...]) -> bool:
        return bool(group) and all(a.on_device == "boot" for a in group)

    def add(self, views: list[RootFS]) -> None:
        for view in views:
            self._views.append(view)
            if self.workers < 2 or len(view) < BIG_VIEW:
                self._small.append(view)
                continue
            shards: list[_Task] = []
            whole: list[_Task] = []
            for group, components in groups(self.family or analyzers(), view, self.components):
                if _visits(group) and not components:
                    # work split by file: every worker takes a shard
                    split = _Split(group, self.workers)
                    shards.extend(_Task(group, view, components, (index, self.workers), split)
                                  for index in range(self.workers))
                else:
                    whole.append(_Task(group, view, components,
                                       held=self._device_group(group) and not components))
            # the split groups are the heaviest: started first, the short tasks fill in after
            self._pending.extend(shards + whole)
        if len(self._small) >= SMALL_QUEUE:
            self._analyse_small()
        self._pump()

    def idle(self) -> None:
        """Work for a moment when this process would wait (an extraction child is busy): the
        small views waiting, and the one-time set-up every worker forked later inherits."""
        self._analyse_small()
        warm(self.family or analyzers())

    def _analyse_small(self) -> None:
        """Small views are analysed here, a fork costs more than they do."""
        while self._small:
            check()
            view = self._small.popleft()
            for group, components in groups(self.family or analyzers(), view, self.components):
                held = view if self._device_group(group) and not components else None
                self._take(_run(group, view, components), held=held)

    def _take(self, result: Outcome, split: _Split | None = None, held: RootFS | None = None) -> None:
        findings, found, errors, skips = result
        if held is not None:
            self._held.setdefault(id(held), []).extend(findings)
        elif split is None:
            self.findings.extend(findings)
        else:
            split.findings.extend(findings)
            split.waiting -= 1
            if not split.waiting:
                self.findings.extend(merged(split.group, split.findings))
        self.found.extend(found)
        self.errors.extend(errors)
        self.skips.extend(skips)

    def _pump(self) -> None:
        self._collect(block=False)
        ctx = multiprocessing.get_context("fork")
        while self._pending and len(self._running) < self.workers:
            task = self._pending.popleft()
            if any(a.reads_boot_chain for a in task.group):
                walk(task.view)     # once per view, here: the tasks forked from now on share it
            parent, child = ctx.Pipe(duplex=False)
            # not daemonic: an analyzer may start a pool of its own (APKs); `finish` and
            # `_stop_all` always reap the workers
            task.process = ctx.Process(target=_worker, args=(child, task.group, task.view,
                                                             task.components, task.part))
            task.process.start()
            child.close()
            task.conn = parent
            self._running.append(task)

    def _collect(self, *, block: bool) -> None:
        """Take in the workers that are done; with `block`, wait until at least one is."""
        while self._running:
            check()
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
            wait([t.conn for t in self._running if t.conn is not None], timeout=0.2)

    def _receive(self, task: _Task) -> None:
        assert task.conn is not None
        try:
            result = task.conn.recv() if task.conn.poll(0) else None
        except (EOFError, OSError):
            result = None
        task.conn.close()
        task.process.join()
        if result is None:
            died = f"analyzer process died (exit code {task.process.exitcode})"
            for name in self._names(task):
                self.errors.append(AnalyzerError(name, _label(task.view), died))
            result = ([], [], [], [])       # the other shards of a split still count
        self._take(result, task.split, task.view if task.held else None)

    @staticmethod
    def _names(task: _Task) -> list[str]:
        return [a.name for a in task.group] + (["components"] if task.components else [])

    def _stop_all(self, reason: str) -> None:
        for task in [*self._running, *self._pending]:
            if task.process is not None:
                with contextlib.suppress(ProcessLookupError):
                    task.process.kill()
                task.process.join()
            for name in self._names(task):
                self.errors.append(AnalyzerError(name, _label(task.view), f"analysis stopped: {reason}"))
        self._running.clear()
        self._pending.clear()

    def abort(self) -> None:
        """Kill and reap every worker, drop the waiting work (the scan is stopped or failed)."""
        for task in self._running:
            with contextlib.suppress(ProcessLookupError):
                task.process.kill()
            task.process.join()
        self._running.clear()
        self._pending.clear()
        self._small.clear()

    def _devices(self) -> None:
        """The findings held for the device: a root that mounts file systems beside it, or holds
        UPX-packed programs that were unpacked, has its boot chain (and the account databases
        boot copies) read on the device it makes; a file system beside a root has the scripts
        that no init reaches dropped (the root's boot chain says which of its scripts run); any
        other view keeps what it found."""
        family = self.family or analyzers()
        roots = [v for v in self._views if v.is_root]
        partitions = [v for v in self._views if beside(v, roots)]
        unpacked = unpacked_programs(self._views)
        for view in self._views:
            held = self._held.pop(id(view), [])
            if view in partitions:
                self.findings.extend(f for f in held if f.details.get("reached") is not False)
                continue
            made = device(view, partitions, unpacked) if view.is_root and (partitions or unpacked) else None
            if made is None:
                self.findings.extend(held)
                continue
            check()
            whole, copied = made
            tasks = [((a,), whole) for a in family if a.on_device == "boot"]
            if copied:
                tasks += [((a,), whole.part(copied)) for a in family if a.on_device == "accounts"]
            for group, on in tasks:
                findings, _, errors, skips = _run(group, on, False)
                self.findings.extend(relocated(whole, findings))
                self.errors.extend(errors)
                for skip in skips:
                    where = next((o for m, o in whole.origins.items() if m == skip.path), None)
                    if where is not None:
                        skip = replace(skip, container=chain_label(where[0]), path=where[1])
                    self.skips.append(skip)

    def finish(self) -> list[Finding]:
        self._pump()
        self._analyse_small()
        while self._running or self._pending:
            check()
            self._pump()
            self._collect(block=True)
        self._devices()
        self.errors.sort(key=lambda e: (e.analyzer, e.path, e.error))
        unique = {(s.container, s.path, s.analyzer): s for s in self.skips}
        self.skips = [unique[k] for k in sorted(unique)]
        return dedupe(self.findings)
