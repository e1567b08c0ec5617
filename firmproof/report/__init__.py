"""The report: what one scan of one image found, as one typed model.

The scan returns a `Report`; every writer (JSON, SARIF, HTML, CycloneDX, SPDX, terminal),
`verify`, `diff` and the results store take one. Its JSON (schema firmproof.report/1, the
contract's) is its one serialisation, written by `Report.to_json` and read back by
`Report.load`, which reads a file handed by anyone under the bounds of firmproof.report.file.

Dataclasses, not pydantic: the findings and rules they hold are dataclasses already, the JSON
is checked field by field by firmproof.report.file *before* anything is built from it (a report
is hostile input, read under size and depth bounds a validator library does not keep), and a
scan builds thousands of findings where a validating constructor would cost for nothing.

Findings keep their `Rule`. A finding read back names its rule by id: this firmproof's rule
when it knows that id with the same category and references, else a rule rebuilt from what
the report says (a report of another firmproof version), without the why/confirm texts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from firmproof import __version__
from firmproof.device.identity import FIELDS, Guess
from firmproof.model import AnalyzerError, Category, Evidence, Finding, Rule, Severity, UnpackError

if TYPE_CHECKING:
    from firmproof.device.components import Component

SCHEMA = "firmproof.report/1"


@dataclass(frozen=True)
class Image:
    """The image a report is about, and what the user said it is."""

    name: str
    sha256: str
    size: int
    vendor: str | None = None
    product: str | None = None
    version: str | None = None
    guessed: tuple[Guess, ...] = ()      # what the image's own files say it is (firmproof.device.identity)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "sha256": self.sha256, "size": self.size,
                "vendor": self.vendor, "product": self.product, "version": self.version,
                **({"guessed": {g.field: g.to_json() for g in self.guessed}} if self.guessed else {})}

    @classmethod
    def from_json(cls, image: dict[str, Any]) -> Image:
        guessed = image.get("guessed")
        guesses = [Guess.from_json(k, v) for k, v in guessed.items() if k in FIELDS] \
            if isinstance(guessed, dict) else []
        return cls(name=image["name"], sha256=image["sha256"], size=image["size"], vendor=image.get("vendor"),
                   product=image.get("product"), version=image.get("version"),
                   guessed=tuple(g for g in guesses if g is not None))

    def said(self, field: str) -> tuple[str | None, bool]:
        """The image's `field` (vendor, product, version or release_date): as the user gave it,
        else as the image's files say it; and whether it is guessed. (A release date is never
        given to a scan: the store takes it from the command line or the manifest.)"""
        given = getattr(self, field, None)
        if given is not None:
            return given, False
        guess = next((g for g in self.guessed if g.field == field), None)
        return (guess.value, True) if guess is not None else (None, False)


@dataclass(frozen=True)
class Container:
    """One container unpacked: its chain below the image ('tar@0x0/rootfs.sqfs/squashfs@0x0')."""

    path: str
    format: str

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "format": self.format}


@dataclass(frozen=True)
class Unpacked:
    """What unpacking gave: files and bytes written, depth, containers, failures."""

    files: int
    bytes: int
    depth: int
    containers: tuple[Container, ...] = ()
    errors: tuple[UnpackError, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"files": self.files, "bytes": self.bytes, "depth": self.depth,
                "containers": [c.to_json() for c in self.containers],
                "errors": [e.to_json() for e in self.errors]}


@dataclass
class Report:
    """One scan of one image. `coverage` is the coverage section as the contract's JSON (what
    firmproof.report.coverage measured while the unpacked files were there); `components` (the SBOM)
    are not part of the JSON report, so a report read back has none."""

    image: Image
    unpack: Unpacked
    findings: list[Finding] = field(default_factory=list)
    errors: list[AnalyzerError] = field(default_factory=list)
    coverage: dict[str, Any] | None = None
    seconds: float = 0.0
    unpack_seconds: float = 0.0
    tool_version: str = __version__
    components: list[Component] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)   # keys of a newer report, kept as they are

    @property
    def complete(self) -> bool:
        """Nothing was left unexamined (or the report does not say: an older report)."""
        return self.coverage is None or bool(self.coverage.get("complete", True))

    def to_json(self) -> dict[str, Any]:
        """The report as schema firmproof.report/1: the one serialisation."""
        return {
            "schema": SCHEMA,
            "tool": {"name": "firmproof", "version": self.tool_version},
            "image": self.image.to_json(),
            "unpack": self.unpack.to_json(),
            "findings": [f.to_json(self.image.sha256) for f in self.findings],
            "errors": [e.to_json() for e in self.errors],
            **({"coverage": self.coverage} if self.coverage is not None else {}),
            "stats": {"seconds": round(self.seconds, 3), "unpack_seconds": round(self.unpack_seconds, 3)},
            **self.extra,
        }

    @classmethod
    def load(cls, path: Path) -> Report:
        """The report at `path`, read under firmproof.report.file's bounds and checks:
        ReportFileError with one sentence naming the problem if it is not a usable report."""
        from firmproof.report import file as reportfile

        return cls.from_json(reportfile.read_json(path), str(path))     # from_json checks it, once

    @classmethod
    def from_json(cls, data: dict[str, Any], name: str = "report") -> Report:
        """A report from its JSON, checked first (firmproof.report.file.check)."""
        from firmproof.report import file as reportfile

        reportfile.check(data, name)
        image, unpack, stats = data["image"], data["unpack"], data["stats"]
        rules: dict[tuple[Any, ...], Rule] = {}
        try:
            findings = [_finding(f, rules) for f in data["findings"]]
        except _Unknown as exc:
            raise reportfile.ReportFileError(f"{name}: {exc}") from None
        return cls(
            image=Image.from_json(image),
            unpack=Unpacked(files=unpack["files"], bytes=unpack["bytes"], depth=unpack["depth"],
                            containers=tuple(Container(c["path"], c["format"]) for c in unpack["containers"]),
                            errors=tuple(UnpackError.of(e) for e in unpack["errors"])),
            findings=findings,
            errors=[AnalyzerError(str(e.get("analyzer", "")), str(e.get("path", "")), str(e.get("error", "")))
                    for e in data["errors"] if isinstance(e, dict)],
            coverage=data.get("coverage"),
            seconds=_number(stats.get("seconds")), unpack_seconds=_number(stats.get("unpack_seconds")),
            tool_version=str(data["tool"].get("version", "")),
            extra={k: v for k, v in data.items() if k not in _KNOWN},
        )


_KNOWN = frozenset({"schema", "tool", "image", "unpack", "findings", "errors", "coverage", "stats"})


class _Unknown(ValueError):
    pass


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def _finding(data: dict[str, Any], rules: dict[tuple[Any, ...], Rule]) -> Finding:
    evidence = data["evidence"]
    severity, category = data["severity"], data["category"]
    references = tuple(data["references"])
    key = (data["rule"], category, references)
    rule = rules.get(key)
    if rule is None:
        rule = rules[key] = _rule(data["rule"], category, severity, data["title"], references)
    return Finding(rule=rule, title=data["title"], path=data["path"], container=tuple(data["container"]),
                   evidence=Evidence(evidence["sha256"], evidence["offset"], evidence["length"],
                                     evidence["excerpt"]),
                   details=data["details"], severity=Severity(severity), claimed_id=data["id"])


def _rule(rule_id: str, category: str, severity: str, title: str, references: tuple[str, ...]) -> Rule:
    """This firmproof's rule `rule_id` if it says the same, else the rule as the report says it."""
    from firmproof.analyzers.registry import rule_by_id

    known = rule_by_id(rule_id)
    if known is not None and known.category.value == category and known.references == references:
        return known
    try:
        kind = Category(category)
    except ValueError:
        raise _Unknown(f"rule {rule_id}: category {category[:40]!r} is not one of the contract's") from None
    return Rule(id=rule_id, category=kind, severity=Severity(severity), title=title, why="", confirm="",
                references=references)
