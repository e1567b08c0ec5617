"""The code side of the executable model: one linear sweep with capstone per code section,
tracking which registers hold known constants, the way an analyst reads a listing.

For every instruction that puts an address into a register we see whether the address
falls in a string (an xref); for every call we note the callee (an import's name when the
call goes through a GOT slot or a PLT stub) and the values of the argument registers.

How addresses of strings reach registers, per architecture:
- MIPS: `lui`+`addiu`/`ori` pairs; `lw rX, off($gp)` from the GOT (local entries hold
  page addresses, completed by an `addiu`); `$gp` is `_gp` (DT_PLTGOT + 0x7ff0; in a static
  program, which has no dynamic section but is still abicalls code, .reginfo's ri_gp_value,
  and its GOT holds final addresses). Calls are `lw $t9, off($gp); jalr $t9` (or `bal` where
  the linker relaxed it), and the branch delay slot runs before the call.
- ARM: literal pools (`ldr rX, [pc, #imm]`, plus `add rX, pc, rX` in PIC code), `movw`/`movt`.
- AArch64: `adrp`+`add`, `adr`, `ldr` from a known address.
- x86-64: RIP-relative `lea`/`mov`; x86: absolute `push`/`mov`, `lea` off `ebx` (the GOT) in PIC.
PLT stubs are read the same way: a stub that jumps through an import's GOT slot names
every address of the stub, so `call stub` resolves to the import.

The sweep is linear and does not follow branches: a value known before a branch stays known
after it. That is what makes it fast (capstone's lite mode, no detail objects), and it is the
right trade for finding "this literal is passed to strcmp here".
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable
from dataclasses import dataclass, field

import capstone as cs
import numpy as np

from firmproof.device.binary.elf import ElfHeaders, read_word

Value = int | str | None        # a constant, an import's name (an address loaded from its slot), unknown

MIN_BYTE_RUN = 4        # characters compared one by one that make a constant
BYTE_RUN_GAP = 48       # most bytes of code between two of them
MASK32 = 0xFFFFFFFF
SOCKETCALL = 102        # i386: socketcall(call, args), one system call for the socket calls
ARGS32 = 8              # i386: stack arguments kept for a call (glibc's __syscall_cancel takes 7)
I386_VSYSCALL = "dword ptr gs:[0x10]"   # glibc's i386 trap: `call *%gs:0x10` (the vDSO's entry)
MASK64 = 0xFFFFFFFFFFFFFFFF
_PLT = (".plt", ".plt.sec", ".plt.got", ".iplt", ".MIPS.stubs")


@dataclass(frozen=True)
class Call:
    site: int                       # address of the call instruction
    callee: str | None              # import name when known
    target: int | None              # direct target address when known
    args: tuple[Value, ...]


@dataclass
class CodeFacts:
    xrefs: list[tuple[int, int]] = field(default_factory=list)     # (site, value that is a string address)
    calls: list[Call] = field(default_factory=list)
    targets: set[int] = field(default_factory=set)     # call targets and prologues: function starts
    stubs: dict[int, str] = field(default_factory=dict)            # PLT stub address -> import
    constants: list[tuple[int, bytes]] = field(default_factory=list)  # (site, text-like constant compared)
    syscalls: list[tuple[int, Value]] = field(default_factory=list)   # (site, number register's value)
    instructions: int = 0


def _imm(text: str) -> int | None:
    text = text.strip().lstrip("#")
    try:
        return int(text, 0)
    except ValueError:
        return None


def _split(ops: str) -> list[str]:
    """Operands at the top level (brackets and braces keep their commas)."""
    if "[" not in ops and "{" not in ops:
        return ops.split(", ") if ops else []
    out, depth, start = [], 0, 0
    for i, ch in enumerate(ops):
        if ch in "[{(":
            depth += 1
        elif ch in "]})":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append(ops[start:i].strip())
            start = i + 1
    tail = ops[start:].strip()
    if tail:
        out.append(tail)
    return out


class _Sweep:
    """Shared state of one sweep; subclasses know one instruction set."""

    args: tuple[str, ...] = ()
    clobbered: tuple[str, ...] = ()
    mask = MASK32

    def __init__(self, headers: ElfHeaders, data: bytes, is_string: Callable[[int], bool],
                 facts: CodeFacts) -> None:
        self.h = headers
        self.data = data
        self.is_string = is_string
        self.facts = facts
        self.regs: dict[str, Value] = {}
        self.in_plt = False
        self.stub_run: list[int] = []
        self.word = 8 if headers.bits == 64 else 4
        self.stack_slots: dict[str, Value] = {}     # values spilled to the stack frame
        self.byte_run: list[tuple[int, int]] = []   # (site, character) compared one by one

    # -- helpers --------------------------------------------------------------

    def set(self, site: int, reg: str, value: Value) -> None:
        if isinstance(value, int):
            value &= self.mask
            if self.is_string(value):
                self.facts.xrefs.append((site, value))
        self.regs[reg] = value

    def load(self, address: int, size: int | None = None) -> Value:
        name = self.h.slots.get(address)
        if name is not None:
            return name
        return read_word(self.data, self.h, address, size or self.word)

    def compared(self, site: int, value: Value, width: int | None = None) -> None:
        """A register or memory operand was compared with a constant (an inlined strcmp/memcmp
        compares words holding the bytes of the literal): keep it when it reads as text.
        Single characters count only in a run (`buf[0] == 'k' && buf[1] == 'N' && ...`):
        MIN_BYTE_RUN or more printable bytes compared one after another, each within
        BYTE_RUN_GAP bytes of code of the previous one, are kept as one constant."""
        if isinstance(value, int) and 0x20 < value < 0x7F and width in (None, 1):
            run = self.byte_run
            if run and site - run[-1][0] > BYTE_RUN_GAP:
                self.flush_bytes()
            self.byte_run.append((site, value))
            return
        if not isinstance(value, int) or value <= 0xFF:
            return
        size = width or (value.bit_length() + 7) // 8
        if size > 16 or value >> (8 * size):        # up to a SIMD register's 16 bytes
            return
        raw = value.to_bytes(size, "little" if self.h.endian == "little" else "big")
        if all(0x20 < b < 0x7F for b in raw):
            self.facts.constants.append((site, raw))

    def flush_bytes(self) -> None:
        run, self.byte_run = self.byte_run, []
        if len(run) >= MIN_BYTE_RUN:
            self.facts.constants.append((run[0][0], bytes(b for _, b in run)))

    def spill(self, slot: str, value: Value) -> None:
        self.stack_slots[slot] = value

    def call(self, site: int, target: Value, args: tuple[Value, ...] | None = None) -> None:
        if args is None:
            args = tuple(self.regs.get(r) for r in self.args)
        if isinstance(target, str):
            self.facts.calls.append(Call(site, target, None, args))
        elif isinstance(target, int):
            self.facts.targets.add(target)
            self.facts.calls.append(Call(site, None, target, args))
        for reg in self.clobbered:
            self.regs.pop(reg, None)

    def jump_via(self, site: int, target: Value) -> None:
        """An indirect jump: in a PLT stub it names the stub; elsewhere it is a tail call."""
        if self.in_plt and isinstance(target, str):
            for address in (*self.stub_run, site):
                self.facts.stubs[address] = target
            self.stub_run = []
        elif isinstance(target, str):
            self.call(site, target)

    def step(self, address: int, size: int, mnemonic: str, ops: str) -> None:
        raise NotImplementedError

    def run(self, name: str, code: bytes, vaddr: int, md: cs.Cs) -> None:
        self.in_plt = name in _PLT
        self.regs = {}
        self.stub_run = []
        count = 0
        step = self.step
        for address, size, mnemonic, ops in md.disasm_lite(code, vaddr):
            if mnemonic[:1] == ".":
                # skipdata: bytes that decode as no instruction (a literal pool word such as a
                # PC-relative offset into a GOT 64 KiB away); data, not code
                continue
            count += 1
            if self.in_plt:
                self.stub_run.append(address)
            step(address, size, mnemonic, ops)
        self.flush_bytes()
        self.facts.instructions += count


_MIPS_NOT_BRANCH = frozenset({"break", "bal", "bgezal", "bltzal", "jal", "jalr", "jalr.hb", "jr", "jr.hb"})


class _Mips(_Sweep):
    args = ("$a0", "$a1", "$a2", "$a3")
    clobbered = ("$v0", "$v1", "$a0", "$a1", "$a2", "$a3", "$t0", "$t1", "$t2", "$t3", "$t4", "$t5",
                 "$t6", "$t7", "$t8", "$t9", "$at")
    _NO_WRITE = frozenset({"sw", "sh", "sb", "sd", "swl", "swr", "swc1", "sdc1", "sc", "sync", "syscall",
                           "nop", "teq", "tne", "break", "ssnop", "ehb", "cache", "pref", "mthi", "mtlo",
                           "mtc1", "mtc0", "jr", "j", "b", "wait"})
    _FIXED = frozenset({"$gp", "$sp", "$zero", "$fp"})
    _MEM = re.compile(r"^(-?(?:0x)?[0-9a-f]*)\((\$\w+)\)$")

    def __init__(self, *a: object, **k: object) -> None:
        super().__init__(*a, **k)  # type: ignore[arg-type]
        self.pending: tuple[int, Value] | None = None
        self.making_gp: set[str] = set()        # n64: registers between `daddu r, r, $t9` and `daddiu`
        self.branch: tuple[int | None, bool] | None = None     # (target, unconditional) before its delay slot
        self.block: int | None = None           # where a block only branches reach starts, until $t9 is set
        self.entry_t9: dict[int, set[Value]] = {}      # branch target -> the $t9 values branches bring
        # call site through the $t9 a block was entered with -> (the block, the call's arguments)
        self.unresolved: dict[int, tuple[int, tuple[Value, ...]]] = {}
        self.through_t9 = False                 # the pending call goes through $t9
        if self.h.bits == 64:
            self.mask = MASK64

    def reg(self, name: str) -> Value:
        if name == "$zero":
            return 0
        if name == "$gp":
            return self.h.gp
        return self.regs.get(name)

    def set(self, site: int, reg: str, value: Value) -> None:
        if reg == "$t9":
            self.block = None
        super().set(site, reg, value)

    def step(self, address: int, size: int, mnemonic: str, ops: str) -> None:
        pending, branch, through_t9 = self.pending, self.branch, self.through_t9
        self.pending = self.branch = None
        if self.block == -1:        # after an unconditional jump: no instruction falls through here
            self.block = address
        self._step(address, mnemonic, ops)
        if branch is not None:        # the delay slot has run: the branch takes $t9 to its target
            target, always = branch
            if target is not None:
                self.entry_t9.setdefault(target, set()).add(self.regs.get("$t9"))
            if always:
                # what follows is reached only from elsewhere: a $t9 loaded before the jump
                # (in its delay slot: the target's) is not this code's (entry_t9 resolves it)
                self.block = -1
                self.regs.pop("$t9", None)
        if pending is not None:       # the delay slot has run: now the call happens
            if through_t9 and self.block is not None and self.block >= 0:
                self.unresolved[pending[0]] = (self.block, tuple(self.regs.get(r) for r in self.args))
            self.call(*pending)
            self.block = None

    def run(self, name: str, code: bytes, vaddr: int, md: cs.Cs) -> None:
        """Then the calls through a $t9 that only the branches into their block set: GCC fills
        a branch's delay slot with the target's first instruction (`b L; ld $t9, popen`) and
        enters past it, so the sweep, which reads the code in order, sees another $t9 there;
        when every branch into the block brings one known $t9, the call goes there."""
        super().run(name, code, vaddr, md)
        where = {call.site: index for index, call in enumerate(self.facts.calls)}
        for site, (block, args) in self.unresolved.items():
            values = self.entry_t9.get(block, set())
            if len(values) != 1:
                continue
            (value,) = values
            if isinstance(value, str):
                call = Call(site, value, None, args)
            elif isinstance(value, int):
                self.facts.targets.add(value)
                call = Call(site, None, value, args)
            else:
                continue
            if site in where:
                self.facts.calls[where[site]] = call
            else:
                self.facts.calls.insert(bisect.bisect(self.facts.calls, site, key=lambda c: c.site), call)
        self.unresolved = {}

    def _step(self, address: int, mnemonic: str, ops: str) -> None:
        if mnemonic == "syscall":
            self.facts.syscalls.append((address, self.regs.get("$v0")))
            return
        if mnemonic == "bgezal" and ops.startswith("$zero, "):
            mnemonic, ops = "bal", ops[len("$zero, "):]        # `bal` as capstone may spell it
        if mnemonic[0] in "bj" and mnemonic not in _MIPS_NOT_BRANCH:
            operands = _split(ops)
            self.branch = (_imm(operands[-1]) if operands else None, mnemonic in ("b", "j"))
        if mnemonic in ("jalr", "jalr.hb", "bal", "jal", "jr", "jr.hb"):
            operands = _split(ops)
            if not operands:
                return
            last = operands[-1]
            target = self.reg(last) if last.startswith("$") else _imm(last)
            self.through_t9 = last == "$t9"
            if mnemonic.startswith("jr"):
                self.branch = (None, True)
                if last == "$ra":
                    self.stack_slots = {}       # the function returns: its frame is gone
                if last == "$ra" or not isinstance(target, (str, int)):
                    return
                if self.in_plt:
                    self.jump_via(address, target)
                    return
            self.pending = (address, target)
            return
        if mnemonic in ("beq", "bne", "beql", "bnel"):
            operands = _split(ops)
            if len(operands) == 3:
                a, b = self.reg(operands[0]), self.reg(operands[1])
                self.compared(address, b if isinstance(b, int) else a)
            return
        if mnemonic in ("sw", "sd") and ops.endswith("($sp)"):
            operands = _split(ops)
            if len(operands) == 2:
                self.spill(operands[1], self.reg(operands[0]))
            return
        if mnemonic in self._NO_WRITE or mnemonic[0] in "bj":
            return
        operands = _split(ops)
        if not operands:
            return
        dest = operands[0]
        if dest in self._FIXED:
            if dest == "$sp" and mnemonic in ("addiu", "daddiu") and ops.startswith("$sp, $sp, -"):
                self.stack_slots = {}       # a new frame: a function's prologue
                self.facts.targets.add(address)
            elif mnemonic == "daddu" and ops == "$gp, $gp, $t9":
                # n64 PIC: `lui $gp, hi; daddu $gp, $gp, $t9` opens every function that uses
                # the GOT, a leaf without a frame too (a system call's wrapper)
                self.facts.targets.add(address - 4)
            return
        value: Value = None
        making_gp = dest in self.making_gp
        self.making_gp.discard(dest)
        if mnemonic == "daddu" and operands[1:] == [dest, "$t9"] and self.h.gp is not None:
            # n64 PIC computes _gp in any register: `lui r, %hi(..); daddu r, r, $t9; daddiu r,
            # r, %lo(..)` ($t9 holds the function's own address); the static GOT is read through it
            self.making_gp.add(dest)
        elif making_gp and mnemonic == "daddiu" and operands[1] == dest:
            value = self.h.gp
        elif mnemonic == "lui" and len(operands) == 2:
            imm = _imm(operands[1])
            value = (imm << 16) if imm is not None else None
        elif mnemonic in ("addiu", "daddiu", "addi", "ori") and len(operands) == 3:
            base, imm = self.reg(operands[1]), _imm(operands[2])
            if isinstance(base, int) and imm is not None:
                value = base | imm if mnemonic == "ori" else base + imm
        elif mnemonic == "li" and len(operands) == 2:
            value = _imm(operands[1])
        elif mnemonic in ("dsll", "dsll32") and len(operands) == 3:
            # MIPS64 builds a 64-bit constant in steps: `lui; daddiu; dsll 16; daddiu; ...`
            base, shift = self.reg(operands[1]), _imm(operands[2])
            if isinstance(base, int) and shift is not None:
                value = base << (shift + (32 if mnemonic == "dsll32" else 0))
        elif mnemonic == "move" and len(operands) == 2:
            value = self.reg(operands[1])
        elif mnemonic in ("addu", "daddu", "or") and len(operands) == 3:
            a, b = self.reg(operands[1]), self.reg(operands[2])
            if a == 0:
                value = b
            elif b == 0:
                value = a
            elif isinstance(a, int) and isinstance(b, int):
                value = a + b
        elif mnemonic in ("lw", "ld") and len(operands) == 2 and operands[1].endswith("($sp)"):
            value = self.stack_slots.get(operands[1])
        elif mnemonic in ("lw", "ld") and len(operands) == 2:
            m = self._MEM.match(operands[1])
            if m:
                base = self.reg(m.group(2))
                off = _imm(m.group(1) or "0")
                if isinstance(base, int) and off is not None:
                    value = self.load((base + off) & self.mask, 8 if mnemonic == "ld" else 4)
        self.set(address, dest, value)


_ARM_CONDS = frozenset({"eq", "ne", "cs", "hs", "cc", "lo", "mi", "pl", "vs", "vc", "hi", "ls", "ge",
                        "lt", "gt", "le", "al"})


class _Arm(_Sweep):
    args = ("r0", "r1", "r2", "r3")
    clobbered = ("r0", "r1", "r2", "r3", "ip", "lr")
    _NO_WRITE = ("str", "stm", "push", "cmp", "cmn", "tst", "teq", "vst", "nop", "svc", "bx", "dmb", "pld")

    def pc(self, address: int) -> int:
        return address + (4 if self.h.thumb else 8)

    def reg(self, name: str, address: int) -> Value:
        if name == "pc":
            return self.pc(address)
        return self.regs.get(name)

    def step(self, address: int, size: int, mnemonic: str, ops: str) -> None:
        base = mnemonic.split(".", 1)[0]
        if base == "svc":           # EABI: the number in r7
            self.facts.syscalls.append((address, self.regs.get("r7")))
            return
        if base in ("bl", "blx") or (base[:2] == "bl" and base[2:] in _ARM_CONDS and base[:3] != "blx") \
                or (base[:3] == "blx" and base[3:] in _ARM_CONDS):
            target: Value = _imm(ops) if ops.startswith("#") else self.regs.get(ops.strip())
            self.call(address, target)
            return
        if base in ("cmp", "cmn") or (base.startswith(("cmp", "cmn")) and base[3:] in _ARM_CONDS):
            operands = _split(ops)
            if len(operands) == 2:
                t = operands[1]
                self.compared(address, _imm(t) if t.startswith("#") else self.regs.get(t))
            return
        if base == "str" and "[sp" in ops:
            operands = _split(ops)
            if len(operands) == 2:
                self.spill(operands[1], self.regs.get(operands[0]))
            return
        if base in ("push", "stmdb") and "lr" in ops:
            self.stack_slots = {}           # a new frame: a function's prologue
            self.facts.targets.add(address)
        if base.startswith(self._NO_WRITE) or (base[0] == "b" and not base.startswith(("bic", "bfi"))):
            return
        operands = _split(ops)
        if not operands:
            return
        dest = operands[0]
        if base in ("pop", "ldm", "ldmia", "vpop") or dest.startswith("{"):
            for reg in re.findall(r"\b(r\d+|ip|lr|pc)\b", ops):
                self.regs.pop(reg, None)
            return
        value: Value = None
        if base == "ldr" and len(operands) == 2 and operands[1].startswith("[sp"):
            value = self.stack_slots.get(operands[1])
        elif base == "ldr" and len(operands) == 2 and operands[1].startswith("["):
            inner = operands[1].strip("[]!").split(",")
            basev = self.reg(inner[0].strip(), address)
            if inner[0].strip() == "pc" and isinstance(basev, int):
                basev &= ~3
            off: Value = 0
            if len(inner) > 1:
                t = inner[1].strip()
                off = _imm(t) if t.startswith("#") else self.regs.get(t)
            if isinstance(basev, int) and isinstance(off, int):
                value = self.load((basev + off) & MASK32, 4)
            if dest == "pc":
                self.jump_via(address, value)
                return
        elif base in ("add", "sub", "adds", "subs") and len(operands) >= 3:
            a = self.reg(operands[1], address)
            t = operands[2]
            b = _imm(t) if t.startswith("#") else self.reg(t, address)
            if len(operands) == 4 and isinstance(b, int):
                rot = _imm(operands[3])
                if rot:
                    b = ((b >> rot) | (b << (32 - rot))) & MASK32
            if isinstance(a, int) and isinstance(b, int):
                value = a + b if base.startswith("add") else a - b
        elif base == "adr" and len(operands) == 2:
            imm = _imm(operands[1])
            value = imm if imm is not None else None
        elif base in ("mov", "movw", "movs") and len(operands) == 2:
            t = operands[1]
            value = _imm(t) if t.startswith("#") else self.reg(t, address)
        elif base == "movt" and len(operands) == 2:
            low, imm = self.regs.get(dest), _imm(operands[1])
            if isinstance(low, int) and imm is not None:
                value = (low & 0xFFFF) | (imm << 16)
        self.set(address, dest, value)


_A64_WIDTH = {"w": 4, "x": 8, "b": 1, "h": 2, "s": 4, "d": 8, "q": 16}     # bytes a register name holds
_A64_LANES = {"8b": 8, "16b": 16, "4h": 8, "8h": 16, "2s": 8, "4s": 16, "1d": 8, "2d": 16}


class _Arm64(_Sweep):
    args = ("x0", "x1", "x2", "x3", "x4", "x5", "x6", "x7")
    # calls keep x19-x28 and the low halves of v8-v15
    clobbered = (*args, "x8", "x9", "x10", "x11", "x12", "x13", "x14", "x15", "x16", "x17", "x18",
                 *(f"v{n}" for n in (*range(8), *range(16, 32))))
    mask = MASK64
    _NO_WRITE = ("st", "cmp", "cmn", "tst", "ret", "nop", "cb", "tb", "b.", "prfm", "dmb", "hint", "svc",
                 "paci", "auti", "bti")
    _FOLD = frozenset({"orr", "umaxp", "umaxv", "uminp", "uminv", "addp", "addv"})   # keep "zero iff equal"

    def __init__(self, *a: object, **k: object) -> None:
        super().__init__(*a, **k)  # type: ignore[arg-type]
        # registers that hold (input XOR constant), zero exactly when the input equals the
        # constant: (site of the eor, constant, width) for each constant folded in
        self.xored: dict[str, list[tuple[int, int, int | None]]] = {}

    def tested(self, operand: str) -> None:
        """A register is tested for zero: the constants XORed into it were compared."""
        for site, constant, width in self.xored.pop(self.norm(operand), ()):
            self.compared(site, constant, width)

    @staticmethod
    def norm(reg: str) -> str:
        """wN is xN; bN, hN, sN, dN, qN and vN.<lanes> are parts of one SIMD register vN."""
        head = reg.split(".", 1)[0]
        if head[1:].isdigit():
            if head[0] == "w":
                return "x" + head[1:]
            if head[0] in "bhsdqv":
                return "v" + head[1:]
        return reg

    @staticmethod
    def width(reg: str) -> int | None:
        """Bytes a register operand holds: w 4, x 8, d 8, q 16, v.16b 16, ..."""
        head, _, lanes = reg.partition(".")
        if lanes:
            return _A64_LANES.get(lanes)
        return _A64_WIDTH.get(head[:1]) if head[1:].isdigit() else None

    def put(self, site: int, operand: str, value: Value) -> None:
        """Write a destination: SIMD registers hold data (up to 16 bytes), not addresses."""
        reg = self.norm(operand)
        self.xored.pop(reg, None)
        if reg[:1] == "v":
            width = self.width(operand) or 16
            self.regs[reg] = value & ((1 << (8 * width)) - 1) if isinstance(value, int) else value
        else:
            self.set(site, reg, value)

    def address(self, operand: str) -> int | None:
        """The address a load's memory operand names: `[xN, #off]`, `[xN]`, or a literal `#addr`."""
        if operand.startswith("#"):
            return _imm(operand)
        inner = operand.strip("[]!").split(",")
        basev = self.regs.get(self.norm(inner[0].strip()))
        off = _imm(inner[1]) if len(inner) > 1 else 0
        if isinstance(basev, int) and off is not None:
            return (basev + off) & MASK64
        return None

    def step(self, address: int, size: int, mnemonic: str, ops: str) -> None:
        if mnemonic == "svc":
            self.facts.syscalls.append((address, self.regs.get("x8")))
            return
        if mnemonic in ("bl", "blr"):
            target: Value = _imm(ops) if ops.startswith("#") else self.regs.get(self.norm(ops.strip()))
            self.call(address, target)
            self.xored = {}
            return
        if mnemonic == "br":
            self.jump_via(address, self.regs.get(self.norm(ops.strip())))
            return
        if mnemonic in ("cbz", "cbnz", "tst"):
            self.tested(_split(ops)[0])
            return
        if mnemonic == "b":
            return
        if mnemonic in ("cmp", "cmn"):
            operands = _split(ops)
            if len(operands) == 2:
                self.tested(operands[0])
                t = operands[1]
                width = 4 if operands[0][0] == "w" else 8
                other = _imm(t) if t.startswith("#") else self.regs.get(self.norm(t))
                if isinstance(other, int):
                    other &= (1 << (8 * width)) - 1
                self.compared(address, other)
            return
        if mnemonic == "str" and "[sp" in ops:
            operands = _split(ops)
            if len(operands) == 2:
                self.spill(operands[1].replace("x29", "sp"), self.regs.get(self.norm(operands[0])))
            return
        if mnemonic == "stp" and ops.startswith("x29, x30, [sp, #-"):
            self.stack_slots = {}           # a new frame: a function's prologue
            self.facts.targets.add(address)
        if mnemonic.startswith(self._NO_WRITE):
            return
        operands = _split(ops)
        if not operands:
            return
        dest = self.norm(operands[0])
        value: Value = None
        carry: list[tuple[int, int, int | None]] = []       # what `xored` keeps for dest
        if mnemonic in ("adrp", "adr") and len(operands) == 2:
            value = _imm(operands[1])
        elif mnemonic == "add" and len(operands) >= 3 and operands[2].startswith("#"):
            a, b = self.regs.get(self.norm(operands[1])), _imm(operands[2])
            if len(operands) == 4 and b is not None and operands[3].replace(" ", "") == "lsl#12":
                b <<= 12
            if isinstance(a, int) and b is not None:
                value = a + b
        elif mnemonic in ("ldr", "ldur") and len(operands) == 2 and operands[1].startswith("[sp"):
            value = self.stack_slots.get(operands[1])
        elif mnemonic in ("ldr", "ldur") and len(operands) == 2 and operands[1].startswith(("[", "#")):
            # also a SIMD register's load of a constant (GCC 14 compares 8 or 16 bytes of a
            # literal held in dN/qN, loaded from .rodata.cst8/.cst16, instead of a movk chain)
            where = self.address(operands[1])
            if where is not None:
                value = self.load(where, self.width(operands[0]) or 8)
        elif mnemonic == "ldp" and len(operands) >= 3:
            # a pair of words of a constant (a 16-byte literal in two registers)
            where = self.address(operands[2]) if len(operands) == 3 and not operands[2].startswith("[sp") \
                else None
            width = self.width(operands[0]) or 8
            for k in (0, 1):
                self.put(address, operands[k], None if where is None else self.load(where + k * width, width))
            return
        elif mnemonic in ("eor", "cmeq") and len(operands) == 3:
            # equality by XOR (or lane compare) with a constant: the inlined memcmp of a
            # literal (GCC 14: `ldr d15, =const; eor v31.8b, v31.8b, v15.8b; fmov x0, d31;
            # cbnz x0`). A compare only once the result is tested for zero: XOR with a
            # constant key alone is a cipher, not a compare
            t = operands[2]
            left = self.regs.get(self.norm(operands[1]))
            right = _imm(t) if t.startswith("#") else self.regs.get(self.norm(t))
            if isinstance(left, int) and isinstance(right, int):
                value = left ^ right if mnemonic == "eor" else None
            elif isinstance(constant := left if isinstance(left, int) else right, int):
                carry = [(address, constant, self.width(operands[0]))]
        elif mnemonic in self._FOLD and len(operands) >= 2 and not operands[-1].startswith("#"):
            # (once each: `umaxp v31.4s, v31.4s, v31.4s` folds one register into itself)
            carry = list(dict.fromkeys(entry for o in operands[1:]
                                       for entry in self.xored.get(self.norm(o), ())))
        elif mnemonic in ("mov", "fmov") and len(operands) == 2:
            t = operands[1]
            if t.startswith("#"):
                value = _imm(t)
            elif "[" not in t:          # not one lane of a SIMD register (`fmov x0, v1.d[1]`)
                value = self.regs.get(self.norm(t))
                carry = list(self.xored.get(self.norm(t), ()))
        elif mnemonic == "movk" and len(operands) >= 2:
            old, imm = self.regs.get(dest), _imm(operands[1])
            shift = _imm(operands[2].replace("lsl", "").strip()) if len(operands) == 3 else 0
            if isinstance(old, int) and imm is not None and shift is not None:
                value = (old & ~(0xFFFF << shift)) | (imm << shift)
        self.put(address, operands[0], value)
        if carry:
            self.xored[dest] = carry


_X86_REG = {}
for _full, _parts in {
        "rax": ("eax", "ax", "al"), "rbx": ("ebx", "bx", "bl"), "rcx": ("ecx", "cx", "cl"),
        "rdx": ("edx", "dx", "dl"), "rsi": ("esi", "si", "sil"), "rdi": ("edi", "di", "dil"),
        "rbp": ("ebp", "bp", "bpl"), "rsp": ("esp", "sp", "spl")}.items():
    _X86_REG[_full] = _full
    for _p in _parts:
        _X86_REG[_p] = _full
for _n in range(8, 16):
    for _suffix in ("", "d", "w", "b"):
        _X86_REG[f"r{_n}{_suffix}"] = f"r{_n}"

_PC_THUNK = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi")     # x86 register numbers
_WIDTH = {"byte": 1, "word": 2, "dword": 4, "qword": 8}
_REG_WIDTH = {**{r: 8 for r in ("rax", "rbx", "rcx", "rdx", "rsi", "rdi", "rbp", "rsp")},
              **{f"r{n}": 8 for n in range(8, 16)},
              **{r: 4 for r in ("eax", "ebx", "ecx", "edx", "esi", "edi")},
              **{f"r{n}d": 4 for n in range(8, 16)}}
_RIP = re.compile(r"\[rip ([+-]) (0x[0-9a-f]+|\d+)\]")
_ABS = re.compile(r"^(?:[a-z]+ ptr )?(?:[a-z]s:)?\[(0x[0-9a-f]+)\]$")
_BASED = re.compile(r"\[(\w+) ([+-]) (0x[0-9a-f]+|\d+)\]$")
_ESP = re.compile(r"^dword ptr \[esp(?: \+ (0x[0-9a-f]+|\d+))?\]$")
_WORD_LOAD = re.compile(r"^qword ptr \[(\w+)(?: \+ (0x[0-9a-f]+|\d+))?\]$")


class _X86(_Sweep):
    args = ("rdi", "rsi", "rdx", "rcx", "r8", "r9")
    clobbered = ("rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11")
    _NO_WRITE = ("cmp", "test", "j", "push", "nop", "ret", "leave", "endbr", "hlt", "ud2", "int3", "bnd ret")

    def __init__(self, *a: object, **k: object) -> None:
        super().__init__(*a, **k)  # type: ignore[arg-type]
        self.bits64 = self.h.bits == 64
        self.mask = MASK64 if self.bits64 else MASK32
        self.stack: list[Value] = []        # x86: pushed arguments, last pushed first
        self.slots: dict[int, Value] = {}   # x86: [esp + N] stores
        self.frame_push = -2                # x86: where the last `push ebp` was
        self.pic: tuple[str, int] | None = None     # i386: the GOT register and its value
        self.loaded: dict[str, tuple[str, int]] = {}    # register -> (base, offset) of its load
        self.words: list[tuple[int, str, int]] = []     # (index in constants, base, offset): xor compares

    def operand(self, text: str, address: int, size: int) -> Value:
        text = text.strip()
        reg = _X86_REG.get(text)
        if reg is not None:
            if reg == "rbx" and not self.bits64 and self.h.kind != "exec" and "rbx" not in self.regs:
                return self.h.got_base
            return self.regs.get(reg)
        imm = _imm(text)
        if imm is not None:
            return imm
        m = _RIP.search(text)
        if m:
            disp = int(m.group(2), 0)
            where = address + size + (disp if m.group(1) == "+" else -disp)
            return self.load(where) if "ptr" in text else where
        m = _ABS.match(text)
        if m:
            return self.load(int(m.group(1), 16), 4 if not self.bits64 else 8)
        m = _BASED.search(text)
        if m and "ptr" in text:
            base = self.operand(m.group(1), address, size)
            if isinstance(base, int):
                disp = int(m.group(3), 0)
                return self.load((base + (disp if m.group(2) == "+" else -disp)) & self.mask)
        return None

    def pc_thunk(self, target: int) -> str | None:
        """The register an i386 `__x86.get_pc_thunk.<reg>` loads (`mov reg, [esp]; ret`), which
        glibc's own code calls to find its GOT even in a static program."""
        offset = self.h.offset_of(target)
        if offset is None:
            return None
        code = self.data[offset:offset + 4]
        if len(code) == 4 and code[0] == 0x8B and code[1] & 0xC7 == 0x04 and code[2:] == b"\x24\xc3":
            return _PC_THUNK[(code[1] >> 3) & 7]
        return None

    def number(self) -> Value:
        """The system call number in eax; i386's socketcall with its call in ebx as
        SOCKETCALL << 16 | call."""
        number = self.regs.get("rax")
        if not self.bits64 and number == SOCKETCALL and isinstance(call := self.regs.get("rbx"), int):
            return SOCKETCALL << 16 | call
        return number

    def set(self, site: int, reg: str, value: Value) -> None:
        self.loaded.pop(reg, None)
        super().set(site, reg, value)

    def loaded_from(self, reg: str, operand: str) -> None:
        """Where a register that holds no known value was loaded from: a word of memory."""
        if self.regs.get(reg) is None and (m := _WORD_LOAD.match(operand)):
            self.loaded[reg] = (m.group(1), int(m.group(2) or "0", 0))

    def word_compared(self, site: int, constant: int, source: tuple[str, int] | None) -> None:
        """A word of the input compared by XOR with a constant (`compared`). GCC loads the
        words of one inlined memcmp in any order (`mov rax, [rbx + 8]; mov rdx, [rbx]; xor rax,
        r14; xor rdx, r15`): those read from one base register, each within BYTE_RUN_GAP bytes
        of code of the previous, are kept in the order of their offsets, the literal's."""
        constants = self.facts.constants
        at = len(constants)
        self.compared(site, constant, 8)
        if len(constants) == at or source is None:
            return
        run = self.words if (self.words and self.words[-1][:2] == (at - 1, source[0])
                             and site - constants[at - 1][0] <= BYTE_RUN_GAP) else []
        run = self.words = [*run, (at, *source)]
        tail = constants[run[0][0]:]
        raws = sorted(zip([offset for _, _, offset in run], [raw for _, raw in tail], strict=True))
        constants[run[0][0]:] = [(where, raw) for (where, _), (_, raw) in zip(tail, raws, strict=True)]

    def call32(self, site: int, target: Value) -> None:
        args: list[Value] = list(reversed(self.stack))
        for index, value in sorted(self.slots.items()):
            while len(args) <= index:
                args.append(None)
            args[index] = value
        args += [None] * (len(self.args) - len(args))
        saved = self.regs
        self.regs = dict(zip(self.args, args, strict=False))
        self.call(site, target, tuple(args[:ARGS32]))
        self.regs = {k: v for k, v in saved.items() if k not in ("rax", "rcx", "rdx")}
        self.stack, self.slots = [], {}

    def step(self, address: int, size: int, mnemonic: str, ops: str) -> None:
        if mnemonic == "syscall" or (mnemonic == "int" and ops == "0x80"):
            self.facts.syscalls.append((address, self.number()))
            return
        if mnemonic == "call" and ops == I386_VSYSCALL and not self.bits64:
            self.facts.syscalls.append((address, self.number()))     # glibc's i386 trap
            self.regs.pop("rax", None)
            return
        if mnemonic in ("call", "bnd call", "notrack call"):
            target = self.operand(ops, address, size)
            self.loaded = {}
            if self.bits64:
                self.call(address, target)
            else:
                self.call32(address, target)
                if isinstance(target, int) and (reg := self.pc_thunk(target)) is not None:
                    self.regs[reg] = address + size       # i386 PIC: the return address, then + GOT
                    self.pic = (reg, address + size)
            return
        if mnemonic == "ret" and self.pic is not None and not self.bits64:
            # the code after a return is the same function's, reached by a branch from where its
            # GOT register was set (its epilogue popped it)
            self.regs[self.pic[0]] = self.pic[1]
            return
        if mnemonic in ("ret", "bnd ret") and self.bits64:
            # nothing falls through a return: what follows is reached by a branch or is another
            # function, maybe one only jumped to (musl's `__syscall_cp_c`, `mov rax, rdi; ...;
            # syscall`, reached by `jmp` from `__syscall_cp`, built without endbr64)
            self.regs, self.loaded = {}, {}
            return
        if mnemonic in ("jmp", "bnd jmp", "notrack jmp"):
            if "ptr" in ops or ops in _X86_REG:
                self.jump_via(address, self.operand(ops, address, size))
            return
        if mnemonic in ("endbr64", "endbr32"):
            # a function's entry: what the registers held before it is not known in it (musl's
            # `__syscall_cp_c` starts `mov rax, rdi; ...; syscall`); a `ret` does not end the
            # linear sweep's knowledge (i386 PIC code sets ebx once, before its early returns)
            self.regs = {}
        if mnemonic == "endbr64" or (mnemonic == "push" and ops == "rbp") or \
                (mnemonic == "mov" and ops == "ebp, esp" and address == self.frame_push + 1):
            # a function's prologue; on i386 `push ebp` only when `mov ebp, esp` follows (code
            # built without a frame pointer, as glibc is, pushes ebp to save it or as an argument)
            self.facts.targets.add(address if mnemonic != "mov" else self.frame_push)
            self.stack_slots = {}
        if mnemonic == "push" and ops == "ebp":
            self.frame_push = address
        if not self.bits64:
            if mnemonic == "push":
                self.stack.append(self.stack_slots.get(ops.split("[", 1)[1]) if "[ebp" in ops
                                  else self.operand(ops, address, size))
                # a store to [esp + N] before the push is one word further from esp now
                self.slots = {index + 1: value for index, value in self.slots.items()}
                value = self.stack[-1]
                if isinstance(value, int) and self.is_string(value):
                    self.facts.xrefs.append((address, value))
                return
            if mnemonic == "add" and ops.startswith("esp,"):
                self.stack = []
                return
        if mnemonic == "cmp":
            operands = (ops.split(", ") if ops else [])
            if len(operands) == 2:
                value = self.operand(operands[1], address, size)
                width = _WIDTH.get(operands[0].split(" ", 1)[0]) or _REG_WIDTH.get(operands[0])
                if isinstance(value, int) and width:
                    value &= (1 << (8 * width)) - 1
                self.compared(address, value)
            return
        if mnemonic.startswith(self._NO_WRITE):
            return
        operands = (ops.split(", ") if ops else [])
        if not operands:
            return
        if mnemonic == "mov" and len(operands) == 2 and ("[rsp" in operands[0] or "[rbp" in operands[0]
                                                         or "[ebp" in operands[0]):
            self.spill(operands[0].split("[", 1)[1], self.operand(operands[1], address, size))
            return
        if mnemonic == "mov" and len(operands) == 2 and ("[rsp" in operands[1] or "[rbp" in operands[1]
                                                         or "[ebp" in operands[1]) \
                and (dest := _X86_REG.get(operands[0])) is not None:
            self.set(address, dest, self.stack_slots.get(operands[1].split("[", 1)[1]))
            self.loaded_from(dest, operands[1])
            return
        if not self.bits64 and mnemonic == "mov" and len(operands) == 2 and (m := _ESP.match(operands[0])):
            value = self.operand(operands[1], address, size)
            if isinstance(value, int) and self.is_string(value):
                self.facts.xrefs.append((address, value))
            self.slots[int(m.group(1) or "0", 0) // 4] = value
            return
        dest = _X86_REG.get(operands[0])
        if dest is None:
            return
        value = None
        if mnemonic == "lea" and len(operands) == 2:
            m = _RIP.search(operands[1])
            if m:
                disp = int(m.group(2), 0)
                value = address + size + (disp if m.group(1) == "+" else -disp)
            else:
                m = _BASED.search(operands[1])
                if m:
                    base = self.operand(m.group(1), address, size)
                    if isinstance(base, int):
                        disp = int(m.group(3), 0)
                        value = base + (disp if m.group(2) == "+" else -disp)
        elif mnemonic in ("mov", "movabs") and len(operands) == 2:
            value = self.operand(operands[1], address, size)
            self.set(address, dest, value)
            self.loaded_from(dest, operands[1])
            return
        elif mnemonic == "xor" and len(operands) == 2 and _X86_REG.get(operands[1]) == dest:
            value = 0
        elif mnemonic == "xor" and len(operands) == 2:
            # equality by XOR with a constant held in a register (GCC's inlined memcmp of a
            # literal: `movabs r13, imm64` once, then `xor rax, r13; or rax, rdx; jne`)
            a, b = self.regs.get(dest), self.operand(operands[1], address, size)
            if isinstance(a, int) != isinstance(b, int):
                constant = a if isinstance(a, int) else b
                assert isinstance(constant, int)
                if constant > 0xFFFFFFFF:
                    source = dest if isinstance(b, int) else _X86_REG.get(operands[1], "")
                    self.word_compared(address, constant, self.loaded.get(source))
        elif mnemonic == "add" and len(operands) == 2:
            a, b = self.regs.get(dest), self.operand(operands[1], address, size)
            if isinstance(a, int) and isinstance(b, int):
                value = a + b
                if self.pic is not None and self.pic == (dest, a):
                    self.pic = (dest, value)        # i386 PIC: the GOT's address
        self.set(address, dest, value)


def _engine(headers: ElfHeaders) -> tuple[type[_Sweep], cs.Cs] | None:
    little = headers.endian == "little"
    if headers.arch == "mips":
        mode = cs.CS_MODE_MIPS64 if headers.bits == 64 else cs.CS_MODE_MIPS32
        mode |= cs.CS_MODE_LITTLE_ENDIAN if little else cs.CS_MODE_BIG_ENDIAN
        return _Mips, cs.Cs(cs.CS_ARCH_MIPS, mode)
    if headers.arch == "arm":
        mode = cs.CS_MODE_THUMB if headers.thumb else cs.CS_MODE_ARM
        mode |= cs.CS_MODE_LITTLE_ENDIAN if little else cs.CS_MODE_BIG_ENDIAN
        return _Arm, cs.Cs(cs.CS_ARCH_ARM, mode)
    if headers.arch == "aarch64":
        return _Arm64, cs.Cs(cs.CS_ARCH_ARM64, cs.CS_MODE_ARM)
    if headers.arch == "x86-64":
        return _X86, cs.Cs(cs.CS_ARCH_X86, cs.CS_MODE_64)
    if headers.arch == "x86":
        return _X86, cs.Cs(cs.CS_ARCH_X86, cs.CS_MODE_32)
    return None


def sweep(headers: ElfHeaders, data: bytes, is_string: Callable[[int], bool],
          ranges: list[tuple[int, int]] | None = None,
          stubs: dict[int, str] | None = None) -> CodeFacts | None:
    """Disassemble every code section once (or, with `ranges`, the PLT and those address
    ranges only; `stubs` from an earlier sweep spare the PLT); None for an architecture we
    do not read."""
    engine = _engine(headers)
    if engine is None:
        return None
    kind, md = engine
    md.skipdata = True
    headers.slots  # noqa: B018 - reads the GOT layout (and MIPS's $gp) before the sweep
    facts = CodeFacts(stubs=dict(stubs or {}))
    machine = kind(headers, data, is_string, facts)
    # PLT stubs first, so that the stub map is complete before the callers are read
    sections = sorted(headers.code, key=lambda s: (s[0] not in _PLT, s[1]))
    for name, vaddr, offset, size in sections:
        if ranges is None or (name in _PLT and stubs is None):
            machine.run(name, data[offset:offset + size], vaddr, md)
    for start, end in ranges or ():
        where = headers.offset_of(start)
        if where is not None:
            machine.run(".text", data[where:where + max(0, end - start)], start, md)
    facts.constants.sort(key=lambda c: c[0])     # a compare may be known after a later one
    for index, call in enumerate(facts.calls):
        if call.callee is None and call.target is not None and call.target in facts.stubs:
            facts.calls[index] = Call(call.site, facts.stubs[call.target], call.target, call.args)
    return facts


def _le32(code: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The signed little-endian 32-bit values at positions `at` of `code` (uint8)."""
    value = (code[at].astype(np.int64) | (code[at + 1].astype(np.int64) << 8)
             | (code[at + 2].astype(np.int64) << 16) | (code[at + 3].astype(np.int64) << 24))
    return np.where(value >= 1 << 31, value - (1 << 32), value)


def rip_loads(headers: ElfHeaders, data: bytes) -> tuple[np.ndarray, np.ndarray] | None:
    """x86-64 only, without disassembling: (sites, targets) of every RIP-relative `lea`/`mov`
    of a 64-bit register (REX.W 8B/8D with ModRM mod=00 rm=101) — a byte-pattern scan: a
    few are noise from matches inside other instructions, but no reference of that form is
    missed. None elsewhere, and for position-dependent programs (ET_EXEC), whose code loads
    addresses as 32-bit immediates instead. Vectorised: a program has tens of thousands of
    candidates."""
    if headers.arch != "x86-64" or headers.kind == "exec":
        return None
    sites, targets = [], []
    for _, vaddr, offset, size in headers.code:
        code = np.frombuffer(data, dtype=np.uint8, count=max(0, min(size, len(data) - offset)),
                             offset=offset) if offset < len(data) else np.zeros(0, np.uint8)
        if len(code) < 10:
            continue
        head = code[:-9]
        hits = np.flatnonzero(((head == 0x48) | (head == 0x4C))
                              & ((code[1:-8] == 0x8B) | (code[1:-8] == 0x8D))
                              & ((code[2:-7] & 0xC7) == 0x05))
        site = vaddr + hits.astype(np.int64)
        sites.append(site)
        targets.append(site + 7 + _le32(code, hits + 3))
    if not sites:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(sites), np.concatenate(targets)


def call_sites(headers: ElfHeaders, data: bytes, stubs: dict[int, str],
               names: frozenset[str]) -> list[int]:
    """x86-64 only, without disassembling: addresses of `call rel32` into a PLT stub of one of
    `names`, and of `call [rip + slot]` through such an import's GOT slot (-fno-plt)."""
    wanted_stubs = np.array(sorted(a for a, n in stubs.items() if n in names), dtype=np.int64)
    wanted_slots = np.array(sorted(a for a, n in headers.slots.items() if n in names), dtype=np.int64)
    sites: list[int] = []
    for _, vaddr, offset, size in headers.code:
        code = np.frombuffer(data, dtype=np.uint8, count=max(0, min(size, len(data) - offset)),
                             offset=offset) if offset < len(data) else np.zeros(0, np.uint8)
        if len(code) < 6:
            continue
        near = np.flatnonzero(code[:-4] == 0xE8)
        near_to = vaddr + near + 5 + _le32(code, near + 1)
        far = np.flatnonzero((code[:-5] == 0xFF) & (code[1:-4] == 0x15))
        far_to = vaddr + far + 6 + _le32(code, far + 2)
        found = np.concatenate([near[np.isin(near_to, wanted_stubs)], far[np.isin(far_to, wanted_slots)]])
        sites.extend(int(vaddr + p) for p in np.sort(found))
    return sites
