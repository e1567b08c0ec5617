"""The code of an APK: which APIs it calls and from where, read with LIEF and checked against
androguard. Dex files are assembled at test time by Debian's smali from the sources below;
the corpus APKs are compared between the two readers where the shared corpus is present."""

from __future__ import annotations

import zipfile
from collections.abc import Callable
from pathlib import Path

import lief
import pytest
from conftest import CORPUS

from firmproof.analyzers.android import Android
from firmproof.device.android import dexcode
from firmproof.device.android.apk import CODE_APIS, ApkError, analyse_apk
from firmproof.fs.rootfs import RootFS

from .conftest import BOOT_RECEIVER, assemble_dex, manifest

SRC = Path(__file__).parent / "src"
URL = "http://203.0.113.7/collect.php?imei="
REMOTE_CARE = (SRC / "CommandService.smali").read_text().replace("%URL%", URL)

# Tables.smali: a method whose data (a fill-array-data payload, after a packed-switch and a
# sparse-switch) holds the 16-bit units of `invoke-virtual {..}, Runtime.exec`: data, not a call
PAYLOADS = (SRC / "Tables.smali").read_text()


def _exec_index(dex: Path) -> int:
    parsed = lief.DEX.parse(str(dex))
    assert parsed is not None
    (index,) = [m.index for m in parsed.methods
                if m.has_class and m.cls.fullname == "Ljava/lang/Runtime;" and m.name == "exec"]
    return index


def _calls(raw: bytes) -> set[tuple[str, str]]:
    calls, _strings = dexcode.scan(raw, CODE_APIS)
    return {(CODE_APIS[c.api], c.caller) for c in calls}


def test_each_api_is_found_with_its_caller(tmp_path: Path) -> None:
    raw = assemble_dex({"CommandService": REMOTE_CARE}, tmp_path / "classes.dex").read_bytes()
    service = "Lcom/vendor/remotecare/CommandService;"
    assert _calls(raw) == {("exec", f"{service}->run"), ("exec", f"{service}->spawn"),
                           ("load-code", f"{service}->load"), ("send-sms", f"{service}->sms"),
                           ("device-id", f"{service}->imei")}
    assert URL in dexcode.scan(raw, CODE_APIS)[1]
    # the reference reader agrees, call for call
    slow, _ = dexcode._scan_androguard(raw, CODE_APIS)
    assert {(CODE_APIS[c.api], c.caller) for c in slow} == _calls(raw)


def test_invoke_units_inside_payloads_are_no_calls(tmp_path: Path) -> None:
    """The byte scan finds the invoke units in the array payload; decoding the method
    instruction by instruction (switch and array payloads skipped whole) drops them."""
    sources = {"CommandService": REMOTE_CARE, "Tables": PAYLOADS.replace("%WORD%", "0x0")}
    index = _exec_index(assemble_dex(sources, tmp_path / "probe.dex"))
    word = (index << 16) | 0x206E                      # invoke-virtual {vC, vD}, method@index
    sources["Tables"] = PAYLOADS.replace("%WORD%", f"{word:#x}")
    dex = assemble_dex(sources, tmp_path / "classes.dex")
    assert _exec_index(dex) == index
    raw = dex.read_bytes()
    assert word.to_bytes(4, "little") in raw            # the units are there, in the data
    callers = {caller for capability, caller in _calls(raw) if capability == "exec"}
    assert callers == {"Lcom/vendor/remotecare/CommandService;->run",
                       "Lcom/vendor/remotecare/CommandService;->spawn"}


def test_built_app_gives_the_capabilities_and_findings(tmp_path: Path,
                                                        build_apk: Callable[..., Path]) -> None:
    apk = build_apk(manifest("com.vendor.remotecare", shared_uid="android.uid.system",
                             permissions=("INTERNET", "READ_PHONE_STATE", "SEND_SMS"),
                             application=BOOT_RECEIVER),
                    smali={"CommandService": REMOTE_CARE}).read_bytes()
    facts = analyse_apk(apk)
    assert facts.capabilities() == {"exec", "load-code", "send-sms", "device-id"}
    assert (URL, "classes.dex") in facts.urls
    fs = RootFS.from_files({"/system/priv-app/RemoteCare/RemoteCare.apk": apk})
    found = {f.rule.id: f for f in Android().run(fs)}
    assert {"FP-ANDROID-010", "FP-ANDROID-011"} <= set(found)
    assert found["FP-ANDROID-010"].severity.value == "critical"


def test_the_same_app_without_code_gives_no_code_capability(build_apk: Callable[..., Path]) -> None:
    apk = build_apk(manifest("com.vendor.remotecare", permissions=("INTERNET",))).read_bytes()
    assert analyse_apk(apk).capabilities() == set()


def test_a_damaged_dex_is_an_error_not_a_crash(tmp_path: Path) -> None:
    raw = assemble_dex({"CommandService": REMOTE_CARE}, tmp_path / "classes.dex").read_bytes()
    for broken in (raw[:100], b"dex\n035\0" + b"\xff" * 200):
        with pytest.raises(dexcode.DexUnreadable):
            dexcode.scan(broken, CODE_APIS)
    with pytest.raises(ApkError):
        analyse_apk(b"PK\x03\x04" + raw[:50])


CORPUS_APKS = sorted(p.name for p in CORPUS.glob("apk_*.apk")) if CORPUS.is_dir() else []


@pytest.mark.corpus
@pytest.mark.parametrize("name", CORPUS_APKS or ["(corpus absent)"])
def test_corpus_dex_files_read_the_same_with_lief_and_androguard(name: str) -> None:
    if not CORPUS_APKS:
        pytest.skip(f"the shared corpus is absent ({CORPUS})")
    with zipfile.ZipFile(CORPUS / name) as archive:
        for entry in archive.namelist():
            if not (entry.startswith("classes") and entry.endswith(".dex")):
                continue
            raw = archive.read(entry)
            fast, fast_strings = dexcode.scan(raw, CODE_APIS)
            slow, slow_strings = dexcode._scan_androguard(raw, CODE_APIS)
            assert set(fast) == set(slow), entry
            assert {s for s in fast_strings if s.isascii()} == {s for s in slow_strings if s.isascii()}


def test_mutated_dex_files_give_a_result_or_unreadable(tmp_path: Path) -> None:
    """400 copies of a built dex, each with up to 20 random bytes changed (fixed seed): every
    one is read or refused as DexUnreadable, none raises anything else or crashes LIEF."""
    import random

    raw = assemble_dex({"CommandService": REMOTE_CARE, "Tables": PAYLOADS.replace("%WORD%", "0x0")},
                       tmp_path / "classes.dex").read_bytes()
    rng = random.Random(20261129)
    outcomes = {"read": 0, "unreadable": 0}
    for _ in range(400):
        mutated = bytearray(raw)
        for _ in range(rng.randint(1, 20)):
            mutated[rng.randrange(len(mutated))] = rng.randrange(256)
        try:
            dexcode.scan(bytes(mutated), CODE_APIS)
            outcomes["read"] += 1
        except dexcode.DexUnreadable:
            outcomes["unreadable"] += 1
    assert outcomes["read"] and outcomes["unreadable"], outcomes
