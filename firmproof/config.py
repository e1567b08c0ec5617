"""The one place that knows defaults and limits."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from firmproof.model import Severity

GiB = 1024 ** 3
MIN_EXAMINED = 0.9     # share of the image's non-filler bytes that unpacked containers must
                       # cover for a scan to be complete (see firmproof/coverage.py)


@dataclass(frozen=True)
class Limits:
    """Bounds on unpacking; every breach is reported in `unpack.errors`."""

    max_depth: int = 8                 # nested containers below the image
    max_bytes: int = 8 * GiB           # total bytes extracted (unblob has no zip-bomb limit)
    max_ratio: int = 200               # extracted bytes per byte of image, whichever is smaller
    max_files: int = 500_000           # entries extracted
    max_seconds: float = 1800.0        # wall time for the whole unpacking
    max_memory: int = 8 * GiB          # address space of each extraction child and its extractors
    carve_min_size: int = 512          # smaller unknown blobs are not searched for containers

    def byte_budget(self, image_size: int) -> int:
        return min(self.max_bytes, max(image_size * self.max_ratio, 64 * 1024 * 1024))


@dataclass(frozen=True)
class ScanConfig:
    image: Path
    workdir: Path | None = None        # None: a temporary directory, removed afterwards
    keep_workdir: bool = False
    limits: Limits = field(default_factory=Limits)
    jobs: int = field(default_factory=lambda: max(1, os.cpu_count() or 1))
    vendor: str | None = None
    product: str | None = None
    version: str | None = None
    fail_on: Severity | None = None
    progress: bool = False
    min_examined: float = MIN_EXAMINED
