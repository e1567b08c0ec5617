"""Components named by the image's own metadata, each with a case that must hit and one that
must not: dpkg status written by the real dpkg from real Debian packages, distroless status.d
files from those packages' control files, Yocto's license.manifest and Buildroot's manifest.csv
as their build systems write them, os-release from Debian's base-files, Android build
properties; and metadata against binaries: the report says where they disagree."""

from __future__ import annotations

import csv
import io
import json
import subprocess
from pathlib import Path

import pytest
from conftest import firmproof, need_tools
from debs import CACHE, debian_package, install

from firmproof.device.components import identify
from firmproof.device.components.packages import disagreements
from firmproof.fs.rootfs import RootFS
from firmproof.testing.fixtures import pack


def deb(package: str, suite: str) -> Path:
    debian_package(package, suite)                     # downloads it once, or skips
    return sorted((CACHE / suite).glob(f"{package}_*.deb"))[-1]


def dpkg_status(tmp_path: Path, install: list[Path], remove: list[str] = ()) -> bytes:
    """/var/lib/dpkg/status as dpkg writes it, installing `install` into a scratch admin and
    instdir (none of these packages has maintainer scripts; the host's dpkg state is untouched)."""
    need_tools("dpkg")
    admin, root = tmp_path / "admin", tmp_path / "instdir"
    for sub in ("updates", "info"):
        (admin / sub).mkdir(parents=True, exist_ok=True)
    (admin / "status").touch()
    root.mkdir(exist_ok=True)
    base = ["dpkg", f"--admindir={admin}", f"--instdir={root}", "--log=/dev/null", "--force-depends",
            "--force-not-root", "--no-triggers"]
    subprocess.run([*base, "--install", *map(str, install)], check=True, capture_output=True)
    if remove:
        subprocess.run([*base, "--remove", *remove], check=True, capture_output=True)
    return (admin / "status").read_bytes()


def by_name(fs: RootFS) -> dict[str, list]:
    found: dict[str, list] = {}
    for c in identify(fs):
        found.setdefault(c.name, []).append(c)
    return found


def test_dpkg_status_written_by_dpkg(tmp_path):
    status = dpkg_status(tmp_path, [deb("busybox-static", "bookworm"), deb("libssl3", "bookworm"),
                                    deb("wget", "bookworm")], remove=["wget"])
    assert b"Status: deinstall ok config-files" in status          # the decoy: removed, conffiles kept
    fs = RootFS.from_files({"/var/lib/dpkg/status": status})
    found = by_name(fs)
    (busybox,) = found["busybox"]
    assert (busybox.version, busybox.upstream_version, busybox.source) == ("1:1.35.0-4+deb12u1+b1", "1.35.0",
                                                                           "dpkg")
    assert busybox.purl == "pkg:deb/debian/busybox@1:1.35.0-4%2Bdeb12u1%2Bb1"
    assert status[busybox.evidence.offset:busybox.evidence.offset + busybox.evidence.length].startswith(
        b"Package: busybox-static\n")
    (openssl,) = found["openssl"]                                   # libssl3 is OpenSSL's
    assert openssl.cpe == "cpe:2.3:a:openssl:openssl:3.0.20:*:*:*:*:*:*:*"
    assert "wget" not in found


def test_distroless_status_d(tmp_path):
    package = deb("busybox-static", "bookworm")
    subprocess.run(["dpkg-deb", "-e", str(package), str(tmp_path / "control")], check=True)
    control = (tmp_path / "control" / "control").read_bytes()
    md5sums = (tmp_path / "control" / "md5sums").read_bytes()
    fs = RootFS.from_files({"/var/lib/dpkg/status.d/busybox-static": control,
                            "/var/lib/dpkg/status.d/busybox-static.md5sums": md5sums})   # the decoy
    (c,) = identify(fs)
    assert (c.name, c.upstream_version) == ("busybox", "1.35.0")
    assert c.path == "/var/lib/dpkg/status.d/busybox-static"


def _yocto_manifest(packages: list[tuple[str, str, str, str]]) -> str:
    """license.manifest as license_image.bbclass writes it (rootfs manifest blocks)."""
    return "".join(f"PACKAGE NAME: {p}\nPACKAGE VERSION: {v}\nRECIPE NAME: {r}\nLICENSE: {lic}\n\n"
                   for p, v, r, lic in packages)


def test_yocto_license_manifest():
    text = _yocto_manifest([("busybox", "1.36.1", "busybox", "GPL-2.0-only & bzip2-1.0.4"),
                            ("libssl3", "3.1.4", "openssl", "Apache-2.0"),
                            ("base-files", "3.0.14", "base-files", "GPL-2.0-only")])
    # the decoy: an image (deployed files) manifest block names a recipe, not an installed package
    text += "RECIPE NAME: u-boot\nVERSION: 2023.10\nLICENSE: GPL-2.0-or-later\nFILES: u-boot.bin\n\n"
    fs = RootFS.from_files({"/usr/share/common-licenses/license.manifest": text})
    found = {c.name: c for c in identify(fs)}
    assert set(found) == {"busybox", "openssl", "base-files"}
    assert found["openssl"].cpe == "cpe:2.3:a:openssl:openssl:3.1.4:*:*:*:*:*:*:*"
    ev = found["openssl"].evidence
    assert text.encode()[ev.offset:ev.offset + ev.length] == b"PACKAGE NAME: libssl3\nPACKAGE VERSION: 3.1.4"
    assert found["busybox"].source == "yocto" and found["base-files"].cpe is None


def _buildroot_manifest(rows: list[tuple[str, str]]) -> str:
    """legal-info/manifest.csv as Buildroot writes it: every field quoted, seven columns."""
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\n")
    writer.writerow(["PACKAGE", "VERSION", "LICENSE", "LICENSE FILES", "SOURCE ARCHIVE", "SOURCE SITE",
                     "DEPENDENCIES WITH LICENSES"])
    for name, version in rows:
        writer.writerow([name, version, "GPL-2.0", "LICENSE", f"{name}-{version}.tar.gz",
                         "http://example.invalid", ""])
    return out.getvalue()


def test_buildroot_manifest():
    target = _buildroot_manifest([("busybox", "1.36.1"), ("dropbear", "2022.83"), ("skeleton", "")])
    host = _buildroot_manifest([("host-openssl", "3.1.2")])          # the decoy: build machine tools
    fs = RootFS.from_files({"/usr/share/buildroot/legal-info/manifest.csv": target,
                            "/usr/share/buildroot/legal-info/host-manifest.csv": host})
    found = {c.name: c for c in identify(fs)}
    assert set(found) == {"busybox", "dropbear"}                     # skeleton has no version
    assert found["dropbear"].cpe == "cpe:2.3:a:dropbear_ssh_project:dropbear_ssh:2022.83:*:*:*:*:*:*:*"
    assert found["busybox"].evidence.excerpt.startswith('"busybox","1.36.1",')


def test_os_release_of_debian(tmp_path):
    tree, _ = debian_package("base-files", "bookworm")
    real = (tree / "usr/lib/os-release").read_bytes()
    fs = RootFS.from_files({"/usr/lib/os-release": real})
    (c,) = identify(fs)
    assert (c.name, c.version, c.source) == ("debian", "12", "os-release")
    assert c.cpe is None and c.purl == "pkg:generic/debian@12"
    assert c.evidence.excerpt == 'VERSION_ID="12"'
    # the decoy: a rolling release (testing) names no version
    rolling = b'PRETTY_NAME="Debian GNU/Linux trixie/sid"\nNAME="Debian GNU/Linux"\nID=debian\n'
    assert identify(RootFS.from_files({"/etc/os-release": rolling})) == []


def test_os_release_of_openwrt():
    text = ('NAME="OpenWrt"\nVERSION="23.05.3"\nID="openwrt"\nID_LIKE="lede openwrt"\n'
            'PRETTY_NAME="OpenWrt 23.05.3"\nVERSION_ID="23.05.3"\nBUILD_ID="r23809-234f1a2efa"\n')
    (c,) = identify(RootFS.from_files({"/etc/os-release": text}))
    assert (c.name, c.version, c.source) == ("openwrt", "23.05.3", "os-release")


def test_android_security_patch_level():
    prop = ("ro.build.id=TP1A.220624.014\nro.build.version.release=13\n"
            "ro.build.version.security_patch=2023-05-05\nro.build.version.sdk=33\n")
    found = {c.name: c for c in identify(RootFS.from_files({"/system/build.prop": prop}))}
    assert found["android"].version == "13"
    spl = found["android-security-patch"]
    assert (spl.version, spl.evidence.excerpt) == ("2023-05-05", "ro.build.version.security_patch=2023-05-05")
    # the decoy: a vendor partition's own patch level, or a malformed date, is not the platform's
    vendor = "ro.vendor.build.security_patch=2023-06-01\nro.build.version.security_patch=2023-5\n"
    assert identify(RootFS.from_files({"/system/build.prop": vendor})) == []


@pytest.fixture(scope="module")
def mixed_tree(tmp_path_factory) -> Path:
    """A root whose dpkg status (by dpkg) says BusyBox 1.35.0 and Dropbear 2022.83, but whose
    /bin/busybox is bullseye's 1.30.1 (a vendor swapped the binary); /usr/sbin/dropbear agrees."""
    tmp = tmp_path_factory.mktemp("mixed")
    status = dpkg_status(tmp / "dpkg", [deb("busybox-static", "bookworm"), deb("dropbear-bin", "bookworm")])
    root = tmp / "root"
    (root / "var/lib/dpkg").mkdir(parents=True)
    (root / "var/lib/dpkg/status").write_bytes(status)
    (root / "etc").mkdir()
    base_files, _ = debian_package("base-files", "bookworm")
    (root / "etc/os-release").write_bytes((base_files / "usr/lib/os-release").read_bytes())
    install(root, "busybox-static", "bullseye", {"/bin/busybox": "/bin/busybox"})
    install(root, "dropbear-bin", "bookworm", {"/usr/sbin/dropbear": "/usr/sbin/dropbear"})
    return root


def test_metadata_and_binary_disagree(mixed_tree):
    from firmproof.fs.index import index_tree

    (view,) = index_tree(mixed_tree, None, ("image",)).views
    components = identify(view)
    notes = disagreements(components)
    flagged = {(c.name, c.source, c.version): notes[c.sort_key()]
               for c in components if c.sort_key() in notes}
    assert flagged == {
        ("busybox", "dpkg", "1:1.35.0-4+deb12u1+b1"): "binary 1.30.1 in /bin/busybox",
        ("busybox", "binary", "1.30.1"): "dpkg 1:1.35.0-4+deb12u1+b1 in /var/lib/dpkg/status",
    }
    assert {(c.name, c.source) for c in components} >= {("dropbear", "dpkg"), ("dropbear", "binary"),
                                                        ("debian", "os-release")}   # agreeing: no note


def test_sbom_says_where_they_disagree(mixed_tree, tmp_path):
    need_tools("mksquashfs")
    image = pack(mixed_tree, "squashfs-xz", tmp_path / "mixed.bin")
    out = tmp_path / "mixed.cdx.json"
    proc = firmproof("scan", image, "--format", "sbom", "-o", out, "-q", "--vulndb", tmp_path / "none")
    assert proc.returncode == 0, proc.stderr
    bom = json.loads(out.read_text())
    notes = {(c["name"], c["version"]): {p["name"]: p["value"] for p in c.get("properties", [])}.get(
        "firmproof:disagrees") for c in bom["components"]}
    assert notes[("busybox", "1:1.35.0-4+deb12u1+b1")] == "binary 1.30.1 in /bin/busybox"
    assert notes[("busybox", "1.30.1")] == "dpkg 1:1.35.0-4+deb12u1+b1 in /var/lib/dpkg/status"
    assert notes[("dropbear", "2022.83")] is None
    assert notes[("debian", "12")] is None
    (debian,) = [c for c in bom["components"] if c["name"] == "debian"]
    assert debian["type"] == "operating-system"
