"""Where firmproof finds the external programs it runs, and which Debian package brings each.

Programs come from two places: the interpreter's own scripts folder (where pip installed
jefferson, ubireader_* and unblob, e.g. `.venv/bin`) and the system's PATH, then /usr/sbin and
/sbin (e2fsprogs' debugfs lives there and a user's PATH often lacks it). `use_tool_path()` puts
that search path in the environment once, at start-up, so unblob's extractors and every child
process find the same programs however firmproof was started: `.venv/bin/firmproof` without
the venv activated, `python -m firmproof`, or under `env -i`.

The Debian packages are listed in `data/debian-packages.txt`, which `make setup` installs from
(tools/setup-debian.sh) and `firmproof doctor` checks.
"""

from __future__ import annotations

import glob
import os
import shutil
import sys
import sysconfig
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

SYSTEM_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")
NEEDS = ("scan", "setup", "test", "bench")


def scripts_dir() -> Path:
    """The folder of the running interpreter's console scripts (the venv's bin)."""
    scripts = sysconfig.get_path("scripts")
    return Path(scripts) if scripts else Path(sys.executable).parent


def aosp_dir() -> Path:
    """Where `make setup` builds AOSP's lpmake and lpunpack (tools/build-lptools.sh): apart from
    the scripts folder, where the liblp package installs a Python script also named lpunpack."""
    return Path(sys.executable).parent.parent / "aosp" / "bin"


def search_path(path: str | None = None) -> str:
    """The interpreter's scripts folder, then `path` (default $PATH), then the system folders."""
    given = os.environ.get("PATH", "") if path is None else path
    parts = [str(scripts_dir()), *given.split(os.pathsep), *SYSTEM_PATH]
    seen: list[str] = []
    for part in parts:
        if part and part not in seen:
            seen.append(part)
    return os.pathsep.join(seen)


def use_tool_path() -> None:
    """Make this process and its children look programs up on `search_path()`."""
    os.environ["PATH"] = search_path()


def which(name: str) -> str | None:
    """Full path of program `name` on the tool search path, or None."""
    return shutil.which(name, path=search_path())


@dataclass(frozen=True)
class Requirement:
    """One line of data/debian-packages.txt."""

    spec: str          # `pkg` or `pkg;bookworm:other`
    check: str         # a command, or an absolute path (glob, {py})
    need: str          # scan | setup | test | bench
    purpose: str

    def package(self, suite: str | None = None) -> str:
        """The Debian package on `suite` (default: this machine's release)."""
        suite = debian_suite() if suite is None else suite
        name, *alternatives = self.spec.split(";")
        for alt in alternatives:
            release, _, other = alt.partition(":")
            if release == suite:
                name = other
        return name

    @property
    def is_command(self) -> bool:
        return not self.check.startswith("/")

    def found(self) -> str | None:
        """Where the requirement is met on this machine (a path), or None."""
        if self.is_command:
            return which(self.check)
        pattern = self.check.replace("{py}", "{}.{}".format(*sys.version_info[:2]))
        matches = sorted(glob.glob(pattern))  # noqa: PTH207 (a pattern with * inside folders)
        return matches[0] if matches else None


@cache
def requirements() -> tuple[Requirement, ...]:
    """Every requirement of data/debian-packages.txt, in its order."""
    text = resources.files("firmproof").joinpath("data/debian-packages.txt").read_text()
    out = []
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        spec, check, need, purpose = line.split(None, 3)
        if need not in NEEDS:
            raise ValueError(f"debian-packages.txt: unknown need {need!r} in {line!r}")
        out.append(Requirement(spec, check, need, purpose.strip()))
    return tuple(out)


def package_of(check: str) -> str | None:
    """The Debian package that provides command or file `check`, as the table names it."""
    for req in requirements():
        if req.check == check:
            return req.package()
    return None


def missing_message(names: list[str]) -> str:
    """'mksquashfs is missing: install the Debian package squashfs-tools (`make setup` does)'."""
    packages = sorted({p for p in map(package_of, names) if p})
    what = ", ".join(names)
    verb = "is" if len(names) == 1 else "are"
    if not packages:
        return f"{what} {verb} missing (not a package firmproof's set-up installs)"
    plural = "s" if len(packages) > 1 else ""
    return (f"{what} {verb} missing: install the Debian package{plural} {' '.join(packages)} "
            "(`make setup` does)")


@cache
def debian_suite() -> str:
    """This machine's Debian release codename ('bookworm', 'trixie'), or ''."""
    try:
        text = Path("/etc/os-release").read_text()
    except OSError:
        return ""
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "VERSION_CODENAME":
            return value.strip().strip('"')
    return ""
