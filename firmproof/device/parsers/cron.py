"""crontab files: system ones (/etc/crontab, /etc/cron.d/*) have a user field, user
ones (/var/spool/cron/crontabs/*, BusyBox /etc/crontabs/*) do not."""

from __future__ import annotations

import re
from dataclasses import dataclass

from firmproof.device.parsers._lines import lines, strip_span

_ENV = re.compile(r"\s*[A-Za-z_][A-Za-z0-9_]*\s*=")
_SPECIAL = {"@reboot", "@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight",
            "@hourly"}


@dataclass(frozen=True)
class CronEntry:
    schedule: str           # '*/5 * * * *' or '@reboot'
    user: str | None
    command: str
    lineno: int
    start: int              # the line, blanks left out
    end: int
    command_start: int
    command_end: int

    @property
    def at_boot(self) -> bool:
        return self.schedule == "@reboot"


def parse_crontab(text: str, *, system: bool) -> list[CronEntry]:
    entries: list[CronEntry] = []
    for lineno, start, end, line in lines(text):
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or _ENV.match(line):
            continue
        fields_wanted = (1 if stripped.split(None, 1)[0] in _SPECIAL else 5) + (1 if system else 0)
        pos = start
        fields: list[str] = []
        for _ in range(fields_wanted):
            while pos < end and text[pos] in " \t":
                pos += 1
            f_start = pos
            while pos < end and text[pos] not in " \t":
                pos += 1
            if pos == f_start:
                break
            fields.append(text[f_start:pos])
        if len(fields) != fields_wanted:
            continue
        c_start, c_end = strip_span(text, pos, end)
        command = text[c_start:c_end]
        # an unescaped '%' ends the command: what follows is its standard input
        cut = re.search(r"(?<!\\)%", command)
        if cut:
            c_end = c_start + cut.start()
            c_start, c_end = strip_span(text, c_start, c_end)
            command = text[c_start:c_end]
        if not command:
            continue
        l_start, l_end = strip_span(text, start, end)
        user = fields[-1] if system else None
        schedule = " ".join(fields[:-1] if system else fields)
        entries.append(CronEntry(schedule, user, command, lineno, l_start, l_end, c_start, c_end))
    return entries
