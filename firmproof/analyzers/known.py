"""FP-KNOWN: documented real-world backdoors, matched by signature.

The signatures are yara-x rules in `firmproof/data/known-backdoors.yar`, one per rule here,
each naming its rule id in `meta: rule_id`. They are compiled once per process and every
candidate file (programs, scripts, text and unclassified data; never media, archives or
keys) is scanned once with all of them. The structure that keeps a signature precise is
part of the yara condition (the file type, the imports a program must have, a literal that
must end with NUL as compiled strings do); what yara cannot say (does this account's hash
verify against the documented password?) is a `check` done here on the matched file.
Evidence is the matched bytes: the first `$key` pattern that matched, or the account line's
password field for the `crypt` check.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yara_x

from firmproof.analyzers.base import Analyzer, rule
from firmproof.device import crypt
from firmproof.device.parsers.passwd import PASSWD, SHADOW, kind_of_name, parse_accounts
from firmproof.fs import examined
from firmproof.fs.filetype import DATA, ELF, SCRIPT, TEXT
from firmproof.fs.rootfs import FileEntry, RootFS
from firmproof.model import Category, Finding, Rule, Severity

log = logging.getLogger(__name__)

YARA_FILE = Path(__file__).resolve().parent.parent / "data" / "known-backdoors.yar"  # package data
CANDIDATE_TYPES = (ELF, SCRIPT, TEXT, DATA)
MAX_FILE_BYTES = 64 * 1024 * 1024
_CWE = "https://cwe.mitre.org/data/definitions/{}.html"
_STRINGS = "`strings -a -t d FILE | grep -F '{}'` prints the offset of the evidence"


def _confirm(literal: str, extra: str) -> str:
    return f"{_STRINGS.format(literal)}; {extra}"


XMLSET = rule(
    "FP-KNOWN-001", Category.KNOWN_BACKDOOR, Severity.CRITICAL,
    title="D-Link 'xmlset_roodkcableoj28840ybtide' User-Agent backdoor",
    why="""Alpha Networks web servers of D-Link DIR-100/DI-524/DI-604 and Planex routers let in,
        without any password, every HTTP client whose User-Agent is
        `xmlset_roodkcableoj28840ybtide` ("edit by 04882 joel backdoor" reversed). The rule wants
        the literal compiled into a program that also handles the User-Agent header.""",
    confirm=_confirm("xmlset_roodkcableoj28840ybtide",
                     """in a disassembler, follow the string's references to the strcmp against
                     the parsed User-Agent and the branch that skips the authentication check. On
                     a device: `curl -A xmlset_roodkcableoj28840ybtide http://<ip>/` gets the
                     admin pages."""),
    references=["https://devttys0.com/2013/10/reverse-engineering-a-d-link-backdoor/",
                "https://nvd.nist.gov/vuln/detail/CVE-2013-6026", _CWE.format(912)],
)
TENDA = rule(
    "FP-KNOWN-002", Category.KNOWN_BACKDOOR, Severity.CRITICAL,
    title="Tenda 'w302r_mfg' UDP 7329 command backdoor",
    why="""Tenda W302R/W330R (and Medialink) GoAhead httpd runs a MfgThread listening on UDP 7329:
        a packet `w302r_mfg\\0x<command>` runs the command as root (for example
        `/usr/sbin/telnetd`). The rule wants the magic in a program that receives datagrams and
        runs commands.""",
    confirm=_confirm("w302r_mfg",
                     """in a disassembler, the recvfrom loop bound to port 7329 (0x1ca1) compares
                     the datagram with the string and passes the rest to popen/system."""),
    references=["https://thehackernews.com/2013/10/backdoor-found-in-chinese-tenda.html",
                "https://www.theregister.com/2013/10/28/tenda_bricksup_router_backdoor/",
                _CWE.format(912)],
)
SERCOMM = rule(
    "FP-KNOWN-003", Category.KNOWN_BACKDOOR, Severity.CRITICAL,
    title="Sercomm 'ScMM' TCP/32764 configuration backdoor",
    why="""Sercomm-built routers sold by Linksys, Netgear, Cisco and Diamond run `scfgmgr`, a TCP
        service (port 32764) that dumps, reads and writes NVRAM (admin passwords included) and
        runs commands for any client whose packet starts with the magic `ScMM` (`MMcS` on the
        other endianness). The rule wants the magic (as bytes, or as the MIPS lui/addiu or
        AArch64 movz/movk pair that builds it in a register for an inlined compare) in a program
        that binds, listens and accepts.""",
    confirm=_confirm("ScMM",
                     """(or MMcS); in a disassembler, the accept loop compares the first 4 bytes
                     of each packet with 0x53634d4d. On a device: `poc.py` of the TCP-32764
                     repository against port 32764."""),
    references=["https://github.com/elvanderb/TCP-32764", _CWE.format(912)],
)
SERCOMM_FT_TOOL = rule(
    "FP-KNOWN-004", Category.KNOWN_BACKDOOR, Severity.CRITICAL,
    title="Sercomm 'ft_tool' raw-Ethernet re-activation of the TCP/32764 backdoor",
    why="""The 2014 Sercomm "fix" kept the backdoor: `ft_tool` listens for raw Ethernet frames of
        EtherType 0x8888, type 0x201, whose payload is the MD5 of the model name (DGN1000:
        45d1bb339b07a6618b2114dbc0d7783e), then restarts `scfgmgr` listening on TCP/32764.""",
    confirm=_confirm("ft_tool",
                     """(or the MD5); in a disassembler, the packet socket for EtherType 0x8888 and
                     the call that starts `scfgmgr -l`."""),
    references=["https://thehackernews.com/2014/04/router-manufacturers-secretly-added-tcp.html",
                "https://github.com/elvanderb/TCP-32764", _CWE.format(912)],
)
TELNETENABLE = rule(
    "FP-KNOWN-005", Category.KNOWN_BACKDOOR, Severity.HIGH,
    title="Netgear telnetenable magic-packet daemon",
    why="""Netgear routers ship `telnetenabled`, a hidden service on port 23 (TCP on old firmware,
        UDP on new) that starts a telnet server when it receives a "magic packet" built from the
        device MAC and the admin credentials (CVE-2026-24714). The rule wants the name in a
        program that receives from the network and names a telnet server.""",
    confirm=_confirm("telnetenable",
                     """in a disassembler, the recv/recvfrom loop, the Blowfish/MD5 check of the
                     packet and the call that starts utelnetd."""),
    references=["https://www.sentinelone.com/vulnerability-database/cve-2026-24714/",
                "https://github.com/FluxAugur/NetgearTelnetEnable", _CWE.format(1242)],
)
SCREENOS = rule(
    "FP-KNOWN-006", Category.KNOWN_BACKDOOR, Severity.CRITICAL,
    title="Juniper ScreenOS SSH/telnet master password (CVE-2015-7755)",
    why="""ScreenOS 6.2.0r15-r18 and 6.3.0r12-r20 accept the password `<<< %s(un='%s') = %u` for
        any user over SSH and telnet; it was planted to look like a debug format string. The
        rule wants it NUL-terminated, as a literal compiled into the image.""",
    confirm=_confirm("<<< %s(un=",
                     """in a disassembler, the string's reference is the strcmp in the password
                     check of the authentication routine."""),
    references=["https://nvd.nist.gov/vuln/detail/CVE-2015-7755", "CVE-2015-7755", _CWE.format(798)],
)
FORTINET = rule(
    "FP-KNOWN-007", Category.KNOWN_BACKDOOR, Severity.CRITICAL,
    title="Fortinet FortiOS 'Fortimanager_Access' SSH account (CVE-2016-1909)",
    why="""FortiOS 4.3.0-4.3.16 and 5.0.0-5.0.7 accept the SSH user `Fortimanager_Access` with a
        challenge-response password derived from the static string `FGTAbc11*xy+Qqz27`: anyone
        who knows the algorithm logs in as admin. The rule wants both literals.""",
    confirm=_confirm("Fortimanager_Access",
                     """and the same for FGTAbc11*xy+Qqz27; in a disassembler, the SSH login
                     handler hashes the server challenge with that string (SHA-1)."""),
    references=["https://nvd.nist.gov/vuln/detail/CVE-2016-1909",
                "https://www.guidepointsecurity.com/2016/01/19/fortios-ssh-undocumented-interactive-login-vulnerability/",
                _CWE.format(798)],
)
ZYXEL = rule(
    "FP-KNOWN-008", Category.KNOWN_BACKDOOR, Severity.CRITICAL,
    title="Zyxel 'zyfwp' hard-coded admin account (CVE-2020-29583)",
    why="""Zyxel USG/ATP/VPN (ZLD 4.60) and NXC controllers carry the account `zyfwp` with the
        plain-text password `PrOw!aN_fXp`, valid for SSH and the web interface with admin
        rights. The rule wants both literals compiled into the image.""",
    confirm=_confirm("PrOw!aN_fXp", "and `zyfwp` next to it; on a device: `ssh zyfwp@<ip>`."),
    references=["https://nvd.nist.gov/vuln/detail/CVE-2020-29583",
                "https://cert.be/en/advisory/zyxel-firewall-and-ap-controllers-contain-credential-vulnerability",
                _CWE.format(798)],
)
HIKVISION = rule(
    "FP-KNOWN-009", Category.KNOWN_BACKDOOR, Severity.CRITICAL,
    title="Hikvision 'auth=YWRtaW46MTEK' authentication bypass (CVE-2017-7921)",
    why="""Hikvision IP cameras (firmware 5.2-5.4) grant admin access to any request carrying
        `?auth=YWRtaW46MTEK` (base64 of `admin:11`): user lists, configuration file with
        passwords, snapshots. The rule wants the token in a program that parses `auth=`.""",
    confirm=_confirm("YWRtaW46MTEK",
                     """in a disassembler, the comparison of the `auth` query value. On a device:
                     `curl 'http://<ip>/Security/users?auth=YWRtaW46MTEK'`."""),
    references=["https://nvd.nist.gov/vuln/detail/CVE-2017-7921",
                "https://www.cisa.gov/known-exploited-vulnerabilities-catalog", _CWE.format(287)],
)
XIONGMAI_9530 = rule(
    "FP-KNOWN-010", Category.KNOWN_BACKDOOR, Severity.CRITICAL,
    title="Xiongmai/HiSilicon DVR 'OpenTelnet:OpenOnce' TCP/9530 unlock",
    why="""Xiongmai-firmware DVR/NVR/IP cameras run `macGuarder`/`dvrHelper` on TCP 9530: the
        command `OpenTelnet:OpenOnce` starts telnetd (port 9527 or 23) with a static root
        password. The rule wants the command literal in a program that starts telnetd.""",
    confirm=_confirm("Telnet:OpenOnce",
                     """in a disassembler, the accept loop on port 9530 (0x253a) that compares
                     the request and then runs telnetd. On a device: `nc <ip> 9530` and send the
                     command."""),
    references=["https://habr.com/en/post/486856/",
                "https://censys.com/probing-the-xiongmai-hisilicon-soc-vulnerability/",
                _CWE.format(912)],
)
XIONGMAI_ROOT = rule(
    "FP-KNOWN-011", Category.KNOWN_BACKDOOR, Severity.CRITICAL,
    title="Xiongmai hard-coded root password (xc3511 / xmhdipc)",
    why="""Xiongmai boards in white-label DVRs and cameras ship root with the password `xc3511`
        or `xmhdipc`, hard-coded and not changeable from the UI; both are in Mirai's built-in
        list. The rule verifies the account's hash against them.""",
    confirm="""Read the quoted password field and check it: `openssl passwd -1 -salt <salt> xc3511`
        (or `python3 -c 'import crypt; print(crypt.crypt("xc3511", "<hash>"))'`) gives the same
        hash. `details.password` names the password that verified.""",
    references=["https://krebsonsecurity.com/2016/10/who-makes-the-iot-things-under-attack/",
                "https://grahamcluley.com/mirai-botnet-password/", _CWE.format(798)],
)
ALPHANETWORKS = rule(
    "FP-KNOWN-012", Category.KNOWN_BACKDOOR, Severity.CRITICAL,
    title="Alpha Networks factory telnet account 'Alphanetworks' (CVE-2026-42373)",
    why="""Alpha Networks firmware of D-Link and TRENDnet routers starts
        `telnetd -u Alphanetworks:$image_sign`: a fixed login whose password is the firmware's
        image signature (e.g. `wrgn76_dlwbr_dir605L`), the same on every device of the model.""",
    confirm="""Read the quoted line (`grep -rn Alphanetworks etc/`), then the image_sign file it
        reads (/etc/config/image_sign). On a device: `telnet <ip>`, user `Alphanetworks`,
        password the image_sign.""",
    references=["https://xaccel.net/critical-vulnerability-in-d-link-routers-cve-2026-42373/",
                "https://nvd.nist.gov/vuln/detail/CVE-2026-42373", _CWE.format(798)],
)
ZTE_ROOT = rule(
    "FP-KNOWN-013", Category.KNOWN_BACKDOOR, Severity.CRITICAL,
    title="ZTE modem/ONT root password 'Zte521'",
    why="""ZTE ZXHN modems and ONTs ship a telnet root account with the password `Zte521`
        (also in Mirai's list). The rule verifies the account's hash against it.""",
    confirm="""Read the quoted password field and check it with `openssl passwd` (same salt) or
        Python's crypt against `Zte521`.""",
    references=["https://grahamcluley.com/mirai-botnet-password/", _CWE.format(798)],
)
HUAWEI_TELECOMADMIN = rule(
    "FP-KNOWN-014", Category.KNOWN_BACKDOOR, Severity.HIGH,
    title="Huawei ONT ISP super-admin account 'telecomadmin'",
    why="""Huawei HG8245 and related ONTs carry an ISP maintenance web account `telecomadmin`
        with full rights, the same on every device of the ISP, next to the user's own admin
        account. The rule wants the account defined in a configuration file.""",
    confirm="""Read the quoted configuration line (`grep -rn telecomadmin etc/`) and the password
        attribute next to it. On a device: log in to the web UI as telecomadmin.""",
    references=["https://irshaad.me/wp/vulnerabilities-on-mt-ftth-routers/", _CWE.format(798)],
)
ADUPS = rule(
    "FP-KNOWN-015", Category.KNOWN_BACKDOOR, Severity.HIGH,
    title="Adups FOTA data-collecting updater ('com.adups.fota')",
    why="""The Adups "Wireless Update" system apps of low-cost Android phones sent SMS, call logs,
        contacts and identifiers to servers in China and could install apps and run commands as
        system. The rule wants the package name declared (quoted, NUL-terminated or UTF-16),
        outside an APK's binary manifest: there FP-ANDROID-020 reports the app itself.""",
    confirm="""`grep -rn com.adups.fota` over the image; `aapt dump badging` of the APK shows its
        permissions and `sharedUserId`.""",
    references=["https://www.bleepingcomputer.com/news/security/secret-backdoor-in-some-low-priced-android-phones-sent-data-to-a-server-in-china/"],
)
SAMSUNG_RFS = rule(
    "FP-KNOWN-016", Category.KNOWN_BACKDOOR, Severity.HIGH,
    title="Samsung RIL modem file-system (RFS) backdoor",
    why="""Samsung's proprietary `libsec-ril.so` honours modem requests `IPC_RFS_READ_FILE` and
        `IPC_RFS_WRITE_FILE`: the baseband, run by the operator's network, reads and writes
        files of the phone's storage.""",
    confirm=_confirm("IPC_RFS_WRITE_FILE",
                     """in a disassembler, the RFS message dispatcher that opens the path sent by
                     the modem."""),
    references=["https://lwn.net/Articles/590433/"],
)
ALLWINNER = rule(
    "FP-KNOWN-017", Category.KNOWN_BACKDOOR, Severity.CRITICAL,
    title="Allwinner sunxi kernel 'rootmydevice' root backdoor",
    why="""Allwinner's linux-3.4-sunxi kernels make any process root when it writes
        `rootmydevice` to the sunxi_debug procfs node.""",
    confirm=_confirm("rootmydevice",
                     """next to the sunxi_debug strings; on a device:
                     `echo rootmydevice > /proc/sunxi_debug/sunxi_debug; id`."""),
    references=["https://lists.samba.org/archive/linux/2016-May/035462.html", _CWE.format(912)],
)
TDDP = rule(
    "FP-KNOWN-018", Category.KNOWN_BACKDOOR, Severity.HIGH,
    title="TP-Link TDDP debug protocol daemon (UDP 1040)",
    why="""TP-Link routers, access points and smart plugs run TDDP, a debug protocol on UDP 1040
        that reads and writes the configuration (and on some models runs commands) with a
        key derived from the default admin/admin credentials.""",
    confirm=_confirm("tddp",
                     """in a disassembler, the recvfrom loop on port 1040 (0x410) and its command
                     dispatch; `tddp-client` of softScheck/tplink-smartplug talks to it."""),
    references=["https://github.com/softScheck/tplink-smartplug", _CWE.format(912)],
)
UTT = rule(
    "FP-KNOWN-019", Category.KNOWN_BACKDOOR, Severity.CRITICAL,
    title="UTT HiPER factory telnetd on TCP 60023",
    why="""UTT HiPER 810 firmware starts telnetd on TCP 60023 from /etc_ro/rcS ("for telnet
        debugging") with admin/admin, and restores it on every reboot.""",
    confirm="""Read the quoted boot line (`grep -rn 60023 etc_ro/`). On a device:
        `telnet <ip> 60023`.""",
    references=["https://github.com/cha0yang1/UTT-nv810v4-telnet-backdoor", _CWE.format(912)],
)

RULES = (XMLSET, TENDA, SERCOMM, SERCOMM_FT_TOOL, TELNETENABLE, SCREENOS, FORTINET, ZYXEL,
         HIKVISION, XIONGMAI_9530, XIONGMAI_ROOT, ALPHANETWORKS, ZTE_ROOT, HUAWEI_TELECOMADMIN,
         ADUPS, SAMSUNG_RFS, ALLWINNER, TDDP, UTT)
_BY_ID = {r.id: r for r in RULES}


@dataclass(frozen=True)
class Signature:
    """What one yara rule says besides its patterns."""

    name: str
    rule: Rule
    check: str | None
    meta: dict[str, str]


_RULE_HEAD = re.compile(r"^rule\s+(\w+)\s*\{\s*meta:(.*?)^\s*(?:strings|condition):", re.M | re.S)
_META = re.compile(r'^\s*(\w+)\s*=\s*"([^"]*)"\s*$', re.M)


def yara_metadata(source: str) -> dict[str, dict[str, str]]:
    """rule name -> its string metadata, read from the source (yara-x compiled rules do not
    list the rules that did not match)."""
    return {m.group(1): dict(_META.findall(m.group(2))) for m in _RULE_HEAD.finditer(source)}


@cache
def compiled() -> tuple[yara_x.Rules, dict[str, Signature]]:
    """The rule pack, compiled once per process, and its yara rule name -> Signature."""
    source = YARA_FILE.read_text("utf-8")
    compiler = yara_x.Compiler()
    compiler.define_global("ftype", "")
    compiler.add_source(source, origin=YARA_FILE.name)
    rules = compiler.build()
    signatures: dict[str, Signature] = {}
    for name, meta in yara_metadata(source).items():
        rule_id = meta.get("rule_id", "")
        if rule_id not in _BY_ID:
            raise ValueError(f"{YARA_FILE.name}: yara rule {name} names no FP-KNOWN rule ({rule_id!r})")
        signatures[name] = Signature(name, _BY_ID[rule_id], meta.get("check"), meta)
    return rules, signatures


def _candidate(entry: FileEntry) -> bool:
    return entry.ftype in CANDIDATE_TYPES and 0 < entry.size <= MAX_FILE_BYTES


class KnownBackdoors(Analyzer):
    family = "KNOWN"
    name = "known-backdoors"
    rules = RULES

    def prepare(self) -> None:
        compiled()

    def run(self, fs: RootFS) -> Iterator[Finding]:
        compiled_rules, signatures = compiled()
        scanner = yara_x.Scanner(compiled_rules)
        for entry in fs.files(*CANDIDATE_TYPES):
            if entry.size > MAX_FILE_BYTES:
                examined.skipped(fs, entry, self.name, examined.mib(MAX_FILE_BYTES))
            if not _candidate(entry):
                continue
            data = fs.read(entry.path)
            if data is None:
                continue
            scanner.set_global("ftype", entry.ftype)
            results = scanner.scan(data)
            for match in results.matching_rules:
                signature = signatures[match.identifier]
                found = self._finding(fs, entry, data, signature, match)
                if found is not None:
                    yield found

    def _finding(self, fs: RootFS, entry: FileEntry, data: bytes, signature: Signature,
                 match: Any) -> Finding | None:
        if signature.check == "crypt":
            return self._crypt(fs, entry, data, signature)
        spans = _key_spans(match, data)
        if not spans:
            return None
        offset, length, pattern = spans[0]
        matched = {p.identifier.lstrip("$"): _excerpt(data, p.matches[0].offset, p.matches[0].length)
                   for p in match.patterns if p.matches}
        return signature.rule.at(fs, entry.path, offset, length, signature=signature.name,
                                 pattern=pattern.lstrip("$"), matched=matched)

    def _crypt(self, fs: RootFS, entry: FileEntry, data: bytes, signature: Signature) -> Finding | None:
        kind = kind_of_name(entry.name)
        if kind not in (PASSWD, SHADOW) or not crypt.available():
            return None
        user = signature.meta.get("user", "root")
        passwords = signature.meta.get("passwords", "").split()
        for line in parse_accounts(data.decode("latin-1"), kind):
            if line.name != user:
                continue
            field = line.password
            if not field.value or field.value in ("x", "*", "!"):
                continue
            for password in passwords:
                if crypt.check(password, field.value):
                    return signature.rule.at(fs, entry.path, field.start, field.end - field.start,
                                             signature=signature.name, user=user,
                                             password=password, line=line.lineno)
        return None


def _key_spans(match: Any, data: bytes) -> list[tuple[int, int, str]]:
    """(offset, length, pattern) of the matches of the `$key*` patterns, first pattern first,
    trimmed of the delimiters the patterns anchor on (the NUL that ends a compiled string, the
    newline before an account line): the evidence is the literal itself."""
    out = []
    for pattern in match.patterns:
        if not pattern.identifier.startswith("$key") or not pattern.matches:
            continue
        m = pattern.matches[0]
        start, end = m.offset, m.offset + m.length
        while end > start + 1 and data[end - 1] == 0:
            end -= 1
        while start < end - 1 and data[start] in (0, 0x0A):
            start += 1
        out.append((start, end - start, pattern.identifier))
    return out


def _excerpt(data: bytes, offset: int, length: int) -> str:
    return data[offset:offset + min(length, 120)].decode("latin-1")
