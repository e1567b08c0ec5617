"""FP-HCRED-001, FP-TRIG-001 and FP-ELF-001 on real programs from five compilers, -O0 and -O2,
stripped and not: the backdoors are found with their evidence bytes, the decoys are not."""

from __future__ import annotations

from pathlib import Path

import pytest

from firmproof.analyzers.hardcoded import Hardcoded, looks_secret
from firmproof.analyzers.hardening import Hardening
from firmproof.analyzers.triggers import Triggers, join_constants, power
from firmproof.fs.rootfs import RootFS
from firmproof.model import Severity
from tests.conftest import corpus_file

from .conftest import VARIANTS, cross_build, gcc_build, variant_id

MASTER = b"Xm4st3r_k3y!2017"
USER_AGENT = b"xmlset_roodkcableoj28840ybtide"
COMMAND = b"/usr/sbin/telnetd -l /bin/sh -p 2323 &"
DECOYS = ("login_hash", "login_config", "usage_only", "ntp_client", "udp_echo", "udp_xor", "config_keys")


def image(builds, variant, *programs: str) -> RootFS:
    return RootFS.from_files({f"/usr/sbin/{p}": builds[(p, *variant)].data for p in programs})


def evidence(fs: RootFS, finding) -> bytes:
    data = fs.read(finding.path)
    assert data is not None
    return data[finding.evidence.offset:finding.evidence.offset + finding.evidence.length]


# FP-HCRED-001 --------------------------------------------------------------------------

@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_fp_hcred_001_master_password_and_backdoor_user_agent(builds, variant):
    fs = image(builds, variant, "login_master", "httpd_ua", *DECOYS)
    findings = sorted(Hardcoded().run(fs), key=lambda f: f.path)
    assert [f.path for f in findings] == ["/usr/sbin/httpd_ua", "/usr/sbin/login_master"]
    by_path = {f.path: f for f in findings}
    for path, literal, compare in (("/usr/sbin/login_master", MASTER, "strcmp"),
                                   ("/usr/sbin/httpd_ua", USER_AGENT, "strcmp")):
        finding = by_path[path]
        data = fs.read(path)
        assert data is not None
        assert finding.rule.id == "FP-HCRED-001" and finding.severity is Severity.HIGH
        assert evidence(fs, finding) == literal
        assert finding.evidence.offset == data.index(literal + b"\0")
        assert finding.details["literal"] == literal.decode() and finding.details["compare"] == compare
        assert finding.details["sites"] and all(s.startswith("0x") for s in finding.details["sites"])


@pytest.mark.parametrize("opt", ["-O0", "-O2"])
def test_fp_hcred_001_position_dependent_x86_64_program(tmp_path, opt):
    """-no-pie code loads string addresses as 32-bit immediates, not RIP-relative: the quick
    byte scan does not apply and the full sweep must still find the master password."""
    from .conftest import SRC

    data = gcc_build(tmp_path, (SRC / "login_master.c").read_text(), opt, "-no-pie", "-fno-pie")
    fs = RootFS.from_files({"/usr/sbin/login_master": data})
    (finding,) = Hardcoded().run(fs)
    assert evidence(fs, finding) == MASTER and finding.details["compare"] == "strcmp"


@pytest.mark.parametrize("variant", [("x86-64", "-O2", True), ("mips", "-O0", False)], ids=variant_id)
def test_fp_hcred_001_decoys_alone_give_nothing(builds, variant):
    """A hash read from a file, 'password' only in usage text, an NTP client comparing a host
    name, a UDP echo daemon comparing 'PING': nothing compares a secret."""
    assert list(Hardcoded().run(image(builds, variant, *DECOYS))) == []


def test_fp_hcred_001_literal_filter():
    for secret in ("Xm4st3r_k3y!2017", "xmlset_roodkcableoj28840ybtide", "Zte521admin"):
        assert looks_secret(secret), secret
    for keyword in ("--help", "User-Agent", "localhost", "CHSH_AUTH", "keep_caps", "sha256", "2.5.29.15",
                    "APT::Get::Simulate", "Authorization: Basic ", "password", "$gy$", "=always", "%s:%d",
                    "http://purenetworks.com/HNAP1/GetDeviceSettings"):
        assert not looks_secret(keyword), keyword


def test_fp_hcred_001_compare_outside_authentication_code_is_not_a_finding(tmp_path):
    source = r"""
#include <stdio.h>
#include <string.h>
int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "mode7Xq2") == 0) puts("fast mode");
    return 0;
}
"""
    fs = RootFS.from_files({"/bin/tool": gcc_build(tmp_path, source, "-O2")})
    assert list(Hardcoded().run(fs)) == []


# FP-TRIG-001 ---------------------------------------------------------------------------

@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_fp_trig_001_magic_packet_starts_telnetd(builds, variant):
    _, opt, _ = variant
    fs = image(builds, variant, "udp_trigger", "httpd_ua", "login_master", *DECOYS)
    (finding,) = Triggers().run(fs)
    data = fs.read("/usr/sbin/udp_trigger")
    assert data is not None
    assert finding.path == "/usr/sbin/udp_trigger" and finding.severity is Severity.CRITICAL
    assert evidence(fs, finding) == COMMAND and finding.evidence.offset == data.index(COMMAND + b"\0")
    assert finding.details["magic"] == "w302r_mfg_open"
    assert finding.details["command"] == COMMAND.decode() and finding.details["run"] == "system"
    # -O0 calls strncmp and htons; -O2 inlines both (the magic becomes word compares)
    if opt == "-O0":
        assert finding.details["compare"] == "strncmp" and finding.details["port"] == 7329
    else:
        assert finding.details["compare"] in ("strncmp", "inline")


def test_fp_trig_001_magic_compared_in_a_simd_register(tmp_path):
    """GCC 14's AArch64 -O2 code (asm/, assembled here whatever the host's compiler): 8 bytes
    of the magic are loaded from .rodata.cst8 into d15 and compared by `eor v31.8b, v31.8b,
    v15.8b; fmov x0, d31; cbnz x0`, the rest by `cmp` with a mov/movk word and a halfword."""
    asm = Path(__file__).resolve().parent / "asm" / "udp_trigger.aarch64-gcc14-O2.s"
    fs = RootFS.from_files({"/usr/sbin/udp_trigger": cross_build(tmp_path, "aarch64", asm)})
    (finding,) = Triggers().run(fs)
    assert evidence(fs, finding) == COMMAND
    assert finding.details["magic"] == "w302r_mfg_open" and finding.details["compare"] == "inline"


def test_fp_trig_001_magic_folded_into_itself(tmp_path):
    """GCC 14's AArch64 -O2 strncmp(buf, "xyzzy_factory_mode", 18) (asm/): 16 bytes compared by
    `eor v31.16b, v31.16b, v30.16b; umaxp v31.4s, v31.4s, v31.4s` (v31 folded into itself, which
    must count its constant once), the last 2 by `ldrh; cmp`."""
    asm = Path(__file__).resolve().parent / "asm" / "knock.aarch64-gcc14-O2.s"
    fs = RootFS.from_files({"/usr/sbin/knockd": cross_build(tmp_path, "aarch64", asm)})
    (finding,) = Triggers().run(fs)
    assert evidence(fs, finding) == b"/usr/sbin/telnetd"
    assert finding.details["magic"] == "xyzzy_factory_mode" and finding.details["compare"] == "inline"
    assert finding.severity is Severity.CRITICAL


@pytest.mark.parametrize("variant", [("mipsel", "-O2", True), ("arm", "-O0", False),
                                     ("x86-64", "-O2", False)], ids=variant_id)
def test_fp_trig_001_echo_daemon_and_ntp_client_are_not_triggers(builds, variant):
    """The echo daemon compares input with 'PING' but runs nothing; the NTP client binds
    nothing; the login runs a shell but has no socket."""
    fs = image(builds, variant, "udp_echo", "ntp_client", "login_master", "login_hash")
    assert list(Triggers().run(fs)) == []


def test_fp_trig_001_join_inlined_constants():
    assert join_constants([b"w302", b"r_mf", b"g_op", b"en"]) == b"w302r_mfg_open"
    assert join_constants([b"w302r_mf", b"mfg_open"]) == b"w302r_mfg_open"


# FP-ELF-001 ----------------------------------------------------------------------------

WEAK_SOURCE = "#include <stdio.h>\nint main(int c, char **v) { char b[64]; " \
              "snprintf(b, sizeof b, \"%s\", v[0]); puts(b); return c; }\n"


def test_fp_elf_001_one_summary_per_image(tmp_path):
    weak = gcc_build(tmp_path, WEAK_SOURCE, "-O2", "-no-pie", "-fno-stack-protector", "-z", "execstack",
                     "-Wl,-z,norelro")
    strong = gcc_build(tmp_path, WEAK_SOURCE, "-O2", "-pie", "-fPIE", "-fstack-protector-all",
                       "-Wl,-z,relro,-z,now")
    fs = RootFS.from_files({"/bin/a-strong": strong, "/bin/b-weak": weak, "/sbin/c-weak": weak})
    (finding,) = Hardening().run(fs)
    assert finding.rule.id == "FP-ELF-001" and finding.severity is Severity.INFO
    assert finding.path == "/bin/b-weak"
    # evidence: the ELF header and the program header table of the first weak program
    phoff = int.from_bytes(weak[0x20:0x28], "little")
    phnum = int.from_bytes(weak[0x38:0x3A], "little")
    assert finding.evidence.offset == 0 and finding.evidence.length == phoff + 56 * phnum
    assert evidence(fs, finding) == weak[:phoff + 56 * phnum]
    assert finding.details["checked"] == 3 and finding.details["weak"] == 2
    assert finding.details["lacking"] == {"canary": 2, "nx": 2, "pie": 2, "relro": 2}
    assert [p["path"] for p in finding.details["programs"]] == ["/bin/b-weak", "/sbin/c-weak"]


# hardened programs and libraries give nothing: the miss case of tests/rules/cases_binary.py


UDP_HEAD = """#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static int udp(int port)
{
    struct sockaddr_in a;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    bind(s, (struct sockaddr *)&a, sizeof a);
    return s;
}
"""


@pytest.mark.parametrize("opt", ["-O0", "-O2"])
def test_fp_trig_001_fixed_harmless_action_is_low(tmp_path, opt):
    """A documented remote-management command (`REBOOT` runs `reboot`) is reported, at low
    severity: what the trigger gives decides the severity, not the compare."""
    source = UDP_HEAD + """int main(void) { char b[64]; int s = udp(6060);
        for (;;) { ssize_t n = recv(s, b, sizeof b - 1, 0); if (n <= 0) continue; b[n] = 0;
                   if (strcmp(b, "REBOOT") == 0) system("reboot"); } }"""
    fs = RootFS.from_files({"/usr/sbin/mgmtd": gcc_build(tmp_path, source, opt, "-s")})
    (finding,) = Triggers().run(fs)
    assert finding.severity is Severity.LOW and finding.details["gives"] == "fixed harmless action"
    assert finding.details["command"] == "reboot"


@pytest.mark.parametrize("opt", ["-O0", "-Os", "-O2"])
def test_fp_trig_001_magic_compared_byte_by_byte_in_a_helper(tmp_path, opt):
    """The magic compared one character at a time (no call, no word), in a helper function
    at -O0: still the trigger, and a shell is critical."""
    source = UDP_HEAD + """static int knock(const unsigned char *b)
        { return b[0] == 'k' && b[1] == 'N' && b[2] == '0' && b[3] == 'c' && b[4] == 'k'; }
        int main(void) { unsigned char b[64]; int s = udp(53413);
        for (;;) { if (recv(s, b, sizeof b, 0) >= 5 && knock(b) && fork() == 0)
                   execl("/bin/sh", "sh", "-c", (char *)b + 5, (char *)0); } }"""
    fs = RootFS.from_files({"/usr/sbin/knockd": gcc_build(tmp_path, source, opt, "-s")})
    (finding,) = Triggers().run(fs)
    assert finding.severity is Severity.CRITICAL and finding.details["magic"] == "kN0ck"
    assert finding.details["command"] == "/bin/sh"


@pytest.mark.parametrize("opt", ["-O0", "-O2"])
def test_fp_trig_001_byte_compare_helper_whose_answer_runs_nothing(tmp_path, opt):
    """Decoy: a UDP daemon checks each packet's version byte by byte in a helper and answers;
    the one command it runs (a log script at start-up, before it receives anything) does not
    depend on what arrives."""
    source = UDP_HEAD + """static int version_ok(const unsigned char *b)
        { return b[0] == 'V' && b[1] == 'E' && b[2] == 'R' && b[3] == '2' && b[4] == '.'; }
        int main(void) { unsigned char b[64]; struct sockaddr_in from; socklen_t n = sizeof from;
        int s = udp(4000); system("/bin/sh /etc/udpd-start.sh");
        for (;;) { ssize_t got = recvfrom(s, b, sizeof b, 0, (struct sockaddr *)&from, &n);
                   if (got >= 5 && version_ok(b))
                       sendto(s, "OK", 2, 0, (struct sockaddr *)&from, n); } }"""
    fs = RootFS.from_files({"/usr/sbin/verd": gcc_build(tmp_path, source, opt, "-s")})
    assert list(Triggers().run(fs)) == []


def test_fp_trig_001_power_of_the_command():
    assert power("/usr/sbin/telnetd -l /bin/sh -p 2323 &", "system")[0] is Severity.CRITICAL
    assert power("/bin/sh", "execl")[0] is Severity.CRITICAL
    assert power("busybox telnetd", "system")[0] is Severity.CRITICAL
    assert power("reboot", "system")[0] is Severity.LOW
    assert power("/sbin/reboot -f", "system")[0] is Severity.LOW
    assert power("/usr/bin/factory_reset.sh", "system")[0] is Severity.HIGH


def test_fp_trig_001_stock_busybox_mips_is_no_trigger(tmp_path):
    """TP-Link's stock BusyBox (MIPS, uClibc, stripped) receives, compares with literals and
    runs /bin/sh in different applets of one program: no trigger (it was reported as
    "magic value '(unknown)' runs '/bin/sh'": a compare 21 KiB of code away from the exec)."""
    from firmproof.config import ScanConfig
    from firmproof.scan import scan
    image = corpus_file("tplink_tl-wr841n-v14-eu_stock_2023.bin")
    result = scan(ScanConfig(image=image, workdir=tmp_path))
    assert [f.title for f in result.findings if f.rule.id.startswith("FP-TRIG")] == []
