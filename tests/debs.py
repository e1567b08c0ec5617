"""Real Debian binaries of known versions, fetched with apt from the mirror apt is configured
with, cached under build/debs/<suite>/, unpacked with dpkg-deb.

Other releases than the host's come from a private apt state under build/apt/ (its own
sources list, lists and cache), so the host's apt configuration is never touched. A download
that fails skips the test that asked for it, saying why.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "build" / "debs"
APT = REPO / "build" / "apt"
SUITES = ("bullseye", "bookworm", "trixie")
KEYRING = "/usr/share/keyrings/debian-archive-keyring.gpg"


def _mirror() -> str | None:
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


def _apt_options() -> list[str]:
    return [f"-o=Dir::Etc::sourcelist={APT / 'sources.list'}", "-o=Dir::Etc::sourceparts=-",
            f"-o=Dir::State::Lists={APT / 'lists'}", f"-o=Dir::Cache={APT / 'cache'}",
            "-o=Dir::State::status=/dev/null", "-o=APT::Sandbox::User=root"]


def _private_apt() -> None:
    if (APT / "lists").is_dir() and any((APT / "lists").glob("*Packages*")) \
            and (APT / "sources.list").is_file() and all(
                s in (APT / "sources.list").read_text() for s in SUITES):
        return
    mirror = _mirror()
    if mirror is None or shutil.which("apt-get") is None:
        pytest.skip("no Debian mirror configured for apt on this machine")
    for sub in ("lists/partial", "cache/archives/partial"):
        (APT / sub).mkdir(parents=True, exist_ok=True)
    signed = f"[signed-by={KEYRING}] " if Path(KEYRING).is_file() else ""
    (APT / "sources.list").write_text("".join(f"deb {signed}{mirror} {suite} main\n" for suite in SUITES))
    proc = subprocess.run(["apt-get", *_apt_options(), "update"], capture_output=True, text=True,
                          timeout=300, check=False)
    if proc.returncode != 0:
        pytest.skip(f"apt-get update of the private Debian lists failed: {proc.stderr.strip()[-200:]}")


def debian_package(package: str, suite: str) -> tuple[Path, str]:
    """(unpacked tree, package version) of `package` as `suite` ships it, downloaded once."""
    folder = CACHE / suite
    debs = sorted(folder.glob(f"{package}_*.deb"))
    if not debs:
        _private_apt()
        folder.mkdir(parents=True, exist_ok=True)
        proc = subprocess.run(["apt-get", *_apt_options(), "download", f"{package}/{suite}"],
                              cwd=folder, capture_output=True, text=True, timeout=300, check=False)
        debs = sorted(folder.glob(f"{package}_*.deb"))
        if proc.returncode != 0 or not debs:
            pytest.skip(f"cannot download {package}/{suite}: {proc.stderr.strip()[-200:]}")
    deb = debs[-1]
    version = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    tree = folder / "x" / deb.stem
    if not tree.is_dir():
        tree.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True)
    return tree, version
