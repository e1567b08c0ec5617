"""The byte budget of an extraction, as our own unblob handlers see it in the extraction child."""

from __future__ import annotations

import resource

from firmproof.config import Limits


def budget_left() -> int:
    """Bytes this extraction may write: the child's RLIMIT_FSIZE, set by the driver."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    return Limits().max_bytes if soft == resource.RLIM_INFINITY else soft
