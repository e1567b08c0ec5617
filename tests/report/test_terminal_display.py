"""The scan's progress display on a terminal: drawn by the scan's own thread, so the scan
that forks its extraction and analysis children forks from a process of one thread."""

from __future__ import annotations

import io
import threading

from rich.console import Console

from firmproof.report.terminal import ScanDisplay


def test_the_progress_display_starts_no_thread():
    before = threading.active_count()
    display = ScanDisplay(enabled=True)
    screen = io.StringIO()
    display.console = Console(file=screen, force_terminal=True, width=120)
    with display:
        assert display._progress is not None            # a terminal: the live display is on
        display.progress("squashfs@0x0", 1, 42)
        assert threading.active_count() == before
    assert "unpacking layer 1 (42 files so far): squashfs@0x0" in screen.getvalue()
