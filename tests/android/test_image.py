"""End to end: phone images built with the real tools, scanned by the CLI.

A system image (system-as-root ext4 turned sparse by img2simg, and the same tree as EROFS)
with a debuggable build, adb over TCP, a setuid su and a system-uid app with SMS and install
capabilities gives each finding; the production build of the same layout gives none. Boot
images (mkbootimg, header v0/v2/v3 and vendor_boot) around the real BLU ramdisk give the
kernel command line and the ramdisk's init.rc to the analyzers.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import corpus_file, firmproof, need_tools, scan_report

from firmproof.testing import fixtures
from tests.rules.cases_android import DEBUG_PROPS, PRODUCTION_PROPS

from .conftest import BOOT_RECEIVER, manifest, real_elf

# AOSP builds stamp EROFS images with a fixed time (2009-01-01); unblob's EROFS handler
# refuses a build time of 0, so -T0 would not do
AOSP_TIMESTAMP = 1230768000
ANDROID_RULES_IN_DEBUG_BUILD = {"FP-ANDROID-001", "FP-ANDROID-002", "FP-ANDROID-003",
                                "FP-ANDROID-004", "FP-ANDROID-006", "FP-ANDROID-010"}


def phone_tree(root: Path, build_apk: Callable[..., Path], *, debug: bool) -> Path:
    system = root / "system"
    (system / "etc" / "init").mkdir(parents=True)
    (system / "bin").mkdir()
    (system / "build.prop").write_text(DEBUG_PROPS if debug else PRODUCTION_PROPS)
    (system / "etc" / "init" / "logd.rc").write_text(
        "service logd /system/bin/logd\n    class core\n    user logd\n")
    os.symlink("/system/etc", root / "etc")
    (system / "bin" / "logd").write_bytes(real_elf())
    if debug:
        (system / "xbin").mkdir()
        (system / "xbin" / "su").write_bytes(real_elf())
        os.chmod(system / "xbin" / "su", 0o6755)
        app = manifest("com.vendor.remotecare", shared_uid="android.uid.system",
                       permissions=("INTERNET", "SEND_SMS", "READ_SMS", "INSTALL_PACKAGES"),
                       application=BOOT_RECEIVER)
    else:
        app = manifest("com.vendor.remotecare", permissions=("INTERNET",))
    target = system / "priv-app" / "RemoteCare" / "RemoteCare.apk"
    target.parent.mkdir(parents=True)
    shutil.copyfile(build_apk(app), target)
    return root


def system_image(tree: Path, out_dir: Path, fmt: str) -> Path:
    if fmt == "sparse-ext4":
        need_tools("mke2fs", "img2simg")
        raw = fixtures.pack(tree, "ext4", out_dir / "system.raw")
        sparse = out_dir / "system.img"
        subprocess.run(["img2simg", str(raw), str(sparse)], check=True)
        raw.unlink()
        return sparse
    need_tools("mkfs.erofs")
    image = out_dir / "system.erofs"
    subprocess.run(["mkfs.erofs", "--quiet", f"-T{AOSP_TIMESTAMP}", str(image), str(tree)], check=True)
    return image


def android(report: dict) -> list[dict]:
    return [f for f in report["findings"] if f["rule"].startswith("FP-ANDROID-")]


@pytest.mark.parametrize("fmt", ["sparse-ext4", "erofs"])
def test_debug_phone_image_gives_each_finding(tmp_path: Path, build_apk: Callable[..., Path],
                                              fmt: str) -> None:
    tree = phone_tree(tmp_path / "tree", build_apk, debug=True)
    image = system_image(tree, tmp_path, fmt)
    report = scan_report(image, tmp_path)
    found = {f["rule"]: f for f in android(report)}
    assert ANDROID_RULES_IN_DEBUG_BUILD <= set(found), sorted(found)
    assert found["FP-ANDROID-004"]["evidence"]["excerpt"] == "service.adb.tcp.port=5555"
    assert found["FP-ANDROID-004"]["path"] == "/system/build.prop"
    su = found["FP-ANDROID-006"]
    assert su["path"] == "/system/xbin/su" and su["severity"] == "critical"
    app = found["FP-ANDROID-010"]
    assert app["path"] == "/system/priv-app/RemoteCare/RemoteCare.apk"
    assert app["details"]["shared_uid"] == "android.uid.system"
    assert {"install", "sms"} <= set(app["details"]["capabilities"])
    # the evidence inside the APK holds when re-derived from the image alone
    verify = firmproof("verify", tmp_path / "report.json", image)
    assert verify.returncode == 0, verify.stdout + verify.stderr
    formats = [c["format"] for c in report["unpack"]["containers"]]
    assert ("sparse" in formats and "extfs" in formats) if fmt == "sparse-ext4" else "erofs" in formats


@pytest.mark.parametrize("fmt", ["sparse-ext4", "erofs"])
def test_production_phone_image_gives_none(tmp_path: Path, build_apk: Callable[..., Path],
                                           fmt: str) -> None:
    tree = phone_tree(tmp_path / "tree", build_apk, debug=False)
    report = scan_report(system_image(tree, tmp_path, fmt), tmp_path)
    assert android(report) == []
    assert report["errors"] == []


def _boot_image(tmp_path: Path, version: str, cmdline: str) -> Path:
    need_tools("mkbootimg")
    ramdisk = corpus_file("android_blu-vivo-xl4_v0350ww_8.1.0_ramdisk.img")
    kernel = tmp_path / "kernel"
    kernel.write_bytes(real_elf()[:65536])
    out = tmp_path / f"boot-{version}.img"
    if version == "vendor_boot":
        cmd = ["mkbootimg", "--header_version", "3", "--vendor_boot", str(out),
               "--vendor_ramdisk", str(ramdisk), "--vendor_cmdline", cmdline, "--dtb", str(kernel)]
    else:
        cmd = ["mkbootimg", "--header_version", version, "--kernel", str(kernel),
               "--ramdisk", str(ramdisk), "--cmdline", cmdline, "-o", str(out)]
        if version == "2":
            cmd += ["--dtb", str(kernel)]
    subprocess.run(cmd, check=True, capture_output=True)
    return out


@pytest.mark.parametrize("version", ["0", "2", "3", "vendor_boot"])
def test_boot_image_cmdline_and_ramdisk(tmp_path: Path, version: str) -> None:
    image = _boot_image(tmp_path, version, "console=ttyMT0 androidboot.selinux=permissive")
    report = scan_report(image, tmp_path)
    found = {f["rule"]: f for f in android(report)}
    selinux = found["FP-ANDROID-007"]
    assert selinux["path"] == "/cmdline"
    assert selinux["evidence"]["excerpt"] == "androidboot.selinux=permissive"
    amigosu = found["FP-ANDROID-008"]
    assert amigosu["path"] == "/init.rc" and amigosu["details"]["service"] == "amigosu"
    assert any(c["format"] == "android_boot" for c in report["unpack"]["containers"])
    assert any(c["format"].startswith("cpio") for c in report["unpack"]["containers"])


def test_boot_image_enforcing_cmdline_is_no_finding(tmp_path: Path) -> None:
    report = scan_report(_boot_image(tmp_path, "0", "console=ttyMT0 androidboot.selinux=enforcing"),
                         tmp_path)
    assert "FP-ANDROID-007" not in {f["rule"] for f in android(report)}


def test_private_key_in_apk_assets_is_found(tmp_path: Path, build_apk: Callable[..., Path]) -> None:
    """The recursion opens APKs: a TLS key in an app's assets is a key.private finding."""
    need_tools("openssl")
    key = subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048"],
                         capture_output=True, check=True).stdout
    tree = tmp_path / "tree"
    app_dir = tree / "system" / "app" / "Sync"
    app_dir.mkdir(parents=True)
    (tree / "system" / "etc").mkdir()
    os.symlink("/system/etc", tree / "etc")
    shutil.copyfile(build_apk(manifest("org.example.sync"), assets={"client.key": key}),
                    app_dir / "Sync.apk")
    report = scan_report(system_image(tree, tmp_path, "sparse-ext4"), tmp_path)
    keys = [f for f in report["findings"] if f["category"] == "key.private"]
    assert [k["path"] for k in keys] == ["/assets/client.key"]
    assert keys[0]["container"][-2:] == ["/system/app/Sync/Sync.apk", "zip@0x0"]
    assert keys[0]["evidence"]["excerpt"].startswith("-----BEGIN PRIVATE KEY-----")


def test_truncated_boot_image_is_reported_not_crashed(tmp_path: Path) -> None:
    """A boot header whose sections run past the end of the file is no chunk: the scan says
    it found nothing it knows and exits 2, without a traceback."""
    image = _boot_image(tmp_path, "0", "console=ttyMT0")
    truncated = tmp_path / "truncated.img"
    truncated.write_bytes(image.read_bytes()[:4096])
    proc = firmproof("scan", truncated, "-o", tmp_path / "r.json", "-q")
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr


def test_boot_header_parser_rejects_garbage() -> None:
    from unblob.file_utils import InvalidInputFormat

    from firmproof.unpack.handlers.androidboot import parse_boot

    with pytest.raises(InvalidInputFormat):
        parse_boot(b"ANDROID!" + b"\xff" * 4000)        # page size 0xffffffff
    with pytest.raises(InvalidInputFormat):
        parse_boot(b"VNDRBOOT" + b"\0" * 100)           # truncated vendor header


def test_adups_app_is_one_finding_not_two(tmp_path: Path, build_apk: Callable[..., Path]) -> None:
    """The parsed manifest names the Adups package (FP-ANDROID-020); the same name in the
    manifest's binary XML inside the APK's layer is not reported again by the byte pack."""
    tree = tmp_path / "tree"
    app_dir = tree / "system" / "priv-app" / "AdupsFota"
    app_dir.mkdir(parents=True)
    (tree / "system" / "build.prop").write_text(PRODUCTION_PROPS)
    apk = build_apk(manifest("com.adups.fota", permissions=("INTERNET",)))
    shutil.copyfile(apk, app_dir / "AdupsFota.apk")
    (tree / "system" / "etc" / "permissions").mkdir(parents=True)
    (tree / "system" / "etc" / "permissions" / "privapp-permissions-adups.xml").write_text(
        '<permissions>\n<privapp-permissions package="com.adups.fota">\n'
        '<permission name="android.permission.INSTALL_PACKAGES"/>\n</privapp-permissions>\n</permissions>\n')
    report = scan_report(system_image(tree, tmp_path, "sparse-ext4"), tmp_path)
    rules = sorted((f["rule"], f["path"]) for f in report["findings"] if f["category"] == "known-backdoor")
    assert rules == [("FP-ANDROID-020", "/system/priv-app/AdupsFota/AdupsFota.apk"),
                     ("FP-KNOWN-015", "/system/etc/permissions/privapp-permissions-adups.xml")]
