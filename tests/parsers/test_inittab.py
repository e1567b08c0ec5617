from __future__ import annotations

from firmproof.device.parsers.inittab import parse_inittab

TEXT = """# BusyBox
::sysinit:/etc/init.d/rcS S boot
ttyS0::respawn:/bin/sh
  ::askfirst:-/bin/sh\t
#ttyS1::respawn:/bin/sh
S0:2345:respawn:/sbin/getty -L ttyS0 115200 vt100
broken line
::shutdown:/bin/umount -a -r
"""


def test_busybox_and_sysv_entries_with_spans():
    entries = parse_inittab(TEXT)
    assert [(e.id, e.runlevels, e.action, e.process) for e in entries] == [
        ("", "", "sysinit", "/etc/init.d/rcS S boot"),
        ("ttyS0", "", "respawn", "/bin/sh"),
        ("", "", "askfirst", "-/bin/sh"),
        ("S0", "2345", "respawn", "/sbin/getty -L ttyS0 115200 vt100"),
        ("", "", "shutdown", "/bin/umount -a -r"),
    ]
    askfirst = entries[2]
    assert TEXT[askfirst.start:askfirst.end] == "::askfirst:-/bin/sh"
    assert TEXT[askfirst.process_start:askfirst.process_end] == "-/bin/sh"
    assert askfirst.tty == "console" and entries[1].tty == "ttyS0"
    assert askfirst.lineno == 4
