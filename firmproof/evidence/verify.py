"""Re-check a report against its image, finding by finding, without running any analyzer.

`verify` unpacks the image again with the same driver and, for each finding, goes from
`container` + `path` back to the file, then checks what the report claims: the file is
there, its sha256 is `evidence.sha256`, it holds `length` bytes at `offset`, those bytes
render to `evidence.excerpt`, and the finding id recomputes. Detection is not involved:
a finding holds because its bytes are in the image, whatever firmproof thinks of them.
The image's guessed identity (`image.guessed`) is checked the same way, field by field; a
guess read from a header of the image itself (container: the image alone, path '') names
bytes of the image file.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmproof.config import Limits
from firmproof.device.identity import Guess
from firmproof.fs.rootfs import RootFS
from firmproof.model import EXCERPT_MAX, Evidence, Finding, excerpt_at, finding_id, in_bounds
from firmproof.report import Report
from firmproof.report.file import ReportFileError
from firmproof.unpack.driver import Layer, UnpackResult, unpack


class ReportError(ReportFileError):
    """The report cannot be read or is not a firmproof report (exit code 2)."""


@dataclass
class Check:
    """Whether one finding of the report holds against the image, and why not."""

    index: int
    id: str
    rule: str
    place: str
    reasons: list[str] = field(default_factory=list)

    @property
    def holds(self) -> bool:
        return not self.reasons

    def to_json(self) -> dict[str, Any]:
        return {"index": self.index, "id": self.id, "rule": self.rule, "place": self.place,
                "holds": self.holds, "reasons": self.reasons}


@dataclass
class Verification:
    image_name: str
    image_reasons: list[str] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)
    identity: list[Check] = field(default_factory=list)     # image.guessed, field by field
    signature: str | None = None           # None: not asked; otherwise what the check found
    signature_ok: bool = True

    @property
    def holds(self) -> bool:
        return not self.image_reasons and self.signature_ok and all(c.holds for c in self.checks) \
            and all(c.holds for c in self.identity)

    def to_json(self) -> dict[str, Any]:
        return {"holds": self.holds, "image": {"name": self.image_name, "holds": not self.image_reasons,
                                               "reasons": self.image_reasons},
                "signature": None if self.signature is None else
                {"holds": self.signature_ok, "detail": self.signature},
                "findings": [c.to_json() for c in self.checks],
                "held": sum(c.holds for c in self.checks), "total": len(self.checks),
                **({"identity": [c.to_json() for c in self.identity]} if self.identity else {})}


def load_report(path: Path) -> Report:
    """The report at `path`, bounded and type-checked (firmproof.report.file): ReportError if not."""
    try:
        return Report.load(path)
    except ReportFileError as exc:
        raise ReportError(str(exc)) from None


class Places:
    """From (container below the image, report path) back to a view and the path in it."""

    def __init__(self, layers: list[Layer]) -> None:
        self._layers: dict[tuple[str, ...], list[RootFS]] = {}
        for layer in layers:
            views = [*layer.index.views, layer.index.tree]
            self._layers.setdefault(layer.container[1:], views)
        self._paths: dict[tuple[str, ...], dict[str, tuple[RootFS, str]]] = {}

    def has_layer(self, container: tuple[str, ...]) -> bool:
        return container[1:] in self._layers

    def layers(self) -> Iterator[tuple[tuple[str, ...], list[RootFS]]]:
        yield from self._layers.items()

    def find(self, container: tuple[str, ...], report_path: str) -> tuple[RootFS, str] | None:
        key = container[1:]
        if key not in self._layers:
            return None
        if key not in self._paths:
            paths: dict[str, tuple[RootFS, str]] = {}
            for view in self._layers[key]:
                for entry in view.entries():
                    paths.setdefault(entry.report_path, (view, entry.path))
            self._paths[key] = paths
        return self._paths[key].get(report_path)


def chain(container: list[str] | tuple[str, ...]) -> str:
    return " › ".join(container)


def check_finding(index: int, finding: Finding, image_sha256: str, places: Places) -> Check:
    """Everything a finding claims, checked against the unpacked image."""
    fid, rule, path, container = finding.finding_id(image_sha256), finding.rule.id, finding.path, \
        finding.container
    offset, length = finding.evidence.offset, finding.evidence.length
    check = Check(index, fid, rule, f"{chain(container)}:{path}@{offset}+{length}")
    expected_id = finding_id(image_sha256, rule, container, path, offset, length)
    if fid != expected_id:
        check.reasons.append(f"id does not recompute from image sha256, rule and place (got {fid}, "
                             f"expected {expected_id})")
    if not places.has_layer(container):
        check.reasons.append(f"no container {chain(container[1:]) or '(image)'} in the image")
        return check
    found = places.find(container, path)
    if found is None:
        check.reasons.append(f"no file {path} in {chain(container[1:])}")
        return check
    view, view_path = found
    data = view.read(view_path)        # the view keeps recent files: findings of one file read it once
    if data is None:
        check.reasons.append(f"{path} is not a regular file")
        return check
    check_bytes(check, data, view.sha256(view_path), finding.evidence)  # hashed once per file
    return check


def check_bytes(check: Check, data: bytes, actual: str, evidence: Evidence) -> None:
    """The evidence's claims on the bytes of a file (`data`, hashing to `actual`)."""
    sha, offset, length, excerpt_text = evidence.sha256, evidence.offset, evidence.length, evidence.excerpt
    if actual != sha:
        check.reasons.append(f"file sha256 is {actual}, evidence says {sha}")
    if not in_bounds(offset, length, len(data)):      # as Evidence.of, which built it, asks
        check.reasons.append(f"evidence bytes {offset}+{length} are outside the file ({len(data)} bytes)")
        return
    actual_excerpt = excerpt_at(data, offset, length)
    if actual_excerpt != excerpt_text:
        check.reasons.append(f"bytes at offset {offset} read {actual_excerpt[:60]!r}, "
                             f"not the excerpt {excerpt_text[:60]!r}")


def check_guess(index: int, guess: Guess, image: Path, image_sha256: str, places: Places) -> Check:
    """One field of `image.guessed`: its bytes are where the guess says, in the image itself
    (a top-level header: container the image alone, path '') or in a file of a layer."""
    ev = guess.evidence
    check = Check(index, f"image.guessed.{guess.field}", guess.source,
                  f"{chain(guess.container)}:{guess.path}@{ev.offset}+{ev.length}")
    if len(guess.container) == 1 and not guess.path:
        if ev.sha256 != image_sha256:
            check.reasons.append(f"image sha256 is {image_sha256}, evidence says {ev.sha256}")
        size = image.stat().st_size
        if not in_bounds(ev.offset, ev.length, size):
            check.reasons.append(f"evidence bytes {ev.offset}+{ev.length} are outside the image "
                                 f"({size} bytes)")
            return check
        with image.open("rb") as handle:          # the bytes the excerpt shows, no more
            handle.seek(ev.offset)
            shown = excerpt_at(handle.read(min(ev.length, EXCERPT_MAX + 1)), 0, ev.length)
        if shown != ev.excerpt:
            check.reasons.append(f"bytes at offset {ev.offset} read {shown[:60]!r}, "
                                 f"not the excerpt {ev.excerpt[:60]!r}")
        return check
    if not places.has_layer(guess.container):
        check.reasons.append(f"no container {chain(guess.container[1:]) or '(image)'} in the image")
        return check
    found = places.find(guess.container, guess.path)
    content = None if found is None else found[0].read(found[1])
    if found is None or content is None:
        check.reasons.append(f"no file {guess.path} in {chain(guess.container[1:])}")
        return check
    check_bytes(check, content, found[0].sha256(found[1]), ev)
    return check


def _by_file(findings: list[Finding]) -> list[int]:
    """Indices of `findings` with the findings of one file together, so that each file is read
    and hashed once even when it is larger than the views' cache of recent files."""
    return sorted(range(len(findings)), key=lambda i: (*findings[i].container, "\0", findings[i].path))


def verify(report: Report, image: Path, *, limits: Limits | None = None,
           workdir: Path | None = None) -> Verification:
    """Check every finding of `report` against `image` (which must be readable)."""
    from firmproof.scan import check_image, sha256_file

    check_image(image)
    claimed = report.image
    result = Verification(image_name=image.name)
    image_sha = sha256_file(image)
    if claimed.sha256 != image_sha:
        result.image_reasons.append(f"image sha256 is {image_sha}, the report is for "
                                    f"{claimed.sha256} ({claimed.name})")
    if claimed.size != image.stat().st_size:
        result.image_reasons.append(f"image size is {image.stat().st_size}, the report says "
                                    f"{claimed.size}")
    tmp = Path(tempfile.mkdtemp(prefix="firmproof-verify-", dir=workdir))
    try:
        unpacked: UnpackResult = unpack(image, tmp, limits or Limits())
        places = Places(unpacked.layers)
        findings = report.findings
        checks: list[Check | None] = [None] * len(findings)
        for i in _by_file(findings):
            checks[i] = check_finding(i, findings[i], claimed.sha256, places)
        result.checks = [c for c in checks if c is not None]
        result.identity = [check_guess(i, g, image, image_sha, places) for i, g in enumerate(claimed.guessed)]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return result
