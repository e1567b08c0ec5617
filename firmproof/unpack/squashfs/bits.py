"""Packed C bitfields of SquashFS 2.x and 3.x structures.

Those versions declare their on-disk structures as packed bitfields, so the byte order
decides the bit order too: a little-endian image fills each structure from the least
significant bit of the little-endian number its bytes spell, in declaration order; a
big-endian image fills it from the most significant bit of the big-endian number.
"""

from __future__ import annotations

from collections.abc import Sequence


def unpack_bits(raw: bytes, widths: Sequence[int], big_endian: bool) -> list[int]:
    """The fields of widths `widths` (in declaration order) packed into `raw`."""
    total = len(raw) * 8
    if sum(widths) > total:
        raise ValueError(f"{sum(widths)} bits of fields in {len(raw)} bytes")
    value = int.from_bytes(raw, "big" if big_endian else "little")
    fields: list[int] = []
    if big_endian:
        pos = total
        for width in widths:
            pos -= width
            fields.append((value >> pos) & ((1 << width) - 1))
    else:
        pos = 0
        for width in widths:
            fields.append((value >> pos) & ((1 << width) - 1))
            pos += width
    return fields


def struct_size(widths: Sequence[int]) -> int:
    """Bytes of a packed structure whose fields have these widths (a whole number of bytes)."""
    bits = sum(widths)
    if bits % 8:
        raise ValueError(f"fields of {bits} bits do not fill whole bytes")
    return bits // 8
