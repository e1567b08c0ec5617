"""Writing a walked SquashFS tree under a host folder, safely, with the blocks decoded in
worker threads (zlib, lzma and zstd release the GIL while they decode).

Safety against hostile images: every name was checked by the walk; every folder is opened
one component at a time from the output folder with O_NOFOLLOW, so nothing is ever created
through a symlink or outside the output folder; files are created with O_EXCL; modes and
owners on the host stay the defaults (the image's are in the metadata). Data is bounded by
`max_bytes`: each file is charged its apparent size (holes included) rounded up to whole
4 KiB blocks, at least one, which is what it takes on disk (120,000 empty files are 470 MiB of
blocks, not zero bytes).
"""

from __future__ import annotations

import os
import stat
from collections import Counter, OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from firmproof.fs.rootfs import DIR, FILE, SYMLINK
from firmproof.unpack.squashfs.data import Block, Tail, cut_tail, decode_block, decode_fragment, layout
from firmproof.unpack.squashfs.image import PARSE_ERRORS, SquashFS
from firmproof.unpack.squashfs.inode import NO_FRAGMENT, Inode

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
FILE_MODE, DIR_MODE = 0o644, 0o755
BLOCKS_IN_FLIGHT_PER_WORKER = 4
FRAGMENTS_KEPT = 64                 # decoded fragment blocks kept while tails still need them
MAX_QUEUED_PIECES = 4096
FOLDERS_KEPT = 64

HOLE: Future[bytes] = Future()      # stands for a block of zeros with nothing on disk
HOLE.set_result(b"")
MAX_NAMED_SKIPS = 20                # files left out by the byte limit named one by one in the errors


class Folders:
    """Folder descriptors below the output folder, opened one component at a time without
    following any symlink; the most recently used ones are kept open."""

    def __init__(self, outdir: Path) -> None:
        outdir.mkdir(parents=True, exist_ok=True)
        self.root = os.open(outdir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._open: OrderedDict[str, int] = OrderedDict()

    def open(self, path: str) -> int:
        """A descriptor of the folder at `path` ("" is the output folder), valid until
        `FOLDERS_KEPT` other folders have been asked for; OSError if a component is missing,
        a symlink or not a folder."""
        if not path:
            return self.root
        fd = self._open.get(path)
        if fd is not None:
            self._open.move_to_end(path)
            return fd
        parent, name = parent_and_name(path)
        parent_fd = self.open(parent)
        fd = os.open(name, DIR_FLAGS, dir_fd=parent_fd)
        self._open[path] = fd
        if len(self._open) > FOLDERS_KEPT:
            _, old = self._open.popitem(last=False)
            os.close(old)
        return fd

    def close(self) -> None:
        for fd in self._open.values():
            os.close(fd)
        self._open.clear()
        os.close(self.root)


@dataclass
class Job:
    path: str
    inode: Inode
    fd: int = -1
    pieces: int = 0             # blocks and tail
    pending: int = 0            # pieces not yet written
    failed: list[str] = field(default_factory=list)
    broken: bool = False        # stop writing (a write failed)


def parent_and_name(path: str) -> tuple[str, str]:
    head, _, name = path.rpartition("/")
    return head, name


def make_tree(fs: SquashFS, entries: list[tuple[str, Inode]], folders: Folders,
              errors: list[str]) -> list[tuple[str, Inode]]:
    """Create folders and symlinks; return the regular files left to write."""
    files: list[tuple[str, Inode]] = []
    lost: set[str] = set()          # folders that could not be made: their content is skipped
    for path, inode in entries:
        parent, name = parent_and_name(path)
        if parent in lost:
            if inode.kind == DIR:
                lost.add(path)
            continue
        if inode.kind == FILE:
            files.append((path, inode))
            continue
        if inode.kind not in (DIR, SYMLINK):
            continue                # device nodes, fifos, sockets: metadata only
        try:
            fd = folders.open(parent)
            if inode.kind == DIR:
                _make_dir(name, fd)
            else:
                os.symlink(inode.target or b"", os.fsencode(name), dir_fd=fd)
        except (OSError, ValueError) as exc:
            errors.append(f"{path}: not created: {exc}")
            if inode.kind == DIR:
                lost.add(path)
    return files


def _make_dir(name: str, parent_fd: int) -> None:
    try:
        os.mkdir(name, DIR_MODE, dir_fd=parent_fd)
    except FileExistsError:
        st = os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
        if not stat.S_ISDIR(st.st_mode):
            raise


DISK_BLOCK = 4096


def _on_disk(size: int) -> int:
    """What a file of `size` bytes takes on the host's disk: whole blocks, at least one."""
    return max(1, -(-size // DISK_BLOCK)) * DISK_BLOCK


class DataWriter:
    """Writes regular files in order while worker threads decode the blocks ahead.

    Each file becomes a run of pieces (blocks, holes, its fragment tail) in one queue; the
    workers decode up to `workers * BLOCKS_IN_FLIGHT_PER_WORKER` blocks ahead of the piece
    being written, a fragment block once for all the tails it holds. A file is opened when
    its first piece is written and closed after its last, so one file is open at a time.
    """

    def __init__(self, fs: SquashFS, folders: Folders, errors: list[str], *,
                 max_bytes: int | None, workers: int) -> None:
        self.fs = fs
        self.folders = folders
        self.errors = errors
        self.max_bytes = max_bytes
        self.written = 0
        self._pool = ThreadPoolExecutor(max_workers=workers) if workers > 1 else None
        self._queue: deque[tuple[Job, Future[bytes], int, Block | Tail]] = deque()
        self._ahead: dict[Future[bytes], int] = {}      # decodes in flight -> pieces waiting
        self._limit = max(2, workers * BLOCKS_IN_FLIGHT_PER_WORKER)
        self._fragments: OrderedDict[int, Future[bytes]] = OrderedDict()
        self._first: dict[int, str] = {}                # inode ref -> first path written
        self._links: list[tuple[str, str]] = []
        self._open: Job | None = None

    def write_all(self, files: list[tuple[str, Inode]]) -> None:
        files = sorted(files, key=self._place)
        unique = {inode.ref: inode for _, inode in files}.values()
        self._tail_refs = Counter(inode.fragment for inode in unique
                                  if inode.fragment != NO_FRAGMENT and inode.size % self.fs.block_size)
        skipped: list[tuple[str, int]] = []
        try:
            for path, inode in files:
                first = self._first.get(inode.ref)
                if first is not None:
                    self._links.append((first, path))
                    continue
                charge = _on_disk(inode.size)
                if self.max_bytes is not None and self.written + charge > self.max_bytes:
                    # this one file is not written (a sparse 100 GiB file, a bomb): the rest are
                    skipped.append((path, inode.size))
                    continue
                self._first[inode.ref] = path
                self.written += charge
                self._queue_file(path, inode)
                while len(self._ahead) > self._limit or len(self._queue) > MAX_QUEUED_PIECES:
                    self._write_next()
            while self._queue:
                self._write_next()
            self._make_links()
            self._report_skipped(skipped)
        finally:
            if self._open is not None and self._open.fd >= 0:
                os.close(self._open.fd)
            if self._pool is not None:
                self._pool.shutdown(cancel_futures=True)

    def _report_skipped(self, skipped: list[tuple[str, int]]) -> None:
        """One error per file left out by the byte limit (the first few named, then a count)."""
        for path, size in skipped[:MAX_NAMED_SKIPS]:
            if size > DISK_BLOCK:
                self.errors.append(f"{path}: not written: it declares {size:,} bytes, past the byte "
                                   f"limit of {self.max_bytes:,} bytes ({self.written:,} written)")
            else:
                self.errors.append(f"{path}: not written: the byte limit of {self.max_bytes:,} bytes "
                                   f"was reached ({self.written:,} written, files counted in 4 KiB blocks)")
        if len(skipped) > MAX_NAMED_SKIPS:
            self.errors.append(f"byte limit of {self.max_bytes:,} bytes reached: "
                               f"{len(skipped) - MAX_NAMED_SKIPS} more files not written")

    def _place(self, entry: tuple[str, Inode]) -> tuple[int, int]:
        """Where a file's data starts in the image: files are written in that order, so the
        image is read front to back and the tails of one fragment block follow each other."""
        inode = entry[1]
        if inode.blocks or inode.fragment == NO_FRAGMENT:
            return inode.start, 0
        try:
            return self.fs.fragment(inode.fragment)[0], inode.offset
        except PARSE_ERRORS:
            return 0, 0

    def _submit(self, work: Callable[[], bytes]) -> Future[bytes]:
        if self._pool is not None:
            return self._pool.submit(work)
        future: Future[bytes] = Future()
        try:
            future.set_result(work())
        except Exception as exc:  # handed on to the writer like a worker's failure
            future.set_exception(exc)
        return future

    def _queue_file(self, path: str, inode: Inode) -> None:
        job = Job(path, inode)
        try:
            blocks, tail = layout(self.fs, inode)
        except PARSE_ERRORS as exc:
            self.errors.append(f"{path}: not written: {exc}")
            return
        pieces: list[tuple[Future[bytes], Block | Tail]] = []
        for block in blocks:
            if block.stored == 0:
                pieces.append((HOLE, block))
            else:
                pieces.append((self._submit(partial(decode_block, self.fs, block)), block))
        if tail is not None:
            pieces.append((self._fragment(tail.fragment), tail))
        if not pieces:
            pieces.append((HOLE, Block(0, 0, False, 0)))       # an empty file
        job.pieces = job.pending = len(pieces)
        for index, (future, piece) in enumerate(pieces):
            if future is not HOLE:
                self._ahead[future] = self._ahead.get(future, 0) + 1
            self._queue.append((job, future, index, piece))

    def _fragment(self, index: int) -> Future[bytes]:
        future = self._fragments.get(index)
        if future is None:
            try:
                pos, word = self.fs.fragment(index)
            except PARSE_ERRORS as exc:
                future = Future()
                future.set_exception(exc)
            else:
                future = self._submit(partial(decode_fragment, self.fs, index, pos, word))
            self._fragments[index] = future
            if len(self._fragments) > FRAGMENTS_KEPT:
                self._fragments.popitem(last=False)
        return future

    def _tail_written(self, index: int) -> None:
        """Forget a fragment block once the last tail it holds is written."""
        self._tail_refs[index] -= 1
        if self._tail_refs[index] <= 0:
            self._fragments.pop(index, None)

    def _write_next(self) -> None:
        job, future, index, piece = self._queue.popleft()
        job.pending -= 1
        if future is not HOLE:
            left = self._ahead[future] - 1
            if left:
                self._ahead[future] = left
            else:
                del self._ahead[future]
        if index == 0:
            self._open_file(job)
        if not job.broken:
            try:
                if future is HOLE:
                    os.lseek(job.fd, piece.length, os.SEEK_CUR)
                elif isinstance(piece, Tail):
                    self._tail_written(piece.fragment)
                    _write_all(job.fd, cut_tail(future.result(), piece))
                else:
                    _write_all(job.fd, future.result())
            except PARSE_ERRORS as exc:
                where = (f"fragment {piece.fragment}" if isinstance(piece, Tail)
                         else f"block {index} at 0x{self.fs.image.at(piece.pos):x}")
                job.failed.append(f"{self.fs.codec.name} {where} could not be decoded: {exc}")
                os.lseek(job.fd, piece.length, os.SEEK_CUR)
            except OSError as exc:
                self.errors.append(f"{job.path}: write failed: {exc}")
                job.broken = True
        if job.pending == 0:
            self._finish(job)

    def _open_file(self, job: Job) -> None:
        parent, name = parent_and_name(job.path)
        try:
            job.fd = os.open(name, FILE_FLAGS, FILE_MODE, dir_fd=self.folders.open(parent))
            self._open = job
        except OSError as exc:
            self.errors.append(f"{job.path}: not created: {exc}")
            job.broken = True

    def _finish(self, job: Job) -> None:
        if job.fd < 0:
            return
        try:
            if not job.broken:
                os.ftruncate(job.fd, job.inode.size)      # holes at the end
        except OSError as exc:
            self.errors.append(f"{job.path}: write failed: {exc}")
        finally:
            os.close(job.fd)
            job.fd = -1
            self._open = None
        if job.failed:
            self.errors.append(f"{job.path}: {len(job.failed)} of {job.pieces} blocks could not "
                               f"be decoded, left as zeros (first: {job.failed[0]})")

    def _make_links(self) -> None:
        for source, path in self._links:
            src_parent, src_name = parent_and_name(source)
            parent, name = parent_and_name(path)
            try:
                src_fd = os.dup(self.folders.open(src_parent))
                try:
                    os.link(src_name, name, src_dir_fd=src_fd, dst_dir_fd=self.folders.open(parent),
                            follow_symlinks=False)
                finally:
                    os.close(src_fd)
            except OSError as exc:
                self.errors.append(f"{path}: hard link to {source} not created: {exc}")


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]
