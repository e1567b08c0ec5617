"""FP-TRIG: programs that run a command when a network packet carries a magic value.

First pass (headers only): the program imports socket and bind, a receive function
(recv/recvfrom/recvmsg/read) and a way to run commands (system/popen/exec*, and vendor
wrappers such as Tenda's doSystemCmd). Only those are disassembled; on x86-64 only the
functions that call those imports, found by a byte scan for calls into their PLT stubs.

A static program imports nothing: it is read when its syscall wrappers (a byte scan, no
sweep) hold socket and an execve or clone/fork and it is no BusyBox; the sweep then names
its wrappers (firmproof.device.binary.syscalls), and a call that passes a literal to a function
reaching no system call counts as a compare (strcmp, memcmp, strstr have no names there).

Then, for every call that runs a literal command in a function that receives from the
network (or that such a function calls directly), the same function must first compare
something with a constant: a comparison call with a literal argument, or, when the compiler
inlined the comparison (gcc does for short literals against fixed-size buffers), compares of
registers against words whose bytes are text, which are joined back into the magic value.
The port is recovered when the program calls htons() with a constant.

Evidence: the command string's bytes; `details.magic`, `details.port`, `details.compare`
and the call sites say the rest.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator

from firmproof.analyzers.base import ElfAnalyzer, rule
from firmproof.analyzers.common import COMPARE
from firmproof.device import binary
from firmproof.fs.rootfs import RootFS
from firmproof.model import Category, Finding, Severity

RECEIVE = frozenset({"recv", "recvfrom", "recvmsg", "read"})
RUN = frozenset({"system", "popen", "execl", "execle", "execlp", "execv", "execve", "execvp", "execvpe",
                 "posix_spawn", "posix_spawnp", "doSystemCmd", "twsystem", "_eval"})
MIN_MAGIC = 4
WINDOW = 0x400          # most bytes of code from the compare to the call that runs the command
PROLOGUE = 0x20        # bytes from a function's address to the prologue that opens its frame
HELPER_SIZE = 0x100     # a compare this close to its function's start: a helper that compares
SHELLS = frozenset({"sh", "ash", "bash", "dash", "hush", "msh", "ksh", "zsh"})
ACCESS = frozenset({"telnetd", "utelnetd", "in.telnetd", "dropbear", "sshd", "nc", "netcat", "ncat",
                    "socat", "rshd", "in.rshd", "adbd", "tftpd", "ftpd", "vsftpd", "busybox"})
HARMLESS = frozenset({"reboot", "halt", "poweroff", "sync", "date", "uptime", "echo", "logger",
                      "true", "ifconfig", "ping", "killall", "kill", "led", "ntpd", "ntpclient"})

MAGIC_PACKET = rule(
    "FP-TRIG-001", Category.HIDDEN_TRIGGER, Severity.CRITICAL,
    title="network input compared with a magic value runs a command",
    why="""A program listens on a socket it bound, compares what it receives with a constant and,
        when they match, runs a command (starts telnetd, a shell, a debug service). Anyone who
        knows the value, which is in the public firmware, opens the device with one packet:
        the shape of Tenda's `w302r_mfg` UDP 7329 daemon and of many vendor 'factory' services.""",
    confirm="""Disassemble the program at the call sites in `details` (`r2 -A <file>; s <run_site>;
        pdf`): the call to `details.run` takes the command at the evidence offset, and the branch
        before it depends on the comparison at `details.compare_site` with `details.magic`.
        On a test device or under qemu-user, send the magic value to `details.port` and watch
        the command start.""",
    references=["https://cwe.mitre.org/data/definitions/912.html",
                "https://attack.mitre.org/techniques/T1205/",
                "https://web.archive.org/web/2013/http://www.devttys0.com/2013/10/"
                "from-china-with-love/"],
)


def listens_and_runs(exe: binary.Executable) -> bool:
    """First pass: headers only."""
    return (exe.imports_any("socket") and exe.imports_any("bind") and exe.imports_any(*RECEIVE)
            and exe.imports_any(*RUN))


STATIC_MAX = 4 << 20        # a static program larger than this is not read (a BusyBox-sized suite)
STATIC_RUN = frozenset({"execve", "execv", "system"})      # names firmproof.device.binary.syscalls gives


def static_candidate(exe: binary.Executable) -> bool:
    """First pass for a static program (no imports to read): not BusyBox (whose applets the
    boot-chain rules judge by their command lines), not huge, and its syscall wrappers hold a
    socket and an execve or a clone/fork; the sweep then names socket, bind and the receive calls."""
    return (exe.static and exe.size <= STATIC_MAX and b"BusyBox v" not in exe.data
            and "socket" in (first := exe.syscall_names())
            and bool(first & {"execve", "clone", "clone3", "fork", "vfork"}))


def join_constants(chunks: list[bytes]) -> bytes:
    """Inlined compares test overlapping or adjacent words: join them into one value."""
    out = b""
    for chunk in chunks:
        overlap = next((k for k in range(min(len(out), len(chunk)) - 1, 0, -1)
                        if out.endswith(chunk[:k]) and k < len(chunk)), 0)
        out += chunk[overlap:]
    return out


class Triggers(ElfAnalyzer):
    family = "TRIG"
    name = "triggers"
    rules = (MAGIC_PACKET,)

    def program(self, fs: RootFS, path: str, exe: binary.Executable) -> Iterator[Finding]:
        if exe.static:
            names = exe.names() if static_candidate(exe) else frozenset()
            if not ({"socket", "bind"} <= names and names & RECEIVE and names & STATIC_RUN):
                return
        elif not listens_and_runs(exe):
            return
        yield from self._check(fs, path, exe)

    def _check(self, fs: RootFS, path: str, exe: binary.Executable) -> Iterator[Finding]:
        whole = exe
        sites = exe.quick_calls(RUN | RECEIVE | COMPARE | {"htons"}) if exe.bounded() else None
        if sites is not None:
            exe = whole.focused(sites)      # only the functions that receive, compare or run commands
        code, received, handlers = _received(exe)
        if sites is not None and code is not None:
            # and the functions those call after receiving (a helper that compares the input
            # byte by byte calls nothing: no call site of the first focus is in it)
            focused = {whole.bounds_of(site) for site in sites}
            more = sorted({c.target for c in code.calls if c.callee is None and c.target in handlers
                           and whole.bounds_of(c.target) not in focused})
            if more:
                exe = whole.focused([*sites, *more])
                code, received, handlers = _received(exe)
        if code is None or not received:
            return
        ports = sorted({a for c in exe.calls("htons") for a in c.args[:1]
                        if isinstance(a, int) and 0 < a < 65536})
        compares = compare_sites(exe, code)
        seen: set[int] = set()
        run = RUN | STATIC_RUN if exe.static else RUN
        for call, _, command in sorted(exe.calls_with_string(run), key=lambda t: (t[0].site, t[1])):
            if call.site in seen:
                continue
            seen.add(call.site)
            function = exe.function_of(call.site)
            if function not in received and function not in handlers:
                continue
            # (not: the receive before the compare by address; a rotated loop puts it last)
            low = max(function or 0, call.site - WINDOW)
            # the compare whose branch leads to the run: close before it, after the input
            before = [(site, how, text) for site, how, text, offset in compares
                      if low < site < call.site and exe.function_of(site) == function
                      and offset != command.offset]
            if before:
                where, how, magic = before[-1]
            else:
                inline = [(site, raw) for site, raw in code.constants
                          if low < site < call.site and exe.function_of(site) == function]
                joined = join_constants([raw for _, raw in inline])
                if len(joined) < MIN_MAGIC:
                    continue
                magic, how, where = joined.decode("latin-1"), "inline", inline[0][0]
            severity, gives = power(command.text, call.callee or "")
            yield MAGIC_PACKET.at(
                fs, path, command.offset, command.length, severity=severity,
                title=f"magic value {magic!r} from the network runs {command.text!r}",
                magic=magic, compare=how, compare_site=f"0x{where:x}", run=call.callee,
                run_site=f"0x{call.site:x}", command=command.text, gives=gives,
                port=ports[0] if ports else None, arch=exe.arch, endian=exe.endian)


def _received(exe: binary.Executable,
              ) -> tuple[binary.CodeFacts | None, dict[int | None, list[int]], set[int]]:
    """The program's code facts; the functions that receive from the network, each with its
    receive call sites; and the functions that handle what was received: those they call
    after receiving."""
    code = exe.code
    # read() counts only in a program that has no socket receive call: it reads files too
    sockets = RECEIVE - {"read"} if exe.names() & (RECEIVE - {"read"}) else RECEIVE
    received: dict[int | None, list[int]] = {}      # function -> its receive call sites
    for c in exe.calls(*sockets):
        received.setdefault(exe.function_of(c.site), []).append(c.site)
    if code is None:
        return None, received, set()
    handlers = {c.target for c in code.calls
                if c.target is not None and (function := exe.function_of(c.site)) in received
                and c.site > min(received[function])}
    return code, received, handlers


def compare_sites(exe: binary.Executable, code: binary.CodeFacts) -> list[tuple[int, str, str, int | None]]:
    """(site, how, magic, literal's offset) of every comparison with a literal: calls to a
    compare function with a literal argument, and calls to a small function of the program
    that makes one, by a call or inline (`static int knocked(buf) { return strncmp(buf,
    "magic", 5) == 0; }` at -O0)."""
    direct = [(c.site, c.callee or "", ref.text, ref.offset) for c, _, ref in exe.calls_with_string(COMPARE)]
    if exe.static:
        # no names: a call that passes a literal, as one of the first two arguments (what
        # strcmp, memcmp, strstr compare), to a function reaching no system call (glibc's
        # IFUNC stubs too) compares; fopen(path) does not, nor ARM's __aeabi_read_tp, whose
        # third argument register may hold a literal-pool word that is a GOT offset
        direct += [(c.site, "compare", ref.text, ref.offset) for c in code.calls
                   if c.callee is None and c.target is not None
                   for value in c.args[:2] if isinstance(value, int)
                   and (ref := exe.string_at(value)) is not None and len(ref.text) >= MIN_MAGIC
                   and not ref.text.startswith("/") and exe.pure(c.target)]     # a path: fopen
        direct.sort(key=lambda t: t[0])
    helpers: dict[int, tuple[str, str, int | None]] = {}
    for site, how, text, offset in direct:
        function = exe.function_of(site)
        if function is not None and site - function < HELPER_SIZE:
            helpers.setdefault(function, (how, text, offset))
    inline: dict[int, list[bytes]] = {}
    for site, raw in code.constants:
        function = exe.function_of(site)
        if function is not None and site - function < HELPER_SIZE and function not in helpers:
            inline.setdefault(function, []).append(raw)
    for function, chunks in inline.items():
        joined = join_constants(chunks)
        if len(joined) >= MIN_MAGIC:
            helpers[function] = ("inline", joined.decode("latin-1"), None)
    starts = sorted(helpers)
    wrapped = []
    for c in code.calls:
        if c.target is None:
            continue
        # the helper's start, or its prologue a few instructions in (MIPS sets $gp first)
        i = bisect.bisect_left(starts, c.target)
        if i < len(starts) and starts[i] - c.target <= PROLOGUE \
                and exe.function_of(c.site) != starts[i]:
            how, text, at = helpers[starts[i]]
            wrapped.append((c.site, how, text, at))
    return sorted(direct + wrapped, key=lambda t: t[0])


def power(command: str, run: str) -> tuple[Severity, str]:
    """What running `command` gives whoever sends the magic value: a shell or a remote-access
    daemon (critical), a fixed harmless action such as a reboot (low: a documented
    remote-management command, issue 12), another fixed command (high)."""
    words = command.replace(";", " ").replace("&", " ").replace("|", " ").split()
    names = {w.rsplit("/", 1)[-1] for w in words}
    if names & SHELLS or any(w in ("-e", "-l") for w in words):
        return Severity.CRITICAL, "shell"
    if names & ACCESS:
        return Severity.CRITICAL, "remote access"
    if words and words[0].rsplit("/", 1)[-1] in HARMLESS and not names & ACCESS:
        return Severity.LOW, "fixed harmless action"
    return Severity.HIGH, "fixed command"
