"""What is inside an image: components and the versions they say they are.

Three sources, each pointing at the bytes it read, as findings do: package databases
(opkg/ipkg, dpkg), Android build properties, and version strings inside executables,
libraries and kernels (checkers declared as data in `firmproof/data/components/`).

    identify(fs) -> list[Component]
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from firmproof.model import Evidence

if TYPE_CHECKING:
    from firmproof.fs.rootfs import RootFS

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Component:
    """One component seen at one place: `name` `version`, found by `source` in the file at
    `fs_path` of a view (reported as `path`), the version string at `evidence`."""

    name: str
    version: str
    source: str                        # "binary", "opkg", "dpkg", "android", "apk"
    path: str                          # report path, as in findings
    fs_path: str                       # path inside the view, for Rule.at
    container: tuple[str, ...]
    evidence: Evidence
    vendor: str | None = None          # CPE vendor/product when known
    product: str | None = None
    purl_type: str = "generic"
    purl_namespace: str | None = None
    upstream: str | None = None        # the upstream version of a packaged version
    needs: tuple[str, ...] = ()        # the libraries its file loads (DT_NEEDED), by SONAME
    provides: tuple[str, ...] = ()     # the library names (SONAME, else file name) of its files
    also: tuple[str, ...] = ()         # other files of the view that carry the same version
    cpe_update: str | None = None      # where NVD splits the version: a pattern of its tail whose
                                       # group is the CPE's update field ('9.2p1' -> 9.2, p1)
    version_from: str = "content"      # "file name": read from the file's name, its marker at evidence
    cpe_aliases: tuple[str, ...] = ()  # other vendor:product names NVD files the product's CVEs under

    @property
    def cpe(self) -> str | None:
        """The CPE 2.3 name as NVD spells the product's releases: `openssh:9.2:p1`, not
        `openssh:9.2p1` (the component's checker says where a version splits)."""
        if not (self.vendor and self.product):
            return None
        version, update = self.upstream_version, "*"
        split = re.search(self.cpe_update, version) if self.cpe_update else None
        if split and split.start() > 0:
            version, update = version[:split.start()], _cpe_escape(split.group(1).lower())
        return f"cpe:2.3:a:{self.vendor}:{self.product}:{_cpe_escape(version)}:{update}:*:*:*:*:*:*"

    @property
    def purl(self) -> str:
        from packageurl import PackageURL

        return PackageURL(type=self.purl_type, namespace=self.purl_namespace, name=self.name,
                          version=self.version).to_string()

    @property
    def upstream_version(self) -> str:
        return self.upstream or self.version

    def sort_key(self) -> tuple[str, ...]:
        return (self.name, self.version, *self.container, self.path)


def _cpe_escape(value: str) -> str:
    """A value as the CPE 2.3 formatted string binds it: every character but letters, digits,
    '_', '-' and '.' quoted with a backslash ('2.90-4~deb12u2' -> '2.90-4\\~deb12u2')."""
    return "".join(f"\\{c}" if not (c.isalnum() or c in "._-") else c for c in value)


def evidence_at(fs: RootFS, path: str, offset: int, length: int) -> Evidence:
    """The same evidence `Rule.at` builds (`Evidence.of`), for a component."""
    return Evidence.of(fs, path, offset, length, owner="component", window=False)


def identify(fs: RootFS, *, apks: bool = True) -> list[Component]:
    """Every component of one view, sorted, one per name/version/place (`apks=False` leaves
    out Android apps, which no vulnerability record names by version)."""
    from firmproof.device.components import binaries, packages

    found: dict[tuple[str, ...], Component] = {}
    for component in [*packages.identify(fs, apks=apks), *binaries.identify(fs)]:
        found.setdefault(component.sort_key(), component)
    return sorted(found.values(), key=Component.sort_key)


COMPONENTS = "components"     # the `Analyzer.shares` key of analyzers that read components

_IDENTIFIED: dict[int, tuple[RootFS, list[Component]]] = {}


def identify_cached(fs: RootFS) -> list[Component]:
    """`identify(fs)`, once per view and process: the scan's inventory and the analyzers that
    read components (run in the same task) share one identification."""
    cached = _IDENTIFIED.get(id(fs))
    if cached is None or cached[0] is not fs:
        if len(_IDENTIFIED) >= 64:
            _IDENTIFIED.clear()
        cached = (fs, identify(fs))
        _IDENTIFIED[id(fs)] = cached
    return cached[1]


def merge(components: list[Component]) -> list[Component]:
    """Components of several views in a stable order, one per name/version/place."""
    found: dict[tuple[str, ...], Component] = {}
    for component in components:
        found.setdefault(component.sort_key(), component)
    return sorted(found.values(), key=Component.sort_key)
