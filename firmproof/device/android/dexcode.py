"""Which of a set of APIs the code of one dex file calls, and from where; and its strings.

LIEF parses the dex file (its C++ parser: 0.3 s where androguard's `DEX()` takes 4.3 s for a
6 MB classes.dex). A vectorised scan of the whole file then finds every 16-bit unit pair
that reads as an invoke instruction (invoke-virtual … invoke-interface, and their /range
forms) naming one of the wanted methods; only the methods whose code holds such a pair are
decoded instruction by instruction, with the Dalvik instruction lengths of androguard's
opcode table and the three payload pseudo-instructions (packed-switch, sparse-switch,
fill-array-data), so a pair inside a payload or straddling two instructions is not taken
for a call. Where LIEF cannot read a file, androguard decodes every method instead.

Code item layout (dex format): registers, ins, outs and tries sizes (u16 each), debug info
offset (u32), insns_size (u32, in 16-bit units), then the instructions, where LIEF's
`code_offset` points.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

INVOKES = frozenset(range(0x6E, 0x73)) | frozenset(range(0x74, 0x79))
_CODE_HEADER = 16            # bytes before a code item's instructions
_HEADER_SIZE = 0x70          # the dex header
_MAX_METHOD_INDEX = 0xFFFF   # invoke instructions name methods with 16 bits


@dataclass(frozen=True)
class Call:
    api: tuple[str, str]        # (class descriptor, method name) as in the wanted table
    caller: str                 # "Lcom/example/Foo;->bar"


class DexUnreadable(ValueError):
    """Neither LIEF nor androguard can read the bytes as a dex file."""


@cache
def _lengths() -> tuple[int, ...]:
    """Length in 16-bit units of each opcode's instruction (androguard's opcode table)."""
    from androguard.core.dex import DALVIK_OPCODES_FORMAT

    return tuple(max(1, DALVIK_OPCODES_FORMAT[op][0].length // 2) for op in range(256))


def _length(units: np.ndarray, i: int, lengths: tuple[int, ...]) -> int:
    unit = int(units[i])
    op, ident = unit & 0xFF, unit >> 8
    if op == 0 and ident in (1, 2, 3) and i + 3 < len(units):
        size = int(units[i + 1])
        if ident == 1:                  # packed-switch: size, first key (2), targets (2 each)
            return 4 + size * 2
        if ident == 2:                  # sparse-switch: size, keys and targets (2 each)
            return 2 + size * 4
        count = int(units[i + 2]) | int(units[i + 3]) << 16     # fill-array-data
        return 4 + (count * size + 1) // 2
    return lengths[op]


def scan(raw: bytes, wanted: Mapping[tuple[str, str], object]) -> tuple[list[Call], list[str]]:
    """The calls the dex file's code makes to `wanted` methods (each (api, caller) once), and
    the file's strings. DexUnreadable if the bytes are no dex file."""
    import lief

    lief.logging.disable()
    if raw[:4] == b"dex\n":
        if len(raw) < _HEADER_SIZE:
            raise DexUnreadable(f"truncated in its header ({len(raw)} bytes)")
        declared = int.from_bytes(raw[32:36], "little")        # header.file_size
        if declared != len(raw):
            raise DexUnreadable(f"the header declares {declared} bytes, the file has {len(raw)}")
    parsed = lief.DEX.parse(list(raw), "classes.dex") if raw[:4] == b"dex\n" else None
    if parsed is None:
        return _scan_androguard(raw, wanted)
    methods = list(parsed.methods)
    targets = {m.index: key for m in methods
               if (key := (_class_of(m), m.name)) in wanted and m.index <= _MAX_METHOD_INDEX}
    calls: list[Call] = []
    if targets:
        calls = list(_calls(raw, methods, targets))
    return calls, [str(s) for s in parsed.strings]


def _class_of(method: Any) -> str:
    return method.cls.fullname if method.has_class and method.cls is not None else ""


def _calls(raw: bytes, methods: list[Any], targets: dict[int, tuple[str, str]]) -> Iterator[Call]:
    units = np.frombuffer(raw, dtype="<u2", count=len(raw) // 2)
    ops = units[:-1] & 0xFF
    invoke = ((ops >= 0x6E) & (ops <= 0x72)) | ((ops >= 0x74) & (ops <= 0x78))
    hits = np.flatnonzero(invoke & np.isin(units[1:], np.fromiter(targets, dtype=np.uint16)))
    if not len(hits):
        return
    # LIEF's code_offset is where the instructions start, past the 16-byte code item header
    coded = [m for m in methods if _CODE_HEADER <= m.code_offset < len(raw)]
    if not coded:
        return
    starts = np.array([m.code_offset // 2 for m in coded], dtype=np.int64)
    sizes = np.array([int.from_bytes(raw[m.code_offset - 4:m.code_offset], "little") for m in coded],
                     dtype=np.int64)
    order = np.argsort(starts, kind="stable")
    starts, sizes = starts[order], sizes[order]
    where = np.searchsorted(starts, hits, side="right") - 1
    inside = (where >= 0) & (hits < starts[np.maximum(where, 0)] + sizes[np.maximum(where, 0)])
    lengths = _lengths()
    seen: set[tuple[tuple[str, str], str]] = set()
    for slot in np.unique(where[inside]):
        method = coded[int(order[slot])]
        start = int(starts[slot])
        code = units[start:min(start + int(sizes[slot]), len(units))]
        caller = f"{_class_of(method)}->{method.name}"
        i = 0
        while i < len(code):
            if int(code[i]) & 0xFF in INVOKES and i + 1 < len(code):
                api = targets.get(int(code[i + 1]))
                if api is not None and (api, caller) not in seen:
                    seen.add((api, caller))
                    yield Call(api, caller)
            i += _length(code, i, lengths)


def _scan_androguard(raw: bytes, wanted: Mapping[tuple[str, str], object]) -> tuple[list[Call], list[str]]:
    """Every method decoded by androguard: slow, for what LIEF does not read."""
    from androguard.core.dex import DEX

    try:
        dex = DEX(raw)
    except Exception as exc:  # androguard's parser over hostile bytes
        raise DexUnreadable(f"{type(exc).__name__}: {exc}") from None
    targets = {index: (item.get_class_name(), item.get_name())
               for index, item in enumerate(dex.methods.method_id_items)
               if (item.get_class_name(), item.get_name()) in wanted}
    calls: list[Call] = []
    seen: set[tuple[tuple[str, str], str]] = set()
    if targets:
        for method in dex.get_encoded_methods():
            if method.get_code() is None:
                continue
            caller = f"{method.get_class_name()}->{method.get_name()}"
            for ins in method.get_instructions():
                if ins.get_op_value() in INVOKES:
                    api = targets.get(ins.get_ref_kind())
                    if api is not None and (api, caller) not in seen:
                        seen.add((api, caller))
                        calls.append(Call(api, caller))
    return calls, list(dex.get_strings())
