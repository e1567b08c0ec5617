"""What one APK can do: manifest facts, signer certificates and the APIs its code calls.

androguard reads the binary manifest and the signature blocks (v1/v2/v3), LIEF the dex
files (firmproof.device.android.dexcode); androguard is imported lazily (it takes a while to
import and logs a lot). Everything a finding points at is a zip entry of the APK:
`entry_span` gives the bytes of that entry's stored data inside the APK file, so the
evidence is the manifest or the classes.dex as stored.
"""

from __future__ import annotations

import hashlib
import io
import re
import struct
import zipfile
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

ANDROID_NS = "{http://schemas.android.com/apk/res/android}"
MANIFEST = "AndroidManifest.xml"
_LOCAL_HEADER = struct.Struct("<IHHHHHIIIHH")
_LOCAL_MAGIC = 0x04034B50

# permissions by what they let an app do to the phone or its owner
PERMISSION_GROUPS: dict[str, frozenset[str]] = {
    "install": frozenset({"INSTALL_PACKAGES", "DELETE_PACKAGES", "REQUEST_INSTALL_PACKAGES",
                          "INSTALL_PACKAGE_UPDATES", "UPDATE_PACKAGES_WITHOUT_USER_ACTION"}),
    "sms": frozenset({"SEND_SMS", "READ_SMS", "RECEIVE_SMS", "WRITE_SMS", "RECEIVE_MMS"}),
    "personal-data": frozenset({"READ_CALL_LOG", "WRITE_CALL_LOG", "READ_CONTACTS",
                                "PROCESS_OUTGOING_CALLS", "ACCESS_FINE_LOCATION", "RECORD_AUDIO",
                                "READ_PRIVILEGED_PHONE_STATE", "GET_ACCOUNTS_PRIVILEGED"}),
    "system-settings": frozenset({"WRITE_SECURE_SETTINGS", "REBOOT", "MASTER_CLEAR",
                                  "CHANGE_COMPONENT_ENABLED_STATE", "MANAGE_USERS",
                                  "INTERACT_ACROSS_USERS_FULL", "MODIFY_PHONE_STATE",
                                  "RECOVERY", "ACCESS_CACHE_FILESYSTEM"}),
}
# signature|privileged permissions among those: only platform-signed or priv-app code gets them
PRIVILEGED_PERMISSIONS = frozenset({
    "INSTALL_PACKAGES", "DELETE_PACKAGES", "WRITE_SECURE_SETTINGS", "REBOOT", "MASTER_CLEAR",
    "CHANGE_COMPONENT_ENABLED_STATE", "MANAGE_USERS", "INTERACT_ACROSS_USERS_FULL",
    "MODIFY_PHONE_STATE", "RECOVERY", "ACCESS_CACHE_FILESYSTEM", "READ_PRIVILEGED_PHONE_STATE",
    "UPDATE_PACKAGES_WITHOUT_USER_ACTION", "INSTALL_PACKAGE_UPDATES", "GET_ACCOUNTS_PRIVILEGED",
})
SYSTEM_SHARED_UIDS = frozenset({"android.uid.system", "android.uid.phone", "android.uid.shell",
                                "android.media", "android.uid.nfc", "android.uid.bluetooth"})

# (class descriptor, method name) -> capability; the references a dex file makes
CODE_APIS: dict[tuple[str, str], str] = {
    ("Ljava/lang/Runtime;", "exec"): "exec",
    ("Ljava/lang/ProcessBuilder;", "<init>"): "exec",
    ("Ljava/lang/ProcessBuilder;", "start"): "exec",
    ("Ldalvik/system/DexClassLoader;", "<init>"): "load-code",
    ("Ldalvik/system/PathClassLoader;", "<init>"): "load-code",
    ("Ldalvik/system/InMemoryDexClassLoader;", "<init>"): "load-code",
    ("Landroid/telephony/TelephonyManager;", "getDeviceId"): "device-id",
    ("Landroid/telephony/TelephonyManager;", "getImei"): "device-id",
    ("Landroid/telephony/TelephonyManager;", "getMeid"): "device-id",
    ("Landroid/telephony/TelephonyManager;", "getSubscriberId"): "device-id",
    ("Landroid/telephony/TelephonyManager;", "getSimSerialNumber"): "device-id",
    ("Landroid/telephony/TelephonyManager;", "getLine1Number"): "device-id",
    ("Landroid/telephony/SmsManager;", "sendTextMessage"): "send-sms",
    ("Landroid/telephony/SmsManager;", "sendMultipartTextMessage"): "send-sms",
    ("Landroid/telephony/SmsManager;", "sendDataMessage"): "send-sms",
    ("Landroid/content/pm/PackageManager;", "installPackage"): "install-code",
    ("Landroid/content/pm/PackageInstaller;", "createSession"): "install-code",
    ("Landroid/content/pm/PackageManager;", "deletePackage"): "install-code",
}
BOOT_ACTIONS = frozenset({"android.intent.action.BOOT_COMPLETED",
                          "android.intent.action.LOCKED_BOOT_COMPLETED",
                          "android.intent.action.QUICKBOOT_POWERON"})
_URL = re.compile(r"^(?:https?|tcp|udp|ws|wss)://([A-Za-z0-9.-]+\.[A-Za-z]{2,}|\d{1,3}(?:\.\d{1,3}){3})"
                  r"(?::\d+)?(?:/[^\s]*)?$")
# hosts of platform and standards documents that every app names and never talks to
_BENIGN_HOSTS = re.compile(r"(?:^|\.)(?:android\.com|w3\.org|apache\.org|xmlpull\.org|"
                           r"xml\.org|example\.(?:com|org|net)|schemas\.android\.com|ns\.adobe\.com|"
                           r"purl\.org|java\.sun\.com|json-schema\.org|schema\.org|openid\.net|xmlsoap\.org)$")
MAX_URLS = 20
MAX_CALLS = 20


@dataclass(frozen=True)
class Component:
    kind: str                  # activity, service, receiver, provider
    name: str
    exported: bool
    permission: str | None
    actions: tuple[str, ...]


@dataclass(frozen=True)
class CodeCall:
    capability: str
    api: str                   # 'Ljava/lang/Runtime;->exec'
    caller: str                # 'Lcom/x/Y;->run'
    dex: str                   # zip entry of the dex file


@dataclass
class ApkFacts:
    package: str = ""
    shared_uid: str | None = None
    permissions: tuple[str, ...] = ()
    components: list[Component] = field(default_factory=list)
    calls: list[CodeCall] = field(default_factory=list)
    urls: list[tuple[str, str]] = field(default_factory=list)   # (url, dex entry)
    certificates: list[bytes] = field(default_factory=list)     # DER of each signer
    dex_names: tuple[str, ...] = ()

    def short_permissions(self) -> set[str]:
        return {p.rsplit(".", 1)[-1] for p in self.permissions}

    def permission_groups(self) -> dict[str, list[str]]:
        short = self.short_permissions()
        return {group: sorted(short & names) for group, names in PERMISSION_GROUPS.items()
                if short & names}

    def capabilities(self) -> set[str]:
        return {call.capability for call in self.calls}

    def boot_receivers(self) -> list[Component]:
        return [c for c in self.components if c.kind == "receiver" and BOOT_ACTIONS & set(c.actions)]

    def open_components(self) -> list[Component]:
        """Components other apps may start or bind to without holding any permission."""
        return [c for c in self.components if c.exported and not c.permission
                and not (c.kind == "activity" and "android.intent.action.MAIN" in c.actions)]

    def certificate_sha256(self) -> list[str]:
        return [hashlib.sha256(der).hexdigest() for der in self.certificates]


class ApkError(ValueError):
    """The bytes are not an APK androguard can read."""


def entry_span(apk: bytes, name: str) -> tuple[int, int] | None:
    """(offset, length) of the stored data of zip entry `name` inside the APK bytes."""
    try:
        with zipfile.ZipFile(io.BytesIO(apk)) as archive:
            info = archive.getinfo(name)
    # NotImplementedError: a "zip file version" zipfile refuses, in an APK androguard read
    except (KeyError, zipfile.BadZipFile, OSError, NotImplementedError):
        return None
    start = info.header_offset
    header = apk[start:start + _LOCAL_HEADER.size]
    if len(header) < _LOCAL_HEADER.size:
        return None
    fields = _LOCAL_HEADER.unpack(header)
    if fields[0] != _LOCAL_MAGIC:
        return None
    data = start + _LOCAL_HEADER.size + fields[9] + fields[10]
    length = info.compress_size
    if length <= 0 or data + length > len(apk):
        return None
    return data, length


def _quiet_androguard() -> None:
    from loguru import logger

    logger.disable("androguard")


def _class_name(package: str, name: str) -> str:
    """'.Boot' and 'Boot' in package 'com.x' are 'com.x.Boot' (PackageParser's rule)."""
    if name.startswith("."):
        return package + name
    return name if "." in name else f"{package}.{name}"


def _components(manifest: Any, package: str) -> list[Component]:
    out: list[Component] = []
    app = manifest.find("application")
    if app is None:
        return out
    app_permission = app.get(ANDROID_NS + "permission")
    for kind in ("activity", "activity-alias", "service", "receiver", "provider"):
        for element in app.findall(kind):
            actions = tuple(a.get(ANDROID_NS + "name", "") for f in element.findall("intent-filter")
                            for a in f.findall("action"))
            exported_attr = element.get(ANDROID_NS + "exported")
            if exported_attr is None:
                exported = bool(actions) if kind != "provider" else False
            else:
                exported = exported_attr.lower() == "true"
            permission = (element.get(ANDROID_NS + "permission")
                          or (element.get(ANDROID_NS + "readPermission") if kind == "provider" else None)
                          or app_permission)
            out.append(Component(kind.replace("-alias", ""),
                                 _class_name(package, element.get(ANDROID_NS + "name", "")),
                                 exported, permission, actions))
    return out


def _scan_dex(name: str, raw: bytes, facts: ApkFacts) -> None:
    from firmproof.device.android.dexcode import scan

    calls, strings = scan(raw, CODE_APIS)
    for call in calls[:MAX_CALLS * 4]:
        facts.calls.append(CodeCall(CODE_APIS[call.api], f"{call.api[0]}->{call.api[1]}", call.caller, name))
    for text in strings:
        match = _URL.match(text.strip())
        if match and not _BENIGN_HOSTS.search(match.group(1).lower()) and len(facts.urls) < MAX_URLS:
            facts.urls.append((text.strip(), name))


def analyse_apk(data: bytes, *, code: bool = True) -> ApkFacts:
    """Facts of the APK in `data`; `code=False` skips the dex files (the slow part).

    The same APK often lies in several places of an image (or of several images in one
    process): the last few results are kept by content hash."""
    return _analyse_cached(hashlib.sha256(data).hexdigest(), data, code)


_CACHE: OrderedDict[tuple[str, bool], ApkFacts] = OrderedDict()
_CACHE_SIZE = 8


def _analyse_cached(digest: str, data: bytes, code: bool) -> ApkFacts:
    key = (digest, code)
    if key in _CACHE:
        _CACHE.move_to_end(key)
        return _CACHE[key]
    facts = _analyse(data, code)
    _CACHE[key] = facts
    while len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return facts


def _analyse(data: bytes, code: bool) -> ApkFacts:
    _quiet_androguard()
    from androguard.core.apk import APK

    try:
        apk = APK(data, raw=True)
        manifest = apk.get_android_manifest_xml()
    except Exception as exc:  # androguard's parser over hostile bytes
        raise ApkError(f"unreadable APK ({type(exc).__name__}: {exc})") from None
    if manifest is None or not apk.get_package():
        raise ApkError("no readable AndroidManifest.xml")
    facts = ApkFacts(package=apk.get_package() or "",
                     shared_uid=manifest.get(ANDROID_NS + "sharedUserId"),
                     permissions=tuple(sorted(set(apk.get_permissions()))),
                     components=_components(manifest, apk.get_package() or ""),
                     dex_names=tuple(apk.get_dex_names()))
    try:
        facts.certificates = [cert.dump() for cert in apk.get_certificates()]
    except Exception:  # a broken signature block: no signer to compare, the rest stands
        facts.certificates = []
    if code:
        for name in facts.dex_names:
            try:
                _scan_dex(name, apk.get_file(name), facts)
            except Exception as exc:
                raise ApkError(f"unreadable dex {name} ({type(exc).__name__}: {exc})") from None
    return facts
