"""The executable model: what an analyst reads from an ELF file with a disassembler.

Stable API for rules (FP-ELF, FP-HCRED, FP-TRIG, and whoever needs code facts)::

    exe = firmproof.device.binary.load(fs, "/usr/sbin/httpd")     # None when not a readable ELF
    exe.arch, exe.endian, exe.bits, exe.kind               # 'mips', 'little', 32, 'pie'
    exe.imports, exe.exports, exe.needed, exe.hardening    # cheap: headers only
    exe.imports_any("system", "popen")                     # cheap first-pass questions
    exe.mentions(re.compile(rb"passw|login", re.I))        # regex over its data sections
    exe.strings                                            # [StringRef(offset, vaddr, text)]
    exe.quick_refs()                                       # x86-64: strings code loads, no disassembly
    exe.quick_calls({"system"})                            # x86-64: call sites, no disassembly
    exe.focused(sites)                                     # a view whose code is those functions only
    exe.xrefs(string_offset)                               # code addresses that load that string
    exe.calls("strcmp", "strncmp")                         # [Call(site, callee, target, args)]
    exe.calls_with_string({"strcmp"})                      # [(Call, arg index, StringRef)]
    exe.compares_with_string()                             # static: the same, compares known by
                                                           # what they do (no name)
    exe.function_of(call.site)                             # start of the enclosing function
    exe.offset_of(vaddr)                                   # file offset of an address
    exe.static, exe.syscall_names()                        # static program; its syscalls, no sweep
    exe.names()                                            # imports, or a static program's named
                                                           # syscall wrappers (device.binary.syscalls)
    exe.callers("dup2"), exe.callees(function)             # the call graph, by function start

Everything up to `mentions` comes from the headers (lief) and costs about 0.2 ms per file;
`strings` scans the data sections once; `xrefs`/`calls*` disassemble the code once
(capstone, firmproof.device.binary.disasm) on first use. `load` caches per sha256 inside one
process, so rules that share a process share the work.
"""

from __future__ import annotations

import bisect
import logging
import re
import struct
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
from capstone import CsError

from firmproof.device.binary import syscalls
from firmproof.device.binary.disasm import Call, CodeFacts, Value, call_sites, rip_loads, sweep
from firmproof.device.binary.elf import ElfHeaders, Hardening, NotElf, parse
from firmproof.fs.rootfs import RootFS

__all__ = ["Call", "Executable", "Hardening", "StringRef", "Value", "load"]

log = logging.getLogger(__name__)

MIN_STRING = 4
_PRINTABLE = np.zeros(256, dtype=np.bool_)      # what a string may hold: [\x20-\x7e\t\r\n]
_PRINTABLE[0x20:0x7F] = True
_PRINTABLE[[0x09, 0x0A, 0x0D]] = True
_CACHE: OrderedDict[str, Executable] = OrderedDict()
CACHE_ENTRIES = 64


@dataclass(frozen=True)
class StringRef:
    offset: int                 # in the file
    vaddr: int | None           # where it is mapped, when it is
    text: str

    @property
    def length(self) -> int:
        return len(self.text.encode("latin-1"))


class Executable:
    """One ELF file of an image; the headers are read at once, the rest when asked."""

    def __init__(self, path: str, sha256: str, data: bytes, headers: ElfHeaders) -> None:
        self.path = path
        self.sha256 = sha256
        self.size = len(data)
        self.headers = headers
        self._data = data
        self._strings: list[StringRef] | None = None
        self._offsets: list[tuple[int, int]] | None = None
        self._starts: list[int] = []
        self._ends: list[int] = []
        self._code: CodeFacts | None = None
        self._swept = False
        self._functions: list[int] | None = None
        self._quick: dict[int, tuple[StringRef, list[int]]] | None = None
        self._ranges: list[tuple[int, int]] | None = None
        self._stubs: dict[int, str] | None = None      # PLT stub -> import, once swept
        self._numbers: frozenset[str] | None = None     # static: syscalls seen by the first pass
        self._graph: dict[int | None, set[int]] | None = None
        self.wrappers: dict[int, str] = {}      # static: wrapper function -> libc name, once swept
        self._canon: Callable[[int], int] = _same
        self._trapping: set[int | None] | None = None

    # -- headers ----------------------------------------------------------------

    @property
    def arch(self) -> str:
        return self.headers.arch

    @property
    def endian(self) -> str:
        return self.headers.endian

    @property
    def bits(self) -> int:
        return self.headers.bits

    @property
    def kind(self) -> str:
        return self.headers.kind

    @property
    def imports(self) -> frozenset[str]:
        return self.headers.imports

    @property
    def exports(self) -> frozenset[str]:
        return self.headers.exports

    @property
    def needed(self) -> tuple[str, ...]:
        return self.headers.needed

    @property
    def hardening(self) -> Hardening:
        return self.headers.hardening

    @property
    def data(self) -> bytes:
        return self._data

    def imports_any(self, *names: str) -> bool:
        return any(n in self.headers.imports for n in names)

    def mentions(self, pattern: re.Pattern[bytes], words: tuple[bytes, ...] = ()) -> bool:
        """Whether a regex matches in the data sections (strings, not code).

        With `words` (lower case; every match of `pattern` lies in one NUL-terminated string
        holding one of them, in any case), the regex runs only on the strings around those
        words' occurrences: a regex of many alternatives is slow across megabytes of data,
        finding literals is not. `^` matches where a section starts (a string at the start of
        .rodata, as musl's linker puts a program's first one)."""
        data, view = self._data, memoryview(self._data)
        for start, end in self.headers.data:
            if not words:
                if pattern.search(view[start:end]):
                    return True
                continue
            lowered = data[start:end].lower()
            for word in words:
                at = lowered.find(word)
                while at >= 0:
                    left = data.rfind(b"\x00", start, start + at)
                    right = data.find(b"\x00", start + at, end)
                    low = left if left >= 0 else start
                    high = right + 1 if right >= 0 else end
                    if pattern.search(view[low:high]):
                        return True
                    at = lowered.find(word, high - start)
        return False

    def offset_of(self, vaddr: int) -> int | None:
        return self.headers.offset_of(vaddr)

    # -- strings ----------------------------------------------------------------

    def _spans(self) -> list[tuple[int, int]]:
        """(start, end) file offsets of the strings: runs of printable bytes (and tab, CR, LF)
        of MIN_STRING or more that a NUL ends, in the data ranges; vectorised, since a
        library holds tens of thousands of them."""
        if self._offsets is None:
            spans: list[tuple[int, int]] = []
            data = self._data
            for start, end in self.headers.data:
                end = min(end, len(data))
                if end - start <= MIN_STRING:
                    continue
                window = np.frombuffer(data, dtype=np.uint8, count=end - start, offset=start)
                edges = np.diff(_PRINTABLE[window].view(np.int8), prepend=0, append=0)
                firsts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
                keep = (stops - firsts >= MIN_STRING) & (stops < len(window))
                keep[keep] = window[stops[keep]] == 0
                spans += zip((firsts[keep] + start).tolist(), (stops[keep] + start).tolist(), strict=True)
            spans.sort(key=lambda span: span[0])
            self._offsets = spans
            mapped = sorted((v, v + b - a) for a, b in spans if (v := self.headers.vaddr_of(a)) is not None)
            self._starts = [a for a, _ in mapped]
            self._ends = [b for _, b in mapped]
        return self._offsets

    @property
    def strings(self) -> list[StringRef]:
        if self._strings is None:
            data, vaddr_of = self._data, self.headers.vaddr_of
            self._strings = [StringRef(a, vaddr_of(a), data[a:b].decode("latin-1")) for a, b in self._spans()]
        return self._strings

    def string_at(self, vaddr: int) -> StringRef | None:
        """The string an address points into (its tail, for a merged string's suffix)."""
        self._spans()       # builds the address index
        i = bisect.bisect_right(self._starts, vaddr) - 1
        if i < 0 or vaddr >= self._ends[i]:
            return None
        offset = self.headers.offset_of(vaddr)
        if offset is None:
            return None
        end = self.headers.offset_of(self._ends[i] - 1)
        if end is None:
            return None
        return StringRef(offset, vaddr, self._data[offset:end + 1].decode("latin-1"))

    def _is_string(self, vaddr: int) -> bool:
        i = bisect.bisect_right(self._starts, vaddr) - 1
        return i >= 0 and vaddr < self._ends[i]

    # -- code -------------------------------------------------------------------

    def quick_refs(self) -> dict[int, tuple[StringRef, list[int]]] | None:
        """Strings that code may load, found without disassembling (x86-64 RIP-relative
        loads, by byte pattern): string offset -> (string, load sites). None where no such
        shortcut exists: ask `xrefs` then."""
        if self._quick is None:
            loads = rip_loads(self.headers, self._data)
            if loads is None:
                return None
            self._spans()       # builds the address index
            sites, targets = loads
            # keep the loads whose target falls inside a string (vectorised: most do not)
            starts = np.array(self._starts, dtype=np.int64)
            ends = np.array(self._ends, dtype=np.int64)
            index = np.searchsorted(starts, targets, side="right") - 1
            inside = (index >= 0) & (targets < ends[np.maximum(index, 0)]) if len(starts) \
                else np.zeros(len(targets), dtype=bool)
            # one string lookup per target, however many sites load it
            sites, targets = sites[inside], targets[inside]
            order = np.argsort(targets, kind="stable")
            unique, first = np.unique(targets[order], return_index=True)
            quick: dict[int, tuple[StringRef, list[int]]] = {}
            groups = np.split(sites[order], first[1:]) if len(unique) else []
            for target, loaders in zip(unique.tolist(), groups, strict=True):
                ref = self.string_at(target)
                if ref is not None:
                    quick[ref.offset] = (ref, loaders.tolist())
            self._quick = quick
        return self._quick

    def quick_calls(self, names: Iterable[str]) -> list[int] | None:
        """Addresses of calls to any of `names`, found without disassembling more than the
        PLT (x86-64 `call rel32` to a stub, `call [rip + slot]`); None elsewhere."""
        if self.headers.arch != "x86-64":
            return None
        return call_sites(self.headers, self._data, self.plt_stubs(), frozenset(names))

    def plt_stubs(self) -> dict[int, str]:
        """PLT stub address -> import name (sweeps the PLT sections alone, once)."""
        if self._stubs is None:
            self._spans()       # builds the address index
            plt = sweep(self.headers, self._data, self._is_string, [])
            self._stubs = plt.stubs if plt else {}
        return self._stubs

    def bounded(self) -> bool:
        """Whether function bounds are known without disassembly (.eh_frame_hdr)."""
        return bool(self.headers.fde_starts)

    def bounds_of(self, address: int) -> int | None:
        """Start of the function holding `address` by .eh_frame_hdr alone (no disassembly)."""
        starts = self.headers.fde_starts
        i = bisect.bisect_right(starts, address) - 1
        return starts[i] if i >= 0 else None

    def focused(self, addresses: Iterable[int]) -> Executable:
        """A view whose `code` covers only the functions holding `addresses` (and the PLT):
        for rules that know from `quick_refs` where to look. Needs `bounded()`."""
        starts = self.headers.fde_starts
        ranges = set()
        for address in addresses:
            i = bisect.bisect_right(starts, address) - 1
            if 0 <= i < len(starts) - 1:
                ranges.add((starts[i], starts[i + 1]))
            elif i == len(starts) - 1:
                end = max((v + size for _, v, _, size in self.headers.code), default=address)
                ranges.add((starts[i], end))
        view = Executable(self.path, self.sha256, self._data, self.headers)
        self._spans()
        view._strings, view._offsets = self._strings, self._offsets
        view._starts, view._ends = self._starts, self._ends
        view._ranges = sorted(ranges)
        view._stubs = self._stubs
        return view

    @property
    def code(self) -> CodeFacts | None:
        """Facts of one disassembly sweep; None for an architecture we do not read."""
        if not self._swept:
            self._spans()       # the sweep asks which addresses are strings
            try:
                with warnings.catch_warnings():     # lief on corrupt headers; see elf.parse
                    warnings.simplefilter("ignore", RuntimeWarning)
                    self._code = sweep(self.headers, self._data, self._is_string, self._ranges,
                                       self._stubs)
            except (CsError, ValueError, IndexError, OverflowError, struct.error) as exc:
                log.debug("%s: code not readable (%s)", self.path, exc)   # malformed: no code facts
                self._code = None
            self._swept = True
            if self._code is not None and self.static and self._ranges is None:
                self._name_wrappers(self._code)
        return self._code

    # -- static programs ----------------------------------------------------------

    @property
    def static(self) -> bool:
        """A program that imports nothing: its libc is inside it, unnamed when stripped."""
        return syscalls.is_static(self.headers)

    def syscall_names(self) -> frozenset[str]:
        """Cheap first pass for a static program: the libc calls (socket, bind, execve, ...)
        whose system call number is loaded right before a trap; no sweep."""
        if self._numbers is None:
            self._numbers = syscalls.numbers(self.headers, self._data)
        return self._numbers

    def _name_wrappers(self, code: CodeFacts) -> None:
        """Name the calls into the syscall wrappers of a static program (firmproof.device.binary.syscalls),
        so that `calls("socket")` answers as for an import."""
        shell = set()
        at = self._data.find(syscalls.SHELL)
        while at >= 0:
            if at and self._data[at - 1] == 0 and (vaddr := self.headers.vaddr_of(at)) is not None:
                shell.add(vaddr)
            at = self._data.find(syscalls.SHELL, at + 1)
        self.function_of(self.headers.entry)        # builds the function starts
        assert self._functions is not None
        canon = syscalls.canonical(self._functions, {c.target for c in code.calls if c.target is not None},
                                   lambda a: syscalls.thunk(self.headers, self._data, a) is not None)
        self._canon = canon
        for index, call in enumerate(code.calls):
            if call.target is not None and (target := canon(call.target)) != call.target:
                code.calls[index] = Call(call.site, call.callee, target, call.args)
        self.wrappers = syscalls.name_wrappers(
            self.headers, code, self.function_of, code.xrefs, shell,
            lambda a: syscalls.thunk(self.headers, self._data, a),
            lambda f, s: syscalls.outgoing(self.headers, self._data, f, s),
            lambda relays: syscalls.tail_calls(self.headers, self._data, self.function_of, relays))
        for index, call in enumerate(code.calls):
            if call.callee is None and call.target in self.wrappers:
                code.calls[index] = Call(call.site, self.wrappers[call.target], call.target, call.args)

    def names(self) -> frozenset[str]:
        """The libc functions the program calls: its imports, or a static program's named wrappers."""
        if self.static:
            self.code  # noqa: B018 - the sweep names the wrappers
            return frozenset(self.wrappers.values())
        return self.headers.imports

    def pure(self, target: int, depth: int = 2) -> bool:
        """Whether a function of a static program reaches no system call within `depth` direct
        calls (strcmp, memcmp: a compare; not fopen, which opens a file)."""
        code = self.code
        if code is None:
            return False
        if self._trapping is None:
            self._trapping = {self.function_of(site) for site, _ in code.syscalls}
        seen, frontier = {target}, {target}
        for _ in range(depth + 1):
            if frontier & self._trapping:
                return False
            frontier = {t for f in frontier for t in self.callees(f)} - seen
            seen |= frontier
        return True

    def callers(self, *names: str) -> dict[int | None, list[Call]]:
        """Function start -> its calls to any of `names`."""
        out: dict[int | None, list[Call]] = {}
        for call in self.calls(*names):
            out.setdefault(self.function_of(call.site), []).append(call)
        return out

    def callees(self, function: int | None) -> set[int]:
        """Direct call targets of the function starting at `function`."""
        code = self.code
        if code is None or function is None:
            return set()
        if self._graph is None:
            graph: dict[int | None, set[int]] = {}
            for call in code.calls:
                if call.target is not None:
                    graph.setdefault(self.function_of(call.site), set()).add(call.target)
            self._graph = graph
        return self._graph.get(function, set())

    def xrefs(self, string_offset: int) -> list[int]:
        """Code addresses that load the address of the string at that file offset."""
        code = self.code
        vaddr = self.headers.vaddr_of(string_offset)
        if code is None or vaddr is None:
            return []
        return sorted({site for site, value in code.xrefs if value == vaddr})

    def calls(self, *names: str) -> list[Call]:
        code = self.code
        if code is None:
            return []
        wanted = set(names)
        return [c for c in code.calls if c.callee is not None and (not wanted or c.callee in wanted)]

    def calls_with_string(self, names: Iterable[str]) -> list[tuple[Call, int, StringRef]]:
        """Calls to any of `names` with a string literal as an argument."""
        out = []
        for call in self.calls(*names):
            for index, value in enumerate(call.args):
                if isinstance(value, int) and (ref := self.string_at(value)) is not None:
                    out.append((call, index, ref))
        return out

    def compares_with_string(self) -> list[tuple[Call, int, StringRef]]:
        """A static program's compares with a string literal, known by what they do, not by
        a name: calls into one of its own functions reaching no system call (`pure`) with a
        literal as one of the first two arguments and no literal as the other (the input; the
        sweep may hold a stale small constant for it, from a path that branched away), as
        strcmp(input, "literal"), memcmp and strstr are; puts(text) reaches write and is not
        one. A call whose system call lies deeper passes too (glibc's fopen(path, "r") at
        -O0): the rules judge the literal as well (a path is no secret). The calls' `callee`
        is None. Empty for a program that imports its libc."""
        code = self.code
        if code is None or not self.static:
            return []
        out = []
        for call in code.calls:
            if call.callee is not None or call.target is None or len(call.args) < 2:
                continue
            for index in (0, 1):
                value, other = call.args[index], call.args[1 - index]
                if isinstance(value, int) and not (isinstance(other, int) and self._is_string(other)) \
                        and (ref := self.string_at(value)) is not None and self.pure(call.target):
                    out.append((call, index, ref))
        return out

    def function_of(self, address: int) -> int | None:
        """Start of the function holding `address`: .eh_frame_hdr and symbols, else symbols
        and the direct call targets."""
        if self._functions is None:
            starts = set(self.headers.functions) | set(self.headers.fde_starts)
            code = self.code
            if code is not None and not self.headers.fde_starts:
                low = min((v for _, v, _, _ in self.headers.code), default=0)
                starts |= {t for t in code.targets if t >= low and t not in code.stubs}
            starts.add(self.headers.entry & ~1)
            self._functions = sorted(starts)
        i = bisect.bisect_right(self._functions, address) - 1
        return self._canon(self._functions[i]) if i >= 0 else None


def _same(address: int) -> int:
    return address


def load(fs: RootFS, path: str) -> Executable | None:
    """The executable model of one file of `fs`; None when it is not an ELF lief reads."""
    data = fs.read(path)
    if data is None or not data.startswith(b"\x7fELF"):
        return None
    sha = fs.sha256(path)
    cached = _CACHE.get(sha)
    if cached is not None:
        _CACHE.move_to_end(sha)
        return cached
    try:
        headers = parse(data)
    except (NotElf, ValueError, TypeError, OverflowError, IndexError):
        return None
    exe = Executable(path, sha, data, headers)
    _CACHE[sha] = exe
    while len(_CACHE) > CACHE_ENTRIES:
        _CACHE.popitem(last=False)
    return exe
