from __future__ import annotations

from firmproof.device.parsers.systemd import parse_exec, parse_unit

TEXT = """[Unit]
Description=Serial Getty on %I
# ExecStart=/bin/sh
[Service]
ExecStart=
ExecStart=-/sbin/agetty --autologin root \\
    --keep-baud 115200 %I $TERM
; comment
ExecStartPre=/bin/true ; /bin/echo "a b"
"""


def test_sections_keys_continuations_and_spans():
    unit = parse_unit(TEXT)
    starts = unit.get("Service", "ExecStart")
    assert [s.value for s in starts] == ["", "-/sbin/agetty --autologin root --keep-baud 115200 %I $TERM"]
    second = starts[1]
    assert TEXT[second.start:second.end] == \
        "ExecStart=-/sbin/agetty --autologin root \\\n    --keep-baud 115200 %I $TERM"
    assert unit.last("Unit", "Description") == "Serial Getty on %I"
    assert unit.get("Unit", "ExecStart") == []


def test_exec_prefixes_and_several_commands():
    (getty,) = parse_exec("-/sbin/agetty --autologin root %I")
    assert getty.flags == "-" and getty.argv == ("/sbin/agetty", "--autologin", "root", "%I")
    pre = parse_exec('/bin/true ; /bin/echo "a b"')
    assert [c.argv for c in pre] == [("/bin/true",), ("/bin/echo", "a b")]
    (at,) = parse_exec("@/bin/sh sh -i")
    assert at.argv == ("/bin/sh", "-i")
