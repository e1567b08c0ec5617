"""Component identification on real firmware of the shared corpus, cross-checked against what
the image itself says elsewhere: OpenWrt's opkg database, and the manifest's notes."""

from __future__ import annotations

import json

import pytest
from conftest import corpus_file, firmproof

from firmproof.device.components.packages import upstream_of

pytestmark = pytest.mark.corpus


def sbom(name: str, tmp_path) -> list[dict]:
    out = tmp_path / "sbom.json"
    proc = firmproof("scan", corpus_file(name), "--format", "sbom", "-o", out, "-q",
                     "--vulndb", tmp_path / "none")
    assert proc.returncode == 0, proc.stderr
    found = []
    for c in json.loads(out.read_text())["components"]:
        props = {p["name"]: p["value"] for p in c["properties"]}
        found.append({"name": c["name"], "version": c["version"], "source": props["firmproof:source"],
                      "path": props["firmproof:path"]})
    return found


def test_openwrt_binaries_agree_with_opkg(tmp_path):
    """LibraryBox 2.1 (OpenWrt 12.09): every version read from a binary equals the upstream
    part of the version opkg recorded for the same component."""
    found = sbom("librarybox-2.1_openwrt_tl-mr3020-v1_squashfs-factory.bin", tmp_path)
    binary = {(c["name"], c["version"]) for c in found if c["source"] == "binary"}
    opkg = {c["name"]: upstream_of(c["version"]) for c in found if c["source"] == "opkg"}
    assert {"busybox", "dnsmasq", "dropbear", "linux_kernel"} <= {n for n, _ in binary}
    for name, version in binary:
        if name in ("hostapd", "wpa_supplicant"):   # both in wpad, which opkg dates by git snapshot
            continue
        assert opkg.get(name, "").startswith(version), (name, version, opkg.get(name))
    assert ("dnsmasq", "2.66") in binary and ("busybox", "1.19.4") in binary


def test_tplink_wr841n_v14(tmp_path):
    """The manifest's binwalk notes: MT7628 with Linux 2.6.36."""
    found = {(c["name"], c["version"]) for c in sbom("tplink_tl-wr841n-v14-eu_stock_2023.bin", tmp_path)}
    assert {("linux_kernel", "2.6.36"), ("busybox", "1.19.2"), ("dropbear", "2012.55")} <= found


def test_openwrt_15_05_binaries_agree_with_opkg(tmp_path):
    """OpenWrt 15.05.1 for the TL-WR703N: dropbear's banner hides its version and dnsmasq's
    is not prefixed; both are read from the strings that print them, and every version read
    from a binary is the upstream part of what opkg recorded."""
    found = sbom("openwrt_15.05.1_ar71xx_tl-wr703n-v1_squashfs-factory.bin", tmp_path)
    binary = {(c["name"], c["version"]) for c in found if c["source"] == "binary"}
    opkg = {c["name"]: upstream_of(c["version"]) for c in found if c["source"] == "opkg"}
    assert {("dropbear", "2017.75"), ("dnsmasq", "2.79"), ("busybox", "1.23.2"),
            ("iptables", "1.4.21"), ("pppd", "2.4.7")} <= binary
    for name, version in binary:
        if name in ("hostapd", "wpa_supplicant", "linux_kernel", "lua"):   # git-dated or not in opkg
            continue
        assert opkg.get(name, "").startswith(version), (name, version, opkg.get(name))


def test_tplink_wr841n_v14_uclibc_from_its_file_names(tmp_path):
    """uClibc 0.9.33.2: the release is in the names of libuClibc-0.9.33.2.so and
    ld-uClibc-0.9.33.2.so, not in their bytes."""
    found = sbom("tplink_tl-wr841n-v14-eu_stock_2023.bin", tmp_path)
    (c,) = [c for c in found if c["name"] == "uclibc"]
    assert c["version"] == "0.9.33.2"
    assert c["path"] in ("/lib/libuClibc-0.9.33.2.so", "/lib/ld-uClibc-0.9.33.2.so")
