"""Names for the libc functions of a static, stripped program, which imports nothing.

A static program still enters the kernel through small wrapper functions, each loading its
system call's number into a register just before the trap (x86-64 `syscall` with rax, MIPS
`syscall` with $v0, ARM EABI `svc #0` with r7, AArch64 `svc #0` with x8). The sweep notes
every trap with the value of that register; here the function holding it is named after the
call (socket, bind, ..., execve), so that `Executable.calls("socket")` answers as if the
name were imported.

Cancellable calls (accept, connect, read, recvfrom) go through a shared helper whose trap has
no constant number: the wrapper passes the number as an argument. musl passes it first
(`__syscall_cp(nr, a1, ..., a6)`); glibc since 2.41 passes it last, the seventh
(`__syscall_cancel(a1, ..., a6, nr)`, and `__internal_syscall_cancel` alike), which is on the
stack on x86-64 and ARM and in x6 on AArch64. MIPS o32 glibc makes every system call of five
to seven arguments out of line, the number after them (`__mips_syscall6(a1, ..., a6, nr)`:
`lw $v0, 24($sp); syscall`), so recvfrom goes through such a helper even before 2.41; o32
passes the fifth argument on and after at 16($sp) (the four registers' home area is below).
A call into such a helper (a relay), with a known
number where the helper takes it, names its caller; a caller that passes no constant there
forwards the number and is a relay too (`__syscall_cancel` -> `__internal_syscall_cancel` ->
`__syscall_cancel_arch`). Which of the two places a relay reads is decided by its calls: the
one where they pass the most distinct constants.

Two names are derived, not read: `execv` for a function that calls the execve wrapper (the
exec family: execl, execv, execvp), `system` for one that loads "/bin/sh" and reaches a
clone/fork within a few direct or tail calls (system, popen: posix_spawn of `sh -c`).

`numbers` is the cheap first pass: the system call numbers loaded right before each trap,
from a byte scan for the trap and a few instructions disassembled before it, with no sweep.
"""

from __future__ import annotations

import bisect
import functools
import re
from collections.abc import Callable

import capstone as cs
import numpy as np

from firmproof.device.binary.disasm import _X86_REG, SOCKETCALL, Call, CodeFacts, Value, _split
from firmproof.device.binary.elf import ElfHeaders

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
_MIPS64 = {5040: "socket", 5048: "bind", 5049: "listen", 5042: "accept", 5293: "accept4",
           5041: "connect", 5032: "dup2", 5286: "dup3", 5057: "execve", 5044: "recvfrom", 5000: "read",
           5055: "clone", 5435: "clone3", 5056: "fork", 5043: "sendto", 5046: "recvmsg"}    # n64
_AARCH64 = {198: "socket", 200: "bind", 201: "listen", 202: "accept", 242: "accept4", 203: "connect",
            24: "dup3", 221: "execve", 207: "recvfrom", 63: "read", 220: "clone", 435: "clone3",
            206: "sendto", 212: "recvmsg"}
_SOCKETCALL = {1: "socket", 2: "bind", 3: "connect", 4: "listen", 5: "accept", 9: "send", 10: "recv",
               11: "sendto", 12: "recvfrom", 17: "recvmsg", 18: "accept4"}
_I386 = {359: "socket", 361: "bind", 363: "listen", 364: "accept4", 362: "connect", 63: "dup2",
         330: "dup3", 11: "execve", 371: "recvfrom", 3: "read", 120: "clone", 435: "clone3", 2: "fork",
         190: "vfork", 369: "sendto", 372: "recvmsg",
         **{SOCKETCALL << 16 | call: name for call, name in _SOCKETCALL.items()}}
SPAWN = frozenset({"clone", "clone3", "fork", "vfork"})
SHELL = b"/bin/sh\0"
ENDBR64 = b"\xf3\x0f\x1e\xfa"
REACH = 6               # direct calls followed from a `system` candidate to a clone/fork
PREAMBLE = 0x20         # bytes of a preamble before the prologue a sweep sees as a start
WINDOW = 6              # instructions read before a trap by the first pass
NUMBER_AT = (0, 6)      # where a relay takes the number: musl's first argument, glibc's seventh
# MIPS o32 glibc: and after five, six or seven arguments (__mips_syscall5/6/7)
NUMBER_AT_ARCH = {"mips": (0, 5, 6, 7)}
REGISTER_ARGS = {"x86-64": 6, "arm": 4, "aarch64": 8}   # the rest are on the stack
HOME = {"mips": 16}     # o32: stack bytes below the first stack argument (a0-a3's home area)
OUTGOING = 0x400        # bytes of a caller read for the stack arguments of one call
FORWARD = 0x10          # bytes of a function before its jump to a wrapper that it forwards to


def table(headers: ElfHeaders) -> dict[int, str]:
    if headers.arch == "x86-64":
        return _X86_64
    if headers.arch == "arm":
        return _ARM
    if headers.arch == "mips":
        return _MIPS if headers.bits == 32 else _MIPS64
    if headers.arch == "aarch64":
        return _AARCH64
    if headers.arch == "x86":
        return _I386
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
        if headers.arch == "x86":
            found |= _i386_numbers(code, names)
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
    """x86-64: `mov eax, imm32` (B8 imm32) or `xor eax, eax` within 16 bytes before `syscall`,
    or `mov r32, imm32` then `mov rax, r64` (musl 1.2.5's dup2 loops on EBUSY: the number is
    kept in edx, copied to rax before each try) within 32."""
    found: set[str] = set()
    buf = np.frombuffer(code, dtype=np.uint8)
    if len(buf) < 8:
        return found
    sites = np.flatnonzero((buf[:-1] == 0x0F) & (buf[1:] == 0x05))
    for site in sites.tolist():
        mov = 0xB8                  # mov eax, imm32; or mov <the register rax is copied from>
        for back in range(2, 33):
            at = site - back
            if at < 0 or (back > 16 and mov == 0xB8):
                break
            if mov == 0xB8 and code[at:at + 2] == b"\x31\xc0" and 0 in names:       # xor eax, eax
                found.add(names[0])
                break
            if mov == 0xB8 and back == 3 and code[at:at + 2] == b"\x48\x89" and code[at + 2] & 0xC7 == 0xC0:
                mov = 0xB8 + ((code[at + 2] >> 3) & 7)     # mov rax, r64 just before the trap
                continue
            if back >= 5 and code[at] == mov:
                value = int.from_bytes(code[at + 1:at + 5], "little")
                if value in names:
                    found.add(names[value])
                    break
    return found


_I386_TRAPS = (b"\x65\xff\x15\x10\x00\x00\x00", b"\xcd\x80")     # call *%gs:0x10, int 0x80
SOCKETCALL_REACH = 96   # bytes before the trap where i386's socket wrappers set ebx (the call)


def _i386_numbers(code: bytes, names: dict[int, str]) -> set[str]:
    """i386: `mov eax, imm32` within 16 bytes before the trap (glibc's `call *%gs:0x10` or
    `int 0x80`); for socketcall, the call from the last `mov ebx, imm32` before it."""
    found: set[str] = set()
    for trap in _I386_TRAPS:
        site = code.find(trap)
        while site >= 0:
            number = next((int.from_bytes(code[at + 1:at + 5], "little")
                           for at in range(site - 5, max(-1, site - 17), -1) if code[at] == 0xB8), None)
            if number == SOCKETCALL:
                number = next((SOCKETCALL << 16 | int.from_bytes(code[at + 1:at + 5], "little")
                               for at in range(site - 5, max(-1, site - SOCKETCALL_REACH), -1)
                               if code[at] == 0xBB), None)
            if number in names:
                found.add(names[number])
            site = code.find(trap, site + 1)
    return found


def _md(headers: ElfHeaders) -> cs.Cs:
    little = cs.CS_MODE_LITTLE_ENDIAN if headers.endian == "little" else cs.CS_MODE_BIG_ENDIAN
    if headers.arch == "arm":
        return cs.Cs(cs.CS_ARCH_ARM, cs.CS_MODE_ARM | little)
    if headers.arch == "aarch64":
        return cs.Cs(cs.CS_ARCH_ARM64, cs.CS_MODE_ARM)
    return cs.Cs(cs.CS_ARCH_MIPS, (cs.CS_MODE_MIPS32 if headers.bits == 32 else cs.CS_MODE_MIPS64) | little)


_NUMBER_REG = {"arm": ("r7",), "aarch64": ("x8", "w8"), "mips": ("$v0",)}


def _word(code: bytes, shift: int, little: bool, address: int) -> int | None:
    at = address + shift
    if at < 0 or at + 4 > len(code):
        return None
    return int.from_bytes(code[at:at + 4], "little" if little else "big")


def _last_number(md: cs.Cs, arch: str, code: bytes, vaddr: int,
                 word: Callable[[int], int | None], regs: tuple[str, ...] = ()) -> int | None:
    """The value the number register (or `regs`) last gets in `code` (mov/li, add, ARM's
    literal pool)."""
    value: int | None = None
    regs = regs or _NUMBER_REG[arch]
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
                (mnemonic in ("addiu", "daddiu", "ori") and len(parts) == 3 and parts[1] == "$zero"):
            try:
                value = int(imm, 0)
            except ValueError:
                value = None
    return value


def canonical(starts: list[int], targets: set[int],
              whole: Callable[[int], bool] = lambda _: False) -> Callable[[int], int]:
    """A function's start as its callers see it: without .eh_frame_hdr the sweep's starts are
    call targets and prologues, and a function that loads its GOT base before `push {.., lr}`
    (ARM) has both; the prologue, when no call goes to it, belongs to the call target before.
    Not for a function that is `whole` (musl's `__syscall_cp`, endbr64 and a jmp, is followed
    within PREAMBLE bytes by the next function's endbr64)."""
    def canon(address: int) -> int:
        i = bisect.bisect_right(starts, address)
        if i < len(starts) and starts[i] - address <= PREAMBLE and starts[i] not in targets \
                and not whole(address):
            return starts[i]
        return address
    return canon


def thunk(headers: ElfHeaders, data: bytes, address: int) -> int | None:
    """x86-64: where a function that is one `jmp` goes (musl's `__syscall_cp` -> `sccp`),
    after an `endbr64`."""
    if headers.arch != "x86-64":
        return None
    offset = headers.offset_of(address)
    if offset is None or offset + 9 > len(data):
        return None
    if data[offset:offset + 4] == ENDBR64:      # built for CET (musl 1.2.5 in Debian 13)
        offset, address = offset + 4, address + 4
    if data[offset] == 0xE9:
        return address + 5 + int.from_bytes(data[offset + 1:offset + 5], "little", signed=True)
    if data[offset] == 0xEB:
        return address + 2 + int.from_bytes(data[offset + 1:offset + 2], "little", signed=True)
    return None


def name_wrappers(headers: ElfHeaders, facts: CodeFacts, function_of: Callable[[int], int | None],
                  string_xrefs: list[tuple[int, int]], shell_vaddrs: set[int],
                  jumps: Callable[[int], int | None] = lambda _: None,
                  stack_args: Callable[[int, int], dict[int, Value]] = lambda _f, _s: {},
                  tails: Callable[[set[int]], list[Call]] = lambda _: []) -> dict[int, str]:
    """Function start -> libc name, for the wrappers of a static program (see the module);
    `function_of` gives canonical starts, and call targets are made canonical here;
    `stack_args(function, site)` the stack arguments of a call (`outgoing`), `tails(relays)`
    the tail calls into relays (`tail_calls`)."""
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
    # cancellable calls: `__syscall_cp(SYS_connect, ...)` (musl), `__syscall_cancel(..., SYS_connect)`
    # (glibc), maybe through a jump or more helpers
    for target in {c.target for c in facts.calls if c.target is not None}:
        if (to := jumps(target)) is not None and function_of(to) in relays:
            relays.add(target)
    calls = facts.calls + tails(relays)
    passed = _Numbers(headers, calls, function_of, stack_args)
    for _ in range(3):
        callers = {function_of(c.site) for c in calls
                   if c.target in relays and passed(c) not in names}
        relays |= {f for f in callers if f is not None and f not in named}
        if more := [c for c in tails(relays) if c not in calls]:
            calls += more
            passed = _Numbers(headers, calls, function_of, stack_args)
    for c in calls:
        if c.target in relays and (value := passed(c)) in names:
            function = function_of(c.site)
            if function is not None and function not in named and function not in relays:
                named[function] = names[value]
    # a small function that ends in a jump to a wrapper is that call (musl: recv is
    # `recvfrom(fd, buf, len, flags, 0, 0)`, two register clears and a jmp)
    for c in tails(set(named)):
        function = function_of(c.site)
        if function is not None and function not in named and c.site - function <= FORWARD \
                and c.target is not None:
            named[function] = named[c.target]
    # derived: the exec family, and system()/popen()
    graph: dict[int, set[int]] = {}
    execve = {f for f, n in named.items() if n == "execve"}
    for c in facts.calls + tails(execve):
        function = function_of(c.site)
        if function is not None and c.target is not None:
            graph.setdefault(function, set()).add(c.target)
    for function, targets in graph.items():
        if function not in named and targets & execve:
            named[function] = "execv"
    called = {c.target for c in facts.calls if c.target is not None}
    shells = {function_of(site) for site, value in string_xrefs if value in shell_vaddrs}
    spawning = _reaching(graph, tails, function_of, {f for f, n in named.items() if n in SPAWN})
    for function in shells:
        if function is not None and function not in named and function in called and function in spawning:
            named[function] = "system"
    # system() itself may be a small function around the one that loads "/bin/sh" (do_system)
    systems = {f for f, n in named.items() if n == "system"}
    for function, targets in graph.items():
        if function not in named and function in called and targets & systems and len(targets) <= 3:
            named[function] = "system"
    return named


def _reaching(graph: dict[int, set[int]], tails: Callable[[set[int]], list[Call]],
              function_of: Callable[[int], int | None], spawn: set[int]) -> set[int]:
    """The functions that reach one of `spawn` within REACH calls, tail calls (a jump to a
    function's start) included: AArch64 glibc's system is do_system -> posix_spawn -> (b)
    __spawni -> (b) __spawnix -> __clone_internal -> (b) __clone."""
    callers: dict[int, set[int]] = {}
    for function, targets in graph.items():
        for target in targets:
            callers.setdefault(target, set()).add(function)
    reached, frontier = set(spawn), set(spawn)
    for _ in range(REACH):
        frontier = ({f for t in frontier for f in callers.get(t, ())}
                    | {f for c in tails(frontier) if (f := function_of(c.site)) is not None}) - reached
        if not frontier:
            break
        reached |= frontier
    return reached - spawn


class _Numbers:
    """The system call number a call into a relay passes: at the relay's place for it (one of
    NUMBER_AT), read from the argument registers or, past them, the stack (`outgoing`)."""

    def __init__(self, headers: ElfHeaders, calls: list[Call], function_of: Callable[[int], int | None],
                 stack_args: Callable[[int, int], dict[int, Value]]) -> None:
        self.names = table(headers)
        # i386 passes every argument on the stack, and the sweep reads them (Call.args)
        self.registers = REGISTER_ARGS.get(headers.arch, 4) if headers.arch != "x86" else 1 << 8
        self.socketcall = headers.arch == "x86"
        self.word = headers.bits // 8
        self.home = HOME.get(headers.arch, 0)
        self.number_at = NUMBER_AT_ARCH.get(headers.arch, NUMBER_AT)
        self.function_of = function_of
        self.stack_args = stack_args
        self.into: dict[int, list[Call]] = {}
        for c in calls:
            if c.target is not None:
                self.into.setdefault(c.target, []).append(c)
        self.place: dict[int, int] = {}
        self.stacks: dict[int, dict[int, Value]] = {}

    def __call__(self, call: Call) -> int | None:
        if call.target is None:
            return None
        place = self.place.get(call.target)
        if place is None:
            place = self.place[call.target] = self._place(call.target)
        value = self._at(call, place)
        if value == SOCKETCALL and self.socketcall:     # i386: the call is the next argument
            call_of = self._at(call, 1 if place == 0 else 0)
            value = SOCKETCALL << 16 | call_of if isinstance(call_of, int) else None
        return value if isinstance(value, int) else None

    def _place(self, relay: int) -> int:
        """The argument where the calls into `relay` pass the most distinct constants (the
        number differs from call to call, a padding argument does not; then the most
        constants; then the first place)."""
        def score(place: int) -> tuple[int, int]:
            values = [v for c in self.into.get(relay, ()) if isinstance(v := self._at(c, place), int)]
            return len(set(values)), len(values)
        return max(self.number_at, key=lambda place: (score(place), -place))

    def _at(self, call: Call, place: int) -> Value:
        if place < self.registers:
            return call.args[place] if place < len(call.args) else None
        stack = self.stacks.get(call.site)
        if stack is None:
            function = self.function_of(call.site)
            stack = self.stack_args(function, call.site) if function is not None else {}
            self.stacks[call.site] = stack
        return stack.get(self.home + (place - self.registers) * self.word)


def outgoing(headers: ElfHeaders, data: bytes, function: int, site: int) -> dict[int, Value]:
    """The constants a call at `site` passes on the stack: offset from the stack pointer at the
    call -> value, read from `function`'s start (x86-64: pushes and `mov [rsp + N]`; ARM:
    `str`/`stm` to sp of values from `mov`, `ldr` of the literal pool; MIPS o32: `sw` to $sp
    of values from `li`/`addiu`/`ori`/`move`, the call's delay slot included). Empty elsewhere."""
    mips = headers.arch == "mips" and headers.bits == 32
    if (headers.arch not in ("x86-64", "arm") and not mips) or (headers.arch == "arm" and headers.thumb):
        return {}
    start = function if headers.arch == "x86-64" else max(function, site - OUTGOING) & ~3
    if site - start > OUTGOING or site <= start:
        return {}
    offset = headers.offset_of(start)
    if offset is None:
        return {}
    if mips:        # the delay slot runs before the call
        return _outgoing_mips(headers, data[offset:offset + (site - start) + 8], start, site)
    code = data[offset:offset + (site - start)]
    if headers.arch == "x86-64":
        return _outgoing_x86_64(code, start)
    return _outgoing_arm(headers, code, start, lambda at: _literal(headers, data, at))


def _shift(memory: dict[int, Value], by: int) -> dict[int, Value]:
    return {at + by: v for at, v in memory.items() if at + by >= 0}


_X86_SP = re.compile(r"^qword ptr \[rsp(?: \+ (0x[0-9a-f]+|\d+))?\]$")


def _outgoing_x86_64(code: bytes, vaddr: int) -> dict[int, Value]:
    md = cs.Cs(cs.CS_ARCH_X86, cs.CS_MODE_64)
    memory: dict[int, Value] = {}
    regs: dict[str, Value] = {}

    def value(text: str) -> Value:
        if (reg := _X86_REG.get(text)) is not None:
            return regs.get(reg)
        try:
            return int(text, 0)
        except ValueError:
            return None

    for _, _, mnemonic, ops in md.disasm_lite(code, vaddr):
        parts = ops.split(", ") if ops else []
        if mnemonic == "push" and len(parts) == 1:
            memory = _shift(memory, 8)
            memory[0] = value(parts[0])
        elif mnemonic == "pop":
            memory = _shift(memory, -8)
            if parts:
                regs.pop(_X86_REG.get(parts[0], parts[0]), None)
        elif mnemonic in ("sub", "add") and len(parts) == 2 and parts[0] == "rsp":
            by = value(parts[1])
            memory = _shift(memory, (by if mnemonic == "sub" else -by)) if isinstance(by, int) else {}
        elif mnemonic.startswith(("call", "bnd call", "notrack call")):
            memory, regs = {}, {}
        elif mnemonic == "mov" and len(parts) == 2 and (m := _X86_SP.match(parts[0])):
            memory[int(m.group(1) or "0", 0)] = value(parts[1])
        elif parts and (dest := _X86_REG.get(parts[0])) is not None:
            if dest == "rsp":
                memory = {}
            if mnemonic == "mov" and len(parts) == 2:
                regs[dest] = value(parts[1])
            elif mnemonic == "xor" and len(parts) == 2 and _X86_REG.get(parts[1]) == dest:
                regs[dest] = 0
            else:
                regs.pop(dest, None)
    return memory


_ARM_SP = re.compile(r"^\[sp(?:, #(-?(?:0x[0-9a-f]+|\d+)))?\]$")


def _literal(headers: ElfHeaders, data: bytes, address: int) -> int | None:
    offset = headers.offset_of(address)
    if offset is None or offset + 4 > len(data):
        return None
    return int.from_bytes(data[offset:offset + 4], "little" if headers.endian == "little" else "big")


def _outgoing_arm(headers: ElfHeaders, code: bytes, vaddr: int,
                  word: Callable[[int], int | None]) -> dict[int, Value]:
    md = _md(headers)
    memory: dict[int, Value] = {}
    regs: dict[str, Value] = {}
    for address, _, mnemonic, ops in md.disasm_lite(code, vaddr):
        parts = _split(ops)
        if not parts:
            continue
        if mnemonic.startswith("bl") or mnemonic in ("blx", "bx"):
            memory, regs = {}, {}
        elif mnemonic == "str" and len(parts) == 2 and (m := _ARM_SP.match(parts[1])):
            memory[int(m.group(1) or "0", 0)] = regs.get(parts[0])
        elif mnemonic == "strd" and len(parts) == 3 and (m := _ARM_SP.match(parts[2])):
            at = int(m.group(1) or "0", 0)
            memory[at], memory[at + 4] = regs.get(parts[0]), regs.get(parts[1])
        elif mnemonic in ("stm", "stmia", "stmea", "stmib", "stmfa") and parts[0] == "sp" and len(parts) == 2:
            first = 4 if mnemonic in ("stmib", "stmfa") else 0
            for i, reg in enumerate(parts[1].strip("{}").split(", ")):
                memory[first + 4 * i] = regs.get(reg)
        elif mnemonic in ("push", "stmdb", "stmfd") or (mnemonic == "str" and parts[-1] == "[sp, #-4]!"):
            count = len(parts[-1].strip("{}").split(", ")) if mnemonic != "str" else 1
            memory = _shift(memory, 4 * count)
        elif mnemonic in ("pop", "ldm", "ldmia", "ldmfd") or (mnemonic == "ldr" and "[sp], #" in ops):
            memory = {}
            regs = {}
        elif mnemonic in ("sub", "add") and parts[:2] == ["sp", "sp"] and len(parts) == 3:
            try:
                by = int(parts[2].lstrip("#"), 0)
            except ValueError:
                memory = {}
                continue
            memory = _shift(memory, by if mnemonic == "sub" else -by)
        elif mnemonic in ("mov", "movw") and len(parts) == 2 and parts[1].startswith("#"):
            regs[parts[0]] = int(parts[1][1:], 0)
        elif mnemonic == "ldr" and len(parts) == 2 and parts[1].startswith("[pc"):
            at = address + 8 + int(parts[1][len("[pc, #"):].rstrip("]") or "0", 0)
            regs[parts[0]] = word(at)
        elif not mnemonic.startswith(("cmp", "cmn", "tst", "teq", "b", "nop", "str", "stm", "push")):
            regs.pop(parts[0], None)
            if parts[0] == "sp":
                memory = {}
    return memory


_MIPS_NO_WRITE = frozenset({"sb", "sh", "sw", "swl", "swr", "sc", "swc1", "sdc1", "sync", "syscall", "nop",
                            "teq", "tne", "break", "pref", "cache", "mthi", "mtlo", "mtc1"})
_MIPS_SP = re.compile(r"^(-?(?:0x[0-9a-f]+|\d+))?\(\$sp\)$")


def _outgoing_mips(headers: ElfHeaders, code: bytes, vaddr: int, site: int) -> dict[int, Value]:
    """MIPS o32: the stores to the outgoing argument area before the call at `site` and in its
    delay slot (`li $v0, 4176; sw $v0, 24($sp)` in glibc's recvfrom, before __mips_syscall6)."""
    md = _md(headers)
    memory: dict[int, Value] = {}
    regs: dict[str, Value] = {"$zero": 0}
    for address, _, mnemonic, ops in md.disasm_lite(code, vaddr):
        if address > site + 4:
            break
        parts = ops.split(", ") if ops else []
        if address < site and mnemonic in ("jal", "jalr", "bal", "bgezal", "jalr.hb"):
            memory, regs = {}, {"$zero": 0}     # the delay slot is read next, after the reset
            continue
        if address == site:
            continue
        if mnemonic == "sw" and len(parts) == 2 and (m := _MIPS_SP.match(parts[1])):
            memory[int(m.group(1) or "0", 0)] = regs.get(parts[0])
            continue
        if not parts or mnemonic[:1] in ("b", "j") or mnemonic in _MIPS_NO_WRITE:
            continue
        dest = parts[0]
        if dest == "$sp":
            memory = {}
            continue
        value: Value = None
        try:
            if mnemonic == "li" and len(parts) == 2:
                value = int(parts[1], 0)
            elif mnemonic in ("addiu", "ori") and len(parts) == 3 \
                    and isinstance(base := regs.get(parts[1]), int):
                imm = int(parts[2], 0)
                value = (base | imm if mnemonic == "ori" else base + imm) & 0xFFFFFFFF
            elif mnemonic == "lui" and len(parts) == 2:
                value = int(parts[1], 0) << 16
            elif mnemonic == "move" and len(parts) == 2:
                value = regs.get(parts[1])
        except ValueError:
            value = None
        regs[dest] = value
    return memory


_A64_ARGS = tuple((f"x{i}", f"w{i}") for i in range(8))


def tail_calls(headers: ElfHeaders, data: bytes, function_of: Callable[[int], int | None],
               targets: set[int]) -> list[Call]:
    """The tail calls into `targets` (a jump to the start of another function), which the sweep
    does not see as calls: AArch64 `b`, with the argument registers' values set in the few
    instructions before (glibc's `recv` ends in `mov x6, #SYS_recvfrom; b __syscall_cancel`);
    x86-64 `jmp rel32`, without them (musl's `execv` jumps to `execve`); MIPS `b` (glibc n64's
    posix_spawn ends in `b __spawni`), without them. An AArch64 or MIPS `b` (a decoded
    instruction, not a byte pattern) counts wherever it lands in a target: a leaf without a
    prologue that no call reaches has no start of its own in the sweep (glibc's `__clone`,
    entered by `b` from `__clone_internal`, reads as the end of the function before)."""
    if headers.arch not in ("aarch64", "x86-64", "mips") or not targets:
        return []
    md = _md(headers) if headers.arch == "aarch64" else None
    exact = headers.arch == "x86-64"
    near = {t - back for t in targets for back in range(PREAMBLE + 1)} if exact else set()
    wanted = np.fromiter(near, dtype=np.int64, count=len(near))      # x86-64: canonical starts
    out: list[Call] = []
    for _, vaddr, offset, size in headers.code:
        code = data[offset:offset + size]
        if headers.arch == "aarch64":
            usable = len(code) - len(code) % 4
            words = np.frombuffer(code, dtype="<u4", count=usable // 4)
            hits = np.flatnonzero((words & 0xFC000000) == 0x14000000)
            imm = (words[hits] & 0x03FFFFFF).astype(np.int64)
            goes = vaddr + 4 * hits.astype(np.int64) + 4 * np.where(imm & 0x02000000, imm - 0x04000000, imm)
            sites = vaddr + 4 * hits.astype(np.int64)
        elif headers.arch == "mips":     # `b`: beq $zero, $zero, after its delay slot
            usable = len(code) - len(code) % 4
            order = "<u4" if headers.endian == "little" else ">u4"
            words = np.frombuffer(code, dtype=order, count=usable // 4)
            hits = np.flatnonzero((words & 0xFFFF0000) == 0x10000000)
            imm = (words[hits] & 0xFFFF).astype(np.int64)
            sites = vaddr + 4 * hits.astype(np.int64)
            goes = sites + 4 + 4 * np.where(imm & 0x8000, imm - 0x10000, imm)
        else:
            buf = np.frombuffer(code, dtype=np.uint8)
            hits = np.flatnonzero(buf[:-4] == 0xE9) if len(buf) > 4 else np.zeros(0, dtype=np.int64)
            rel = np.zeros(len(hits), dtype=np.int64)
            for i in range(4):
                rel |= buf[hits + 1 + i].astype(np.int64) << (8 * i)
            rel = np.where(rel & 0x80000000, rel - 0x100000000, rel)
            sites = vaddr + hits.astype(np.int64)
            goes = sites + 5 + rel
        keep = np.isin(goes, wanted) if exact else np.ones(len(goes), dtype=bool)
        for site, goes_to in zip(sites[keep].tolist(), goes[keep].tolist(), strict=True):
            target = function_of(goes_to)
            if target not in targets or function_of(site) == target:
                continue
            args: tuple[Value, ...] = ()
            if md is not None:
                at = site - vaddr
                window = code[max(0, at - 4 * WINDOW):at]
                word = functools.partial(_word, code, -vaddr, True)
                args = tuple(_last_number(md, "aarch64", window, site - len(window), word, regs)
                             for regs in _A64_ARGS)
            out.append(Call(site, None, target, args))
    return out
