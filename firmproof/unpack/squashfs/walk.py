"""The walk over a SquashFS tree: every entry with its path, hostile names and loops refused.

Paths are POSIX, relative to the file system root, without a leading slash ("etc/shadow").
Each directory is listed before anything below it, so a writer meets a folder before its
content. Problems with one entry become messages; only an unreadable root is fatal.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from firmproof.unpack.squashfs.image import PARSE_ERRORS, SquashFS
from firmproof.unpack.squashfs.inode import Inode

MAX_ENTRIES = 2_000_000
MAX_DEPTH = 512


@dataclass
class Tree:
    entries: list[tuple[str, Inode]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def bad_name(name: bytes) -> str | None:
    """Why `name` cannot be a file name, or None if it can."""
    if name in (b"", b".", b".."):
        return f"name {name!r} refused"
    if b"/" in name or b"\0" in name:
        return f"name {name!r} with '/' or NUL refused"
    return None


def walk(fs: SquashFS, *, max_entries: int = MAX_ENTRIES, max_depth: int = MAX_DEPTH) -> Tree:
    """All entries below the root (which raises SquashFSError if unreadable)."""
    tree = Tree(errors=list(fs.warnings))
    root = fs.root()
    seen_dirs = {root.ref}
    stack: list[tuple[str, Inode, int]] = [("", root, 0)]
    while stack:
        path, directory, depth = stack.pop()
        try:
            children = fs.listdir(directory)
        except PARSE_ERRORS as exc:
            tree.errors.append(f"{path or '/'}: directory listing unreadable: {exc}")
            continue
        names: set[bytes] = set()
        subdirs: list[tuple[str, Inode, int]] = []
        for child in children:
            shown = os.fsdecode(child.name)
            where = f"{path}/{shown}" if path else shown
            if (why := bad_name(child.name)) is not None:
                tree.errors.append(f"{path or '/'}: {why}")
                continue
            if child.name in names:
                tree.errors.append(f"{where}: duplicate name, first entry kept")
                continue
            names.add(child.name)
            try:
                inode = fs.inode(child.ref)
            except PARSE_ERRORS as exc:
                tree.errors.append(f"{where}: inode unreadable: {exc}")
                continue
            tree.entries.append((where, inode))
            if len(tree.entries) >= max_entries:
                tree.errors.append(f"more than {max_entries} entries: walk stopped at {where}")
                return tree
            if inode.is_dir:
                if inode.ref in seen_dirs:
                    tree.errors.append(f"{where}: directory met twice (a loop), not descended")
                elif depth + 1 >= max_depth:
                    tree.errors.append(f"{where}: nested deeper than {max_depth}, not descended")
                else:
                    seen_dirs.add(inode.ref)
                    subdirs.append((where, inode, depth + 1))
        stack.extend(reversed(subdirs))
    return tree

