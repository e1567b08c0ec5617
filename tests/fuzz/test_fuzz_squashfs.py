"""Fuzzing firmproof's own SquashFS reader: the superblock parser, the metadata walk and the
whole extraction, on mutants of images mksquashfs builds here (every compressor, one with
nothing compressed so that edits reach the inode and directory parsers) and of the corpus'
real images (2.0 big-endian, vendor LZMA 4.0, xz).

Documented outcome: a result, or SquashFSError (a ValueError). Extraction writes nothing
outside its output folder and no more file data than max_bytes.
"""

from __future__ import annotations

import os
import struct
import tempfile
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from firmproof.unpack.squashfs import ExtractResult, SquashFSError, extract, read_metadata
from firmproof.unpack.squashfs.superblock import parse_superblock

from .harness import examples, mutants, run_bounded

MAX_BYTES = 256 * 1024


def _tables(image: bytes) -> list[tuple[int, int]]:
    """Where a seed keeps its inode, directory, fragment and id tables (from its superblock)."""
    try:
        sb = parse_superblock(image[:4096])
    except SquashFSError:
        return []
    return [(min(sb.inode_table, len(image)), len(image))]


def _extract(image: bytes, *, max_bytes: int = MAX_BYTES, workers: int = 1) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-sqfs-") as tmp:
        work = Path(tmp)
        path = work / "image.sqfs"
        path.write_bytes(image)
        out = work / "out"
        result = run_bounded(lambda: extract(path, out, max_bytes=max_bytes, workers=workers),
                             (SquashFSError,))
        assert sorted(os.listdir(work)) in (["image.sqfs"], ["image.sqfs", "out"])
        if isinstance(result, ExtractResult):
            written = 0
            for root, _dirs, files in os.walk(out):
                for name in files:
                    st_ = os.lstat(os.path.join(root, name))
                    written += st_.st_blocks * 512
            assert result.written <= max_bytes
            assert written <= max_bytes + 64 * 4096     # file system blocks round each file up


def _metadata(image: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-sqfs-") as tmp:
        path = Path(tmp) / "image.sqfs"
        path.write_bytes(image)
        run_bounded(lambda: read_metadata(path), (SquashFSError,))


@settings(max_examples=examples(750))
@given(data=st.data())
def test_superblock(squashfs_seeds: dict[str, bytes], corpus_squashfs_seeds: dict[str, bytes],
                    data: st.DataObject) -> None:
    heads = {name: image[:256] for name, image in {**squashfs_seeds, **corpus_squashfs_seeds}.items()}
    head = data.draw(mutants(heads, head=(4, 128)))
    run_bounded(lambda: parse_superblock(head), (SquashFSError,))


@settings(max_examples=examples(500))
@given(data=st.data())
def test_read_metadata_of_built_images(squashfs_seeds: dict[str, bytes], data: st.DataObject) -> None:
    _metadata(data.draw(mutants(squashfs_seeds, head=(4, 96), windows=_tables)))


@settings(max_examples=examples(380))
@given(data=st.data())
def test_extract_built_images(squashfs_seeds: dict[str, bytes], data: st.DataObject) -> None:
    image = data.draw(mutants(squashfs_seeds, head=(4, 96), windows=_tables))
    _extract(image, workers=data.draw(st.sampled_from((1, 2))))


@settings(max_examples=examples(150))
@given(data=st.data())
def test_read_metadata_of_corpus_images(corpus_squashfs_seeds: dict[str, bytes], data: st.DataObject) -> None:
    if not corpus_squashfs_seeds:
        return                                  # the shared corpus is absent
    _metadata(data.draw(mutants(corpus_squashfs_seeds, head=(4, 96), windows=_tables)))


@settings(max_examples=examples(30))
@given(data=st.data())
def test_extract_corpus_images(corpus_squashfs_seeds: dict[str, bytes], data: st.DataObject) -> None:
    if not corpus_squashfs_seeds:
        return
    _extract(data.draw(mutants(corpus_squashfs_seeds, head=(4, 96), windows=_tables)), max_bytes=32 * 1024)


@pytest.mark.parametrize("cut", [0, 4, 30, 31, 32, 95])
def test_truncated_superblocks(squashfs_seeds: dict[str, bytes], cut: int) -> None:
    for image in squashfs_seeds.values():
        with pytest.raises(SquashFSError):
            parse_superblock(image[:cut])


def test_seeds_extract_whole(squashfs_seeds: dict[str, bytes]) -> None:
    """The unmutated seeds read without a problem: the harnesses start from valid images."""
    for name, image in squashfs_seeds.items():
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "image.sqfs"
            path.write_bytes(image)
            result = extract(path, Path(tmp) / "out")
            assert result.errors == [], name
            assert (Path(tmp) / "out" / "etc" / "passwd").read_bytes().startswith(b"root:"), name
            assert struct.unpack_from("<H", image, 28)[0] == 4
