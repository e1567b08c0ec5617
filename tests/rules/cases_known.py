"""FP-KNOWN-001…019: the documented-backdoor pack (firmproof/analyzers/known.py). Programs are
compiled with gcc and embed each documented literal in the documented structure; decoys hold
the same literal where it opens nothing (a README, a usage text, a program that does not
receive from the network)."""

from __future__ import annotations

from .case import Case, Kit, hit, miss

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
                     "/etc/init0.d/S80telnetd.sh", b"telnetd -l /usr/sbin/login -u Alphanetworks:"),
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


def compiled(source: str, *flags: str):
    def build(kit: Kit) -> dict[str, bytes]:
        return {"/usr/sbin/daemon": kit.gcc(HEAD + source, *flags, "-rdynamic", "-w")}
    return build


def program(rule: str) -> Case:
    source, literal = PROGRAMS[rule]
    return hit(rule, "compiled-O2-stripped", compiled(source, "-O2", "-s"), "/usr/sbin/daemon", literal,
               modes={"/usr/sbin/daemon": 0o755})


def tree(rule: str) -> Case:
    files, path, literal = TREES[rule]
    return hit(rule, "file", files, path, literal, modes={p: 0o755 for p in files})


CASES = [
    *(program(rule) for rule in sorted(PROGRAMS)),
    *(tree(rule) for rule in sorted(TREES)),
    hit("FP-KNOWN-013", "zte-root-password",
        lambda kit: {"/etc/shadow": f"root:{kit.passwd_hash('-1', 'Zte521', 'zte')}:18000:0:99999:7:::\n"},
        "/etc/shadow", lambda data: data.split(b":")[1], details={"password": "Zte521"}),
    *(miss(rule, "program", compiled(source, "-O2"), silent=True, modes={"/usr/sbin/daemon": 0o755})
      for rule, source in sorted(DECOY_PROGRAMS.items())),
    *(miss(rule, "file", files, silent=True) for rule, files in sorted(DECOY_TREES.items())),
]
