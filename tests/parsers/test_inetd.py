from __future__ import annotations

from firmproof.device.parsers.inetd import parse_inetd_conf, parse_xinetd

INETD = """# telnet stream tcp nowait root /usr/sbin/telnetd telnetd
telnet  stream  tcp nowait  root    /usr/sbin/tcpd  in.telnetd
9999 stream tcp nowait root /bin/sh sh -i
echo stream tcp nowait root internal
"""


def test_inetd_entries():
    entries = parse_inetd_conf(INETD)
    assert [(e.service, e.server, e.args, e.port) for e in entries] == [
        ("telnet", "/usr/sbin/tcpd", ("in.telnetd",), 23),
        ("9999", "/bin/sh", ("sh", "-i"), 9999),
        ("echo", "internal", (), 7),
    ]
    assert INETD[entries[1].start:entries[1].end] == "9999 stream tcp nowait root /bin/sh sh -i"


XINETD = """service telnet
{
    disable = no
    socket_type = stream
    server      = /usr/sbin/in.telnetd
    server_args = -L /bin/sh
    port = 2323
}
service shell
{
    disable = yes
    server = /usr/sbin/in.rshd
}
"""


def test_xinetd_services():
    telnet, shell = parse_xinetd(XINETD)
    assert telnet.name == "telnet" and not telnet.disabled and telnet.port == 2323
    server = telnet.get("server")
    assert server is not None and server.value == "/usr/sbin/in.telnetd"
    assert XINETD[server.start:server.end] == "server      = /usr/sbin/in.telnetd"
    assert shell.disabled and shell.port == 514
