"""FP-ANDROID-001…021 (firmproof/analyzers/android.py): build properties, su binaries, init
services, and apps built by aapt, smali and apksigner (tests/android/conftest.py's build_apk)."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

from firmproof.model import Severity
from tests.android.conftest import BOOT_RECEIVER, manifest
from tests.conftest import tool

from .case import Files, Kit, hit, miss

DATA = Path(__file__).resolve().parents[2] / "firmproof" / "data"
SMALI = Path(__file__).resolve().parents[1] / "android" / "src"
URL = "http://203.0.113.7/collect.php?imei="

DEBUG_PROPS = """ro.build.type=userdebug
ro.debuggable=1
ro.secure=0
ro.adb.secure=0
service.adb.tcp.port=5555
"""
PRODUCTION_PROPS = """ro.build.type=user
ro.debuggable=0
ro.secure=1
ro.adb.secure=1
persist.sys.usb.config=mtp
service.adb.tcp.port=-1
"""
PRODUCTION = {"/system/build.prop": PRODUCTION_PROPS, "/vendor/build.prop": "ro.vendor.build.type=user\n"}
REMOTE_CARE = manifest("com.vendor.remotecare", shared_uid="android.uid.system",
                       permissions=("INTERNET", "SEND_SMS", "READ_SMS", "INSTALL_PACKAGES",
                                    "RECEIVE_BOOT_COMPLETED"),
                       application=BOOT_RECEIVER)
# reads the IMEI and posts it to a hard-coded address (tests/android/src/CommandService.smali)
COLLECTOR = manifest("com.vendor.remotecare", permissions=("INTERNET", "READ_PHONE_STATE", "SEND_SMS"),
                     application=BOOT_RECEIVER)
ROOT_SERVICE_DECOYS = ("service console /system/bin/sh\n    class core\n    console\n    disabled\n"
                       "    user shell\n    group shell log\n\n"
                       "service flash_recovery /system/bin/install-recovery.sh\n    oneshot\n\n"
                       "service setup /system/bin/sh /system/etc/setup.sh\n    oneshot\n\n"
                       "service adbd /system/bin/adbd --root_seclabel=u:r:su:s0\n    class core\n")

_apks: dict[tuple[str, bool], bytes] = {}


def apk(path: str, manifest_xml: str, *, code: bool = False) -> Callable[[Kit], Files]:
    """An APK at `path`, built once per session; with `code`, CommandService.smali as its dex."""
    def build(kit: Kit) -> Files:
        if (manifest_xml, code) not in _apks:
            smali = {"CommandService": (SMALI / "CommandService.smali").read_text().replace("%URL%", URL)}
            built = kit.fixture("build_apk")(manifest_xml, smali=smali if code else None)
            _apks[manifest_xml, code] = built.read_bytes()
        return {path: _apks[manifest_xml, code]}
    return build


def entry(name: str) -> Callable[[bytes], bytes]:
    """The stored bytes of a zip member: after its local header, as long as its compressed size."""
    def cut(data: bytes) -> bytes:
        info = zipfile.ZipFile(io.BytesIO(data)).getinfo(name)
        name_length, extra_length = struct.unpack_from("<HH", data, info.header_offset + 26)
        start = info.header_offset + 30 + name_length + extra_length
        return data[start:start + info.compress_size]
    return cut


def otacerts(pem: Callable[[Kit], bytes]) -> Callable[[Kit], Files]:
    """The OTA trust store of a system image: a zip of PEM certificates."""
    def build(kit: Kit) -> Files:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            archive.writestr("testkey.x509.pem", pem(kit))
        return {"/system/etc/security/otacerts.zip": buffer.getvalue()}
    return build


def su(*paths: str) -> Callable[[Kit], Files]:
    """This machine's BusyBox, a real program, standing as the su binaries at `paths`."""
    return lambda kit: {path: Path(tool("busybox")).read_bytes() for path in paths}


def property_hit(rule: str, line: str, **more: object):
    return hit(rule, line.split("=")[0], {"/system/build.prop": DEBUG_PROPS}, "/system/build.prop",
               line.encode(), **more)


CASES = [
    property_hit("FP-ANDROID-001", "ro.debuggable=1", details={"build_type": "userdebug"}),
    property_hit("FP-ANDROID-002", "ro.secure=0"),
    property_hit("FP-ANDROID-003", "ro.adb.secure=0"),
    property_hit("FP-ANDROID-004", "service.adb.tcp.port=5555", details={"port": 5555}),
    *(miss(rule, "production-properties", PRODUCTION, silent=True)
      for rule in ("FP-ANDROID-001", "FP-ANDROID-002", "FP-ANDROID-003", "FP-ANDROID-004")),

    hit("FP-ANDROID-005", "usb-adb-on-a-user-build",
        {"/system/build.prop": "ro.build.type=user\npersist.sys.usb.config=mtp,adb\n"}, "/system/build.prop",
        b"persist.sys.usb.config=mtp,adb"),
    # the same switch on an eng build is what eng builds are for
    miss("FP-ANDROID-005", "usb-adb-on-an-eng-build",
         {"/system/build.prop": "ro.build.type=eng\npersist.sys.usb.config=mtp,adb\n"}, silent=True),

    hit("FP-ANDROID-006", "setuid-su-in-xbin", su("/system/xbin/su"), "/system/xbin/su",
        lambda data: data[:64], modes={"/system/xbin/su": 0o6755}, details={"setuid_root": True}),
    miss("FP-ANDROID-006", "su-outside-bin-folders-or-other-names",
         lambda kit: {**su("/system/etc/su", "/system/bin/sudo-helper")(kit),
                      "/data/local/tmp/su.txt": b"notes"},
         silent=True),

    hit("FP-ANDROID-007", "setenforce-0-in-init", {"/init.rc": "on boot\n    setenforce 0\n\non post-fs\n"
                                                                "    setenforce 1\n"},
        "/init.rc", b"setenforce 0", details={"trigger": "boot"}),
    hit("FP-ANDROID-007", "selinux-permissive-property",
        {"/vendor/default.prop": "ro.boot.selinux=permissive\n"}, "/vendor/default.prop",
        b"ro.boot.selinux=permissive"),
    miss("FP-ANDROID-007", "selinux-enforcing-property",
         {"/vendor/default.prop": "ro.boot.selinux=enforcing\n"}, silent=True),

    hit("FP-ANDROID-008", "root-shell-service", {"/vendor/etc/init/x.rc": "service rootsh /system/bin/sh\n"
                                                                          "    class main\n"},
        "/vendor/etc/init/x.rc", b"service rootsh /system/bin/sh", details={"service": "rootsh"}),
    miss("FP-ANDROID-008", "console-as-shell-oneshot-scripts-and-adbd", {"/init.rc": ROOT_SERVICE_DECOYS},
         silent=True),

    hit("FP-ANDROID-010", "system-uid-app-with-sms-and-install",
        apk("/system/priv-app/RemoteCare/RemoteCare.apk", REMOTE_CARE),
        "/system/priv-app/RemoteCare/RemoteCare.apk", entry("AndroidManifest.xml"),
        severity=Severity.CRITICAL, details={"shared_uid": "android.uid.system"}),
    miss("FP-ANDROID-010", "ordinary-app-with-sms",
         apk("/system/app/Messenger/Messenger.apk",
             manifest("org.example.messenger", permissions=("INTERNET", "SEND_SMS", "READ_SMS"),
                      application=BOOT_RECEIVER)), silent=True),

    hit("FP-ANDROID-011", "user-app-posting-the-imei",
        apk("/data/app/RemoteCare/base.apk", COLLECTOR, code=True), "/data/app/RemoteCare/base.apk",
        entry("classes.dex"), details={"evidence_entry": "classes.dex"}),
    miss("FP-ANDROID-011", "the-same-app-without-code", apk("/data/app/RemoteCare/base.apk", COLLECTOR),
         silent=True),

    hit("FP-ANDROID-020", "adups-package",
        apk("/system/app/FotaSysoper/FotaSysoper.apk",
            manifest("com.adups.fota.sysoper", permissions=("INSTALL_PACKAGES",))),
        "/system/app/FotaSysoper/FotaSysoper.apk", entry("AndroidManifest.xml"),
        details={"indicator": "package com.adups.fota.sysoper"}),
    miss("FP-ANDROID-020", "lookalike-package",
         apk("/system/app/Weather/Weather.apk", manifest("com.adupsfota.weather")), silent=True),

    hit("FP-ANDROID-021", "ota-updates-trusting-the-aosp-testkey",
        otacerts(lambda kit: (DATA / "aosp-test-keys" / "testkey.x509.pem").read_bytes()),
        "/system/etc/security/otacerts.zip", entry("testkey.x509.pem"), details={"key": "testkey"}),
    miss("FP-ANDROID-021", "ota-certificate-of-a-vendor",
         otacerts(lambda kit: kit.fixture("signing_key")[1].read_bytes()), silent=True),
]
