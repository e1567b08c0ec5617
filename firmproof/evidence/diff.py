"""What changed between two firmware releases: findings, and the security inventory side by side.

Findings are matched by rule and place (rule, containers below the image, path, evidence
excerpt), not by id: an id names the image, so no finding keeps its id across releases.
With two images (not reports) both are scanned and their inventories compared: accounts and
password changes, boot commands, listening daemons, setuid files, key fingerprints, ELF
executables and every other file by sha256, with the lines that changed in small text files.
"""

from __future__ import annotations

import difflib
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from firmproof.config import Limits
from firmproof.device.inventory import SECTIONS, Inventory, inventory
from firmproof.model import Finding
from firmproof.report import Report
from firmproof.report.file import ReportFileError

MAX_LINES = 200             # changed lines listed per text file


class DiffError(Exception):
    """An input cannot be read, scanned or parsed: a one-line message (exit code 2)."""


@dataclass
class Side:
    label: str
    report: Report
    inventory: Inventory | None = None

    @property
    def kind(self) -> str:
        return "image" if self.inventory is not None else "report"

    def to_json(self) -> dict[str, Any]:
        return {"input": self.label, "kind": self.kind, "image": self.report.image.to_json(),
                "findings": len(self.report.findings)}


@dataclass(frozen=True)
class Changed:
    """A finding found at the same place in both, with `fields` that differ."""

    old: Finding
    new: Finding
    fields: list[str]


@dataclass
class Diff:
    old: Side
    new: Side
    appeared: list[Finding] = field(default_factory=list)
    vanished: list[Finding] = field(default_factory=list)
    changed: list[Changed] = field(default_factory=list)
    inventory: dict[str, dict[str, Any]] | None = None
    lines: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        old, new = self.old.report.image.sha256, self.new.report.image.sha256
        return {"schema": "firmproof.diff/1", "old": self.old.to_json(), "new": self.new.to_json(),
                "findings": {"appeared": [f.to_json(new) for f in self.appeared],
                             "vanished": [f.to_json(old) for f in self.vanished],
                             "changed": [{"old": c.old.to_json(old), "new": c.new.to_json(new),
                                          "fields": c.fields} for c in self.changed]},
                "inventory": self.inventory, "lines": self.lines}


def finding_key(finding: Finding) -> tuple[Any, ...]:
    return (finding.rule.id, finding.container[1:], finding.path, finding.evidence.excerpt)


def _changed_fields(old: Finding, new: Finding) -> list[str]:
    """What changed in a finding found at the same place. The same excerpt at another offset, or
    in a file changed elsewhere, is the same finding: the file's change shows in the inventory."""
    fields = [name for name in ("severity", "title", "details") if getattr(old, name) != getattr(new, name)]
    if old.evidence.length != new.evidence.length:
        fields.append("evidence.length")
    return fields


def diff_findings(old: list[Finding],
                  new: list[Finding]) -> tuple[list[Finding], list[Finding], list[Changed]]:
    before = {finding_key(f): f for f in old}
    after = {finding_key(f): f for f in new}
    appeared = [f for k, f in after.items() if k not in before]
    vanished = [f for k, f in before.items() if k not in after]
    changed = [Changed(before[key], f, fields) for key, f in after.items()
               if key in before and (fields := _changed_fields(before[key], f))]
    return appeared, vanished, changed


def diff_inventories(old: Inventory, new: Inventory) -> tuple[dict[str, dict[str, Any]],
                                                               dict[str, dict[str, list[str]]]]:
    sections: dict[str, dict[str, Any]] = {}
    for name in SECTIONS:
        a, b = old.sections[name], new.sections[name]
        sections[name] = {
            "added": {k: b[k] for k in sorted(b.keys() - a.keys())},
            "removed": {k: a[k] for k in sorted(a.keys() - b.keys())},
            "changed": {k: [a[k], b[k]] for k in sorted(a.keys() & b.keys()) if a[k] != b[k]},
        }
    lines: dict[str, dict[str, list[str]]] = {}
    for path in sorted(old.texts.keys() & new.texts.keys()):
        if old.texts[path] == new.texts[path]:
            continue
        before = old.texts[path].decode("latin-1").splitlines()
        after = new.texts[path].decode("latin-1").splitlines()
        removed: list[str] = []
        added: list[str] = []
        matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            if op in ("replace", "delete"):
                removed.extend(before[i1:i2])
            if op in ("replace", "insert"):
                added.extend(after[j1:j2])
        lines[path] = {"removed": removed[:MAX_LINES], "added": added[:MAX_LINES]}
    return sections, lines


REPORT_SNIFF = 4096         # bytes read to tell a report from an image


def _is_report(path: Path) -> bool:
    """A .json file, or a file whose first non-blank character is `{` or `[` (no firmware image
    starts so): read as a report, so that a broken one gets the report's error, not a scan."""
    if path.suffix.lower() == ".json":
        return True
    try:
        with path.open("rb") as handle:
            head = handle.read(REPORT_SNIFF)
    except OSError:
        return False
    return head.removeprefix(b"\xef\xbb\xbf").lstrip(b" \t\r\n")[:1] in (b"{", b"[")


def load_side(path: Path, *, want_inventory: bool = True, limits: Limits | None = None) -> Side:
    """A report as it is, or an image scanned under `limits` (with its inventory)."""
    from firmproof.config import ScanConfig
    from firmproof.scan import ImageError, scan
    from firmproof.unpack.driver import UnpackFailed, UnpackResult

    if _is_report(path):
        try:
            return Side(str(path), Report.load(path))
        except ReportFileError as exc:
            raise DiffError(str(exc)) from None
    found: list[Inventory] = []

    def take(result: UnpackResult) -> None:
        if want_inventory:
            found.append(inventory(result.layers))

    workdir = Path(tempfile.mkdtemp(prefix="firmproof-diff-"))
    try:
        report = scan(ScanConfig(image=path, workdir=workdir, limits=limits or Limits()), unpacked=take)
        return Side(str(path), report, found[0] if found else None)
    except (ImageError, UnpackFailed) as exc:
        raise DiffError(str(exc)) from None
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def diff_sides(old: Side, new: Side) -> Diff:
    result = Diff(old, new)
    result.appeared, result.vanished, result.changed = diff_findings(old.report.findings,
                                                                     new.report.findings)
    if old.inventory is not None and new.inventory is not None:
        result.inventory, result.lines = diff_inventories(old.inventory, new.inventory)
    return result


def diff_inputs(old: Path, new: Path, *, limits: Limits | None = None) -> Diff:
    both_images = not _is_report(old) and not _is_report(new)
    return diff_sides(load_side(old, want_inventory=both_images, limits=limits),
                      load_side(new, want_inventory=both_images, limits=limits))
