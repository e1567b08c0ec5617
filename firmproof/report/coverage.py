"""What a scan examined and what it did not: the report's `coverage` block and its verdict.

A scanner's silence is worth something only when it says what it looked at. For every file
searched for containers (the image first, then each nested file in which a container was
found) the bytes are split into identified containers (unpacked, failed, or left by a
limit) and unknown bytes; the unknown bytes are measured in blocks as filler (one byte value
repeated: erased flash, padding), high-entropy (encrypted, or compressed with a scheme no
extractor knows) or other (code, tables, headers). A scan is *complete* only when no
container failed, no extractor was missing, no limit was reached, no analyzer failed or
skipped a file, and the containers cover at least `min_examined` of the image's non-filler
bytes. Otherwise each reason is one entry of `coverage.incomplete`, and `scan` exits 3.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from firmproof.config import MIN_EXAMINED, Limits
from firmproof.fs.examined import Skipped
from firmproof.model import AnalyzerError, UnpackError

BLOCK = 4096                  # unknown bytes are classified block by block
HIGH_ENTROPY = 7.5            # bits per byte from which a block looks encrypted or compressed
READ = 1 << 20
MAX_LISTED = 200              # entries of a list kept in the report (the counts stay whole)

# Each unpack error is one of these kinds (the messages come from the driver, the extraction
# children, our readers and unblob's reports)
LIMIT = "limit"
MISSING = "missing-extractor"
METADATA = "metadata"
FAILED = "failed"
_LIMIT = re.compile(r"\b(?:byte|time|file|depth|size|container|memory) limit\b|\bgrows past\b"
                    r"|\bmore than \d+\b")


def error_kind(message: str) -> str:
    """The kind of one unpack or analysis error message."""
    if message.startswith("missing extractor"):
        return MISSING
    if _LIMIT.search(message):
        return LIMIT
    if message.startswith("metadata:"):
        return METADATA
    return FAILED


@dataclass
class Region:
    """A container found in a searched file, and what became of it."""

    start: int
    end: int
    format: str
    status: str = "not unpacked"     # unpacked | partial (errors) | failed | not unpacked
    packer: str = ""                 # 'upx': a packed program, the whole file, unpacked by its packer

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass
class Searched:
    """One file searched for containers: its regions, and its unknown bytes measured."""

    path: str                   # container chain label; '' is the image itself
    host: Path
    size: int
    regions: list[Region] = field(default_factory=list)
    unknown: int = 0
    filler: int = 0
    high_entropy: int = 0

    def identified(self) -> int:
        return _union(self.regions)

    def unpacked(self) -> int:
        return _union([r for r in self.regions if r.status in ("unpacked", "partial")])

    def measure(self) -> None:
        """Split the bytes outside every region into filler, high-entropy and other."""
        self.unknown = self.filler = self.high_entropy = 0
        try:
            with self.host.open("rb") as handle:
                for start, end in _gaps(self.regions, self.size):
                    self.unknown += end - start
                    filler, high = _classify(handle, start, end)
                    self.filler += filler
                    self.high_entropy += high
        except OSError:
            self.unknown = self.size - self.identified()

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "identified": self.identified(),
                "unpacked": self.unpacked(), "unknown": self.unknown, "filler": self.filler,
                "high_entropy": self.high_entropy,
                "containers": [{"offset": r.start, "size": r.size, "format": r.format,
                                "status": r.status, **({"packer": r.packer} if r.packer else {})}
                               for r in self.regions[:MAX_LISTED]]}


def _union(regions: list[Region]) -> int:
    total, reach = 0, 0
    for region in sorted(regions, key=lambda r: r.start):
        start = max(region.start, reach)
        if region.end > start:
            total += region.end - start
            reach = region.end
    return total


def _gaps(regions: list[Region], size: int) -> list[tuple[int, int]]:
    gaps, reach = [], 0
    for region in sorted(regions, key=lambda r: r.start):
        if region.start > reach:
            gaps.append((reach, min(region.start, size)))
        reach = max(reach, region.end)
    if reach < size:
        gaps.append((reach, size))
    return [(s, e) for s, e in gaps if e > s]


def _classify(handle: Any, start: int, end: int) -> tuple[int, int]:
    """(filler, high-entropy) bytes of [start, end) of the file, in BLOCK-sized blocks; a last
    block shorter than BLOCK is filler if it is one byte value, else 'other' (too short for
    its entropy to mean anything)."""
    filler = high = 0
    handle.seek(start)
    left = end - start
    while left > 0:
        data = handle.read(min(READ, left))
        if not data:
            break
        left -= len(data)
        whole = len(data) // BLOCK * BLOCK
        if whole:
            blocks = np.frombuffer(data, dtype=np.uint8, count=whole).reshape(-1, BLOCK)
            rows = np.arange(blocks.shape[0], dtype=np.int64)[:, None] * 256
            counts = np.bincount((blocks + rows).ravel(),
                                 minlength=blocks.shape[0] * 256).reshape(-1, 256)
            filler += int((counts.max(axis=1) == BLOCK).sum()) * BLOCK
            p = counts / BLOCK
            with np.errstate(divide="ignore", invalid="ignore"):
                entropy = -np.where(p > 0, p * np.log2(p), 0.0).sum(axis=1)
            high += int((entropy >= HIGH_ENTROPY).sum()) * BLOCK
        tail = data[whole:]
        if tail and tail.count(tail[:1]) == len(tail):
            filler += len(tail)
    return filler, high


@dataclass
class Coverage:
    """The report's `coverage` block."""

    image: Searched
    layers: list[Searched]
    limits: dict[str, Any]
    used: dict[str, Any]
    files: dict[str, Any]
    incomplete: list[dict[str, str]]
    min_examined: float

    @property
    def complete(self) -> bool:
        return not self.incomplete

    def examined_share(self) -> float:
        return examined_share(self.image)

    def to_json(self) -> dict[str, Any]:
        return {"complete": self.complete,
                "incomplete": self.incomplete[:MAX_LISTED],
                "incomplete_count": len(self.incomplete),
                "examined_share": round(self.examined_share(), 4),
                "min_examined_share": self.min_examined,
                "image": self.image.to_json(),
                "layers": [s.to_json() for s in self.layers[:MAX_LISTED]],
                "limits": self.limits, "used": self.used, "files": self.files}


def examined_share(image: Searched) -> float:
    """Share of the image's bytes that are neither filler nor outside an unpacked container."""
    meaningful = image.size - image.filler
    return 1.0 if meaningful <= 0 else min(1.0, image.unpacked() / meaningful)


def size_text(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def build(image: Searched, layers: list[Searched], limits: Limits, budget: int, used: dict[str, Any],
          unpack_errors: Sequence[UnpackError], analysis_errors: Sequence[AnalyzerError],
          skips: Sequence[Skipped], files: int, min_examined: float = MIN_EXAMINED,
          by_type: dict[str, int] | None = None, containers: int | None = None) -> Coverage:
    """The coverage of a scan and the reasons, if any, it is incomplete."""
    incomplete: list[dict[str, str]] = []
    for failure in unpack_errors:
        kind = failure.kind or error_kind(failure.error)
        incomplete.append({"kind": kind if kind != FAILED else "unpack-error",
                           "path": failure.path, "reason": failure.error})
    for error in analysis_errors:
        kind = "limit" if error_kind(error.error) == LIMIT else "analysis-error"
        incomplete.append({"kind": kind, "path": error.path,
                           "reason": f"analyzer {error.analyzer}: {error.error}"})
    for skip in skips:
        incomplete.append({"kind": "file-skipped", "path": f"{skip.container}{skip.path}",
                           "reason": f"analyzer {skip.analyzer} skipped it: {skip.reason}"})
    share = examined_share(image)
    if share < min_examined:
        not_examined = image.size - image.filler - image.unpacked()
        incomplete.append({"kind": "unexamined-bytes", "path": "",
                           "reason": f"{share:.0%} of the image examined (below {min_examined:.0%}): "
                                     f"{size_text(not_examined)} outside any unpacked container, "
                                     f"{size_text(image.high_entropy)} of them high-entropy "
                                     "(encrypted or compressed with an unknown scheme)"})
    reached = sorted({_limit_name(i["reason"]) for i in incomplete if i["kind"] == LIMIT})
    if containers is None:
        containers = limits.container_budget(image.size)
    return Coverage(
        image=image, layers=layers, incomplete=incomplete, min_examined=min_examined,
        limits={"max_depth": limits.max_depth, "max_bytes": limits.max_bytes, "max_ratio": limits.max_ratio,
                "byte_budget": budget, "max_files": limits.max_files, "max_seconds": limits.max_seconds,
                "max_memory": limits.max_memory, "max_containers": limits.max_containers,
                "container_budget": containers,
                "reached": reached},
        used=used,
        files={"entries": files, "by_type": by_type or {}, "skipped": len(skips),
               "skips": [s.to_json() for s in skips[:MAX_LISTED]]})


def _limit_name(reason: str) -> str:
    m = re.search(r"\b(byte|time|file|depth|size|container|memory) limit\b", reason)
    return {"byte": "bytes", "size": "bytes", "time": "seconds", "file": "files", "depth": "depth",
            "container": "containers", "memory": "memory"}[m.group(1)] if m else "bytes"


def headline(coverage: dict[str, Any]) -> str:
    """The first line of a summary, from a report's coverage block: 'complete: …' or
    'incomplete (…): …'."""
    share = f"{coverage['examined_share']:.0%} of the image examined"
    incomplete = coverage["incomplete"]
    if coverage["complete"]:
        return f"complete: every container unpacked, {share}, no limit reached"
    kinds: dict[str, int] = {}
    for item in incomplete:
        kinds[item["kind"]] = kinds.get(item["kind"], 0) + 1
    parts = [f"{kind} ({n})" for kind, n in kinds.items()]
    if coverage.get("incomplete_count", len(incomplete)) > len(incomplete):
        parts.append(f"{coverage['incomplete_count']} reasons in all")
    first = incomplete[0]
    where = f"{first['path']}: " if first["path"] else ""
    return f"incomplete ({share}): {', '.join(parts)}; first: {where}{first['reason']}"


def coverage_line(coverage: dict[str, Any]) -> str:
    """One line of figures: the image's bytes and the limits against what was used."""
    image, used, limits = coverage["image"], coverage["used"], coverage["limits"]
    return (f"coverage: {size_text(image['unpacked'])} of {size_text(image['size'])} in unpacked containers, "
            f"{size_text(image['unknown'])} unknown ({size_text(image['filler'])} filler, "
            f"{size_text(image['high_entropy'])} high-entropy); limits: "
            f"{size_text(used['bytes'])} of {size_text(limits['byte_budget'])} written, "
            f"{used['files']} of {limits['max_files']} files, "
            + (f"{used['containers']} of {limits['container_budget']} containers, "
               if "containers" in used and "container_budget" in limits else "")
            + f"depth {used['depth']} of {limits['max_depth']}")
