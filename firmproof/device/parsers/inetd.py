"""inetd.conf (BSD/BusyBox/openbsd-inetd) and xinetd service blocks."""

from __future__ import annotations

import re
from dataclasses import dataclass

from firmproof.device.parsers._lines import lines, strip_span

WELL_KNOWN_PORTS = {
    "telnet": 23, "shell": 514, "login": 513, "exec": 512, "ftp": 21, "ssh": 22,
    "tftp": 69, "http": 80, "www": 80, "finger": 79, "echo": 7, "discard": 9,
    "daytime": 13, "chargen": 19, "time": 37, "uucp": 540, "rsync": 873, "telnets": 992,
}


@dataclass(frozen=True)
class InetdEntry:
    service: str            # name or number (or 'addr:service')
    socktype: str
    protocol: str
    wait: str
    user: str
    server: str             # program path, or 'internal'
    args: tuple[str, ...]   # argv, argv[0] first
    lineno: int
    start: int
    end: int

    @property
    def port(self) -> int | None:
        name = self.service.rsplit(":", 1)[-1]
        if name.isdigit():
            return int(name)
        return WELL_KNOWN_PORTS.get(name)


def parse_inetd_conf(text: str) -> list[InetdEntry]:
    entries: list[InetdEntry] = []
    for lineno, start, end, line in lines(text):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        fields = stripped.split()
        if len(fields) < 6:
            continue
        l_start, l_end = strip_span(text, start, end)
        entries.append(InetdEntry(
            service=fields[0], socktype=fields[1], protocol=fields[2], wait=fields[3],
            user=fields[4], server=fields[5], args=tuple(fields[6:]), lineno=lineno,
            start=l_start, end=l_end))
    return entries


@dataclass(frozen=True)
class XinetdAttr:
    name: str
    op: str                 # '=', '+=', '-='
    value: str
    lineno: int
    start: int
    end: int


@dataclass(frozen=True)
class XinetdService:
    name: str
    attrs: tuple[XinetdAttr, ...]
    start: int              # the 'service NAME' line
    end: int

    def get(self, name: str) -> XinetdAttr | None:
        found = [a for a in self.attrs if a.name == name]
        return found[-1] if found else None

    @property
    def disabled(self) -> bool:
        attr = self.get("disable")
        return attr is not None and attr.value.lower() == "yes"

    @property
    def port(self) -> int | None:
        attr = self.get("port")
        if attr is not None and attr.value.isdigit():
            return int(attr.value)
        return WELL_KNOWN_PORTS.get(self.name)


_ATTR = re.compile(r"\s*([A-Za-z_]+)\s*(\+=|-=|=)\s*(.*?)\s*$")


def parse_xinetd(text: str) -> list[XinetdService]:
    services: list[XinetdService] = []
    current: tuple[str, int, int] | None = None
    attrs: list[XinetdAttr] = []
    for lineno, start, end, line in lines(text):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if current is None:
            if stripped.startswith("service ") or stripped.startswith("service\t"):
                l_start, l_end = strip_span(text, start, end)
                current = (stripped.split(None, 1)[1].strip().rstrip("{").strip(), l_start, l_end)
                attrs = []
            continue
        if stripped in ("{",):
            continue
        if stripped.startswith("}"):
            services.append(XinetdService(current[0], tuple(attrs), current[1], current[2]))
            current = None
            continue
        m = _ATTR.match(line)
        if m:
            l_start, l_end = strip_span(text, start, end)
            attrs.append(XinetdAttr(m.group(1), m.group(2), m.group(3), lineno, l_start, l_end))
    return services
