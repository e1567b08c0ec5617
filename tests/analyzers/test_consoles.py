"""FP-CON rules beyond the rule table (tests/rules/cases_consoles.py): more shells, gettys and
kernel command lines, with the exact line as evidence, and decoys that must not hit."""

from __future__ import annotations

import pytest

from firmproof.analyzers.consoles import Consoles
from firmproof.fs.rootfs import RootFS
from firmproof.model import Severity


def run(fs: RootFS, rule_id: str | None = None):
    return [f for f in Consoles().run(fs) if rule_id is None or f.rule.id == rule_id]


def evidence(fs: RootFS, finding) -> bytes:
    data = fs.read(finding.path)
    assert data is not None
    return data[finding.evidence.offset:finding.evidence.offset + finding.evidence.length]


def inittab(*lines: str) -> RootFS:
    return RootFS.from_files({"/etc/inittab": "::sysinit:/etc/init.d/rcS\n" + "\n".join(lines) + "\n"})


# FP-CON-001 ----------------------------------------------------------------------------

@pytest.mark.parametrize(("line", "tty"), [
    ("::askfirst:-/bin/sh", "console"),
    ("console::respawn:/bin/sh", "console"),
    ("ttyS0::askfirst:/bin/ash --login", "ttyS0"),
    ("S0:2345:respawn:/bin/bash --login", "S0"),
    ("ttyGS0::respawn:/bin/busybox sh", "ttyGS0"),
    ("::askconsole:/bin/ash --login", "console"),      # OpenWrt 15.05's stock console
])
def test_fp_con_001_inittab_shell_on_a_console(line, tty):
    fs = inittab(line)
    (finding,) = run(fs, "FP-CON-001")
    assert evidence(fs, finding) == line.encode()
    announced = finding.details["action"] in ("askfirst", "askconsole")
    assert finding.details["tty"] == tty
    assert finding.severity is (Severity.MEDIUM if announced else Severity.HIGH)
    assert finding.path == "/etc/inittab"


@pytest.mark.parametrize("line", [
    "::sysinit:/bin/sh /etc/init.d/rcS",
    "::shutdown:/bin/sh",
    "::respawn:/bin/sh -c 'exec /sbin/syslogd -n'",
    "::askconsole:/usr/libexec/login.sh",
])
def test_fp_con_001_decoys(line):
    assert run(inittab(line)) == []


def test_fp_con_001_enabled_systemd_debug_shell():
    unit = "[Unit]\nDescription=Early root shell on tty9\n[Service]\nEnvironment=TERM=linux\n" \
           "ExecStart=/bin/sh\nRestart=always\nTTYPath=/dev/tty9\n"
    fs = RootFS.from_files({"/lib/systemd/system/debug-shell.service": unit},
                           links={"/etc/systemd/system/sysinit.target.wants/debug-shell.service":
                                  "/lib/systemd/system/debug-shell.service"})
    (finding,) = run(fs, "FP-CON-001")
    assert evidence(fs, finding) == b"ExecStart=/bin/sh"
    assert finding.details["tty"] == "/dev/tty9"
    # the same unit, not enabled: nothing
    assert run(RootFS.from_files({"/lib/systemd/system/debug-shell.service": unit})) == []


# FP-CON-002 ----------------------------------------------------------------------------

@pytest.mark.parametrize("line", [
    "ttyS0::respawn:/sbin/getty -n -l /bin/sh 115200 ttyS0",
    "ttyS0::respawn:/sbin/getty -L -n -l /bin/ash ttyS0 115200 vt100",
    "T1:23:respawn:/sbin/agetty -a root ttyS1 115200",
    "::respawn:/bin/login -f root",
])
def test_fp_con_002_getty_without_password(line):
    fs = inittab(line)
    (finding,) = run(fs, "FP-CON-002")
    assert evidence(fs, finding) == line.encode()
    assert finding.severity is Severity.HIGH


def test_fp_con_002_systemd_serial_getty_override():
    override = "[Service]\nExecStart=\nExecStart=-/sbin/agetty --autologin root --keep-baud 115200 %I $TERM\n"
    path = "/etc/systemd/system/serial-getty@ttyS0.service.d/autologin.conf"
    fs = RootFS.from_files({path: override})
    (finding,) = run(fs, "FP-CON-002")
    assert evidence(fs, finding) == b"ExecStart=-/sbin/agetty --autologin root --keep-baud 115200 %I $TERM"
    assert finding.path == path and finding.details["unit"] == "serial-getty@ttyS0.service"


@pytest.mark.parametrize("line", [
    "ttyS0::respawn:/sbin/getty -l /bin/sh 115200 ttyS0",
    "ttyS0::respawn:/bin/login",
    "# T0:23:respawn:/sbin/agetty --autologin root ttyS0",
])
def test_fp_con_002_decoys(line):
    assert run(inittab(line)) == []


# FP-CON-003 ----------------------------------------------------------------------------

@pytest.mark.parametrize(("name", "text", "line"), [
    ("/boot/uEnv.txt", "uenvcmd=run boot\n  setenv bootargs 'console=ttyO0 init=/bin/bash'  \n",
     "setenv bootargs 'console=ttyO0 init=/bin/bash'"),
])
def test_fp_con_003_text_files(name, text, line):
    fs = RootFS.from_files({name: text})
    (finding,) = run(fs, "FP-CON-003")
    assert evidence(fs, finding) == line.encode()


@pytest.mark.parametrize("text", [
    "bootargs=console=ttyS0,115200 root=31:02 rootfstype=squashfs init=/sbin/init\n",
    "bootargs=console=ttyS0,115200 rootfstype=squashfs,jffs2 noinitrd init=/etc/preinit\n",
    "Use init=/bin/sh to get a shell when the system does not boot.\n",
])
def test_fp_con_003_decoys(text):
    fs = RootFS.from_files({"/etc/fw_env.txt": text})
    assert run(fs, "FP-CON-003") == []
