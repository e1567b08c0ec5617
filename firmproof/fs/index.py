"""One walk per unpacked tree: entries with trusted metadata, file types, root file systems.

The walk never follows a host symlink. Mode, owner and link targets come from the file
system's own metadata where the unpacker could read it (`FileMeta`), from the host's
`lstat` otherwise. Root file systems inside a tree (a folder holding etc/, bin/, usr/ …)
become views of their own, so that analyzers read `/etc/shadow` of the right root.
"""

from __future__ import annotations

import functools
import os
import posixpath
import stat
from dataclasses import dataclass
from pathlib import Path

from firmproof.fs.filetype import classify, reader_of
from firmproof.fs.rootfs import DIR, FILE, SYMLINK, FileEntry, FileMeta, RootFS, host_loader, kind_of_mode

HEAD_BYTES = 4096
ROOT_MARKERS = ("etc", "bin", "sbin", "usr", "lib", "system", "init", "var")
# a root needs etc/ plus one more marker, or two markers among the rest
_STRONG = {"etc"}


@dataclass
class TreeIndex:
    """A whole unpacked tree and the root file systems found in it."""

    tree: RootFS
    views: list[RootFS]

    @property
    def entries(self) -> int:
        return len(self.tree) - 1

    def file_bytes(self) -> int:
        return sum(e.size for e in self.tree.files())


def walk(host_dir: Path, meta: dict[str, FileMeta] | None, *, report_prefix: str = "") -> list[FileEntry]:
    """Entries of the tree under `host_dir`, paths absolute inside it ('/etc/shadow')."""
    meta = meta or {}
    entries: list[FileEntry] = []
    stack = [("", host_dir)]
    while stack:
        rel_dir, current = stack.pop()
        try:
            scanned = sorted(os.scandir(current), key=lambda e: e.name)
        except OSError:
            continue
        for item in scanned:
            rel = f"{rel_dir}/{item.name}" if rel_dir else item.name
            try:
                st = item.stat(follow_symlinks=False)
            except OSError:
                continue
            kind = kind_of_mode(st.st_mode)
            link = None
            if kind == SYMLINK:
                try:
                    link = os.readlink(item.path)
                except OSError:
                    link = None
            fs_meta = meta.get(rel)
            path = "/" + rel
            entry = FileEntry(
                path=path,
                report_path=report_prefix + path,
                kind=kind,
                mode=stat.S_IMODE(st.st_mode),
                uid=st.st_uid,
                gid=st.st_gid,
                size=st.st_size if kind == FILE else 0,
                link=link,
                host=Path(item.path) if kind == FILE else None,
            )
            if fs_meta is not None:
                entry.mode = fs_meta.mode
                entry.uid = fs_meta.uid
                entry.gid = fs_meta.gid
                entry.meta_source = "fs"
                if fs_meta.link is not None:
                    entry.link = fs_meta.link
                    if kind != SYMLINK:
                        # the extractor could not keep the link (it escaped the tree): keep the
                        # entry as the link it is in the image
                        entry.kind = SYMLINK
                        entry.host = None
                        entry.size = 0
            if entry.kind == FILE:
                entry.ftype = _classify(item.path, path, st.st_size)
            entries.append(entry)
            if kind == DIR:
                stack.append((rel, Path(item.path)))
    # entries the image holds but the host tree lacks (device nodes, fifos, dropped links)
    seen = {e.path for e in entries}
    for rel, fs_meta in sorted(meta.items()):
        path = "/" + rel.strip("/")
        if path in seen or path == "/" or fs_meta.kind in (FILE, DIR):
            continue
        entries.append(FileEntry(path=path, report_path=report_prefix + path, kind=fs_meta.kind,
                                 mode=fs_meta.mode, uid=fs_meta.uid, gid=fs_meta.gid, size=0,
                                 link=fs_meta.link, meta_source="fs"))
    return entries


def _classify(host_path: str, path: str, size: int) -> str:
    if size == 0:
        return classify(b"", path)
    try:
        fd = os.open(host_path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    except OSError:
        return "data"
    try:
        head = os.read(fd, HEAD_BYTES)
        # a shared library without section headers may be UPX-packed: its end is read too
        return classify(head, path, lambda offset, length: os.pread(fd, length, offset), size)
    finally:
        os.close(fd)


def find_roots(tree: RootFS) -> list[str]:
    """Top-most folders that look like the root of a Linux/Android file system."""
    dirs = [e.path for e in tree.entries() if e.kind == DIR]
    names_by_dir: dict[str, set[str]] = {}
    for entry in tree.entries():
        if entry.path != "/" and entry.kind in (DIR, SYMLINK):
            names_by_dir.setdefault(posixpath.dirname(entry.path), set()).add(entry.name)
    roots: list[str] = []
    for directory in sorted(dirs, key=lambda d: (d.count("/") if d != "/" else 0, d)):
        names = names_by_dir.get(directory, set())
        markers = names & set(ROOT_MARKERS)
        if not (markers & _STRONG and len(markers) >= 2) and len(markers) < 3:
            continue
        if any(directory == r or directory.startswith(r.rstrip("/") + "/") for r in roots):
            continue
        roots.append(directory)
    return roots


@functools.cache
def _umask() -> int:
    umask = os.umask(0o022)
    os.umask(umask)
    return umask


def index_blob(name: str, data: bytes, container: tuple[str, ...], ftype: str | None = None) -> TreeIndex:
    """A layer of one file held in memory (a small decoded stream): the entry `index_tree`
    would give for it on disk, with the mode and owner a freshly written file gets (`ftype`:
    its type, when the caller has classified it already)."""
    path = "/" + name
    entry = FileEntry(path=path, report_path=path, kind=FILE, mode=0o666 & ~_umask(), uid=os.getuid(),
                      gid=os.getgid(), size=len(data),
                      ftype=ftype or classify(data[:HEAD_BYTES], path, reader_of(data), len(data)))
    tree = RootFS([entry], container=container, loader=lambda _entry: data, is_root=False)
    return TreeIndex(tree=tree, views=[tree])


def index_tree(host_dir: Path, meta: dict[str, FileMeta] | None, container: tuple[str, ...]) -> TreeIndex:
    """Walk one unpacked tree and split it into root-file-system views."""
    entries = walk(host_dir, meta)
    tree = RootFS(entries, container=container, loader=host_loader, is_root=False)
    roots = find_roots(tree)
    views: list[RootFS] = []
    if roots == ["/"]:
        tree.is_root = True
        views.append(tree)
    else:
        views.extend(tree.subview(r) for r in roots)
        rest = tree.without(roots) if roots else tree
        if any(True for _ in rest.files()):
            views.append(rest)
    return TreeIndex(tree=tree, views=views)
