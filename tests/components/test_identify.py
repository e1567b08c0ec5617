"""Component identification: package databases, build properties, and version strings of
real binaries (Debian's, downloaded at test time, and the host's own)."""

from __future__ import annotations

from pathlib import Path

import pytest
from debs import debian_package

from firmproof.components import identify
from firmproof.components.binaries import checkers
from firmproof.components.packages import upstream_of
from firmproof.index import index_tree
from firmproof.rootfs import RootFS

# (Debian package, suite, component, the file that must carry the version)
SUITES = ("bullseye", "bookworm", "trixie")
ACCURACY = [
    (package, suite, component, path)
    for package, component, path in [
        ("busybox-static", "busybox", None),
        ("dropbear-bin", "dropbear", "/usr/sbin/dropbear"),
        ("openssl", "openssl", "/usr/bin/openssl"),
        ("dnsmasq-base", "dnsmasq", "/usr/sbin/dnsmasq"),
        ("libc6", "glibc", None),
    ]
    for suite in SUITES
] + [(f"libcurl4{'t64' if suite == 'trixie' else ''}", suite, "curl", None) for suite in SUITES] + [
    # trixie's security update of 10.0p1 calls itself OpenSSH_10.0p2: the binary, not the
    # package's version, is what a firmware image carries
    ("openssh-client", suite, "openssh", "/usr/bin/ssh") for suite in ("bullseye", "bookworm")]


def components_of(tree: Path) -> list:
    index = index_tree(tree, None, (tree.name,))
    return [c for view in index.views for c in identify(view)]


@pytest.mark.parametrize(("package", "suite", "component", "path"), ACCURACY,
                         ids=[f"{p}-{s}" for p, s, _, _ in ACCURACY])
def test_version_of_real_debian_binaries(package, suite, component, path):
    tree, version = debian_package(package, suite)
    expected = upstream_of(version)
    found = [c for c in components_of(tree) if c.name == component]
    assert found, f"{component} not identified in {package} {version}"
    if path is not None:
        found = [c for c in found if c.path == path]
        assert found, f"{component} not identified in {path}"
    assert {c.version for c in found} == {expected}, (package, version)
    for c in found:
        data = (tree / c.path.lstrip("/")).read_bytes()
        ev = c.evidence
        assert expected.encode() in data[ev.offset:ev.offset + ev.length]
        assert c.source == "binary"


def test_libssl_version_is_in_libcrypto():
    tree, version = debian_package("libssl3", "bookworm")
    found = {(c.name, c.version) for c in components_of(tree) if "libcrypto" in c.path}
    assert found == {("openssl", upstream_of(version))}


OPKG_STATUS = """Package: dnsmasq
Version: 2.80-15
Depends: libc
Status: install user installed
Architecture: mipsel_24kc
Installed-Time: 1594932035

Package: dropbear
Version: 2019.78-2
Depends: libc
Status: install user not-installed
Architecture: mipsel_24kc

Package: luci-base
Version: git-20.136.49537-fb2f363
Status: install user installed
Architecture: mipsel_24kc
"""


def test_opkg_status():
    fs = RootFS.from_files({"/usr/lib/opkg/status": OPKG_STATUS})
    found = {c.name: c for c in identify(fs)}
    assert set(found) == {"dnsmasq", "luci-base"}   # dropbear is not installed
    dnsmasq = found["dnsmasq"]
    assert (dnsmasq.version, dnsmasq.upstream_version, dnsmasq.source) == ("2.80-15", "2.80", "opkg")
    assert dnsmasq.cpe == "cpe:2.3:a:thekelleys:dnsmasq:2.80:*:*:*:*:*:*:*"
    ev = dnsmasq.evidence
    assert OPKG_STATUS.encode()[ev.offset:ev.offset + ev.length] == b"Package: dnsmasq\nVersion: 2.80-15"
    assert found["luci-base"].cpe is None


def test_opkg_control_files():
    control = "Package: busybox\nVersion: 1.31.1-1\nDepends: libc\nArchitecture: arm_cortex-a7\n"
    fs = RootFS.from_files({"/usr/lib/opkg/info/busybox.control": control})
    (c,) = identify(fs)
    assert (c.name, c.version, c.upstream_version) == ("busybox", "1.31.1-1", "1.31.1")
    assert c.path == "/usr/lib/opkg/info/busybox.control"


def test_dpkg_status_of_the_host():
    status = Path("/var/lib/dpkg/status").read_bytes()
    fs = RootFS.from_files({"/var/lib/dpkg/status": status})
    found = identify(fs)
    assert len(found) > 50
    assert all(c.source == "dpkg" and c.purl.startswith("pkg:deb/debian/") for c in found)
    for c in found[:20]:
        assert c.version.encode() in status[c.evidence.offset:c.evidence.offset + c.evidence.length]


def test_android_build_prop():
    prop = "ro.build.id=QP1A.190711.020\nro.build.version.release=10\nro.build.version.sdk=29\n"
    fs = RootFS.from_files({"/system/build.prop": prop})
    (c,) = identify(fs)
    assert (c.name, c.version, c.cpe) == ("android", "10", "cpe:2.3:a:google:android:10:*:*:*:*:*:*:*")
    assert c.evidence.excerpt == "ro.build.version.release=10"


def test_no_version_no_component():
    """Product names without a version string, in text and in a binary, name nothing."""
    elf = Path("/usr/bin/true").read_bytes()
    fs = RootFS.from_files({
        "/etc/banner": "Powered by BusyBox v and OpenSSL and dnsmasq-\n",
        "/usr/bin/tool": elf + b"\x00BusyBox v%s (%s)\x00dnsmasq-%s\x00OpenSSL %s %s\x00",
        "/usr/lib/opkg/status": "Package: broken\nDescription: no version field\n",
    }, modes={"/usr/bin/tool": 0o755})
    assert identify(fs) == []


def test_every_checker_has_a_version_group():
    assert len(checkers()) >= 20
    for checker in checkers():
        assert checker.marker and checker.patterns


def test_apk_version():
    from conftest import corpus_file

    from firmproof.android.apk import entry_span

    data = corpus_file("apk_a2dp.Vol_137.apk").read_bytes()
    fs = RootFS.from_files({"/system/app/A2dpVol/A2dpVol.apk": data})
    (c,) = identify(fs)
    assert (c.name, c.version, c.source) == ("a2dp.Vol", "2.12.9.2", "apk")
    assert c.purl == "pkg:generic/android/a2dp.Vol@2.12.9.2"
    assert (c.evidence.offset, c.evidence.length) == entry_span(data, "AndroidManifest.xml")
    assert identify(fs, apks=False) == []
