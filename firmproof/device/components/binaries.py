"""Version strings inside executables, libraries and kernels, by the checkers declared in
`firmproof/data/components/*.toml` (their format: the README.md beside them).

A file is searched once for the markers of every checker (one yara-x rule set). Around each
marker occurrence a checker's `patterns` look for the version, before or after the marker,
in the same or a neighbouring NUL-separated string; a pattern must take in the marker itself,
so that a version elsewhere never borrows it. When none matches, a checker with a
`version_string` takes the separate version string of the same file (a whole NUL-delimited
string) nearest to the marker: `hostapd v%s` printed with "2.10" stored on its own (`numeric`:
a version kept as one number, libxml2's "20914" for 2.9.14). Last, a checker's `file_name` reads
the version from the name of a file holding the marker, where the build names its library after
the release and the code keeps none (mbed TLS 3's `libmbedtls.so.3.6.6`, uClibc-ng's
`libuClibc-1.0.45.so`): the evidence is then the marker, and the component says so
(`version_from`).

The right file: a version found in a program that loads one of the component's own libraries
(DT_NEEDED) is a copy of that library's header compiled into the program (OpenSSL's version in
hostapd, nginx, ntpd), not a component: the library's own file says which version ships.
One component and version per view: the other files that carry it are listed in `also`, the
component's own file (its library or program) preferred as the place reported.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from functools import cache
from importlib import resources

import yara_x

from firmproof.device.components import Component, evidence_at
from firmproof.device.parsers.elfdynamic import NONE, DynamicNames, dynamic_names
from firmproof.fs.rootfs import FileEntry, RootFS

SCANNED_TYPES = ("elf", "data")   # executables, libraries, kernel images and other blobs
MAX_FILE = 64 * 1024 * 1024        # bigger files are not searched for version strings
WINDOW = 128                       # bytes either side of a marker hit the patterns look at
_NOT_IN_TEXT = frozenset(range(256)) - frozenset(b"\t\n\r") - frozenset(range(0x20, 0x7f))
_NOT_IN_NUMBER = frozenset(range(256)) - frozenset(b"0123456789.")
_LIBRARY_NAME = re.compile(r"\.so(?:[.-]|$)|\.so\.\d")


@dataclass(frozen=True)
class Hit:
    version: str
    offset: int
    length: int


@dataclass(frozen=True)
class Checker:
    key: str
    component: str
    vendor: str | None
    product: str | None
    marker: bytes
    patterns: tuple[re.Pattern[bytes], ...]
    version_string: re.Pattern[bytes] | None
    files: tuple[str, ...]             # names searched (all when empty)
    programs: tuple[str, ...]          # names of the component's own programs
    libraries: tuple[str, ...]         # names of its own libraries
    package_names: tuple[str, ...]
    once: bool
    numeric: bool = False              # the version is one number, major*10000 + minor*100 + patch
    cpe_update: str | None = None      # the version's tail NVD names as the CPE update ('p1')
    file_name: re.Pattern[str] | None = None   # the version in the name of a file with the marker
    cpe_aliases: tuple[str, ...] = ()  # other vendor:product names NVD files the product under

    def wants(self, path: str) -> bool:
        return not self.files or self.wants_name(posixpath.basename(path))

    def wants_name(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in self.files)

    def is_library(self, name: str) -> bool:
        return any(fnmatch.fnmatchcase(name, p) for p in self.libraries)

    def rank(self, path: str, soname: str | None) -> int:
        """0 for the component's own library, 1 for its own program, 2 for any other file."""
        name = posixpath.basename(path)
        if self.is_library(name) or (soname is not None and self.is_library(soname)):
            return 0
        return 1 if any(fnmatch.fnmatchcase(name, p) for p in self.programs) else 2

    def find(self, data: bytes, markers: Iterable[int] | None = None) -> Hit | None:
        """The version string of `data`, looked for around each occurrence of the marker
        (`markers`: their offsets, when already known), else the nearest version string."""
        starts = list(self._occurrences(data) if markers is None else markers)
        for start in starts:
            lo = max(0, start - WINDOW)
            window = data[lo:start + len(self.marker) + WINDOW]
            at = start - lo
            for pattern in self.patterns:
                for m in pattern.finditer(window):
                    if m.start() <= at < m.end():
                        return _hit(m, lo)
        if self.version_string is None or not starts:
            return None
        best: tuple[int, Hit] | None = None
        before = _NOT_IN_NUMBER if self.numeric else _NOT_IN_TEXT
        for m in self.version_string.finditer(data):
            if m.start() and data[m.start() - 1] not in before:
                continue        # within a longer string (or number): not a version string of its own
            distance = min(abs(m.start() - s) for s in starts)
            if best is None or distance < best[0]:
                best = (distance, _hit(m, 0))
        if best is None:
            return None
        hit = best[1]
        if self.numeric:
            number = int(hit.version)
            hit = replace(hit, version=f"{number // 10000}.{number // 100 % 100}.{number % 100}")
        return hit

    def _occurrences(self, data: bytes) -> Iterator[int]:
        start = data.find(self.marker)
        while start >= 0:
            yield start
            start = data.find(self.marker, start + 1)


def _hit(m: re.Match[bytes], base: int) -> Hit:
    """The match without the NULs that anchor it, as evidence."""
    start, end = m.span()
    text = m.group(0)
    start += len(text) - len(text.lstrip(b"\x00"))
    end -= len(text) - len(text.rstrip(b"\x00"))
    return Hit(m.group(1).decode("ascii"), base + start, max(end - start, 1))


def _compile(pattern: str) -> re.Pattern[bytes]:
    return re.compile(pattern.encode("latin-1"), re.DOTALL)


# the fields a checker may declare; `debian*` and `verified` are read by the tests only
FIELDS = frozenset({"component", "vendor", "product", "cpe_update", "cpe_aliases", "marker", "patterns",
                    "version_string", "numeric", "file_name", "files", "programs", "libraries",
                    "package_names", "once", "verified", "debian", "debian_says", "debian_silent",
                    "debian_decoys"})


@cache
def declarations() -> dict[str, dict]:
    """Every checker's table, by key, from the family files in name order."""
    folder = resources.files("firmproof").joinpath("data/components")
    out: dict[str, dict] = {}
    for item in sorted(folder.iterdir(), key=lambda i: i.name):
        if not item.name.endswith(".toml"):
            continue
        for key, spec in tomllib.loads(item.read_text(encoding="utf-8")).items():
            where = f"components/{item.name} [{key}]"
            if key in out:
                raise ValueError(f"{where}: declared twice")
            unknown = set(spec) - FIELDS
            if unknown:
                raise ValueError(f"{where}: unknown fields {sorted(unknown)}")
            out[key] = spec
    return out


@cache
def checkers() -> tuple[Checker, ...]:
    """Every checker declared, in the order of its files."""
    out = []
    for key, spec in declarations().items():
        patterns = tuple(_compile(p) for p in spec.get("patterns", ()))
        version_string = None
        numeric = bool(spec.get("numeric", False))
        if "version_string" in spec:     # a whole string: after a byte that is not text, up to a NUL
            version_string = _compile(rf"(?:{spec['version_string']})(?=\x00)")   # what precedes: in find
        for p in (*patterns, *([version_string] if version_string else [])):
            if p.groups < 1:
                raise ValueError(f"components [{key}]: pattern {p.pattern!r} has no version group")
        file_name = re.compile(spec["file_name"]) if "file_name" in spec else None
        if file_name is not None and file_name.groups < 1:
            raise ValueError(f"components [{key}]: file_name {file_name.pattern!r} has no version group")
        if not patterns and version_string is None and file_name is None:
            raise ValueError(f"components [{key}]: no patterns")
        out.append(Checker(key=key, component=spec.get("component", key), vendor=spec.get("vendor"),
                           product=spec.get("product"), marker=spec["marker"].encode("latin-1"),
                           patterns=patterns, version_string=version_string,
                           files=tuple(spec.get("files", ())), programs=tuple(spec.get("programs", ())),
                           libraries=tuple(spec.get("libraries", ())),
                           package_names=tuple(spec.get("package_names", ())),
                           once=bool(spec.get("once", False)), numeric=numeric,
                           cpe_update=_update(key, spec.get("cpe_update")), file_name=file_name,
                           cpe_aliases=_aliases(key, spec.get("cpe_aliases", ()))))
    return tuple(out)


def _aliases(key: str, names: list[str]) -> tuple[str, ...]:
    """`cpe_aliases`, checked: each a CPE vendor:product."""
    for name in names:
        if not re.fullmatch(r"[a-z0-9_.\-]+:[a-z0-9_.\-]+", name):
            raise ValueError(f"components [{key}]: cpe_aliases {name!r} is not vendor:product")
    return tuple(names)


def _update(key: str, pattern: str | None) -> str | None:
    """A `cpe_update` pattern, checked: anchored at the version's end, one group."""
    if pattern is None:
        return None
    if re.compile(pattern).groups != 1 or not pattern.endswith("$"):
        raise ValueError(f"components [{key}]: cpe_update {pattern!r} needs one group and a final $")
    return pattern


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
    """One component per name and version of the view (see the module's doc)."""
    seen_once: set[str] = set()
    scanner: yara_x.Scanner | None = None        # made when a file is first searched
    found: dict[tuple[str, str], tuple[int, Component]] = {}
    for entry in fs.files(*SCANNED_TYPES):
        if entry.size > MAX_FILE or entry.size < 64:
            continue
        name = posixpath.basename(entry.path)
        if not (_searches_every_file() or any(_wants(c, name, seen_once) for c in checkers())):
            continue
        data = fs.read(entry.path)
        if not data:
            continue
        scanner = scanner or yara_x.Scanner(markers())
        offsets = {int(rule.identifier[1:]): [m.offset for m in rule.patterns[0].matches]
                   for rule in scanner.scan(data).matching_rules}
        names: DynamicNames | None = None
        for index in sorted(offsets):       # only checkers whose marker is in the file can say anything
            checker = checkers()[index]
            if not _wants(checker, name, seen_once):
                continue
            hit = checker.find(data, offsets[index])
            named = None
            if hit is None and checker.file_name is not None:
                named = checker.file_name.search(name)     # the marker says it is the product,
                if named:                                  # the name which release
                    hit = Hit(named.group(1), offsets[index][0], len(checker.marker))
            if hit is None:
                continue
            names = names or dynamic_names(data) if data.startswith(b"\x7fELF") else NONE
            rank = checker.rank(entry.path, names.soname)
            if rank == 2 and any(checker.is_library(n) for n in names.needed):
                continue        # the version of a library's header, in a program that loads the library
            if checker.once:
                seen_once.add(checker.key)
            _keep(found, rank, _component(fs, entry, checker, hit, names,
                                          "file name" if named else "content"))
    for _, component in sorted(found.values(), key=lambda rc: rc[1].sort_key()):
        yield component


def _wants(checker: Checker, name: str, seen_once: set[str]) -> bool:
    """The checker looks at files of this name (and has not found its one file yet)."""
    return (not checker.files or checker.wants_name(name)) and not (checker.once and checker.key in seen_once)


@cache
def _searches_every_file() -> bool:
    """Some checker looks at every file, whatever its name: no file is skipped unread."""
    return any(not c.files and not c.once for c in checkers())


def _component(fs: RootFS, entry: FileEntry, checker: Checker, hit: Hit, names: DynamicNames,
               version_from: str) -> Component:
    name = posixpath.basename(entry.path)
    provides = (names.soname,) if names.soname else (name,) if _LIBRARY_NAME.search(name) else ()
    return Component(name=checker.component, version=hit.version, source="binary",
                     path=entry.report_path, fs_path=entry.path, container=fs.container,
                     evidence=evidence_at(fs, entry.path, hit.offset, hit.length),
                     vendor=checker.vendor, product=checker.product, needs=names.needed,
                     provides=provides, cpe_update=checker.cpe_update, cpe_aliases=checker.cpe_aliases,
                     version_from=version_from)


def _keep(found: dict[tuple[str, str], tuple[int, Component]], rank: int, new: Component) -> None:
    """One component per name and version: the best-ranked file is the place reported, the
    others are listed in `also`; what their files load and provide is merged."""
    key = (new.name, new.version)
    if key not in found:
        found[key] = (rank, new)
        return
    old_rank, old = found[key]
    first, second = (new, old) if rank < old_rank else (old, new)
    merged = replace(first, also=tuple(sorted({*first.also, second.path, *second.also})),
                     needs=_union(first.needs, second.needs),
                     provides=_union(first.provides, second.provides))
    found[key] = (min(rank, old_rank), merged)


def _union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys((*a, *b)))
