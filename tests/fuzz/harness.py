"""What every fuzz harness shares: mutations of real seeds as hypothesis strategies, the
budget of examples per profile, and the bounds each example runs under.

A mutant is a seed with a few edits applied in turn, each one of:

- flip: one bit inverted;
- byte: one byte set to any value;
- word: a 1, 2, 4 or 8-byte field (aligned, either byte order) set to a boundary value
  (0, 1, all ones, the sign bit, ...) or any value: what breaks length and offset fields;
- truncate: everything from a position on cut off;
- insert: up to 64 bytes of any value put in;
- delete: a run of bytes taken out;
- splice: a run of bytes of a seed (the same or another) copied over a position, or put in;
- repeat: a run of the mutant repeated where it stands (lists and tables that grow);
- digits: a number written as text over a field (signed, hex, octal or decimal, padded to a
  width of 6 to 12 characters): the ASCII headers of cpio, tar and PuTTY files.

Positions are drawn from a window at the start (where headers and superblocks are), from
windows a harness names (where a format keeps its tables), or from anywhere; hypothesis
shrinks a failure to few edits at small positions. A mutant prints as its seed's name and
its edits (`rebuild` makes it again from them), not as its bytes.

`run_bounded(call, allowed)` runs one parse: it returns what the parse returned or the allowed
error it raised; any other exception propagates (the harness fails with it), and a parse that
runs longer than HANG_SECONDS or takes more than MEMORY_BYTES of address space fails as a
hang or a MemoryError (the memory bound is left off around C++ parsers, LIEF, which abort
rather than fail an allocation). hypothesis' own deadline (DEADLINE_MS) catches slow
examples first.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from hypothesis import strategies as st

LONG = os.environ.get("FIRMPROOF_FUZZ") == "long"
# the fuzz profile runs this many times more examples (FIRMPROOF_FUZZ_FACTOR: more, or fewer)
LONG_FACTOR = int(os.environ.get("FIRMPROOF_FUZZ_FACTOR") or 100)
DEADLINE_MS = 2000
HANG_SECONDS = 20               # a hard stop: a hang is reported, not waited for
MEMORY_BYTES = 1536 << 20       # address space one parse may add

T = TypeVar("T")

BOUNDARY = (0, 1, 2, 3, 4, 7, 8, 0x10, 0x20, 0x3F, 0x40, 0x7F, 0x80, 0xFF, 0x100, 0x1000, 0x7FFF,
            0x8000, 0xFFFF, 0x10000, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFE, 0xFFFF_FFFF,
            0x1_0000_0000, 0x7FFF_FFFF_FFFF_FFFF, 0x8000_0000_0000_0000, 0xFFFF_FFFF_FFFF_FFFF)
KINDS = ("flip", "byte", "word", "truncate", "insert", "delete", "splice", "repeat", "digits")


def examples(count: int) -> int:
    """Examples of one harness: `count` in the ci profile, LONG_FACTOR times more with
    FIRMPROOF_FUZZ=long."""
    return count * LONG_FACTOR if LONG else count


Windows = Sequence[tuple[int, int]]


class Seeds(dict[str, bytes]):
    """Seeds by name, shown short (hypothesis prints a failing test's fixtures)."""

    def __repr__(self) -> str:
        return f"<{len(self)} seeds: {', '.join(sorted(self))[:200]}>"


class Mutant(bytes):
    """A mutant's bytes; shown as its seed and its edits, enough to rebuild it at test time
    (hypothesis prints the falsifying example)."""

    seed: str
    edits: tuple[tuple[Any, ...], ...]

    def __new__(cls, data: bytes, seed: str, edits: Sequence[tuple[Any, ...]]) -> Mutant:
        self = super().__new__(cls, data)
        self.seed, self.edits = seed, tuple(edits)
        return self

    def __repr__(self) -> str:
        head = bytes(self[:64]).hex()
        return (f"<mutant of {self.seed!r}, {len(self)} bytes starting {head}, edits "
                f"{list(self.edits)!r}>")


def rebuild(seed: bytes, edits: Sequence[tuple[Any, ...]]) -> bytes:
    """The bytes of a mutant from its seed and the edits its repr shows (for regression tests)."""
    data = bytearray(seed)
    for kind, at, *args in edits:
        if kind == "flip":
            data[at] ^= 1 << args[0]
        elif kind in ("byte", "word", "overwrite"):
            value = bytes([args[0]]) if kind == "byte" else args[0]
            data[at:at + len(value)] = value
        elif kind == "truncate":
            del data[at:]
        elif kind == "insert":
            data[at:at] = args[0]
        elif kind == "delete":
            del data[at:at + args[0]]
        elif kind == "fix":
            args[0](data)
    return bytes(data)


def _position(draw: Callable[[st.SearchStrategy[Any]], Any], size: int, windows: Windows) -> int:
    """A position below `size`: in one of the windows (clipped to the data), or anywhere."""
    if size <= 0:
        return 0
    ranges: list[tuple[int, int]] = []
    for start, end in [*windows, (0, size)]:
        end = min(end, size)
        if start < end and (start, end) not in ranges:
            ranges.append((start, end))
    # distinct ranges only: one_of drops a strategy it already holds, and whether two equal
    # integers() are one object depends on hypothesis' strategy cache (an LRU): generation would
    # not replay the same way (FlakyStrategyDefinition)
    return int(draw(st.one_of(*(st.integers(start, end - 1) for start, end in ranges))))


def _edit(draw: Callable[[st.SearchStrategy[Any]], Any], data: bytearray,
          seeds: Sequence[bytes], windows: Windows) -> tuple[Any, ...] | None:
    """Apply one edit to `data`; what it did, as rebuild() takes it (None: nothing done)."""
    kind = draw(st.sampled_from(KINDS))
    size = len(data)
    if kind == "flip" and size:
        at, bit = _position(draw, size, windows), draw(st.integers(0, 7))
        data[at] ^= 1 << bit
        return ("flip", at, bit)
    if kind == "byte" and size:
        at, value = _position(draw, size, windows), draw(st.integers(0, 255))
        data[at] = value
        return ("byte", at, value)
    if kind == "word" and size:
        width = draw(st.sampled_from((4, 2, 8, 1)))
        at = _position(draw, size, windows) // width * width
        number = draw(st.one_of(st.sampled_from(BOUNDARY), st.integers(0, (1 << (8 * width)) - 1)))
        number &= (1 << (8 * width)) - 1
        order = draw(st.sampled_from(("little", "big")))
        word = number.to_bytes(width, order)[:max(0, size - at)]
        data[at:at + width] = word
        return ("word", at, word)
    if kind == "truncate":
        at = _position(draw, size, windows)
        del data[at:]
        return ("truncate", at)
    if kind == "insert":
        at = _position(draw, size + 1, windows)
        piece = draw(st.binary(min_size=1, max_size=64))
        data[at:at] = piece
        return ("insert", at, piece)
    if kind == "delete" and size:
        at, count = _position(draw, size, windows), draw(st.integers(1, 256))
        del data[at:at + count]
        return ("delete", at, count)
    if kind == "splice":
        donor = draw(st.sampled_from(seeds))
        if not donor:
            return None
        start = draw(st.integers(0, len(donor) - 1))
        piece = donor[start:start + draw(st.integers(1, 512))]
        at = _position(draw, size + 1, windows)
        if draw(st.booleans()):
            data[at:at] = piece
            return ("insert", at, piece)
        data[at:at + len(piece)] = piece
        return ("overwrite", at, piece)
    if kind == "digits" and size:
        width = draw(st.sampled_from((8, 6, 11, 12)))
        at = _position(draw, size, windows)
        number = draw(st.one_of(st.integers(0, 0x200), st.sampled_from(BOUNDARY)))
        sign = draw(st.sampled_from(("", "-", "+", " ")))
        digits = format(number, draw(st.sampled_from(("x", "o", "d", "X"))))
        word = (sign + digits).rjust(width) if sign == " " else sign + digits.rjust(width - len(sign), "0")
        piece = word.encode()[-width:]
        data[at:at + len(piece)] = piece
        return ("overwrite", at, piece)
    if kind == "repeat" and size:
        start = _position(draw, size, windows)
        piece = bytes(data[start:start + draw(st.integers(1, 256))]) * draw(st.integers(1, 8))
        data[start:start] = piece
        return ("insert", start, piece)
    return None


@st.composite
def mutants(draw: Callable[[st.SearchStrategy[Any]], Any], seeds: Mapping[str, bytes], *,
            edits: int = 6, head: int | tuple[int, int] = 4096,
            windows: Callable[[bytes], Windows] | None = None,
            fix: Callable[[bytearray], Any] | None = None) -> Mutant:
    """A seed of `seeds` with 1 to `edits` edits at positions drawn from the first `head`
    bytes (or the (start, end) window `head`: past a magic that edits would only break),
    from `windows(seed)` when given (where a format keeps its tables), or anywhere;
    `fix(data)`, when given and drawn, then repairs what a format checks first (a checksum,
    a declared length) so that the edits reach the parse behind the check."""
    names = sorted(seeds)
    name = draw(st.sampled_from(names))
    seed = seeds[name]
    data = bytearray(seed)
    places = [(0, head) if isinstance(head, int) else head, *(windows(seed) if windows else ())]
    donors = [seeds[other] for other in names]
    done: list[tuple[Any, ...]] = []
    for _ in range(draw(st.integers(1, edits))):
        edit = _edit(draw, data, donors, places)
        if edit is not None:
            done.append(edit)
    if fix is not None and draw(st.booleans()):
        fix(data)
        done.append(("fix", 0, fix))
    return Mutant(bytes(data), name, done)


def json_ish() -> st.SearchStrategy[bytes]:
    """Bytes that are mostly JSON: JSON values of every kind (deep, long, odd numbers,
    surrogates), then maybe damaged."""
    leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False),
                       st.text(max_size=20), st.sampled_from(("critical", "firmproof.report/1", "")))
    values = st.recursive(leaves, lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=4)), max_leaves=30)
    import json

    texts = values.map(lambda v: json.dumps(v).encode())
    odd = st.sampled_from((b"[" * 5000 + b"]" * 5000, b"{\"a\":" * 3000 + b"1" + b"}" * 3000,
                           b"1" * 5000, b"-" + b"9" * 1001, b"1e999", b"-1e999", b"NaN", b"Infinity",
                           b"[1.7976931348623157e309]", b"\"\\ud800\"", b"\xff\xfe{}", b"\xef\xbb\xbf{}",
                           b"{\"schema\": \"firmproof.report/1\"", b"", b" \n", b"[,]", b"0" * 1001))
    return st.one_of(texts, odd)


class Hang(Exception):
    """A parse ran past HANG_SECONDS."""


def _vm_size() -> int:
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


@contextlib.contextmanager
def bounded(*, memory: bool = True) -> Iterator[list[bool]]:
    """Run the body under a hard time bound (SIGALRM, again each second in case a parser
    swallows the first) and, with `memory`, an address-space bound; yields [expired]."""
    expired = [False]

    def ring(*_: object) -> None:
        expired[0] = True
        raise Hang(f"no answer within {HANG_SECONDS} s")

    previous = signal.signal(signal.SIGALRM, ring)
    limits = resource.getrlimit(resource.RLIMIT_AS)
    if memory:
        want = _vm_size() + MEMORY_BYTES
        hard = limits[1]
        if hard == resource.RLIM_INFINITY or want < hard:
            resource.setrlimit(resource.RLIMIT_AS, (want, hard))
    signal.setitimer(signal.ITIMER_REAL, HANG_SECONDS, 1.0)
    try:
        yield expired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if memory:
            resource.setrlimit(resource.RLIMIT_AS, limits)


def run_bounded(call: Callable[[], T], allowed: tuple[type[BaseException], ...], *,
                memory: bool = True) -> T | BaseException:
    """`call()`'s result, or the `allowed` exception it raised; anything else propagates."""
    with bounded(memory=memory) as expired:
        try:
            result: T | BaseException = call()
        except allowed as exc:
            result = exc
    if expired[0]:
        raise Hang(f"the parse ran past {HANG_SECONDS} s (and swallowed the alarm)")
    return result
