"""FP-TRIG: programs that run a command when a network packet carries a magic value.

First pass (headers only): the program imports socket and bind, a receive function
(recv/recvfrom/recvmsg/read) and a way to run commands (system/popen/exec*, and vendor
wrappers such as Tenda's doSystemCmd). Only those are disassembled; on x86-64 only the
functions that call those imports, found by a byte scan for calls into their PLT stubs.

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

from collections.abc import Iterator

from firmproof import binary
from firmproof.analyzers.base import Analyzer, rule
from firmproof.analyzers.hardcoded import COMPARE
from firmproof.filetype import ELF
from firmproof.model import Category, Finding, Severity
from firmproof.rootfs import RootFS

RECEIVE = frozenset({"recv", "recvfrom", "recvmsg", "read"})
RUN = frozenset({"system", "popen", "execl", "execle", "execlp", "execv", "execve", "execvp", "execvpe",
                 "posix_spawn", "posix_spawnp", "doSystemCmd", "twsystem", "_eval"})
MIN_MAGIC = 4

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


def join_constants(chunks: list[bytes]) -> bytes:
    """Inlined compares test overlapping or adjacent words: join them into one value."""
    out = b""
    for chunk in chunks:
        overlap = next((k for k in range(min(len(out), len(chunk)) - 1, 0, -1)
                        if out.endswith(chunk[:k]) and k < len(chunk)), 0)
        out += chunk[overlap:]
    return out


class Triggers(Analyzer):
    family = "TRIG"
    name = "triggers"
    shares = "binary"         # one ELF model cache for the three binary families
    visits = (ELF,)
    rules = (MAGIC_PACKET,)

    def run(self, fs: RootFS) -> Iterator[Finding]:
        for entry in fs.files(ELF):
            exe = binary.load(fs, entry.path)
            if exe is None or not listens_and_runs(exe):
                continue
            yield from self._check(fs, entry.path, exe)

    def _check(self, fs: RootFS, path: str, exe: binary.Executable) -> Iterator[Finding]:
        if exe.bounded() and (sites := exe.quick_calls(RUN | RECEIVE | {"htons"})) is not None:
            exe = exe.focused(sites)        # only the functions that receive or run commands
        code = exe.code
        # read() counts only in a program that has no socket receive call: it reads files too
        sockets = RECEIVE - {"read"} if exe.imports_any(*(RECEIVE - {"read"})) else RECEIVE
        receivers = {exe.function_of(c.site) for c in exe.calls(*sockets)}
        if code is None or not receivers:
            return
        # functions that handle what was received: those that receive, and those they call
        handlers = receivers | {c.target for c in code.calls
                                if c.target is not None and exe.function_of(c.site) in receivers}
        ports = sorted({a for c in exe.calls("htons") for a in c.args[:1]
                        if isinstance(a, int) and 0 < a < 65536})
        compares = [(c, ref) for c, _, ref in exe.calls_with_string(COMPARE)]
        seen: set[int] = set()
        for call, _, command in sorted(exe.calls_with_string(RUN), key=lambda t: (t[0].site, t[1])):
            if call.site in seen:
                continue
            seen.add(call.site)
            function = exe.function_of(call.site)
            if function not in handlers:
                continue
            before = [(c, ref) for c, ref in compares
                      if c.site < call.site and exe.function_of(c.site) == function
                      and ref.offset != command.offset]
            if before:
                compare, ref = before[-1]
                magic, how, where = ref.text, compare.callee, compare.site
            else:
                inline = [(site, raw) for site, raw in code.constants
                          if site < call.site and exe.function_of(site) == function]
                joined = join_constants([raw for _, raw in inline])
                if len(joined) < MIN_MAGIC:
                    continue
                magic, how, where = joined.decode("latin-1"), "inline", inline[0][0]
            yield MAGIC_PACKET.at(
                fs, path, command.offset, command.length,
                title=f"magic value {magic!r} from the network runs {command.text!r}",
                magic=magic, compare=how, compare_site=f"0x{where:x}", run=call.callee,
                run_site=f"0x{call.site:x}", command=command.text, port=ports[0] if ports else None,
                arch=exe.arch, endian=exe.endian)
