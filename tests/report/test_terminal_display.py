"""The scan's progress display on a terminal: drawn by the scan's own thread, so the scan
that forks its extraction and analysis children forks from a process of one thread."""

from __future__ import annotations

import io
import threading
from typing import TypeVar

import pytest
from rich.console import Console

from firmproof.batch import Outcome
from firmproof.report.terminal import BatchDisplay, ScanDisplay

D = TypeVar("D", ScanDisplay, BatchDisplay)


def _on_a_screen(display: D) -> tuple[D, io.StringIO]:
    """`display` drawing on a terminal of 120 columns (as TERM says it is) kept in memory."""
    screen = io.StringIO()
    display.console = Console(file=screen, force_terminal=True, width=120)
    return display, screen


def test_the_progress_display_starts_no_thread(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TERM", "xterm-256color")
    before = threading.active_count()
    display, screen = _on_a_screen(ScanDisplay(enabled=True))
    with display:
        assert display._progress is not None            # a terminal: the live display is on
        display.progress("squashfs@0x0", 1, 42)
        assert threading.active_count() == before
    assert "unpacking layer 1 (42 files so far): squashfs@0x0" in screen.getvalue()


def test_a_dumb_terminal_gets_a_line_per_layer(monkeypatch: pytest.MonkeyPatch):
    # TERM=dumb cannot redraw a line in place: the live display would show nothing at all
    monkeypatch.setenv("TERM", "dumb")
    display, screen = _on_a_screen(ScanDisplay(enabled=True))
    with display:
        assert display._progress is None
        display.progress("squashfs@0x0", 1, 42)
        display.progress("gzip@0x40", 2, 43)
    assert screen.getvalue().count("unpacking ") == 2
    assert "squashfs@0x0" in screen.getvalue() and "gzip@0x40" in screen.getvalue()


def test_a_batch_on_a_dumb_terminal_gets_a_line_per_image(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TERM", "dumb")
    display, screen = _on_a_screen(BatchDisplay(enabled=True))
    with display:
        assert display._progress is None
        display.planned(2, 0)
        display.finished(Outcome(path="a.bin"), 3)
        display.finished(Outcome(path="b.bin", error="truncated squashfs"), 0)
    assert "[1/2] scanned a.bin: 3 findings" in screen.getvalue()
    assert "[2/2] failed b.bin: truncated squashfs" in screen.getvalue()
