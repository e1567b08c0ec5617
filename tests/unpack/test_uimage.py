"""Our uImage handler on headers made by U-Boot's own mkimage."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest
from conftest import need_tools
from unblob.file_utils import InvalidInputFormat

from firmproof.unpack.driver import find_chunks
from firmproof.unpack.handlers.uimage import HEADER, UImageExtractor, parse_header


@pytest.fixture(autouse=True)
def _tools() -> None:
    need_tools("mkimage")


def mkimage(tmp_path: Path, *args: str) -> Path:
    out = tmp_path / "fw.uimage"
    subprocess.run(["mkimage", "-A", "arm", "-O", "linux", "-a", "0x8000", "-e", "0x8000", "-n", "test fw",
                    *args, str(out)], check=True, capture_output=True)
    return out


def test_single_payload_is_extracted_whole(tmp_path: Path):
    kernel = tmp_path / "zImage"
    kernel.write_bytes(gzip.compress(b"Linux version 5.10.0 (builder@host)\n" * 200, mtime=0))
    image = mkimage(tmp_path, "-T", "kernel", "-C", "gzip", "-d", str(kernel))
    size, _dcrc, itype, name = parse_header(image.read_bytes()[:HEADER.size])
    assert (size, itype, name) == (kernel.stat().st_size, 2, "test fw")
    chunks = [c for c in find_chunks(image) if c.handler.NAME == "uimage"]
    assert [(c.start_offset, c.end_offset) for c in chunks] == [(0, image.stat().st_size)]
    UImageExtractor().extract(image, tmp_path / "out")
    assert (tmp_path / "out/kernel").read_bytes() == kernel.read_bytes()


def test_multi_file_image_gives_each_part(tmp_path: Path):
    parts = []
    for index, size in enumerate((1001, 4096, 7)):
        part = tmp_path / f"part{index}"
        part.write_bytes(bytes([index + 65]) * size)
        parts.append(str(part))
    image = mkimage(tmp_path, "-T", "multi", "-C", "none", "-d", ":".join(parts))
    UImageExtractor().extract(image, tmp_path / "out")
    got = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert got == ["multi0", "multi1", "multi2"]
    for index, part in enumerate(parts):
        assert (tmp_path / f"out/multi{index}").read_bytes() == Path(part).read_bytes()


def test_a_header_with_a_bad_crc_or_short_data_is_not_a_uimage(tmp_path: Path):
    payload = tmp_path / "payload"
    payload.write_bytes(b"\x5a" * 3000)
    image = mkimage(tmp_path, "-T", "filesystem", "-C", "none", "-d", str(payload))
    raw = bytearray(image.read_bytes())
    flipped = bytearray(raw)
    flipped[40] ^= 1                                  # inside the header: its CRC no longer holds
    with pytest.raises(InvalidInputFormat):
        parse_header(bytes(flipped[:HEADER.size]))
    truncated = tmp_path / "truncated.bin"
    truncated.write_bytes(raw[:1000])                 # header intact, data cut short
    assert not [c for c in find_chunks(truncated) if c.handler.NAME == "uimage"]
