"""The extraction child's outcome reaches the parent whatever the timing."""

from __future__ import annotations

import multiprocessing
import os
import time
from multiprocessing.connection import Connection
from pathlib import Path

import pytest
from conftest import need_tools

from firmproof.fixtures import pack
from firmproof.unpack.driver import find_chunks
from firmproof.unpack.extract import extract_chunk


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
    outcome = extract_chunk(chunk, chunk.handler.NAME, image, tmp_path / "out",
                            byte_budget=64 << 20, deadline=time.monotonic() + 120)
    assert outcome.errors == []
    assert outcome.meta is not None and outcome.meta["bin/sush"].mode & 0o7777 == 0o4755
