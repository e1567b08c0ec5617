"""systemd unit files: sections, `Key=Value` lines with spans, and Exec command lines."""

from __future__ import annotations

from dataclasses import dataclass

from firmproof.parsers._lines import lines, strip_span
from firmproof.parsers.shell import split_words

UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/usr/local/lib/systemd/system",
             "/lib/systemd/system", "/usr/lib/systemd/system")
"""Where units live, most binding first."""

EXEC_KEYS = ("ExecStartPre", "ExecStart", "ExecStartPost")


@dataclass(frozen=True)
class UnitLine:
    section: str
    key: str
    value: str              # continuation lines joined with a blank
    lineno: int
    start: int              # the whole setting, blanks left out (continuations included)
    end: int
    value_start: int
    value_end: int


@dataclass(frozen=True)
class Unit:
    lines: tuple[UnitLine, ...]

    def get(self, section: str, key: str) -> list[UnitLine]:
        return [u for u in self.lines if u.section == section and u.key == key]

    def last(self, section: str, key: str) -> str | None:
        found = self.get(section, key)
        return found[-1].value if found else None


@dataclass(frozen=True)
class ExecCommand:
    flags: str              # the prefixes systemd allows: '-', '@', ':', '+', '!'
    argv: tuple[str, ...]


def parse_unit(text: str) -> Unit:
    """Settings of a unit file or drop-in; comments (# and ;) are left out."""
    out: list[UnitLine] = []
    section = ""
    pending: tuple[str, int, int, int, list[str]] | None = None  # key, lineno, start, value_start, parts
    last_end = 0

    def close(end: int) -> None:
        nonlocal pending
        if pending is None:
            return
        key, lineno, start, value_start, parts = pending
        v_start, v_end = strip_span(text, value_start, end)
        out.append(UnitLine(section, key, " ".join(p.strip() for p in parts).strip(), lineno,
                            start, v_end if v_end > v_start else end, v_start, v_end))
        pending = None

    for lineno, start, end, line in lines(text):
        if pending is not None:
            body = line.rstrip()
            if body.endswith("\\"):
                pending[4].append(body[:-1])
                last_end = end
                continue
            if not line.strip().startswith(("#", ";")):
                pending[4].append(body)
                last_end = end
                close(end)
                continue
            close(last_end)
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1].strip()
            continue
        if "=" not in line:
            continue
        key, _, value = line.partition("=")
        l_start, _ = strip_span(text, start, end)
        value_start = start + len(key) + 1
        body = value.rstrip()
        if body.endswith("\\"):
            pending = (key.strip(), lineno, l_start, value_start, [body[:-1]])
            last_end = end
            continue
        pending = (key.strip(), lineno, l_start, value_start, [value])
        close(end)
    close(last_end)
    return Unit(tuple(out))


def parse_exec(value: str) -> list[ExecCommand]:
    """Commands of an Exec*= value: prefixes split off, ' ; ' separating several commands."""
    commands: list[ExecCommand] = []
    words = split_words(value.replace(" ; ", " \\; "))
    current: list[str] = []
    for word in [*words, ";"]:
        if word == ";":
            if current:
                head = current[0]
                flags = ""
                while head[:1] in ("-", "@", ":", "+", "!") and len(head) > 1:
                    flags += head[0]
                    head = head[1:]
                argv = [head, *current[1:]]
                if "@" in flags and len(argv) > 1:
                    argv = [argv[0], *argv[2:]]  # '@' : the second word is argv[0]
                commands.append(ExecCommand(flags, tuple(argv)))
            current = []
            continue
        current.append(word)
    return commands
