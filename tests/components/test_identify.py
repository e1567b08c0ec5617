"""Component identification: package databases, build properties, and version strings of
real binaries (Debian's, downloaded at test time, and the host's own)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from debs import debian_package, prefetch

from firmproof.device.components import Component, identify
from firmproof.device.components.binaries import checkers, declarations
from firmproof.device.components.packages import upstream_of
from firmproof.fs.index import index_tree
from firmproof.fs.rootfs import RootFS

SUITES = ("bullseye", "bookworm", "trixie")
FOREIGN_SUITES = (("bookworm", "mipsel"), ("trixie", "armhf"))
DECLARED = declarations()


def _component(key: str) -> str:
    return DECLARED[key].get("component", key)


# (component, the Debian packages that carry it: per suite, the first that has executables),
# from each checker's `debian` field (firmproof/data/components/README.md)
CARRIERS = [(_component(key), tuple(packages)) for key, spec in DECLARED.items()
            for packages in spec.get("debian", ())]
# releases whose binaries keep no version string of the component
SILENT = {(_component(key), suite) for key, spec in DECLARED.items()
          for suite in spec.get("debian_silent", ())}
# where the binaries say another version than the package: what the binary says is what ships
BINARY_SAYS = {(_component(key), suite): version for key, spec in DECLARED.items()
               for suite, version in spec.get("debian_says", {}).items()}
# programs that carry a copy of the component's version or mention it, and must not be read as
# the component at another version than the package's own: header copies, prose
DECOYS = [(_component(key), tuple(packages)) for key, spec in DECLARED.items()
          for packages in spec.get("debian_decoys", ())]
ACCURACY = [(component, packages, suite) for component, packages in CARRIERS for suite in SUITES
            if (component, suite) not in SILENT]
DECOY_CASES = [(component, packages, suite) for component, packages in DECOYS for suite in SUITES]


@pytest.fixture(scope="module", autouse=True)
def _fetched() -> None:
    """Every package these tests read, downloaded in one apt call per release and architecture."""
    for suite in SUITES:
        prefetch([p for _, packages in CARRIERS + DECOYS for p in packages], suite)
    for suite, arch in FOREIGN_SUITES:
        prefetch([p for _, packages in CARRIERS for p in packages], suite, arch)


def carrier(packages: tuple[str, ...], suite: str, arch: str | None = None) -> tuple[Path, str]:
    """The tree and version of the first of `packages` the suite has with an ELF file in it."""
    reasons = []
    for package in packages:
        try:
            tree, version = debian_package(package, suite, arch)
        except pytest.skip.Exception as exc:
            reasons.append(str(exc))
            continue
        if any(p.is_file() and not p.is_symlink() and p.read_bytes()[:4] == b"\x7fELF"
               for p in tree.rglob("*")):
            return tree, version
        reasons.append(f"{package}/{suite} holds no executable")
    pytest.skip("; ".join(reasons))


def expected_version(version: str) -> str:
    """The version the binary says, from a Debian version: no epoch, revision or repack mark
    ("1:1.3.dfsg+really1.3.1-1" is 1.3.1, "2:4.17.12+dfsg-0" is 4.17.12)."""
    upstream = upstream_of(version)
    upstream = re.sub(r"^.*\+really", "", upstream)
    upstream = re.sub(r"-stable$", "", upstream)            # libevent's 2.1.12-stable
    return re.sub(r"[.+~](?:dfsg|ds|repack)\d*.*$", "", upstream)


def same_version(found: str, truth: str) -> bool:
    """Equal, but for Debian's trailing ".0" ("2.9.0" is hostapd's 2.9)."""
    def trim(v: str) -> str:
        return re.sub(r"(?:\.0)+$", "", v)
    return trim(found) == trim(truth)


def components_of(tree: Path) -> list:
    index = index_tree(tree, None, (tree.name,))
    return [c for view in index.views for c in identify(view)]


@pytest.mark.parametrize(("component", "packages", "suite"), ACCURACY,
                         ids=[f"{c}-{p[0]}-{s}" for c, p, s in ACCURACY])
def test_version_of_real_debian_binaries(component, packages, suite):
    """The one version of the component the package's binaries say, with the evidence bytes
    holding it, read from the component's own file."""
    tree, version = carrier(packages, suite)
    truth = BINARY_SAYS.get((component, suite)) or expected_version(version)
    every = components_of(tree)
    # the package's binaries are decoys for every other checker: they name nothing else
    assert {c.name for c in every} <= {component}, [(c.name, c.version, c.path) for c in every]
    found = [c for c in every if c.name == component and c.source == "binary"]
    assert found, f"{component} not identified in {packages[0]} {version}"
    assert len(found) == 1 and same_version(found[0].version, truth), \
        (packages, version, [(c.version, c.path) for c in found])
    c = found[0]
    data = (tree / c.path.lstrip("/")).read_bytes()
    ev = c.evidence
    major, minor, patch = [*c.version.split("."), "0", "0"][:3]
    number = f"{major}{int(minor):02d}{int(patch):02d}" if f"{minor}{patch}".isdigit() else None
    held = data[ev.offset:ev.offset + ev.length]
    if c.version_from == "file name":         # mbed TLS 3: the release in the library's name
        assert c.version in Path(c.path).name and held == next(
            k.marker for k in checkers() if k.component == component and k.file_name is not None)
        return
    assert c.version.encode() in held or (number is not None and held == number.encode())  # libxml2: 20914


# every checker again on ARM (Debian 13) and MIPS (Debian 12) builds: versions kept apart from
# their marker, or bare, depend on how each compiler and linker lays out strings
FOREIGN_CASES = [(component, packages, suite, arch) for component, packages in CARRIERS
                 for suite, arch in FOREIGN_SUITES if (component, suite) not in SILENT]


@pytest.mark.parametrize(("component", "packages", "suite", "arch"), FOREIGN_CASES,
                         ids=[f"{c}-{p[0]}-{s}-{a}" for c, p, s, a in FOREIGN_CASES])
def test_version_on_other_architectures(component, packages, suite, arch):
    tree, version = carrier(packages, suite, arch)
    truth = BINARY_SAYS.get((component, suite)) or expected_version(version)
    every = components_of(tree)
    assert {c.name for c in every} <= {component}, [(c.name, c.version, c.path) for c in every]
    found = [c for c in every if c.name == component and c.source == "binary"]
    assert [c.version for c in found if same_version(c.version, truth)] == [c.version for c in found] != [], \
        (packages, arch, version, [(c.version, c.path) for c in found])


SILENT_CASES = [(component, packages, suite) for component, packages in CARRIERS for suite in SUITES
                if (component, suite) in SILENT]


@pytest.mark.parametrize(("component", "packages", "suite"), SILENT_CASES,
                         ids=[f"{c}-{p[0]}-{s}" for c, p, s in SILENT_CASES])
def test_silent_binaries_name_no_version(component, packages, suite):
    """Where the binaries keep no version string of the component, none is made up."""
    tree, version = carrier(packages, suite)
    assert [(c.version, c.path) for c in components_of(tree) if c.name == component] == [], version


@pytest.mark.parametrize(("component", "packages", "suite"), DECOY_CASES,
                         ids=[f"{c}-{p[0]}-{s}" for c, p, s in DECOY_CASES])
def test_decoys_are_not_components(component, packages, suite):
    tree, version = carrier(packages, suite)
    truth = BINARY_SAYS.get((component, suite)) or expected_version(version)
    found = [(c.version, c.path) for c in components_of(tree) if c.name == component]
    assert all(same_version(v, truth) for v, _ in found), (packages, version, found)


def test_header_copy_of_openssl_is_left_to_the_library():
    """hostapd carries the OpenSSL version of the headers it was built with; beside the
    libssl it loads, only libcrypto's own version is reported, and hostapd depends on it."""
    hostapd, _ = carrier(("hostapd",), "bookworm")
    libssl, version = carrier(("libssl3",), "bookworm")
    fs = RootFS.from_files({
        "/usr/sbin/hostapd": (hostapd / "usr/sbin/hostapd").read_bytes(),
        **{f"/usr/lib/{p.name}": p.read_bytes() for p in libssl.rglob("lib*.so.3")},
    }, modes={"/usr/sbin/hostapd": 0o755})
    found = {c.name: c for c in identify(fs)}
    assert found["openssl"].version == expected_version(version)
    assert found["openssl"].path.startswith("/usr/lib/libcrypto")
    assert found["openssl"].provides == ("libcrypto.so.3",)
    assert {"libssl.so.3", "libcrypto.so.3"} <= set(found["hostapd"].needs)


def test_every_checker_verified_on_debian_is_tested_here():
    """A checker whose table claims Debian binaries declares the packages that carry them, and
    a component declared twice (`debian` on two of its checkers) would be tested twice."""
    tested = {component for component, _ in CARRIERS}
    claimed = {_component(key) for key, spec in DECLARED.items()
               if spec.get("verified", "").startswith("Debian")}
    assert claimed <= tested, sorted(claimed - tested)
    assert len(tested) >= 95
    owners = [_component(key) for key, spec in DECLARED.items() if "debian" in spec]
    assert len(owners) == len(set(owners)), owners


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
        assert checker.marker and (checker.patterns or checker.version_string or checker.file_name)


def test_apk_version():
    from conftest import corpus_file

    from firmproof.device.android.apk import entry_span

    data = corpus_file("apk_a2dp.Vol_137.apk").read_bytes()
    fs = RootFS.from_files({"/system/app/A2dpVol/A2dpVol.apk": data})
    (c,) = identify(fs)
    assert (c.name, c.version, c.source) == ("a2dp.Vol", "2.12.9.2", "apk")
    assert c.purl == "pkg:generic/android/a2dp.Vol@2.12.9.2"
    assert (c.evidence.offset, c.evidence.length) == entry_span(data, "AndroidManifest.xml")
    assert identify(fs, apks=False) == []


@pytest.mark.parametrize(("key", "version", "cpe_version"), [
    ("openssh", "9.2p1", "9.2:p1"), ("openssh", "10.0p2", "10.0:p2"),
    ("isc_dhcp", "4.4.3-P1", "4.4.3:p1"), ("isc_dhcp", "4.4.1", "4.4.1:*"),
    ("dnsmasq", "2.90", "2.90:*")])
def test_cpe_names_split_the_version_where_nvd_does(key, version, cpe_version):
    """NVD names OpenSSH 9.2p1 `openssh:9.2:p1` and ISC DHCP 4.4.3-P1 `dhcp:4.4.3:p1`: a CPE
    with `9.2p1` as its version names no release in its dictionary."""
    from firmproof.model import Evidence

    checker = next(c for c in checkers() if c.key == key)
    component = Component(name=checker.component, version=version, source="binary", path="/x",
                          fs_path="/x", container=("fw",), evidence=Evidence("00" * 32, 0, 1, "x"),
                          vendor=checker.vendor, product=checker.product, cpe_update=checker.cpe_update)
    assert component.cpe == f"cpe:2.3:a:{checker.vendor}:{checker.product}:{cpe_version}:*:*:*:*:*:*"


def _library(tmp_path: Path, source: str, soname: str) -> bytes:
    """A MIPS (little-endian) shared library built from `source` with Debian's cross compiler."""
    import shutil
    import subprocess

    gcc = shutil.which("mipsel-linux-gnu-gcc")
    if gcc is None:
        pytest.skip("mipsel-linux-gnu-gcc is not installed (make setup installs it)")
    (tmp_path / "lib.c").write_text(source)
    out = tmp_path / "lib.so"
    subprocess.run([gcc, "-shared", "-fPIC", "-Os", f"-Wl,-soname,{soname}", "-o", str(out),
                    str(tmp_path / "lib.c")], check=True)
    return out.read_bytes()


@pytest.mark.parametrize(("name", "component", "version"), [
    ("libuClibc-0.9.33.2.so", "uclibc", "0.9.33.2"), ("ld-uClibc-1.0.45.so", "uclibc-ng", "1.0.45")])
def test_uclibc_release_from_its_file_name(tmp_path, name, component, version):
    """uClibc and uClibc-ng name their libraries after the release; the code says uClibc (its
    __uClibc_main entry), the name which release, and the evidence is the marker."""
    data = _library(tmp_path, "int __uClibc_main(void) { return 0; }\n", "libc.so.0")
    fs = RootFS.from_files({f"/lib/{name}": data, "/lib/libc.so.0": data})
    (c,) = [c for c in identify(fs) if c.name.startswith("uclibc")]
    assert (c.name, c.version, c.version_from, c.path) == (component, version, "file name", f"/lib/{name}")
    assert data[c.evidence.offset:c.evidence.offset + c.evidence.length] == b"uClibc"
    product = "uclibc:uclibc" if component == "uclibc" else "uclibc-ng_project:uclibc-ng"
    assert c.cpe.startswith(f"cpe:2.3:a:{product}:{version}:")


def test_release_named_file_without_the_product_names_nothing(tmp_path):
    """Decoys: a library named like uClibc's or mbed TLS's whose code is not theirs, and
    uClibc's code under a name without a release."""
    other = _library(tmp_path, "int answer(void) { return 42; }\n", "libother.so.1")
    uclibc = _library(tmp_path, "int __uClibc_main(void) { return 0; }\n", "libc.so.0")
    fs = RootFS.from_files({"/lib/libuClibc-1.0.45.so": other, "/usr/lib/libmbedtls.so.3.6.6": other,
                            "/lib/libc.so.0": uclibc, "/lib/libuClibc.so": uclibc})
    assert [(c.name, c.version, c.path) for c in identify(fs)] == []
