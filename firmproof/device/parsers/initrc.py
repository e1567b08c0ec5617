"""Android init language (`init.rc`, `/system/etc/init/*.rc`, `/vendor/etc/init/*.rc`).

Sections start with `on TRIGGER`, `service NAME PATH ARGS…` or `import PATH`; the lines
below a section header are its commands (for `on`) or options (for `service`:
`user`, `group`, `socket`, `seclabel`, `disabled`, `oneshot`, …). A trailing backslash
continues a line; `#` starts a comment (system/core/init/README.md). Every item keeps the
span of its line so that findings can point at it.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

from firmproof.device.parsers._lines import lines, strip_span


@dataclass(frozen=True)
class RcLine:
    words: tuple[str, ...]
    lineno: int
    start: int
    end: int


@dataclass
class RcService:
    name: str
    argv: tuple[str, ...]
    header: RcLine
    options: list[RcLine] = field(default_factory=list)

    def option(self, name: str) -> RcLine | None:
        for opt in self.options:
            if opt.words and opt.words[0] == name:
                return opt
        return None

    @property
    def user(self) -> str:
        """The user the service runs as: root unless a `user` option says otherwise."""
        opt = self.option("user")
        return opt.words[1] if opt and len(opt.words) > 1 else "root"

    @property
    def disabled(self) -> bool:
        return self.option("disabled") is not None


@dataclass
class RcAction:
    trigger: tuple[str, ...]
    header: RcLine
    commands: list[RcLine] = field(default_factory=list)


@dataclass
class InitRc:
    services: list[RcService] = field(default_factory=list)
    actions: list[RcAction] = field(default_factory=list)
    imports: list[RcLine] = field(default_factory=list)


def _logical_lines(text: str) -> list[RcLine]:
    out: list[RcLine] = []
    pending = ""
    first: tuple[int, int] | None = None
    for lineno, start, end, _line in lines(text):
        s, e = strip_span(text, start, end)
        body = text[s:e]
        if not pending and (not body or body.startswith("#")):
            continue
        if first is None:
            first = (lineno, s)
        if body.endswith("\\"):
            pending += body[:-1] + " "
            continue
        pending += body
        try:
            words = tuple(shlex.split(pending, posix=True))
        except ValueError:
            words = tuple(pending.split())
        if words:
            out.append(RcLine(words, first[0], first[1], e))
        pending, first = "", None
    return out


def parse_initrc(text: str) -> InitRc:
    """Services, actions and imports of one .rc file."""
    rc = InitRc()
    section: RcService | RcAction | None = None
    for line in _logical_lines(text):
        keyword = line.words[0]
        if keyword == "service" and len(line.words) >= 3:
            section = RcService(line.words[1], line.words[2:], line)
            rc.services.append(section)
        elif keyword == "on":
            section = RcAction(line.words[1:], line)
            rc.actions.append(section)
        elif keyword == "import":
            rc.imports.append(line)
            section = None
        elif isinstance(section, RcService):
            section.options.append(line)
        elif isinstance(section, RcAction):
            section.commands.append(line)
    return rc
