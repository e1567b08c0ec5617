"""Small plain zips are extracted in process, to the tree 7-Zip writes; every other zip still
goes to the extraction child (firmproof.unpack.zips)."""

from __future__ import annotations

import os
import subprocess
import time
import zipfile
from pathlib import Path

import pytest
from conftest import need_tools

from firmproof.unpack import zips
from firmproof.unpack.driver import find_chunks
from firmproof.unpack.extract import extract_chunk, finish

FAR = 10 ** 9      # a deadline nothing reaches


def _tree(root: Path) -> dict[str, bytes | None]:
    """path -> content (None for a folder) of everything below `root`."""
    out: dict[str, bytes | None] = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs:
            out[os.path.relpath(os.path.join(folder, name), root)] = None
        for name in files:
            out[os.path.relpath(os.path.join(folder, name), root)] = Path(folder, name).read_bytes()
    return out


def _src(tmp_path: Path, files: dict[str, bytes]) -> Path:
    src = tmp_path / "src"
    for rel, data in files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    return src


def _zip(tmp_path: Path, *args: str, files: dict[str, bytes] | None = None) -> Path:
    """A zip written by Info-ZIP's `zip` from the tree `src` (made of `files` first, if given)."""
    need_tools("zip")
    src = _src(tmp_path, files) if files is not None else tmp_path / "src"
    out = tmp_path / "a.zip"
    subprocess.run(["zip", "-q", "-r", *args, str(out), "."], cwd=src, check=True)
    return out


FILES = {"etc/shadow": b"root:$1$abc$def:0:0:::::\n", "etc/init.d/rcS": b"#!/bin/sh\ntelnetd -l /bin/sh\n",
         "bin/big.bin": os.urandom(300_000), "www/index.html": b"<html>" + b"x" * 5000}


def test_a_plain_zip_is_extracted_in_process_to_the_tree_7zip_writes(tmp_path: Path):
    need_tools("7z")
    os.chmod(_src(tmp_path, FILES) / "etc" / "init.d" / "rcS", 0o4755)
    archive = _zip(tmp_path)
    ours = zips.extract(archive, tmp_path / "ours" / "tree", byte_budget=1 << 30, deadline=FAR)
    assert ours is not None and not ours.errors
    (chunk,) = find_chunks(archive)
    theirs = finish(extract_chunk(chunk, "zip", archive, tmp_path / "7z" / "tree", byte_budget=1 << 30,
                                  deadline=time.monotonic() + 120))
    assert not theirs.errors
    assert _tree(tmp_path / "ours" / "tree") == _tree(tmp_path / "7z" / "tree")
    assert ours.meta == theirs.meta                   # modes from the archive: the setuid bit
    assert ours.meta["etc/init.d/rcS"].mode & 0o4000
    assert ours.written >= sum(len(v) for v in FILES.values())


@pytest.mark.parametrize("case", ["symlink", "encrypted", "too big", "over the budget"])
def test_a_zip_that_is_not_plain_goes_to_the_child(tmp_path: Path, case: str):
    budget = 1 << 30
    if case == "symlink":
        (_src(tmp_path, FILES) / "bin" / "sh").symlink_to("busybox")
        archive = _zip(tmp_path, "-y")
        with zipfile.ZipFile(archive) as z:     # the link is stored as a link
            assert any((i.external_attr >> 16) & 0o170000 == 0o120000 for i in z.infolist())
    elif case == "encrypted":
        archive = _zip(tmp_path, "-P", "secret", files=FILES)
    elif case == "too big":
        archive = _zip(tmp_path, "-0", files={"blob": os.urandom(zips.MAX_CARVED + 1)})
    else:
        archive = _zip(tmp_path, files=FILES)
        budget = 100_000
    assert zips.extract(archive, tmp_path / "out" / "tree", byte_budget=budget, deadline=FAR) is None
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name", ["../evil", "/etc/passwd", "a/../../evil", "dir\\evil", "x" * 300])
def test_names_that_climb_or_are_foreign_go_to_the_child(tmp_path: Path, name: str):
    """Entry names written as stored (Python's zipfile writes them unchanged)."""
    archive = tmp_path / "names.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ok.txt", b"fine")
        info = zipfile.ZipInfo("placeholder")
        info.filename = name                  # ZipInfo would normalise it; the format does not
        z.writestr(info, b"escape")
    with zipfile.ZipFile(archive) as z:
        assert name in z.namelist()
    assert zips.extract(archive, tmp_path / "out" / "tree", byte_budget=1 << 30, deadline=FAR) is None
    assert not (tmp_path / "evil").exists() and not (tmp_path / "out").exists()


def test_a_damaged_member_is_named_and_the_others_extracted(tmp_path: Path):
    archive = _zip(tmp_path, files=FILES)
    with zipfile.ZipFile(archive) as z:
        info = z.getinfo("bin/big.bin")
        start = info.header_offset + 30 + len(info.filename) + len(info.extra)
    data = bytearray(archive.read_bytes())
    for at in range(start + 1000, start + 1100):
        data[at] ^= 0xFF
    archive.write_bytes(bytes(data))
    outcome = zips.extract(archive, tmp_path / "out" / "tree", byte_budget=1 << 30, deadline=FAR)
    assert outcome is not None
    assert len(outcome.errors) == 1 and "zip entry 'bin/big.bin'" in outcome.errors[0]
    assert "kept the" in outcome.errors[0]
    out = tmp_path / "out" / "tree"
    assert (out / "etc" / "shadow").read_bytes() == FILES["etc/shadow"]
    assert (out / "www" / "index.html").read_bytes() == FILES["www/index.html"]


def test_overlapping_entries_are_refused_in_process(tmp_path: Path):
    from test_bad_input import _overlapping_zip

    bomb = _overlapping_zip(tmp_path / "overlap.zip", 50, b"\0" * (1 << 20))
    outcome = zips.extract(bomb, tmp_path / "out" / "tree", byte_budget=1 << 30, deadline=FAR)
    assert outcome is not None
    assert outcome.errors and "a zip bomb; not extracted" in outcome.errors[0]
    assert not (tmp_path / "out" / "tree").exists()


def test_a_file_that_is_another_entrys_folder_in_other_case_goes_to_the_child(tmp_path: Path):
    """'Etc' a file and 'etc/passwd' below it: a case-folding host could not write both, so the
    archive is not plain (written once as a traceback from mkdir)."""
    archive = tmp_path / "case.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("Etc", b"file")
        z.writestr("etc/passwd", b"root::0:0::/:/bin/sh\n")
    assert zips.extract(archive, tmp_path / "out" / "tree", byte_budget=1 << 30, deadline=FAR) is None
