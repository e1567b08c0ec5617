"""Files an analyzer meant to read but did not (too big for its bounds): each one makes the
scan incomplete, named in the report's coverage, instead of passing for clean.

Analyzers run in the scan process and in forked workers; each process collects here and
`analysis` drains the list after every task and sends it back with the findings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from firmproof.fs.rootfs import FileEntry, RootFS


@dataclass(frozen=True, order=True)
class Skipped:
    """A file `analyzer` did not read, for `reason` ('larger than 2 MiB'): one entry of the
    report's coverage.files.skips."""

    container: str
    path: str
    analyzer: str
    size: int
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"analyzer": self.analyzer, "container": self.container, "path": self.path,
                "size": self.size, "reason": self.reason}


_SKIPPED: list[Skipped] = []


def skipped(fs: RootFS, entry: FileEntry, analyzer: str, reason: str) -> None:
    """`analyzer` did not read `entry` of `fs`, for `reason` ('larger than 2 MiB')."""
    _SKIPPED.append(Skipped("/".join(p.strip("/") for p in fs.container[1:]), entry.report_path,
                            analyzer, entry.size, reason))


def drain() -> list[Skipped]:
    """What was collected since the last call."""
    out = list(_SKIPPED)
    _SKIPPED.clear()
    return out


def mib(limit: int) -> str:
    return f"larger than {limit / (1 << 20):g} MiB"
