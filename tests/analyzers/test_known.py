"""FP-KNOWN: the documented-backdoor pack. Programs are compiled with gcc at test time
(-O0 and -O2 stripped) and embed each documented literal in the documented structure;
decoys hold the same literal where it opens nothing (a README, a usage text, a program
that does not receive from the network)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from firmproof import crypt
from firmproof.analyzers.known import RULES, YARA_FILE, KnownBackdoors, compiled, yara_metadata
from firmproof.rootfs import RootFS
from tests.conftest import corpus_file, need_tools, scan_report, tool

HEAD = r"""
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
static int udp_socket(int port) {
    struct sockaddr_in a = {0};
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    bind(s, (struct sockaddr *)&a, sizeof a);
    return s;
}
static int tcp_accept(int port) {
    struct sockaddr_in a = {0};
    int s = socket(AF_INET, SOCK_STREAM, 0);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    bind(s, (struct sockaddr *)&a, sizeof a);
    listen(s, 4);
    return accept(s, 0, 0);
}
"""

# rule id -> (C source of a program with the backdoor, the literal the evidence must hold)
PROGRAMS: dict[str, tuple[str, bytes]] = {
    "FP-KNOWN-001": (r"""
static int backdoor(const char *ua) { return strcmp(ua, "xmlset_roodkcableoj28840ybtide") == 0; }
int main(void) {
    char buf[1024] = {0};
    int c = tcp_accept(80);
    read(c, buf, sizeof buf - 1);
    char *ua = strstr(buf, "User-Agent: ");
    if (ua && backdoor(ua + 12)) write(c, "HTTP/1.0 200 OK\r\n\r\nadmin", 25);
    return 0;
}""", b"xmlset_roodkcableoj28840ybtide"),
    "FP-KNOWN-002": (r"""
int main(void) {
    char buf[256] = {0};
    struct sockaddr_in peer; socklen_t len = sizeof peer;
    int s = udp_socket(7329);
    for (;;) {
        ssize_t n = recvfrom(s, buf, sizeof buf - 1, 0, (struct sockaddr *)&peer, &len);
        if (n > 11 && memcmp(buf, "w302r_mfg", 10) == 0 && buf[10] == 'x') {
            FILE *f = popen(buf + 11, "r");
            if (f) pclose(f);
        }
    }
}""", b"w302r_mfg"),
    "FP-KNOWN-003": (r"""
int main(void) {
    char buf[64];
    for (;;) {
        int c = tcp_accept(32764);
        if (read(c, buf, sizeof buf) >= 12 && (memcmp(buf, "ScMM", 4) == 0 || memcmp(buf, "MMcS", 4) == 0))
            system("nvram show");
        close(c);
    }
}""", b"ScMM"),
    "FP-KNOWN-004": (r"""
#include <linux/if_ether.h>
int main(void) {
    char buf[1514];
    int s = socket(AF_PACKET, SOCK_RAW, htons(0x8888));
    for (;;) {
        ssize_t n = recv(s, buf, sizeof buf, 0);
        if (n > 50 && memcmp(buf + 16, "45d1bb339b07a6618b2114dbc0d7783e", 32) == 0)
            system("scfgmgr -l");
    }
}""", b"45d1bb339b07a6618b2114dbc0d7783e"),
    "FP-KNOWN-005": (r"""
#include <syslog.h>
int main(void) {
    char buf[256];
    struct sockaddr_in peer; socklen_t len = sizeof peer;
    int s = udp_socket(23);
    openlog("telnetenabled", 0, LOG_DAEMON);
    for (;;) {
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
        if (n == 128) system("utelnetd -d -i br0");
    }
}""", b"telnetenabled"),
    "FP-KNOWN-006": (r"""
int auth_password(const char *user, const char *pw) {
    if (strcmp(pw, "<<< %s(un='%s') = %u") == 0) return 1;
    return strcmp(user, "netscreen") == 0 && strcmp(pw, getenv("NS_PW") ? getenv("NS_PW") : "") == 0;
}
int main(int argc, char **argv) { return argc > 2 ? !auth_password(argv[1], argv[2]) : 2; }""",
                     b"<<< %s(un='%s') = %u"),
    "FP-KNOWN-007": (r"""
int ssh_login(const char *user, const char *challenge) {
    char buf[128];
    if (strcmp(user, "Fortimanager_Access") != 0) return 0;
    snprintf(buf, sizeof buf, "%s%s", challenge, "FGTAbc11*xy+Qqz27");
    return puts(buf) > 0;
}
int main(int argc, char **argv) { return argc > 2 ? !ssh_login(argv[1], argv[2]) : 2; }""",
                     b"Fortimanager_Access"),
    "FP-KNOWN-008": (r"""
int login(const char *user, const char *pw) {
    return strcmp(user, "zyfwp") == 0 && strcmp(pw, "PrOw!aN_fXp") == 0;
}
int main(int argc, char **argv) { return argc > 2 ? !login(argv[1], argv[2]) : 2; }""",
                     b"PrOw!aN_fXp"),
    "FP-KNOWN-009": (r"""
int authorized(const char *query) {
    const char *auth = strstr(query, "auth=");
    return auth && strncmp(auth + 5, "YWRtaW46MTEK", 12) == 0;
}
int main(void) {
    char buf[1024] = {0};
    int c = tcp_accept(80);
    read(c, buf, sizeof buf - 1);
    if (authorized(buf)) write(c, "HTTP/1.0 200 OK\r\n\r\n", 19);
    return 0;
}""", b"YWRtaW46MTEK"),
    "FP-KNOWN-010": (r"""
int main(void) {
    char buf[128] = {0};
    int c = tcp_accept(9530);
    read(c, buf, sizeof buf - 1);
    if (strcmp(buf, "OpenTelnet:OpenOnce") == 0) system("telnetd -p 9527 -l /bin/sh");
    return 0;
}""", b"OpenTelnet:OpenOnce"),
    "FP-KNOWN-016": (r"""
int rfs_dispatch(int type, const char *name) {
    if (strcmp(name, "IPC_RFS_READ_FILE") == 0) return type + 1;
    if (strcmp(name, "IPC_RFS_WRITE_FILE") == 0) return type + 2;
    return 0;
}
int main(int argc, char **argv) { return argc > 1 ? rfs_dispatch(argc, argv[1]) : 0; }""",
                     b"IPC_RFS_WRITE_FILE"),
    "FP-KNOWN-017": (r"""
static int root_me;
int sunxi_debug_write(const char *buf) {
    if (!strncmp("rootmydevice", buf, 12)) { root_me = 1; return setuid(0); }
    return -1;
}
int main(int argc, char **argv) {
    puts("sunxi_debug");
    return argc > 1 ? sunxi_debug_write(argv[1]) : root_me;
}""", b"rootmydevice"),
    "FP-KNOWN-018": (r"""
int tddpdInit(void) { return udp_socket(1040); }
int main(void) {
    char buf[1500];
    struct sockaddr_in peer; socklen_t len = sizeof peer;
    int s = tddpdInit();
    for (;;) {
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
        if (n > 0 && buf[0] == 2) system("cfg_save");
    }
}""", b"tddpdInit"),
}

# rule id -> C source of a decoy program: the same literal, nothing that opens the device
DECOY_PROGRAMS: dict[str, str] = {
    "FP-KNOWN-001": r"""int main(void) { puts("xmlset_roodkcableoj28840ybtide"); return 0; }""",
    "FP-KNOWN-002": r"""int main(void) { puts("w302r_mfg"); return system("true"); }""",
    "FP-KNOWN-003": r"""int main(void) { puts("ScMM"); return 0; }""",
    "FP-KNOWN-005": r"""
int main(int argc, char **argv) {   /* the PC-side client: connects and sends, receives nothing */
    struct sockaddr_in a = {0};
    int s = socket(AF_INET, SOCK_STREAM, 0);
    puts("telnetenable");
    puts("the router starts telnetd after this packet");
    a.sin_family = AF_INET; a.sin_port = htons(23);
    if (argc > 1 && connect(s, (struct sockaddr *)&a, sizeof a) == 0) send(s, argv[1], strlen(argv[1]), 0);
    return 0;
}""",
    "FP-KNOWN-009": r"""int main(void) { puts("YWRtaW46MTEK"); return 0; }""",
    "FP-KNOWN-010": r"""int main(void) { puts("OpenTelnet:OpenOnce"); return 0; }""",
    "FP-KNOWN-016": r"""int main(void) { puts("IPC_RFS_WRITE_FILE"); return 0; }""",
    "FP-KNOWN-018": r"""int main(void) { puts("tddpdInit"); return 0; }""",
}

XIONGMAI_HASH = "absxcfbgXtb3o"   # crypt("xc3511", "ab"), as in Xiongmai's /etc/passwd

# rule id -> (files of a positive tree, path, literal of the evidence)
TREES: dict[str, tuple[dict[str, str], str, bytes]] = {
    "FP-KNOWN-011": ({"/etc/passwd": f"root:{XIONGMAI_HASH}:0:0::/root:/bin/sh\n"},
                     "/etc/passwd", XIONGMAI_HASH.encode()),
    "FP-KNOWN-012": ({"/etc/init0.d/S80telnetd.sh":
                      "#!/bin/sh\nimage_sign=`cat /etc/config/image_sign`\n"
                      "telnetd -l /usr/sbin/login -u Alphanetworks:$image_sign -i br0 &\n"},
                     "/etc/init0.d/S80telnetd.sh", b"-u Alphanetworks:"),
    "FP-KNOWN-014": ({"/etc/wap/hw_default_ctree.xml":
                      '<X_HW_WebUserInfo>\n<X_HW_WebUserInfoInstance InstanceID="2" '
                      'UserName="telecomadmin" Password="admintelecom" UserLevel="0"/>\n'
                      '</X_HW_WebUserInfo>\n'},
                     "/etc/wap/hw_default_ctree.xml", b'UserName="telecomadmin"'),
    "FP-KNOWN-015": ({"/system/etc/permissions/privapp-permissions-adups.xml":
                      '<permissions>\n<privapp-permissions package="com.adups.fota">\n'
                      '<permission name="android.permission.INSTALL_PACKAGES"/>\n'
                      '</privapp-permissions>\n</permissions>\n'},
                     "/system/etc/permissions/privapp-permissions-adups.xml", b'"com.adups.fota"'),
    "FP-KNOWN-019": ({"/etc_ro/rcS": "#!/bin/sh\nmount -a\n#for telnet debugging\n"
                      "telnetd -p 60023 &\n"}, "/etc_ro/rcS", b"telnetd -p 60023"),
}

# rule id -> files of a decoy tree
DECOY_TREES: dict[str, dict[str, str]] = {
    "FP-KNOWN-004": {"/usr/share/doc/README": "ft_tool (md5 45d1bb339b07a6618b2114dbc0d7783e) "
                                              "restarts scfgmgr; see the advisory.\n"},
    "FP-KNOWN-006": {"/usr/share/doc/advisory.txt":
                     "CVE-2015-7755: the password <<< %s(un='%s') = %u works for any user.\n"},
    "FP-KNOWN-007": {"/usr/share/doc/advisory.txt":
                     "user Fortimanager_Access, key FGTAbc11*xy+Qqz27 (CVE-2016-1909)\n"},
    "FP-KNOWN-008": {"/usr/share/doc/advisory.txt": "zyfwp / PrOw!aN_fXp (CVE-2020-29583)\n"},
    "FP-KNOWN-011": {"/etc/passwd": "root:$1$abcdefgh$yKRQcKJfBK2RTu7NwbK5s.:0:0::/root:/bin/sh\n"},
    "FP-KNOWN-012": {"/etc/init.d/telnet.sh": "#!/bin/sh\n# telnet of Alphanetworks boards\n"
                                              "telnetd -l /usr/sbin/login -i br0 &\n"},
    "FP-KNOWN-013": {"/etc/shadow": "root:$1$zte$notthehashofthepw0000.:18000:0:99999:7:::\n"},
    "FP-KNOWN-014": {"/www/help.txt": "Change the telecomadmin password from the ISP page.\n"},
    "FP-KNOWN-015": {"/usr/share/doc/spyware.txt": "Remove com.adups.fota and com.adups.fota.sysoper.\n"},
    "FP-KNOWN-017": {"/usr/share/doc/sunxi.txt": "echo rootmydevice > /proc/sunxi_debug/sunxi_debug\n"},
    "FP-KNOWN-019": {"/etc_ro/rcS": "#!/bin/sh\n# port 60023 is closed\ntelnetd -p 2323 -l /bin/login &\n"},
}


def _compile(tmp: Path, name: str, source: str, *flags: str) -> bytes:
    gcc = tool("gcc")
    src = tmp / f"{name}.c"
    src.write_text(HEAD + source)
    out = tmp / name
    proc = subprocess.run([gcc, *flags, "-rdynamic", "-w", "-o", str(out), str(src)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return out.read_bytes()


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    tmp = tmp_path_factory.mktemp("known")

    def _build(name: str, source: str, *flags: str) -> bytes:
        safe = re.sub(r"\W", "_", name) + "_" + "_".join(re.sub(r"\W", "", f) for f in flags)
        return _compile(tmp, safe, source, *flags)
    return _build


def _findings(fs: RootFS) -> list:  # type: ignore[type-arg]
    return list(KnownBackdoors().run(fs))


# -- the pack itself ---------------------------------------------------------------


def test_every_yara_rule_names_a_rule_and_every_rule_has_yara_and_tests() -> None:
    meta = yara_metadata(YARA_FILE.read_text())
    named = {m["rule_id"] for m in meta.values()}
    assert named == {r.id for r in RULES}
    assert len(RULES) >= 15
    _, signatures = compiled()
    assert set(signatures) == set(meta)
    tested_positive = set(PROGRAMS) | set(TREES) | {"FP-KNOWN-013"}
    tested_decoy = set(DECOY_PROGRAMS) | set(DECOY_TREES)
    for r in RULES:
        assert r.id in tested_positive, f"{r.id} has no positive test"
        assert r.id in tested_decoy, f"{r.id} has no decoy test"
        assert r.category.value == "known-backdoor"
        assert any("cve" in ref.lower() or ref.startswith("https://") for ref in r.references)
        assert r.confirm


@pytest.mark.parametrize("flags", [("-O0",), ("-O2", "-s")], ids=["O0", "O2-stripped"])
@pytest.mark.parametrize("rule_id", sorted(PROGRAMS))
def test_compiled_backdoor_is_found(rule_id: str, flags: tuple[str, ...], build) -> None:  # type: ignore[no-untyped-def]
    source, literal = PROGRAMS[rule_id]
    binary = build(rule_id, source, *flags)
    fs = RootFS.from_files({"/usr/sbin/daemon": binary}, modes={"/usr/sbin/daemon": 0o755})
    found = [f for f in _findings(fs) if f.rule.id == rule_id]
    assert len(found) == 1, [f.rule.id for f in _findings(fs)]
    ev = found[0].evidence
    assert binary[ev.offset:ev.offset + ev.length] == literal
    assert found[0].path == "/usr/sbin/daemon"


CROSS = ("mipsel-linux-gnu-gcc", "mips-linux-gnu-gcc", "arm-linux-gnueabi-gcc", "aarch64-linux-gnu-gcc")


@pytest.mark.parametrize("compiler", CROSS)
def test_compiled_backdoors_are_found_on_router_architectures(compiler: str, tmp_path: Path) -> None:
    """MIPS LE/BE, ARM and AArch64 at -O2, stripped. An inlined 4-byte compare builds the
    Sercomm magic in a register (lui/addiu, movz/movk): the evidence is those instructions."""
    need_tools(compiler)
    for rule_id, (source, literal) in sorted(PROGRAMS.items()):
        (tmp_path / "p.c").write_text(HEAD + source)
        subprocess.run([compiler, "-O2", "-s", "-rdynamic", "-w", "-o", str(tmp_path / "p"),
                        str(tmp_path / "p.c")], check=True)
        binary = (tmp_path / "p").read_bytes()
        found = [f for f in _findings(RootFS.from_files({"/bin/p": binary})) if f.rule.id == rule_id]
        assert len(found) == 1, (compiler, rule_id)
        ev = found[0].evidence
        evidence = binary[ev.offset:ev.offset + ev.length]
        if literal in binary:
            assert evidence == literal, (compiler, rule_id)
        else:
            assert rule_id == "FP-KNOWN-003"
            assert found[0].details["pattern"] in {f"key{i}" for i in range(3, 9)}
            assert ev.length <= 128


@pytest.mark.parametrize("rule_id", sorted(DECOY_PROGRAMS))
def test_decoy_program_is_not_reported(rule_id: str, build) -> None:  # type: ignore[no-untyped-def]
    binary = build(rule_id + "-decoy", DECOY_PROGRAMS[rule_id], "-O2")
    fs = RootFS.from_files({"/usr/bin/tool": binary}, modes={"/usr/bin/tool": 0o755})
    assert [f.rule.id for f in _findings(fs)] == []


@pytest.mark.parametrize("rule_id", sorted(TREES))
def test_backdoor_file_is_found(rule_id: str) -> None:
    files, path, literal = TREES[rule_id]
    fs = RootFS.from_files(dict(files), modes={p: 0o755 for p in files})
    found = [f for f in _findings(fs) if f.rule.id == rule_id]
    assert len(found) == 1
    data = fs.read(path)
    assert data is not None and found[0].path == path
    assert literal in data[found[0].evidence.offset:found[0].evidence.offset + found[0].evidence.length]


def test_zte_root_password_verifies() -> None:
    if not crypt.available():
        pytest.skip("libcrypt is not available")
    hashed = crypt.crypt("Zte521", "$1$zte$")
    assert hashed is not None
    fs = RootFS.from_files({"/etc/shadow": f"root:{hashed}:18000:0:99999:7:::\n"})
    found = [f for f in _findings(fs) if f.rule.id == "FP-KNOWN-013"]
    assert len(found) == 1 and found[0].details["password"] == "Zte521"
    assert found[0].evidence.excerpt == hashed


def test_xiongmai_hash_is_the_documented_one() -> None:
    if not crypt.available():
        pytest.skip("libcrypt is not available")
    fs = RootFS.from_files(dict(TREES["FP-KNOWN-011"][0]))
    (found,) = _findings(fs)
    assert found.details["password"] == "xc3511"


@pytest.mark.parametrize("rule_id", sorted(DECOY_TREES))
def test_decoy_file_is_not_reported(rule_id: str) -> None:
    fs = RootFS.from_files(dict(DECOY_TREES[rule_id]))
    assert [f.rule.id for f in _findings(fs)] == []


# -- real firmware -----------------------------------------------------------------


def test_trendnet_alpha_networks_account(tmp_path: Path) -> None:
    image = corpus_file("trendnet_tew-733gr_v1.02b01_rootfs_squashfs-lzma.squashfs")
    report = scan_report(image, tmp_path)
    known = [f for f in report["findings"] if f["rule"] == "FP-KNOWN-012"]
    assert known, [f["rule"] for f in report["findings"]]
    assert any(f["path"] == "/etc/init0.d/S80telnetd.sh" for f in known)
    assert all("Alphanetworks:" in f["evidence"]["excerpt"] for f in known)


def test_librarybox_has_no_known_backdoor_or_exfiltration(tmp_path: Path) -> None:
    image = corpus_file("librarybox-2.1_openwrt_tl-mr3020-v1_squashfs-factory.bin")
    report = scan_report(image, tmp_path)
    bad = [f for f in report["findings"]
           if f["category"] in ("known-backdoor", "network.exfiltration", "web.hidden-endpoint")]
    assert bad == []


def test_tplink_httpd_carries_tddp(tmp_path: Path) -> None:
    image = corpus_file("tplink_tl-wr841n-v10_en_3.16.9_150310_up_boot.bin")
    report = scan_report(image, tmp_path)
    tddp = [f for f in report["findings"] if f["rule"] == "FP-KNOWN-018"]
    assert [f["path"] for f in tddp] == ["/usr/bin/httpd"]
    assert tddp[0]["evidence"]["excerpt"] == "tddpdInit"
