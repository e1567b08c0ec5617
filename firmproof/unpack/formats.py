"""Every container format firmproof unpacks, one entry each: the one place that says how.

An entry names the format's family (the label its layers carry in reports, `squashfs@0x0`)
and the unblob handlers that find it: their `PATTERNS` are its magic, their `calculate_chunk`
validates a candidate. Only the handlers named here search an image. The rest of the entry
says how a chunk of the format is unpacked:

- by default, the handler's extractor runs in the extraction child (extract.py) under the
  limits, and the format's `metadata` reader (meta/) then gives modes, owners and links;
- `reader`: firmproof's own reader runs in the child instead of unblob's extractor (SquashFS),
  and the programs unblob's extractor would have run are not needed;
- `stream`: one compressed stream, decoded in process (streams.py); a file that starts with
  the stream's `magic` is first decoded whole, without unblob's search;
- `small`: small, plain archives extracted in process (zips.py), the others in the child;
- `refuse`: a check that keeps every extractor away from a hostile chunk (a zip bomb);
- `whole`: a file of type `whole[0]` (fs/filetype.py; the image too) that `whole[1]`
  accepts is one chunk of the format, the whole file, without unblob's search (a UPX-packed
  program: the ELF handler's chunk, from the program headers, may stop short of the packed
  data at its end, and it finds none in a packed shared library);
- `closed`: a step after unblob's extractor for what it left closed (wrote nothing for, or
  raised on): it may open it with the entry's own `tools` (a UPX-packed program that unblob's
  handler does not unpack: a big-endian one, a shared library), else it names why it stays
  closed (a stub whose magic was modified so that `upx -d` refuses it).

`tools` are the programs the extraction runs (`firmproof doctor` checks them); `nests` is
False for a format whose layers hold nothing to search (a truncated container, a partition
table without partitions).

A format unblob does not know gets its handler in handlers/ and an entry with `handler`
pointing at it; docs/adding-a-format.md shows one.
"""

from __future__ import annotations

import bz2
import gzip
import importlib
import lzma
import os
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import zstandard

from firmproof.fs.filetype import PACKED
from firmproof.fs.rootfs import FileMeta
from firmproof.unpack.archives import zip_overlap
from firmproof.unpack.meta import cpio, cramfs, extfs, jffs2, tar, ubifs
from firmproof.unpack.meta import zip as zip_archive

if TYPE_CHECKING:
    from firmproof.unpack.extract import ChunkOutcome

Metadata = Callable[[Path], dict[str, FileMeta] | None]


@dataclass(frozen=True)
class Stream:
    """A single compressed stream, decoded in process with a memory-safe decoder."""

    open: Callable[[BinaryIO], Any]         # the raw chunk -> a readable decoded stream
    magic: bytes = b""                      # at offset 0: the whole file is tried as one stream
    name: Callable[[Path], str] | None = None   # the decoded file's name (default '<handler>.uncompressed')


@dataclass(frozen=True)
class Reader:
    """firmproof's own reader of a format, run in the extraction child instead of unblob's
    extractor: `extract(carved, outdir, max_bytes)` returns an object with `meta` and `errors`."""

    title: str
    extract: Callable[[Path, Path, int], Any]
    replaces: tuple[str, ...] = ()          # the programs unblob's extractor would run


@dataclass(frozen=True)
class Format:
    family: str                             # the label of its layers: 'squashfs@0x0'
    handlers: tuple[str, ...] = ()          # names of the unblob handlers that find it (default: family)
    handler: str = ""                       # 'module:Class' of firmproof's own handler, if it has one
    tools: tuple[str, ...] = ()             # programs its extraction runs
    metadata: Metadata | None = None        # reads modes, owners, links from the carved chunk
    reader: Reader | None = None
    stream: Stream | None = None
    small: Callable[..., ChunkOutcome | None] | None = None
    refuse: Callable[[Path], str | None] | None = None
    closed: Callable[[Path, Path], str | None] | None = None    # (carved, outdir) -> why not examined
    whole: tuple[str, Callable[[Path], Any | None]] | None = None  # (file type, file -> its chunk or None)
    nests: bool = True

    def __post_init__(self) -> None:
        if not self.handlers:
            object.__setattr__(self, "handlers", (self.family,))


def _gzip_name(carved: Path) -> str:
    from unblob.handlers.compression.gzip import get_gzip_embedded_name

    try:
        return get_gzip_embedded_name(carved) or "gzip.uncompressed"
    except (OSError, ValueError, UnicodeError):
        return "gzip.uncompressed"


def _zstd(raw: BinaryIO) -> Any:
    return zstandard.ZstdDecompressor().stream_reader(raw, read_across_frames=True)


def _squashfs(carved: Path, outdir: Path, max_bytes: int) -> Any:
    from firmproof.unpack import squashfs

    # our reader writes owner-accessible files and links as stored; nothing to fix
    return squashfs.extract(carved, outdir, max_bytes=max_bytes)


def _small_zip(carved: Path, outdir: Path, *, byte_budget: int, deadline: float) -> ChunkOutcome | None:
    from firmproof.unpack import zips

    return zips.extract(carved, outdir, byte_budget=byte_budget, deadline=deadline)


def _upx_program(path: Path) -> Any | None:
    """A UPX-packed program (fs/filetype.py's reading of its l_info) as one chunk of unblob's
    ELF handler, the whole file: the handler extracts it as it would its own chunk."""
    from firmproof.fs.filetype import upx_l_info

    try:
        with path.open("rb") as handle:
            head = handle.read(4096)
            size = path.stat().st_size
            found = upx_l_info(head, lambda at, n: os.pread(handle.fileno(), n, at), size)
    except OSError:
        return None
    if found is None:
        return None
    from unblob.handlers.executable.elf import ELF32Handler, ELF64Handler, ElfChunk

    chunk = ElfChunk(start_offset=0, end_offset=size)
    chunk.handler = ELF64Handler() if head[4] == 2 else ELF32Handler()
    return chunk


def whole_chunk(path: Path, ftype: str) -> Any | None:
    """The file (of type `ftype`) as one chunk of the first format whose `whole` accepts it,
    or None."""
    for fmt in FORMATS:
        if fmt.whole is not None and fmt.whole[0] == ftype and (chunk := fmt.whole[1](path)) is not None:
            return chunk
    return None


UPX = "upx"                 # the packer whose programs `whole` and `closed` unpack
UPX_SECONDS = 120           # one `upx -d` (the extraction's own time limit still holds)


def _upx_left_packed(carved: Path, outdir: Path) -> str | None:
    """A UPX-packed program unblob's ELF handler left packed, unpacked here with `upx -d`
    (the entry's declared tool), or why it was not examined.

    unblob runs `upx -d` only where it reads UPX's trailer little-endian (not on a big-endian
    MIPS or PowerPC program) and its checksum test holds (it fails for a packed shared
    library); firmproof's own reading of the l_info (fs/filetype.py) knows both, so the
    program is unpacked into the layer unblob would have written, `<name>.elf`. Nothing is
    run on a stub whose l_info magic is not `UPX!` (upx refuses it): its reason names the
    magic. Returns None when the program was unpacked or is no UPX program."""
    from firmproof.fs.filetype import UPX_MAGIC, upx_l_info

    if outdir.exists():
        return None
    try:
        with carved.open("rb") as handle:
            size = carved.stat().st_size
            found = upx_l_info(handle.read(4096), lambda at, n: os.pread(handle.fileno(), n, at), size)
    except OSError:
        return None
    if found is None:
        return None
    offset, magic = found
    if magic != UPX_MAGIC:
        return (f"a UPX-packed program whose l_info magic at 0x{offset:x} is {magic!r}, not "
                "b'UPX!' (a modified UPX stub, as malware uses against `upx -d`): not unpacked, "
                "its code was not examined")
    why = _upx_d(carved, outdir)
    if why is None:
        return None
    return f"a UPX-packed program (l_info at 0x{offset:x}) that `upx -d` did not unpack ({why}): " \
           "its code was not examined"


def _upx_d(carved: Path, outdir: Path) -> str | None:
    """Run `upx -d` on `carved` into `outdir/<stem>.elf`; None when it did, else upx's words."""
    from firmproof.host.tools import which

    upx = which(UPX)
    if upx is None:
        return "upx is not installed"
    outdir.mkdir(parents=True)
    target = outdir / f"{carved.stem}.elf"
    try:
        proc = subprocess.run([upx, "-q", "-d", "-o", str(target), str(carved)], capture_output=True,
                              text=True, errors="replace", timeout=UPX_SECONDS, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        proc = None
        words = f"{type(exc).__name__}: {exc}"
    if proc is not None and proc.returncode == 0 and target.is_file():
        return None
    shutil.rmtree(outdir, ignore_errors=True)
    if proc is not None:
        lines = [line.strip() for line in (proc.stderr or proc.stdout).splitlines() if line.strip()]
        words = lines[-1] if lines else f"exit code {proc.returncode}"
        words = words.removeprefix("upx: ")
    # upx's words name the files by their names, not their host paths
    return words.replace(str(target), target.name).replace(str(carved), carved.name)[:300]


SQUASHFS = Reader("firmproof's SquashFS reader", _squashfs, replaces=("sasquatch", "sasquatch-v4be"))
_OWN = "firmproof.unpack.handlers."

FORMATS: tuple[Format, ...] = (
    # file systems
    Format("cramfs", tools=("7z",), metadata=cramfs.read),
    Format("extfs", tools=("debugfs",), metadata=extfs.read),
    Format("fat", tools=("7z",)),
    Format("jffs2", ("jffs2_new", "jffs2_old"), tools=("jefferson",), metadata=jffs2.read),
    Format("minix_fs", ("minix_fs_v1", "minix_fs_v2", "minix_fs_v3")),
    Format("ntfs", tools=("7z",)),
    Format("romfs"),
    Format("squashfs", ("squashfs_v1", "squashfs_v2", "squashfs_v2_nonstandard", "squashfs_v3",
                        "squashfs_v3_ddwrt", "squashfs_v3_broadcom", "squashfs_v3_nonstandard",
                        "squashfs_v4_le", "squashfs_v4_be", "squashfs_v4_broadcom"), reader=SQUASHFS),
    Format("ubi", tools=("ubireader_extract_images",)),     # UBIFS volume images: no metadata
    Format("ubifs", tools=("ubireader_extract_files",), metadata=ubifs.read),
    Format("yaffs"),
    Format("sparse", tools=("simg2img",)),
    Format("iso9660", tools=("7z",)),
    Format("erofs", tools=("fsck.erofs",)),
    Format("ufs1"),
    Format("ufs2"),
    Format("solaris_ufs1"),
    Format("btrfs_stream"),
    # vendor firmware containers
    Format("deafbead"),
    Format("moxa_frm"),
    Format("chk"),
    Format("trx", ("trx_v1", "trx_v2")),
    Format("encrpted_img"),
    Format("shrs"),
    Format("alpha_encimg", ("alpha_encimg_v1", "alpha_encimg_v2")),
    Format("fpkg"),
    Format("hdr1"),
    Format("hdr2"),
    Format("qnap_nas"),
    Format("qnap_networking"),
    Format("bneg"),
    Format("bdl"),
    Format("instar_hd"),
    Format("ipkg"),
    Format("engenius"),
    Format("ecc"),
    Format("sbfh"),
    Format("airoha"),
    # archives
    Format("ar"),
    Format("arc", tools=("unar",)),
    Format("arj", tools=("7z",)),
    Format("cab", tools=("7z",)),
    Format("msi", tools=("7z",)),
    Format("tar", metadata=tar.read),
    Format("cpio", ("cpio_portable_ascii", "cpio_portable_ascii_crc", "cpio_portable_old_ascii",
                    "cpio_binary"), metadata=cpio.read),
    Format("sevenzip", tools=("7z",)),
    Format("rar", tools=("unar",)),
    Format("zip", tools=("7z",), metadata=zip_archive.read, small=_small_zip, refuse=zip_overlap),
    Format("dmg", tools=("7z",)),
    Format("stuffit", ("stuffit", "stuffit5"), tools=("unar",)),
    Format("partclone", tools=("partclone.restore",)),
    # compressed streams
    Format("bzip2", stream=Stream(bz2.BZ2File, b"BZh")),
    Format("compress", tools=("7z",)),
    Format("gzip", stream=Stream(lambda raw: gzip.GzipFile(fileobj=raw, mode="rb"), b"\x1f\x8b\x08",
                                 _gzip_name)),
    Format("lzh", tools=("7z",)),
    Format("lzip", tools=("lziprecover",)),
    Format("lzo", tools=("lzop",)),
    # lzma-alone has no magic worth trusting: always found by unblob's search
    Format("lzma", stream=Stream(lambda raw: lzma.LZMAFile(raw, format=lzma.FORMAT_ALONE))),
    Format("lz4", ("lz4_legacy", "lz4_skippable", "lz4_default"), tools=("lz4",)),
    Format("xz", stream=Stream(lambda raw: lzma.LZMAFile(raw, format=lzma.FORMAT_XZ), b"\xfd7zXZ\x00")),
    Format("zstd", stream=Stream(_zstd, b"\x28\xb5\x2f\xfd")),
    Format("zlib"),
    Format("uzip"),
    Format("qnx_deflate"),
    # executables: a kernel's initramfs is cut out, a program carved from a bigger file copied
    # out, a UPX-packed one unpacked with `upx -d` (inside a file system, only UPX-packed
    # programs are searched: fs/filetype.py's PACKED)
    Format("elf", ("elf32", "elf64"), tools=(UPX,), closed=_upx_left_packed,
           whole=(PACKED, _upx_program)),
    Format("xalz"),
    # firmproof's own handlers, searched after unblob's, in this order
    Format("uimage", handler=_OWN + "uimage:UImageHandler"),
    Format("android_boot", handler=_OWN + "androidboot:AndroidBootHandler"),
    Format("android_payload", handler=_OWN + "payload:PayloadHandler"),
    Format("android_super", handler=_OWN + "lpsuper:SuperHandler"),
    Format("android_super_empty", handler=_OWN + "lpsuper:SuperEmptyHandler", nests=False),
    Format("truncated_squashfs", handler=_OWN + "truncated:TruncatedSquashFSHandler", nests=False),
    Format("truncated_uimage", handler=_OWN + "truncated:TruncatedUImageHandler", nests=False),
    Format("truncated_cramfs", handler=_OWN + "truncated:TruncatedCramFSHandler", nests=False),
    Format("truncated_extfs", handler=_OWN + "truncated:TruncatedExtFSHandler", nests=False),
)

_BY_HANDLER: dict[str, Format] = {name: fmt for fmt in FORMATS for name in fmt.handlers}


def of(handler_name: str) -> Format:
    """The format an unblob handler finds ('squashfs_v4_le' -> the squashfs entry); a plain
    entry of its own name for a handler the table does not name.

    The family label stays short and stable across reader versions; the precise handler
    (version, endianness) is the container's `format`.
    """
    return _BY_HANDLER.get(handler_name) or Format(handler_name)


# (handler name, magic) of each stream a whole file is first tried as
STREAM_MAGICS: tuple[tuple[str, bytes], ...] = tuple(
    (fmt.handlers[0], fmt.stream.magic) for fmt in FORMATS if fmt.stream is not None and fmt.stream.magic)


@cache
def handlers() -> tuple[Any, ...]:
    """The unblob handler classes that search an image: unblob's own that the table names, in
    unblob's order, then firmproof's, in the table's."""
    from unblob.handlers import BUILTIN_HANDLERS

    builtin = {name for fmt in FORMATS if not fmt.handler for name in fmt.handlers}
    own = tuple(_load(fmt.handler) for fmt in FORMATS if fmt.handler)
    return (*(h for h in BUILTIN_HANDLERS if h.NAME in builtin), *own)


def _load(ref: str) -> Any:
    module, _, name = ref.partition(":")
    return getattr(importlib.import_module(module), name)
