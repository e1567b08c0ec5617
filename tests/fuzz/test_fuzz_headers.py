"""Fuzzing the vendor containers firmproof's own unblob handlers read: uImage (parse_header,
payload_parts, the handler and its extractor), Android boot and vendor_boot images, super.img
(liblp geometry and metadata, read_super / read_empty / read_geometry and the extractor), A/B
OTA payloads (read_payload and the extractor), the truncated-container handlers' `declared`,
and unblob's Android sparse handler (the sparse chunk walk runs in the scan's process).

Seeds: mkimage, mkbootimg, lpmake and img2simg output, a full payload.bin written the way
delta_generator writes it, and the uImage headers of the real corpus images. Where a format
checks a checksum first (uImage header CRC, liblp SHA-256s), half the mutants have it
recomputed so that the edits reach the parse behind it.

Documented outcomes: the format's own error (InvalidInputFormat, SuperError, PayloadError,
TruncatedContainer) from parsers and extractors; from a handler's calculate_chunk what
unblob's finder expects (InvalidInputFormat, EOFError, SeekError) or a chunk inside the file.
Extractors write no more than the byte budget they are given.
"""

from __future__ import annotations

import hashlib
import io
import os
import struct
import tempfile
import zlib
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any
from unittest import mock

from hypothesis import given, settings
from hypothesis import strategies as st
from unblob.file_utils import File, InvalidInputFormat, SeekError
from unblob.handlers.filesystem.android.sparse import SparseHandler
from unblob.models import Extractor, Handler, ValidChunk

from firmproof.unpack.handlers import androidboot, lpsuper, payload, truncated, uimage
from firmproof.unpack.handlers.truncated import TruncatedContainer

from .harness import examples, mutants, run_bounded

FINDER_ERRORS = (InvalidInputFormat, EOFError, SeekError)
BUDGET = 16 << 20


# -- checksum repairs ------------------------------------------------------------------------


def fix_uimage_crc(data: bytearray) -> None:
    """Recompute the header CRC of a uImage header at the start."""
    if len(data) >= uimage.HEADER.size:
        data[4:8] = b"\0\0\0\0"
        data[4:8] = struct.pack(">I", zlib.crc32(bytes(data[:uimage.HEADER.size])))


def fix_liblp_checksums(data: bytearray) -> None:
    """Recompute the SHA-256 of every liblp geometry and metadata header (and its tables)."""
    at = data.find(b"gDla")
    while at >= 0:
        if at + lpsuper.GEOMETRY_STRUCT <= len(data):
            data[at + 8:at + 40] = bytes(32)
            data[at + 8:at + 40] = hashlib.sha256(bytes(data[at:at + lpsuper.GEOMETRY_STRUCT])).digest()
        at = data.find(b"gDla", at + 1)
    at = data.find(b"0PLA")
    while at >= 0:
        if at + 80 <= len(data):
            header_size, = struct.unpack_from("<I", data, at + 8)
            tables_size, = struct.unpack_from("<I", data, at + 44)
            if 80 <= header_size <= 256 and at + header_size + tables_size <= len(data):
                start = at + header_size
                data[at + 48:at + 80] = hashlib.sha256(bytes(data[start:start + tables_size])).digest()
                data[at + 12:at + 44] = bytes(32)
                data[at + 12:at + 44] = hashlib.sha256(bytes(data[at:at + header_size])).digest()
        at = data.find(b"0PLA", at + 1)


# -- running one parse --------------------------------------------------------------------------


def _chunk(handler: Handler, data: bytes, allowed: tuple[type[BaseException], ...] = FINDER_ERRORS) -> None:
    """handler.calculate_chunk at offset 0, as unblob's finder calls it."""
    if not data:
        return
    file = File.from_bytes(data)
    try:
        result = run_bounded(lambda: handler.calculate_chunk(file, 0), allowed)
    finally:
        file.close()
    if isinstance(result, ValidChunk):
        assert 0 <= result.start_offset < result.end_offset <= len(data), result


def _extract(extractor: Extractor, data: bytes, allowed: tuple[type[BaseException], ...]) -> Any:
    """The extractor on `data`, in a folder of its own, with a byte budget of BUDGET."""
    with tempfile.TemporaryDirectory(prefix="fuzz-hdr-") as tmp:
        work = Path(tmp)
        inpath, outdir = work / "input.bin", work / "out"
        inpath.write_bytes(data)
        with mock.patch.object(lpsuper, "budget_left", return_value=BUDGET), \
                mock.patch.object(payload, "budget_left", return_value=BUDGET):
            result = run_bounded(lambda: extractor.extract(inpath, outdir), allowed)
        used = sum(os.lstat(os.path.join(root, name)).st_blocks * 512
                   for root, _dirs, files in os.walk(outdir) for name in files)
        assert used <= BUDGET + len(data) + (1 << 20)
        assert sorted(os.listdir(work)) in (["input.bin"], ["input.bin", "out"])
        return result


def _io(data: bytes, call: Callable[[io.BytesIO], Any], allowed: tuple[type[BaseException], ...]) -> Any:
    return run_bounded(lambda: call(io.BytesIO(data)), allowed)


# -- uImage ------------------------------------------------------------------------------------


@settings(max_examples=examples(750))
@given(data=st.data())
def test_uimage_header(uimage_seeds: dict[str, bytes], data: st.DataObject) -> None:
    image = data.draw(mutants(uimage_seeds, head=(4, 64), fix=fix_uimage_crc))
    header = run_bounded(lambda: uimage.parse_header(image[:uimage.HEADER.size]), (InvalidInputFormat,))
    if isinstance(header, tuple):
        size, _dcrc, itype, _name = header
        body = image[uimage.HEADER.size:uimage.HEADER.size + size]
        parts = run_bounded(lambda: uimage.payload_parts(body, itype), ())
        assert isinstance(parts, list)
        for _name, offset, length in parts:
            assert 0 <= offset and offset + length <= len(body)
    _chunk(uimage.UImageHandler(), image)
    _chunk(truncated.TruncatedUImageHandler(), image)


@settings(max_examples=examples(250))
@given(data=st.data())
def test_uimage_extractor(uimage_seeds: dict[str, bytes], data: st.DataObject) -> None:
    image = data.draw(mutants(uimage_seeds, head=(4, 64 + 64), fix=fix_uimage_crc))
    _extract(uimage.UImageExtractor(), image, (InvalidInputFormat,))


@settings(max_examples=examples(500))
@given(data=st.data(), itype=st.sampled_from((uimage.MULTI, 2, 7)))
def test_uimage_payload_parts(data: st.DataObject, itype: int) -> None:
    body = data.draw(st.binary(max_size=600))
    parts = run_bounded(lambda: uimage.payload_parts(body, itype), ())
    assert isinstance(parts, list) and len(parts) <= uimage.MAX_PARTS
    for _name, offset, length in parts:
        assert 0 <= offset and offset + length <= len(body)


# -- Android boot images -------------------------------------------------------------------------


@settings(max_examples=examples(750))
@given(data=st.data())
def test_boot_header(boot_seeds: dict[str, bytes], data: st.DataObject) -> None:
    image = data.draw(mutants(boot_seeds, head=(8, 2200)))
    layout = run_bounded(lambda: androidboot.parse_boot(image[:8192]), (InvalidInputFormat,))
    if isinstance(layout, androidboot.BootLayout):
        for _name, offset, size in layout.sections:
            assert offset >= 0 and size > 0
        assert layout.end >= layout.page
    _chunk(androidboot.AndroidBootHandler(), image)


@settings(max_examples=examples(250))
@given(data=st.data())
def test_boot_extractor(boot_seeds: dict[str, bytes], data: st.DataObject) -> None:
    image = data.draw(mutants(boot_seeds, head=(8, 2200)))
    _extract(androidboot.AndroidBootExtractor(), image, (InvalidInputFormat,))


# -- Android sparse images (unblob's handler) -----------------------------------------------------


@settings(max_examples=examples(500))
@given(data=st.data())
def test_sparse_chunk_walk(sparse_seeds: dict[str, bytes], data: st.DataObject) -> None:
    image = data.draw(mutants(sparse_seeds, head=(4, 256)))
    _chunk(SparseHandler(), image)


# -- super.img (liblp) --------------------------------------------------------------------------


def _super_windows(image: bytes) -> list[tuple[int, int]]:
    return [(lpsuper.RESERVED, lpsuper.RESERVED + 4 * 4096)] if len(image) > 8192 else []


@settings(max_examples=examples(620))
@given(data=st.data())
def test_super_metadata(super_seeds: dict[str, bytes], data: st.DataObject) -> None:
    image = data.draw(mutants(super_seeds, head=(0, 4096 + 512), windows=_super_windows,
                              fix=fix_liblp_checksums))
    _io(image, lambda h: lpsuper.read_super(h, 0, len(image)), (lpsuper.SuperError,))
    _io(image, lambda h: lpsuper.read_empty(h, 0), (lpsuper.SuperError,))
    _io(image, lambda h: lpsuper.read_geometry(h, lpsuper.RESERVED), (lpsuper.SuperError,))
    _chunk(lpsuper.SuperHandler(), image)
    _chunk(lpsuper.SuperEmptyHandler(), image)


@settings(max_examples=examples(250))
@given(data=st.data())
def test_super_extractor(super_seeds: dict[str, bytes], data: st.DataObject) -> None:
    image = data.draw(mutants(super_seeds, head=(0, 4096 + 512), windows=_super_windows,
                              fix=fix_liblp_checksums))
    _extract(lpsuper.SuperExtractor(), image, (lpsuper.SuperError,))


# -- A/B OTA payloads ------------------------------------------------------------------------------


@settings(max_examples=examples(620))
@given(data=st.data())
def test_payload_manifest(payload_seeds: dict[str, bytes], data: st.DataObject) -> None:
    image = data.draw(mutants(payload_seeds, head=(4, 1024)))
    _io(image, lambda h: payload.read_payload(h, 0, len(image)), (payload.PayloadError,))
    _chunk(payload.PayloadHandler(), image)


@settings(max_examples=examples(250))
@given(data=st.data())
def test_payload_extractor(payload_seeds: dict[str, bytes], data: st.DataObject) -> None:
    image = data.draw(mutants(payload_seeds, head=(4, 1024)))
    _extract(payload.PayloadExtractor(), image, (payload.PayloadError,))


# -- truncated containers --------------------------------------------------------------------------


@settings(max_examples=examples(750))
@given(data=st.data())
def test_truncated_declared(squashfs_seeds: dict[str, bytes], uimage_seeds: dict[str, bytes],
                            meta_seeds: dict[str, bytes], data: st.DataObject) -> None:
    from firmproof.unpack.handlers.truncated import HANDLERS

    heads = {f"{kind}:{name}": image[:truncated.HEAD] for kind, found in
             (("sqfs", squashfs_seeds), ("uimage", uimage_seeds),
              ("meta", {k: v for k, v in meta_seeds.items() if k.startswith(("cramfs", "ext"))}))
             for name, image in found.items()}
    head = data.draw(mutants(heads, head=(0, 1400)))
    for handler in HANDLERS:
        declared = run_bounded(partial(handler.declared, head), (InvalidInputFormat,))
        if isinstance(declared, tuple):
            assert declared[0] >= 0
            _extract(handler.EXTRACTOR, head, (TruncatedContainer,))
        _chunk(handler(), head)
