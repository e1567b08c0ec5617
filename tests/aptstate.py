"""A private apt state: Debian packages of any release and architecture fetched with the host's
own apt-get, from the mirror the host's apt is configured with, without touching the host's apt
configuration (its own sources list, lists and cache under the folder given; no
`dpkg --add-architecture`: foreign architectures are named in the sources list and in
`APT::Architectures` on the command line only).

Used by the tests (tests/debs.py) and by the SBOM benchmark (bench/sbom.py).
"""

from __future__ import annotations

import fcntl
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


class AptUnavailable(RuntimeError):
    """No mirror, no apt-get, or apt-get failed: the caller skips (tests) or stops (bench)."""


def mirror() -> str | None:
    """The Debian mirror of the host's apt sources (not the security one)."""
    texts = []
    for path in [Path("/etc/apt/sources.list"), *sorted(Path("/etc/apt/sources.list.d").glob("*"))]:
        if path.is_file():
            texts.append(path.read_text(errors="replace"))
    for text in texts:
        for m in re.finditer(r"(?:URIs:\s*|^deb\s+(?:\[[^]]*\]\s+)?)(\S+)", text, re.MULTILINE):
            uri = m.group(1)
            if uri.startswith(("http://", "https://")) and "security" not in uri:
                return uri.rstrip("/")
    return None


@dataclass(frozen=True)
class PrivateApt:
    """apt-get over `root`/{sources.list,lists,cache} for `suites` (main) and `architectures`
    (empty: the host's own)."""

    root: Path
    suites: tuple[str, ...]
    architectures: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", self.root.resolve())   # apt reads relative Dir:: under /

    def options(self) -> list[str]:
        options = [f"-o=Dir::Etc::sourcelist={self.root / 'sources.list'}", "-o=Dir::Etc::sourceparts=-",
                   f"-o=Dir::State::Lists={self.root / 'lists'}", f"-o=Dir::Cache={self.root / 'cache'}",
                   "-o=Dir::State::status=/dev/null", "-o=APT::Sandbox::User=root"]
        if self.architectures:
            options.append(f"-o=APT::Architectures={','.join(self.architectures)}")
        return options

    def _sources(self, mirror: str) -> str:
        attributes = []
        if self.architectures:
            attributes.append(f"arch={','.join(self.architectures)}")
        if Path(KEYRING).is_file():
            attributes.append(f"signed-by={KEYRING}")
        bracket = f"[{' '.join(attributes)}] " if attributes else ""
        return "".join(f"deb {bracket}{mirror} {suite} main\n" for suite in self.suites)

    def _ready(self) -> bool:
        sources, stamp = self.root / "sources.list", self.root / "updated"   # stamp: the lists are whole
        if not (sources.is_file() and stamp.is_file() and stamp.read_text() == sources.read_text()
                and any((self.root / "lists").glob("*Packages*"))):
            return False
        text = sources.read_text()
        return all(s in text for s in self.suites) and all(
            any(f"binary-{a}_Packages" in p.name for p in (self.root / "lists").iterdir())
            for a in self.architectures)

    def update(self) -> None:
        """Write the sources list and fetch the lists, unless done already (one process at a
        time: test workers share the state)."""
        if self._ready():
            return
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not self._ready():
                self._update()

    def _update(self) -> None:
        found = mirror()
        if found is None or shutil.which("apt-get") is None:
            raise AptUnavailable("no Debian mirror configured for apt on this machine")
        for sub in ("lists/partial", "cache/archives/partial"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        (self.root / "sources.list").write_text(self._sources(found))
        proc = subprocess.run(["apt-get", *self.options(), "update"], capture_output=True, text=True,
                              timeout=600, check=False)
        if proc.returncode != 0:
            raise AptUnavailable(f"apt-get update of the private Debian lists failed: "
                                 f"{proc.stderr.strip()[-200:]}")
        (self.root / "updated").write_text((self.root / "sources.list").read_text())

    def download(self, specs: list[str], folder: Path) -> None:
        """`apt-get download SPEC...` (`name/suite`, `name:arch/suite`) into `folder`."""
        self.update()
        folder.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["apt-get", *self.options(), "download", *specs], cwd=folder,
                              capture_output=True, text=True, timeout=1800, check=False)
        if proc.returncode != 0:
            raise AptUnavailable(f"cannot download {' '.join(specs)[:200]}: {proc.stderr.strip()[-300:]}")

    def available(self, names: list[str], suite: str, arch: str | None = None) -> list[str]:
        """Those of `names` that `suite` has a package of (for `arch`, else any architecture
        of this state)."""
        self.update()
        specs = [f"{n}:{arch}" if arch else n for n in names]
        proc = subprocess.run(["apt-cache", *self.options(), "madison", *specs], capture_output=True,
                              text=True, timeout=600, check=False)
        found = set()
        for line in proc.stdout.splitlines():
            fields = [f.strip() for f in line.split("|")]
            if len(fields) >= 3 and re.search(rf"\b{re.escape(suite)}/main\b", fields[2]):
                found.add(fields[0].split(":")[0])
        return [n for n in names if n in found]
