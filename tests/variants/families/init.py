"""Init systems: a remote shell started at boot by systemd (units enabled by a *.wants or
*.requires link, socket activation, drop-ins, Exec prefixes, Environment=), xinetd and inetd,
upstart jobs, Android init .rc services and inittab lines of every form, each beside decoys
of the same shape that the init never starts (a unit not enabled or masked, ExecStop=, a
disabled xinetd service, a commented inetd line, an upstart job without `start on`, an
Android service `disabled` and never started, an inittab `off` or `shutdown` line) or that
start a harmless program."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

from tests.variants.corpus import Variant

FAMILY = "init-systems"
CATEGORY = "service.remote-shell"
FORBID = (CATEGORY,)


def _elf() -> Path:
    """A real ELF to stand for a program BusyBox has no applet of (socat, dropbear, systemd):
    a copy of the static BusyBox (the scanner knows it is no bind shell by itself)."""
    return Path(shutil.which("busybox") or "/bin/busybox")


# -- systemd -------------------------------------------------------------------------

SYSTEMD_PROGRAMS = ("/lib/systemd/systemd",)
SYSTEMD_LINKS = {"/sbin/init": "/lib/systemd/systemd"}
ETC = "/etc/systemd/system"
LIB = "/lib/systemd/system"
WANTS = f"{ETC}/multi-user.target.wants"


def _unit(exec_lines: str, extra: str = "", description: str = "debug helper") -> str:
    return (f"[Unit]\nDescription={description}\nAfter=network.target\n\n"
            f"[Service]\n{extra}{exec_lines}Restart=always\n\n"
            "[Install]\nWantedBy=multi-user.target\n")


def _systemd(name: str, files: Mapping[str, str], expect: str | None, *,
             links: Mapping[str, str] | None = None, programs: tuple[str, ...] = ()) -> Variant:
    progs = {p: _elf() for p in (*SYSTEMD_PROGRAMS, *programs)}
    return Variant(FAMILY, name, dict(files), (CATEGORY, expect) if expect else None,
                   links={**SYSTEMD_LINKS, **(links or {})}, programs=progs,
                   forbid=() if expect else FORBID)


SHELL_EXECS = (  # (name, ExecStart value, programs the image needs beside BusyBox)
    ("socat", "/usr/bin/socat TCP-LISTEN:4444,reuseaddr,fork EXEC:/bin/sh,pty,stderr",
     ("/usr/bin/socat",)),
    ("nc", "/usr/bin/nc -l -p 4444 -e /bin/sh", ()),
    ("telnetd", "/usr/sbin/telnetd -F -l /bin/sh -p 2323", ()),
    ("dropbear", "/usr/sbin/dropbear -F -E -B -p 2222", ("/usr/sbin/dropbear",)),
    ("sh-c", "/bin/sh -c '/usr/bin/nc -l -p 4444 -e /bin/sh'", ()),
)
HARMLESS_EXECS = (
    ("syslogd", "/sbin/syslogd -n -O /var/log/messages", ()),
    ("ntpd", "/usr/sbin/ntpd -n -p pool.ntp.org", ()),
    ("httpd", "/usr/sbin/httpd -f -p 80 -h /www", ()),
    ("udhcpc", "/sbin/udhcpc -f -i eth0", ()),
    ("sh-c-syslogd", "/bin/sh -c '/sbin/klogd -n'", ()),
)


def systemd_variants() -> Iterator[Variant]:
    unit = f"{ETC}/debug.service"
    # one per shell: a unit in /etc/systemd/system enabled for multi-user.target
    for (name, value, progs), (hname, hvalue, hprogs) in zip(SHELL_EXECS, HARMLESS_EXECS,
                                                            strict=True):
        yield _systemd(f"systemd-{name}", {unit: _unit(f"ExecStart={value}\n")}, unit,
                       links={f"{WANTS}/debug.service": unit}, programs=progs)
        yield _systemd(f"systemd-{hname}-decoy", {unit: _unit(f"ExecStart={hvalue}\n")}, None,
                       links={f"{WANTS}/debug.service": unit}, programs=hprogs)
    # a vendor unit in /lib/systemd/system, a relative link in another target's wants
    lib_unit = f"{LIB}/vendor-diag.service"
    yield _systemd("systemd-lib-unit-relative-link",
                   {lib_unit: _unit("ExecStart=/usr/sbin/telnetd -F -l /bin/sh\n")}, lib_unit,
                   links={f"{LIB}/network-online.target.wants/vendor-diag.service":
                          "../vendor-diag.service"})
    yield _systemd("systemd-lib-unit-not-enabled-decoy",
                   {lib_unit: _unit("ExecStart=/usr/sbin/telnetd -F -l /bin/sh\n")}, None)
    # a *.requires link
    yield _systemd("systemd-requires", {unit: _unit("ExecStart=/usr/bin/nc -l -p 31337 -e /bin/sh\n")},
                   unit, links={f"{ETC}/basic.target.requires/debug.service": unit})
    # masked: /etc/systemd/system/NAME -> /dev/null hides the vendor unit that is enabled
    yield _systemd("systemd-masked-decoy",
                   {lib_unit: _unit("ExecStart=/usr/sbin/telnetd -F -l /bin/sh\n")}, None,
                   links={f"{ETC}/vendor-diag.service": "/dev/null",
                          f"{WANTS}/vendor-diag.service": lib_unit})
    # Exec prefixes
    for flag, name in (("-", "dash"), ("@", "at"), ("+", "plus"), ("!", "bang"), ("-!!", "dash-bangs")):
        argv0 = "nc " if "@" in flag else ""
        yield _systemd(f"systemd-prefix-{name}",
                       {unit: _unit(f"ExecStart={flag}/usr/bin/nc {argv0}-l -p 4444 -e /bin/sh\n")},
                       unit, links={f"{WANTS}/debug.service": unit})
    yield _systemd("systemd-prefix-harmless-decoy",
                   {unit: _unit("ExecStart=-@/sbin/syslogd syslogd -n\n")}, None,
                   links={f"{WANTS}/debug.service": unit})
    # Environment= and EnvironmentFile= variables
    yield _systemd("systemd-environment",
                   {unit: _unit("ExecStart=/usr/sbin/telnetd -F -p ${PORT} -l $LOGIN\n",
                                extra='Environment=PORT=2323 "LOGIN=/bin/sh"\n')},
                   unit, links={f"{WANTS}/debug.service": unit})
    yield _systemd("systemd-environment-file",
                   {unit: _unit("ExecStart=/usr/bin/nc $NC_OPTS\n",
                                extra="EnvironmentFile=-/etc/default/debug\n"),
                    "/etc/default/debug": "# options\nNC_OPTS=\"-l -p 4444 -e /bin/sh\"\n"},
                   unit, links={f"{WANTS}/debug.service": unit})
    yield _systemd("systemd-environment-nc",
                   {unit: _unit("ExecStart=/usr/bin/nc -l -p ${PORT} -e ${PROG}\n",
                                extra='Environment="PORT=4444" PROG=/bin/sh\n')},
                   unit, links={f"{WANTS}/debug.service": unit})
    yield _systemd("systemd-environment-harmless-decoy",
                   {unit: _unit("ExecStart=/usr/bin/nc -l -p ${PORT} -e ${PROG}\n",
                                extra='Environment="PORT=4444" PROG=/bin/cat\n')},
                   None, links={f"{WANTS}/debug.service": unit})
    yield _systemd("systemd-environment-file-harmless-decoy",
                   {unit: _unit("ExecStart=/usr/bin/nc $NC_OPTS\n",
                                extra="EnvironmentFile=-/etc/default/debug\n"),
                    "/etc/default/debug": "NC_OPTS='-l -p 4444 -e /bin/cat'\n"},
                   None, links={f"{WANTS}/debug.service": unit})
    # ExecStartPre= backgrounding a shell; ExecStop= holding one (runs at shutdown only)
    yield _systemd("systemd-execstartpre",
                   {unit: _unit("ExecStartPre=/bin/sh -c '/usr/bin/nc -l -p 4444 -e /bin/sh &'\n"
                                "ExecStart=/sbin/syslogd -n\n")},
                   unit, links={f"{WANTS}/debug.service": unit})
    yield _systemd("systemd-execstop-decoy",
                   {unit: _unit("ExecStart=/sbin/syslogd -n\n"
                                "ExecStop=/bin/sh -c '/usr/bin/nc -l -p 4444 -e /bin/sh &'\n")},
                   None, links={f"{WANTS}/debug.service": unit})
    # a continuation line
    yield _systemd("systemd-continuation",
                   {unit: _unit("ExecStart=/usr/bin/socat \\\n    TCP-LISTEN:4444,fork \\\n"
                                "    EXEC:/bin/sh\n")},
                   unit, links={f"{WANTS}/debug.service": unit}, programs=("/usr/bin/socat",))
    # a drop-in replacing ExecStart of a stock unit
    stock = f"{LIB}/syslog.service"
    dropin = f"{ETC}/syslog.service.d/override.conf"
    yield _systemd("systemd-dropin",
                   {stock: _unit("ExecStart=/sbin/syslogd -n\n", description="syslog"),
                    dropin: "[Service]\nExecStart=\nExecStart=/usr/sbin/telnetd -F -l /bin/sh\n"},
                   dropin, links={f"{WANTS}/syslog.service": stock})
    yield _systemd("systemd-dropin-reset-decoy",
                   {stock: _unit("ExecStart=/usr/sbin/telnetd -F -l /bin/sh\n", description="syslog"),
                    dropin: "[Service]\nExecStart=\nExecStart=/sbin/syslogd -n\n"},
                   None, links={f"{WANTS}/syslog.service": stock})
    # socket activation: Accept=yes, one service instance per connection on the socket
    socket = f"{LIB}/debug.socket"
    template = f"{LIB}/debug@.service"
    sock = "[Unit]\nDescription=debug socket\n\n[Socket]\nListenStream=0.0.0.0:4444\nAccept=yes\n\n" \
           "[Install]\nWantedBy=sockets.target\n"
    yield _systemd("systemd-socket-accept",
                   {socket: sock, template: "[Service]\nExecStart=/bin/sh -i\nStandardInput=socket\n"
                                            "StandardError=socket\n"},
                   template, links={f"{ETC}/sockets.target.wants/debug.socket": socket})
    yield _systemd("systemd-socket-accept-harmless-decoy",
                   {socket: sock, template: "[Service]\nExecStart=/bin/cat /etc/hostname\n"
                                            "StandardInput=socket\n"},
                   None, links={f"{ETC}/sockets.target.wants/debug.socket": socket})
    yield _systemd("systemd-socket-not-enabled-decoy",
                   {socket: sock, template: "[Service]\nExecStart=/bin/sh -i\nStandardInput=socket\n"},
                   None)


# -- inetd and xinetd ------------------------------------------------------------------

XINETD_START = {"/etc/init.d/S20xinetd": "#!/bin/sh\n/usr/sbin/xinetd -stayalive\n"}
INETD_START = {"/etc/init.d/S20inetd": "#!/bin/sh\n/usr/sbin/inetd /etc/inetd.conf\n"}


def _xinetd(server: str, args: str | None, disable: str, port: int = 4444) -> str:
    lines = ["service debug", "{", "\tsocket_type = stream", "\tprotocol = tcp", "\twait = no",
             "\tuser = root", f"\tport = {port}", "\ttype = UNLISTED", f"\tserver = {server}"]
    if args is not None:
        lines.append(f"\tserver_args = {args}")
    lines += [f"\tdisable = {disable}", "}", ""]
    return "\n".join(lines)


def inetd_variants() -> Iterator[Variant]:
    conf = "/etc/xinetd.d/debug"
    xprog = {"/usr/sbin/xinetd": _elf()}
    telnet = {"/usr/sbin/in.telnetd": _elf()}
    for name, server, args, progs in (
            ("sh", "/bin/sh", "-i", {}),
            ("in.telnetd", "/usr/sbin/in.telnetd", "-L /bin/sh", telnet),
            ("nc", "/usr/bin/nc", "-l -p 4444 -e /bin/sh", {})):
        yield Variant(FAMILY, f"xinetd-{name}", {**XINETD_START, conf: _xinetd(server, args, "no")},
                      (CATEGORY, conf), programs={**xprog, **progs})
        yield Variant(FAMILY, f"xinetd-{name}-disabled-decoy",
                      {**XINETD_START, conf: _xinetd(server, args, "yes")}, None,
                      programs={**xprog, **progs}, forbid=FORBID)
    yield Variant(FAMILY, "xinetd-harmless-decoy",
                  {**XINETD_START, conf: _xinetd("/bin/cat", "/etc/hostname", "no")}, None,
                  programs=xprog, forbid=FORBID)
    inetd = "/etc/inetd.conf"
    lines = {
        "sh": "4444 stream tcp nowait root /bin/sh sh -i\n",
        "telnetd": "telnet stream tcp nowait root /usr/sbin/telnetd telnetd -i -l /bin/sh\n",
        "busybox-sh": "31337 stream tcp nowait root /bin/busybox sh -i\n",
    }
    for name, line in lines.items():
        yield Variant(FAMILY, f"inetd-{name}", {**INETD_START, inetd: "# services\n" + line},
                      (CATEGORY, inetd))
        yield Variant(FAMILY, f"inetd-{name}-commented-decoy",
                      {**INETD_START, inetd: "# services\n#" + line}, None, forbid=FORBID)
    yield Variant(FAMILY, "inetd-harmless-decoy",
                  {**INETD_START, inetd: "daytime stream tcp nowait root internal\n"
                                         "4444 stream tcp nowait root /bin/cat cat /etc/hostname\n"},
                  None, forbid=FORBID)


# -- upstart -------------------------------------------------------------------------


def upstart_variants() -> Iterator[Variant]:
    job = "/etc/init/debug.conf"
    initctl = {"/sbin/initctl": _elf()}
    yield Variant(FAMILY, "upstart-exec",
                  {job: "description \"debug\"\nstart on startup\nrespawn\n"
                        "exec /usr/sbin/telnetd -F -l /bin/sh -p 2323\n"},
                  (CATEGORY, job), programs=initctl)
    yield Variant(FAMILY, "upstart-script",
                  {job: "start on runlevel [2345]\nstop on runlevel [!2345]\n\nscript\n"
                        "    PORT=4444\n    exec /usr/bin/nc -l -p $PORT -e /bin/sh\nend script\n"},
                  (CATEGORY, job), programs=initctl)
    yield Variant(FAMILY, "upstart-pre-start-no-initctl",
                  {job: "start on (local-filesystems and net-device-up IFACE!=lo)\n"
                        "pre-start exec /usr/bin/socat TCP-LISTEN:4444,fork EXEC:/bin/sh\n"
                        "exec /sbin/syslogd -n\n"},
                  (CATEGORY, job), programs={"/usr/bin/socat": _elf()})
    yield Variant(FAMILY, "upstart-manual-decoy",
                  {job: "description \"debug, started by hand\"\n"
                        "exec /usr/sbin/telnetd -F -l /bin/sh -p 2323\n"},
                  None, programs=initctl, forbid=FORBID)
    yield Variant(FAMILY, "upstart-override-manual-decoy",
                  {job: "start on startup\nexec /usr/sbin/telnetd -F -l /bin/sh -p 2323\n",
                   "/etc/init/debug.override": "manual\n"},
                  None, programs=initctl, forbid=FORBID)
    yield Variant(FAMILY, "upstart-post-stop-decoy",
                  {job: "start on startup\nexec /sbin/syslogd -n\npost-stop script\n"
                        "    /usr/bin/nc -l -p 4444 -e /bin/sh &\nend script\n"},
                  None, programs=initctl, forbid=FORBID)
    yield Variant(FAMILY, "upstart-harmless-decoy",
                  {job: "start on startup\nscript\n    exec /sbin/syslogd -n\nend script\n"},
                  None, programs=initctl, forbid=FORBID)


# -- Android init --------------------------------------------------------------------

ANDROID_FILES = {
    "/init.rc": "import /init.${ro.hardware}.rc\nimport /vendor/etc/init/hw/init.${ro.hardware}.rc\n\n"
                "on early-init\n    start ueventd\n\non boot\n    class_start core\n\n"
                "on nonencrypted\n    class_start main\n    class_start late_start\n\n"
                "service ueventd /system/bin/ueventd\n    class core\n    critical\n",
    "/system/build.prop": "ro.build.type=user\nro.product.model=Box\n",
    "/default.prop": "ro.secure=1\nro.debuggable=0\n",
}
ANDROID_LINKS = {f"/system/bin/{name}": "/system/bin/toybox"
                 for name in ("sh", "telnetd", "nc", "logcat", "cat")}
ANDROID_PROGRAMS = ("/system/bin/toybox", "/system/bin/ueventd")


def _android(name: str, files: Mapping[str, str], expect: str | None) -> Variant:
    return Variant(FAMILY, name, {**ANDROID_FILES, **files}, (CATEGORY, expect) if expect else None,
                   links=ANDROID_LINKS, programs={p: _elf() for p in ANDROID_PROGRAMS},
                   forbid=() if expect else FORBID)


def android_variants() -> Iterator[Variant]:
    vendor = "/vendor/etc/init/debug.rc"
    system = "/system/etc/init/dbg.rc"
    telnetd = "service dbgtelnet /system/bin/telnetd -l /system/bin/sh -p 2323\n"
    nc = "service dbgshell /system/bin/nc -l -p 4444 -e /system/bin/sh\n"
    yield _android("android-vendor-telnetd", {vendor: telnetd + "    class main\n    user root\n"}, vendor)
    yield _android("android-system-nc", {system: nc + "    class late_start\n    seclabel u:r:shell:s0\n"},
                   system)
    yield _android("android-disabled-started-on-boot",
                   {system: nc + "    class main\n    disabled\n    oneshot\n\n"
                                 "on boot\n    start dbgshell\n"},
                   system)
    yield _android("android-disabled-started-on-property",
                   {vendor: telnetd + "    disabled\n\non property:sys.boot_completed=1\n"
                                      "    start dbgtelnet\n"}, vendor)
    yield _android("android-imported",
                   {"/init.box.rc": "import /vendor/etc/debug/extra.rc\n",
                    "/vendor/etc/debug/extra.rc": telnetd + "    class core\n",
                    "/default.prop": "ro.secure=1\nro.hardware=box\n"}, "/vendor/etc/debug/extra.rc")
    yield _android("android-disabled-decoy",
                   {vendor: telnetd + "    class main\n    disabled\n    oneshot\n"}, None)
    yield _android("android-disabled-stopped-decoy",
                   {system: nc + "    disabled\n\non property:debug.shell=0\n    stop dbgshell\n"}, None)
    yield _android("android-harmless-decoy",
                   {vendor: "service dbglog /system/bin/logcat -f /data/log.txt\n    class main\n"}, None)
    yield _android("android-not-imported-decoy",
                   {"/vendor/etc/debug/extra.rc": telnetd + "    class core\n"}, None)


# -- inittab -------------------------------------------------------------------------

BUSYBOX_INITTAB = "::sysinit:/etc/init.d/rcS\n::respawn:-/bin/login\n{line}::shutdown:/bin/umount -a -r\n"
SYSV_INITTAB = ("id:3:initdefault:\nsi::sysinit:/etc/init.d/rcS\n"
                "l3:3:wait:/etc/init.d/rc 3\n{line}1:2345:respawn:/sbin/getty 38400 tty1\n")


def inittab_variants() -> Iterator[Variant]:
    tab = "/etc/inittab"
    true_lines = {
        "sysv-respawn-telnetd": (SYSV_INITTAB, "tn:2345:respawn:/usr/sbin/telnetd -F -l /bin/sh\n"),
        "sysv-once-nc": (SYSV_INITTAB, "nc:3:once:/usr/bin/nc -l -p 4444 -e /bin/sh\n"),
        "busybox-respawn-nc": (BUSYBOX_INITTAB, "::respawn:/usr/bin/nc -ll -p 4444 -e /bin/sh\n"),
        "busybox-ttyS0-telnetd": (BUSYBOX_INITTAB, "ttyS0::respawn:/usr/sbin/telnetd -F -l /bin/ash -p 23\n"),
        "busybox-sysinit-sh-c": (BUSYBOX_INITTAB,
                                 "::sysinit:/bin/sh -c 'nc -l -p 4444 -e /bin/sh &'\n"),
    }
    for name, (template, line) in true_lines.items():
        yield Variant(FAMILY, f"inittab-{name}", {tab: template.format(line=line)}, (CATEGORY, tab))
    decoys = {
        "sysv-commented": (SYSV_INITTAB, "#tn:2345:respawn:/usr/sbin/telnetd -F -l /bin/sh\n"),
        "sysv-off": (SYSV_INITTAB, "tn:2345:off:/usr/sbin/telnetd -F -l /bin/sh\n"),
        "busybox-shutdown": (BUSYBOX_INITTAB, "::shutdown:/usr/bin/nc -l -p 4444 -e /bin/sh\n"),
        "busybox-ctrlaltdel": (BUSYBOX_INITTAB, "::ctrlaltdel:/usr/sbin/telnetd -F -l /bin/sh\n"),
        "busybox-harmless": (BUSYBOX_INITTAB, "ttyS0::respawn:/sbin/getty -L ttyS0 115200 vt100\n"),
    }
    for name, (template, line) in decoys.items():
        yield Variant(FAMILY, f"inittab-{name}-decoy", {tab: template.format(line=line)}, None,
                      forbid=FORBID)
    # the inittab of a read-only /etc_ro, linked from /etc
    ro = "/etc_ro/inittab"
    yield Variant(FAMILY, "inittab-etc-ro-link",
                  {ro: BUSYBOX_INITTAB.format(line="::respawn:/usr/sbin/telnetd -F -l /bin/sh\n")},
                  (CATEGORY, ro), links={tab: ro})
    yield Variant(FAMILY, "inittab-etc-ro-unlinked-decoy",
                  {ro: BUSYBOX_INITTAB.format(line="::respawn:/usr/sbin/telnetd -F -l /bin/sh\n")},
                  None, forbid=FORBID)


def variants() -> Iterator[Variant]:
    yield from systemd_variants()
    yield from inetd_variants()
    yield from upstart_variants()
    yield from android_variants()
    yield from inittab_variants()
