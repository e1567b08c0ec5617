"""The image packers tests and the demo builder use."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from firmproof.host import tools
from firmproof.testing import fixtures
from firmproof.testing.fixtures import FORMATS, PackError, concat, pack, uimage

NOT_REPRODUCIBLE = {"ubi", "ubifs"}     # mkfs.ubifs draws a random UUID


@pytest.fixture(scope="module")
def tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tree") / "root"
    (root / "etc").mkdir(parents=True)
    (root / "bin").mkdir()
    (root / "etc/passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    shutil.copyfile(shutil.which("true") or "/bin/true", root / "bin/sush")
    if os.geteuid() == 0:
        os.chown(root / "bin/sush", 0, 42)
    os.chmod(root / "bin/sush", 0o6755)
    os.symlink("/bin/sush", root / "bin/sh")
    return root


@pytest.mark.parametrize("fmt", sorted(set(FORMATS) - NOT_REPRODUCIBLE))
def test_builds_are_reproducible(tree: Path, tmp_path: Path, fmt: str) -> None:
    first = pack(tree, fmt, tmp_path / "a" / f"image.{fmt}")
    second = pack(tree, fmt, tmp_path / "b" / f"image.{fmt}")
    assert first.stat().st_size > 0
    assert hashlib.sha256(first.read_bytes()).digest() == hashlib.sha256(second.read_bytes()).digest()


@pytest.mark.parametrize("fmt", [f for f in FORMATS if f.startswith("squashfs-")])
def test_squashfs_keeps_modes_and_owners(tree: Path, tmp_path: Path, fmt: str) -> None:
    image = pack(tree, fmt, tmp_path / f"image.{fmt}")
    listing = subprocess.run([fixtures.tool("unsquashfs"), "-lln", str(image)], check=True,
                             capture_output=True, text=True).stdout
    sush = next(line for line in listing.splitlines() if line.endswith("squashfs-root/bin/sush"))
    assert sush.startswith("-rwsr-sr-x")
    if os.geteuid() == 0:
        assert " 0/42 " in sush
    assert any(line.endswith("/bin/sh -> /bin/sush") for line in listing.splitlines())


def test_uimage_wraps_the_image(tree: Path, tmp_path: Path) -> None:
    inner = pack(tree, "squashfs-xz", tmp_path / "rootfs.sqfs")
    out = uimage(inner, tmp_path / "fw.uimg", name="router fw")
    assert out.read_bytes()[:4] == bytes.fromhex("27051956")
    assert out.read_bytes()[64:] == inner.read_bytes()
    listing = subprocess.run([fixtures.tool("mkimage"), "-l", str(out)], check=True,
                             capture_output=True, text=True).stdout
    assert "router fw" in listing
    assert "MIPS Linux Filesystem Image (uncompressed)" in listing


def test_concat_lays_parts_at_their_offsets(tmp_path: Path) -> None:
    head, body = tmp_path / "head", tmp_path / "body"
    head.write_bytes(b"HDR")
    body.write_bytes(b"BODY")
    out = concat([(0x10, body), (0, head)], tmp_path / "fw.bin")
    assert out.read_bytes() == b"HDR" + b"\xff" * 13 + b"BODY"
    with pytest.raises(PackError, match="overlaps"):
        concat([(0, body), (2, head)], tmp_path / "bad.bin")


def test_missing_tool_is_named(tree: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(tools, "SYSTEM_PATH", ())
    with pytest.raises(PackError, match=r"mkfs\.cramfs is missing: install the Debian package util-linux"):
        pack(tree, "cramfs", tmp_path / "image.cramfs")


def test_unknown_format(tree: Path, tmp_path: Path) -> None:
    with pytest.raises(PackError, match="unknown format 'yaffs'"):
        pack(tree, "yaffs", tmp_path / "image")
