"""unpack → index → analyze → report. Short, and with no format knowledge."""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmproof import __version__
from firmproof.analysis import Analysis
from firmproof.components import Component, merge
from firmproof.config import ScanConfig
from firmproof.coverage import Coverage, Searched, build
from firmproof.model import Finding
from firmproof.unpack.driver import UnpackFailed, UnpackResult, unpack

log = logging.getLogger(__name__)

SCHEMA = "firmproof.report/1"


class ImageError(Exception):
    """The image cannot be read at all: a clear one-line message, exit code 2."""


@dataclass
class ScanResult:
    image_name: str
    image_sha256: str
    image_size: int
    config: ScanConfig
    unpacked: UnpackResult
    findings: list[Finding] = field(default_factory=list)
    components: list[Component] = field(default_factory=list)   # what is inside: the SBOM
    errors: list[dict[str, str]] = field(default_factory=list)
    coverage: Coverage | None = None
    seconds: float = 0.0

    @property
    def complete(self) -> bool:
        return self.coverage is None or self.coverage.complete

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "tool": {"name": "firmproof", "version": __version__},
            "image": {"name": self.image_name, "sha256": self.image_sha256, "size": self.image_size,
                      "vendor": self.config.vendor, "product": self.config.product,
                      "version": self.config.version},
            "unpack": {"files": self.unpacked.files, "bytes": self.unpacked.bytes,
                       "depth": self.unpacked.depth, "containers": self.unpacked.containers(),
                       "errors": self.unpacked.errors},
            "findings": [f.to_json(self.image_sha256) for f in self.findings],
            "errors": self.errors,
            **({"coverage": self.coverage.to_json()} if self.coverage is not None else {}),
            "stats": {"seconds": round(self.seconds, 3),
                      "unpack_seconds": round(self.unpacked.seconds, 3)},
        }


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while block := handle.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()


def check_image(image: Path) -> None:
    if not image.exists():
        raise ImageError(f"{image}: no such file")
    if image.is_dir():
        raise ImageError(f"{image}: is a directory, not a firmware image")
    if not image.is_file():
        raise ImageError(f"{image}: not a regular file")
    try:
        with image.open("rb") as handle:
            handle.read(1)
    except OSError as exc:
        raise ImageError(f"{image}: cannot read: {exc.strerror or exc}") from None
    if image.stat().st_size == 0:
        raise ImageError(f"{image}: empty file")


def scan(config: ScanConfig, progress: Callable[[str, int, int], None] | None = None) -> ScanResult:
    """Scan one image end to end."""
    started = time.monotonic()
    image = config.image
    check_image(image)
    digest: list[str] = []

    def idle() -> None:
        """While an extraction child works: the image's hash, the analysis's waiting work."""
        if not digest:
            digest.append(sha256_file(image))
        analysis.idle()

    workdir = Path(tempfile.mkdtemp(prefix="firmproof-", dir=config.workdir)) if config.workdir \
        else Path(tempfile.mkdtemp(prefix="firmproof-"))
    analysis = Analysis(deadline=started + config.limits.max_seconds, components=True)
    try:
        unpacked = unpack(image, workdir, config.limits, progress,
                          on_layer=lambda layer: analysis.add(layer.index.views), idle=idle,
                          keep=config.keep_workdir)
        if not unpacked.layers:
            reasons = "; ".join(e["error"] for e in unpacked.errors[:3])
            found = [r for s in unpacked.searched for r in s.regions]
            what = (f"{len(found)} container(s) found ({', '.join(sorted({r.format for r in found}))}), "
                    "none could be unpacked" if found else "no known container or file system found")
            raise UnpackFailed(f"{image.name}: {what}" + (f" ({reasons})" if reasons else ""))
        result = ScanResult(image_name=image.name, image_sha256=digest[0] if digest else sha256_file(image),
                            image_size=image.stat().st_size, config=config, unpacked=unpacked)
        result.findings = analysis.finish()
        result.components = merge(analysis.found)
        result.errors.extend(analysis.errors)
        result.coverage = coverage_of(result, analysis.skips)
    except BaseException:
        analysis.abort()        # stopped or failed: no worker outlives the scan
        raise
    finally:
        if not config.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    result.seconds = time.monotonic() - started
    return result


def coverage_of(result: ScanResult, skips: list[dict[str, Any]]) -> Coverage:
    """What the scan examined, measured while the unpacked files are still there."""
    unpacked, config = result.unpacked, result.config
    searched = unpacked.searched
    if searched and not searched[0].path:
        image = searched[0]
    else:       # the image's own search failed: all of it is unknown
        image = Searched("", config.image, result.image_size)
        image.measure()
    layers = [s for s in searched if s is not image]
    # no timing here: a report is the same for the same image (stats hold the seconds)
    used = {"depth": unpacked.depth, "bytes": unpacked.written, "files": unpacked.files,
            "containers": unpacked.extractions,
            "searched_without_container": unpacked.searched_empty, "sandbox": unpacked.sandbox,
            "identical_not_unpacked": len(unpacked.identical),
            "identical": [{"path": path, "same_as": first} for path, first in unpacked.identical[:20]]}
    by_type = Counter(e.ftype for layer in unpacked.layers for e in layer.index.tree.files())
    return build(image, layers, config.limits, unpacked.budget, used, unpacked.errors, result.errors,
                 skips, unpacked.files, config.min_examined, by_type=dict(sorted(by_type.items())),
                 containers=unpacked.container_budget or None)
