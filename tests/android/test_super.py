"""Dynamic partitions: `super.img` built by AOSP's own lpmake, each logical partition a root.

The partition images are made with the real tools (mkfs.ext4 -d for system, mkfs.erofs for
vendor) and laid into a super image by lpmake (built by `make setup` from Debian's liblp
sources), raw and Android-sparse, with the empty `_b` partitions of an A/B device. AOSP's
lpunpack is the reference the extraction is compared with. Damaged and hostile images are
real lpmake output changed afterwards: truncated, a primary copy broken, or their tables
rewritten through liblp's structures with the checksums recomputed, as an attacker would.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable
from ctypes import sizeof
from pathlib import Path

import pytest
from conftest import aosp_tool, firmproof, need_tools, scan_report
from liblp.include.metadata_format import LpMetadataExtent, LpMetadataHeader, LpMetadataPartition

from firmproof.testing import fixtures
from firmproof.unpack.handlers.lpsuper import (
    RESERVED,
    SuperError,
    SuperExtractor,
    read_super,
)

from .test_image import ANDROID_RULES_IN_DEBUG_BUILD, AOSP_TIMESTAMP, android, phone_tree

MiB = 1 << 20
METADATA_SIZE = 65536
ROOT_SHELL_RC = "service rootsh /system/bin/sh\n    class main\n    user root\n"


def vendor_image(root: Path, out: Path, *, debug: bool) -> Path:
    """A vendor partition (EROFS, as recent devices ship it) with its own init scripts."""
    need_tools("mkfs.erofs")
    (root / "etc" / "init").mkdir(parents=True)
    (root / "build.prop").write_text("ro.vendor.build.type=user\nro.vendor.product.cpu.abilist=arm64-v8a\n")
    (root / "etc" / "init" / "vendor.rc").write_text(
        ROOT_SHELL_RC if debug else "service thermal /vendor/bin/thermald\n    class hal\n    user system\n")
    subprocess.run(["mkfs.erofs", "--quiet", f"-T{AOSP_TIMESTAMP}", str(out), str(root)], check=True)
    return out


def lpmake(out: Path, partitions: dict[str, Path | int], *, sparse: bool = False,
           device_size: int = 48 * MiB, extra: tuple[str, ...] = ()) -> Path:
    """A super image of an A/B device: each `_a` partition from its image (or empty, given a
    size of 0), its `_b` copy declared empty, all in the `main` group."""
    cmd = [aosp_tool("lpmake"), f"--device-size={device_size}", f"--metadata-size={METADATA_SIZE}",
           "--metadata-slots=2", f"--group=main:{device_size // 2}", f"--output={out}", *extra]
    for name, image in partitions.items():
        size = 0 if isinstance(image, int) else image.stat().st_size
        cmd.append(f"--partition={name}:readonly:{size}:main")
        if not isinstance(image, int):
            cmd.append(f"--image={name}={image}")
        if name.endswith("_a"):
            cmd.append(f"--partition={name[:-2]}_b:readonly:0:main")
    if sparse:
        cmd.append("--sparse")
    subprocess.run(cmd, check=True, capture_output=True)
    return out


def phone_super(tmp_path: Path, build_apk: Callable[..., Path], *, debug: bool, sparse: bool = False) -> Path:
    tree = phone_tree(tmp_path / "system-tree", build_apk, debug=debug)
    system = fixtures.pack(tree, "ext4", tmp_path / "system.img")
    vendor = vendor_image(tmp_path / "vendor-tree", tmp_path / "vendor.img", debug=debug)
    return lpmake(tmp_path / ("super.sparse.img" if sparse else "super.img"),
                  {"system_a": system, "vendor_a": vendor}, sparse=sparse)


@pytest.mark.parametrize("sparse", [False, True], ids=["raw", "sparse"])
def test_debug_phone_super_gives_each_finding(tmp_path: Path, build_apk: Callable[..., Path],
                                              sparse: bool) -> None:
    image = phone_super(tmp_path, build_apk, debug=True, sparse=sparse)
    report = scan_report(image, tmp_path)
    found = {f["rule"]: f for f in android(report)}
    assert ANDROID_RULES_IN_DEBUG_BUILD | {"FP-ANDROID-008"} <= set(found), sorted(found)
    adb = found["FP-ANDROID-004"]
    assert adb["path"] == "/system/build.prop" and adb["container"][-2:] == ["/system_a.img", "extfs@0x0"]
    rootsh = found["FP-ANDROID-008"]
    assert rootsh["path"] == "/etc/init/vendor.rc"
    assert rootsh["container"][-2:] == ["/vendor_a.img", "erofs@0x0"]
    assert rootsh["evidence"]["excerpt"] == "service rootsh /system/bin/sh"
    formats = [c["format"] for c in report["unpack"]["containers"]]
    assert "android_super" in formats and ("sparse" in formats) == sparse
    assert report["unpack"]["errors"] == [] and report["errors"] == []
    verify = firmproof("verify", tmp_path / "report.json", image)
    assert verify.returncode == 0, verify.stdout + verify.stderr


def test_production_phone_super_gives_none(tmp_path: Path, build_apk: Callable[..., Path]) -> None:
    report = scan_report(phone_super(tmp_path, build_apk, debug=False), tmp_path)
    assert android(report) == []
    assert "android_super" in [c["format"] for c in report["unpack"]["containers"]]
    assert report["unpack"]["errors"] == [] and report["errors"] == []


def _extract(image: Path, out: Path) -> list[str]:
    result = SuperExtractor().extract(image, out)
    return [str(r.exception) for r in result.reports]


def _two_partitions(tmp_path: Path, **kwargs: object) -> Path:
    tree = tmp_path / "tree"
    (tree / "etc").mkdir(parents=True)
    (tree / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    first = fixtures.pack(tree, "ext4", tmp_path / "system.img")
    second = vendor_image(tmp_path / "vendor-tree", tmp_path / "vendor.img", debug=False)
    return lpmake(tmp_path / "super.img", {"system_a": first, "vendor_a": second}, **kwargs)  # type: ignore[arg-type]


def test_extraction_matches_aosp_lpunpack(tmp_path: Path) -> None:
    """Every partition byte for byte as AOSP's lpunpack writes it; the empty `_b` copies of an
    A/B device are declared but hold nothing, and are not written."""
    image = _two_partitions(tmp_path)
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    theirs.mkdir()
    subprocess.run([aosp_tool("lpunpack"), str(image), str(theirs)], check=True, capture_output=True)
    assert _extract(image, ours) == []
    assert sorted(p.name for p in ours.iterdir()) == ["system_a.img", "vendor_a.img"]
    assert sorted(p.name for p in theirs.iterdir() if p.stat().st_size) == ["system_a.img", "vendor_a.img"]
    for name in ("system_a.img", "vendor_a.img"):
        assert (ours / name).read_bytes() == (theirs / name).read_bytes()
    assert (ours / "system_a.img").read_bytes() == (tmp_path / "system.img").read_bytes()


def test_slot_suffixed_partitions_are_named_for_slot_a_once(tmp_path: Path) -> None:
    """--auto-slot-suffixing (retrofit super_empty/super.img): both slots name the same data."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "build.prop").write_text("ro.build.type=user\n")
    system = fixtures.pack(tree, "ext4", tmp_path / "system.img")
    image = lpmake(tmp_path / "super.img", {"system": system}, extra=("--auto-slot-suffixing",))
    with image.open("rb") as handle:
        sup = read_super(handle, 0, image.stat().st_size)
    assert [p.name for p in sup.partitions] == ["system_a"]
    assert _extract(image, tmp_path / "out") == []
    assert (tmp_path / "out" / "system_a.img").read_bytes() == system.read_bytes()


def test_super_empty_is_a_layout_without_data(tmp_path: Path) -> None:
    """lpmake without images writes super_empty.img (geometry at 0, one metadata copy): the
    scan names the format, extracts nothing and reports nothing missing."""
    image = tmp_path / "super_empty.img"
    subprocess.run([aosp_tool("lpmake"), f"--device-size={48 * MiB}", f"--metadata-size={METADATA_SIZE}",
                    "--metadata-slots=2", f"--partition=system_a:readonly:{8 * MiB}",
                    f"--output={image}"], check=True, capture_output=True)
    report = scan_report(image, tmp_path)
    assert [c["format"] for c in report["unpack"]["containers"]] == ["android_super_empty"]
    assert report["unpack"]["errors"] == [] and report["findings"] == []


def test_retrofit_partition_on_another_device_is_reported(tmp_path: Path) -> None:
    """A retrofit super spans the old system_b partition too; the data lpmake puts there is in
    another file, so that partition is reported by name and the others are extracted."""
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "build.prop").write_text("ro.build.type=user\n")
    small = fixtures.pack(tree, "ext4", tmp_path / "small.img")
    outdir = tmp_path / "retrofit"
    outdir.mkdir()
    subprocess.run([aosp_tool("lpmake"), f"--metadata-size={METADATA_SIZE}", "--metadata-slots=2",
                    f"--device=super:{24 * MiB}", f"--device=system_b:{16 * MiB}",
                    f"--group=main:{40 * MiB}", f"--partition=product_a:readonly:{8 * MiB}:main",
                    f"--partition=system_a:readonly:{20 * MiB}:main", f"--image=product_a={small}",
                    f"--image=system_a={small}", f"--output={outdir}"], check=True, capture_output=True)
    problems = _extract(outdir / "super_super.img", tmp_path / "out")
    assert len(problems) == 1 and problems[0].startswith("partition system_a: data on block device 1")
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["product_a.img"]


def test_truncated_super_reports_the_partition_cut_off(tmp_path: Path) -> None:
    image = _two_partitions(tmp_path)
    with image.open("rb") as handle:
        sup = read_super(handle, 0, image.stat().st_size)
    system = next(p for p in sup.partitions if p.name == "system_a")
    cut = (system.extents[0].sector + 8) * 512      # 4 KiB into system_a's data
    truncated = tmp_path / "truncated.img"
    truncated.write_bytes(image.read_bytes()[:cut])
    problems = _extract(truncated, tmp_path / "out")
    assert problems[0] == (f"partition system_a: its data runs past the end of the image ({cut} bytes); "
                           "not extracted")
    assert [p.split(":")[0] for p in problems] == ["partition system_a", "partition vendor_a"]
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []
    proc = firmproof("scan", truncated, "-o", tmp_path / "r.json", "-q")
    assert proc.returncode == 3 and "Traceback" not in proc.stderr      # incomplete, not clean


def test_damaged_primary_copies_fall_back_to_the_backups(tmp_path: Path) -> None:
    """liblp's own reader raises on a bad primary geometry; AOSP's falls back, and so do we."""
    image = _two_partitions(tmp_path)
    data = bytearray(image.read_bytes())
    data[RESERVED + 8] ^= 0xFF                                   # primary geometry checksum
    data[RESERVED + 2 * 4096 + 100] ^= 0xFF                      # slot 0's primary metadata
    damaged = tmp_path / "damaged.img"
    damaged.write_bytes(bytes(data))
    assert _extract(damaged, tmp_path / "out") == []
    assert (tmp_path / "out" / "system_a.img").read_bytes() == (tmp_path / "system.img").read_bytes()
    data[RESERVED + 4096 + 8] ^= 0xFF                            # and the backup geometry
    broken = tmp_path / "broken.img"
    broken.write_bytes(bytes(data))
    with broken.open("rb") as handle, pytest.raises(SuperError, match="no valid liblp geometry"):
        read_super(handle, 0, len(data))
    # no super any more, but the file systems inside are still found by their own signatures
    report = scan_report(broken, tmp_path)
    formats = [c["format"] for c in report["unpack"]["containers"]]
    assert "android_super" not in formats and "extfs" in formats


# -- hostile metadata: tables rewritten and re-checksummed, as a forger would --------------

Edit = Callable[[bytearray, LpMetadataHeader], None]


def _rewrite_tables(image: Path, edit: Edit) -> None:
    """Apply `edit` to the tables of every metadata copy and recompute both SHA-256 sums."""
    image.write_bytes(_retabled(image.read_bytes(), edit))


def _retabled(image: bytes, edit: Edit) -> bytes:
    data = bytearray(image)
    first = RESERVED + 2 * 4096
    for copy in range(4):                                        # 2 slots, primary and backup
        at = first + copy * METADATA_SIZE
        header = LpMetadataHeader.from_buffer_copy(bytes(data[at:at + sizeof(LpMetadataHeader)]))
        size = header.header_size
        tables = bytearray(data[at + size:at + size + header.tables_size])
        edit(tables, header)
        header.tables_checksum[:] = hashlib.sha256(tables).digest()
        header.header_checksum[:] = bytes(32)
        raw = bytearray(bytes(header)[:size])
        header.header_checksum[:] = hashlib.sha256(raw).digest()
        data[at:at + size] = bytes(header)[:size]
        data[at + size:at + size + len(tables)] = tables
    return bytes(data)


def _edit_extent(index: int, **fields: int) -> Edit:
    def edit(tables: bytearray, header: LpMetadataHeader) -> None:
        at = header.extents.offset + index * header.extents.entry_size
        extent = LpMetadataExtent.from_buffer_copy(bytes(tables[at:at + sizeof(LpMetadataExtent)]))
        for name, value in fields.items():
            setattr(extent, name, value)
        tables[at:at + sizeof(LpMetadataExtent)] = bytes(extent)
    return edit


def _rename(index: int, name: bytes) -> Edit:
    def edit(tables: bytearray, header: LpMetadataHeader) -> None:
        at = header.partitions.offset + index * header.partitions.entry_size
        part = LpMetadataPartition.from_buffer_copy(bytes(tables[at:at + sizeof(LpMetadataPartition)]))
        part.name = name
        tables[at:at + sizeof(LpMetadataPartition)] = bytes(part)
    return edit


@pytest.mark.parametrize(("edit", "problem"), [
    (_edit_extent(0, target_data=0), "extent at sector 0 lies outside the data area"),
    (_edit_extent(0, target_data=1 << 40), "lies outside the data area"),
    (_edit_extent(0, target_type=1, num_sectors=1 << 50), "more than the"),
    (_edit_extent(0, target_type=1, num_sectors=48 * MiB // 512 + 8), "of the 50331648-byte block devices"),
    (_edit_extent(0, target_type=7), "unknown extent type 7"),
    (_rename(0, b"../../etc/passwd"), "invalid partition name"),
], ids=["into-metadata", "past-device", "zero-exabytes", "zero-past-device", "unknown-type",
        "path-traversal"])
def test_hostile_tables_are_refused_by_name(tmp_path: Path, edit: Edit, problem: str) -> None:
    image = _two_partitions(tmp_path)
    _rewrite_tables(image, edit)
    out = tmp_path / "out"
    try:
        problems = _extract(image, out)
    except SuperError as exc:                                    # the whole slot refused
        problems = [str(exc)]
    assert any(problem in p for p in problems), problems
    written = sorted(p.name for p in out.iterdir()) if out.exists() else []
    assert "system_a.img" not in written and all(".." not in p for p in written)
    assert not (tmp_path.parent / "etc" / "passwd.img").exists()
    proc = firmproof("scan", image, "-o", tmp_path / "r.json", "-q", "--workdir", tmp_path / "work")
    # a refused slot may leave no super at all: its file systems are then found by their own
    # signatures and read whole (0); otherwise the refusal makes the scan incomplete (3)
    assert proc.returncode in (0, 2, 3) and "Traceback" not in proc.stderr


def _extent(tables: bytearray, header: LpMetadataHeader, index: int) -> LpMetadataExtent:
    at = header.extents.offset + index * header.extents.entry_size
    return LpMetadataExtent.from_buffer_copy(bytes(tables[at:at + sizeof(LpMetadataExtent)]))


def test_partitions_naming_the_same_data_are_extracted_once(tmp_path: Path) -> None:
    image = _two_partitions(tmp_path)

    def alias(tables: bytearray, header: LpMetadataHeader) -> None:
        system = _extent(tables, header, 0)
        _edit_extent(1, target_data=system.target_data, num_sectors=system.num_sectors)(tables, header)
    _rewrite_tables(image, alias)
    assert _extract(image, tmp_path / "out") == []
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["system_a.img"]


def test_overlapping_partitions_cost_no_more_than_the_image(tmp_path: Path) -> None:
    """Two partitions each spanning the whole data area, one a sector apart: the second would
    copy the same bytes again (a table of many such entries multiplies one image's cost)."""
    image = _two_partitions(tmp_path)
    with image.open("rb") as handle:
        sup = read_super(handle, 0, image.stat().st_size)
    data = (sup.device_size - sup.metadata_end) // 512

    def overlap(tables: bytearray, header: LpMetadataHeader) -> None:
        _edit_extent(0, target_data=sup.metadata_end // 512 + 8, num_sectors=data - 8)(tables, header)
        _edit_extent(1, target_data=sup.metadata_end // 512, num_sectors=data)(tables, header)
    _rewrite_tables(image, overlap)
    problems = _extract(image, tmp_path / "out")
    assert len(problems) == 1 and problems[0].startswith("partition vendor_a: declares"), problems
    assert "overlap other partitions'" in problems[0]
    assert [p.name for p in (tmp_path / "out").iterdir()] == ["system_a.img"]


def test_geometry_pattern_in_other_data_is_no_super(tmp_path: Path) -> None:
    """The geometry magic with a bad checksum (a file that merely contains it) is no chunk."""
    blob = tmp_path / "blob.bin"
    with blob.open("wb") as out:
        out.write(os.urandom(RESERVED))
        out.write(b"gDla4\0\0\0" + os.urandom(8192))
    proc = firmproof("scan", blob, "-o", tmp_path / "r.json", "-q")
    assert proc.returncode == 2 and "Traceback" not in proc.stderr


def test_checksums_hold_under_python_O(tmp_path: Path) -> None:
    """liblp checks the SHA-256 sums with `assert`; `python -O` drops those, ours stay."""
    image = _two_partitions(tmp_path)
    data = bytearray(image.read_bytes())
    for copy in range(4):                                        # every metadata copy's tables
        data[RESERVED + 2 * 4096 + copy * METADATA_SIZE + 300] ^= 0xFF
    image.write_bytes(bytes(data))
    script = ("import sys; from firmproof.unpack.handlers.lpsuper import read_super, SuperError\n"
              "try:\n    read_super(open(sys.argv[1], 'rb'), 0, 1 << 30)\n"
              "except SuperError as exc:\n    print(exc)\n")
    proc = subprocess.run([sys.executable, "-O", "-c", script, str(image)], capture_output=True, text=True)
    assert proc.stdout.startswith("no slot has readable metadata: metadata slot 0: checksum mismatch"), proc


def test_copy_falls_back_to_reads_where_the_kernel_cannot_copy(tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """copy_file_range fails across some file systems (EXDEV) and on old kernels (ENOSYS)."""
    import errno

    image = _two_partitions(tmp_path)

    def refuse(*_args: object) -> int:
        raise OSError(errno.EXDEV, "cross-device")
    monkeypatch.setattr(os, "copy_file_range", refuse)
    assert _extract(image, tmp_path / "out") == []
    assert (tmp_path / "out" / "system_a.img").read_bytes() == (tmp_path / "system.img").read_bytes()


def test_randomly_rewritten_tables_never_escape_or_multiply(tmp_path: Path) -> None:
    """300 forgeries of a small super (up to 12 random bytes of the tables changed, checksums
    recomputed, fixed seed): each is extracted or refused by name, writes only partition
    images into its own folder, and never more bytes than the image holds."""
    import random
    import shutil

    small = tmp_path / "small"
    (small / "etc").mkdir(parents=True)
    (small / "etc" / "hosts").write_text("127.0.0.1 localhost\n")
    need_tools("mkfs.erofs")
    parts = {}
    for name in ("system_a", "vendor_a"):
        parts[name] = tmp_path / f"{name}.erofs"
        subprocess.run(["mkfs.erofs", "--quiet", f"-T{AOSP_TIMESTAMP}", str(parts[name]), str(small)],
                       check=True)
    image = lpmake(tmp_path / "super.img", parts, device_size=8 * MiB)   # type: ignore[arg-type]
    base = image.read_bytes()
    rng = random.Random(20261129)
    outcomes = {"extracted": 0, "problems": 0, "refused": 0}
    for run in range(300):
        def scramble(tables: bytearray, _header: LpMetadataHeader) -> None:
            for _ in range(rng.randint(1, 12)):
                tables[rng.randrange(len(tables))] = rng.randrange(256)
        forged = tmp_path / "forged.img"
        forged.write_bytes(_retabled(base, scramble))
        out = tmp_path / "runs" / str(run)
        try:
            problems = _extract(forged, out)
        except SuperError:
            outcomes["refused"] += 1
            continue
        outcomes["problems" if problems else "extracted"] += 1
        written = list(out.rglob("*")) if out.exists() else []
        assert all(p.parent == out and p.suffix == ".img" for p in written), written
        assert sum(p.stat().st_size for p in written if p.is_file()) <= 8 * MiB    # the device
        shutil.rmtree(out, ignore_errors=True)
    assert not (tmp_path / "runs").exists() or all(p.parent == tmp_path / "runs"
                                                    for p in (tmp_path / "runs").iterdir())
    assert outcomes["refused"] and (outcomes["extracted"] or outcomes["problems"]), outcomes
