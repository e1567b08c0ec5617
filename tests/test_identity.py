"""What an image says it is (firmproof.device.identity): each source found with its bytes, preferred
keys first, and what is not an assignment of that key left alone."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import corpus_file, firmproof, need_tools

from firmproof.device.identity import identify
from firmproof.fs.rootfs import RootFS
from firmproof.report import Report
from firmproof.testing.demo import build_rootfs
from firmproof.testing.fixtures import pack

BUILD_PROP = """# begin build properties
ro.build.display.id=RP1A.200720.012 release-keys
ro.product.brand=acmebrand
ro.product.model=Phone X1
ro.product.manufacturer=ACME
ro.product.model?=Not Me
"""
OPENWRT = """DISTRIB_ID='OpenWrt'
DISTRIB_RELEASE='23.05.3'
DISTRIB_REVISION='r23809-234f1a2efa'
DISTRIB_TARGET='ramips/mt7621'
"""
OS_RELEASE = 'NAME="Debian GNU/Linux"\nVERSION_ID="12"\nID=debian\n'


def said(files: dict[str, str], *more: dict[str, str]) -> dict[str, tuple[str, str, str]]:
    """field -> (value, report path, the evidence bytes of the file) for views built of `files`."""
    views = [RootFS.from_files({k: v.encode() for k, v in f.items()}) for f in (files, *more)]
    out = {}
    for guess in identify(views):
        view = next(v for v in views if v.stat(guess.path) is not None)
        data = view.read(guess.path)
        assert data is not None and view.sha256(guess.path) == guess.evidence.sha256
        ev = guess.evidence
        out[guess.field] = (guess.value, guess.path, data[ev.offset:ev.offset + ev.length].decode())
    return out


def test_android_properties_name_manufacturer_model_and_build():
    got = said({"/system/build.prop": BUILD_PROP})
    assert got == {"vendor": ("ACME", "/system/build.prop", "ACME"),
                   "product": ("Phone X1", "/system/build.prop", "Phone X1"),   # `?=` does not override
                   "version": ("RP1A.200720.012 release-keys", "/system/build.prop",
                               "RP1A.200720.012 release-keys")}


def test_openwrt_release_and_os_release_values_without_their_quotes():
    assert said({"/etc/openwrt_release": OPENWRT}) == {
        "product": ("OpenWrt", "/etc/openwrt_release", "OpenWrt"),
        "version": ("23.05.3", "/etc/openwrt_release", "23.05.3")}
    assert said({"/usr/lib/os-release": OS_RELEASE}) == {
        "product": ("Debian GNU/Linux", "/usr/lib/os-release", "Debian GNU/Linux"),
        "version": ("12", "/usr/lib/os-release", "12")}


def test_the_preferred_source_wins_across_views_and_each_field_is_taken_once():
    """An Android system image beside a Linux tool partition: the phone's properties name the
    product and version; os-release fills nothing they named."""
    got = said({"/usr/lib/os-release": OS_RELEASE}, {"/build.prop": BUILD_PROP})
    assert got["product"][0] == "Phone X1" and got["version"][1] == "/build.prop"


@pytest.mark.parametrize(("files", "fields"), [
    ({"/system/build.prop": "#ro.product.model=Commented\n# ro.product.manufacturer=Nobody\n"}, set()),
    ({"/system/build.prop": "ro.product.model.extra=Other key\nro.product.modelx=Y\n"}, set()),
    ({"/system/build.prop": "ro.product.model=\nro.product.manufacturer=''\n"}, set()),   # empty values
    ({"/system/build.prop": "ro.product.model=" + "x" * 200 + "\n"}, set()),            # no name is that long
    ({"/etc/openwrt_release": "DISTRIB_ID='OpenWrt'\n", "/etc/openwrt_release.bak": OPENWRT}, {"product"}),
    ({"/etc/os-release.d/os-release": OS_RELEASE, "/home/user/build.prop": BUILD_PROP}, set()),
])
def test_what_is_no_assignment_of_a_named_key_in_a_named_file_says_nothing(files: dict[str, str],
                                                                           fields: set[str]):
    assert set(said(files)) == fields


def test_a_scanned_image_says_what_it_is_and_the_user_wins(tmp_path: Path):
    need_tools("mksquashfs")
    tree = build_rootfs(tmp_path / "root", plants=(), decoys=())
    (tree / "etc" / "openwrt_release").write_text(OPENWRT)
    image = pack(tree, "squashfs-xz", tmp_path / "fw.sqfs")
    proc = firmproof("scan", image, "-q", "-o", tmp_path / "r.json", "--vendor", "Acme Networks")
    assert proc.returncode == 0, proc.stderr
    data = json.loads((tmp_path / "r.json").read_text())
    guessed = data["image"]["guessed"]
    assert guessed["version"]["evidence"]["excerpt"] == "23.05.3"
    assert guessed["version"]["container"] == ["fw.sqfs", "squashfs@0x0"]
    report = Report.load(tmp_path / "r.json")
    assert report.to_json() == data
    assert report.image.said("vendor") == ("Acme Networks", False)          # given on the command line
    assert report.image.said("version") == ("23.05.3", True)                # read from the image
    assert report.image.said("product") == ("OpenWrt", True)
    evidence = guessed["version"]["evidence"]
    assert (evidence["offset"], evidence["length"]) == (OPENWRT.index("23.05.3"), 7)


def test_a_real_openwrt_factory_image_names_its_release():
    image = corpus_file("librarybox-2.1_openwrt_tl-mr3020-v1_squashfs-factory.bin")
    from firmproof.config import ScanConfig
    from firmproof.scan import scan

    guessed = {g.field: g.value for g in scan(ScanConfig(image=image)).image.guessed}
    assert guessed == {"product": "OpenWrt_backports", "version": "12.09.2"}
