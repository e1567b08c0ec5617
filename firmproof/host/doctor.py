"""`firmproof doctor`: every external program and library firmproof uses, found or not.

Three sources, each checked by what is actually used:
- the Debian requirements of data/debian-packages.txt (a command on the tool search path, a
  header, a library file), with the version dpkg records for the package;
- the external extractors the container formats run (jefferson, ubireader_*, 7z, debugfs, …),
  as firmproof/unpack/formats.py declares them, looked up where firmproof's unpacker looks for
  them, with the formats they open;
- the Python libraries firmproof imports, with their versions.

A missing requirement that a default scan needs makes the exit code 1: a scan would silently
lose formats or rules. Missing test, set-up or benchmark requirements are listed, not fatal.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from firmproof.host.tools import Requirement, aosp_dir, debian_suite, requirements, which

# distribution name -> module imported
LIBRARIES = {"unblob": "unblob", "yara-x": "yara_x", "pyelftools": "elftools", "capstone": "capstone",
             "lief": "lief", "androguard": "androguard", "cryptography": "cryptography",
             "python-lzo": "lzo", "lz4": "lz4", "zstandard": "zstandard", "jefferson": "jefferson",
             "ubi-reader": "ubireader", "liblp": "liblp.reader", "android-payload-dumper": "payload_dumper",
             "passlib": "passlib", "rich": "rich", "numpy": "numpy", "cyclonedx-python-lib": "cyclonedx",
             "spdx-tools": "spdx_tools", "univers": "univers"}


@dataclass
class Check:
    kind: str                   # debian | extractor | python
    name: str                   # command, file, or library
    need: str                   # scan | setup | test | bench
    found: str | None           # path or version; None when missing
    purpose: str
    package: str | None = None  # the Debian package (or PyPI distribution) that brings it
    version: str | None = None
    formats: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.found is not None


def _dpkg_versions() -> dict[str, str]:
    """Installed package -> version, from dpkg's status file (no process started)."""
    versions: dict[str, str] = {}
    try:
        text = Path("/var/lib/dpkg/status").read_text(errors="replace")
    except OSError:
        return versions
    for stanza in text.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line and line[0] != " ")
        if fields.get("Status", "").endswith(" installed") and "Package" in fields:
            versions[fields["Package"].split(":")[0]] = fields.get("Version", "")
    return versions


def _debian(req: Requirement, versions: dict[str, str]) -> Check:
    package = req.package()
    return Check("debian", req.check, req.need, req.found(), req.purpose, package, versions.get(package))


def _extractors(versions: dict[str, str]) -> list[Check]:
    """The programs the container formats run, each with the handlers of the formats that
    run it; the programs a reader of firmproof's own replaces are shown as replaced."""
    from firmproof.unpack.formats import FORMATS

    formats: dict[str, list[str]] = {}
    replaced: dict[str, str] = {}
    for fmt in FORMATS:
        for dep in fmt.tools:
            formats.setdefault(dep, []).extend(fmt.handlers)
        if fmt.reader is not None:
            for dep in fmt.reader.replaces:
                formats.setdefault(dep, []).extend(fmt.handlers)
                replaced[dep] = fmt.reader.title
    debian = {r.check: r.package() for r in requirements() if r.is_command}
    checks = []
    for dep, names in sorted(formats.items()):
        found = which(dep)
        purpose = "unblob extractor"
        if found is None and dep in replaced:
            found, purpose = replaced[dep], f"replaced by {replaced[dep]}"
        package, version = (debian[dep], versions.get(debian[dep])) if dep in debian else _script_of(dep)
        checks.append(Check("extractor", dep, "scan", found, purpose, package, version, sorted(names)))
    return checks


def _script_of(name: str) -> tuple[str | None, str | None]:
    """(distribution, version) of the PyPI package whose console script `name` is (jefferson,
    ubireader_*), or (None, None)."""
    for dist in importlib.metadata.distributions():
        if any(e.group == "console_scripts" and e.name == name for e in dist.entry_points):
            return f"{dist.metadata['Name']} (PyPI)", dist.version
    return None, None


def _libraries() -> list[Check]:
    checks = []
    for dist, module in LIBRARIES.items():
        try:
            version: str | None = importlib.metadata.version(dist)
            importlib.import_module(module)
        except ImportError as exc:      # PackageNotFoundError is an ImportError
            version, purpose = None, f"import {module} failed: {exc}"
        else:
            purpose = f"import {module}"
        checks.append(Check("python", dist, "scan", version, purpose, f"{dist} (PyPI)", version))
    return checks


def _lptools() -> list[Check]:
    folder = aosp_dir()
    return [Check("built", tool, "test", str(folder / tool) if (folder / tool).is_file() else None,
                  "AOSP super.img tool, built by `make setup` (tools/build-lptools.sh)")
            for tool in ("lpmake", "lpunpack")]


def run_checks() -> list[Check]:
    versions = _dpkg_versions()
    return [*(_debian(r, versions) for r in requirements()), *_extractors(versions), *_libraries(),
            *_lptools()]


def fatal(checks: list[Check]) -> list[Check]:
    """What a default scan needs and does not have."""
    return [c for c in checks if c.need == "scan" and not c.ok]


def install_line(checks: list[Check]) -> str | None:
    packages = sorted({c.package for c in checks if not c.ok and c.kind == "debian" and c.package})
    return f"apt-get install --no-install-recommends {' '.join(packages)}" if packages else None


def to_json(checks: list[Check]) -> dict[str, Any]:
    return {"suite": debian_suite() or None, "ok": not fatal(checks),
            "checks": [asdict(c) | {"ok": c.ok} for c in checks], "install": install_line(checks)}


def main(*, brief: bool = False, as_json: bool = False) -> int:
    checks = run_checks()
    bad = fatal(checks)
    if as_json:
        print(json.dumps(to_json(checks), indent=2))
        return 1 if bad else 0
    missing = [c for c in checks if not c.ok]
    if brief and not missing:
        kinds = {k: sum(c.kind == k for c in checks) for k in ("debian", "extractor", "python", "built")}
        print(f"doctor: everything found ({kinds['debian']} Debian requirements, {kinds['extractor']} "
              f"unblob extractors, {kinds['python']} Python libraries, {kinds['built']} AOSP tools)")
        return 0
    from firmproof.report.terminal import print_doctor

    print_doctor([c for c in checks if not c.ok] if brief else checks, install_line(checks), bad)
    return 1 if bad else 0
