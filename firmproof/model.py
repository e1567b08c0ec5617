"""The data firmproof passes around: severities, categories, rules, evidence, findings.

Data only. The one piece of behaviour here is `Rule.at`, the single way to make a
finding, which refuses to make one without bytes to point at.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from firmproof.fs.rootfs import RootFS


class Severity(enum.Enum):
    CRITICAL = "critical"
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Higher is worse: critical=4 … info=0."""
        return _SEVERITY_RANK[self]

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls(text.lower())
        except ValueError:
            choices = ", ".join(s.value for s in cls)
            raise ValueError(f"unknown severity {text!r} (choose from {choices})") from None


_SEVERITY_RANK = {
    Severity.CRITICAL: 4,
    Severity.HIGH: 3,
    Severity.MEDIUM: 2,
    Severity.LOW: 1,
    Severity.INFO: 0,
}


class Category(enum.Enum):
    """The closed list of finding categories of the contract."""

    WEAK_PASSWORD = "credential.weak-password"
    HARDCODED = "credential.hardcoded"
    PRIVATE_KEY = "key.private"
    AUTHORIZED_KEY = "key.authorized"
    REMOTE_SHELL = "service.remote-shell"
    HIDDEN_TRIGGER = "service.hidden-trigger"
    HIDDEN_ENDPOINT = "web.hidden-endpoint"
    EXFILTRATION = "network.exfiltration"
    DEBUG_CONSOLE = "debug.console"
    SUID = "privilege.suid"
    ANDROID_DEBUG = "android.debug"
    ANDROID_PRIVILEGED_APP = "android.privileged-app"
    KNOWN_BACKDOOR = "known-backdoor"
    VULNERABLE_COMPONENT = "component.vulnerable"
    HARDENING = "binary.hardening"


EXCERPT_MAX = 200
WINDOW_BEFORE = 48          # bytes of the file kept before the evidence (the HTML report's hex view),
WINDOW_AFTER = 48           # after the evidence,
WINDOW_EVIDENCE = 256       # and of the evidence itself at most


@dataclass(frozen=True)
class Evidence:
    """Bytes of one file that prove a finding: `length` bytes at `offset` of the file
    whose content hashes to `sha256`.

    `window` keeps the bytes around them (from `window_offset` of the file: WINDOW_BEFORE
    bytes before, WINDOW_EVIDENCE of the evidence at most, WINDOW_AFTER after), so that a
    report can show them after the unpacked files are gone. It is no part of the report's JSON:
    evidence read back from a report has none."""

    sha256: str
    offset: int
    length: int
    excerpt: str
    window: bytes = field(default=b"", compare=False, repr=False)
    window_offset: int = field(default=0, compare=False, repr=False)

    @classmethod
    def of(cls, fs: RootFS, path: str, offset: int, length: int, *, owner: str = "evidence",
           window: bool = True) -> Evidence:
        """The only builder: `length` bytes at `offset` of `path` in `fs`, with the file's hash;
        the window around them kept unless `window` is False (evidence no hex view shows: a
        component's, an identity guess's).

        Raises NoEvidence (naming `owner`) when those bytes are not in the file.
        """
        data = fs.read(path)
        if data is None or not in_bounds(offset, length, len(data)):
            raise NoEvidence(f"{owner}: no bytes at {path}:{offset}+{length}")
        excerpt = excerpt_at(data, offset, length)
        if not window:
            return cls(sha256=fs.sha256(path), offset=offset, length=length, excerpt=excerpt)
        start = max(0, offset - WINDOW_BEFORE) // 16 * 16
        end = min(len(data), offset + min(length, WINDOW_EVIDENCE) + WINDOW_AFTER)
        return cls(sha256=fs.sha256(path), offset=offset, length=length, excerpt=excerpt,
                   window=data[start:end], window_offset=start)

    def to_json(self) -> dict[str, Any]:
        return {"sha256": self.sha256, "offset": self.offset, "length": self.length,
                "excerpt": self.excerpt}


# What evidence is, in three functions that both its builder (Evidence.of) and its checker
# (firmproof.evidence.verify) call: where its bytes may be, and how they read.

def in_bounds(offset: int, length: int, size: int) -> bool:
    """`length` (at least one) bytes at `offset` are inside a file of `size` bytes."""
    return length > 0 and offset >= 0 and offset + length <= size


_PRINTABLE = bytes([0x09, *range(0x20, 0x7F)])
_BYTE_TEXT = [chr(b) if b == 0x09 or 0x20 <= b < 0x7F else f"\\x{b:02x}" for b in range(256)]


def excerpt_of(data: bytes) -> str:
    """Printable rendering of evidence bytes: text as text, other bytes as \\xNN, at most
    EXCERPT_MAX bytes and an ellipsis after (text is decoded at once: a report may hold many)."""
    head = data[:EXCERPT_MAX]
    text = head.decode("ascii") if not head.translate(None, _PRINTABLE) else "".join(
        [_BYTE_TEXT[b] for b in head])
    return text + "…" if len(data) > EXCERPT_MAX else text


def excerpt_at(data: bytes, offset: int, length: int) -> str:
    """The excerpt of `length` bytes at `offset` of `data`, copying only the bytes it shows
    (and one more, for its ellipsis)."""
    return excerpt_of(data[offset:offset + min(length, EXCERPT_MAX + 1)])


@dataclass(frozen=True)
class Finding:
    rule: Rule
    title: str
    path: str
    container: tuple[str, ...]
    evidence: Evidence
    details: dict[str, Any]
    severity: Severity
    claimed_id: str | None = field(default=None, compare=False)   # the id a report read back gave

    @property
    def category(self) -> Category:
        return self.rule.category

    def sort_key(self) -> tuple[Any, ...]:
        return (-self.severity.rank, self.rule.id, self.container, self.path,
                self.evidence.offset, self.evidence.length)

    def finding_id(self, image_sha256: str) -> str:
        """The finding's id in the report of image `image_sha256` (as a report read back says it)."""
        if self.claimed_id is not None:
            return self.claimed_id
        return finding_id(image_sha256, self.rule.id, self.container, self.path,
                          self.evidence.offset, self.evidence.length)

    def to_json(self, image_sha256: str) -> dict[str, Any]:
        return {
            "id": self.finding_id(image_sha256),
            "rule": self.rule.id,
            "category": self.rule.category.value,
            "severity": self.severity.value,
            "title": self.title,
            "path": self.path,
            "container": list(self.container),
            "evidence": self.evidence.to_json(),
            "details": self.details,
            "references": list(self.rule.references),
        }


def finding_id(image_sha256: str, rule_id: str, container: tuple[str, ...] | list[str],
               path: str, offset: int, length: int) -> str:
    """Stable id: same image + same rule + same place gives the same id."""
    key = "\0".join([image_sha256, rule_id, "\x1f".join(container), path, str(offset), str(length)])
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()[:24]


# -- what a scan could not do: the report's unpack.errors and errors --------------------------

@dataclass(frozen=True)
class UnpackError:
    """A container that could not be (wholly) unpacked: unpacking went on without it. `kind`
    is "limit" where a limit of the scan stopped it (firmproof.report.coverage.LIMIT)."""

    path: str
    error: str
    kind: str | None = None

    @classmethod
    def of(cls, entry: dict[str, Any]) -> UnpackError:
        kind = entry.get("kind")
        return cls(str(entry["path"]), str(entry["error"]), kind if isinstance(kind, str) else None)

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "error": self.error, **({"kind": self.kind} if self.kind else {})}


@dataclass(frozen=True)
class AnalyzerError:
    """An analyzer that failed on one view or file: the scan went on without it."""

    analyzer: str
    path: str
    error: str

    def to_json(self) -> dict[str, Any]:
        return {"analyzer": self.analyzer, "path": self.path, "error": self.error}



class NoEvidence(ValueError):
    """Raised when a finding would point at no bytes: such a finding is not reported."""


@dataclass(frozen=True)
class Rule:
    """One rule: a stable id, one category, a default severity and its documentation.

    `why` says why it matters, `confirm` how to check a finding by hand.
    """

    id: str
    category: Category
    severity: Severity
    title: str
    why: str
    confirm: str
    references: tuple[str, ...] = field(default=())

    def at(self, fs: RootFS, path: str, offset: int, length: int, *,
           title: str | None = None, severity: Severity | None = None,
           **details: Any) -> Finding:
        """Make a finding pointing at `length` bytes at `offset` of `path` in `fs`.

        Raises NoEvidence when those bytes are not in the file.
        """
        evidence = Evidence.of(fs, path, offset, length, owner=self.id)
        entry = fs.entry(path)
        assert entry is not None
        return Finding(rule=self, title=title or self.title, path=entry.report_path,
                       container=fs.container, evidence=evidence, details=details,
                       severity=severity or self.severity)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "category": self.category.value,
            "severity": self.severity.value,
            "title": self.title,
            "why": self.why,
            "confirm": self.confirm,
            "references": list(self.references),
        }
