"""Recursive unpacking: find chunks with unblob, extract each in a bounded child, recurse.

The only module that drives unblob. Unlike unblob's own CLI it does not carve inside every
extracted file: a file is searched for containers only when its type says there may be
one (archives, compressed streams, file system images, unknown binary blobs), so that an
extracted root file system of 5,000 executables and scripts costs one walk, not 5,000
searches.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import time
from collections import deque
from collections.abc import Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmproof.config import Limits
from firmproof.fs.filetype import CARVE_TYPES, ELF, PACKED, classify
from firmproof.fs.index import TreeIndex, index_tree
from firmproof.fs.rootfs import FileMeta
from firmproof.host.children import check
from firmproof.host.tools import use_tool_path
from firmproof.model import UnpackError
from firmproof.report.coverage import LIMIT, Region, Searched
from firmproof.unpack import formats, quiet_unblob_logs, streams
from firmproof.unpack.extract import ChunkOutcome, Idle, extract_chunk

log = logging.getLogger(__name__)



class UnpackFailed(Exception):
    """The image could not be read or unpacked at all (exit code 2)."""


@dataclass
class Layer:
    """One extracted chunk: a tree of files with the chain of containers above it."""

    container: tuple[str, ...]
    format: str
    offset: int
    depth: int
    host_dir: Path
    index: TreeIndex


@dataclass
class UnpackResult:
    layers: list[Layer] = field(default_factory=list)
    errors: list[UnpackError] = field(default_factory=list)
    seconds: float = 0.0
    searched: list[Searched] = field(default_factory=list)   # files with containers (and the image)
    searched_empty: int = 0       # nested files searched in which no container was found
    budget: int = 0               # the byte budget this unpacking ran under
    container_budget: int = 0     # the containers it could unpack
    extractions: int = 0          # containers it tried to unpack (unpacked, failed or cut)
    written: int = 0              # bytes extracted, against the budget
    sandboxes: set[str] = field(default_factory=set)    # what confined the extraction children
    # nested files with the bytes of one already searched (its chain first): not unpacked
    # again, whose findings would be the same (identical copies nested in a bomb, or a package
    # shipped twice)
    identical: list[tuple[str, str]] = field(default_factory=list)
    image_type: str = ""          # the image's own file type (fs/filetype.py)

    @property
    def sandbox(self) -> str:
        """'landlock' when every extraction child was confined; else why one was not."""
        unconfined = sorted(s for s in self.sandboxes if s != "landlock")
        return unconfined[0] if unconfined else "landlock" if self.sandboxes else "none needed"

    @property
    def files(self) -> int:
        return sum(layer.index.entries for layer in self.layers)

    @property
    def bytes(self) -> int:
        return sum(layer.index.file_bytes() for layer in self.layers)

    @property
    def depth(self) -> int:
        return max((layer.depth for layer in self.layers), default=0)

    def containers(self) -> list[dict[str, str]]:
        return [{"path": chain_label(layer.container), "format": layer.format}
                for layer in self.layers]


def chain_label(container: tuple[str, ...]) -> str:
    """('fw.bin', 'tar@0x0', '/rootfs.sqfs', 'squashfs@0x0') -> 'tar@0x0/rootfs.sqfs/squashfs@0x0'."""
    return "/".join(part.strip("/") for part in container[1:])


MEMORY_LAYERS_BYTES = 256 * 1024 * 1024   # small decoded streams kept in memory, all together;
                                          # past it they are written out like the rest
@dataclass
class _Job:
    host_file: Path
    container: tuple[str, ...]     # chain down to (and including) this file
    depth: int                     # depth of the layers found inside it
    ftype: str = ""                # its file type (fs/filetype.py)




def find_chunks(path: Path) -> list[Any]:
    """Outer valid chunks of a file, by offset."""
    from unblob.file_utils import File
    from unblob.finder import search_chunks
    from unblob.models import Task, TaskResult
    from unblob.processing import remove_inner_chunks

    size = path.stat().st_size
    if size == 0:
        return []
    result = TaskResult(task=Task(path=path, depth=0, blob_id=""))
    with File.from_path(path) as file:
        chunks = search_chunks(file, size, formats.handlers(), result)
        outer = remove_inner_chunks(chunks)
        for chunk in outer:
            chunk.file = None
    return sorted(outer, key=lambda c: c.start_offset)


@dataclass(frozen=True)
class Progress:
    """What unpacking yields as it starts a container: its chain, how many so far, files so far."""

    container: str
    layers: int
    files: int


Event = Layer | Progress | Idle


class Unpacking:
    """Unpacking `image` layer by layer into `workdir` (which must exist and be empty), as
    events to iterate: each Layer as soon as it is indexed (the scan analyses it while the
    layers below are still being unpacked), Progress as a container starts, IDLE while an
    extraction child works (the caller may use the wait). `result` holds the whole outcome
    once the iteration is over. With `keep`, every layer is written to `workdir` (small decoded
    streams stay in memory otherwise)."""

    def __init__(self, image: Path, workdir: Path, limits: Limits, *, keep: bool = False) -> None:
        self.image, self.workdir, self.limits, self.keep = image, workdir, limits, keep
        self._result: UnpackResult | None = None

    def __iter__(self) -> Generator[Event, None, None]:
        self._result = yield from _unpack(self.image, self.workdir, self.limits, self.keep)

    @property
    def result(self) -> UnpackResult:
        if self._result is None:
            raise RuntimeError("unpacking has not run to its end")
        return self._result


def unpack(image: Path, workdir: Path, limits: Limits, *, keep: bool = False) -> UnpackResult:
    """Unpack `image` into `workdir` to the end, for callers that wait for the whole result."""
    unpacking = Unpacking(image, workdir, limits, keep=keep)
    for _event in unpacking:
        pass
    return unpacking.result


def _unpack(image: Path, workdir: Path, limits: Limits, keep: bool) -> Generator[Event, None, UnpackResult]:
    use_tool_path()     # unblob looks its extractors up on PATH
    quiet_unblob_logs()
    started = time.monotonic()
    deadline = started + limits.max_seconds
    image_size = image.stat().st_size
    budget = limits.byte_budget(image_size)
    most = limits.container_budget(image_size)
    result = UnpackResult(budget=budget, container_budget=most)
    counter = 0
    written = 0
    held = 0            # bytes of the layers kept in memory
    files = 0
    result.image_type = _file_type(image)
    queue: deque[_Job] = deque([_Job(image, (image.name,), 1, result.image_type)])
    seen: dict[str, str] = {}       # sha256 of a nested file searched -> its chain
    stopped = ""

    while queue:
        check()
        job = queue.popleft()
        if job.depth > limits.max_depth:
            result.errors.append(UnpackError(chain_label(job.container) or job.container[0],
                                             f"not unpacked: depth limit {limits.max_depth} reached", LIMIT))
            continue
        if job.depth > 1:
            digest = _digest(job.host_file)
            first = seen.setdefault(digest, chain_label(job.container)) if digest else None
            if first is not None and first != chain_label(job.container):
                result.identical.append((chain_label(job.container), first))
                continue
        searched = Searched(chain_label(job.container), job.host_file, _size(job.host_file))
        whole = streams.sniff(job.host_file) or formats.whole_chunk(job.host_file, job.ftype)
        if whole is not None:
            chunks: deque[Any] = deque([whole])
        else:
            try:
                chunks = deque(find_chunks(job.host_file))
            except (OSError, ValueError) as exc:
                result.errors.append(UnpackError(chain_label(job.container), f"cannot search: {exc}"))
                continue
        regions = {id(chunk): _region(chunk) for chunk in chunks}
        if whole is not None and job.ftype == PACKED:
            regions[id(whole)].packer = formats.UPX      # the whole file, unpacked with `upx -d`
        searched.regions.extend(regions.values())
        while chunks:
            check()
            chunk = chunks.popleft()
            if stopped:
                break
            if time.monotonic() > deadline:
                stopped = f"time limit of {limits.max_seconds:.0f}s reached"
                break
            if written >= budget:
                stopped = f"byte limit of {budget} bytes reached"
                break
            if files >= limits.max_files:
                stopped = f"file limit of {limits.max_files} entries reached"
                break
            if counter >= most:
                stopped = f"container limit of {most} containers reached"
                break
            counter += 1
            name = chunk.handler.NAME
            fmt = formats.of(name)
            label = f"{fmt.family}@0x{chunk.start_offset:x}"
            container = (*job.container, label)
            yield Progress(chain_label(container), counter, files)
            outdir = workdir / "x" / str(counter) / "tree"     # the extraction's box: x/N
            carved = _carve(job.host_file, chunk, workdir / "carve" / f"{counter}.{name}")
            memory: TreeIndex | None = None
            try:
                if fmt.stream is not None:
                    room = min(budget - written, MEMORY_LAYERS_BYTES - held)
                    memory = None if keep else streams.decode_small(name, carved, container, limit=room)
                    if memory is not None:
                        outcome = ChunkOutcome(written=memory.file_bytes())
                        held += outcome.written
                    else:
                        outcome = streams.decompress(name, carved, outdir, byte_budget=budget - written,
                                                     deadline=deadline)
                else:
                    small = fmt.small(carved, outdir, byte_budget=budget - written,
                                      deadline=deadline) if fmt.small is not None else None
                    if small is not None:
                        outcome = small
                    else:
                        outcome = yield from extract_chunk(chunk, name, carved, outdir,
                                                           byte_budget=budget - written, deadline=deadline,
                                                           memory=limits.max_memory)
                        result.sandboxes.add(outcome.sandbox)
            finally:
                if carved != job.host_file:
                    with contextlib.suppress(OSError):
                        carved.unlink()
            if chunk is whole and outcome.corrupt:
                # not one clean stream after all: drop what was decoded (its whole box), let
                # unblob search it
                shutil.rmtree(outdir.parent, ignore_errors=True)
                searched.regions.clear()
                try:
                    found = find_chunks(job.host_file)
                except (OSError, ValueError) as exc:
                    result.errors.append(UnpackError(chain_label(job.container), f"cannot search: {exc}"))
                    continue
                chunks.extend(found)
                regions = {id(c): _region(c) for c in found}
                searched.regions.extend(regions.values())
                continue
            written += outcome.written
            for error in outcome.errors:
                result.errors.append(UnpackError(chain_label(container), error))
            region = regions[id(chunk)]
            if memory is None and not outdir.is_dir():
                if not _lone_program(job, chunk, outdir):
                    region.status = "failed"
                    continue
                written += chunk.end_offset
            region.status = "partial" if outcome.errors else "unpacked"
            index = memory or index_tree(outdir, outcome.meta, container)
            for short in short_files(index, outcome.meta):
                result.errors.append(UnpackError(chain_label(container), short))
            files += index.entries
            layer = Layer(container=container, format=name, offset=chunk.start_offset,
                          depth=job.depth, host_dir=outdir, index=index)
            result.layers.append(layer)
            yield layer
            if not fmt.nests:       # its layers hold nothing to search
                continue
            for entry in index.tree.files(*CARVE_TYPES):
                if entry.size >= limits.carve_min_size and entry.host is not None:
                    queue.append(_Job(entry.host, (*container, entry.path), job.depth + 1, entry.ftype))
        if searched.regions or job.depth == 1:
            searched.measure()      # the file is still there: the unknown bytes are read now
            result.searched.append(searched)
        else:
            result.searched_empty += 1
        if stopped:
            break
    if stopped:
        left = sum(1 for s in result.searched for r in s.regions if r.status == "not unpacked")
        result.errors.append(UnpackError("", f"unpacking stopped: {stopped}; {left} containers found "
                                             f"and {len(queue)} files to search were left", LIMIT))
    if files > limits.max_files and not stopped:
        result.errors.append(UnpackError("", f"file limit of {limits.max_files} entries exceeded", LIMIT))
    result.written = written
    result.extractions = counter
    result.seconds = time.monotonic() - started
    return result


MAX_NAMED_SHORT = 20


def short_files(index: TreeIndex, meta: dict[str, FileMeta] | None) -> list[str]:
    """A sentence for each file extracted with fewer (or more) bytes than the archive's own
    metadata declares: a sparse 100 GiB tar member written empty, a member cut by the byte
    limit. What was not written was not examined."""
    if not meta:
        return []
    short = []
    for entry in index.tree.files():
        declared = meta.get(entry.path.lstrip("/"))
        if declared is not None and declared.size is not None and declared.size != entry.size:
            short.append((entry.path, declared.size, entry.size))
    out = [f"{path}: declares {size:,} bytes, {got:,} extracted; the rest not examined"
           for path, size, got in short[:MAX_NAMED_SHORT]]
    if len(short) > MAX_NAMED_SHORT:
        out.append(f"{len(short) - MAX_NAMED_SHORT} more files extracted short of their declared size")
    return out


def _lone_program(job: _Job, chunk: Any, outdir: Path) -> bool:
    """A program given as the image, which unblob's ELF handler found whole and wrote nothing
    from (no kernel's initramfs, no UPX packing): the program is its own one-file layer,
    `/<image name>`, so that the analyzers of programs read it as one of a file system's
    (a lab often holds a single daemon pulled from a device). Whether it was written."""
    if job.depth != 1 or job.ftype != ELF or formats.of(chunk.handler.NAME).family != "elf" \
            or chunk.start_offset != 0 or chunk.end_offset != _size(job.host_file):
        return False
    try:
        outdir.mkdir(parents=True)
        shutil.copyfile(job.host_file, outdir / job.host_file.name)
    except OSError as exc:
        log.debug("%s: not copied as a program (%s)", job.host_file, exc)
        shutil.rmtree(outdir, ignore_errors=True)
        return False
    return True


def _digest(path: Path) -> str | None:
    try:
        with path.open("rb") as handle:
            return hashlib.file_digest(handle, "sha256").hexdigest()
    except OSError:
        return None


def _file_type(path: Path) -> str:
    """The image's own file type (fs/filetype.py), as a nested file's is known from its index:
    a UPX-packed program given as the image is then one chunk, the whole file, unpacked with
    `upx -d` as one inside a file system is (formats.py's `whole`), not searched by unblob,
    whose ELF chunk ends where the program headers say and leaves a big-endian program's
    packed data out."""
    try:
        with path.open("rb") as handle:
            return classify(handle.read(4096), path.name, lambda at, n: os.pread(handle.fileno(), n, at),
                            path.stat().st_size)
    except OSError:
        return ""


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def _region(chunk: Any) -> Region:
    return Region(chunk.start_offset, chunk.end_offset, formats.of(chunk.handler.NAME).family)


def _carve(source: Path, chunk: Any, target: Path) -> Path:
    """The chunk's bytes as a file of their own (the source itself for a whole-file chunk)."""
    size = source.stat().st_size
    if chunk.start_offset == 0 and chunk.end_offset == size:
        return source
    target.parent.mkdir(parents=True, exist_ok=True)
    with source.open("rb") as src, target.open("xb") as dst:
        src.seek(chunk.start_offset)
        remaining = chunk.end_offset - chunk.start_offset
        while remaining > 0:
            block = src.read(min(remaining, 1 << 20))
            if not block:
                break
            dst.write(block)
            remaining -= len(block)
    os.chmod(target, 0o600)
    return target
