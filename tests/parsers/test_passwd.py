"""passwd/shadow/group/gshadow lines: fields with exact spans, shapes, password states."""

from __future__ import annotations

import pytest

from firmproof.device.parsers.passwd import (
    EMPTY,
    GROUP,
    GSHADOW,
    LOCKED,
    PASSWD,
    SHADOW,
    SHADOWED,
    VALUE,
    kind_of_name,
    parse_accounts,
    parse_group,
    parse_gshadow,
    parse_passwd,
    parse_shadow,
    password_state,
)

PASSWD_TEXT = (
    "# local accounts\n"
    "root:x:0:0:root:/root:/bin/ash\n"
    "admin:$1$$iC.dUsGpxNNJGeOm1dFio/:0:0:root:/:/bin/sh\r\n"
    "+::::::\n"
    "\n"
    "broken line without colons\n"
    "nobody:*:65534:65534:nobody:/var:/bin/false\n"
)


def test_passwd_fields_and_spans():
    root, admin, nobody = parse_passwd(PASSWD_TEXT)
    assert (root.name, root.uid, root.gid, root.home, root.shell) == ("root", 0, 0, "/root", "/bin/ash")
    assert root.kind == PASSWD and root.lineno == 2
    assert PASSWD_TEXT[root.start:root.end] == "root:x:0:0:root:/root:/bin/ash"
    # the carriage return stays out of the line and of the last field
    assert PASSWD_TEXT[admin.start:admin.end] == "admin:$1$$iC.dUsGpxNNJGeOm1dFio/:0:0:root:/:/bin/sh"
    assert admin.shell == "/bin/sh"
    pw = admin.password
    assert PASSWD_TEXT[pw.start:pw.end] == "$1$$iC.dUsGpxNNJGeOm1dFio/" == pw.value
    assert nobody.uid == 65534 and nobody.password_state() == LOCKED


def test_nis_comments_and_malformed_lines_are_left_out():
    names = [line.name for line in parse_passwd(PASSWD_TEXT)]
    assert names == ["root", "admin", "nobody"]
    assert parse_passwd("root:x:zero:0::/:/bin/sh\nuser:x:1:1\n") == []


SHADOW_TEXT = "root:$1$GTN.gpri$DlSyKvZKMR9A9Uj9e9wR3/:15502:0:99999:7:::\nguest::0:0:99999:7:::\nbin:*:1::\n"


def test_shadow_fields_and_spans():
    root, guest, binacct = parse_shadow(SHADOW_TEXT)
    assert root.kind == SHADOW and len(root.fields) == 9
    assert SHADOW_TEXT[root.password.start:root.password.end] == "$1$GTN.gpri$DlSyKvZKMR9A9Uj9e9wR3/"
    assert guest.password_state() == EMPTY
    assert SHADOW_TEXT[guest.start:guest.end] == "guest::0:0:99999:7:::"
    assert binacct.password_state() == LOCKED
    assert root.uid is None and root.shell is None


def test_a_passwd_file_may_hold_shadow_style_lines():
    text = "root::0:0:99999:7:::\nadmin:x:0:0::/:/bin/sh\n"
    shadow_line, passwd_line = parse_accounts(text, PASSWD)
    assert shadow_line.kind == SHADOW and passwd_line.kind == PASSWD


def test_short_shadow_line_is_not_read_as_passwd():
    # seven fields, but home '99999' and shell '7' are numbers: a shadow line without its tail
    (line,) = parse_accounts("root:abc:10933:0:99999:7:\n", SHADOW)
    assert line.kind == SHADOW
    # in a file named passwd only a full nine-field line is read as shadow
    assert parse_accounts("root:abc:10933:0:99999:7:\n", PASSWD) == []


def test_group_and_gshadow():
    (wheel,) = parse_group("wheel:x:10:root,admin\n")
    assert wheel.kind == GROUP and wheel.gid == 10 and wheel.password_state() == SHADOWED
    (gs,) = parse_gshadow("wheel:$6$salt$hash:root:admin\n")
    assert gs.kind == GSHADOW and gs.password.value == "$6$salt$hash"
    assert parse_group("wheel:x:ten:root\n") == []


@pytest.mark.parametrize(("value", "kind", "state"), [
    ("", PASSWD, EMPTY), ("", SHADOW, EMPTY),
    ("x", PASSWD, SHADOWED), ("x", SHADOW, LOCKED), ("x", GROUP, SHADOWED),
    ("*", SHADOW, LOCKED), ("!", SHADOW, LOCKED), ("!!", SHADOW, LOCKED), ("*LK*", SHADOW, LOCKED),
    ("!$6$salt$hash", SHADOW, LOCKED), ("NP", SHADOW, LOCKED),
    ("$1$$iC.dUsGpxNNJGeOm1dFio/", SHADOW, VALUE), ("admin", PASSWD, VALUE),
])
def test_password_states(value, kind, state):
    assert password_state(value, kind) == state


@pytest.mark.parametrize(("name", "kind"), [
    ("passwd", PASSWD), ("passwd-", PASSWD), ("passwd.bak", PASSWD), ("shadow", SHADOW),
    ("shadow.bak", SHADOW), ("gshadow", GSHADOW), ("group", GROUP), ("group-", GROUP),
    ("master.passwd", PASSWD), ("hosts", None), ("inittab", None),
])
def test_kind_of_name(name, kind):
    assert kind_of_name(name) == kind
