"""A read-only view of one unpacked file system, as analyzers see it.

Paths are POSIX and absolute inside the view (`/etc/shadow`). Symbolic links are
resolved by the view itself, inside the view: an absolute link `/bin/sh -> /bin/busybox`
means the firmware's `/bin/busybox`, never the host's, and a link that climbs out of
the root is clamped to the root, as the kernel does for a chroot.

Two backings share the one class: a tree on the host (what `firmproof.fs.index` builds
from an unpacked layer) and a dict of bytes (what tests build in memory).
"""

from __future__ import annotations

import functools
import hashlib
import os
import posixpath
import re
import stat
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

MAX_LINK_HOPS = 40
MAX_RESOLVED = 1 << 18      # memoised lookups per view
READ_CACHE_BYTES = 64 * 1024 * 1024

# kinds of entries
FILE, DIR, SYMLINK, CHARDEV, BLOCKDEV, FIFO, SOCKET = (
    "file", "dir", "symlink", "chardev", "blockdev", "fifo", "socket")

_KIND_OF_IFMT = {
    stat.S_IFREG: FILE, stat.S_IFDIR: DIR, stat.S_IFLNK: SYMLINK, stat.S_IFCHR: CHARDEV,
    stat.S_IFBLK: BLOCKDEV, stat.S_IFIFO: FIFO, stat.S_IFSOCK: SOCKET,
}


def kind_of_mode(st_mode: int) -> str:
    return _KIND_OF_IFMT.get(stat.S_IFMT(st_mode), FILE)


@dataclass(frozen=True)
class FileMeta:
    """What a file system's own metadata says of one entry (mode holds only the
    permission bits, setuid/setgid/sticky included)."""

    kind: str
    mode: int
    uid: int | None = None
    gid: int | None = None
    link: str | None = None
    # a regular file's size as the metadata declares it, where it does (not part of equality:
    # the metadata readers that know no size agree with those that do)
    size: int | None = field(default=None, compare=False)


@dataclass
class FileEntry:
    path: str                  # inside the view: '/etc/shadow'
    report_path: str           # inside the innermost unpacked tree (view prefix + path)
    kind: str
    mode: int                  # permission bits, setuid/setgid/sticky included
    uid: int | None
    gid: int | None
    size: int
    link: str | None = None    # symlink target as stored in the file system
    host: Path | None = None   # where the bytes lie on the host, for FILE entries
    ftype: str = "data"        # see firmproof.fs.filetype
    meta_source: str = "host"  # "fs" when mode/owner come from the file system's metadata
    detail: dict[str, str] = field(default_factory=dict)

    @property
    def is_setuid(self) -> bool:
        return bool(self.mode & stat.S_ISUID)

    @property
    def is_setgid(self) -> bool:
        return bool(self.mode & stat.S_ISGID)

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)

    def mode_string(self) -> str:
        return stat.filemode(self.mode | {FILE: stat.S_IFREG, DIR: stat.S_IFDIR,
                                          SYMLINK: stat.S_IFLNK}.get(self.kind, 0))


@functools.lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out, i = [], 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char == "?":
            out.append("[^/]")
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                body = pattern[i + 1:end]
                out.append("[^" + body[1:] + "]" if body.startswith("!") else "[" + body + "]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out))


@functools.lru_cache(maxsize=1 << 16)
def normalize(path: str) -> str:
    """'/a/./b/../c' -> '/a/c'; never climbs above '/'."""
    parts: list[str] = []
    for part in path.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if parts:
                parts.pop()
            continue
        parts.append(part)
    return "/" + "/".join(parts)


class RootFS:
    """One unpacked tree (or a root file system inside it)."""

    def __init__(self, entries: Iterable[FileEntry], *, container: tuple[str, ...],
                 loader: Callable[[FileEntry], bytes], label: str = "",
                 is_root: bool = True, physical: bool = True) -> None:
        self._entries: dict[str, FileEntry] = {e.path: e for e in entries}
        self._entries.setdefault("/", FileEntry("/", "/", DIR, 0o755, 0, 0, 0))
        self._children: dict[str, list[str]] | None = None
        self._loader = loader
        self._cache: OrderedDict[str, bytes] = OrderedDict()
        self._cache_bytes = 0
        self._hashes: dict[str, str] = {}
        self.container = container
        self.label = label or "/".join(container)
        self.is_root = is_root
        self._only: frozenset[str] | None = None   # a part: `files` yields these paths only
        self._sorted: list[str] | None = None
        self._resolved: dict[str, str | None] = {}
        self._physical = physical
        # a device view: report path of an entry that lives in another file system ->
        # (that file system's container, the entry's report path there)
        self.origins: dict[str, tuple[tuple[str, ...], str]] = {}

    # -- building -------------------------------------------------------------

    @classmethod
    def from_files(cls, files: dict[str, bytes | str], *, modes: dict[str, int] | None = None,
                   owners: dict[str, tuple[int, int]] | None = None,
                   links: dict[str, str] | None = None,
                   container: tuple[str, ...] = ("memory",)) -> RootFS:
        """An in-memory view for tests: {"/etc/passwd": b"root:x:0:0::/root:/bin/sh\\n"}."""
        from firmproof.fs.filetype import classify, reader_of

        modes, owners, links = modes or {}, owners or {}, links or {}
        blobs: dict[str, bytes] = {}
        entries: dict[str, FileEntry] = {}

        def add_dirs(path: str) -> None:
            parent = posixpath.dirname(path)
            while parent not in entries and parent != "/":
                entries[parent] = FileEntry(parent, parent, DIR, 0o755, 0, 0, 0)
                parent = posixpath.dirname(parent)

        for raw_path, content in files.items():
            path = normalize(raw_path)
            data = content.encode() if isinstance(content, str) else content
            blobs[path] = data
            uid, gid = owners.get(path, (0, 0))
            entries[path] = FileEntry(path, path, FILE, modes.get(path, 0o644), uid, gid,
                                      len(data), ftype=classify(data[:4096], path, reader_of(data),
                                                                len(data)),
                                      meta_source="fs")
            add_dirs(path)
        for raw_path, target in links.items():
            path = normalize(raw_path)
            entries[path] = FileEntry(path, path, SYMLINK, 0o777, 0, 0, len(target), link=target,
                                      meta_source="fs")
            add_dirs(path)
        # a test may put files below a path it also makes a link: then every lookup follows links
        physical = not any(p.startswith(link + "/") for link in map(normalize, links) for p in entries)
        return cls(entries.values(), container=container, loader=lambda e: blobs[e.report_path],
                   physical=physical)

    # -- queries --------------------------------------------------------------

    def entry(self, path: str) -> FileEntry | None:
        """The entry at `path` itself (a symlink is not followed)."""
        return self._entries.get(normalize(path))

    def entries(self) -> Iterator[FileEntry]:
        if self._sorted is None:
            self._sorted = sorted(self._entries)
        entries = self._entries
        for path in self._sorted:
            yield entries[path]

    def files(self, *ftypes: str) -> Iterator[FileEntry]:
        """Regular files in path order, optionally only those of the given file types."""
        if self._only is None:
            candidates: Iterable[FileEntry] = self.entries()
        else:
            candidates = (self._entries[p] for p in sorted(self._only) if p in self._entries)
        for entry in candidates:
            if entry.kind == FILE and (not ftypes or entry.ftype in ftypes):
                yield entry

    def glob(self, pattern: str) -> Iterator[FileEntry]:
        """Entries whose path matches a shell pattern: `*`, `?` and `[…]` stay within one
        path component, `**` crosses any number of them."""
        regex = _glob_regex(pattern)
        for entry in self.entries():
            if regex.fullmatch(entry.path):
                yield entry

    def listdir(self, path: str) -> list[str]:
        if self._children is None:
            children: dict[str, list[str]] = {}
            for p in sorted(self._entries):
                if p != "/":
                    children.setdefault(posixpath.dirname(p), []).append(posixpath.basename(p))
            self._children = children
        resolved = self.resolve(path)
        return list(self._children.get(resolved, [])) if resolved else []

    def resolve(self, path: str) -> str | None:
        """Follow symlinks inside the view; None if the path does not exist or loops."""
        try:
            return self._resolved[path]
        except KeyError:
            pass
        normal = normalize(path)
        entry = self._entries.get(normal)
        if entry is not None and entry.kind != SYMLINK and self._physical:
            resolved: str | None = normal     # a physical path: no link on the way to it
        else:
            resolved = self._follow(normal)
        if len(self._resolved) < MAX_RESOLVED:
            self._resolved[path] = resolved
        return resolved

    def _follow(self, path: str) -> str | None:
        hops = 0
        pending = [p for p in normalize(path).split("/") if p]
        done = "/"
        while pending:
            part = pending.pop(0)
            candidate = "/" + part if done == "/" else done + "/" + part   # parts are normal
            entry = self._entries.get(candidate)
            if entry is None:
                return None
            if entry.kind == SYMLINK and entry.link is not None:
                hops += 1
                if hops > MAX_LINK_HOPS:
                    return None
                target = entry.link
                base = "/" if target.startswith("/") else done
                pending = [p for p in normalize(posixpath.join(base, target)).split("/") if p] + pending
                done = "/"
                continue
            done = candidate
        return done

    def stat(self, path: str) -> FileEntry | None:
        """The entry at `path` after following symlinks."""
        resolved = self.resolve(path)
        return self._entries.get(resolved) if resolved else None

    def exists(self, path: str) -> bool:
        return self.stat(path) is not None

    def read(self, path: str) -> bytes | None:
        """Content of the regular file at `path` (symlinks followed), or None."""
        entry = self.stat(path)
        if entry is None or entry.kind != FILE:
            return None
        cached = self._cache.get(entry.path)
        if cached is not None:
            self._cache.move_to_end(entry.path)
            return cached
        try:
            data = self._loader(entry)
        except OSError:
            return None
        self._cache[entry.path] = data
        self._cache_bytes += len(data)
        while self._cache_bytes > READ_CACHE_BYTES and len(self._cache) > 1:
            _, old = self._cache.popitem(last=False)
            self._cache_bytes -= len(old)
        return data

    def text(self, path: str) -> str | None:
        """The file decoded byte for byte (latin-1), so that str offsets are byte offsets."""
        data = self.read(path)
        return None if data is None else data.decode("latin-1")

    def sha256(self, path: str) -> str:
        entry = self.stat(path)
        if entry is None:
            raise FileNotFoundError(path)
        digest = self._hashes.get(entry.path)
        if digest is None:
            data = self.read(path)
            digest = hashlib.sha256(data or b"").hexdigest()
            self._hashes[entry.path] = digest
        return digest

    def subview(self, prefix: str, *, label: str | None = None) -> RootFS:
        """The tree below `prefix` as a view of its own; report paths keep the prefix."""
        prefix = normalize(prefix)
        if prefix == "/":
            return self
        entries = []
        for path, entry in self._entries.items():
            if path == prefix or path.startswith(prefix + "/"):
                entries.append(replace(entry, path=normalize(path[len(prefix):])))
        view = RootFS(entries, container=self.container, loader=self._loader,
                      label=label or f"{self.label}{prefix}", physical=self._physical)
        return view

    def without(self, prefixes: Iterable[str]) -> RootFS:
        """The same view minus the subtrees at `prefixes` (they are views of their own)."""
        cut = [normalize(p) for p in prefixes]
        entries = [e for p, e in self._entries.items()
                   if not any(p == c or p.startswith(c + "/") for c in cut)]
        return RootFS(entries, container=self.container, loader=self._loader,
                      label=self.label, is_root=False, physical=self._physical)

    def part(self, paths: Iterable[str]) -> RootFS:
        """The same view, whose `files` yields only `paths`: everything else (lookups, links,
        reads) still sees the whole file system. Analysis splits the per-file work of a big
        view into such parts, to spread it over processes and keep each part's caches warm."""
        view = RootFS((), container=self.container, loader=self._loader, label=self.label,
                      is_root=self.is_root)
        view._entries = self._entries
        view._children = self._children
        view._sorted = self._sorted
        view._resolved = self._resolved
        view._physical = self._physical
        view._only = frozenset(paths)
        view.origins = self.origins
        return view

    # -- a device: several file systems -------------------------------------------------

    def device(self, mounts: Iterable[tuple[str, RootFS]] = (),
               copies: Iterable[tuple[str, str]] = (),
               programs: Iterable[tuple[str, RootFS, FileEntry]] = ()) -> RootFS:
        """The device this root boots: each view of `mounts` laid at its mount point (what the
        root holds below a mount point is hidden, as by the kernel), each (path, view, entry)
        of `programs` in place of the file at `path` (a packed program replaced by the program
        unpacked from it, which is what runs; it keeps the packed file's mode and owner), then
        each (source, destination) of `copies` made at its destination (a file copied into
        /etc at boot). Analysers read it as one file system; the entries that come from
        another file system have a report path of their own, which `origins` maps back to
        where their bytes are (findings are moved there by `relocate`)."""
        entries: dict[str, FileEntry] = {}
        loaders: dict[str, tuple[Callable[[FileEntry], bytes], FileEntry]] = {}
        origins: dict[str, tuple[tuple[str, ...], str]] = dict(self.origins)
        mounts = [(normalize(point), view) for point, view in mounts]
        for path, entry in self._entries.items():
            if not any(path.startswith(point + "/") for point, _ in mounts):
                entries[path] = entry

        def foreign(path: str, entry: FileEntry, loader: Callable[[FileEntry], bytes],
                    container: tuple[str, ...]) -> None:
            marker = f"\0{len(origins)}\0{path}"      # no path of a file system holds a NUL
            origins[marker] = (container, entry.report_path)
            loaders[marker] = (loader, entry)
            entries[path] = replace(entry, path=path, report_path=marker)

        for point, view in mounts:
            for path, entry in view._entries.items():
                target = point if path == "/" else point + path
                if path == "/":
                    entries[target] = replace(entry, path=target, report_path=target)
                else:
                    foreign(target, entry, view._loader, view.container)
            parent = posixpath.dirname(point)
            while parent not in entries:
                entries[parent] = FileEntry(parent, parent, DIR, 0o755, 0, 0, 0)
                parent = posixpath.dirname(parent)
        own = self._loader
        for path, view, program in programs:
            path = normalize(path)
            packed = entries.get(path)
            if packed is None or packed.kind != FILE:
                continue
            foreign(path, program, view._loader, view.container)
            entries[path] = replace(entries[path], mode=packed.mode, uid=packed.uid, gid=packed.gid,
                                    meta_source=packed.meta_source)
        # what boot copies: the file at the destination, its bytes those of the source
        mounted = RootFS(entries.values(), container=self.container, loader=own, physical=False)
        for source, dest in copies:
            found = mounted.stat(source)
            dest = normalize(dest)
            if found is None or found.kind != FILE or dest == "/":
                continue
            loader, original = loaders.get(found.report_path, (own, found))
            container = origins.get(found.report_path, (self.container, ""))[0]
            foreign(dest, original, loader, container)
            parent = posixpath.dirname(dest)
            while parent not in entries:
                entries[parent] = FileEntry(parent, parent, DIR, 0o755, 0, 0, 0)
                parent = posixpath.dirname(parent)

        def load(entry: FileEntry) -> bytes:
            found = loaders.get(entry.report_path)
            return found[0](found[1]) if found else own(entry)

        view = RootFS(entries.values(), container=self.container, loader=load, label=self.label,
                      is_root=self.is_root, physical=False)
        view.origins = origins
        return view

    def relocate(self, path: str) -> tuple[tuple[str, ...], str]:
        """(container, report path) where the bytes of the entry reported at `path` lie."""
        return self.origins.get(path, (self.container, path))

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"RootFS({self.label!r}, {len(self._entries)} entries)"


def host_loader(entry: FileEntry) -> bytes:
    """Read a regular file of an unpacked tree without following host symlinks."""
    assert entry.host is not None
    fd = os.open(entry.host, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(fd, "rb") as handle:
        return handle.read()
