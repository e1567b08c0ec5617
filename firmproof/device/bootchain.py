"""The boot chain of a root file system: every command that runs at boot (or from cron
or inetd), the line that runs it, and the files that lead there.

    /etc/inittab → /etc/init.d/rcS → /etc/rc.d/S50telnet → /etc/init.d/telnet

Entry points: /etc/inittab (BusyBox and SysV; without one, BusyBox init runs
/etc/init.d/rcS), systemd units enabled in *.wants/ and *.requires/ folders, the
OpenWrt /etc/rc.d/S* links, inetd.conf and xinetd.d, and crontabs. From each, shell
scripts are followed when a line runs them by path, through `sh script`, `. script`,
`for i in /etc/init.d/S??*` loops, run-parts folders, SysV `rc N` runlevel folders,
function calls, OpenWrt rc.common entry functions (`boot`, `start`, `start_service`)
and `procd_set_param command`.

The walk reads the image, never the host. It approximates: conditions are recorded,
not evaluated (except `case` on a known word), and a glob over an unknown variable
matches anything. A tree with no init at all (a lone partition) has every shell
script treated as an entry point, with `reached=False`.
"""

from __future__ import annotations

import fnmatch
import itertools
import logging
import posixpath
import re
import weakref
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace

from firmproof.device.parsers import shell
from firmproof.device.parsers._lines import lines, strip_span
from firmproof.device.parsers.cron import parse_crontab
from firmproof.device.parsers.inetd import parse_inetd_conf, parse_xinetd
from firmproof.device.parsers.initrc import parse_initrc
from firmproof.device.parsers.inittab import BOOT_ACTIONS, parse_inittab
from firmproof.device.parsers.systemd import (
    EXEC_KEYS,
    UNIT_DIRS,
    UnitLine,
    expand_exec,
    parse_environment,
    parse_environment_file,
    parse_exec,
    parse_unit,
)
from firmproof.fs import examined
from firmproof.fs.filetype import ELF, SCRIPT, TEXT
from firmproof.fs.rootfs import DIR, FILE, SYMLINK, FileEntry, RootFS, normalize

log = logging.getLogger(__name__)

PATH_DIRS = ("/bin", "/sbin", "/usr/bin", "/usr/sbin", "/usr/local/bin", "/usr/local/sbin")
SHELLS = frozenset({"sh", "ash", "bash", "dash", "ksh", "mksh", "pdksh", "zsh", "hush", "msh",
                    "lash", "rbash", "yash"})
MULTI_CALL = frozenset({"busybox", "toybox", "dropbearmulti"})
INETD_NAMES = frozenset({"inetd", "xinetd", "openbsd-inetd", "inetutils-inetd"})
CROND_NAMES = frozenset({"crond", "cron", "busybox-crond"})
ANDROID_INIT_RCS = ("/init.rc", "/system/etc/init/hw/init.rc")
ANDROID_INIT_DIRS = ("/system/etc/init", "/system_ext/etc/init", "/vendor/etc/init",
                     "/odm/etc/init", "/product/etc/init")
MAX_DEPTH = 16
MAX_STEPS = 20_000
MAX_SCRIPT_BYTES = 16 * 1024 * 1024
MAX_LOOP_ITEMS = 400
LINE_WINDOW = 16            # commands on each side of a command that count as its line
MAX_WORDS = 1024            # words of one command expanded (a hostile `echo` of a million words)
MAX_EVIDENCE_LINE = 4096    # a longer line: the evidence is the command, not its whole line

_STOP_ACTIONS = frozenset({"stop", "kill", "shutdown", "status", "reload", "force-reload",
                           "disable", "uninstall", "stop_service", "force-stop", "halt",
                           "condrestart", "try-restart", "usage", "help"})
_START_ACTIONS = frozenset({"boot", "start", "restart"})
_LS_SUBSTITUTION = re.compile(r"\$\(\s*ls\s+(?:-\w+\s+)*([^)]+?)\s*\)|`\s*ls\s+(?:-\w+\s+)*([^`]+?)\s*`")
_RUN_PARTS_NAME = re.compile(r"^[A-Za-z0-9_-]+$")
_SHELL_BUILTINS = frozenset({
    "[", "[[", "test", "echo", "printf", "true", "false", ":", "cd", "export", "local", "read",
    "set", "unset", "shift", "return", "exit", "break", "continue", "eval", "exec", "trap",
    "wait", "umask", "ulimit", "alias", "type", "let", "readonly", "getopts", "hash"})


@dataclass(frozen=True)
class Invocation:
    """One command as run: argv after expansion and unwrapping, its redirections."""

    argv: tuple[str, ...]
    redirects: tuple[tuple[str, str], ...]   # (fd + operator, target)
    pipeline: int

    @property
    def name(self) -> str:
        return posixpath.basename(self.argv[0]) if self.argv else ""


@dataclass(frozen=True)
class Step:
    """One command that runs at boot (or from cron/inetd)."""

    path: str                       # the file that holds the line (links followed)
    start: int                      # the line that runs it: evidence
    end: int
    argv: tuple[str, ...]           # expanded; wrappers (busybox, exec, start-stop-daemon…) removed
    chain: tuple[str, ...]          # how boot reaches `path`, `path` last
    via: str                        # inittab | init | script | systemd | inetd | xinetd | cron | procd
    program: str | None             # where argv[0] is in the image (links not followed)
    binary: str | None              # the regular file that runs (links followed), if any
    redirects: tuple[tuple[str, str], ...] = ()
    pipeline: int = 0
    line: tuple[Invocation, ...] = ()        # every command on the same line, this one included
    conditions: tuple[tuple[str, str], ...] = ()  # enclosing (kind, text): if/elif/else/while/until
    background: bool = False
    port: int | None = None         # inetd/xinetd/socket units: where the service listens
    reached: bool = True            # False: nothing was seen starting this script

    @property
    def name(self) -> str:
        return posixpath.basename(self.argv[0]) if self.argv else ""

    @property
    def full_chain(self) -> tuple[str, ...]:
        """The chain down to the program itself."""
        last = self.program or (self.argv[0] if self.argv else "")
        return (*self.chain, last) if last and (not self.chain or self.chain[-1] != last) else self.chain

    def pipeline_invocations(self) -> tuple[Invocation, ...]:
        return tuple(i for i in self.line if i.pipeline == self.pipeline)


@dataclass(frozen=True)
class _Unreached:
    """Where the walk of a tree without init stood before it took the scripts no init reaches
    as entry points: enough to walk them again from there, some of them only."""

    steps: int
    scripts: int
    skipped: int
    cut_short: bool
    visited: frozenset[str]
    rc_levels: frozenset[str]
    units: frozenset[str]
    parsed: Mapping[str, shell.Script | None]   # the scripts read so far (read once per walk)


@dataclass
class BootChain:
    steps: list[Step] = field(default_factory=list)
    scripts: dict[str, tuple[str, ...]] = field(default_factory=dict)  # script -> chain to it
    has_init: bool = False
    cut_short: bool = False         # MAX_STEPS reached: part of the boot chain not followed
    # files the walk did not read in full (too big, MAX_STEPS): reported by each user's task
    skipped: list[tuple[FileEntry, str]] = field(default_factory=list, repr=False)
    _applets: dict[str, bool] = field(default_factory=dict, repr=False)
    _unreached: _Unreached | None = field(default=None, repr=False)

    def reaching(self, fs: RootFS, scripts: frozenset[str]) -> BootChain:
        """In a tree without init, the chain with only `scripts` taken as entry points among
        the scripts no init reaches (an analyzer that knows which files can matter spares the
        walk of every other script): this chain's walk resumed where it took them. With an
        init, this chain itself."""
        if self._unreached is None:
            return self
        before = self._unreached
        walker = _Walker(fs)
        walker.result = BootChain(steps=self.steps[:before.steps],
                                  scripts=dict(itertools.islice(self.scripts.items(), before.scripts)),
                                  cut_short=before.cut_short, skipped=self.skipped[:before.skipped])
        walker.visited = set(before.visited)
        walker.rc_levels = set(before.rc_levels)
        walker.units = set(before.units)
        walker.parsed = dict(before.parsed)
        walker.orphans(scripts)
        return walker.result

    def absent(self, fs: RootFS, step: Step) -> bool:
        """True when the program `step` runs cannot be in this image, so the line starts
        nothing: a whole root (it has an init), the program neither at its path nor on PATH,
        its folder part of the image (not a runtime folder or another partition's mount
        point), and for a bare name no BusyBox of the image holding such an applet (an ash
        built standalone runs applets without links)."""
        if step.program is not None or not step.argv or not self.has_init or not step.reached:
            return False
        name = step.argv[0]
        if not name or "$" in name or "`" in name:
            return False
        if "/" in name:
            folder = posixpath.dirname(shell_path(name))
            entry = fs.stat(folder)
            return (entry is not None and entry.kind == DIR
                    and not (folder + "/").startswith(RUNTIME_DIRS))
        if name not in self._applets:
            self._applets[name] = any(f"\0{name}\0".encode() in data
                                      for data in _busyboxes(fs))
        return not self._applets[name]


@dataclass(frozen=True)
class _Ctx:
    path: str                           # resolved file being read
    invoked: str                        # as it was called
    chain: tuple[str, ...]
    via: str
    args: tuple[str, ...] = ()
    depth: int = 0
    span: tuple[int, int] | None = None  # evidence span forced for every command (inittab, cron)
    port: int | None = None
    reached: bool = True


# -- public helpers ----------------------------------------------------------------

# folders that boot fills at run time, or where another partition is mounted: a program there
# may exist on the device without being in this image
RUNTIME_DIRS = ("/tmp/", "/var/",  # noqa: S108 - image paths, not this machine's "/run/", "/mnt/", "/media/", "/data/", "/overlay/", "/jffs/",
                "/dev/", "/proc/", "/sys/", "/home/", "/opt/", "/userfs/", "/config/")
BUSYBOX_PATHS = ("/bin/busybox", "/sbin/busybox", "/usr/bin/busybox", "/bin/busybox.nosuid",
                 "/bin/busybox.suid", "/usr/sbin/busybox")


def _busyboxes(fs: RootFS) -> Iterator[bytes]:
    for path in BUSYBOX_PATHS:
        entry = fs.stat(path)
        if entry is not None and entry.kind == FILE:
            data = fs.read(path)
            if data is not None:
                yield data


def which(fs: RootFS, name: str, cwd: str = "/") -> str | None:
    """Where `name` is in the image: a path as given, or the first PATH folder holding it."""
    if not name or name.startswith("$") or name in (".", ".."):
        return None
    if "/" in name:
        path = shell_path(name, cwd)
        return path if _is_file(fs, path) else None
    for folder in PATH_DIRS:
        path = f"{folder}/{name}"
        if _is_file(fs, path):
            return path
    return None


def _is_file(fs: RootFS, path: str) -> bool:
    entry = fs.stat(path)
    return entry is not None and entry.kind == FILE


def shell_path(name: str, cwd: str = "/") -> str:
    return posixpath.normpath(name if name.startswith("/") else posixpath.join(cwd, name)).replace("//", "/")


def has_systemd(fs: RootFS) -> bool:
    for path in ("/lib/systemd/systemd", "/usr/lib/systemd/systemd"):
        if fs.exists(path):
            return True
    init = fs.resolve("/sbin/init")
    return bool(init and "systemd" in init)


def unit_masked(fs: RootFS, name: str) -> bool:
    """True when the unit file systemd reads first for `name` is a link to /dev/null (or an
    empty file): `systemctl mask` makes the unit impossible to start, enabled or not."""
    for folder in UNIT_DIRS:
        path = f"{folder}/{name}"
        own = fs.entry(path)
        if own is None:
            continue
        if own.kind == SYMLINK and own.link is not None and normalize(own.link) == "/dev/null":
            return True
        entry = fs.stat(path)
        if entry is not None and entry.kind == FILE:
            return entry.size == 0
    return False


def _template(name: str) -> str:
    """`foo@.service` for `foo@bar.service`; the name itself for a unit that is no instance."""
    if "@" not in name:
        return name
    prefix, _, rest = name.partition("@")
    return f"{prefix}@{rest[rest.rfind('.'):] if '.' in rest else ''}"


def find_unit(fs: RootFS, name: str) -> str | None:
    """The unit file for `name` (template `foo@.service` for `foo@bar.service`); None when
    there is none or the unit is masked."""
    candidates = [name]
    if "@" in name:
        prefix, _, rest = name.partition("@")
        suffix = rest[rest.rfind("."):] if "." in rest else ""
        candidates.append(f"{prefix}@{suffix}")
    for candidate in candidates:
        if unit_masked(fs, candidate):
            return None
        for folder in UNIT_DIRS:
            path = f"{folder}/{candidate}"
            entry = fs.stat(path)
            if entry is not None and entry.kind == FILE:
                return entry.path
    return None


def unit_dropins(fs: RootFS, name: str) -> list[str]:
    """Drop-in files (`name.d/*.conf`, template ones first), in the order systemd reads them."""
    names = []
    if "@" in name:
        prefix, _, rest = name.partition("@")
        suffix = rest[rest.rfind("."):] if "." in rest else ""
        names.append(f"{prefix}@{suffix}")
    names.append(name)
    found: dict[str, str] = {}
    for unit_name in names:
        for folder in reversed(UNIT_DIRS):
            d = f"{folder}/{unit_name}.d"
            for child in fs.listdir(d):
                if child.endswith(".conf"):
                    entry = fs.stat(f"{d}/{child}")
                    if entry is not None and entry.kind == FILE:
                        found[f"{unit_name}/{child}"] = entry.path
    return [found[k] for k in sorted(found, key=lambda k: k.split("/", 1)[1])]


def enabled_units(fs: RootFS) -> dict[str, str]:
    """Units enabled through a *.wants/ or *.requires/ link: unit name -> the link."""
    out: dict[str, str] = {}
    for folder in UNIT_DIRS:
        base = fs.resolve(folder)
        if base is None:
            continue
        for sub in fs.listdir(folder):
            if not sub.endswith((".wants", ".requires")):
                continue
            for name in fs.listdir(f"{folder}/{sub}"):
                out.setdefault(name, f"{folder}/{sub}/{name}")
    return out


# package managers' maintainer scripts (run at install time, never at boot)
INSTALL_TIME_DIRS = ("/var/lib/dpkg/info/", "/usr/lib/opkg/info/", "/var/lib/opkg/info/",
                     "/usr/lib/ipkg/info/", "/usr/share/doc/")


def script_interpreter_ok(data: bytes) -> bool:
    """True for shell scripts (a shell shebang, or text without one)."""
    if data.startswith(b"\x7fELF") or b"\0" in data[:4096]:
        return False
    if not data.startswith(b"#!"):
        return True
    first = data[2:200].split(b"\n", 1)[0].decode("latin-1").split()
    if not first:
        return True
    interp = posixpath.basename(first[0])
    if interp == "env" and len(first) > 1:
        interp = posixpath.basename(first[1])
    if interp == "busybox" and len(first) > 1:
        interp = first[1]
    return interp in SHELLS


# -- the walk ----------------------------------------------------------------------


class _Walker:
    def __init__(self, fs: RootFS) -> None:
        self.fs = fs
        self.result = BootChain()
        self.visited: set[str] = set()
        self.parsed: dict[str, shell.Script | None] = {}
        self.rc_levels: set[str] = set()
        self.globs: dict[str, list[str]] = {}
        self.units: set[str] = set()

    # scripts -----------------------------------------------------------------------

    def _parse(self, path: str) -> shell.Script | None:
        if path in self.parsed:
            return self.parsed[path]
        script: shell.Script | None = None
        entry = self.fs.stat(path)
        if entry is not None and entry.kind == FILE and entry.size > MAX_SCRIPT_BYTES \
                and entry.ftype != ELF:
            self.result.skipped.append((entry, f"a boot script {examined.mib(MAX_SCRIPT_BYTES)}"))
        elif entry is not None and entry.kind == FILE and entry.ftype != ELF:
            data = self.fs.read(path)
            if data is not None and script_interpreter_ok(data):
                script = shell.parse(data.decode("latin-1"))
                if script.cut_at is not None and entry is not None:
                    self.result.skipped.append((entry, f"a boot script of more than {shell.MAX_TOKENS:,} "
                                                       f"words: read up to byte {script.cut_at:,}"))
        self.parsed[path] = script
        return script

    def script(self, invoked: str, args: Iterable[str], chain: tuple[str, ...], via: str,
               depth: int, *, reached: bool = True, cwd: str = "/") -> bool:
        """Follow a script run at boot; False when `invoked` is no shell script of the image."""
        if depth > MAX_DEPTH or len(self.result.steps) >= MAX_STEPS:
            return False
        path = shell_path(invoked, cwd)
        resolved = self.fs.resolve(path)
        if resolved is None:
            return False
        parsed = self._parse(resolved)
        if parsed is None:
            return False
        if resolved in self.visited:
            return True
        self.visited.add(resolved)
        new_chain = (*chain, path) if path != resolved else chain
        new_chain = (*new_chain, resolved)
        self.result.scripts.setdefault(resolved, new_chain)
        ctx = _Ctx(path=resolved, invoked=path, chain=new_chain, via=via, args=tuple(args),
                   depth=depth, reached=reached)
        self._run_script(parsed, ctx)
        return True

    def _run_script(self, parsed: shell.Script, ctx: _Ctx) -> None:
        ran: set[str] = set()
        self._run(parsed.top_level(), parsed, ctx, ran)
        if parsed.shebang and "rc.common" in parsed.shebang:
            action = ctx.args[0] if ctx.args else "boot"
            if action not in _START_ACTIONS:
                return
            entry = "boot" if action == "boot" and "boot" in parsed.functions else "start"
            for name in (entry, "start_service"):
                if name in parsed.functions and name not in ran:
                    if name == "start_service" and "start" in ran and "start" in parsed.functions:
                        # a script's own start() decides whether start_service runs
                        continue
                    ran.add(name)
                    self._run(parsed.function_body(name), parsed, ctx, ran)

    def _run(self, commands: Iterable[shell.Command], parsed: shell.Script, ctx: _Ctx,
             ran: set[str]) -> None:
        commands = list(commands)
        by_line: dict[int, list[shell.Command]] = {}
        place: dict[int, int] = {}          # id(command) -> its index among its line's commands
        for command in commands:
            same = by_line.setdefault(command.line_start, [])
            place[id(command)] = len(same)
            same.append(command)
        for command in commands:
            if len(self.result.steps) >= MAX_STEPS:
                self._cut_short(ctx.path)
                return
            env = self._env(parsed, command, ctx)
            if not self._case_allows(command, env):
                continue
            # the commands around it on its line (a pipeline, `a && b &`): a window, so that a
            # line of 100,000 commands costs 100,000 windows, not 100,000 squared
            same = by_line.get(command.line_start, [command])
            at = place.get(id(command), 0)
            line = same if len(same) <= 2 * LINE_WINDOW \
                else same[max(0, at - LINE_WINDOW):at + LINE_WINDOW + 1]
            self._command(command, parsed, ctx, env, line, frozenset())
            for index, word in enumerate(command.words):
                name = word.value
                if name in parsed.functions and name not in ran:
                    ran.add(name)
                    # `f a b` gives f its own $1 $2; `config_foreach f …` leaves them unknown
                    args = tuple(_expand_words(command.words[1:], env)) if index == 0 else ()
                    self._run(parsed.function_body(name), parsed, replace(ctx, args=args), ran)

    def _cut_short(self, path: str) -> None:
        """The walk stops at MAX_STEPS: the script where it stopped is not fully followed, and
        the scan says so (once per walk)."""
        if self.result.cut_short:
            return
        self.result.cut_short = True
        entry = self.fs.stat(path)
        if entry is not None:
            self.result.skipped.append((entry, f"the boot chain stops at {MAX_STEPS:,} steps: the rest "
                                               "of this script is not followed"))

    @staticmethod
    def _env(parsed: shell.Script, command: shell.Command, ctx: _Ctx) -> dict[str, str]:
        env = dict(parsed.variables)
        env.update(command.env)
        env["0"] = ctx.invoked
        for idx, arg in enumerate(ctx.args[:9], start=1):
            env[str(idx)] = arg
        env["#"] = str(len(ctx.args))
        env["@"] = env["*"] = " ".join(ctx.args)
        return env

    @staticmethod
    def _case_allows(command: shell.Command, env: Mapping[str, str]) -> bool:
        case_word: str | None = None
        for block in command.blocks:
            if block.kind == "case":
                case_word = shell.expand_joined(block.words[0], env) if block.words else None
                continue
            if block.kind != "item":
                continue
            patterns = [shell.expand_joined(w, env) for w in block.words]
            if case_word is not None and "$" not in case_word and "`" not in case_word:
                if not any(fnmatch.fnmatchcase(case_word, p) for p in patterns):
                    return False
            elif patterns and all(p in _STOP_ACTIONS for p in patterns):
                return False
        return True

    def _command(self, command: shell.Command, parsed: shell.Script, ctx: _Ctx,
                 env: dict[str, str], line: list[shell.Command], bound: frozenset[str]) -> None:
        # a command that uses a for-loop variable runs once per item of the loop
        for block in reversed(command.blocks):
            if block.kind == "for" and block.text and block.text not in bound \
                    and _references(command, block.text):
                items = self._loop_items(block, env)
                if items:
                    for item in items[:MAX_LOOP_ITEMS]:
                        self._command(command, parsed, ctx, {**env, block.text: item}, line,
                                      bound | {block.text})
                    return
        argv = _expand_words(command.words, env)
        if not argv:
            return
        invocations = []
        for sibling in line:
            sib_env = env if sibling is command else {**self._env(parsed, sibling, ctx),
                                                      **{k: env[k] for k in bound}}
            sib_argv = _expand_words(sibling.words, sib_env)
            invocations.append(Invocation(tuple(unwrap(sib_argv)[0]), _redirects(sibling),
                                          sibling.pipeline))
        span = ctx.span or (command.line_start, command.line_end)
        if span[1] - span[0] > MAX_EVIDENCE_LINE:
            span = (command.start, command.end)
        conditions = tuple((b.kind, b.text) for b in command.blocks
                           if b.kind in ("if", "elif", "else", "while", "until"))
        self._invoke(argv, ctx, span, redirects=_redirects(command), pipeline=command.pipeline,
                     line=tuple(invocations), conditions=conditions, background=command.background)

    def _loop_items(self, block: shell.Block, env: Mapping[str, str]) -> list[str]:
        items: list[str] = []
        for word in block.words:
            for value in shell.expand(word, env):
                inner = _LS_SUBSTITUTION.fullmatch(value)
                if inner:
                    value = inner.group(1) or inner.group(2) or ""
                if any(ch in value for ch in "*?[") or "$" in value:
                    items.extend(self._glob(value))
                else:
                    items.append(value)
        return items

    def _glob(self, pattern: str) -> list[str]:
        """Paths of the image matching a shell glob; unknown `$VAR` parts match anything."""
        pattern = re.sub(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*|\$[0-9@*#?]", "*", pattern)
        if not pattern.startswith("/"):
            return []
        if pattern not in self.globs:
            self.globs[pattern] = self._glob_uncached(pattern)
        return self.globs[pattern]

    def _glob_uncached(self, pattern: str) -> list[str]:
        folder, name = posixpath.split(pattern)
        if not any(ch in folder for ch in "*?["):
            return sorted(f"{folder.rstrip('/')}/{child}" for child in self.fs.listdir(folder)
                          if fnmatch.fnmatchcase(child, name) and not child.startswith("."))
        depth = pattern.count("/")
        return sorted(e.path for e in self.fs.glob(pattern) if e.path.count("/") == depth)

    # one invocation ----------------------------------------------------------------

    def _invoke(self, argv: list[str], ctx: _Ctx, span: tuple[int, int], *,
                redirects: tuple[tuple[str, str], ...] = (), pipeline: int = 0,
                line: tuple[Invocation, ...] = (), conditions: tuple[tuple[str, str], ...] = (),
                background: bool = False, port: int | None = None) -> None:
        argv, inline = unwrap(argv)
        if inline is not None:
            if ctx.depth <= MAX_DEPTH:
                self._inline(inline, replace(ctx, span=span, depth=ctx.depth + 1), conditions)
            return
        if not argv:
            return
        cwd = posixpath.dirname(ctx.invoked) or "/"
        program = which(self.fs, argv[0], cwd)
        binary = None
        if program is not None:
            entry = self.fs.stat(program)
            if entry is not None and entry.kind == FILE:
                binary = entry.path
        if not line:
            line = (Invocation(tuple(argv), redirects, pipeline),)
        step = Step(path=ctx.path, start=span[0], end=span[1], argv=tuple(argv), chain=ctx.chain,
                    via=ctx.via, program=program, binary=binary, redirects=redirects,
                    pipeline=pipeline, line=line, conditions=conditions, background=background,
                    port=port if port is not None else ctx.port, reached=ctx.reached)
        self.result.steps.append(step)
        self._follow(step, ctx, cwd)

    def _inline(self, text: str, ctx: _Ctx, conditions: tuple[tuple[str, str], ...]) -> None:
        parsed = shell.parse(text)
        by_pipeline: list[Invocation] = []
        envs = []
        for command in parsed.commands:
            env = self._env(parsed, command, ctx)
            envs.append(env)
            argv = _expand_words(command.words, env)
            by_pipeline.append(Invocation(tuple(unwrap(argv)[0]), _redirects(command),
                                          command.pipeline))
        for command, env in zip(parsed.commands, envs, strict=True):
            argv = _expand_words(command.words, env)
            if argv:
                assert ctx.span is not None
                self._invoke(argv, ctx, ctx.span, redirects=_redirects(command),
                             pipeline=command.pipeline, line=tuple(by_pipeline),
                             conditions=conditions, background=command.background)

    def _follow(self, step: Step, ctx: _Ctx, cwd: str) -> None:
        argv = step.argv
        name = step.name
        chain = ctx.chain
        depth = ctx.depth + 1
        if name in (".", "source") and len(argv) > 1:
            self.script(argv[1], argv[2:] or ctx.args, chain, "script", depth, reached=ctx.reached,
                        cwd=cwd)
            return
        if name in SHELLS and len(argv) > 1:
            rest = list(argv[1:])
            while rest and rest[0].startswith("-") and rest[0] not in ("-c",):
                rest = rest[1:]
            if rest:
                self.script(rest[0], rest[1:], chain, "script", depth, reached=ctx.reached, cwd=cwd)
            return
        if name == "run-parts":
            self._run_parts(argv, ctx, cwd)
            return
        if step.program is None:
            return
        if self.script(step.program, argv[1:], chain, "script", depth, reached=ctx.reached, cwd=cwd) \
                and name == "rc" and len(argv) > 1 and re.fullmatch(r"[0-6Ss]", argv[1]):
            self.rc_level(argv[1], (*chain, step.program), depth)

    def _run_parts(self, argv: tuple[str, ...], ctx: _Ctx, cwd: str) -> None:
        args: list[str] = []
        folder = None
        i = 1
        while i < len(argv):
            a = argv[i]
            if a.startswith("--arg="):
                args.append(a[len("--arg="):])
            elif a in ("-a", "--arg") and i + 1 < len(argv):
                args.append(argv[i + 1])
                i += 1
            elif a in ("-u", "--umask") and i + 1 < len(argv):
                i += 1
            elif not a.startswith("-"):
                folder = a
            i += 1
        if folder is None:
            return
        folder = shell_path(folder, cwd)
        for child in sorted(self.fs.listdir(folder)):
            if _RUN_PARTS_NAME.match(child):
                self._run_file(f"{folder}/{child}", args, ctx.chain, ctx)

    def _run_file(self, path: str, args: list[str], chain: tuple[str, ...], ctx: _Ctx) -> None:
        """A file run by a folder runner (run-parts, rc folders): a script is followed,
        a binary becomes a step of its own pointing at the runner's line."""
        if self.script(path, args, chain, "script", ctx.depth + 1, reached=ctx.reached):
            return
        entry = self.fs.stat(path)
        if entry is not None and entry.kind == FILE and ctx.span is not None:
            self._invoke([path, *args], ctx, ctx.span)

    def rc_level(self, level: str, chain: tuple[str, ...], depth: int) -> None:
        """SysV runlevel folders: /etc/rcN.d/S* and /etc/rc.d/rcN.d/S*."""
        if level in self.rc_levels:
            return
        self.rc_levels.add(level)
        for folder in (f"/etc/rc{level}.d", f"/etc/rc.d/rc{level}.d"):
            for child in sorted(self.fs.listdir(folder)):
                if child.startswith("S"):
                    self.script(f"{folder}/{child}", ["start"], chain, "script", depth)

    # entry points ------------------------------------------------------------------

    def inittab(self, path: str) -> None:
        text = self.fs.text(path)
        if text is None:
            return
        resolved = self.fs.resolve(path) or path
        for entry in parse_inittab(text):
            if entry.action not in BOOT_ACTIONS or not entry.process:
                continue
            start = entry.process_start + (1 if entry.process.startswith("-") else 0)
            process = text[start:entry.process_end]
            ctx = _Ctx(path=resolved, invoked=resolved, chain=(resolved,), via="inittab",
                       span=(entry.start, entry.end))
            self._inline_with_offsets(process, start, ctx)
            if "/etc/init.d/rcS" in process and not self.fs.exists("/etc/init.d/rcS"):
                # procd runs /etc/rc.d/S* itself for '::sysinit:/etc/init.d/rcS S boot'
                self.openwrt_rcd((resolved,), "boot")

    def _inline_with_offsets(self, text: str, offset: int, ctx: _Ctx) -> None:
        parsed = shell.parse(text, offset)
        self._run(parsed.commands, parsed, ctx, set())

    def openwrt_rcd(self, chain: tuple[str, ...], action: str, *, only_new: bool = False) -> None:
        for child in sorted(self.fs.listdir("/etc/rc.d")):
            if child.startswith("S"):
                path = f"/etc/rc.d/{child}"
                resolved = self.fs.resolve(path)
                if only_new and resolved in self.visited:
                    continue
                self.script(path, [action], chain, "procd", 1)

    def busybox_default(self) -> None:
        init = "/sbin/init" if self.fs.exists("/sbin/init") else "init"
        self.script("/etc/init.d/rcS", [], (init,), "init", 1)

    def systemd(self) -> None:
        for name, link in sorted(enabled_units(self.fs).items()):
            self._unit(name, ("systemd", link), port=None)
        if self.fs.exists("/etc/rc.local"):
            entry = self.fs.stat("/etc/rc.local")
            if entry is not None and entry.mode & 0o111:
                self.script("/etc/rc.local", ["start"], ("systemd", "rc-local.service"), "systemd", 1)

    def _unit(self, name: str, chain: tuple[str, ...], port: int | None) -> None:
        if name in self.units:
            return
        self.units.add(name)
        if name.endswith(".socket"):
            self._socket(name, chain)
            return
        if not name.endswith(".service"):
            return
        unit_path = find_unit(self.fs, name)
        files = ([unit_path] if unit_path else []) + unit_dropins(self.fs, name)
        instance = name.partition("@")[2].rsplit(".", 1)[0] if "@" in name else ""
        if unit_path is None and any(unit_masked(self.fs, n) for n in (name, _template(name))):
            return      # masked: neither the unit nor its drop-ins start
        settings: list[tuple[str, UnitLine]] = []
        env: dict[str, str] = {}
        env_files: list[str] = []
        for path in files:
            text = self.fs.text(path)
            if text is None:
                continue
            for setting in parse_unit(text).lines:
                if setting.section == "Service" and setting.key == "Environment":
                    if setting.value:
                        env.update(parse_environment(setting.value))
                    else:
                        env.clear()
                    continue
                if setting.section == "Service" and setting.key == "EnvironmentFile":
                    if setting.value:
                        env_files.append(setting.value.lstrip("-"))
                    else:
                        env_files.clear()
                    continue
                if setting.section != "Service" or setting.key not in EXEC_KEYS:
                    continue
                if not setting.value:
                    # an empty ExecStart= in a drop-in resets the list
                    settings = [(p, s) for p, s in settings if s.key != setting.key]
                    continue
                settings.append((path, setting))
        for env_file in env_files:
            # the files override Environment=, in the order given
            text = self.fs.text(env_file.replace("%i", instance).replace("%I", instance))
            if text is not None:
                env.update(parse_environment_file(text))
        for path, setting in settings:
            value = setting.value.replace("%i", instance).replace("%I", instance).replace("%n", name)
            span = (setting.start, setting.end)
            unit_chain = (*chain, path) if chain[-1] != path else chain
            ctx = _Ctx(path=path, invoked=path, chain=unit_chain, via="systemd", port=port, span=span)
            for command in parse_exec(value):
                self._invoke(list(expand_exec(command.argv, env)), ctx, span, port=port)

    def _socket(self, name: str, chain: tuple[str, ...]) -> None:
        path = find_unit(self.fs, name)
        if path is None:
            return
        text = self.fs.text(path) or ""
        unit = parse_unit(text)
        port = None
        for key in ("ListenStream", "ListenDatagram"):
            value = unit.last("Socket", key)
            if value:
                tail = value.rsplit(":", 1)[-1]
                if tail.isdigit():
                    port = int(tail)
                    break
        stem = name[: -len(".socket")]
        service = unit.last("Socket", "Service")
        if service is None:
            accept = (unit.last("Socket", "Accept") or "no").lower() in ("yes", "true", "1", "on")
            service = f"{stem}@.service" if accept else f"{stem}.service"
        self._unit(service, (*chain, path), port)

    def upstart(self) -> None:
        """Upstart jobs (/etc/init/*.conf) with a `start on` stanza and no `manual` (in the job
        or its .override): their `exec` line, `script` block and pre-start/post-start ones."""
        for child in sorted(self.fs.listdir("/etc/init")):
            if not child.endswith(".conf"):
                continue
            path = f"/etc/init/{child}"
            text = self.fs.text(path)
            if text is None:
                continue
            resolved = self.fs.resolve(path) or path
            job = _upstart_job(text)
            override = self.fs.text(f"/etc/init/{child[:-len('.conf')]}.override")
            if override is not None:
                extra = _upstart_job(override)
                if extra.manual or extra.start_on:
                    job.manual, job.start_on = extra.manual, extra.start_on
            if not job.start_on or job.manual:
                continue
            ctx = _Ctx(path=resolved, invoked=resolved, chain=("/sbin/init", resolved),
                       via="upstart")
            for kind, offset, body, span in job.runs:
                if kind == "exec":
                    self._inline_with_offsets(body, offset, replace(ctx, span=span))
                else:
                    self._inline_with_offsets(body, offset, ctx)

    def android_init(self) -> None:
        """Android init: /init.rc (or /system/etc/init/hw/init.rc), what it imports, and every
        .rc file of the partitions' etc/init folders. A service runs unless it is `disabled`;
        a disabled one runs when an action starts it (`start`, `restart`, `enable`). Commands
        of actions (`exec … -- CMD`) run too. Steps point at the `service` line."""
        queue = [p for p in ANDROID_INIT_RCS if self.fs.exists(p)]
        for folder in ANDROID_INIT_DIRS:
            queue += [f"{folder}/{c}" for c in sorted(self.fs.listdir(folder)) if c.endswith(".rc")]
        read: dict[str, tuple[str, ...]] = {}
        services = []
        started: set[str] = set()
        while queue and len(read) < 2000:
            path = queue.pop(0)
            resolved = self.fs.resolve(path)
            if resolved is None or resolved in read:
                continue
            entry = self.fs.stat(resolved)
            if entry is not None and entry.kind == DIR:
                queue[:0] = [f"{resolved}/{c}" for c in sorted(self.fs.listdir(resolved))
                             if c.endswith(".rc")]
                continue
            text = self.fs.text(resolved)
            if text is None:
                continue
            read[resolved] = ("/init", resolved)
            rc = parse_initrc(text)
            for imported in rc.imports:
                for target in imported.words[1:2]:
                    if "$" in target:
                        queue.extend(self._glob(target))
                    else:
                        queue.append(target if target.startswith("/") else f"/{target}")
            ctx = _Ctx(path=resolved, invoked=resolved, chain=("/init", resolved), via="android-init")
            for action in rc.actions:
                for command in action.commands:
                    words = command.words
                    if words[0] in ("start", "restart", "enable") and len(words) > 1:
                        started.add(words[1])
                    elif words[0] in ("exec", "exec_background", "exec_start") and "--" in words:
                        argv = list(words[words.index("--") + 1:])
                        if argv:
                            self._invoke(argv, replace(ctx, span=(command.start, command.end)),
                                         (command.start, command.end))
            services += [(resolved, service) for service in rc.services]
        for path, service in services:
            if service.disabled and service.name not in started:
                continue
            span = (service.header.start, service.header.end)
            ctx = _Ctx(path=path, invoked=path, chain=read[path], via="android-init", span=span)
            self._invoke(list(service.argv), ctx, span)

    def inetd(self) -> None:
        starter = next((s for s in self.result.steps if s.name in INETD_NAMES), None)
        base = starter.full_chain if starter is not None else ()
        configs = ["/etc/inetd.conf"]
        if starter is not None:
            configs += [a for a in starter.argv[1:] if a.startswith("/")]
        for conf in dict.fromkeys(configs):
            text = self.fs.text(conf)
            if text is None:
                continue
            resolved = self.fs.resolve(conf) or conf
            ctx = _Ctx(path=resolved, invoked=resolved, chain=(*base, resolved), via="inetd")
            for entry in parse_inetd_conf(text):
                if entry.server == "internal":
                    continue
                program = posixpath.basename(entry.server)
                if program == "tcpd" and entry.args:
                    argv = list(entry.args)
                elif program in MULTI_CALL and entry.args:
                    # a multi-call binary runs the applet its argv[0] names: `/bin/busybox sh -i`
                    argv = ["busybox", *entry.args]
                else:
                    argv = [entry.server, *entry.args[1:]]
                self._invoke(argv, replace(ctx, span=(entry.start, entry.end)),
                             (entry.start, entry.end), port=entry.port)
        paths = ["/etc/xinetd.conf",
                 *(f"/etc/xinetd.d/{c}" for c in sorted(self.fs.listdir("/etc/xinetd.d")))]
        for conf in paths:
            text = self.fs.text(conf)
            if text is None:
                continue
            resolved = self.fs.resolve(conf) or conf
            for service in parse_xinetd(text):
                server = service.get("server")
                if service.disabled or server is None:
                    continue
                args = service.get("server_args")
                argv = [server.value, *(shell.split_words(args.value) if args else [])]
                ctx = _Ctx(path=resolved, invoked=resolved, chain=(*base, resolved), via="xinetd",
                           span=(server.start, server.end))
                self._invoke(argv, ctx, (server.start, server.end), port=service.port)

    def cron(self) -> None:
        starter = next((s for s in self.result.steps if s.name in CROND_NAMES
                        or (s.argv[:1] == ("crond",))), None)
        base = starter.full_chain if starter is not None else ("crond",)
        tables: list[tuple[str, bool]] = [("/etc/crontab", True)]
        tables += [(f"/etc/cron.d/{c}", True) for c in sorted(self.fs.listdir("/etc/cron.d"))]
        for folder in ("/etc/crontabs", "/var/spool/cron/crontabs", "/var/spool/cron"):
            for child in sorted(self.fs.listdir(folder)):
                path = f"{folder}/{child}"
                found = self.fs.stat(path)
                if found is not None and found.kind == FILE:
                    tables.append((path, False))
        for path, system in tables:
            text = self.fs.text(path)
            if text is None or b"\0" in text[:4096].encode("latin-1"):
                continue
            resolved = self.fs.resolve(path) or path
            for entry in parse_crontab(text, system=system):
                ctx = _Ctx(path=resolved, invoked=resolved, chain=(*base, resolved), via="cron",
                           span=(entry.start, entry.end))
                self._inline_with_offsets(entry.command, entry.command_start, ctx)

    def orphans(self, only: frozenset[str] | None = None) -> None:
        """Shell scripts no init reaches (a partition's own start script, say). Files with no
        shebang count only when named *.sh (a Perl module is no shell script), and package
        maintainer scripts are left out: they run when a package is installed, not at boot."""
        for entry in self.fs.files(SCRIPT, TEXT):
            if only is not None and entry.path not in only:
                continue
            if entry.path in self.visited or entry.path.startswith(INSTALL_TIME_DIRS):
                continue
            if not entry.name.endswith(".sh"):
                if entry.ftype == TEXT:
                    continue
                head = self.fs.read(entry.path) or b""
                if not head.startswith(b"#!"):
                    continue
            self.script(entry.path, [], (), "script", 1, reached=False)


@dataclass
class _UpstartJob:
    start_on: bool = False
    manual: bool = False
    # ('exec' | 'script', offset of the body, the body, the span of the stanza's line)
    runs: list[tuple[str, int, str, tuple[int, int]]] = field(default_factory=list)


_UPSTART_RUN = re.compile(r"(?:(pre-start|post-start|pre-stop|post-stop)\s+)?(exec|script)(?=\s|$)")


def _upstart_job(text: str) -> _UpstartJob:
    """The stanzas of an upstart job that decide whether and what it runs at boot; the
    commands of pre-stop and post-stop (run when the job stops) are left out."""
    job = _UpstartJob()
    block: tuple[bool, int] | None = None      # (kept, body start) inside script … end script
    for _lineno, start, end, line in lines(text):
        stripped = line.strip()
        if block is not None:
            if stripped == "end script":
                if block[0]:
                    job.runs.append(("script", block[1], text[block[1]:start], (block[1], start)))
                block = None
            continue
        if not stripped or stripped.startswith("#"):
            continue
        if stripped == "manual":
            job.manual = True
        elif re.match(r"start\s+on(\s|$)", stripped):
            job.start_on = True
        match = _UPSTART_RUN.match(stripped)
        if match is None:
            continue
        kept = match.group(1) not in ("pre-stop", "post-stop")
        if match.group(2) == "script":
            block = (kept, min(end + 1, len(text)))
        elif kept:
            l_start, l_end = strip_span(text, start, end)
            offset = l_start + match.end()
            job.runs.append(("exec", offset, text[offset:l_end], (l_start, l_end)))
    return job


def _references(command: shell.Command, name: str) -> bool:
    needle = re.compile(r"\$(?:\{" + re.escape(name) + r"[}:#%/-]|" + re.escape(name) + r"(?![A-Za-z0-9_]))")
    return any(needle.search(w.raw) for w in command.words)


def _expand_words(words: Sequence[shell.Word], env: Mapping[str, str]) -> list[str]:
    out: list[str] = []
    for word in words[:MAX_WORDS]:
        out.extend(shell.expand(word, env))
    return out


def _redirects(command: shell.Command) -> tuple[tuple[str, str], ...]:
    return tuple((r.fd + r.op, r.target) for r in command.redirects)


# -- wrappers ----------------------------------------------------------------------


def unwrap(argv: list[str]) -> tuple[list[str], str | None]:
    """The program a command line really runs: `exec`, `nohup`, `busybox APPLET`,
    `start-stop-daemon --start --exec X -- ARGS`, OpenWrt `service_start X` and
    `procd_set_param command X` are peeled off. Returns (argv, None), or ([], text)
    when the command runs a shell string (`sh -c TEXT`, `eval TEXT`, `su -c TEXT`)."""
    for _ in range(10):
        if not argv:
            return argv, None
        name = posixpath.basename(argv[0])
        if name in ("exec", "nohup", "setsid", "command", "builtin", "time", "sudo", "doas"):
            argv = argv[1:]
            while argv and argv[0].startswith("-"):
                argv = argv[1:]
        elif name == "nice":
            argv = argv[1:]
            if argv[:1] == ["-n"]:
                argv = argv[2:]
            elif argv and argv[0].startswith("-"):
                argv = argv[1:]
        elif name == "env":
            argv = argv[1:]
            while argv and (argv[0].startswith("-") or "=" in argv[0]):
                argv = argv[1:]
        elif name == "timeout":
            argv = argv[1:]
            while argv and argv[0].startswith("-"):
                argv = argv[1:]
            argv = argv[1:]
        elif name == "busybox" and len(argv) > 1 and not argv[1].startswith("-"):
            argv = argv[1:]
        elif name == "start-stop-daemon":
            started = _start_stop_daemon(argv)
            if started is None:
                return argv, None
            argv = started
        elif name == "service_start":
            argv = argv[1:]
        elif name == "procd_set_param":
            if len(argv) > 2 and argv[1] == "command":
                argv = argv[2:]
            else:
                return argv, None
        elif name == "eval":
            return [], " ".join(argv[1:])
        elif name in SHELLS or name == "su":
            if "-c" in argv[1:]:
                idx = argv.index("-c", 1)
                if idx + 1 < len(argv):
                    return [], argv[idx + 1]
            return argv, None
        else:
            return argv, None
    return argv, None


def _start_stop_daemon(argv: list[str]) -> list[str] | None:
    if not any(a in ("-S", "--start") or (a.startswith("-S") and not a.startswith("--")) for a in argv):
        return None
    program: str | None = None
    rest: list[str] = []
    i = 1
    while i < len(argv):
        a = argv[i]
        if a == "--":
            rest = argv[i + 1:]
            break
        if a in ("-x", "--exec", "-a", "--startas") and i + 1 < len(argv):
            if a in ("-a", "--startas") or program is None:
                program = argv[i + 1]
            i += 2
            continue
        for prefix in ("--exec=", "--startas="):
            if a.startswith(prefix):
                program = a[len(prefix):] if prefix == "--startas=" or program is None else program
        i += 1
    return [program, *rest] if program else None


# -- building ----------------------------------------------------------------------


_WALKED: weakref.WeakKeyDictionary[RootFS, BootChain] = weakref.WeakKeyDictionary()


def walk(fs: RootFS) -> BootChain:
    """Everything that runs at boot in `fs`, in a stable order: walked once per view, the
    first call walking and every later one (in this process, or in a worker forked after it)
    sharing the walk. Analysis walks a big view before forking the tasks that read it, so that
    services, exfiltration, Android, the device's mounts and the inventory read one walk.
    Reports nothing: `boot_chain` is what an analyzer calls."""
    chain = _WALKED.get(fs)
    if chain is None:
        chain = _WALKED[fs] = _walk(fs)
    return chain


def boot_chain(fs: RootFS, *, orphans: frozenset[str] | None = None) -> BootChain:
    """The boot chain of `fs` (see `walk`), the files it did not read in full reported for
    the calling analyzer's task. `orphans` limits the scripts taken as entry points of a tree
    without init to those paths (an analyzer that knows which files can matter spares the
    walk of every other script)."""
    chain = walk(fs)
    if orphans is not None:
        chain = chain.reaching(fs, orphans)
    _report(fs, chain)
    return chain


def _report(fs: RootFS, chain: BootChain) -> None:
    for entry, reason in chain.skipped:
        examined.skipped(fs, entry, "bootchain", reason)


def _walk(fs: RootFS) -> BootChain:
    walker = _Walker(fs)
    has_inittab = fs.stat("/etc/inittab") is not None
    systemd = has_systemd(fs)
    if has_inittab:
        walker.inittab("/etc/inittab")
    elif not systemd and fs.exists("/etc/init.d/rcS"):
        walker.busybox_default()
    rcd = fs.stat("/etc/rc.d")
    if fs.exists("/etc/rc.common") and rcd is not None and rcd.kind == DIR:
        # OpenWrt: rcS (or procd) runs the enabled /etc/rc.d/S* links with 'boot'
        root = ("/etc/inittab",) if has_inittab else ("init",)
        walker.openwrt_rcd(root, "boot", only_new=True)
    if systemd:
        walker.systemd()
    if fs.exists("/sbin/initctl") or not systemd:
        walker.upstart()
    if any(fs.exists(p) for p in ANDROID_INIT_RCS) \
            or any(c.endswith(".rc") for d in ANDROID_INIT_DIRS for c in fs.listdir(d)):
        walker.android_init()
    has_init = bool(walker.visited) or bool(walker.result.steps)
    walker.inetd()
    walker.cron()
    if not has_init:
        result = walker.result
        result._unreached = _Unreached(
            steps=len(result.steps), scripts=len(result.scripts), skipped=len(result.skipped),
            cut_short=result.cut_short, visited=frozenset(walker.visited),
            rc_levels=frozenset(walker.rc_levels), units=frozenset(walker.units),
            parsed=dict(walker.parsed))
        walker.orphans()
    walker.result.has_init = has_init
    return walker.result


def script_steps(fs: RootFS, paths: Iterable[str], via: str) -> BootChain:
    """Every command of the shell scripts at `paths` (and of the scripts they run), as steps
    started by `via` (hotplug, ppp, …): for scripts that events start rather than init."""
    walker = _Walker(fs)
    for path in paths:
        walker.script(path, [], (via,), via, 1)
    _report(fs, walker.result)
    return walker.result


# -- mount points: the file systems a root mounts beside itself ------------------------------

# where firmware mounts its configuration or application partition (a Xiongmai camera's
# /mnt/custom, an Asus router's /jffs …): a candidate mount point even with no mount line
WELL_KNOWN_MOUNTS = ("/mnt/custom", "/mnt/config", "/mnt/mtd", "/mnt/jffs2", "/mnt/cfg", "/jffs",
                     "/config", "/data", "/userfs", "/opt", "/usr/local")
_VIRTUAL_FS = frozenset({"proc", "sysfs", "tmpfs", "ramfs", "devpts", "usbfs", "debugfs", "devtmpfs",
                         "cgroup", "cgroup2", "securityfs", "configfs", "pstore", "none"})
_MOUNT_VALUE_OPTIONS = frozenset({"-t", "-o", "-O", "-L", "-U"})
_COPY_TOOLS = frozenset({"cp", "install"})


def mount_points(fs: RootFS, chain: BootChain) -> list[tuple[str, str | None]]:
    """(mount point, file system type or None) of the `mount` lines of the boot chain and of
    /etc/fstab (virtual file systems left out), in the order they appear."""
    out: list[tuple[str, str | None]] = []

    def add(point: str, fstype: str | None) -> None:
        if point.startswith("/") and "$" not in point and fstype not in _VIRTUAL_FS:
            point = normalize(point)
            if point != "/" and not any(p == point for p, _ in out):
                out.append((point, fstype))

    for step in chain.steps:
        if step.name != "mount":
            continue
        fstype, plain, i = None, [], 1
        while i < len(step.argv):
            arg = step.argv[i]
            if arg in _MOUNT_VALUE_OPTIONS and i + 1 < len(step.argv):
                if arg == "-t":
                    fstype = step.argv[i + 1]
                i += 2
                continue
            if not arg.startswith("-"):
                plain.append(arg)
            i += 1
        if plain and (len(plain) == 2 or plain[-1].startswith("/")):
            add(plain[-1], fstype)
    text = fs.text("/etc/fstab") if fs.stat("/etc/fstab") is not None else None
    for line in (text or "").splitlines():
        fields = line.split("#", 1)[0].split()
        if len(fields) >= 3:
            add(fields[1], fields[2])
    return out


def referenced_paths(chain: BootChain) -> list[str]:
    """Absolute paths the boot chain names (programs, scripts, arguments, redirections): where
    a file of another file system can show up once mounted."""
    seen: dict[str, None] = {}
    for step in chain.steps:
        words = [*step.argv, *(target for _, target in step.redirects)]
        for word in words:
            if word.startswith("/") and "$" not in word and "`" not in word and len(word) < 4096:
                seen.setdefault(normalize(word), None)
    return list(seen)


def copies(chain: BootChain) -> list[tuple[str, str, bool]]:
    """(source, destination, into) of what boot copies: `cp [-options] SRC… DEST` and
    `cat SRC > DEST`. `into`: DEST is a folder the sources go into (it ends with '/', several
    sources or a glob are given); otherwise DEST is the copy, or a folder it goes into when the
    file system has one there (`cp` decides at run time; see analysis.copied). A source may be
    a glob (`/etc_ro/*`) or a folder (`cp -r`): the caller expands it on the file system."""
    out: list[tuple[str, str, bool]] = []
    for step in chain.steps:
        plain = [a for a in step.argv[1:] if not a.startswith("-")]
        if step.name in _COPY_TOOLS and len(plain) >= 2:
            *sources, dest = plain
            into = dest.endswith("/") or len(sources) > 1 or any(_is_glob(s) for s in sources)
            out.extend((normalize(source), normalize(dest), into) for source in sources)
        elif step.name == "cat" and len(plain) == 1:
            for op, target in step.redirects:
                if op.lstrip("1") == ">":
                    out.append((normalize(plain[0]), normalize(target), False))
    return [(s, d, i) for s, d, i in out if s.startswith("/") and d.startswith("/")]


def _is_glob(word: str) -> bool:
    return any(c in posixpath.basename(word) for c in "*?[")
