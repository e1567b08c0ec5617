"""Unpacking: every layer of an image, with unblob and firmproof's own readers."""

from __future__ import annotations

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
