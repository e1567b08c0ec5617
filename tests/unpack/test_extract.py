"""The extraction child's outcome reaches the parent whatever the timing."""

from __future__ import annotations

import multiprocessing
import os
import time
from multiprocessing.connection import Connection
from pathlib import Path

import pytest
from conftest import need_tools

from firmproof.testing.fixtures import pack
from firmproof.unpack.driver import find_chunks
from firmproof.unpack.extract import extract_chunk, finish


def test_an_outcome_sent_right_after_a_poll_timed_out_is_still_read(tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch):
    """On a loaded machine the parent can lose the CPU between its timed poll of the pipe and
    its check that the child still lives, and the child send its outcome and exit in between.
    That outcome (here the file system's metadata, the only place a setuid bit survives) must
    be read, not taken for a crash: otherwise FP-SUID-001 vanished from a scan, now and then,
    with an 'extractor crashed (exit code 0)' unpack error."""
    need_tools("mksquashfs")
    tree = tmp_path / "root"
    (tree / "bin").mkdir(parents=True)
    shell = tree / "bin" / "sush"
    shell.write_bytes(b"#!/bin/sh\nexec /bin/sh\n")
    shell.chmod(0o4755)
    image = pack(tree, "squashfs-gzip", tmp_path / "fs.sqfs")
    (chunk,) = find_chunks(image)

    parent = os.getpid()
    real_poll = Connection.poll

    def late_poll(self: Connection, timeout: float | None = 0.0) -> bool:
        """A timed poll that returns 'nothing yet' once the child has written and exited."""
        if os.getpid() != parent or not timeout:
            return real_poll(self, timeout)
        real_poll(self, 60)                     # the child writes its outcome...
        limit = time.monotonic() + 60
        while multiprocessing.active_children() and time.monotonic() < limit:
            time.sleep(0.01)                    # ...and exits, before this poll returns
        return False

    monkeypatch.setattr(Connection, "poll", late_poll)
    outcome = finish(extract_chunk(chunk, chunk.handler.NAME, image, tmp_path / "out",
                                   byte_budget=64 << 20, deadline=time.monotonic() + 120))
    assert outcome.errors == []
    assert outcome.meta is not None and outcome.meta["bin/sush"].mode & 0o7777 == 0o4755


def _confined(box: Path, outside: Path, conn: Connection) -> None:
    """In a forked child: confine it to `box`, then try to write inside, outside, and outside
    through a program it starts and through a symlink that leads out."""
    import subprocess

    from firmproof.unpack.extract import confine

    said = [confine(box)]
    (box / "inside").write_text("ok")
    said.append((box / "inside").read_text())
    for attempt in (lambda: (outside / "direct").write_text("escaped"),
                    lambda: subprocess.run(["sh", "-c", f"echo escaped > {outside}/by-program"], check=True,
                                           capture_output=True),
                    lambda: (box / "link" / "through-link").write_text("escaped")):
        try:
            attempt()
            said.append("written")
        except (OSError, subprocess.CalledProcessError):
            said.append("refused")
    conn.send(said)
    conn.close()


def test_extraction_children_can_write_in_their_box_only(tmp_path: Path) -> None:
    """The sandbox of every extraction child (Landlock): its own folder, nothing else, for it
    and for the extractors it runs; where the kernel has no Landlock it says so."""
    box, outside = tmp_path / "box", tmp_path / "outside"
    box.mkdir()
    outside.mkdir()
    (box / "link").symlink_to(outside)
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_confined, args=(box, outside, child))
    process.start()
    said = parent.recv()
    process.join()
    if said[0] != "landlock":
        pytest.skip(f"this kernel has no Landlock ({said[0]}): the report's coverage.used.sandbox says so")
    assert said == ["landlock", "ok", "refused", "refused", "refused"]
    assert list(outside.iterdir()) == []


def _sandbox_here(box: Path, conn: Connection) -> None:
    from firmproof.unpack.extract import confine

    conn.send(confine(box))
    conn.close()


def test_the_report_names_the_sandbox(tmp_path: Path) -> None:
    """coverage.used.sandbox: 'landlock' where this kernel confines a child, else why not."""
    need_tools("mkfs.cramfs")
    from conftest import scan_report

    box = tmp_path / "probe"
    box.mkdir()
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_sandbox_here, args=(box, child))
    process.start()
    here = parent.recv()
    process.join()
    tree = tmp_path / "tree" / "etc"
    tree.mkdir(parents=True)
    (tree / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    image = pack(tmp_path / "tree", "cramfs", tmp_path / "root.cramfs")      # 7z runs in the box
    report = scan_report(image, tmp_path)
    assert report["coverage"]["used"]["sandbox"] == here
