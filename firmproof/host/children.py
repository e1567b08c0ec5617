"""What every forked child of a scan does first, and how the scan stops on a signal.

A scan forks extraction children (each in its own process group, with the external
extractors it runs) and analysis workers. None may outlive firmproof: each child asks the
kernel to kill it when its parent dies (PR_SET_PDEATHSIG, even when the parent is killed
with SIGKILL), and ignores the terminal's SIGINT, which the parent handles for all (it kills
its children and removes the temporary folder). SIGTERM and SIGHUP stop the parent the same
way as SIGINT: `Stopped` is raised in the main thread (and again by `check` at the scan's
safe points, should the first one be swallowed), the `finally` blocks kill and reap the
children and remove the work folder, and the CLI prints one line and exits 128+N.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import signal
import sys
from types import FrameType

PR_SET_PDEATHSIG = 1
STOP_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


class Stopped(BaseException):
    """The scan was stopped by a signal; not an error of the image or of firmproof."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


_PENDING: list[int] = []


def _stop(signum: int, _frame: FrameType | None) -> None:
    for other in STOP_SIGNALS:          # the clean-up that follows is not interrupted again
        signal.signal(other, signal.SIG_IGN)
    _PENDING.append(signum)
    raise Stopped(signum)


def check() -> None:
    """Raise `Stopped` if a stop signal came: the scan's loops call it at safe points, since an
    exception raised by the handler itself is lost when the signal lands in code that ignores
    exceptions (a fork's at-fork hooks, a finalizer)."""
    if _PENDING:
        raise Stopped(_PENDING[0])


def _unraisable(info: sys.UnraisableHookArgs) -> None:
    """A `Stopped` raised where Python cannot propagate it is not worth a traceback: `check`
    raises it again at the next safe point."""
    if not isinstance(info.exc_value, Stopped):
        sys.__unraisablehook__(info)


def handle_stop_signals() -> None:
    """In the CLI's process: SIGTERM, SIGHUP and SIGINT raise `Stopped`."""
    sys.unraisablehook = _unraisable
    for signum in STOP_SIGNALS:
        signal.signal(signum, _stop)


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    try:
        return ctypes.CDLL(name or "libc.so.6", use_errno=True)
    except OSError:
        return None


_LIBC = _libc()


def child_setup() -> None:
    """First thing in a forked child: die with the parent, leave signals to the parent."""
    if _LIBC is not None:
        with contextlib.suppress(AttributeError, OSError):
            _LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
