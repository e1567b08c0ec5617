"""systemd unit files: sections, `Key=Value` lines with spans, and Exec command lines."""

from __future__ import annotations

import re
from dataclasses import dataclass

from firmproof.device.parsers._lines import lines, strip_span
from firmproof.device.parsers.shell import split_words

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


_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_BRACED = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def parse_environment(value: str) -> dict[str, str]:
    """Variables of an `Environment=` value: blank-separated `KEY=VALUE` words, quotes allowed."""
    out: dict[str, str] = {}
    for word in split_words(value):
        key, eq, val = word.partition("=")
        if eq and _ENV_NAME.fullmatch(key):
            out[key] = val
    return out


def parse_environment_file(text: str) -> dict[str, str]:
    """Variables of a file named by `EnvironmentFile=`: `KEY=VALUE` lines (`#` and `;`
    comments, an optional `export`, the value quoted or not)."""
    out: dict[str, str] = {}
    for _lineno, _start, _end, line in lines(text):
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";")):
            continue
        if stripped.startswith("export "):
            stripped = stripped[len("export "):].lstrip()
        key, eq, value = stripped.partition("=")
        key = key.strip()
        if not eq or not _ENV_NAME.fullmatch(key):
            continue
        value = value.strip()
        out[key] = " ".join(split_words(value)) if value[:1] in ("'", '"') else value
    return out


def expand_exec(argv: tuple[str, ...], env: dict[str, str]) -> tuple[str, ...]:
    """An Exec command line with the service's variables substituted as systemd does: `$FOO`
    as a word of its own becomes the value split at blanks, `${FOO}` is replaced within its
    word, `$$` is a dollar. Variables the unit does not set are left as written."""
    if not env:
        return argv
    out: list[str] = []
    for word in argv:
        whole = word[1:] if word.startswith("$") else ""
        if whole and _ENV_NAME.fullmatch(whole) and whole in env:
            out.extend(env[whole].split())
            continue
        out.append(_BRACED.sub(lambda m: env.get(m.group(1), m.group(0)), word).replace("$$", "$"))
    return tuple(out)
