"""Names for the libc functions of a static, stripped program, which imports nothing.

A static program still enters the kernel through small wrapper functions, each loading its
system call's number into a register just before the trap (x86-64 `syscall` with rax, MIPS
`syscall` with $v0, ARM EABI `svc #0` with r7, AArch64 `svc #0` with x8). The sweep notes
every trap with the value of that register; here the function holding it is named after the
call (socket, bind, ..., execve), so that `Executable.calls("socket")` answers as if the
name were imported. musl's cancellable calls (accept, connect, recvfrom) pass the number as
the first argument of a shared helper (`__syscall_cp`): a call into a function whose trap
has no constant number, with a known number as its first argument, names its caller.

Two names are derived, not read: `execv` for a function that calls the execve wrapper (the
exec family: execl, execv, execvp), `system` for one that loads "/bin/sh" and reaches a
clone/fork within a few direct calls (system, popen: posix_spawn of `sh -c`).

`numbers` is the cheap first pass: the system call numbers loaded right before each trap,
from a byte scan for the trap and a few instructions disassembled before it, with no sweep.
"""

from __future__ import annotations

import bisect
import functools
from collections.abc import Callable

import capstone as cs
import numpy as np

from firmproof.binary.disasm import CodeFacts
from firmproof.binary.elf import ElfHeaders

# arch (and bits) -> number -> name, for the calls the rules reason about
_X86_64 = {41: "socket", 49: "bind", 50: "listen", 43: "accept", 288: "accept4", 42: "connect",
           33: "dup2", 292: "dup3", 59: "execve", 45: "recvfrom", 0: "read", 56: "clone",
           435: "clone3", 57: "fork", 58: "vfork", 44: "sendto", 47: "recvmsg"}
_ARM = {281: "socket", 282: "bind", 284: "listen", 285: "accept", 366: "accept4", 283: "connect",
        63: "dup2", 358: "dup3", 11: "execve", 292: "recvfrom", 291: "recv", 3: "read", 120: "clone",
        435: "clone3", 2: "fork", 190: "vfork", 290: "sendto", 297: "recvmsg"}
_MIPS = {4183: "socket", 4169: "bind", 4174: "listen", 4168: "accept", 4334: "accept4",
         4170: "connect", 4063: "dup2", 4327: "dup3", 4011: "execve", 4176: "recvfrom",
         4175: "recv", 4003: "read", 4120: "clone", 4435: "clone3", 4002: "fork", 4180: "sendto",
         4177: "recvmsg"}
_AARCH64 = {198: "socket", 200: "bind", 201: "listen", 202: "accept", 242: "accept4", 203: "connect",
            24: "dup3", 221: "execve", 207: "recvfrom", 63: "read", 220: "clone", 435: "clone3",
            206: "sendto", 212: "recvmsg"}
SPAWN = frozenset({"clone", "clone3", "fork", "vfork"})
SHELL = b"/bin/sh\0"
REACH = 6               # direct calls followed from a `system` candidate to a clone/fork
PREAMBLE = 0x20         # bytes of a preamble before the prologue a sweep sees as a start
WINDOW = 6              # instructions read before a trap by the first pass


def table(headers: ElfHeaders) -> dict[int, str]:
    if headers.arch == "x86-64":
        return _X86_64
    if headers.arch == "arm":
        return _ARM
    if headers.arch == "mips" and headers.bits == 32:
        return _MIPS
    if headers.arch == "aarch64":
        return _AARCH64
    return {}


def is_static(headers: ElfHeaders) -> bool:
    return headers.is_program and not headers.imports and not headers.needed


def numbers(headers: ElfHeaders, data: bytes) -> frozenset[str]:
    """Names of the system calls whose number is loaded just before a trap (first pass: a
    byte scan for the trap instruction, then a few instructions before each one)."""
    names = table(headers)
    if not names:
        return frozenset()
    found: set[str] = set()
    little = headers.endian == "little"
    for _, vaddr, offset, size in headers.code:
        code = data[offset:offset + size]
        if headers.arch == "x86-64":
            found |= _x86_numbers(code, names)
            continue
        trap = {"arm": 0xEF000000, "aarch64": 0xD4000001, "mips": 0x0000000C}[headers.arch]
        usable = len(code) - len(code) % 4
        if usable < 8:
            continue
        words = np.frombuffer(code, dtype="<u4" if little else ">u4", count=usable // 4)
        hits = np.flatnonzero(words == trap)
        if not len(hits):
            continue
        md = _md(headers)
        for hit in hits.tolist():
            start = max(0, hit - WINDOW)
            value = _last_number(md, headers.arch, code[4 * start:4 * hit + 4], vaddr + 4 * start,
                                 functools.partial(_word, code, -vaddr, little))
            if value is not None and value in names:
                found.add(names[value])
    return frozenset(found)


def _x86_numbers(code: bytes, names: dict[int, str]) -> set[str]:
    """x86-64: `mov eax, imm32` (B8 imm32) or `xor eax, eax` within 16 bytes before `syscall`."""
    found: set[str] = set()
    buf = np.frombuffer(code, dtype=np.uint8)
    if len(buf) < 8:
        return found
    sites = np.flatnonzero((buf[:-1] == 0x0F) & (buf[1:] == 0x05))
    for site in sites.tolist():
        for back in range(2, 17):
            at = site - back
            if at < 0:
                break
            if code[at:at + 2] == b"\x31\xc0" and 0 in names:       # xor eax, eax
                found.add(names[0])
                break
            if back >= 5 and code[at] == 0xB8:                      # mov eax, imm32
                value = int.from_bytes(code[at + 1:at + 5], "little")
                if value in names:
                    found.add(names[value])
                    break
    return found


def _md(headers: ElfHeaders) -> cs.Cs:
    little = cs.CS_MODE_LITTLE_ENDIAN if headers.endian == "little" else cs.CS_MODE_BIG_ENDIAN
    if headers.arch == "arm":
        return cs.Cs(cs.CS_ARCH_ARM, cs.CS_MODE_ARM | little)
    if headers.arch == "aarch64":
        return cs.Cs(cs.CS_ARCH_ARM64, cs.CS_MODE_ARM)
    return cs.Cs(cs.CS_ARCH_MIPS, cs.CS_MODE_MIPS32 | little)


_NUMBER_REG = {"arm": ("r7",), "aarch64": ("x8", "w8"), "mips": ("$v0",)}


def _word(code: bytes, shift: int, little: bool, address: int) -> int | None:
    at = address + shift
    if at < 0 or at + 4 > len(code):
        return None
    return int.from_bytes(code[at:at + 4], "little" if little else "big")


def _last_number(md: cs.Cs, arch: str, code: bytes, vaddr: int,
                 word: Callable[[int], int | None]) -> int | None:
    """The value the number register last gets in `code` (mov/li, add, ARM's literal pool)."""
    value: int | None = None
    regs = _NUMBER_REG[arch]
    for address, _, mnemonic, ops in md.disasm_lite(code, vaddr):
        parts = ops.split(", ")
        if not parts or parts[0] not in regs:
            continue
        if arch == "arm" and mnemonic == "ldr" and ops.startswith(parts[0] + ", [pc, #"):
            try:
                value = word(address + 8 + int(ops[len(parts[0] + ", [pc, #"):].rstrip("]"), 0))
            except ValueError:
                value = None
            continue
        imm = parts[-1].lstrip("#")
        if mnemonic == "add" and len(parts) == 3 and parts[1] == parts[0] and value is not None:
            try:
                value += int(imm, 0)
            except ValueError:
                value = None
            continue
        value = None
        if (mnemonic in ("mov", "movw", "li", "movz") and len(parts) == 2) or \
                (mnemonic in ("addiu", "ori") and len(parts) == 3 and parts[1] == "$zero"):
            try:
                value = int(imm, 0)
            except ValueError:
                value = None
    return value


def canonical(starts: list[int], targets: set[int]) -> Callable[[int], int]:
    """A function's start as its callers see it: without .eh_frame_hdr the sweep's starts are
    call targets and prologues, and a function that loads its GOT base before `push {.., lr}`
    (ARM) has both; the prologue, when no call goes to it, belongs to the call target before."""
    def canon(address: int) -> int:
        i = bisect.bisect_right(starts, address)
        if i < len(starts) and starts[i] - address <= PREAMBLE and starts[i] not in targets:
            return starts[i]
        return address
    return canon


def thunk(headers: ElfHeaders, data: bytes, address: int) -> int | None:
    """x86-64: where a function that is one `jmp` goes (musl's `__syscall_cp` -> `sccp`)."""
    if headers.arch != "x86-64":
        return None
    offset = headers.offset_of(address)
    if offset is None or offset + 5 > len(data):
        return None
    if data[offset] == 0xE9:
        return address + 5 + int.from_bytes(data[offset + 1:offset + 5], "little", signed=True)
    if data[offset] == 0xEB:
        return address + 2 + int.from_bytes(data[offset + 1:offset + 2], "little", signed=True)
    return None


def name_wrappers(headers: ElfHeaders, facts: CodeFacts, function_of: Callable[[int], int | None],
                  string_xrefs: list[tuple[int, int]], shell_vaddrs: set[int],
                  jumps: Callable[[int], int | None] = lambda _: None) -> dict[int, str]:
    """Function start -> libc name, for the wrappers of a static program (see the module);
    `function_of` gives canonical starts, and call targets are made canonical here."""
    names = table(headers)
    named: dict[int, str] = {}
    relays: set[int] = set()
    for site, number in sorted(facts.syscalls, key=lambda s: s[0]):
        function = function_of(site)
        if function is None:
            continue
        if isinstance(number, int):
            if number in names and function not in named:
                named[function] = names[number]
        else:
            relays.add(function)
    # musl: `__syscall_cp(SYS_connect, ...)`, maybe through a jump or one more helper
    for target in {c.target for c in facts.calls if c.target is not None}:
        if (to := jumps(target)) is not None and function_of(to) in relays:
            relays.add(target)
    for _ in range(2):
        callers = {function_of(c.site) for c in facts.calls
                   if c.target in relays and not (c.args and isinstance(c.args[0], int))}
        relays |= {f for f in callers if f is not None and f not in named}
    for c in facts.calls:
        if c.target in relays and c.args and isinstance(c.args[0], int) and c.args[0] in names:
            function = function_of(c.site)
            if function is not None and function not in named and function not in relays:
                named[function] = names[c.args[0]]
    # derived: the exec family, and system()/popen()
    graph: dict[int, set[int]] = {}
    for c in facts.calls:
        function = function_of(c.site)
        if function is not None and c.target is not None:
            graph.setdefault(function, set()).add(c.target)
    execve = {f for f, n in named.items() if n == "execve"}
    for function, targets in graph.items():
        if function not in named and targets & execve:
            named[function] = "execv"
    spawn = {f for f, n in named.items() if n in SPAWN}
    called = {c.target for c in facts.calls if c.target is not None}
    shells = {function_of(site) for site, value in string_xrefs if value in shell_vaddrs}
    for function in shells:
        if function is None or function in named or function not in called:
            continue
        seen, frontier = {function}, {function}
        for _ in range(REACH):
            frontier = {t for f in frontier for t in graph.get(f, ())} - seen
            if frontier & spawn:
                named[function] = "system"
                break
            seen |= frontier
    # system() itself may be a small function around the one that loads "/bin/sh" (do_system)
    systems = {f for f, n in named.items() if n == "system"}
    for function, targets in graph.items():
        if function not in named and function in called and targets & systems and len(targets) <= 3:
            named[function] = "system"
    return named
