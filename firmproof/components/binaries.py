"""Version strings inside executables, libraries and kernels, by the checkers of
`firmproof/data/components.toml`."""

from __future__ import annotations

import fnmatch
import posixpath
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import cache
from importlib import resources

import yara_x

from firmproof.components import Component, evidence_at
from firmproof.rootfs import RootFS

SCANNED_TYPES = ("elf", "data")   # executables, libraries, kernel images and other blobs
MAX_FILE = 64 * 1024 * 1024        # bigger files are not searched for version strings
WINDOW = 128                       # bytes around a marker hit the patterns look at


@dataclass(frozen=True)
class Checker:
    key: str
    component: str
    vendor: str | None
    product: str | None
    marker: bytes
    patterns: tuple[re.Pattern[bytes], ...]
    files: tuple[str, ...]
    package_names: tuple[str, ...]
    once: bool

    def wants(self, path: str) -> bool:
        name = posixpath.basename(path)
        return not self.files or any(fnmatch.fnmatchcase(name, p) for p in self.files)

    def find(self, data: bytes, markers: Iterable[int] | None = None) -> tuple[str, int, int] | None:
        """(version, offset, length) of the first version string in `data`, looked for around
        each occurrence of the marker (`markers`: their offsets, when already known)."""
        for start in self._occurrences(data) if markers is None else markers:
            lo = max(0, start - WINDOW)
            window = data[lo:start + WINDOW]
            for pattern in self.patterns:
                for m in pattern.finditer(window):
                    if m.start() <= start - lo < m.end() or m.start() == start - lo:
                        return m.group(1).decode("ascii"), lo + m.start(), m.end() - m.start()
        return None

    def _occurrences(self, data: bytes) -> Iterator[int]:
        start = data.find(self.marker)
        while start >= 0:
            yield start
            start = data.find(self.marker, start + 1)


@cache
def checkers() -> tuple[Checker, ...]:
    """Every checker declared in the data file, in its order."""
    text = resources.files("firmproof").joinpath("data/components.toml").read_text(encoding="utf-8")
    table = tomllib.loads(text)
    out = []
    for key, spec in table.items():
        patterns = tuple(re.compile(p.encode("latin-1"), re.DOTALL) for p in spec["patterns"])
        for p in patterns:
            if p.groups < 1:
                raise ValueError(f"components.toml [{key}]: pattern {p.pattern!r} has no version group")
        out.append(Checker(key=key, component=spec.get("component", key), vendor=spec.get("vendor"),
                           product=spec.get("product"), marker=spec["marker"].encode("latin-1"),
                           patterns=patterns, files=tuple(spec.get("files", ())),
                           package_names=tuple(spec.get("package_names", ())),
                           once=bool(spec.get("once", False))))
    return tuple(out)


def checker_for_package(name: str) -> Checker | None:
    """The checker whose component a package-database name belongs to."""
    lowered = name.lower()
    for checker in checkers():
        if lowered == checker.component or lowered in checker.package_names:
            return checker
    return None


@cache
def markers() -> yara_x.Rules:
    """Every checker's marker in one yara-x rule set (rule `c<index>`): a file is searched
    once for all of them, not once per checker."""
    compiler = yara_x.Compiler()
    for index, checker in enumerate(checkers()):
        compiler.add_source(f"rule c{index} {{ strings: $m = {{ {checker.marker.hex(' ')} }} "
                            f"condition: $m }}")
    return compiler.build()


def identify(fs: RootFS) -> Iterator[Component]:
    seen_once: set[str] = set()
    scanner: yara_x.Scanner | None = None        # made when a file is first searched
    for entry in fs.files(*SCANNED_TYPES):
        if entry.size > MAX_FILE or entry.size < 64:
            continue
        wanted = [(index, c) for index, c in enumerate(checkers()) if c.wants(entry.path)
                  and not (c.once and c.key in seen_once)]
        if not wanted:
            continue
        data = fs.read(entry.path)
        if not data:
            continue
        scanner = scanner or yara_x.Scanner(markers())
        found = {int(rule.identifier[1:]): [m.offset for m in rule.patterns[0].matches]
                 for rule in scanner.scan(data).matching_rules}
        for index, checker in wanted:
            offsets = found.get(index)
            hit = checker.find(data, offsets) if offsets else None
            if hit is None:
                continue
            version, offset, length = hit
            if checker.once:
                seen_once.add(checker.key)
            yield Component(name=checker.component, version=version, source="binary",
                            path=entry.report_path, fs_path=entry.path, container=fs.container,
                            evidence=evidence_at(fs, entry.path, offset, length),
                            vendor=checker.vendor, product=checker.product)
