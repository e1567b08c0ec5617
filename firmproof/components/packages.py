"""Components named by package databases (opkg/ipkg, dpkg), Android build properties and APKs."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator

from firmproof.components import Component, evidence_at
from firmproof.components.binaries import checker_for_package
from firmproof.rootfs import RootFS

OPKG_STATUS = ("/usr/lib/opkg/status", "/var/lib/opkg/status", "/usr/lib/ipkg/status",
               "/var/lib/ipkg/status", "/etc/opkg/status")
OPKG_CONTROL = ("/usr/lib/opkg/info/*.control", "/var/lib/opkg/info/*.control",
                "/usr/lib/ipkg/info/*.control")
DPKG_STATUS = ("/var/lib/dpkg/status",)
BUILD_PROPS = ("/system/build.prop", "/build.prop", "/vendor/build.prop", "/system/system/build.prop")

_FIELD = re.compile(rb"^(Package|Version|Status):[ \t]*(\S[^\n]*?)[ \t]*$", re.MULTILINE)
_PROP = re.compile(rb"^ro\.build\.version\.release=([0-9][0-9A-Za-z.]*)[ \t]*$", re.MULTILINE)
_DEBIAN_REVISION = re.compile(r"-[0-9A-Za-z.+~]+$")

log = logging.getLogger(__name__)


def upstream_of(version: str) -> str:
    """The upstream part of a package version: no epoch, no packaging revision."""
    version = version.split(":", 1)[1] if re.match(r"^\d+:", version) else version
    return _DEBIAN_REVISION.sub("", version)


def _packages(fs: RootFS, path: str, source: str) -> Iterator[Component]:
    data = fs.read(path)
    if not data:
        return
    entry = fs.stat(path)
    assert entry is not None
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
        checker = checker_for_package(name)
        yield Component(
            name=checker.component if checker else name, version=version, source=source,
            path=entry.report_path, fs_path=entry.path, container=fs.container,
            evidence=evidence_at(fs, entry.path, first, last - first),
            vendor=checker.vendor if checker else None, product=checker.product if checker else None,
            purl_type="deb" if source == "dpkg" else "generic",
            purl_namespace="debian" if source == "dpkg" else None,
            upstream=upstream_of(version))


def _stanzas_exact(data: bytes) -> Iterator[tuple[int, dict[bytes, tuple[bytes, int, int]]]]:
    """Stanzas split on blank lines, with field offsets into `data` itself."""
    for m in re.finditer(rb"(?:^|\n)((?:[^\n]+\n?)+)", data):
        block_start = m.start(1)
        block = m.group(1)
        fields: dict[bytes, tuple[bytes, int, int]] = {}
        for f in _FIELD.finditer(block):
            fields.setdefault(f.group(1), (f.group(2), block_start + f.start(), block_start + f.end()))
        yield block_start, fields


def _android(fs: RootFS, path: str) -> Iterator[Component]:
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


def _apks(fs: RootFS) -> Iterator[Component]:
    """Android apps by package name and versionName, read by androguard (as the android
    analyzer does); the evidence is the stored AndroidManifest.xml entry of the APK."""
    from firmproof.android.apk import MANIFEST, _quiet_androguard, entry_span

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
    for path in BUILD_PROPS:
        yield from _android(fs, path)
    if apks:
        yield from _apks(fs)
