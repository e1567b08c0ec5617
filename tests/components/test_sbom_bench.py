"""The SBOM benchmark's judge (bench/sbom.py): upstream versions from Debian versions, and the
verdict of each (component, architecture) pair and of components outside the set."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

_PATH = Path(__file__).resolve().parents[2] / "bench" / "sbom.py"
_spec = importlib.util.spec_from_file_location("bench_sbom", _PATH)
assert _spec and _spec.loader
sbom = importlib.util.module_from_spec(_spec)
sys.modules["bench_sbom"] = sbom
_spec.loader.exec_module(sbom)
Reported = sbom.Reported


@pytest.mark.parametrize(("debian", "upstream"), [
    ("1:1.35.0-4+deb12u1", "1.35.0"),            # epoch, revision
    ("2:4.17.12+dfsg-0+deb12u4", "4.17.12"),     # repacked
    ("1:1.2.13.dfsg-1", "1.2.13"),               # zlib's repack suffix
    ("1:9.2p1-2+deb12u10", "9.2p1"),             # OpenSSH portable release kept whole
    ("4.4.3-P1-2", "4.4.3-P1"),                  # a hyphen inside the upstream version
    ("2.4.9-1+1.1", "2.4.9"),                    # ppp's source version
    ("1.9.13p3-1+deb12u4", "1.9.13p3"),
    ("3.40.1", "3.40.1"),                        # native package
    ("2.0+really1.5-1", "1.5"),
])
def test_upstream_version(debian: str, upstream: str) -> None:
    assert sbom.upstream_version(debian) == upstream


def test_each_verdict() -> None:
    truth = {"openssl": "3.0.20", "openssh": "9.2p1", "samba": "4.17.12", "zlib": "1.2.13", "wget": "1.21.3"}
    reported = [
        Reported(("openssl",), "3.0.20"),
        Reported(("libssl",), "3.0.20"),                          # an alias, same version: still exact
        Reported(("openssh",), "9.2p1"), Reported(("openssh",), "9.2"),   # right one plus a second
        Reported(("samba",), "1.9.18"),                           # only a wrong one
        Reported(("libcurl",), "7.88.1"),                         # named but its package is not in the set
        Reported(("nghttp2",), "1.52.0"),                         # outside the set altogether
        Reported(("anything", "zlib"), "v1.2.13"),                # matched by CPE product; a leading v
    ]
    result = sbom.score(truth, reported, bundled={})
    assert result.pairs == {"openssh": "extra", "openssl": "exact", "samba": "wrong", "wget": "missed",
                            "zlib": "exact"}
    assert result.versions["openssh"] == ["9.2", "9.2p1"]
    assert result.spurious == [("curl", "7.88.1"), ("nghttp2", "1.52.0")]
    assert result.bundled == []
    assert (result.count("exact"), result.count("extra"), result.count("wrong"), result.count("missed")) \
        == (2, 1, 1, 1)


def test_bundled_copy_only_at_its_version() -> None:
    bundled = {"libfdt": ("u-boot-tools", "1.6.1", "scripts/dtc vendored in U-Boot's sources")}
    truth = {"u-boot": "2023.01"}
    right = sbom.score(truth, [Reported(("u-boot",), "2023.01"), Reported(("libfdt",), "1.6.1")],
                       bundled=bundled)
    assert right.pairs == {"u-boot": "exact"} and not right.spurious
    assert right.bundled == [("libfdt", "1.6.1")]
    wrong = sbom.score(truth, [Reported(("das_u_boot",), "2023.01"), Reported(("libfdt",), "1.4")],
                       bundled=bundled)
    assert wrong.pairs == {"u-boot": "exact"} and wrong.spurious == [("libfdt", "1.4")] and not wrong.bundled


def test_every_package_belongs_to_one_component() -> None:
    packages = [p for packages, _ in sbom.PACKAGES.values() for p in packages]
    assert len(packages) == len(set(packages))
    names = sbom.aliases()
    assert all(names[sbom._key(c)] == c for c in sbom.PACKAGES)


OPKG_STATUS = """Package: libc
Version: 0.9.33.2-1
Depends: libgcc
Status: install user installed
Architecture: ar71xx

Package: kernel
Version: 3.18.98-1-82616593bb3a60b86db8abf008c8b725
Status: install user installed
Architecture: ar71xx

Package: dnsmasq
Version: 2.79rc1-1
Depends: libc
Status: install user installed
Architecture: ar71xx

Package: wpad-mini
Version: 2016-06-15-2
Status: install user installed
Architecture: ar71xx

Package: iptables
Version: 1.4.21-1
Status: install user installed
Architecture: ar71xx

Package: libxtables
Version: 1.4.22-1
Status: install user installed
Architecture: ar71xx

Package: luci-base
Version: git-18.021.57137-5fa2132-1
Status: install user installed
Architecture: ar71xx
"""


def test_opkg_truth():
    truth, unversioned = sbom.opkg_truth(OPKG_STATUS)
    assert truth == {"uclibc": "0.9.33.2", "linux_kernel": "3.18.98", "dnsmasq": "2.79rc1"}
    # a snapshot date is no release; two versions of one component are no truth; luci is unmapped
    assert unversioned == {"hostapd", "wpa_supplicant", "iptables"}
    names = {**sbom.aliases(), **sbom.CORPUS_NAMES}
    kept = sbom.without([Reported(("hostapd",), "2.6"), Reported(("dnsmasq",), "2.79")], unversioned, names)
    assert kept == [Reported(("dnsmasq",), "2.79")]


def test_trailing_zero_is_the_same_release() -> None:
    """Debian spells hostapd's release 2.9 as 2.9.0: either spelling is exact, for every tool."""
    truth = {"hostapd": "2.9.0", "wpa_supplicant": "2.10", "openssh": "10.0p2"}
    reported = [Reported(("hostapd",), "2.9"), Reported(("wpa_supplicant",), "2.10.0"),
                Reported(("openssh",), "10.0")]
    result = sbom.score(truth, reported, bundled={})
    assert result.pairs == {"hostapd": "exact", "wpa_supplicant": "exact", "openssh": "wrong"}
