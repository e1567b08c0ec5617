"""Pack a directory tree into a real image with the real tool.

Tests build their images here at test time, and so does the demo image builder: no
hand-made bytes posing as a format. Modes, owners and setuid/setgid bits of the tree are
kept (the tools run as root and none is given a squash-owners flag). Builds are
deterministic where the tool allows: time stamps are pinned to SOURCE_DATE_EPOCH (or
`DEFAULT_EPOCH`) for SquashFS, JFFS2, tar, zip, the ext superblock and uImage headers;
cpio, ext and UBIFS keep the tree's own file times, and mkfs.ubifs picks a random UUID.
"""

from __future__ import annotations

import os
import shutil
import stat
import struct
import subprocess
import tempfile
import time
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from firmproof.host.tools import missing_message, which

DEFAULT_EPOCH = 1_700_000_000          # 2023-11-14, any fixed time after 1980 (zip's epoch)
EXT_UUID = "6669726d-7072-6f6f-6600-000000000001"
UBI_IMAGE_SEQ = 0x1A2B3C4D
UBI_PEB = 128 * 1024
UBI_MIN_IO = 2048
UBIFS_LEB = UBI_PEB - 2 * UBI_MIN_IO   # EC and VID headers each take one min I/O unit
ZIP_UNIX = 3                           # create_system of an archive made on Unix
ZIP_EXTRA_UNIX_IDS = 0x7875            # Info-ZIP "ux" extra field: uid and gid

SQUASHFS_COMPRESSORS = {"squashfs-gzip": "gzip", "squashfs-xz": "xz", "squashfs-lzo": "lzo",
                        "squashfs-zstd": "zstd"}
CPIO_FORMATS = {"cpio-newc": "newc", "cpio-newc-gz": "newc", "cpio-crc": "crc",
                "cpio-odc": "odc", "cpio-bin": "bin"}
FORMATS = (*SQUASHFS_COMPRESSORS, "cramfs", "cramfs-be", "jffs2", "jffs2-be", "ubi", "ubifs",
           *CPIO_FORMATS, "ext2", "ext4", "tar", "tar-gz", "zip")


class PackError(RuntimeError):
    """A packing tool is missing or failed."""


def epoch() -> int:
    """The time stamp builds are pinned to."""
    try:
        return int(os.environ.get("SOURCE_DATE_EPOCH", DEFAULT_EPOCH))
    except ValueError:
        return DEFAULT_EPOCH


def tool(name: str) -> str:
    """Full path of a packing tool, or PackError naming the Debian package to install."""
    found = which(name)
    if found is None:
        raise PackError(missing_message([name]))
    return found


def _run(cmd: list[str], *, stdin: bytes | None = None, cwd: Path | None = None,
         env: Mapping[str, str] | None = None, epoch_env: bool = True) -> bytes:
    full = [tool(cmd[0]), *cmd[1:]]
    run_env = {**os.environ, "SOURCE_DATE_EPOCH": str(epoch()), **(env or {})}
    if not epoch_env:
        run_env.pop("SOURCE_DATE_EPOCH")
    proc = subprocess.run(full, input=stdin, capture_output=True, cwd=cwd, env=run_env,
                          check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()[-400:]
        raise PackError(f"{' '.join(cmd)} failed (exit {proc.returncode}): {err}")
    return proc.stdout


def entries(tree: Path) -> Iterator[str]:
    """Paths below `tree`, relative, sorted so that a folder comes before its contents."""
    stack = [""]
    while stack:
        rel_dir = stack.pop()
        with os.scandir(tree / rel_dir if rel_dir else tree) as it:
            names = sorted(e.name for e in it)
        below: list[str] = []
        for name in names:
            rel = f"{rel_dir}/{name}" if rel_dir else name
            yield rel
            if stat.S_ISDIR((tree / rel).lstat().st_mode):
                below.append(rel)
        stack.extend(reversed(below))


def pack(tree: Path, fmt: str, out: Path) -> Path:
    """Pack the directory `tree` as `fmt` (one of FORMATS) into `out`."""
    if not tree.is_dir():
        raise PackError(f"not a directory: {tree}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.exists():
        out.unlink()
    if fmt in SQUASHFS_COMPRESSORS:
        _squashfs(tree, SQUASHFS_COMPRESSORS[fmt], out)
    elif fmt in ("cramfs", "cramfs-be"):
        _run(["mkfs.cramfs", "-N", "big" if fmt.endswith("-be") else "little", str(tree), str(out)])
    elif fmt in ("jffs2", "jffs2-be"):
        _run(["mkfs.jffs2", "-r", str(tree), "-o", str(out), "-e", "128KiB", "-f",
              "-b" if fmt.endswith("-be") else "-l"])
    elif fmt == "ubifs":
        _ubifs(tree, out)
    elif fmt == "ubi":
        _ubi(tree, out)
    elif fmt in CPIO_FORMATS:
        _cpio(tree, CPIO_FORMATS[fmt], out, gz=fmt.endswith("-gz"))
    elif fmt in ("ext2", "ext4"):
        _ext(tree, fmt, out)
    elif fmt in ("tar", "tar-gz"):
        _tar(tree, out, gz=fmt.endswith("-gz"))
    elif fmt == "zip":
        _zip(tree, out)
    else:
        raise PackError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    return out


def _squashfs(tree: Path, comp: str, out: Path) -> None:
    stamp = str(epoch())
    _run(["mksquashfs", str(tree), str(out), "-noappend", "-comp", comp, "-all-time", stamp,
          "-mkfs-time", stamp, "-no-progress", "-quiet"], epoch_env=False)  # it refuses both


def _tree_bytes(tree: Path) -> tuple[int, int]:
    """(bytes the tree takes in 4 KiB blocks, number of entries)."""
    total, count = 0, 0
    for rel in entries(tree):
        st = (tree / rel).lstat()
        count += 1
        total += -(-max(st.st_size, 1) // 4096) * 4096
    return total, count


def _ubifs(tree: Path, out: Path) -> None:
    size, count = _tree_bytes(tree)
    lebs = (size + count * 512) // UBIFS_LEB * 2 + 64
    _run(["mkfs.ubifs", "-r", str(tree), "-m", str(UBI_MIN_IO), "-e", str(UBIFS_LEB),
          "-c", str(lebs), "-o", str(out)])


def _ubi(tree: Path, out: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="firmproof-ubi-") as tmp:
        volume = Path(tmp) / "rootfs.ubifs"
        _ubifs(tree, volume)
        ini = Path(tmp) / "ubinize.ini"
        ini.write_text("[rootfs]\nmode=ubi\n"
                       f"image={volume}\n"
                       "vol_id=0\nvol_type=dynamic\nvol_name=rootfs\nvol_flags=autoresize\n")
        _run(["ubinize", "-o", str(out), "-p", str(UBI_PEB), "-m", str(UBI_MIN_IO),
              "-Q", str(UBI_IMAGE_SEQ), str(ini)])


def _cpio(tree: Path, fmt: str, out: Path, *, gz: bool) -> None:
    names = b"".join(os.fsencode(rel) + b"\0" for rel in entries(tree))
    archive = _run(["cpio", "-o", "-H", fmt, "--null", "--reproducible", "--quiet"],
                   stdin=names, cwd=tree)
    if gz:
        archive = _run(["gzip", "-n", "-9", "-c"], stdin=archive)
    out.write_bytes(archive)


def _ext(tree: Path, fmt: str, out: Path) -> None:
    size, count = _tree_bytes(tree)
    inodes = count + 64
    # data + inode table + journal (ext4) + group metadata, with room to spare
    blocks = (size * 5 // 4 + inodes * 256) // 4096 + (1024 if fmt == "ext4" else 0) + 256
    blocks = max(blocks, 2048)
    with out.open("wb") as handle:
        handle.truncate(blocks * 4096)
    stamp = str(epoch())
    _run(["mke2fs", "-q", "-F", "-t", fmt, "-b", "4096", "-N", str(inodes), "-m", "0",
          "-U", EXT_UUID, "-E", f"hash_seed={EXT_UUID},root_owner=0:0", "-d", str(tree),
          str(out), str(blocks)],
         env={"E2FSPROGS_FAKE_TIME": stamp})


def _tar(tree: Path, out: Path, *, gz: bool) -> None:
    names = b"".join(os.fsencode(rel) + b"\0" for rel in entries(tree))
    archive = _run(["tar", "-c", "-f", "-", "-C", str(tree), "--format=gnu", "--numeric-owner",
                    f"--mtime=@{epoch()}", "--no-recursion", "--null", "-T", "-"], stdin=names)
    if gz:
        archive = _run(["gzip", "-n", "-9", "-c"], stdin=archive)
    out.write_bytes(archive)


def _zip_ids(uid: int, gid: int) -> bytes:
    """The Info-ZIP "ux" extra field (version 1, 4-byte uid and gid), as `zip` writes it."""
    body = struct.pack("<BBIBI", 1, 4, uid, 4, gid)
    return struct.pack("<HH", ZIP_EXTRA_UNIX_IDS, len(body)) + body


def _zip(tree: Path, out: Path) -> None:
    stamp = time.gmtime(max(epoch(), 315_532_800))[:6]
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for rel in entries(tree):
            path = tree / rel
            st = path.lstat()
            name = rel + "/" if stat.S_ISDIR(st.st_mode) else rel
            info = zipfile.ZipInfo(name, date_time=stamp)   # type: ignore[arg-type]
            info.create_system = ZIP_UNIX
            info.external_attr = (st.st_mode & 0xFFFF) << 16
            info.extra = _zip_ids(st.st_uid, st.st_gid)
            if stat.S_ISDIR(st.st_mode):
                info.external_attr |= 0x10               # MS-DOS directory flag
                archive.writestr(info, b"")
            elif stat.S_ISLNK(st.st_mode):
                archive.writestr(info, os.fsencode(path.readlink()))
            elif stat.S_ISREG(st.st_mode):
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, path.read_bytes())


def uimage(inner: Path, out: Path, *, name: str = "firmware", image_type: str = "filesystem") -> Path:
    """Wrap `inner` in a U-Boot legacy image header (MIPS, Linux, uncompressed)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _run(["mkimage", "-A", "mips", "-O", "linux", "-T", image_type, "-C", "none",
          "-a", "0", "-e", "0", "-n", name, "-d", str(inner), str(out)])
    return out


def concat(parts: list[tuple[int, Path]], out: Path, *, fill: int = 0xFF) -> Path:
    """Lay images at the given offsets, gaps filled with `fill` (erased flash reads 0xff)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    end = 0
    with out.open("wb") as dst:
        for offset, part in sorted(parts, key=lambda p: p[0]):
            if offset < end:
                raise PackError(f"{part.name} at 0x{offset:x} overlaps the part before it "
                                f"(which ends at 0x{end:x})")
            dst.write(bytes([fill]) * (offset - end))
            with part.open("rb") as src:
                shutil.copyfileobj(src, dst)
            end = dst.tell()
    return out



def grown_report(report: dict[str, Any], image: Path, count: int, work: Path) -> dict[str, Any]:
    """`report` of `image` with `count` findings, each a real finding moved to another place of
    its own file (with the excerpt and id those bytes give): all of them hold, no two alike. For
    the tests and the benchmark of verify on large reports; `work` is unpacked into, then removed."""
    import copy
    import json

    from firmproof.config import Limits
    from firmproof.evidence.verify import Places
    from firmproof.model import excerpt_at, finding_id
    from firmproof.unpack.driver import unpack

    try:
        places = Places(unpack(image, work, Limits()).layers)
        sources = []
        for finding in report["findings"]:
            found = places.find(tuple(finding["container"]), finding["path"])
            data = found[0].read(found[1]) if found else None
            if data:
                sources.append((finding, data))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    findings = []
    for i in range(count):
        base, data = sources[i % len(sources)]
        offset = (i * 7919) % len(data)
        length = min(1 + (i * 31) % 64, len(data) - offset)
        finding = copy.deepcopy(base)
        finding["evidence"].update(offset=offset, length=length,
                                   excerpt=excerpt_at(data, offset, length))
        if len(json.dumps(finding["details"])) > 300:      # keep the report near 570 bytes a finding
            finding["details"] = {"copy": i}
        finding["id"] = finding_id(report["image"]["sha256"], finding["rule"], finding["container"],
                                   finding["path"], offset, length)
        findings.append(finding)
    return {**report, "findings": findings}
