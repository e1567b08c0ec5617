"""unpack → index → analyze → report. Short, and with no format knowledge."""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from firmproof.analyzers.schedule import Analysis
from firmproof.config import ScanConfig
from firmproof.device.components import merge
from firmproof.device.identity import Place, headers, identify
from firmproof.fs.examined import Skipped
from firmproof.fs.filetype import ELF
from firmproof.report import Container, Image, Report, Unpacked
from firmproof.report.coverage import Coverage, Searched, build
from firmproof.unpack.driver import Layer, Progress, UnpackFailed, Unpacking, UnpackResult, chain_label

log = logging.getLogger(__name__)


class ImageError(Exception):
    """The image cannot be read at all: a clear one-line message, exit code 2."""


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


def scan(config: ScanConfig, progress: Callable[[str, int, int], None] | None = None, *,
         unpacked: Callable[[UnpackResult], None] | None = None) -> Report:
    """Scan one image end to end. `unpacked`, if given, is called with the unpacking's result
    while its files are still there (diff reads the inventory of the layers so)."""
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
        unpacking = Unpacking(image, workdir, config.limits, keep=config.keep_workdir)
        events = iter(unpacking)
        try:
            for event in events:
                if isinstance(event, Layer):
                    analysis.add(event.index.views)     # analysed while the layers below are unpacked
                elif isinstance(event, Progress):
                    if progress is not None:
                        progress(event.container, event.layers, event.files)
                else:
                    idle()
        finally:
            events.close()      # stopped or failed here: an extraction child at work goes at once
        result = unpacking.result
        if not result.layers:
            reasons = "; ".join(e.error for e in result.errors[:3])
            found = [r for s in result.searched for r in s.regions]
            what = (f"{len(found)} container(s) found ({', '.join(sorted({r.format for r in found}))}), "
                    "none could be unpacked" if found else
                    "an ELF file that is no whole program (cut short or damaged): not read"
                    if result.image_type == ELF else "no known container or file system found")
            raise UnpackFailed(f"{image.name}: {what}" + (f" ({reasons})" if reasons else ""))
        report = Report(
            image=Image(name=image.name, sha256=digest[0] if digest else sha256_file(image),
                        size=image.stat().st_size, vendor=config.vendor, product=config.product,
                        version=config.version),
            unpack=Unpacked(files=result.files, bytes=result.bytes, depth=result.depth,
                            containers=tuple(Container(chain_label(layer.container), layer.format)
                                             for layer in result.layers),
                            errors=tuple(result.errors)),
            unpack_seconds=result.seconds)
        report.findings = analysis.finish()
        report.components = merge(analysis.found)
        report.errors = list(analysis.errors)
        report.coverage = coverage_of(config, report, result, analysis.skips).to_json()
        views = [view for layer in result.layers for view in layer.index.views]
        report.image = replace(report.image, guessed=identify(
            views, headers(image, report.image.sha256, header_places(result.layers))))
        if unpacked is not None:
            unpacked(result)
    except BaseException:
        analysis.abort()        # stopped or failed: no worker outlives the scan
        raise
    finally:
        if not config.keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    report.seconds = time.monotonic() - started
    return report


def header_places(layers: list[Layer]) -> list[Place]:
    """Each layer's container chain, format and offset, with the tree of the layer that holds the
    file it was found in (None: the image): where its header is read."""
    trees = {layer.container: layer.index.tree for layer in layers}
    return [(layer.container, layer.format, layer.offset,
             None if len(layer.container) == 2 else trees.get(layer.container[:-2]))
            for layer in layers if len(layer.container) == 2 or layer.container[:-2] in trees]


def coverage_of(config: ScanConfig, report: Report, unpacked: UnpackResult,
                skips: list[Skipped]) -> Coverage:
    """What the scan examined, measured while the unpacked files are still there."""
    searched = unpacked.searched
    if searched and not searched[0].path:
        image = searched[0]
    else:       # the image's own search failed: all of it is unknown
        image = Searched("", config.image, report.image.size)
        image.measure()
    layers = [s for s in searched if s is not image]
    # no timing here: a report is the same for the same image (stats hold the seconds)
    used = {"depth": unpacked.depth, "bytes": unpacked.written, "files": unpacked.files,
            "containers": unpacked.extractions,
            "searched_without_container": unpacked.searched_empty, "sandbox": unpacked.sandbox,
            "identical_not_unpacked": len(unpacked.identical),
            "identical": [{"path": path, "same_as": first} for path, first in unpacked.identical[:20]]}
    by_type = Counter(e.ftype for layer in unpacked.layers for e in layer.index.tree.files())
    return build(image, layers, config.limits, unpacked.budget, used, unpacked.errors,
                 report.errors, skips, unpacked.files, config.min_examined,
                 by_type=dict(sorted(by_type.items())), containers=unpacked.container_budget or None)
