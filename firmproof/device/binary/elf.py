"""The format side of the executable model: what lief reads from the headers.

Architecture, endianness, imports, exports, needed libraries, hardening flags, the
address map (PT_LOAD segments), the code ranges, and where each imported function's
address is stored (GOT slots from relocations, and MIPS's global GOT entries, which
have no relocation: entry i >= DT_MIPS_LOCAL_GOTNO holds dynsym[DT_MIPS_GOTSYM + i -
DT_MIPS_LOCAL_GOTNO]). Nothing here disassembles.
"""

from __future__ import annotations

import functools
import io
import struct
import warnings
from dataclasses import dataclass, field
from typing import Any

import lief

lief.logging.disable()

ARCHES = {
    lief.ELF.ARCH.MIPS: "mips",
    lief.ELF.ARCH.ARM: "arm",
    lief.ELF.ARCH.AARCH64: "aarch64",
    lief.ELF.ARCH.I386: "x86",
    lief.ELF.ARCH.X86_64: "x86-64",
}
_PARSER = lief.ELF.ParserConfig()
_PARSER.parse_overlay = False
_PARSER.parse_notes = False
_PARSER.parse_symbol_versions = False

_T = lief.ELF.DynamicEntry.TAG
_NOT_DATA = frozenset({".dynsym", ".dynstr", ".symtab", ".gnu.hash", ".hash", ".rel.dyn", ".rela.dyn",
                       ".rel.plt", ".rela.plt", ".gnu.version", ".gnu.version_r", ".eh_frame",
                       ".eh_frame_hdr", ".note.gnu.build-id", ".note.ABI-tag", ".interp"})
_STACK_GUARD = ("__stack_chk_fail", "__stack_chk_guard", "__stack_chk_fail_local")


class NotElf(ValueError):
    """The bytes are not an ELF file lief can read."""


@dataclass(frozen=True)
class Hardening:
    nx: bool
    pie: bool
    relro: str               # 'none' | 'partial' | 'full'
    canary: bool | None      # None: a stripped static program says nothing either way
    stripped: bool

    def lacking(self) -> tuple[str, ...]:
        missing = []
        if not self.nx:
            missing.append("nx")
        if not self.pie:
            missing.append("pie")
        if self.relro != "full":
            missing.append("relro" if self.relro == "none" else "full-relro")
        if self.canary is False:
            missing.append("canary")
        return tuple(missing)


@dataclass(frozen=True)
class Segment:
    vaddr: int
    memsz: int
    offset: int
    filesz: int
    executable: bool


@dataclass
class ElfHeaders:
    arch: str                       # mips | arm | aarch64 | x86 | x86-64
    bits: int
    endian: str                     # little | big
    kind: str                       # exec | pie | shared | other
    entry: int
    imports: frozenset[str]
    needed: tuple[str, ...]
    hardening: Hardening
    header_span: int                # ELF header + program headers, in bytes from offset 0
    segments: tuple[Segment, ...]
    code: tuple[tuple[str, int, int, int], ...]      # (section name, vaddr, offset, size)
    data: tuple[tuple[int, int], ...]                # file ranges of read-only/initialised data
    got_base: int | None = None                      # DT_PLTGOT (x86: what ebx holds in PIC code)
    gp: int | None = None                            # MIPS: $gp (_gp), with `slots`; static: .reginfo
    binary: Any = field(default=None, repr=False)    # lief's object, for what only code reading needs
    raw: bytes = field(default=b"", repr=False)
    thumb: bool = False
    # what only reading the code needs is read on first use: most files never get that far

    @functools.cached_property
    def slots(self) -> dict[int, str]:
        """Address of each GOT slot that holds an imported symbol's address."""
        return _import_slots(self.binary, self)

    @functools.cached_property
    def exports(self) -> frozenset[str]:
        """Exported function names (read on first use: a library exports thousands)."""
        return frozenset(_text(s.name) for s in self.binary.exported_functions if s.name)

    @functools.cached_property
    def functions(self) -> tuple[int, ...]:
        """Function starts the symbols name (exported, and .symtab when not stripped)."""
        binary = self.binary
        starts = {s.value & ~1 for s in binary.exported_functions if s.value}
        if not self.hardening.stripped:
            starts |= {s.value & ~1 for s in binary.symtab_symbols
                       if s.type == lief.ELF.Symbol.TYPE.FUNC and s.value}
        return tuple(sorted(starts))

    @functools.cached_property
    def fde_starts(self) -> tuple[int, ...]:
        """Every function start .eh_frame_hdr lists (present even in stripped programs)."""
        hdr = next((sec for sec in self.binary.sections if _text(sec.name) == ".eh_frame_hdr"), None)
        if hdr is None or hdr.type == lief.ELF.Section.TYPE.NOBITS:
            return ()
        return _fde_starts(self.raw, hdr.file_offset, hdr.virtual_address, hdr.size,
                           "<" if self.endian == "little" else ">")

    @property
    def is_program(self) -> bool:
        return self.kind in ("exec", "pie")

    def offset_of(self, vaddr: int) -> int | None:
        for seg in self.segments:
            if seg.vaddr <= vaddr < seg.vaddr + seg.filesz:
                return seg.offset + vaddr - seg.vaddr
        return None

    def vaddr_of(self, offset: int) -> int | None:
        for seg in self.segments:
            if seg.offset <= offset < seg.offset + seg.filesz:
                return seg.vaddr + offset - seg.offset
        return None


def parse(data: bytes) -> ElfHeaders:
    """Read the headers of an ELF file; raises NotElf when lief cannot."""
    with warnings.catch_warnings():
        # lief warns about values outside its enums (corrupt headers): facts, not news
        warnings.simplefilter("ignore", RuntimeWarning)
        return _parse(data)


def _parse(data: bytes) -> ElfHeaders:
    if not data.startswith(b"\x7fELF"):
        raise NotElf("no ELF magic")
    binary = lief.ELF.parse(io.BytesIO(data), _PARSER)
    if binary is None:
        raise NotElf("lief could not parse the ELF headers")
    if not len(binary.segments) and not len(binary.sections):
        raise NotElf("no program or section headers")
    head = binary.header
    arch = ARCHES.get(head.machine_type, str(head.machine_type).rsplit(".", 1)[-1].lower())
    bits = 64 if head.identity_class == lief.ELF.Header.CLASS.ELF64 else 32
    endian = "big" if head.identity_data == lief.ELF.Header.ELF_DATA.MSB else "little"
    interp = binary.has_interpreter
    ftype = head.file_type
    if ftype == lief.ELF.Header.FILE_TYPE.EXEC:
        kind = "exec"
    elif ftype == lief.ELF.Header.FILE_TYPE.DYN:
        kind = "pie" if interp or (binary.is_pie and _has_dt(binary, _T.FLAGS_1, 0x08000000)) else "shared"
    else:
        kind = "other"

    imports = frozenset(_text(s.name) for s in binary.imported_functions if s.name)
    section_names = {_text(s.name) for s in binary.sections}
    stripped = ".symtab" not in section_names
    symtab_names = set() if stripped else {_text(s.name) for s in binary.symtab_symbols}
    if any(n in imports for n in _STACK_GUARD) or any(n in symtab_names for n in _STACK_GUARD):
        canary: bool | None = True
    elif not binary.libraries and stripped and not imports:
        canary = None
    else:
        canary = False
    relro = "none"
    if any(seg.type == lief.ELF.Segment.TYPE.GNU_RELRO for seg in binary.segments):
        now = (_has_dt(binary, _T.FLAGS, 0x8) or _has_dt(binary, _T.FLAGS_1, 0x1)
               or any(e.tag == _T.BIND_NOW for e in binary.dynamic_entries))
        relro = "full" if now else "partial"
    hardening = Hardening(nx=bool(binary.has_nx), pie=kind == "pie", relro=relro, canary=canary,
                          stripped=stripped)

    segments = tuple(Segment(s.virtual_address, s.virtual_size, s.file_offset, s.physical_size,
                             bool(int(s.flags) & int(lief.ELF.Segment.FLAGS.X)))
                     for s in binary.segments if s.type == lief.ELF.Segment.TYPE.LOAD)
    code: list[tuple[str, int, int, int]] = []
    ranges: list[tuple[int, int]] = []
    for sec in binary.sections:
        if sec.type == lief.ELF.Section.TYPE.NOBITS or not sec.size:
            continue
        flags = sec.flags
        if flags & int(lief.ELF.Section.FLAGS.EXECINSTR):
            code.append((_text(sec.name), sec.virtual_address, sec.file_offset, sec.size))
        elif flags & int(lief.ELF.Section.FLAGS.ALLOC) and _text(sec.name) not in _NOT_DATA:
            ranges.append((sec.file_offset, sec.file_offset + sec.size))
    if not code:     # no section headers (sstrip): executable segments are the code
        code = [("LOAD", s.vaddr, s.offset, s.filesz) for s in segments if s.executable]
        ranges = [(s.offset, s.offset + s.filesz) for s in segments if not s.executable]
        if not ranges:
            ranges = [(s.offset, s.offset + s.filesz) for s in segments]

    headers = ElfHeaders(
        arch=arch, bits=bits, endian=endian, kind=kind, entry=head.entrypoint,
        imports=imports, needed=tuple(_text(lib) for lib in binary.libraries),
        hardening=hardening,
        header_span=max(head.header_size, head.program_header_offset
                        + head.numberof_segments * head.program_header_size),
        segments=segments, code=tuple(code), data=tuple(ranges),
        thumb=arch == "arm" and bool(head.entrypoint & 1),
    )
    headers.got_base = _dt(binary, _T.PLTGOT)
    headers.binary = binary
    headers.raw = data
    return headers


def _fde_starts(data: bytes, offset: int, vaddr: int, size: int, order: str) -> tuple[int, ...]:
    """Function starts from .eh_frame_hdr's binary search table (the common encodings:
    count udata4, table datarel|sdata4), present even in stripped programs."""
    if size < 12 or offset + size > len(data):
        return ()
    version, _ptr_enc, count_enc, table_enc = data[offset:offset + 4]
    if version != 1 or count_enc != 0x03 or table_enc != 0x3B:
        return ()
    count = struct.unpack_from(order + "I", data, offset + 8)[0]
    if 12 + 8 * count > size:
        return ()
    pairs = struct.unpack_from(order + "i" * (2 * count), data, offset + 12)
    return tuple(sorted({vaddr + pairs[2 * i] for i in range(count)}))


def _text(name: str | bytes) -> str:
    """A symbol or section name as text, without its @version."""
    text = name.decode("latin-1") if isinstance(name, bytes) else name
    return text.split("@", 1)[0]


def _dt(binary: lief.ELF.Binary, tag: lief.ELF.DynamicEntry.TAG) -> int | None:
    for entry in binary.dynamic_entries:
        if entry.tag == tag:
            return int(entry.value)
    return None


def _has_dt(binary: lief.ELF.Binary, tag: lief.ELF.DynamicEntry.TAG, bit: int) -> bool:
    value = _dt(binary, tag)
    return value is not None and bool(value & bit)


def _import_slots(binary: lief.ELF.Binary, headers: ElfHeaders) -> dict[int, str]:
    """Address of each GOT slot that will hold an imported symbol's address."""
    slots: dict[int, str] = {}
    for reloc in (*binary.pltgot_relocations, *binary.dynamic_relocations):
        if reloc.has_symbol and reloc.symbol.name and reloc.address:
            slots[reloc.address] = _text(reloc.symbol.name)
    if headers.arch == "mips":
        got = headers.got_base
        local = _dt(binary, _T.MIPS_LOCAL_GOTNO)
        first = _dt(binary, _T.MIPS_GOTSYM)
        gp_symbol = next((s.value for s in binary.symbols if _text(s.name) == "_gp"), None)
        if got is not None:
            headers.gp = int(gp_symbol) if gp_symbol else got + 0x7FF0
            if local is not None and first is not None:
                symbols = list(binary.dynamic_symbols)
                word = 8 if headers.bits == 64 else 4
                for index in range(first, len(symbols)):
                    name = _text(symbols[index].name)
                    if name:
                        slots[got + word * (local + index - first)] = name
        if headers.gp is None:
            headers.gp = _reginfo_gp(binary, headers)
    return slots


REGINFO_GP = 20     # Elf32_RegInfo: ri_gprmask, ri_cprmask[4], ri_gp_value


ODK_REGINFO = 1         # .MIPS.options: the n64 register information
OPTIONS_GP = 32         # Elf_Options header (8 bytes), Elf64_RegInfo: ri_gprmask, ri_pad, ri_cprmask[4]


def _reginfo_gp(binary: lief.ELF.Binary, headers: ElfHeaders) -> int | None:
    """MIPS without a dynamic section (a static program): `_gp` from the REGINFO segment
    (.reginfo), which the linker writes for every o32 program, or (n64) from the ODK_REGINFO
    entry of .MIPS.options; its GOT holds final addresses."""
    if headers.bits != 32:
        options = next((sec for sec in binary.sections if sec.name == ".MIPS.options"), None)
        raw = bytes(options.content) if options is not None else b""
        at = 0
        while at + OPTIONS_GP + 8 <= len(raw) and raw[at + 1]:
            if raw[at] == ODK_REGINFO:
                return int.from_bytes(raw[at + OPTIONS_GP:at + OPTIONS_GP + 8],
                                      "little" if headers.endian == "little" else "big") or None
            at += raw[at + 1]
        return None
    for segment in binary.segments:
        if segment.type == lief.ELF.Segment.TYPE.MIPS_REGINFO and segment.physical_size >= REGINFO_GP + 4:
            value = read_word(headers.raw, headers, segment.virtual_address + REGINFO_GP)
            if value is None:
                at = segment.file_offset + REGINFO_GP
                raw = headers.raw[at:at + 4]
                value = int.from_bytes(raw, "little" if headers.endian == "little" else "big") \
                    if len(raw) == 4 else None
            return value or None
    return None


def read_word(data: bytes, headers: ElfHeaders, vaddr: int, size: int = 4) -> int | None:
    """The unsigned value of `size` bytes (1 to 16: a SIMD register's load) at an address."""
    offset = headers.offset_of(vaddr)
    if offset is None or offset + size > len(data):
        return None
    return int.from_bytes(data[offset:offset + size], "little" if headers.endian == "little" else "big")
