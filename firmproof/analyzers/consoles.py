"""FP-CON: root shells on a console without a login: inittab, getty, systemd, kernel command line."""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from typing import Any

from firmproof.analyzers.base import Analyzer, rule
from firmproof.device.bootchain import SHELLS, enabled_units, unwrap
from firmproof.device.parsers.inittab import CONSOLE_ACTIONS, parse_inittab
from firmproof.device.parsers.shell import split_words
from firmproof.device.parsers.systemd import UNIT_DIRS, parse_exec, parse_unit
from firmproof.fs.filetype import APK, ARCHIVE, ELF, MEDIA
from firmproof.fs.rootfs import RootFS
from firmproof.model import Category, Finding, Severity

_CWE = "https://cwe.mitre.org/data/definitions/{}.html"

CONSOLE_SHELL = rule(
    "FP-CON-001", Category.DEBUG_CONSOLE, Severity.HIGH,
    title="root shell on a console without login",
    why="""An inittab entry (`ttyS0::respawn:/bin/sh`, `::askfirst:-/bin/sh`) or an enabled systemd
        unit runs a shell on a terminal instead of a login: anyone with the serial header or a
        keyboard gets root without a password. High rather than critical: it needs physical
        access. Medium when init asks on the console first (`askfirst`, OpenWrt's `askconsole`:
        "Please press Enter to activate this console"): a maintenance console that announces
        itself, documented by BusyBox and OpenWrt, rather than a silent one.""",
    confirm="""Read the quoted line: the process is a shell, not getty/login; `details.tty` is the
        terminal. On a device: attach to the UART (115200 8N1 usually), press Enter, type `id`.""",
    references=["https://busybox.net/downloads/BusyBox.html", _CWE.format(306), _CWE.format(1191)],
)
GETTY_AUTOLOGIN = rule(
    "FP-CON-002", Category.DEBUG_CONSOLE, Severity.HIGH,
    title="console logs root in without a password",
    why="""getty is told to skip the login (`getty -n -l /bin/sh`, `agetty --autologin root`,
        `login -f root`): the console gives a root session without asking for a password.""",
    confirm="""Read the quoted line and check the options named in `details.how`; on a device,
        attach to the console (`details.tty`) and press Enter.""",
    references=["https://man7.org/linux/man-pages/man8/agetty.8.html", _CWE.format(306)],
)
KERNEL_INIT_SHELL = rule(
    "FP-CON-003", Category.DEBUG_CONSOLE, Severity.HIGH,
    title="kernel command line starts a shell as init",
    why="""`init=/bin/sh` (or `rdinit=`) in the boot arguments makes the kernel start a shell as
        process 1: a root shell on the console before any service or password check runs.""",
    confirm="""Read the quoted boot arguments (U-Boot environment, cmdline.txt, boot script); on a
        device, `cat /proc/cmdline` or `printenv bootargs` at the U-Boot prompt.""",
    references=["https://docs.kernel.org/admin-guide/kernel-parameters.html", _CWE.format(1191)],
)

# inittab actions whose init prints "Please press Enter to activate this console" first
ANNOUNCED_ACTIONS = frozenset({"askfirst", "askconsole"})
_INIT_ARG = re.compile(rb"(?<![A-Za-z0-9_.-])(rd)?init=([^\s\x00\"';]+)")
_CMDLINE_MARKERS = re.compile(rb"console=|root=|bootargs|rootfstype=|mem=", re.I)
_RECORD_MAX = 1024
_MAX_SCAN_BYTES = 8 * 1024 * 1024
_AUTOLOGIN_LONG = "autologin"


def _shell_name(program: str) -> str | None:
    """'sh' for an interactive shell: '/bin/sh', '-/bin/sh', '/bin/ash --login', 'busybox sh';
    None for anything else (a shell running a script or a `-c` string is no console)."""
    argv, _ = unwrap(split_words(program))
    if not argv:
        return None
    name = posixpath.basename(argv[0].lstrip("-"))
    if name not in SHELLS or not all(a.startswith("-") and a != "-c" for a in argv[1:]):
        return None
    return name


def _getty_autologin(argv: list[str]) -> str | None:
    """How a getty/login command line skips the password, or None."""
    if not argv:
        return None
    name = posixpath.basename(argv[0].lstrip("-"))
    args = argv[1:]
    if name == "login":
        for i, a in enumerate(args):
            if a == "-f" and i + 1 < len(args) and args[i + 1] == "root":
                return "login -f root"
            if a == "-froot":
                return "login -f root"
        return None
    if "getty" not in name:
        return None
    user: str | None = None
    login_program: str | None = None
    no_prompt = False
    i = 0
    while i < len(args):
        a = args[i]
        nxt = args[i + 1] if i + 1 < len(args) else None
        if a in ("-a", "--autologin") and nxt is not None:
            user = nxt
            i += 2
            continue
        if a.startswith("--autologin="):
            user = a.split("=", 1)[1]
        elif a in ("-l", "--login-program") and nxt is not None:
            login_program = nxt
            i += 2
            continue
        elif a.startswith("--login-program="):
            login_program = a.split("=", 1)[1]
        elif a in ("-n", "--skip-login"):
            no_prompt = True
        elif a.startswith("-") and not a.startswith("--") and len(a) > 2:
            # grouped short options: '-nl /bin/sh', '-Lnl/bin/sh'
            letters = a[1:]
            if "n" in letters:
                no_prompt = True
            if "l" in letters:
                rest = letters[letters.index("l") + 1:]
                login_program = rest or nxt
                if not rest:
                    i += 1
        i += 1
    if user == "root":
        return f"{name} --autologin root"
    if login_program is not None and _shell_name(login_program):
        if no_prompt:
            return f"{name} -n -l {login_program}"
        if user is not None:
            return f"{name} --autologin {user} -l {login_program}"
    return None


class Consoles(Analyzer):
    family = "CON"
    name = "consoles"
    rules = (CONSOLE_SHELL, GETTY_AUTOLOGIN, KERNEL_INIT_SHELL)

    def run(self, fs: RootFS) -> Iterator[Finding]:
        yield from self._inittab(fs)
        yield from self._systemd(fs)
        yield from self._cmdlines(fs)

    def _inittab(self, fs: RootFS) -> Iterator[Finding]:
        path = fs.resolve("/etc/inittab")
        text = fs.text("/etc/inittab") if path else None
        if path is None or text is None:
            return
        for entry in parse_inittab(text):
            if entry.action not in CONSOLE_ACTIONS:
                continue
            details: dict[str, Any] = {"tty": entry.tty, "action": entry.action,
                                       "process": entry.process}
            length = entry.end - entry.start
            shell = _shell_name(entry.process)
            if shell is not None:
                announced = entry.action in ANNOUNCED_ACTIONS
                yield CONSOLE_SHELL.at(fs, path, entry.start, length, shell=shell,
                                       severity=Severity.MEDIUM if announced else None, **details)
                continue
            how = _getty_autologin(split_words(entry.process.lstrip("-")))
            if how is not None:
                yield GETTY_AUTOLOGIN.at(fs, path, entry.start, length, how=how, **details)

    def _systemd(self, fs: RootFS) -> Iterator[Finding]:
        enabled = enabled_units(fs)
        for folder in UNIT_DIRS:
            for name in fs.listdir(folder):
                path = f"{folder}/{name}"
                entry = fs.entry(path)
                if entry is None:
                    continue
                if name.endswith(".service") and entry.kind == "file":
                    yield from self._unit_file(fs, path, name, enabled)
                elif name.endswith(".service.d"):
                    unit = name[: -len(".d")]
                    for child in sorted(fs.listdir(path)):
                        if child.endswith(".conf"):
                            yield from self._unit_file(fs, f"{path}/{child}", unit, enabled)

    def _unit_file(self, fs: RootFS, path: str, unit: str, enabled: dict[str, str]) -> Iterator[Finding]:
        text = fs.text(path)
        if text is None:
            return
        parsed = parse_unit(text)
        is_getty = "getty" in unit
        on_tty = bool(parsed.last("Service", "TTYPath")) or \
            (parsed.last("Service", "StandardInput") or "").startswith("tty")
        stem = unit.partition("@")[0]
        unit_enabled = unit in enabled or any(n.startswith(stem + "@") for n in enabled) \
            or is_getty
        for setting in parsed.get("Service", "ExecStart"):
            for command in parse_exec(setting.value):
                argv = list(command.argv)
                details: dict[str, Any] = {"unit": unit, "exec": setting.value,
                                           "tty": parsed.last("Service", "TTYPath") or
                                           (unit.partition("@")[2].rsplit(".", 1)[0] or None)}
                how = _getty_autologin(argv)
                if how is not None:
                    yield GETTY_AUTOLOGIN.at(fs, path, setting.start, setting.end - setting.start,
                                             how=how, **details)
                elif on_tty and unit_enabled and _shell_name(" ".join(argv)):
                    if unit in enabled:
                        details["enabled_by"] = enabled[unit]
                    yield CONSOLE_SHELL.at(fs, path, setting.start, setting.end - setting.start,
                                           shell=posixpath.basename(argv[0]), **details)

    def _cmdlines(self, fs: RootFS) -> Iterator[Finding]:
        for entry in fs.files():
            if entry.size > _MAX_SCAN_BYTES or entry.ftype in (ELF, MEDIA, APK, ARCHIVE):
                continue
            data = fs.read(entry.path)
            if not data or b"init=" not in data:
                continue
            reported: set[int] = set()
            for m in _INIT_ARG.finditer(data):
                program = m.group(2).decode("latin-1")
                if _shell_name(program) is None:
                    continue
                start, end = _record(data, m.start(), m.end())
                if start in reported or data.startswith(b"#", start) \
                        or not _CMDLINE_MARKERS.search(data, start, end):
                    continue
                reported.add(start)
                yield KERNEL_INIT_SHELL.at(fs, entry.path, start, end - start,
                                           parameter=m.group(0).decode("latin-1"), init=program)


def _record(data: bytes, start: int, end: int) -> tuple[int, int]:
    """The line (or NUL-terminated environment entry) around [start, end), blanks left out."""
    lo = max(0, start - _RECORD_MAX)
    cut = max(data.rfind(b"\n", lo, start), data.rfind(b"\0", lo, start))
    begin = cut + 1 if cut >= 0 else lo
    hi = min(len(data), end + _RECORD_MAX)
    stops = [i for i in (data.find(b"\n", end, hi), data.find(b"\0", end, hi)) if i >= 0]
    finish = min(stops) if stops else hi
    while begin < finish and data[begin] in b" \t\r":
        begin += 1
    while finish > begin and data[finish - 1] in b" \t\r":
        finish -= 1
    return begin, finish
