"""FP-WEB: web handlers that run what the client sends or switch on telnet/debug, and that
nothing in the web UI of the image links to.

Three shapes:
- a CGI script (shell, Lua, PHP, Perl) that passes request input (QUERY_STRING, POST body,
  form values) to eval/sh -c/system/popen/os.execute: remote command execution by design;
- a CGI script no page links to that starts telnetd, a shell listener or a debug mode;
- a handler path compiled into a web server (`/goform/…`, `/cgi-bin/…`, `*.cgi`, `*.asp`)
  whose name says telnet/shell/command/debug, in a program that can run commands, and that
  no page of the UI links to.

The UI's links are every HTML/JS/template file of the image (the handler itself left out):
a handler name that appears in none of them is hidden. Binary strings are read with a simple
printable-run pass that keeps file offsets, so evidence points at the bytes.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass

from firmproof.analyzers.base import Analyzer, rule
from firmproof.fs import examined
from firmproof.fs.filetype import ELF, SCRIPT, TEXT
from firmproof.fs.rootfs import FileEntry, RootFS
from firmproof.model import Category, Finding, Severity

_CWE = "https://cwe.mitre.org/data/definitions/{}.html"
MAX_SCRIPT_BYTES = 1024 * 1024
MAX_UI_BYTES = 4 * 1024 * 1024
MAX_ELF_BYTES = 32 * 1024 * 1024

CGI_RUNS_INPUT = rule(
    "FP-WEB-001", Category.HIDDEN_ENDPOINT, Severity.CRITICAL,
    title="CGI script runs request input as a command",
    why="""A CGI script passes what the client sends (QUERY_STRING, the POST body, a form value)
        to eval, `sh -c`, system(), popen() or os.execute(): whoever reaches the web server runs
        commands as the server's user (root on most devices). `details.source` names the input
        and `details.sink` the call; `details.linked` says whether a page of the UI links to it.""",
    confirm="""Read the quoted line and the lines that assign its variable from the request. On a
        device: `curl 'http://<ip>/cgi-bin/<name>?<param>=id'` and look for uid= in the answer.""",
    references=[_CWE.format(78), _CWE.format(912), "https://www.rfc-editor.org/rfc/rfc3875"],
)
CGI_STARTS_SHELL = rule(
    "FP-WEB-002", Category.HIDDEN_ENDPOINT, Severity.CRITICAL,
    title="unlinked CGI script starts telnetd, a shell or a debug mode",
    why="""A CGI script that no page of the web UI links to starts a telnet server, a shell
        listener or switches a debug mode on: one request opens the device. Scripts the UI links
        to (a "enable telnet" checkbox) are documented features and are not reported.""",
    confirm="""Read the quoted line; `grep -rl <script name> www/` over the image finds no page
        linking to it. On a device: request the script's URL, then `telnet <ip>`.""",
    references=[_CWE.format(912), _CWE.format(489)],
)
HIDDEN_HANDLER = rule(
    "FP-WEB-003", Category.HIDDEN_ENDPOINT, Severity.HIGH,
    title="unlinked web handler for telnet, shell, command or debug in a web server",
    why="""A web server program registers a handler (`/goform/…`, `/cgi-bin/…`, `*.cgi`, `*.asp`)
        whose name says telnet, shell, command, exec or debug; the program can run commands
        (it imports system/popen/exec*) and no page of the UI links to the handler. This is the
        shape of factory and debug backdoors such as D-Link's CVE-2024-6045.""",
    confirm="""`strings -a -t d <binary> | grep <handler>` gives the evidence offset; in a
        disassembler follow the string's reference to the handler table and the function
        registered with it, down to its system()/popen() call. `grep -r <handler> www/`
        confirms no page links to it.""",
    references=[_CWE.format(912), _CWE.format(489),
                "https://nvd.nist.gov/vuln/detail/CVE-2024-6045"],
)

WEB_ROOTS = ("/www/", "/web/", "/htdocs/", "/var/www/", "/usr/www/", "/home/httpd/", "/webs/",
             "/usr/share/www/", "/srv/www/", "/web_ro/", "/etc_ro/web/")
UI_SUFFIXES = (".html", ".htm", ".shtml", ".asp", ".js", ".xml", ".json", ".tpl", ".stm",
               ".xsl", ".php", ".lua", ".jsp", ".txt")
CGI_SUFFIXES = (".cgi", ".sh", ".lua", ".php", ".pl")


@dataclass(frozen=True)
class _Lang:
    name: str
    sources: re.Pattern[str]        # request input
    sinks: re.Pattern[str]          # runs a command string
    assign: re.Pattern[str]         # group 1: the variable assigned on the line
    comment: str


_SHELL = _Lang(
    "shell",
    re.compile(r"\$\{?(?:QUERY_STRING|POST_DATA|REQUEST_URI|HTTP_[A-Z_]+|FORM_\w+|GET_\w+|POST_\w+)\b"
               r"|^\s*read\b"),
    re.compile(r"(?:^|[;&|(`]|\$\()\s*(?:eval\b|(?:/bin/)?(?:ba|a)?sh\s+-c\b|\$\{?\w+\}?(?:\s|$))"),
    re.compile(r"^\s*(?:local\s+|export\s+|readonly\s+)?([A-Za-z_]\w*)=|^\s*read\b(?:\s+-\w+(?:\s+\S+)?)*\s+([A-Za-z_]\w*)"),
    "#",
)
_LUA = _Lang(
    "lua",
    re.compile(r"getenv\s*\(\s*[\"'](?:QUERY_STRING|REQUEST_URI|HTTP_\w+)|formvalue\s*\(|io\.read\s*\(|io\.stdin|content\s*\(\)"),
    re.compile(r"\b(?:os\.execute|io\.popen|luci\.sys\.call|luci\.sys\.exec|luci\.util\.exec|nixio\.exec\w*|sys\.call|util\.exec)\s*\("),
    re.compile(r"^\s*(?:local\s+)?([A-Za-z_]\w*)\s*=[^=]"),
    "--",
)
_PHP = _Lang(
    "php",
    re.compile(r"\$_(?:GET|POST|REQUEST|COOKIE)\b|\$_SERVER\s*\[\s*['\"]QUERY_STRING|php://input"),
    re.compile(r"\b(?:system|exec|shell_exec|passthru|popen|proc_open|pcntl_exec|eval|assert)\s*\(|`"),
    re.compile(r"^\s*\$([A-Za-z_]\w*)\s*=[^=]"),
    "//",
)
_PERL = _Lang(
    "perl",
    re.compile(r"\$ENV\{\s*['\"]?(?:QUERY_STRING|REQUEST_URI)|\bparam\s*\(|<STDIN>|\burl_param\s*\("),
    re.compile(r"\b(?:system|exec|eval)\s*[({\s]|`|\bqx\s*[({/]|\bopen\s*\([^)]*\|"),
    re.compile(r"^\s*(?:my\s+|our\s+|local\s+)?\$([A-Za-z_]\w*)\s*=[^=~]"),
    "#",
)
_LANG_BY_SUFFIX = {".cgi": None, ".sh": _SHELL, ".lua": _LUA, ".php": _PHP, ".pl": _PERL}

_TELNET_LINE = re.compile(
    r"(?<![\w./-])(?:/usr/sbin/|/sbin/|/bin/|/usr/bin/)?(?:u|in\.)?telnetd(?![\w.-])"
    r"|/etc/init\.d/telnet\w*\s+(?:start|enable|restart)"
    r"|\bnc\b[^\n]*\s-l[^\n]*\s-e\s"
    r"|\b(?:nvram|uci)\s+set\s+\S*(?:telnet|debug|ssh)\S*=['\"]?(?:1|on|enable|true)")
_HANDLER = re.compile(
    rb"(?:/goform/[A-Za-z0-9_.-]+|/cgi-bin/[A-Za-z0-9_./-]+|[A-Za-z0-9_/-]*[A-Za-z0-9_-]+\.(?:cgi|asp))")
_SUSPICIOUS = re.compile(r"telnet|shell|cmd|command|exec|debug|backdoor|console|mfg|factory",
                         re.IGNORECASE)
_EXEC_IMPORTS = (b"\0system\0", b"\0popen\0", b"\0execl\0", b"\0execv\0", b"\0execve\0",
                 b"\0execlp\0", b"\0execvp\0")
_WEB_SERVER_HINTS = (b"HTTP/1.", b"Content-Type", b"QUERY_STRING")


def _lang_of(entry: FileEntry, head: bytes) -> _Lang | None:
    if head.startswith(b"#!"):
        line = head.split(b"\n", 1)[0].decode("latin-1")
        interp = posixpath.basename(line[2:].split()[0]) if line[2:].split() else ""
        if interp == "env" and len(line.split()) > 1:
            interp = line.split()[1]
        if interp in ("sh", "ash", "bash", "dash", "busybox", "haserl"):
            return _SHELL
        if interp.startswith("lua"):
            return _LUA
        if interp.startswith("php"):
            return _PHP
        if interp.startswith("perl"):
            return _PERL
    suffix = posixpath.splitext(entry.name)[1].lower()
    return _LANG_BY_SUFFIX.get(suffix)


def _is_cgi(entry: FileEntry) -> bool:
    path = entry.path
    if "/cgi-bin/" in path or "/luci/controller/" in path or entry.name.lower().endswith(".cgi"):
        return True
    return path.startswith(WEB_ROOTS) and entry.name.lower().endswith(CGI_SUFFIXES)


def _is_ui(entry: FileEntry) -> bool:
    return entry.name.lower().endswith(UI_SUFFIXES) and entry.size <= MAX_UI_BYTES


def _lines(text: str) -> Iterator[tuple[int, int, str]]:
    pos = 0
    for line in text.split("\n"):
        start = pos + (len(line) - len(line.lstrip()))
        end = pos + len(line.rstrip())
        pos += len(line) + 1
        if end > start:
            yield start, end, text[start:end]


_STRING_LITERAL = re.compile(r'"(?:[^"\\\n]|\\.)*"|\'(?:[^\'\\\n]|\\.)*\'')
# what makes a value safe on a shell command line: Lua's %q quoting (LuCI's `"… %q" % v`),
# numeric conversions, LuCI's shellquote
_FORMAT_SPEC = re.compile(r"%[-+ #0]*\d*(?:\.\d+)?([a-zA-Z%])")
_SHELLQUOTE = re.compile(r"\b(?:luci\.util\.|util\.)?shellquote\s*\(")


def _uses(lang: _Lang, line: str, tainted: set[str]) -> str | None:
    """The tainted variable the line reads: in shell, PHP and Perl only as `$v` (`${v}`),
    which strings interpolate; in Lua only outside string literals (`"/dev/null"` does not
    read `dev`)."""
    if not tainted:
        return None
    if lang is _LUA:
        code, before = _STRING_LITERAL.sub('""', line), r"(?<![\w.$])"
    else:
        code, before = line, r"\$\{?"
    return next((v for v in sorted(tainted) if re.search(before + re.escape(v) + r"\b", code)), None)


def _quoted(lang: _Lang, call: str) -> bool:
    """True when the command built in `call` (the text after the sink) takes request values
    only through quoting a shell cannot break out of: a Lua format string whose conversions
    are all %q or numeric, or a shellquote() call."""
    if lang is not _LUA:
        return False
    if _SHELLQUOTE.search(call):
        return True
    literal = _STRING_LITERAL.match(call.lstrip(" ("))
    after = call.lstrip(" (")[literal.end():] if literal else ""
    if literal is None or not re.match(r"\s*(?:%|\)?\s*:format\s*\()", after):
        return False
    conversions = {m.group(1) for m in _FORMAT_SPEC.finditer(literal.group(0))} - {"%"}
    return bool(conversions) and conversions <= {"q", "d", "i", "u", "x", "X", "o", "f", "g", "e"}


class _Links:
    """The text of every page of the UI, to ask whether a name is linked from anywhere."""

    def __init__(self, fs: RootFS) -> None:
        self.pages: list[tuple[str, str]] = []
        for entry in fs.files(TEXT, SCRIPT):
            if _is_ui(entry) or (entry.path.startswith(WEB_ROOTS) and entry.size <= MAX_UI_BYTES):
                text = fs.text(entry.path)
                if text is not None:
                    self.pages.append((entry.path, text.lower()))

    def linked(self, name: str, *, besides: str = "") -> bool:
        needle = name.lower()
        return any(needle in text for path, text in self.pages if path != besides)


class WebEndpoints(Analyzer):
    family = "WEB"
    name = "web"
    rules = (CGI_RUNS_INPUT, CGI_STARTS_SHELL, HIDDEN_HANDLER)

    def run(self, fs: RootFS) -> Iterator[Finding]:
        links: _Links | None = None
        cgis = [e for e in fs.files(SCRIPT, TEXT) if _is_cgi(e) and e.size <= MAX_SCRIPT_BYTES]
        servers = [e for e in fs.files(ELF) if e.size <= MAX_ELF_BYTES]
        for entry in fs.files(SCRIPT):
            if _is_cgi(entry) and entry.size > MAX_SCRIPT_BYTES:
                examined.skipped(fs, entry, self.name, f"a CGI script {examined.mib(MAX_SCRIPT_BYTES)}")
        if not cgis and not servers:
            return
        for entry in cgis:
            data = fs.read(entry.path)
            if data is None:
                continue
            lang = _lang_of(entry, data[:256])
            if lang is None:
                continue
            text = data.decode("latin-1")
            if links is None:
                links = _Links(fs)
            yield from self._cgi(fs, entry, text, lang, links)
        for entry in servers:
            data = fs.read(entry.path)
            if data is None or not any(h in data for h in _WEB_SERVER_HINTS) \
                    or not any(i in data for i in _EXEC_IMPORTS):
                continue
            if links is None:
                links = _Links(fs)
            yield from self._server(fs, entry, data, links)

    def _cgi(self, fs: RootFS, entry: FileEntry, text: str, lang: _Lang,
             links: _Links) -> Iterator[Finding]:
        tainted: set[str] = set()
        name = entry.name
        linked: bool | None = None
        reported_shell = False
        for start, end, line in _lines(text):
            if line.startswith(lang.comment) or line.startswith("#!"):
                continue
            source = lang.sources.search(line)
            uses = source.group(0) if source else _uses(lang, line, tainted)
            assigned = lang.assign.match(line)
            sink = lang.sinks.search(line)
            if sink and uses and not _quoted(lang, line[sink.end():]):
                if linked is None:
                    linked = links.linked(name, besides=entry.path)
                yield CGI_RUNS_INPUT.at(fs, entry.path, start, end - start, language=lang.name,
                                        source=uses, sink=sink.group(0).strip(), linked=linked)
                continue
            if assigned and uses:
                var = next((g for g in assigned.groups() if g), None)
                if var:
                    tainted.add(var)
            if not reported_shell and not line.lstrip().startswith(("echo ", "print")):
                m = _TELNET_LINE.search(line)
                if m:
                    if linked is None:
                        linked = links.linked(name, besides=entry.path)
                    if not linked:
                        reported_shell = True
                        yield CGI_STARTS_SHELL.at(fs, entry.path, start, end - start,
                                                  language=lang.name, starts=m.group(0).strip(),
                                                  linked=False)

    def _server(self, fs: RootFS, entry: FileEntry, data: bytes, links: _Links) -> Iterator[Finding]:
        seen: set[str] = set()
        for m in _HANDLER.finditer(data):
            handler = m.group(0).decode("latin-1")
            leaf = handler.rstrip("/").rsplit("/", 1)[-1]
            if leaf in seen or len(leaf) < 4 or not _SUSPICIOUS.search(leaf):
                continue
            # a whole string of the program: NUL (or start) before and after
            if (m.start() > 0 and data[m.start() - 1] not in (0, 0x2F)) or \
                    (m.end() < len(data) and data[m.end()] != 0):
                continue
            seen.add(leaf)
            if links.linked(leaf):
                continue
            yield HIDDEN_HANDLER.at(fs, entry.path, m.start(), m.end() - m.start(), handler=handler,
                                    server=entry.path, linked=False)
