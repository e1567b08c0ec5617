"""FP-ANDROID: Android debug switches, su binaries, and preinstalled apps that can control the phone.

A phone image unpacks into several trees (system, vendor, product partitions, the boot
ramdisk, the boot image's own header files); each is a view of its own, so this family
looks for its files by name anywhere in a view instead of at fixed paths: property files
(build.prop, default.prop, prop.default), init .rc files, su binaries, the `cmdline` file
the boot-image handler writes, and APKs.

An APK finding points inside the APK file: the stored bytes of its AndroidManifest.xml
entry (what it declares) or of the classes*.dex entry holding the code (what it calls);
`details` name the manifest elements and the classes and methods.
"""

from __future__ import annotations

import hashlib
import io
import multiprocessing
import os
import posixpath
import re
import zipfile
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from functools import cache
from pathlib import Path
from typing import Any

from firmproof.analyzers.base import Analyzer, rule
from firmproof.device.android.apk import (
    MANIFEST,
    PRIVILEGED_PERMISSIONS,
    SYSTEM_SHARED_UIDS,
    ApkError,
    ApkFacts,
    analyse_apk,
    entry_span,
)
from firmproof.device.bootchain import ANDROID_INIT_RCS, boot_chain
from firmproof.device.parsers.androidprops import PROP_FILE_NAMES, Prop, last_values, parse_props
from firmproof.device.parsers.initrc import RcLine, RcService, parse_initrc
from firmproof.device.parsers.pem import find_pem_blocks
from firmproof.fs.filetype import APK
from firmproof.fs.rootfs import DIR, FILE, RootFS
from firmproof.host.children import child_setup
from firmproof.model import Category, Finding, Rule, Severity

_DATA = Path(__file__).resolve().parent.parent / "data"  # package data, not image content
_CWE = "https://cwe.mitre.org/data/definitions/{}.html"
_PROPS_DOC = "https://source.android.com/docs/core/architecture/configuration/add-system-properties"
_ADB_DOC = "https://developer.android.com/tools/adb"
_SELINUX_DOC = "https://source.android.com/docs/security/features/selinux/validate"
_INIT_DOC = "https://android.googlesource.com/platform/system/core/+/refs/heads/main/init/README.md"
_KRYPTOWIRE = ("https://www.kryptowire.com/kryptowire-discovers-mobile-phone-firmware-transmitted-"
               "personally-identifiable-information-pii-without-user-consent-or-disclosure/")
_NYT_ADUPS = "https://www.nytimes.com/2016/11/16/us/politics/china-phones-software-security.html"
_TESTKEY_DOC = "https://android.googlesource.com/platform/build/+/refs/heads/main/target/product/security/README"

DEBUGGABLE = rule(
    "FP-ANDROID-001", Category.ANDROID_DEBUG, Severity.HIGH,
    title="debuggable build: ro.debuggable=1",
    why="""`ro.debuggable=1` marks an eng/userdebug build: `adb root` restarts adbd as root, every
        app can be debugged and init starts the root console service. A phone sold with it
        gives anyone with a USB cable (or adb over the network) a root shell.""",
    confirm="""Read the quoted line of the property file; on a device `adb shell getprop
        ro.debuggable` prints 1 and `adb root` succeeds.""",
    references=[_PROPS_DOC, "https://source.android.com/docs/setup/create/new-device#build-variants",
                _CWE.format(489)],
)
INSECURE = rule(
    "FP-ANDROID-002", Category.ANDROID_DEBUG, Severity.CRITICAL,
    title="adbd runs as root: ro.secure=0",
    why="""With `ro.secure=0` adbd does not drop its root privileges: every adb shell is a root
        shell, with no `adb root` needed.""",
    confirm="""Read the quoted line; on a device `adb shell id` prints uid=0(root).""",
    references=[_ADB_DOC, _CWE.format(250)],
)
ADB_NO_AUTH = rule(
    "FP-ANDROID-003", Category.ANDROID_DEBUG, Severity.HIGH,
    title="adb without key authorization: ro.adb.secure=0",
    why="""`ro.adb.secure=0` turns off the RSA key confirmation that asks the phone's owner
        before a computer may use adb: any host that reaches adbd gets a shell.""",
    confirm="""Read the quoted line; a computer never seen before gets `adb shell` without a
        prompt on the phone.""",
    references=[_ADB_DOC, "https://source.android.com/docs/security/features/adb", _CWE.format(306)],
)
ADB_TCP = rule(
    "FP-ANDROID-004", Category.ANDROID_DEBUG, Severity.CRITICAL,
    title="adb listens on the network (adb over TCP)",
    why="""`service.adb.tcp.port` or `persist.adb.tcp.port` makes adbd listen on a TCP port of
        every network the phone joins: whoever reaches the port gets an adb shell (without a
        prompt when ro.adb.secure=0, as root when ro.secure=0). Worms (ADB.Miner) spread this
        way.""",
    confirm="""Read the quoted line (`details.port`); on a device `adb connect <ip>:<port>`
        succeeds from another host.""",
    references=[_ADB_DOC, "https://blog.netlab.360.com/early-warning-adb-miner-a-mining-botnet-utilizing-android-adb-is-now-rapidly-spreading-en/",
                _CWE.format(306)],
)
USB_ADB_ON_USER = rule(
    "FP-ANDROID-005", Category.ANDROID_DEBUG, Severity.MEDIUM,
    title="adb enabled by default on a user (production) build",
    why="""`persist.sys.usb.config` naming adb makes a production (`ro.build.type=user`) phone
        start adbd out of the box, before the owner ever turns on USB debugging.""",
    confirm="""Read the quoted line and `details.build_type`; plug the phone in: `adb devices`
        lists it without USB debugging being switched on.""",
    references=[_ADB_DOC, _CWE.format(489)],
)
SU_BINARY = rule(
    "FP-ANDROID-006", Category.ANDROID_DEBUG, Severity.CRITICAL,
    title="su binary shipped in the system image",
    why="""A `su` (or su daemon) in the system image hands root to whatever app or shell calls
        it; setuid root it needs nothing else. Stock production firmware has no su at all.
        Only Android trees are searched (a property file, an init.rc, or /system or /vendor at
        the root): the su of a GNU/Linux or BusyBox root asks for the target's password.""",
    confirm="""`details.mode` shows the mode bits from the file system's own metadata; the quoted
        bytes are its start. Disassemble it to see whether it asks anyone before granting
        root.""",
    references=["https://source.android.com/docs/security/overview/kernel-security#rooting-of-devices",
                _CWE.format(250)],
)
SELINUX_PERMISSIVE = rule(
    "FP-ANDROID-007", Category.ANDROID_DEBUG, Severity.HIGH,
    title="SELinux set to permissive",
    why="""`androidboot.selinux=permissive` on the kernel command line or `setenforce 0` in an
        init script turns the mandatory access control of Android off: a compromised app or
        service is no longer confined.""",
    confirm="""Read the quoted command line or init line; on a device `adb shell getenforce`
        prints Permissive.""",
    references=[_SELINUX_DOC, _CWE.format(1188)],
)
ROOT_SHELL_SERVICE = rule(
    "FP-ANDROID-008", Category.ANDROID_DEBUG, Severity.HIGH,
    title="init service runs a shell, su daemon or listener as root",
    why="""An init service without a `user` option runs as root. One that runs a shell, a su
        daemon or a network listener (nc, telnetd, socat) gives root to whoever talks to it,
        the more so when its socket is world-writable. Medium when the tree holds init.rc and
        init does not start the service (`disabled` and no action starts it, or its .rc file
        is not imported): a latent service only a process allowed to set ctl.start can run.""",
    confirm="""Read the quoted `service` line and its options (`details.options`); `details.user`
        is root when no `user` line is given. Check the program it runs and who can reach its
        socket (`details.socket`).""",
    references=[_INIT_DOC, _CWE.format(250)],
)
REMOTE_CONTROL_APP = rule(
    "FP-ANDROID-010", Category.ANDROID_PRIVILEGED_APP, Severity.HIGH,
    title="preinstalled privileged app can control the phone",
    why="""A preinstalled app running as the system user (`sharedUserId android.uid.system`),
        installed in priv-app, or holding signature/privileged permissions, that can also
        install or remove apps, send or read SMS, read call logs and contacts, run shell
        commands or load code at run time, is a remote-control channel as soon as it talks to
        a server: whoever controls that server controls the phone. The Adups FOTA app found
        on budget phones in 2016 was such an app. Severity grows with the combination
        (`details.combination`): critical when privilege, network access and a means of
        control meet in one app.""",
    confirm="""Decode the manifest (`aapt dump xmltree <apk> AndroidManifest.xml` or androguard)
        and check `details.shared_uid` and `details.permissions`; decompile the classes and
        methods named in `details.code` (jadx) and follow where their commands come from.""",
    references=[_KRYPTOWIRE, "https://source.android.com/docs/core/permissions/perms-allowlist",
                _CWE.format(250)],
)
IDENTIFIERS_TO_HOST = rule(
    "FP-ANDROID-011", Category.EXFILTRATION, Severity.MEDIUM,
    title="app reads device identifiers and holds hard-coded server addresses",
    why="""Code that reads the IMEI, IMSI, SIM serial or phone number, in an app with network
        access whose code carries hard-coded server URLs, is the pattern of the preinstalled
        trackers that send device identity to the vendor or a third party. The pattern is not
        proof that the identifiers reach those servers (bundled analytics libraries carry URLs
        of their own): medium, high when the app is preinstalled with privileges.""",
    confirm="""Decompile the methods in `details.code` and check whether the identifiers they
        read reach a request to one of `details.urls`.""",
    references=[_KRYPTOWIRE, _CWE.format(359)],
)
KNOWN_BACKDOOR_APP = rule(
    "FP-ANDROID-020", Category.KNOWN_BACKDOOR, Severity.CRITICAL,
    title="documented Android backdoor app preinstalled",
    why="""A preinstalled package publicly documented as spyware or a remote-control backdoor
        (data/android-backdoors.txt: package names, each with its reference), such as the
        Adups FOTA components that sent SMS, contacts, call logs and IMEI to servers in China
        every 72 hours and could install apps and run commands remotely. The package name is
        read from the parsed manifest, so a look-alike name does not match.""",
    confirm="""Compare `details.package` and `details.indicator` with the cited report; decompile
        the APK and look for the behaviour the report describes.""",
    references=[_KRYPTOWIRE, _NYT_ADUPS],
)
TEST_KEY = rule(
    "FP-ANDROID-021", Category.KNOWN_BACKDOOR, Severity.CRITICAL,
    title="signed with or trusting a public AOSP test key",
    why="""The AOSP test keys (testkey, platform, media, shared) are published with their private
        halves in the Android source tree. An app signed with the platform test key runs with
        system privileges and can be replaced by anyone; a firmware whose OTA certificates
        (otacerts.zip) are the test key installs updates signed by anyone.""",
    confirm="""`keytool -printcert -jarfile <apk>` (or `openssl x509 -fingerprint -sha256` on the
        quoted certificate) gives `details.sha256`, the fingerprint of the AOSP
        `details.key`.x509.pem (data/aosp-test-keys.txt).""",
    references=[_TESTKEY_DOC, "https://bugs.chromium.org/p/apvi/issues/detail?id=100",
                _CWE.format(321)],
)

SU_NAMES = frozenset({"su", "daemonsu", "su.bin", "sudaemon", "amigosu", "supolicy"})
SU_DIRS = ("/system/xbin/", "/system/bin/", "/sbin/", "/xbin/", "/bin/", "/system/sbin/",
           "/vendor/bin/", "/vendor/xbin/", "/su/bin/", "/system/su.d/")
SHELLS = frozenset({"sh", "bash", "mksh", "ash", "zsh"})
LISTENERS = frozenset({"nc", "netcat", "ncat", "telnetd", "utelnetd", "socat", "dropbear", "sshd"})
APP_DIRS = ("/app/", "/priv-app/", "/vendor/app/", "/product/app/", "/system_ext/app/",
            "/preinstall/", "/operator/app/", "/custom/app/", "/data/app/")
RC_NAME = re.compile(r"(?:^|/)(?:init[^/]*\.rc|[^/]+\.rc)$")
POOL_THRESHOLD = 4      # APKs in one view before a process pool pays for itself
POOL_WORKERS = 4
_TRUE = frozenset({"1", "true", "y", "yes", "on"})
_FALSE = frozenset({"0", "false", "n", "no", "off"})


@cache
def aosp_test_keys() -> dict[str, str]:
    """SHA-256 of the DER certificate -> name of the AOSP test key."""
    out: dict[str, str] = {}
    for line in (_DATA / "aosp-test-keys.txt").read_text("utf-8").splitlines():
        parts = line.split()
        if len(parts) >= 2 and not line.startswith("#"):
            out[parts[1].lower()] = parts[0]
    return out


@cache
def documented_backdoors() -> list[tuple[str, str, str, str]]:
    """(kind, value, name, reference) of each documented backdoor indicator."""
    out = []
    for line in (_DATA / "android-backdoors.txt").read_text("utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        kind, value, name, reference = [*line.split("\t"), "", "", ""][:4]
        out.append((kind.strip(), value.strip(), name.strip(), reference.strip()))
    return out


def _prop_files(fs: RootFS) -> list[str]:
    return [e.path for e in fs.entries() if e.kind == FILE and e.name in PROP_FILE_NAMES]


def _rc_files(fs: RootFS) -> list[str]:
    return [e.path for e in fs.entries() if e.kind == FILE and e.name.endswith(".rc")
            and e.size < 4 * 1024 * 1024]


def _looks_android(fs: RootFS) -> bool:
    """Whether the view is an Android tree: a property file, an init.rc, or a /system or /vendor
    folder at its root (a system, vendor or product partition, a boot ramdisk, a whole phone)."""
    if any((entry := fs.stat(top)) is not None and entry.kind == DIR for top in ("/system", "/vendor")):
        return True
    return any(e.kind == FILE and (e.name in PROP_FILE_NAMES or e.name == "init.rc") for e in fs.entries())


class Android(Analyzer):
    family = "ANDROID"
    name = "android"
    reads_boot_chain = True
    rules = (DEBUGGABLE, INSECURE, ADB_NO_AUTH, ADB_TCP, USB_ADB_ON_USER, SU_BINARY,
             SELINUX_PERMISSIVE, ROOT_SHELL_SERVICE, REMOTE_CONTROL_APP, IDENTIFIERS_TO_HOST,
             KNOWN_BACKDOOR_APP, TEST_KEY)

    def run(self, fs: RootFS) -> Iterator[Finding]:
        yield from self._properties(fs)
        yield from self._su_binaries(fs)
        yield from self._init_scripts(fs)
        yield from self._cmdline(fs)
        yield from self._ota_certificates(fs)
        failures: list[str] = []
        for path, facts in analyse_apks(fs, [e.path for e in fs.files(APK)]):
            if isinstance(facts, str):
                failures.append(f"{path}: {facts}")
            else:
                yield from self._app(fs, path, facts)
        if failures:
            raise ApkError(f"{len(failures)} APK(s) unreadable: " + "; ".join(failures[:5]))

    # -- build properties --------------------------------------------------------

    def _properties(self, fs: RootFS) -> Iterator[Finding]:
        files = {path: parse_props(fs.text(path) or "") for path in _prop_files(fs)}
        everything = last_values([p for props in files.values() for p in props])
        build_type_prop = everything.get("ro.build.type")
        build_type = build_type_prop.value if build_type_prop else None
        for path, props in files.items():
            for prop in props:
                yield from self._property(fs, path, prop, build_type)

    def _property(self, fs: RootFS, path: str, prop: Prop, build_type: str | None) -> Iterator[Finding]:
        value = prop.value.strip().lower()
        span = (prop.start, prop.end - prop.start)
        if prop.key == "ro.debuggable" and value in _TRUE:
            yield DEBUGGABLE.at(fs, path, *span, property=prop.key, value=prop.value,
                                build_type=build_type)
        elif prop.key == "ro.secure" and value in _FALSE:
            yield INSECURE.at(fs, path, *span, property=prop.key, value=prop.value,
                              build_type=build_type)
        elif prop.key == "ro.adb.secure" and value in _FALSE:
            yield ADB_NO_AUTH.at(fs, path, *span, property=prop.key, value=prop.value,
                                 build_type=build_type)
        elif prop.key in ("service.adb.tcp.port", "persist.adb.tcp.port"):
            if value.isdigit() and 0 < int(value) < 65536:
                yield ADB_TCP.at(fs, path, *span, property=prop.key, port=int(value),
                                 build_type=build_type)
        elif prop.key in ("persist.sys.usb.config", "persist.vendor.usb.config", "sys.usb.config"):
            if "adb" in value.split(",") and build_type == "user":
                yield USB_ADB_ON_USER.at(fs, path, *span, property=prop.key, value=prop.value,
                                         build_type=build_type)
        elif prop.key in ("ro.boot.selinux", "androidboot.selinux") and value == "permissive":
            yield SELINUX_PERMISSIVE.at(fs, path, *span, source="property", property=prop.key)

    # -- su ------------------------------------------------------------------------

    def _su_binaries(self, fs: RootFS) -> Iterator[Finding]:
        candidates = [e for e in fs.files() if e.name in SU_NAMES and e.size
                      and any((posixpath.dirname(e.path) + "/").endswith(d) for d in SU_DIRS)]
        if not candidates or not _looks_android(fs):
            return      # a GNU/Linux or BusyBox /bin/su asks for the target's password
        for entry in candidates:
            setuid = entry.is_setuid and entry.uid in (0, None)
            yield SU_BINARY.at(fs, entry.path, 0, min(entry.size, 64),
                               severity=Severity.CRITICAL if setuid else Severity.HIGH,
                               mode=entry.mode_string(), setuid_root=setuid, owner=entry.uid,
                               ftype=entry.ftype)

    # -- init ------------------------------------------------------------------------

    def _init_scripts(self, fs: RootFS) -> Iterator[Finding]:
        # with an init.rc in the tree, the boot chain knows which services init starts: a
        # `disabled` one no action starts, or one in an .rc file nothing imports, does not run
        started: set[tuple[str, int]] | None = None
        if any(fs.exists(p) for p in ANDROID_INIT_RCS):
            started = {(s.path, s.start) for s in boot_chain(fs).steps if s.via == "android-init"}
        for path in _rc_files(fs):
            text = fs.text(path) or ""
            if "service" not in text and "setenforce" not in text:
                continue
            rc = parse_initrc(text)
            for action in rc.actions:
                for command in action.commands:
                    if command.words[:2] == ("setenforce", "0"):
                        yield self._at_line(SELINUX_PERMISSIVE, fs, path, command,
                                            source="init", trigger=" ".join(action.trigger))
            for service in rc.services:
                runs = started is None or (path, service.header.start) in started
                yield from self._service(fs, path, service, runs)

    def _service(self, fs: RootFS, path: str, service: RcService, runs: bool = True) -> Iterator[Finding]:
        if service.user not in ("root", "0"):
            return
        program = posixpath.basename(service.argv[0])
        args = service.argv[1:]
        kind = None
        if program in SU_NAMES or (program.endswith("su") and "--daemon" in args):
            kind = "su-daemon"
        elif program in SHELLS and not any(a.endswith(".sh") or a == "-c" for a in args):
            kind = "shell"
        elif program in LISTENERS or (program == "busybox" and args and args[0] in LISTENERS):
            kind = "listener"
        if kind is None:
            return
        socket = service.option("socket")
        socket_mode = socket.words[3] if socket and len(socket.words) > 3 else None
        world = bool(socket_mode and socket_mode[-1:] in ("6", "7", "2", "3"))
        severity = Severity.CRITICAL if (not service.disabled and (world or kind == "listener")) \
            else Severity.HIGH
        extra: dict[str, Any] = {}
        if not runs:
            # latent: a process allowed to set ctl.start could still start it
            severity = Severity.MEDIUM
            extra = {"started": False, "note": "init does not start this service: it is disabled and "
                     "no action starts it, or its .rc file is not imported"}
        yield self._at_line(ROOT_SHELL_SERVICE, fs, path, service.header, severity=severity, **extra,
                            service=service.name, program=service.argv[0], kind=kind, user="root",
                            disabled=service.disabled, socket=" ".join(socket.words[1:]) if socket else None,
                            options=[" ".join(o.words) for o in service.options][:12])

    @staticmethod
    def _at_line(rule_: Rule, fs: RootFS, path: str, line: RcLine, **details: Any) -> Finding:
        severity = details.pop("severity", None)
        return rule_.at(fs, path, line.start, line.end - line.start, severity=severity, **details)

    # -- boot image ------------------------------------------------------------------

    def _cmdline(self, fs: RootFS) -> Iterator[Finding]:
        """The `cmdline` file our boot-image handler writes next to `kernel`/`ramdisk`."""
        for entry in fs.files():
            if entry.name not in ("cmdline", "bootconfig"):
                continue
            parent = posixpath.dirname(entry.path)
            siblings = set(fs.listdir(parent))
            if not siblings & {"kernel", "ramdisk", "vendor_ramdisk", "boot_header"}:
                continue
            text = fs.text(entry.path) or ""
            for match in re.finditer(r"androidboot\.selinux\s*=\s*\"?permissive", text):
                yield SELINUX_PERMISSIVE.at(fs, entry.path, match.start(), match.end() - match.start(),
                                            source="kernel command line")

    # -- certificates ------------------------------------------------------------------

    def _ota_certificates(self, fs: RootFS) -> Iterator[Finding]:
        keys = aosp_test_keys()
        for entry in fs.files():
            if entry.name == "otacerts.zip":
                data = fs.read(entry.path) or b""
                try:
                    with zipfile.ZipFile(io.BytesIO(data)) as archive:
                        names = [i.filename for i in archive.infolist() if not i.is_dir()]
                        contents = {n: archive.read(n) for n in names[:64]}
                # NotImplementedError: an unknown method or version, RuntimeError: an encrypted
                # entry, IndexError: an entry without a name (ZipInfo.is_dir reads its last byte)
                except (zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error,
                        NotImplementedError, RuntimeError, IndexError):
                    continue
                for name, content in contents.items():
                    for der in _certificates_in(content):
                        key = keys.get(hashlib.sha256(der).hexdigest())
                        span = entry_span(data, name)
                        if key and span:
                            yield TEST_KEY.at(fs, entry.path, *span, key=key, member=name,
                                              sha256=hashlib.sha256(der).hexdigest(),
                                              use="OTA update verification")

    # -- apps -----------------------------------------------------------------------------

    def _app(self, fs: RootFS, path: str, facts: ApkFacts) -> Iterator[Finding]:
        data = fs.read(path)
        if data is None:
            return
        manifest = entry_span(data, MANIFEST)
        preinstalled = any(d in path for d in APP_DIRS)
        base: dict[str, Any] = {"package": facts.package, "apk": path}
        yield from self._known(fs, path, facts, manifest, base)
        yield from self._signers(fs, path, data, facts, base)
        if manifest is None:
            return
        short = facts.short_permissions()
        privileged_perms = sorted(short & PRIVILEGED_PERMISSIONS)
        system_uid = facts.shared_uid in SYSTEM_SHARED_UIDS
        priv_app = "/priv-app/" in path
        privileged = system_uid or priv_app or bool(privileged_perms)
        groups = facts.permission_groups()
        code = facts.capabilities()
        control = sorted({g for g in groups if g in ("install", "sms", "system-settings")}
                         | {c for c in code if c in ("exec", "load-code", "send-sms", "install-code")})
        network = "INTERNET" in short
        boot = facts.boot_receivers()
        open_components = facts.open_components()
        if privileged and control and preinstalled:
            # commands run and code loaded with the app's own uid are as strong as that uid
            strong = [c for c in control if c not in ("exec", "load-code") or system_uid]
            strong = [c for c in strong if c != "sms" or "SEND_SMS" in short or "send-sms" in code]
            combination = []
            if system_uid:
                combination.append(f"runs as the system user ({facts.shared_uid})")
            elif priv_app:
                combination.append("installed as a privileged app (priv-app)")
            if privileged_perms:
                combination.append("holds signature/privileged permissions " + ", ".join(privileged_perms))
            combination.append("can " + ", ".join(control))
            if network:
                combination.append("has network access")
            if boot:
                combination.append("starts at boot (" + ", ".join(c.name for c in boot[:3]) + ")")
            if open_components:
                combination.append(f"exports {len(open_components)} component(s) without a permission")
            if network and strong and (system_uid or priv_app) and (boot or open_components):
                severity = Severity.CRITICAL
            elif network and strong:
                severity = Severity.HIGH
            else:
                severity = Severity.MEDIUM
            yield REMOTE_CONTROL_APP.at(
                fs, path, *manifest, severity=severity,
                title=f"preinstalled privileged app {facts.package} can " + ", ".join(control),
                **base, shared_uid=facts.shared_uid,
                permissions=sorted(p for perms in groups.values() for p in perms),
                privileged_permissions=privileged_perms, capabilities=control,
                combination="; ".join(combination),
                boot_receivers=[c.name for c in boot][:10],
                exported_without_permission=[f"{c.kind} {c.name}" for c in open_components][:10],
                code=[f"{c.caller} calls {c.api}" for c in facts.calls
                      if c.capability in control][:10],
                evidence_entry=MANIFEST)
        ids = [c for c in facts.calls if c.capability == "device-id"]
        if ids and network and facts.urls:
            dex = ids[0].dex
            span = entry_span(data, dex)
            if span:
                yield IDENTIFIERS_TO_HOST.at(
                    fs, path, *span,
                    title=f"{facts.package} reads device identifiers and holds hard-coded server addresses",
                    severity=Severity.HIGH if privileged and preinstalled else None,
                    **base, code=[f"{c.caller} calls {c.api}" for c in ids][:10],
                    urls=[u for u, _ in facts.urls][:10], evidence_entry=dex)

    def _known(self, fs: RootFS, path: str, facts: ApkFacts, manifest: tuple[int, int] | None,
               base: dict[str, Any]) -> Iterator[Finding]:
        for kind, value, name, reference in documented_backdoors():
            if kind == "package" and facts.package == value and manifest:
                yield KNOWN_BACKDOOR_APP.at(fs, path, *manifest, **base, backdoor=name,
                                            title=f"documented Android backdoor preinstalled: {value}",
                                            indicator=f"package {value}", reference=reference,
                                            evidence_entry=MANIFEST)
                return

    def _signers(self, fs: RootFS, path: str, data: bytes, facts: ApkFacts,
                 base: dict[str, Any]) -> Iterator[Finding]:
        keys = aosp_test_keys()
        for digest, der in zip(facts.certificate_sha256(), facts.certificates, strict=True):
            key = keys.get(digest)
            if key is None:
                continue
            offset = data.find(der)
            if offset < 0:
                continue
            yield TEST_KEY.at(fs, path, offset, len(der), **base, key=key, sha256=digest,
                              use="APK signature")
            return


def _facts_or_error(data: bytes) -> ApkFacts | str:
    try:
        return analyse_apk(data)
    except ApkError as exc:
        return str(exc)


def analyse_apks(fs: RootFS, paths: list[str]) -> Iterator[tuple[str, ApkFacts | str]]:
    """(path, facts or the reason it could not be read) of each APK, in path order; a
    pool of forked processes reads them when there are many (dex scanning is CPU-bound)."""
    if len(paths) < POOL_THRESHOLD:
        for path in paths:
            data = fs.read(path)
            if data is not None:
                yield path, _facts_or_error(data)
        return
    workers = max(1, min(POOL_WORKERS, os.cpu_count() or 1))
    context = multiprocessing.get_context("fork")
    pending: deque[tuple[str, Future[ApkFacts | str]]] = deque()
    with ProcessPoolExecutor(max_workers=workers, mp_context=context, initializer=child_setup) as pool:
        for current in [*paths, None]:
            # a window of a few APKs in flight: their bytes are not all held at once
            while pending and (current is None or len(pending) >= 2 * workers):
                done_path, future = pending.popleft()
                try:
                    yield done_path, future.result()
                except BrokenProcessPool:
                    yield done_path, "APK reader process died"
            data = fs.read(current) if current is not None else None
            if current is not None and data is not None:
                pending.append((current, pool.submit(_facts_or_error, data)))


def _certificates_in(content: bytes) -> list[bytes]:
    """DER certificates of a PEM or DER file."""
    if content.startswith(b"0\x82"):
        return [content]
    out = []
    for block in find_pem_blocks(content):
        if block.label == "CERTIFICATE" and block.der:
            out.append(block.der)
    return out
