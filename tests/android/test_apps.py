"""FP-ANDROID-010/011/020/021: preinstalled apps, documented backdoors, AOSP test keys.

APKs are built with aapt (manifest compiled against Debian's framework-res.apk), zipalign
and apksigner, or taken from the shared corpus.
"""

from __future__ import annotations

import hashlib
import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import corpus_file
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from firmproof.analyzers.android import Android, aosp_test_keys
from firmproof.device.android.apk import analyse_apk, entry_span
from firmproof.fs.rootfs import RootFS
from firmproof.model import Finding, Severity
from tests.rules.cases_android import REMOTE_CARE

from .conftest import manifest

DATA = Path(__file__).resolve().parents[2] / "firmproof" / "data"
CORPUS_APKS = ["apk_InsecureBankv2.apk", "apk_diva-beta_rebuilt-unsigned.apk",
               "apk_owasp-mas_UnCrackable-Level1.apk", "apk_a2dp.Vol_137.apk",
               "apk_com.teleca.jamendo_35.apk", "apk_com.politedroid_4.apk",
               "apk_app-prod-debug.apk"]

def findings(files: dict[str, bytes]) -> list[Finding]:
    return list(Android().run(RootFS.from_files(files)))


def manifest_bytes(apk: bytes) -> bytes:
    span = entry_span(apk, "AndroidManifest.xml")
    assert span is not None
    return apk[span[0]:span[0] + span[1]]


def test_entry_span_is_the_stored_entry(build_apk: Callable[..., Path]) -> None:
    apk = build_apk(REMOTE_CARE).read_bytes()
    with zipfile.ZipFile(io.BytesIO(apk)) as archive:
        info = archive.getinfo("AndroidManifest.xml")
        stored = manifest_bytes(apk)
        assert len(stored) == info.compress_size
        if info.compress_type == zipfile.ZIP_STORED:
            assert stored == archive.read("AndroidManifest.xml")
        else:
            import zlib
            assert zlib.decompress(stored, -15) == archive.read("AndroidManifest.xml")


def test_system_uid_app_with_sms_and_install(build_apk: Callable[..., Path]) -> None:
    apk = build_apk(REMOTE_CARE).read_bytes()
    (finding,) = [f for f in findings({"/system/priv-app/RemoteCare/RemoteCare.apk": apk})
                  if f.rule.id == "FP-ANDROID-010"]
    assert finding.severity is Severity.CRITICAL
    assert finding.path == "/system/priv-app/RemoteCare/RemoteCare.apk"
    span = entry_span(apk, "AndroidManifest.xml")
    assert (finding.evidence.offset, finding.evidence.length) == span
    assert finding.evidence.sha256 == hashlib.sha256(apk).hexdigest()
    details = finding.details
    assert details["shared_uid"] == "android.uid.system"
    assert {"install", "sms"} <= set(details["capabilities"])
    assert "INSTALL_PACKAGES" in details["privileged_permissions"]
    assert details["boot_receivers"] == ["com.vendor.remotecare.BootReceiver"]
    assert "service com.vendor.remotecare.CommandService" in details["exported_without_permission"]
    assert "system user" in details["combination"]


def test_corpus_app_in_priv_app_names_its_code() -> None:
    """InsecureBankv2 (corpus #15) put in priv-app: SMS sending, Runtime.exec and a
    DexClassLoader in its code, network access, exported components without permission."""
    apk = corpus_file("apk_InsecureBankv2.apk").read_bytes()
    found = {f.rule.id: f for f in findings({"/system/priv-app/Bank/Bank.apk": apk})}
    app = found["FP-ANDROID-010"]
    assert app.severity is Severity.CRITICAL
    assert {"exec", "load-code", "send-sms"} <= set(app.details["capabilities"])
    assert ("Lcom/android/insecurebankv2/MyBroadCastReceiver;->onReceive calls "
            "Landroid/telephony/SmsManager;->sendTextMessage") in app.details["code"]
    # the phone number read (getLine1Number) next to hard-coded URLs: the exfiltration
    # pattern, pointing at the dex; high for a privileged preinstalled app
    exfil = found["FP-ANDROID-011"]
    assert exfil.severity is Severity.HIGH
    assert exfil.details["evidence_entry"] == "classes.dex"
    assert (exfil.evidence.offset, exfil.evidence.length) == entry_span(apk, "classes.dex")
    assert any("getLine1Number" in line for line in exfil.details["code"])
    assert not any("schema.org" in url for url in exfil.details["urls"])
    # the same app installed by the user is not preinstalled: no privileged-app finding,
    # and the exfiltration pattern alone is medium
    user = {f.rule.id: f for f in findings({"/data/app/Bank/base.apk": apk})}
    assert set(user) == {"FP-ANDROID-011"}
    assert user["FP-ANDROID-011"].severity is Severity.MEDIUM


def test_urls_without_identifier_reads_are_no_exfiltration() -> None:
    """Jamendo (corpus #19) talks to its hard-coded API but reads no device identifier."""
    apk = corpus_file("apk_com.teleca.jamendo_35.apk").read_bytes()
    assert analyse_apk(apk).urls
    assert findings({"/system/app/Jamendo/Jamendo.apk": apk}) == []


@pytest.mark.parametrize("name", CORPUS_APKS)
def test_corpus_apks_are_read_without_errors(name: str) -> None:
    facts = analyse_apk(corpus_file(name).read_bytes())
    assert facts.package
    assert facts.dex_names


def test_adups_package_is_a_known_backdoor(build_apk: Callable[..., Path]) -> None:
    apk = build_apk(manifest("com.adups.fota.sysoper", permissions=("INSTALL_PACKAGES",))).read_bytes()
    found = [f for f in findings({"/system/app/FotaSysoper/FotaSysoper.apk": apk})
             if f.rule.id == "FP-ANDROID-020"]
    (finding,) = found
    assert finding.details["indicator"] == "package com.adups.fota.sysoper"
    assert finding.rule.references and "kryptowire" in finding.rule.references[0]
    assert (finding.evidence.offset, finding.evidence.length) == entry_span(apk, "AndroidManifest.xml")


def test_test_key_list_matches_the_stored_certificates() -> None:
    keys = aosp_test_keys()
    for name in ("testkey", "platform"):
        cert = x509.load_pem_x509_certificate((DATA / "aosp-test-keys" / f"{name}.x509.pem").read_bytes())
        assert keys[hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()] == name
        assert "Android" in cert.subject.rfc4514_string()


def test_apk_signed_with_a_vendor_key_is_no_test_key(build_apk: Callable[..., Path]) -> None:
    apk = build_apk(manifest("org.example.clock")).read_bytes()
    facts = analyse_apk(apk)
    assert facts.certificates and not set(facts.certificate_sha256()) & set(aosp_test_keys())
    assert findings({"/system/app/Clock/Clock.apk": apk}) == []


def test_many_apks_are_read_in_a_pool_in_path_order() -> None:
    """Past the pool threshold the APKs are read by forked workers; results keep path order
    and an unreadable APK is reported, not fatal."""
    from firmproof.analyzers.android import POOL_THRESHOLD, analyse_apks

    names = ["apk_com.politedroid_4.apk", "apk_owasp-mas_UnCrackable-Level1.apk",
             "apk_com.teleca.jamendo_35.apk"]
    files = {f"/system/app/A{i}/A{i}.apk": corpus_file(n).read_bytes() for i, n in enumerate(names)}
    files["/system/app/Broken/Broken.apk"] = b"PK\x03\x04 not really a zip"
    assert len(files) >= POOL_THRESHOLD
    fs = RootFS.from_files(files)
    results = list(analyse_apks(fs, sorted(files)))
    assert [p for p, _ in results] == sorted(files)
    by_path = dict(results)
    assert isinstance(by_path["/system/app/Broken/Broken.apk"], str)
    assert by_path["/system/app/A0/A0.apk"].package == "com.politedroid"  # type: ignore[union-attr]
    # through the analyzer: the broken APK becomes one error after the other findings
    with pytest.raises(ValueError, match="1 APK"):
        list(Android().run(fs))


def test_apks_are_read_inside_a_scan_worker() -> None:
    """Big views are analysed in forked workers, which may start a pool of their own."""
    from firmproof.analyzers.schedule import BIG_VIEW, Analysis

    data = corpus_file("apk_com.politedroid_4.apk").read_bytes()
    files: dict[str, bytes | str] = {f"/system/priv-app/A{i}/A{i}.apk": data for i in range(5)}
    files.update({f"/system/etc/filler{i}.txt": f"{i}\n" for i in range(BIG_VIEW)})
    fs = RootFS.from_files(files)
    forked = Analysis(workers=2, family=(Android(),))
    forked.add([fs])
    assert forked._running or forked._pending            # the big view went to a worker
    inline = Analysis(workers=1, family=(Android(),))
    inline.add([fs])
    assert forked.finish() == inline.finish()
    assert forked.errors == inline.errors == []          # every APK was read, none failed
