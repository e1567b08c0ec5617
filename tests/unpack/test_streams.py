"""Compressed streams decoded in process: made by the real compressors, bounded like the rest."""

from __future__ import annotations

import random
import subprocess
import time
from pathlib import Path

import pytest
from conftest import need_tools

from firmproof.config import Limits
from firmproof.unpack import formats, streams
from firmproof.unpack.driver import Layer, Progress, Unpacking, find_chunks, unpack
from firmproof.unpack.extract import Idle

PAYLOAD = b"#!/bin/sh\n/usr/sbin/telnetd -l /bin/sh -p 2323 &\n" + bytes(range(256)) * 64

COMPRESSORS = {
    "gzip": ["gzip", "-9", "-n", "-c"],
    "xz": ["xz", "-c"],
    "lzma": ["xz", "--format=lzma", "-c"],
    "bzip2": ["bzip2", "-c"],
    "zstd": ["zstd", "-q", "-c"],
}


def compress(kind: str, data: bytes, out: Path) -> Path:
    need_tools(COMPRESSORS[kind][0])
    out.write_bytes(subprocess.run(COMPRESSORS[kind], input=data, capture_output=True, check=True).stdout)
    return out


@pytest.mark.parametrize("kind", sorted(COMPRESSORS))
def test_each_stream_is_decoded_to_unblobs_name(tmp_path: Path, kind: str):
    packed = compress(kind, PAYLOAD, tmp_path / "payload.bin")
    (chunk,) = find_chunks(packed)
    assert chunk.handler.NAME == kind and formats.of(kind).stream is not None
    outcome = streams.decompress(kind, packed, tmp_path / "out", byte_budget=1 << 30,
                                 deadline=time.monotonic() + 60)
    assert outcome.errors == [] and outcome.written == len(PAYLOAD)
    (out,) = (tmp_path / "out").iterdir()
    assert out.name == f"{kind}.uncompressed" and out.read_bytes() == PAYLOAD


def test_gzip_keeps_its_embedded_name_as_unblob_does(tmp_path: Path):
    need_tools("gzip")
    source = tmp_path / "rcS"
    source.write_bytes(PAYLOAD)
    subprocess.run(["gzip", "-9", str(source)], check=True)         # stores the name "rcS"
    outcome = streams.decompress("gzip", tmp_path / "rcS.gz", tmp_path / "out", byte_budget=1 << 30,
                                 deadline=time.monotonic() + 60)
    assert outcome.errors == [] and (tmp_path / "out/rcS").read_bytes() == PAYLOAD


def test_a_truncated_stream_keeps_what_was_decoded_and_says_so(tmp_path: Path):
    data = random.Random(7).randbytes(1 << 20)
    packed = compress("xz", data, tmp_path / "p.xz")
    cut = tmp_path / "cut.xz"
    cut.write_bytes(packed.read_bytes()[: packed.stat().st_size // 2])
    outcome = streams.decompress("xz", cut, tmp_path / "out", byte_budget=1 << 30,
                                 deadline=time.monotonic() + 60)
    assert len(outcome.errors) == 1 and "kept the" in outcome.errors[0]
    assert 0 < outcome.written < len(data)
    assert (tmp_path / "out/xz.uncompressed").read_bytes() == data[:outcome.written]


def test_a_gzip_bomb_stops_at_the_byte_budget(tmp_path: Path):
    need_tools("gzip")
    bomb = tmp_path / "bomb.gz"
    with bomb.open("wb") as out:      # 256 MiB of zeros through the real gzip, ~250 kB on disk
        proc = subprocess.Popen(["gzip", "-9", "-n", "-c"], stdin=subprocess.PIPE, stdout=out)
        assert proc.stdin is not None
        block = bytes(1 << 20)
        for _ in range(256):
            proc.stdin.write(block)
        proc.stdin.close()
        assert proc.wait() == 0
    limits = Limits(max_bytes=32 << 20, max_ratio=1)
    work = tmp_path / "work"
    work.mkdir()
    result = unpack(bomb, work, limits)
    assert any("byte limit" in e.error for e in result.errors)
    written = sum(p.stat().st_size for p in work.rglob("*") if p.is_file())
    assert written <= 64 << 20


def _layers(image: Path, work: Path) -> list[tuple[str, str, list[str]]]:
    work.mkdir()
    result = unpack(image, work, Limits())
    return [(layer.container[-1], layer.format, sorted(e.path for e in layer.index.tree.files()))
            for layer in result.layers]


@pytest.mark.parametrize("kind", ["gzip", "xz", "bzip2", "zstd"])
def test_a_file_that_is_one_stream_is_decoded_without_a_search(tmp_path: Path, kind: str,
                                                                monkeypatch: pytest.MonkeyPatch):
    packed = compress(kind, PAYLOAD, tmp_path / "payload.bin")
    (chunk,) = find_chunks(packed)                  # what unblob's search reports
    sniffed = streams.sniff(packed)
    assert sniffed is not None and sniffed.handler.NAME == chunk.handler.NAME
    assert (sniffed.start_offset, sniffed.end_offset) == (chunk.start_offset, chunk.end_offset)
    searched: list[Path] = []
    monkeypatch.setattr("firmproof.unpack.driver.find_chunks", lambda p: searched.append(p) or [])
    assert _layers(packed, tmp_path / "w") == [(f"{kind}@0x0", kind, [f"/{kind}.uncompressed"])]
    assert packed not in searched                    # the decoded payload may be, as any data


@pytest.mark.parametrize("tail", [b"TRAILER-NOT-A-STREAM" * 8, b""])
def test_a_stream_with_more_after_it_or_cut_short_goes_to_unblobs_search(tmp_path: Path, tail: bytes):
    packed = compress("gzip", random.Random(3).randbytes(1 << 16), tmp_path / "p.gz")
    odd = tmp_path / "odd.bin"
    data = packed.read_bytes()
    odd.write_bytes(data + tail if tail else data[: len(data) // 2])
    sniffed_then_searched = _layers(odd, tmp_path / "w")
    # the same layers as unblob's search alone gives, and no half-decoded leftovers
    expected = []
    for chunk in find_chunks(odd):
        expected.append(chunk.handler.NAME)
    assert [fmt for _, fmt, _ in sniffed_then_searched] == expected
    assert len(list((tmp_path / "w" / "x").iterdir())) == len(expected)


@pytest.mark.parametrize(("after", "expected"), [(0.0, [0]), (3600.0, [])])
def test_the_parent_works_while_an_extraction_child_does(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         after: float, expected: list[int]):
    """Unpacking yields IDLE once while a child extracts (the scan analyses small views then),
    and only when the child takes a while: a quick extraction is not held up."""
    from firmproof.testing.fixtures import pack
    from firmproof.unpack import extract

    tree = tmp_path / "root"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc/passwd").write_text("root:x:0:0::/root:/bin/sh\n")
    image = pack(tree, "squashfs-gzip", tmp_path / "fs.sqfs")
    monkeypatch.setattr(extract, "IDLE_AFTER", after)
    work = tmp_path / "work"
    work.mkdir()
    unpacking = Unpacking(image, work, Limits())
    events = list(unpacking)
    calls = [i for i, event in enumerate(e for e in events if isinstance(e, Idle))]
    assert calls == expected and [layer.format for layer in unpacking.result.layers] == ["squashfs_v4_le"]
    assert [type(e) for e in events if not isinstance(e, Idle)] == [Progress, Layer]


def test_a_small_stream_of_plain_content_is_a_layer_in_memory_like_on_disk(tmp_path: Path):
    """A gzip'd man page or script: decoded in memory, the same entry and bytes the disk
    path gives (mode and owner of a freshly written file), no folder made."""
    from firmproof.fs.index import index_tree

    need_tools("gzip")
    source = tmp_path / "rcS"
    script = PAYLOAD[:PAYLOAD.index(b"&\n") + 2]
    source.write_bytes(script)                        # a shell script: nothing to carve in it
    subprocess.run(["gzip", "-9", str(source)], check=True)
    packed = tmp_path / "rcS.gz"
    memory = streams.decode_small("gzip", packed, ("fw", "gzip@0x0"), limit=1 << 30)
    assert memory is not None
    on_disk = tmp_path / "disk"
    streams.decompress("gzip", packed, on_disk, byte_budget=1 << 30, deadline=time.monotonic() + 60)
    disk = index_tree(on_disk, None, ("fw", "gzip@0x0"))
    (mine,), (theirs,) = list(memory.tree.files()), list(disk.tree.files())
    for field in ("path", "report_path", "kind", "mode", "uid", "gid", "size", "ftype"):
        assert getattr(mine, field) == getattr(theirs, field), field
    assert memory.tree.read(mine.path) == disk.tree.read(theirs.path) == script
    assert mine.host is None and [v.label for v in memory.views] == [v.label for v in disk.views]


@pytest.mark.parametrize("what", ["archive", "big"])
def test_what_may_hold_more_or_is_big_is_decoded_to_disk(tmp_path: Path, what: str):
    need_tools("gzip", "tar")
    if what == "archive":            # a tar inside: the recursion must be able to carve it
        (tmp_path / "t").mkdir()
        (tmp_path / "t/passwd").write_text("root::0:0::/:/bin/sh\n")
        subprocess.run(["tar", "-C", str(tmp_path / "t"), "-cf", str(tmp_path / "p.tar"), "passwd"],
                       check=True)
        data = (tmp_path / "p.tar").read_bytes()
    else:                            # more than SMALL_OUTPUT once decoded
        data = b"man page text\n" * (streams.SMALL_OUTPUT // 10)
    packed = compress("gzip", data, tmp_path / "p.gz")
    assert streams.decode_small("gzip", packed, ("fw",), limit=1 << 30) is None
    work = tmp_path / "w"
    layers = _layers(packed, work)
    assert layers[0][1] == "gzip" and (work / "x" / "1").is_dir()
    if what == "archive":
        assert [fmt for _, fmt, _ in layers] == ["gzip", "tar"] and "/passwd" in layers[1][2]


def test_a_small_stream_over_the_byte_budget_goes_the_bounded_way(tmp_path: Path):
    packed = compress("gzip", b"#!/bin/sh\n" + b"echo x\n" * 20000, tmp_path / "p.gz")
    assert streams.decode_small("gzip", packed, ("fw",), limit=1000) is None


def test_with_keep_every_layer_is_on_disk(tmp_path: Path):
    """`--keep` is for reading the unpacked files afterwards: no layer stays in memory."""
    need_tools("gzip")
    source = tmp_path / "rcS"
    source.write_bytes(b"#!/bin/sh\ntelnetd -l /bin/sh\n")
    subprocess.run(["gzip", "-9", str(source)], check=True)
    work = tmp_path / "work"
    work.mkdir()
    (layer,) = unpack(tmp_path / "rcS.gz", work, Limits(), keep=True).layers
    (entry,) = layer.index.tree.files()
    assert entry.host is not None and entry.host.read_bytes() == b"#!/bin/sh\ntelnetd -l /bin/sh\n"
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    (memory,) = unpack(tmp_path / "rcS.gz", fresh, Limits()).layers
    assert [e.host for e in memory.index.tree.files()] == [None]


@pytest.mark.parametrize(("cap", "in_memory"), [(1 << 20, 3), (3000, 1), (0, 0)])
def test_the_layers_kept_in_memory_are_bounded_all_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              cap: int, in_memory: int):
    """Many small streams cannot fill the memory: past the cap they are written out."""
    from firmproof.testing.fixtures import pack
    from firmproof.unpack import driver

    need_tools("gzip")
    tree = tmp_path / "root"
    tree.mkdir()
    rng = random.Random(5)
    for name in ("a", "b", "c"):        # ~2.1 kB scripts, ~1.1 kB gzip'd: big enough to be opened
        (tree / name).write_text("#!/bin/sh\n" + "".join(f"echo {rng.randbytes(16).hex()}\n"
                                                          for _ in range(55)))
        subprocess.run(["gzip", "-9", "-n", str(tree / name)], check=True)
    image = pack(tree, "tar", tmp_path / "fw.tar")
    monkeypatch.setattr(driver, "MEMORY_LAYERS_BYTES", cap)
    work = tmp_path / "w"
    work.mkdir()
    layers = [layer for layer in unpack(image, work, Limits()).layers if layer.format == "gzip"]
    hosts = [e.host for layer in layers for e in layer.index.tree.files()]
    assert len(hosts) == 3 and sum(host is None for host in hosts) == in_memory
