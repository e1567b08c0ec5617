"""ext2/3/4 file systems, read through e2fsprogs' debugfs in batch mode.

unblob extracts with `debugfs -R "rdump / OUTDIR"`, which lays the root folder's entries
(lost+found included) directly in OUTDIR, so keys are paths from the root. The walk runs
one debugfs per folder level (`ls -p <inode>` for every folder of the level, by inode
number, so that no file name is ever quoted into a command), then one for symlink
targets (`stat`, which prints fast links) and, if any, one for slow links (`cat`).
`ls -p` prints `/inode/mode/uid/gid/name/size/`; a name cannot hold '/', so records
parse without ambiguity whatever bytes the names hold.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

from firmproof.fs.rootfs import DIR, FileMeta
from firmproof.host.tools import missing_message, which
from firmproof.unpack.meta.common import (
    MAX_DEPTH,
    MAX_ENTRIES,
    MAX_LINK_BYTES,
    MetadataError,
    meta_of_mode,
    name_of,
)

ROOT_INODE = 2
DEBUGFS_SECONDS = 600
_ECHO = re.compile(rb"debugfs: ls -p <(\d+)>\n")
_RECORD = re.compile(rb"/(\d+)/(\d+)/(-?\d+)/(-?\d+)/([^/]*)/(\d*)/\n")
_FAST_LINK = b'Fast link dest: "'


def _debugfs() -> str:
    found = which("debugfs")
    if found is None:
        raise MetadataError(f"ext: {missing_message(['debugfs'])}")
    return found


def _batch(image: Path, commands: list[str]) -> bytes:
    """Run `commands` in one debugfs, read-only, catastrophic mode (no bitmaps needed)."""
    script = "".join(f"{command}\n" for command in commands).encode()
    env = {**os.environ, "DEBUGFS_PAGER": "__none__", "PAGER": "__none__"}
    try:
        proc = subprocess.run([_debugfs(), "-c", "-f", "-", str(image)], input=script,
                              capture_output=True, env=env, timeout=DEBUGFS_SECONDS, check=False)
    except subprocess.TimeoutExpired:
        raise MetadataError(f"ext: debugfs ran longer than {DEBUGFS_SECONDS}s") from None
    except OSError as exc:
        raise MetadataError(f"ext: cannot run debugfs: {exc}") from None
    if b"debugfs: " not in proc.stdout:
        err = proc.stderr.decode("utf-8", "replace").strip().splitlines()
        raise MetadataError(f"ext: debugfs cannot open the image: {err[-1] if err else 'no output'}")
    return proc.stdout


def _listings(output: bytes) -> dict[int, list[tuple[int, int, int, int, str, int]]]:
    """Records of each `ls -p <dir>` in the output, parsed in order: a record starts with '/'
    and an echo line with 'd', so a name that holds a newline cannot pass for an echo."""
    listings: dict[int, list[tuple[int, int, int, int, str, int]]] = {}
    current: list[tuple[int, int, int, int, str, int]] | None = None
    pos = 0
    while pos < len(output):
        if output.startswith(b"/", pos):
            rec = _RECORD.match(output, pos)
            if rec is not None:
                if current is not None:
                    ino, mode, uid, gid, name, size = rec.groups()
                    current.append((int(ino), int(mode, 8), int(uid) & 0xFFFFFFFF,
                                    int(gid) & 0xFFFFFFFF, name_of(name), int(size or 0)))
                pos = rec.end()
                continue
        echo = _ECHO.match(output, pos)
        if echo is not None:
            current = listings.setdefault(int(echo.group(1)), [])
            pos = echo.end()
            continue
        newline = output.find(b"\n", pos)
        pos = len(output) if newline < 0 else newline + 1
    return listings


def _walk(image: Path, result: dict[str, FileMeta], links: dict[str, tuple[int, int]]) -> None:
    level: list[tuple[int, str]] = [(ROOT_INODE, "")]
    seen = {ROOT_INODE}
    depth = 0
    while level:
        depth += 1
        if depth > MAX_DEPTH:
            raise MetadataError(f"ext: folders nested deeper than {MAX_DEPTH}", result)
        listings = _listings(_batch(image, [f"ls -p <{ino}>" for ino, _ in level]))
        below: list[tuple[int, str]] = []
        for dir_ino, prefix in level:
            for ino, mode, uid, gid, name, size in listings.get(dir_ino, []):
                if name in (".", "..") or not name:
                    continue
                if len(result) >= MAX_ENTRIES:
                    raise MetadataError(f"ext: more than {MAX_ENTRIES} entries", result)
                key = f"{prefix}{name}"
                meta = meta_of_mode(mode, uid, gid)
                result[key] = meta
                if meta.kind == DIR and ino not in seen:
                    seen.add(ino)
                    below.append((ino, key + "/"))
                elif stat.S_ISLNK(mode):
                    links[key] = (ino, size)
        level = below


def _link_targets(image: Path, links: dict[str, tuple[int, int]]) -> dict[int, str]:
    """Symlink targets by inode: fast links from `stat`, slow ones from `cat`.

    Outputs are taken in command order, each target by its length from `ls -p`, so that a
    target holding text like an echo line cannot shift the others."""
    sizes = {ino: min(size, MAX_LINK_BYTES) for ino, size in links.values()}
    inodes = sorted(sizes)
    targets: dict[int, str] = {}
    slow: list[int] = []
    output = _batch(image, [f"stat <{ino}>" for ino in inodes]) if inodes else b""
    pos = 0
    for i, ino in enumerate(inodes):
        start = output.find(f"debugfs: stat <{ino}>\n".encode(), pos)
        if start < 0:
            break
        pos = start
        if i + 1 < len(inodes):
            end = output.find(f"debugfs: stat <{inodes[i + 1]}>\n".encode(), pos)
        else:
            end = len(output)
        at = output.find(_FAST_LINK, pos, len(output) if end < 0 else end)
        if at < 0:
            slow.append(ino)
            continue
        at += len(_FAST_LINK)
        targets[ino] = name_of(output[at: at + sizes[ino]])
        pos = at + sizes[ino]
    output = _batch(image, [f"cat <{ino}>" for ino in slow]) if slow else b""
    pos = 0
    for i, ino in enumerate(slow):
        echo = f"debugfs: cat <{ino}>\n".encode()
        start = output.find(echo, pos)
        if start < 0:
            break
        at = start + len(echo)
        end = at + sizes[ino]
        following = f"debugfs: cat <{slow[i + 1]}>\n".encode() if i + 1 < len(slow) else b""
        whole = output.startswith(following, end) if following else end == len(output)
        if end <= len(output) and whole:
            targets[ino] = name_of(output[at:end])
            pos = end
        else:
            pos = at
    return targets


def read(path: Path) -> dict[str, FileMeta]:
    result: dict[str, FileMeta] = {}
    links: dict[str, tuple[int, int]] = {}
    _walk(path, result, links)
    try:
        targets = _link_targets(path, links)
    except MetadataError as exc:
        raise MetadataError(str(exc), result) from None
    for key, (ino, _) in links.items():
        if ino in targets:
            old = result[key]
            result[key] = FileMeta(kind=old.kind, mode=old.mode, uid=old.uid, gid=old.gid,
                                   link=targets[ino])
    return result
