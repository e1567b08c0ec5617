"""Components named by what the image says about itself: package databases (dpkg, also
distroless `status.d`; opkg/ipkg status and control files), build-system manifests shipped in
the image (Yocto's license.manifest, Buildroot's legal-info manifest.csv), the distribution's
os-release, Android build properties (release and security patch level) and APKs.

Metadata comes first, binaries confirm it: `disagreements` names the components whose package
metadata and binary version strings (firmproof.device.components.binaries) differ, for the report.
"""

from __future__ import annotations

import csv
import logging
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator

from firmproof.device.components import Component, evidence_at
from firmproof.device.components.binaries import checker_for_package
from firmproof.fs.rootfs import RootFS

OPKG_STATUS = ("/usr/lib/opkg/status", "/var/lib/opkg/status", "/usr/lib/ipkg/status",
               "/var/lib/ipkg/status", "/etc/opkg/status")
OPKG_CONTROL = ("/usr/lib/opkg/info/*.control", "/var/lib/opkg/info/*.control",
                "/usr/lib/ipkg/info/*.control")
DPKG_STATUS = ("/var/lib/dpkg/status",)
DPKG_STATUS_D = "/var/lib/dpkg/status.d/*"      # distroless: one control file per package
YOCTO_MANIFESTS = ("/usr/share/common-licenses/license.manifest",)   # COPY_LIC_MANIFEST = "1"
BUILDROOT_MANIFESTS = ("/usr/share/buildroot/manifest.csv", "/**/legal-info/manifest.csv")
OS_RELEASE = ("/etc/os-release", "/usr/lib/os-release")
BUILD_PROPS = ("/system/build.prop", "/build.prop", "/vendor/build.prop", "/system/system/build.prop")
METADATA = frozenset({"dpkg", "opkg", "yocto", "buildroot"})    # sources that name packages

_FIELD = re.compile(rb"^(Package|Version|Status):[ \t]*(\S[^\n]*?)[ \t]*$", re.MULTILINE)
_YOCTO_FIELD = re.compile(rb"^(PACKAGE NAME|PACKAGE VERSION|RECIPE NAME):[ \t]*(\S[^\n]*?)[ \t]*$",
                          re.MULTILINE)
_PROP = re.compile(rb"^ro\.build\.version\.release=([0-9][0-9A-Za-z.]*)[ \t]*$", re.MULTILINE)
_PATCH_LEVEL = re.compile(rb"^ro\.build\.version\.security_patch=(\d{4}-\d{2}-\d{2})[ \t]*$", re.MULTILINE)
_OS_FIELD = re.compile(rb'^(ID|VERSION_ID)=("?)([A-Za-z0-9._~+-]+)\2[ \t]*$', re.MULTILINE)
_DEBIAN_REVISION = re.compile(r"-[0-9A-Za-z.+~]+$")
_REPACK = re.compile(r"[+.~](?:dfsg|ds|repack)\d*$")

log = logging.getLogger(__name__)


def upstream_of(version: str) -> str:
    """The upstream part of a package version: no epoch, no packaging revision."""
    version = version.split(":", 1)[1] if re.match(r"^\d+:", version) else version
    return _REPACK.sub("", _DEBIAN_REVISION.sub("", version))


def _packages(fs: RootFS, path: str, source: str) -> Iterator[Component]:
    data = fs.read(path)
    if not data:
        return
    for _, fields in _stanzas_exact(data):
        if b"Package" not in fields or b"Version" not in fields:
            continue
        status = fields.get(b"Status")
        if status is not None and (b"not-installed" in status[0] or b"installed" not in status[0]):
            continue
        name = fields[b"Package"][0].decode("utf-8", "replace")
        version = fields[b"Version"][0].decode("utf-8", "replace")
        first = min(fields[b"Package"][1], fields[b"Version"][1])
        last = max(fields[b"Package"][2], fields[b"Version"][2])
        yield _named(fs, path, name, version, source, first, last,
                     purl_type="deb" if source == "dpkg" else "generic",
                     purl_namespace="debian" if source == "dpkg" else None, upstream=upstream_of(version))


def _stanzas_exact(data: bytes) -> Iterator[tuple[int, dict[bytes, tuple[bytes, int, int]]]]:
    """Stanzas split on blank lines, with field offsets into `data` itself."""
    for m in re.finditer(rb"(?:^|\n)((?:[^\n]+\n?)+)", data):
        block_start = m.start(1)
        block = m.group(1)
        fields: dict[bytes, tuple[bytes, int, int]] = {}
        for f in _FIELD.finditer(block):
            fields.setdefault(f.group(1), (f.group(2), block_start + f.start(), block_start + f.end()))
        yield block_start, fields


def _named(fs: RootFS, path: str, name: str, version: str, source: str, start: int, end: int, *,
           purl_type: str = "generic", purl_namespace: str | None = None,
           upstream: str | None = None) -> Component:
    """A component a manifest names, mapped to a checker's component (and CPE) when one owns it."""
    entry = fs.stat(path)
    assert entry is not None
    checker = checker_for_package(name)
    return Component(
        name=checker.component if checker else name, version=version, source=source,
        path=entry.report_path, fs_path=entry.path, container=fs.container,
        evidence=evidence_at(fs, entry.path, start, end - start),
        vendor=checker.vendor if checker else None, product=checker.product if checker else None,
        cpe_update=checker.cpe_update if checker else None, purl_type=purl_type,
        cpe_aliases=checker.cpe_aliases if checker else (),
        purl_namespace=purl_namespace, upstream=upstream or version)


def _yocto(fs: RootFS, path: str) -> Iterator[Component]:
    """Yocto's license.manifest, copied into the image by COPY_LIC_MANIFEST: one block per
    package (PACKAGE NAME, PACKAGE VERSION: the recipe's PV, RECIPE NAME, LICENSE). The recipe
    names the component (openssl for libssl3), the package when no checker knows the recipe."""
    data = fs.read(path)
    if not data:
        return
    for block_start, block in _blocks(data):
        fields = {m.group(1): m for m in _YOCTO_FIELD.finditer(block)}
        package, version = fields.get(b"PACKAGE NAME"), fields.get(b"PACKAGE VERSION")
        if package is None or version is None:
            continue
        recipe = fields.get(b"RECIPE NAME")
        name = package.group(2).decode("utf-8", "replace")
        if recipe is not None and checker_for_package(recipe.group(2).decode("utf-8", "replace")):
            name = recipe.group(2).decode("utf-8", "replace")
        first, last = min(package.start(), version.start()), max(package.end(), version.end())
        yield _named(fs, path, name, version.group(2).decode("utf-8", "replace"), "yocto",
                     block_start + first, block_start + last, purl_namespace="yocto")


def _blocks(data: bytes) -> Iterator[tuple[int, bytes]]:
    for m in re.finditer(rb"(?:^|\n)((?:[^\n]+\n?)+)", data):
        yield m.start(1), m.group(1)


def _buildroot(fs: RootFS, path: str) -> Iterator[Component]:
    """Buildroot's legal-info manifest.csv (the target's packages; host-manifest.csv is not
    read): columns found by header name, PACKAGE and VERSION, the upstream version or VCS ref."""
    data = fs.read(path)
    if not data:
        return
    lines = data.splitlines(keepends=True)
    offsets = [0]
    for line in lines:
        offsets.append(offsets[-1] + len(line))
    rows = csv.reader(line.decode("utf-8", "replace") for line in lines)
    header = [h.strip().lstrip("\ufeff").upper() for h in next(rows, [])]
    if "PACKAGE" not in header or "VERSION" not in header:
        return
    name_at, version_at = header.index("PACKAGE"), header.index("VERSION")
    for row in rows:
        if len(row) <= max(name_at, version_at) or not row[name_at] or not row[version_at]:
            continue
        at = rows.line_num - 1        # a quoted field with a newline spans lines: its last one
        start, end = offsets[at], offsets[at] + len(lines[at].rstrip(b"\r\n"))
        yield _named(fs, path, row[name_at], row[version_at], "buildroot", start, end,
                     purl_namespace="buildroot")


def _os_release(fs: RootFS, path: str) -> Iterator[Component]:
    """The distribution itself: os-release ID and VERSION_ID (none without a VERSION_ID, as on
    rolling releases). No CPE: NVD names distributions as operating systems (cpe:2.3:o:…) and
    lists them in the configurations of their packages' CVEs, which the packages answer for."""
    data = fs.read(path)
    if not data:
        return
    entry = fs.stat(path)
    assert entry is not None
    fields = {m.group(1): m for m in _OS_FIELD.finditer(data)}
    ident, version = fields.get(b"ID"), fields.get(b"VERSION_ID")
    if ident is None or version is None:
        return
    yield Component(name=ident.group(3).decode("ascii").lower(), version=version.group(3).decode("ascii"),
                    source="os-release", path=entry.report_path, fs_path=entry.path, container=fs.container,
                    evidence=evidence_at(fs, entry.path, version.start(), version.end() - version.start()))


def _android(fs: RootFS, path: str) -> Iterator[Component]:
    """The Android release, and the security patch level (`android-security-patch`, a date:
    the monthly Android Security Bulletins it includes)."""
    data = fs.read(path)
    if not data:
        return
    entry = fs.stat(path)
    assert entry is not None
    m = _PROP.search(data)
    if m:
        yield Component(name="android", version=m.group(1).decode("ascii"), source="android",
                        path=entry.report_path, fs_path=entry.path, container=fs.container,
                        evidence=evidence_at(fs, entry.path, m.start(), m.end() - m.start()),
                        vendor="google", product="android")
    m = _PATCH_LEVEL.search(data)
    if m:
        yield Component(name="android-security-patch", version=m.group(1).decode("ascii"), source="android",
                        path=entry.report_path, fs_path=entry.path, container=fs.container,
                        evidence=evidence_at(fs, entry.path, m.start(), m.end() - m.start()))


def _apks(fs: RootFS) -> Iterator[Component]:
    """Android apps by package name and versionName, read by androguard (as the android
    analyzer does); the evidence is the stored AndroidManifest.xml entry of the APK."""
    from firmproof.device.android.apk import MANIFEST, _quiet_androguard, entry_span

    for entry in fs.files("apk"):
        data = fs.read(entry.path)
        span = entry_span(data, MANIFEST) if data else None
        if data is None or span is None:
            continue
        _quiet_androguard()
        from androguard.core.apk import APK

        try:
            apk = APK(data, raw=True)
            package = apk.get_package()
            version = apk.get_androidversion_name() or apk.get_androidversion_code()
        except Exception:   # androguard over hostile bytes: no component, the rest goes on
            log.debug("unreadable APK %s", entry.path, exc_info=True)
            continue
        if package and version:
            yield Component(name=str(package), version=str(version), source="apk",
                            path=entry.report_path, fs_path=entry.path, container=fs.container,
                            evidence=evidence_at(fs, entry.path, *span), purl_namespace="android")


def identify(fs: RootFS, *, apks: bool = True) -> Iterator[Component]:
    for path in OPKG_STATUS:
        yield from _packages(fs, path, "opkg")
    for pattern in OPKG_CONTROL:
        for entry in fs.glob(pattern):
            yield from _packages(fs, entry.path, "opkg")
    for path in DPKG_STATUS:
        yield from _packages(fs, path, "dpkg")
    for entry in fs.glob(DPKG_STATUS_D):
        if "." not in entry.name:        # not the .md5sums beside each control file
            yield from _packages(fs, entry.path, "dpkg")
    for path in YOCTO_MANIFESTS:
        yield from _yocto(fs, path)
    for pattern in BUILDROOT_MANIFESTS:
        for entry in fs.glob(pattern):
            yield from _buildroot(fs, entry.path)
    for path in OS_RELEASE:
        if fs.stat(path) is not None:
            yield from _os_release(fs, path)
            break
    for path in BUILD_PROPS:
        yield from _android(fs, path)
    if apks:
        yield from _apks(fs)


def _same_version(a: str, b: str) -> bool:
    """Equal, or one a prefix of the other at a boundary: a binary's `9.2` confirms `9.2p1`,
    its `2.1` does not confirm `2.10`."""
    a, b = a.lower(), b.lower()
    short, long = sorted((a, b), key=len)
    return long.startswith(short) and (len(long) == len(short) or not long[len(short)].isdigit())


def disagreements(components: Iterable[Component]) -> dict[tuple[str, ...], str]:
    """{sort key: what the other side says} for every component whose package metadata (dpkg,
    opkg, Yocto, Buildroot) and version strings in the binaries of the same tree differ: each side
    names the other's version, source and file."""
    by_name: dict[tuple[tuple[str, ...], str], list[Component]] = defaultdict(list)
    for c in components:
        by_name[(c.container, c.name)].append(c)
    notes: dict[tuple[str, ...], list[str]] = defaultdict(list)
    for group in by_name.values():
        metadata = [c for c in group if c.source in METADATA]
        binary = [c for c in group if c.source == "binary"]
        for m in metadata:
            for b in binary:
                if not _same_version(m.upstream_version, b.upstream_version):
                    notes[m.sort_key()].append(f"binary {b.version} in {b.path}")
                    notes[b.sort_key()].append(f"{m.source} {m.version} in {m.path}")
    return {key: "; ".join(dict.fromkeys(texts)) for key, texts in notes.items()}
