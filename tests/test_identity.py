"""What an image says it is (firmproof.device.identity): each source found with its bytes, preferred
keys first, and what is not an assignment of that key left alone."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from conftest import corpus_file, firmproof, need_tools

from firmproof.config import ScanConfig
from firmproof.device.identity import Guess, identify
from firmproof.evidence.verify import verify
from firmproof.fs.rootfs import RootFS
from firmproof.report import Report
from firmproof.scan import scan
from firmproof.testing.demo import build_rootfs
from firmproof.testing.fixtures import pack, uimage

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
    guessed = {g.field: (g.value, g.source) for g in scan(ScanConfig(image=image)).image.guessed}
    assert guessed == {"product": ("OpenWrt_backports", "OpenWrt release"),      # the file wins
                       "version": ("12.09.2", "OpenWrt release"),
                       "vendor": ("OpenWrt", "TP-Link firmware header v1")}     # only the header says it


# -- what the containers' headers say (HEADERS) -----------------------------------------------

def _tiny_root(tmp_path: Path, files: dict[str, str] | None = None) -> Path:
    """A small real SquashFS with `files` (no file naming the image unless given)."""
    need_tools("mksquashfs")
    tree = tmp_path / "tree"
    for path, text in {"/etc/hostname": "router\n", **(files or {})}.items():
        (tree / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
        (tree / path.lstrip("/")).write_text(text)
    return pack(tree, "squashfs-xz", tmp_path / "root.sqfs")


def _uimage(tmp_path: Path, name: str | bytes, files: dict[str, str] | None = None,
            out: Path | None = None) -> Path:
    """mkimage's uImage named `name` around a real SquashFS (bytes: a name no shell would type)."""
    need_tools("mkimage")
    inner = _tiny_root(tmp_path, files)
    out = out or tmp_path / "fw.bin"
    if isinstance(name, str):
        return uimage(inner, out, name=name)
    subprocess.run([b"mkimage", b"-A", b"mips", b"-O", b"linux", b"-T", b"filesystem", b"-C", b"none",
                    b"-a", b"0", b"-e", b"0", b"-n", name, b"-d", bytes(inner), bytes(out)],
                   check=True, capture_output=True)
    return out


def _scan(image: Path, **given: str) -> Report:
    return scan(ScanConfig(image=image, **given))     # type: ignore[arg-type]


def _guessed(report: Report) -> dict[str, Guess]:
    return {g.field: g for g in report.image.guessed}


def test_a_uimage_name_names_the_product_at_its_bytes_and_verify_rechecks_them(tmp_path: Path):
    name = "OpenWrt r23497 (Linux 5.15)"
    image = _uimage(tmp_path, name)
    report = _scan(image)
    guess = _guessed(report)["product"]
    assert (guess.value, guess.source, guess.container, guess.path) == \
        (name, "U-Boot image header", ("fw.bin",), "")
    ev = guess.evidence
    assert (ev.offset, ev.length, ev.excerpt) == (32, len(name), name)      # ih_name, at byte 32
    assert ev.sha256 == report.image.sha256 and image.read_bytes()[32:32 + len(name)] == name.encode()
    assert set(_guessed(report)) == {"product", "release_date"}
    assert Report.from_json(report.to_json()).image.guessed == report.image.guessed
    result = verify(report, image)
    assert result.holds and [c.holds for c in result.identity] == [True, True]
    # a report that moves the guess by one byte, or claims another file, does not hold
    moved = replace(guess, evidence=replace(ev, offset=33))
    elsewhere = replace(guess, evidence=replace(ev, sha256="0" * 64))
    for bad in (moved, elsewhere):
        tampered = copy.copy(report)
        tampered.image = replace(report.image, guessed=(bad,))
        checked = verify(tampered, image)
        assert not checked.holds and not checked.identity[0].holds, checked.identity[0].reasons


@pytest.mark.parametrize("name", ["Linux-5.15.0", "MIPS Linux-4.14.171", "linux", "u-boot image",
                                  "firmware", b"\x01\x9c\xfe\x80\x7f\x90\x12\x13",
                                  b"\xd0\x9f\xd1\x80\xd0\xbe\xd1\x88"])
def test_a_uimage_name_of_kernel_and_generic_words_or_binary_junk_names_nothing(tmp_path: Path,
                                                                                 name: str | bytes):
    report = _scan(_uimage(tmp_path, name))
    assert any(c.format == "uimage" for c in report.unpack.containers)
    assert "product" not in _guessed(report)


def _dated_uimage(tmp_path: Path, epoch: int) -> Path:
    """mkimage's uImage made at `epoch` (it writes SOURCE_DATE_EPOCH, where set, as ih_time)."""
    need_tools("mkimage")
    inner, out = _tiny_root(tmp_path, None), tmp_path / f"fw-{epoch}.bin"
    subprocess.run(["mkimage", "-A", "arm", "-O", "linux", "-T", "filesystem", "-C", "none", "-a", "0",
                    "-e", "0", "-n", "Acme AR-100", "-d", str(inner), str(out)], check=True,
                   capture_output=True, env={"PATH": "/usr/bin:/bin", "SOURCE_DATE_EPOCH": str(epoch)})
    return out


@pytest.mark.parametrize(("epoch", "day"), [(1_673_308_800, "2023-01-10"), (946_684_799, "1999-12-31"),
                                            (1_530_000_000, "2018-06-26")])
def test_a_uimage_time_is_the_release_date_at_its_four_bytes(tmp_path: Path, epoch: int, day: str):
    image = _dated_uimage(tmp_path, epoch)
    report = _scan(image)
    guess = _guessed(report)["release_date"]
    assert (guess.value, guess.source, guess.path) == (day, "U-Boot image header", "")
    assert (guess.evidence.offset, guess.evidence.length) == (8, 4)        # ih_time, big-endian
    assert image.read_bytes()[8:12] == epoch.to_bytes(4, "big")
    assert all(c.holds for c in verify(report, image).identity)


@pytest.mark.parametrize("epoch", [0, 1, 631_152_000, 4_102_444_800])   # 1970, 1990, 2100
def test_a_uimage_time_nobody_set_or_in_the_future_names_no_release(tmp_path: Path, epoch: int):
    report = _scan(_dated_uimage(tmp_path, epoch))
    assert "release_date" not in _guessed(report) and "product" in _guessed(report)


def test_android_build_date_names_the_release_day_and_a_zero_gives_way():
    props = BUILD_PROP + "ro.build.date=Tue Jun 26 08:00:00 UTC 2018\nro.build.date.utc=0\n"
    assert "release_date" not in said({"/system/build.prop": props})
    props += "ro.system.build.date.utc=1530000000\n"
    assert said({"/system/build.prop": props})["release_date"] == ("2018-06-26", "/system/build.prop",
                                                                    "1530000000")
    for junk in ("153000000O", "-1530000000", "99999999999999", ""):
        assert "release_date" not in said({"/system/build.prop": f"ro.build.date.utc={junk}\n"})


def test_a_file_inside_wins_over_the_header_and_the_user_over_both(tmp_path: Path):
    image = _uimage(tmp_path, "MIPS OpenWrt Linux-4.14.171", {"/etc/openwrt_release": OPENWRT})
    guessed = _guessed(_scan(image))
    assert (guessed["product"].value, guessed["product"].path) == ("OpenWrt", "/etc/openwrt_release")
    assert guessed["version"].value == "23.05.3"
    alone = _uimage(tmp_path / "alone", "MIPS OpenWrt Linux-4.14.171", out=tmp_path / "alone.bin")
    report = _scan(alone, product="Acme AR-100", vendor="Acme")
    assert report.image.said("product") == ("Acme AR-100", False)
    assert report.image.said("vendor") == ("Acme", False)
    assert _guessed(report)["product"].value == "MIPS OpenWrt Linux-4.14.171"    # kept, not said


def test_a_nested_uimage_names_the_product_in_the_file_that_holds_it(tmp_path: Path):
    """A tar holding /boot/uImage: the evidence is that file's bytes, in the tar's layer."""
    boot = tmp_path / "outer" / "boot"
    boot.mkdir(parents=True)
    _uimage(tmp_path / "inner", "Acme AR-100 2.1.7", out=boot / "uImage")
    (tmp_path / "outer" / "README").write_text("firmware bundle\n")
    image = pack(tmp_path / "outer", "tar", tmp_path / "bundle.tar")
    report = _scan(image)
    guess = _guessed(report)["product"]
    assert (guess.value, guess.container, guess.path) == ("Acme AR-100 2.1.7", ("bundle.tar", "tar@0x0"),
                                                         "/boot/uImage")
    held = (boot / "uImage").read_bytes()
    assert guess.evidence.sha256 == hashlib.sha256(held).hexdigest()
    assert held[guess.evidence.offset:guess.evidence.offset + guess.evidence.length] == b"Acme AR-100 2.1.7"
    assert verify(report, image).holds


def _boot_image(tmp_path: Path, version: str, *extra: str) -> Path:
    need_tools("mkbootimg")
    kernel, out = tmp_path / "kernel", tmp_path / f"boot-{version}.img"
    kernel.write_bytes(b"\x7fELF" + bytes(range(256)) * 64)
    (tmp_path / "ramdisk" / "etc").mkdir(parents=True)
    (tmp_path / "ramdisk" / "init.rc").write_text("on boot\n")
    ramdisk = pack(tmp_path / "ramdisk", "cpio-newc-gz", tmp_path / "ramdisk.cpio.gz")
    subprocess.run(["mkbootimg", "--header_version", version, "--kernel", str(kernel), "--ramdisk",
                    str(ramdisk), "--os_version", "8.1.0", "--os_patch_level", "2019-03", *extra,
                    "-o", str(out)], check=True, capture_output=True)
    return out


@pytest.mark.parametrize(("version", "board", "expected"), [
    ("0", "VIVO XL4", {"product": ("VIVO XL4", 48, "VIVO XL4"),
                       "version": ("8.1.0 (patch 2019-03)", 44, "3\\x01\\x04\\x10")}),
    ("0", None, {"version": ("8.1.0 (patch 2019-03)", 44, "3\\x01\\x04\\x10")}),
    ("3", None, {"version": ("8.1.0 (patch 2019-03)", 16, "3\\x01\\x04\\x10")}),
])
def test_an_android_boot_header_names_the_board_and_the_release(tmp_path: Path, version: str,
                                                                 board: str | None,
                                                                 expected: dict[str, tuple[str, int, str]]):
    image = _boot_image(tmp_path, version, *(["--board", board] if board else []))
    report = _scan(image)
    got = {f: (g.value, g.evidence.offset, g.evidence.excerpt) for f, g in _guessed(report).items()}
    assert got == expected
    assert all(g.source == "Android boot image header" for g in report.image.guessed)


@pytest.mark.parametrize(("name", "expected"), [
    # mktplinkfw v1 header: vendor_name, hw_id/hw_rev; 'ver. 1.0' is the tool's default
    ("tplink_tl-wr841n-v10_en_3.16.9_150310_up_boot.bin",
     {"vendor": ("TP-LINK Technologies", 4, "TP-LINK Technologies"),
      "product": ("TP-Link hardware 08410010 v1", 64, "\\x08A\\x00\\x10\\x00\\x00\\x00\\x01"),
      # the kernel's uImage ih_time: the day the file name says (…_150310_…)
      "release_date": ("2015-03-10", 14808, "T\\xfe\\x96\\x97")}),
    # the v2/v3 header (mktplinkfw2): no vendor field
    ("tplink_tl-wr841n-v14-eu_stock_2023.bin",
     {"product": ("TP-Link hardware 08410014 v1", 0x34, "\\x08A\\x00\\x14\\x00\\x00\\x00\\x01")}),
])
def test_real_tplink_images_say_what_they_are_in_their_header(name: str,
                                                              expected: dict[str, tuple[str, int, str]]):
    image = corpus_file(name)
    report = _scan(image)
    got = {f: (g.value, g.evidence.offset, g.evidence.excerpt) for f, g in _guessed(report).items()}
    assert got == expected
    assert all(g.container == (name,) and g.path == "" for g in report.image.guessed)
    result = verify(report, image)
    assert result.holds and len(result.identity) == len(expected)
