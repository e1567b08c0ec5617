"""Fuzzing the metadata readers (firmproof/unpack/meta/: cpio, cramfs, JFFS2, UBIFS, ext via
debugfs, tar, zip) and read_metadata, which picks one by unblob handler name.

Seeds: the tiny tree packed by firmproof.testing.fixtures.pack (cpio in all four formats, mkfs.cramfs
both byte orders, mkfs.jffs2 both byte orders, tar, zip) and by mke2fs and mkfs.ubifs made
small, plus the corpus' cramfs images and the real Android ramdisk (newc cpio). JFFS2 and
UBIFS mutants have their node CRCs recomputed half the time, so edits of node bodies are
read rather than skipped as damaged.

Documented outcome: a reader returns {path: FileMeta} (zip: or None) or raises MetadataError;
read_metadata the same, whether strict or not.
"""

from __future__ import annotations

import struct
import tempfile
import zlib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from firmproof.fs.rootfs import FileMeta
from firmproof.unpack.meta import cpio, cramfs, extfs, jffs2, tar, ubifs
from firmproof.unpack.meta import zip as zip_meta
from firmproof.unpack.meta.common import MetadataError
from firmproof.unpack.metadata import read_metadata

from . import seeds as seed_builders
from .harness import Seeds, examples, mutants, run_bounded

HANDLERS = {"cpio": ("cpio_portable_ascii", "cpio_binary"), "cramfs": ("cramfs",), "jffs2": ("jffs2_new",),
            "ubifs": ("ubifs",), "ext": ("extfs",), "tar": ("tar",), "zip": ("zip",)}


def fix_jffs2_crcs(data: bytearray) -> None:
    """Recompute the header CRC of every JFFS2 node (either byte order)."""
    for order in ("<", ">"):
        for magic in (jffs2.MAGIC_NEW, jffs2.MAGIC_OLD):
            needle = struct.pack(f"{order}H", magic)
            at = data.find(needle)
            while 0 <= at <= len(data) - jffs2.HEADER:
                struct.pack_into(f"{order}I", data, at + 8, jffs2._crc(bytes(data[at:at + 8])))
                at = data.find(needle, at + 1)


def fix_ubifs_crcs(data: bytearray) -> None:
    """Recompute the CRC of every UBIFS node whose length fits in the image."""
    magic = struct.pack("<I", ubifs.NODE_MAGIC)
    at = data.find(magic)
    while 0 <= at <= len(data) - ubifs.HEADER:
        length = struct.unpack_from("<I", data, at + 16)[0]
        if ubifs.HEADER <= length <= len(data) - at:
            crc = ~zlib.crc32(bytes(data[at + 8:at + length])) & 0xFFFFFFFF
            struct.pack_into("<I", data, at + 4, crc)
        at = data.find(magic, at + 1)


def _read(reader: Callable[[Path], Any], image: bytes, handlers: tuple[str, ...]) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-meta-") as tmp:
        path = Path(tmp) / "chunk"
        path.write_bytes(image)
        result = run_bounded(lambda: reader(path), (MetadataError,))
        _check(result)
        for name in handlers:
            for strict in (False, True):
                _check(run_bounded(partial(read_metadata, name, path, strict=strict), (MetadataError,)))


def _check(result: Any) -> None:
    if isinstance(result, MetadataError):
        assert all(isinstance(m, FileMeta) for m in result.partial.values())
    elif result is not None:
        assert isinstance(result, dict)
        for key, meta in result.items():
            assert isinstance(meta, FileMeta)
            assert not key.startswith("/") and ".." not in key.split("/"), key


def _pick(meta_seeds: dict[str, bytes], *prefixes: str, extra: dict[str, bytes] | None = None) -> Seeds:
    picked = {name: data for name, data in meta_seeds.items() if name.startswith(prefixes)}
    picked.update({name: data for name, data in (extra or {}).items() if name.startswith(prefixes)})
    return Seeds(picked)


_CORPUS: dict[str, bytes] | None = None


def corpus() -> dict[str, bytes]:
    global _CORPUS
    if _CORPUS is None:
        _CORPUS = seed_builders.corpus_meta()
    return _CORPUS


@settings(max_examples=examples(750))
@given(data=st.data())
def test_cpio(meta_seeds: dict[str, bytes], data: st.DataObject) -> None:
    image = data.draw(mutants(_pick(meta_seeds, "cpio", extra=corpus()), head=(6, 512)))
    _read(cpio.read, image, HANDLERS["cpio"])


@settings(max_examples=examples(620))
@given(data=st.data())
def test_cramfs(meta_seeds: dict[str, bytes], data: st.DataObject) -> None:
    image = data.draw(mutants(_pick(meta_seeds, "cramfs", extra=corpus()), head=(4, 1024)))
    _read(cramfs.read, image, HANDLERS["cramfs"])


@settings(max_examples=examples(620))
@given(data=st.data())
def test_jffs2(meta_seeds: dict[str, bytes], data: st.DataObject) -> None:
    image = data.draw(mutants(_pick(meta_seeds, "jffs2"), head=(0, 2048), fix=fix_jffs2_crcs))
    _read(jffs2.read, image, HANDLERS["jffs2"])


def _ubifs_windows(image: bytes) -> list[tuple[int, int]]:
    leb = 15360
    return [(leb, leb + 2048), (2 * leb, 2 * leb + 2048), (3 * leb, len(image))]


@settings(max_examples=examples(500))
@given(data=st.data())
def test_ubifs(meta_seeds: dict[str, bytes], data: st.DataObject) -> None:
    image = data.draw(mutants(_pick(meta_seeds, "ubifs"), head=(0, 4096), windows=_ubifs_windows,
                              fix=fix_ubifs_crcs))
    _read(ubifs.read, image, HANDLERS["ubifs"])


def _ext_windows(image: bytes) -> list[tuple[int, int]]:
    return [(1024, 1024 + 256), (2048, 2048 + 64), (4096, 16384)]


@settings(max_examples=examples(60), deadline=5000)
@given(data=st.data())
def test_extfs(meta_seeds: dict[str, bytes], data: st.DataObject) -> None:
    image = data.draw(mutants(_pick(meta_seeds, "ext"), head=(1024, 1024 + 128), windows=_ext_windows))
    with tempfile.TemporaryDirectory(prefix="fuzz-meta-") as tmp:
        path = Path(tmp) / "chunk"
        path.write_bytes(image)
        _check(run_bounded(lambda: extfs.read(path), (MetadataError,)))


@settings(max_examples=examples(620))
@given(data=st.data())
def test_tar(meta_seeds: dict[str, bytes], data: st.DataObject) -> None:
    image = data.draw(mutants(_pick(meta_seeds, "tar"), head=(0, 512)))
    _read(tar.read, image, HANDLERS["tar"])


def _zip_windows(image: bytes) -> list[tuple[int, int]]:
    central = image.rfind(b"PK\x01\x02", 0, len(image))
    first = image.find(b"PK\x01\x02")
    return [(first, len(image))] if 0 <= first <= central else []


@settings(max_examples=examples(620))
@given(data=st.data())
def test_zip(meta_seeds: dict[str, bytes], data: st.DataObject) -> None:
    image = data.draw(mutants(_pick(meta_seeds, "zip"), head=(0, 128), windows=_zip_windows))
    _read(zip_meta.read, image, HANDLERS["zip"])


@settings(max_examples=examples(250))
@given(data=st.data(), handler=st.sampled_from(sorted({h for names in HANDLERS.values() for h in names}
                                                      - {"extfs"})))
def test_any_reader_on_any_format(meta_seeds: dict[str, bytes], data: st.DataObject, handler: str) -> None:
    """Every reader (but debugfs') handed every other format, as a wrong guess of unblob's
    would hand it."""
    image = data.draw(mutants(meta_seeds, head=(0, 512)))
    with tempfile.TemporaryDirectory(prefix="fuzz-meta-") as tmp:
        path = Path(tmp) / "chunk"
        path.write_bytes(image)
        _check(run_bounded(lambda: read_metadata(handler, path, strict=True), (MetadataError,)))


def test_seeds_read_whole(meta_seeds: dict[str, bytes]) -> None:
    """The unmutated seeds read without a problem: the harnesses start from valid images."""
    readers = {"cpio": cpio.read, "cramfs": cramfs.read, "jffs2": jffs2.read, "ubifs": ubifs.read,
               "ext": extfs.read, "tar": tar.read, "zip": zip_meta.read}
    for name, image in meta_seeds.items():
        reader = readers[next(prefix for prefix in readers if name.startswith(prefix))]
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "chunk"
            path.write_bytes(image)
            found = reader(path)
            assert found and found["etc/passwd"].kind == "file", name
