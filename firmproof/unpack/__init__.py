"""Unpacking: every layer of an image, with unblob and firmproof's own readers."""

from __future__ import annotations

import logging
import multiprocessing
import sys


def _import_unblob_pool() -> None:
    """unblob.pool sets the start method ("fork") when it is imported, which multiprocessing
    refuses once anything in the process has set or read it (a batch's pool, a host program,
    a library reading `get_start_method()`): then any later import of unblob failed, and with it
    every scan of that process. Import it first, here, with the start method unset; unblob's
    own choice (fork) is what firmproof's extraction and analysis children expect."""
    if "unblob.pool" in sys.modules:
        return
    if multiprocessing.get_start_method(allow_none=True) is not None:
        multiprocessing.set_start_method(None, force=True)  # type: ignore[arg-type]
    import unblob.pool  # noqa: F401


_import_unblob_pool()


def quiet_unblob_logs() -> None:
    """unblob logs through structlog, which, unless the program configured it, prints every event
    at every level through its console renderer, rich tracebacks included: a program calling
    firmproof as a library (or a test) printed megabytes per image and spent most of its scan on
    them (3 of a TP-Link image's 4 minutes). Where nobody configured structlog, unblob's events
    are kept to the level the program's logging asks for (WARNING unless it said otherwise); the
    command line and the batch workers configure it themselves."""
    import structlog

    if not structlog.is_configured():
        level = logging.getLogger().getEffectiveLevel()
        structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(level))
