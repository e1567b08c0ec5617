"""Real Debian binaries of known versions, fetched with apt from the mirror apt is configured
with, cached under build/debs/<suite>/, unpacked with dpkg-deb.

Other releases than the host's come from a private apt state under build/apt/ (tests/aptstate.py:
its own sources list, lists and cache), so the host's apt configuration is never touched. A download
that fails skips the test that asked for it, saying why.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from aptstate import AptUnavailable, PrivateApt

REPO = Path(__file__).resolve().parent.parent
CACHE = REPO / "build" / "debs"
APT = PrivateApt(REPO / "build" / "apt", ("bullseye", "bookworm", "trixie"))
FOREIGN = ("armhf", "mipsel")       # other architectures, from a private apt state of their own
FOREIGN_APT = PrivateApt(REPO / "build" / "apt-foreign", ("bookworm", "trixie"), FOREIGN)


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """One downloader or unpacker at a time in `folder`: pytest-xdist's workers share the cache."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def debian_package(package: str, suite: str, arch: str | None = None) -> tuple[Path, str]:
    """(unpacked tree, package version) of `package` as `suite` ships it (for `arch`, one of
    FOREIGN, when given; else the host's), downloaded once."""
    folder = CACHE / (f"{suite}-{arch}" if arch else suite)
    with _locked(folder):
        return _fetch(package, suite, arch, folder)


def _fetch(package: str, suite: str, arch: str | None, folder: Path) -> tuple[Path, str]:
    debs = sorted(folder.glob(f"{package}_*.deb"))
    if not debs:
        try:
            if arch:
                FOREIGN_APT.download([f"{package}:{arch}/{suite}"], folder)
            else:
                APT.download([f"{package}/{suite}"], folder)
        except AptUnavailable as e:
            pytest.skip(str(e))
        debs = sorted(folder.glob(f"{package}_*.deb"))
        if not debs:
            pytest.skip(f"cannot download {package}/{suite}: apt-get gave no file")
    deb = debs[-1]
    version = subprocess.run(["dpkg-deb", "-f", str(deb), "Version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    tree = folder / "x" / deb.stem
    if not tree.is_dir():
        tree.mkdir(parents=True)
        subprocess.run(["dpkg-deb", "-x", str(deb), str(tree)], check=True)
    return tree, version


def install(root: Path, package: str, suite: str, files: dict[str, str]) -> None:
    """Copy files of `package` as `suite` ships it into the tree `root` ({in the package: in
    the tree}), executable, as an image would hold them."""
    tree, _ = debian_package(package, suite)
    for src, dst in files.items():
        target = root / dst.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(tree / src.lstrip("/"), target)
        target.chmod(0o755)


def prefetch(packages: list[str], suite: str, arch: str | None = None) -> None:
    """Download, in one apt call, those of `packages` that `suite` has (for `arch`) and that are
    not here yet: what `debian_package` would otherwise fetch one call each. A failure is left to
    `debian_package`, which skips the test that asked, saying why."""
    folder = CACHE / (f"{suite}-{arch}" if arch else suite)
    with _locked(folder):
        wanted = sorted({p for p in packages if not any(folder.glob(f"{p}_*.deb"))})
        if not wanted:
            return
        apt = FOREIGN_APT if arch else APT
        try:
            known = apt.available(wanted, suite, arch)
            if known:
                apt.download([f"{p}:{arch}/{suite}" if arch else f"{p}/{suite}" for p in known], folder)
        except AptUnavailable:
            return
