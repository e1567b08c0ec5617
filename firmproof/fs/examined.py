"""Files an analyzer meant to read but did not (too big for its bounds): each one makes the
scan incomplete, named in the report's coverage, instead of passing for clean.

Analyzers run in the scan process and in forked workers; each process collects here and
`analysis` drains the list after every task and sends it back with the findings.
"""

from __future__ import annotations

from typing import Any

from firmproof.fs.rootfs import FileEntry, RootFS

_SKIPPED: list[dict[str, Any]] = []


def skipped(fs: RootFS, entry: FileEntry, analyzer: str, reason: str) -> None:
    """`analyzer` did not read `entry` of `fs`, for `reason` ('larger than 2 MiB')."""
    _SKIPPED.append({"analyzer": analyzer, "container": "/".join(p.strip("/") for p in fs.container[1:]),
                     "path": entry.report_path, "size": entry.size, "reason": reason})


def drain() -> list[dict[str, Any]]:
    """What was collected since the last call."""
    out = list(_SKIPPED)
    _SKIPPED.clear()
    return out


def mib(limit: int) -> str:
    return f"larger than {limit / (1 << 20):g} MiB"
