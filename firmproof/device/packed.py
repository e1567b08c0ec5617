"""UPX-packed programs and the programs `upx -d` gave back for them.

A packed program (fs/filetype.py's PACKED) is searched like a container: when `upx -d`
unpacks it, the program it holds is a layer of its own below the packed file (its container
chain ends with the file's path and `elf@0x0`). The file system still holds the packed
bytes at the program's path; what the device runs is the unpacked program. This module joins
the two, for whoever reads a program by its path in the file system: the boot chain's rules
(what is started at boot) and the inventory (which program is at which path).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from firmproof.fs.filetype import ELF, PACKED
from firmproof.fs.rootfs import FileEntry, RootFS

PACKER = "upx"


@dataclass(frozen=True)
class Unpacked:
    """The program `upx -d` gave back for a packed file: the layer's view and its entry."""

    view: RootFS
    entry: FileEntry

    @property
    def sha256(self) -> str:
        return self.view.sha256(self.entry.path)


Key = tuple[tuple[str, ...], str]       # (container, report path) of the packed file


def unpacked_programs(views: Iterable[RootFS]) -> dict[Key, Unpacked]:
    """(container, report path) of each packed program of `views` that was unpacked -> the
    program unpacked from it. A layer below a packed file counts only if it holds one ELF
    program (a packed file unblob merely copied out is still packed)."""
    views = list(views)
    by_container: dict[tuple[str, ...], list[RootFS]] = {}
    for view in views:
        by_container.setdefault(view.container, []).append(view)
    out: dict[Key, Unpacked] = {}
    for view in views:
        container = view.container
        if len(container) < 3 or not container[-1].startswith("elf@"):
            continue
        programs = list(view.files(ELF))
        if len(programs) != 1:
            continue
        parent, path = container[:-2], container[-2]
        if any(packed_entry(p, path) is not None for p in by_container.get(parent, ())):
            out[(parent, path)] = Unpacked(view, programs[0])
    return out


def packed_entry(view: RootFS, report_path: str) -> FileEntry | None:
    """The packed program of `view` whose report path is `report_path`, or None."""
    top = view.entry("/")
    prefix = top.report_path.rstrip("/") if top is not None else ""
    if prefix and not report_path.startswith(prefix + "/"):
        return None
    entry = view.entry(report_path[len(prefix):])
    if entry is None or entry.report_path != report_path or entry.ftype != PACKED:
        return None
    return entry
