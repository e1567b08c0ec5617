"""Pure parsers: property files and init .rc files, with the offsets findings point at."""

from __future__ import annotations

from firmproof.device.parsers.androidprops import last_values, parse_props
from firmproof.device.parsers.initrc import parse_initrc

PROPS = """# begin build properties
ro.build.type=user
 ro.debuggable = 0
ro.secure?=1
ro.secure?=0
not a property
persist.sys.usb.config=mtp,adb
"""


def test_props_keep_spans_and_last_value() -> None:
    props = parse_props(PROPS)
    assert [p.key for p in props] == ["ro.build.type", "ro.debuggable", "ro.secure", "ro.secure",
                                      "persist.sys.usb.config"]
    debuggable = props[1]
    assert PROPS[debuggable.start:debuggable.end] == "ro.debuggable = 0"
    assert debuggable.value == "0"
    final = last_values(props)
    assert final["ro.secure"].value == "1"          # `?=` never overrides
    assert final["persist.sys.usb.config"].value == "mtp,adb"


RC = """import /init.${ro.hardware}.rc

on early-init
    setenforce 0
    write /proc/sys/kernel/x \\
        1

service adbd /system/bin/adbd --root_seclabel=u:r:su:s0
    class core
    socket adbd stream 660 system system
    disabled

service shellsvc /system/bin/sh
    user shell
    # a comment
    oneshot
"""


def test_initrc_sections_options_and_continuation() -> None:
    rc = parse_initrc(RC)
    assert [line.words[1] for line in rc.imports] == ["/init.${ro.hardware}.rc"]
    early = rc.actions[0]
    assert early.trigger == ("early-init",)
    assert early.commands[0].words == ("setenforce", "0")
    assert early.commands[1].words == ("write", "/proc/sys/kernel/x", "1")
    adbd, shell = rc.services
    assert adbd.argv == ("/system/bin/adbd", "--root_seclabel=u:r:su:s0")
    assert adbd.user == "root" and adbd.disabled
    assert adbd.option("socket") is not None
    assert shell.user == "shell" and not shell.disabled
    header = RC[shell.header.start:shell.header.end]
    assert header == "service shellsvc /system/bin/sh"
