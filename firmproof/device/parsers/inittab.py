"""/etc/inittab, BusyBox and SysV syntax: `id:runlevels:action:process`.

Both share the four colon-separated fields; BusyBox reads `id` as the tty (empty: the
console) and ignores runlevels. The process field runs through `/bin/sh -c` when it
holds shell syntax, and a leading '-' (BusyBox) asks for a login shell.
"""

from __future__ import annotations

from dataclasses import dataclass

from firmproof.device.parsers._lines import lines, strip_span

BOOT_ACTIONS = frozenset({"sysinit", "wait", "once", "respawn", "askfirst", "askconsole",
                          "boot", "bootwait", "ondemand"})
"""Actions whose process runs while the system comes up or stays up (not at shutdown)."""

CONSOLE_ACTIONS = frozenset({"respawn", "askfirst", "askconsole", "once", "wait", "sysinit",
                             "boot", "bootwait", "ondemand"})


@dataclass(frozen=True)
class InittabEntry:
    id: str
    runlevels: str
    action: str
    process: str
    lineno: int
    start: int              # the line, blanks left out
    end: int
    process_start: int      # the process field, blanks left out
    process_end: int

    @property
    def tty(self) -> str:
        """The terminal BusyBox runs the process on ('console' when the id is empty)."""
        return self.id or "console"


def parse_inittab(text: str) -> list[InittabEntry]:
    """Entries of an inittab; comments, blank and malformed lines are left out."""
    entries: list[InittabEntry] = []
    for lineno, start, end, line in lines(text):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = line.split(":", 3)
        if len(fields) != 4:
            continue
        ident, runlevels, action, _ = fields
        process_start = start + len(ident) + len(runlevels) + len(action) + 3
        p_start, p_end = strip_span(text, process_start, end)
        l_start, l_end = strip_span(text, start, end)
        entries.append(InittabEntry(
            id=ident.strip(), runlevels=runlevels.strip(), action=action.strip().lower(),
            process=text[p_start:p_end], lineno=lineno, start=l_start, end=l_end,
            process_start=p_start, process_end=p_end))
    return entries
