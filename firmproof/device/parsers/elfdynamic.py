"""The names an ELF file's dynamic section gives: the libraries it loads (DT_NEEDED) and its
own name as a library (DT_SONAME).

Read from the program headers alone (embedded binaries are often stripped of section headers),
with every offset checked against the file: a malformed file gives `((), None)`, never an error.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

DT_NULL, DT_NEEDED, DT_STRTAB, DT_SONAME = 0, 1, 5, 14
PT_LOAD, PT_DYNAMIC = 1, 2
MAX_ENTRIES = 4096


@dataclass(frozen=True)
class DynamicNames:
    needed: tuple[str, ...]
    soname: str | None


NONE = DynamicNames((), None)


def dynamic_names(data: bytes) -> DynamicNames:
    if len(data) < 64 or not data.startswith(b"\x7fELF") or data[4] not in (1, 2) or data[5] not in (1, 2):
        return NONE
    wide = data[4] == 2
    end = "<" if data[5] == 1 else ">"
    try:
        if wide:
            phoff, = struct.unpack_from(end + "Q", data, 32)
            phentsize, phnum = struct.unpack_from(end + "HH", data, 54)
        else:
            phoff, = struct.unpack_from(end + "I", data, 28)
            phentsize, phnum = struct.unpack_from(end + "HH", data, 42)
        loads: list[tuple[int, int, int]] = []         # (vaddr, offset, filesz)
        dynamic: tuple[int, int] | None = None
        for i in range(min(phnum, 256)):
            at = phoff + i * phentsize
            if wide:
                ptype, _flags, offset, vaddr, _paddr, filesz = struct.unpack_from(end + "IIQQQQ", data, at)
            else:
                ptype, offset, vaddr, _paddr, filesz = struct.unpack_from(end + "IIIII", data, at)
            if ptype == PT_LOAD:
                loads.append((vaddr, offset, filesz))
            elif ptype == PT_DYNAMIC:
                dynamic = (offset, filesz)
        if dynamic is None:
            return NONE
        entry = struct.Struct(end + ("qQ" if wide else "iI"))
        tags: list[tuple[int, int]] = []
        offset, size = dynamic
        for at in range(offset, min(offset + size, len(data)) - entry.size + 1, entry.size):
            tag, value = entry.unpack_from(data, at)
            if tag == DT_NULL or len(tags) >= MAX_ENTRIES:
                break
            tags.append((tag, value))
    except struct.error:
        return NONE
    strtab = next((v for t, v in tags if t == DT_STRTAB), None)
    base = _file_offset(loads, strtab) if strtab is not None else None
    if base is None:
        return NONE

    def name(index: int) -> str | None:
        start = base + index
        stop = data.find(b"\x00", start, start + 256)
        return data[start:stop].decode("latin-1") if 0 <= start < stop else None

    needed = tuple(n for t, v in tags if t == DT_NEEDED and (n := name(v)))
    soname = next((n for t, v in tags if t == DT_SONAME and (n := name(v))), None)
    return DynamicNames(needed, soname)


def _file_offset(loads: list[tuple[int, int, int]], vaddr: int) -> int | None:
    for start, offset, size in loads:
        if start <= vaddr < start + size:
            return offset + vaddr - start
    return None
