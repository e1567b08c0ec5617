"""Which functions an ELF file calls: dynamic imports, else the static symbol table,
else names found in its bytes.

Embedded binaries are often stripped of section headers (sstrip), so imports are read
from the dynamic segment when `.dynsym` is not there. A static binary without symbols
leaves nothing but its strings: `source` says which of the three answered.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSegment
from elftools.elf.elffile import ELFFile

log = logging.getLogger(__name__)

_IDENT = re.compile(rb"[A-Za-z_][A-Za-z0-9_@.]{1,63}")


@dataclass(frozen=True)
class ElfSymbols:
    source: str                     # 'dynsym' | 'dynamic' | 'symtab' | 'strings'
    imports: frozenset[str]         # functions it calls from shared libraries (or links in)
    needed: tuple[str, ...]         # DT_NEEDED libraries
    soname: str | None

    def has_any(self, *names: str) -> bool:
        return any(n in self.imports for n in names)


def _clean(name: str) -> str:
    return name.split("@", 1)[0]


def read_symbols(data: bytes) -> ElfSymbols | None:
    """Symbols of an ELF file, or None when `data` is not ELF."""
    if not data.startswith(b"\x7fELF"):
        return None
    try:
        return _read(data)
    except (ELFError, ValueError, KeyError, IndexError, AttributeError, TypeError,
            AssertionError, OverflowError) as exc:  # malformed headers: fall back to strings
        log.debug("ELF symbols unreadable (%s); using strings", exc)
        return ElfSymbols("strings", _string_names(data), (), None)


def _read(data: bytes) -> ElfSymbols:
    elf = ELFFile(io.BytesIO(data))
    imports: set[str] = set()
    needed: list[str] = []
    soname: str | None = None
    source = ""
    for segment in elf.iter_segments():
        if isinstance(segment, DynamicSegment):
            for tag in segment.iter_tags():
                if tag.entry.d_tag == "DT_NEEDED":
                    needed.append(str(getattr(tag, "needed", "")))
                elif tag.entry.d_tag == "DT_SONAME":
                    soname = str(getattr(tag, "soname", "")) or None
    dynsym = elf.get_section_by_name(".dynsym")
    if dynsym is not None and hasattr(dynsym, "iter_symbols"):
        for sym in dynsym.iter_symbols():
            if sym.name and sym.entry.st_shndx == "SHN_UNDEF":
                imports.add(_clean(sym.name))
        source = "dynsym"
    if not imports:
        for segment in elf.iter_segments():
            if isinstance(segment, DynamicSegment):
                for sym in segment.iter_symbols():
                    if sym.name and sym.entry.st_shndx == "SHN_UNDEF":
                        imports.add(_clean(sym.name))
                if imports:
                    source = "dynamic"
    if not imports:
        symtab = elf.get_section_by_name(".symtab")
        if symtab is not None and hasattr(symtab, "iter_symbols"):
            for sym in symtab.iter_symbols():
                if sym.name and sym["st_info"]["type"] in ("STT_FUNC", "STT_GNU_IFUNC", "STT_NOTYPE"):
                    imports.add(_clean(sym.name))
            if imports:
                source = "symtab"
    if not imports:
        return ElfSymbols("strings", _string_names(data), tuple(needed), soname)
    return ElfSymbols(source, frozenset(imports), tuple(needed), soname)


def _string_names(data: bytes) -> frozenset[str]:
    """NUL-delimited identifiers, the shape of entries of a string table."""
    names: set[str] = set()
    for m in _IDENT.finditer(data):
        start, end = m.span()
        if (start == 0 or data[start - 1] == 0) and (end == len(data) or data[end] == 0):
            names.add(_clean(m.group().decode("ascii")))
    return frozenset(names)
