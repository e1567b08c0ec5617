"""Block decoders, and the choice among them that one image makes.

Every decoder takes a compressed block and the most bytes it may yield (a data block never
grows past the block size, a metadata block past 8 KiB), and either returns the bytes or
raises DecodeError: a block that would grow past its bound is an error, not a truncation,
so a hostile image cannot make one block fill the memory.

Vendors wrote LZMA in several ways; an image states at most "lzma", so `Codec` tries the
plausible decoders in turn and keeps the first one that decodes a block for the rest of
the image (another is tried only where the kept one fails on a block).
"""

from __future__ import annotations

import lzma
import struct
import threading
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from firmproof.unpack.squashfs.errors import DecodeError
from firmproof.unpack.squashfs.superblock import GZIP, LZ4, LZMA, LZO, XZ, ZSTD, Superblock

Decode = Callable[[bytes, int], bytes]

XZ_MEMLIMIT = 256 << 20
MIN_DICT = 4096


@dataclass(frozen=True)
class Decoder:
    name: str
    decode: Decode


def _zlib(data: bytes, limit: int) -> bytes:
    dec = zlib.decompressobj()
    out = dec.decompress(data, limit)
    if dec.unconsumed_tail:
        raise DecodeError(f"zlib block grows past {limit} bytes")
    if not dec.eof:
        raise DecodeError("zlib stream ends early")
    return out


def _xz(data: bytes, limit: int) -> bytes:
    dec = lzma.LZMADecompressor(lzma.FORMAT_XZ, memlimit=XZ_MEMLIMIT)
    out = dec.decompress(data, max_length=limit)
    if not dec.eof:
        raise DecodeError(f"xz block grows past {limit} bytes" if not dec.needs_input
                          else "xz stream ends early")
    return out


def _lzma1(props: int, dict_size: int, stream: bytes, limit: int, size: int | None) -> bytes:
    """Raw LZMA1 with the given properties; `size` is the stated output size, if any."""
    if props >= 9 * 5 * 5:
        raise DecodeError(f"bad LZMA properties byte 0x{props:02x}")
    lc, rest = props % 9, props // 9
    lp, pb = rest % 5, rest // 5
    if lc + lp > 4:
        raise DecodeError(f"unsupported LZMA properties lc={lc} lp={lp}")
    if size is not None:
        if size > limit:
            raise DecodeError(f"LZMA block states {size} bytes, more than {limit}")
        limit = size
    # a block never refers back past its own start, so a dictionary as large as the
    # output serves; a hostile 4 GiB dictionary is never allocated
    dict_size = max(MIN_DICT, min(dict_size, limit))
    dec = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=[
        {"id": lzma.FILTER_LZMA1, "lc": lc, "lp": lp, "pb": pb, "dict_size": dict_size}])
    out = dec.decompress(stream, max_length=limit)
    if size is not None and len(out) != size:
        raise DecodeError(f"LZMA block yields {len(out)} bytes, header says {size}")
    if not out:
        raise DecodeError("LZMA block yields nothing")
    return out


def _lzma_alone(data: bytes, limit: int) -> bytes:
    """Standard `lzma` squashfs blocks: 5 property bytes, an 8-byte size, the stream."""
    if len(data) < 13:
        raise DecodeError("LZMA block shorter than its header")
    props, dict_size, size = struct.unpack_from("<BIQ", data)
    return _lzma1(props, dict_size, data[13:], limit, None if size == 2**64 - 1 else size)


def _lzma_props5(data: bytes, limit: int) -> bytes:
    """Vendor LZMA (TP-Link, Alpha Networks, Broadcom SDK): 5 property bytes, no size."""
    if len(data) < 6:
        raise DecodeError("LZMA block shorter than its header")
    props, dict_size = struct.unpack_from("<BI", data)
    return _lzma1(props, dict_size, data[5:], limit, None)


def _lzma_bare(data: bytes, limit: int) -> bytes:
    """LZMA with no header at all, with the properties vendors use (lc=3 lp=0 pb=2)."""
    return _lzma1(0x5D, limit, data, limit, None)


def _lzo(data: bytes, limit: int) -> bytes:
    import lzo

    try:
        return bytes(lzo.decompress(data, False, limit))
    except lzo.error as exc:
        raise DecodeError(f"lzo: {exc}") from None


def _lz4(data: bytes, limit: int) -> bytes:
    import lz4.block

    try:
        return bytes(lz4.block.decompress(data, uncompressed_size=limit))
    except lz4.block.LZ4BlockError as exc:
        raise DecodeError(f"lz4: {exc}") from None


def _zstd(data: bytes, limit: int) -> bytes:
    import zstandard

    try:
        stated = zstandard.frame_content_size(data)
        if stated > limit:
            raise DecodeError(f"zstd block states {stated} bytes, more than {limit}")
        out = zstandard.ZstdDecompressor().decompress(data, max_output_size=limit)
    except zstandard.ZstdError as exc:
        raise DecodeError(f"zstd: {exc}") from None
    if len(out) > limit:
        raise DecodeError(f"zstd block grows past {limit} bytes")
    return out


ZLIB_D = Decoder("zlib", _zlib)
XZ_D = Decoder("xz", _xz)
LZMA_ALONE_D = Decoder("lzma", _lzma_alone)
LZMA_PROPS5_D = Decoder("lzma (5-byte header, no size)", _lzma_props5)
LZMA_BARE_D = Decoder("lzma (no header)", _lzma_bare)
LZO_D = Decoder("lzo", _lzo)
LZ4_D = Decoder("lz4", _lz4)
ZSTD_D = Decoder("zstd", _zstd)

LZMA_FAMILY = (LZMA_ALONE_D, LZMA_PROPS5_D, LZMA_BARE_D)


def candidates(sb: Superblock) -> tuple[Decoder, ...]:
    """The decoders worth trying on this image, the likeliest first."""
    if sb.major == 4:
        return {
            GZIP: (ZLIB_D,),
            LZMA: (*LZMA_FAMILY, ZLIB_D),
            LZO: (LZO_D,),
            XZ: (XZ_D, LZMA_ALONE_D),
            LZ4: (LZ4_D,),
            ZSTD: (ZSTD_D,),
        }[sb.compressor]
    if sb.variant == "standard":
        return (ZLIB_D, *LZMA_FAMILY)
    return (*LZMA_FAMILY, ZLIB_D)


class Codec:
    """The decoders of one image: the first that decodes a block is kept for the next."""

    def __init__(self, decoders: Sequence[Decoder]) -> None:
        self._decoders = tuple(decoders)
        self._kept: Decoder | None = None
        self._lock = threading.Lock()

    @property
    def name(self) -> str:
        return (self._kept or self._decoders[0]).name

    def decode(self, data: bytes, limit: int, expected: int | None = None) -> bytes:
        """Decode one block of at most `limit` bytes (exactly `expected`, when known)."""
        kept = self._kept
        order = self._decoders if kept is None else (kept, *(d for d in self._decoders if d != kept))
        reasons: list[str] = []
        bound = limit if expected is None else min(expected, limit)
        for decoder in order:
            try:
                out = decoder.decode(data, bound)
            except (DecodeError, lzma.LZMAError, zlib.error, ValueError, MemoryError) as exc:
                reasons.append(f"{decoder.name}: {exc}")
                continue
            if expected is not None and len(out) != expected:
                reasons.append(f"{decoder.name}: {len(out)} bytes instead of {expected}")
                continue
            if kept is None:
                with self._lock:
                    if self._kept is None:
                        self._kept = decoder
            return out
        raise DecodeError("; ".join(reasons) if len(reasons) < 2
                          else f"no decoder fits ({'; '.join(reasons)})")
