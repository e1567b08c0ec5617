"""Fuzzing the Android app readers: the binary manifest (AXML, read by androguard inside
firmproof.device.android.apk.analyse_apk), the APK itself (zip, signature blocks), and the dex
reader firmproof.device.android.dexcode.scan (LIEF, with androguard where LIEF gives up, and the
instruction walk over the code items).

Seeds: an APK built here by aapt (manifest compiled against Debian's framework-res.apk) with
a classes.dex assembled by smali, and the manifests and dex files of the corpus APKs.
Mutated manifests and dex files are put back into the APK stored (uncompressed), so the
edits reach the parsers; half the mutated dex files get their header's file_size set to
their length again, so that LIEF reads them rather than the size check refusing them.

Documented outcome: analyse_apk returns ApkFacts or raises ApkError; scan returns
(calls, strings) or raises DexUnreadable.
"""

from __future__ import annotations

import struct
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmproof.analyzers.android import Android
from firmproof.device.android.apk import CODE_APIS, ApkError, ApkFacts, analyse_apk, entry_span
from firmproof.device.android.dexcode import DexUnreadable, scan
from firmproof.fs.rootfs import RootFS

from . import seeds as seed_builders
from .harness import Seeds, examples, mutants, run_bounded

_CORPUS: dict[str, bytes] | None = None


def corpus() -> dict[str, bytes]:
    global _CORPUS
    if _CORPUS is None:
        _CORPUS = seed_builders.corpus_apk_parts()
    return _CORPUS


@pytest.fixture(scope="module")
def apk_seed(app_seeds: dict[str, bytes]) -> bytes:
    """The built APK, read once (androguard and LIEF are imported outside any example)."""
    facts = analyse_apk(app_seeds["aapt-apk"])
    assert facts.package == "com.example.fuzz" and facts.calls
    return app_seeds["aapt-apk"]


def fix_dex_size(data: bytearray) -> None:
    """Set the dex header's file_size to the mutant's length."""
    if len(data) >= 36:
        struct.pack_into("<I", data, 32, len(data))


def _analyse(apk: bytes, *, code: bool) -> None:
    facts = run_bounded(lambda: analyse_apk(apk, code=code), (ApkError,), memory=False)
    if isinstance(facts, ApkFacts):
        assert isinstance(facts.package, str) and facts.package
        for name in facts.dex_names:
            span = entry_span(apk, name)
            assert span is None or (0 <= span[0] and span[0] + span[1] <= len(apk))


@settings(max_examples=examples(300), deadline=5000)
@given(data=st.data())
def test_binary_manifest(app_seeds: dict[str, bytes], apk_seed: bytes, data: st.DataObject) -> None:
    manifests = Seeds({name: blob for name, blob in {**app_seeds, **corpus()}.items()
                       if name == "aapt-manifest" or name.startswith("manifest:")})
    manifest = data.draw(mutants(manifests, head=(8, 1024)))
    _analyse(seed_builders.repack_apk(apk_seed, {"AndroidManifest.xml": manifest}), code=False)


@settings(max_examples=examples(150), deadline=5000)
@given(data=st.data())
def test_apk_container(apk_seed: bytes, data: st.DataObject) -> None:
    apk = data.draw(mutants(Seeds({"aapt-apk": apk_seed}), head=(0, len(apk_seed))))
    for name in ("AndroidManifest.xml", "classes.dex", "META-INF/MANIFEST.MF"):
        span = run_bounded(partial(entry_span, apk, name), ())
        assert span is None or (isinstance(span, tuple) and 0 <= span[0] and span[0] + span[1] <= len(apk))
    _analyse(apk, code=True)


def _zip_windows(archive: bytes) -> list[tuple[int, int]]:
    first = archive.find(b"PK\x01\x02")
    return [(first, len(archive))] if first >= 0 else []


@settings(max_examples=examples(380))
@given(data=st.data())
def test_otacerts_zip(otacerts_seeds: dict[str, bytes], data: st.DataObject) -> None:
    """The Android analyzer reads /system/etc/security/otacerts.zip itself (zipfile), to find
    AOSP test keys among the OTA certificates."""
    archive = data.draw(mutants(otacerts_seeds, head=(0, 64), windows=_zip_windows))
    fs = RootFS.from_files({"/system/etc/security/otacerts.zip": archive})
    run_bounded(lambda: list(Android()._ota_certificates(fs)), ())


def _dex_windows(dex: bytes) -> list[tuple[int, int]]:
    if len(dex) < 0x70:
        return []
    map_off = struct.unpack_from("<I", dex, 0x34)[0]
    return [(0x70, min(len(dex), 0x70 + 512)), (min(map_off, len(dex)), len(dex))]


@settings(max_examples=examples(380), deadline=5000)
@given(data=st.data())
def test_dex(app_seeds: dict[str, bytes], apk_seed: bytes, data: st.DataObject) -> None:
    dexes = Seeds({name: blob for name, blob in {**app_seeds, **corpus()}.items()
                   if name == "smali-dex" or name.startswith("dex:")})
    dex = data.draw(mutants(dexes, head=(8, 0x70), windows=_dex_windows, fix=fix_dex_size))
    result = run_bounded(lambda: scan(dex, CODE_APIS), (DexUnreadable,), memory=False)
    if isinstance(result, tuple):
        calls, strings = result
        assert all(call.api in CODE_APIS for call in calls)
        assert all(isinstance(text, str) for text in strings)
    if data.draw(st.booleans()):
        _analyse(seed_builders.repack_apk(apk_seed, {"classes.dex": dex}), code=True)
