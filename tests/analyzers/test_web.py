"""FP-WEB: CGI scripts that run request input or start telnetd, and hidden handlers of a
web server compiled with gcc at test time."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from firmproof.analyzers.web import WebEndpoints
from firmproof.model import Finding
from firmproof.rootfs import RootFS
from tests.conftest import tool

from .conftest import evidence_bytes


def _run(files: dict[str, str | bytes]) -> list[Finding]:
    fs = RootFS.from_files(files, modes={p: 0o755 for p in files})
    return list(WebEndpoints().run(fs))


RUNS_INPUT = {
    "shell": ("/www/cgi-bin/debug.cgi",
              "#!/bin/sh\necho 'Content-type: text/plain'\necho\n"
              "CMD=$(echo \"$QUERY_STRING\" | sed 's/^cmd=//')\neval \"$CMD\"\n",
              b'eval "$CMD"'),
    "shell-post": ("/www/cgi-bin/sys.cgi",
                   "#!/bin/sh\nread -n $CONTENT_LENGTH POST\necho\nsh -c \"$POST\"\n",
                   b'sh -c "$POST"'),
    "lua": ("/www/cgi-bin/run.lua",
            "#!/usr/bin/lua\nlocal q = os.getenv(\"QUERY_STRING\")\nlocal c = q:match(\"cmd=(.*)\")\n"
            "os.execute(c)\n",
            b"os.execute(c)"),
    "luci": ("/usr/lib/lua/luci/controller/diag.lua",
             "module('luci.controller.diag', package.seeall)\nfunction action()\n"
             "  local cmd = luci.http.formvalue('cmd')\n  luci.sys.call(cmd)\nend\n",
             b"luci.sys.call(cmd)"),
    "php": ("/www/tools.php", "<?php\n$c = $_GET['c'];\nsystem($c);\n?>\n", b"system($c);"),
    "luci-format-s": ("/usr/lib/lua/luci/controller/tools.lua",
                      "module('luci.controller.tools', package.seeall)\nfunction ping()\n"
                      "  local host = luci.http.formvalue('host')\n"
                      "  luci.sys.call(\"ping -c 1 %s >/tmp/ping\" % host)\nend\n",
                      b'luci.sys.call("ping -c 1 %s >/tmp/ping" % host)'),
    "lua-concat": ("/www/cgi-bin/nslookup.lua",
                   "#!/usr/bin/lua\nlocal dev = os.getenv(\"QUERY_STRING\")\n"
                   "io.popen(\"nslookup \" .. dev .. \" 2>/dev/null\")\n",
                   b'io.popen("nslookup " .. dev .. " 2>/dev/null")'),
    "perl": ("/www/cgi-bin/admin.pl",
             "#!/usr/bin/perl\nuse CGI;\nmy $cmd = param('cmd');\nsystem($cmd);\n", b"system($cmd);"),
}

SAFE_CGI = {
    "shell-case": ("/www/cgi-bin/action.cgi",
                   "#!/bin/sh\necho 'Content-type: text/plain'\necho\n"
                   "case \"$QUERY_STRING\" in\n  reboot) reboot ;;\n  *) echo \"$QUERY_STRING\" ;;\nesac\n"
                   "eval \"$(cat /etc/defaults)\"\n"),
    "lua-fixed": ("/www/cgi-bin/uptime.lua",
                  "#!/usr/bin/lua\nlocal q = os.getenv(\"QUERY_STRING\")\nprint(q)\n"
                  "os.execute(\"uptime\")\n"),
    # LuCI 15.05's own controllers: the request value reaches the command only %q-quoted or as
    # numbers, and a variable named like a word of a string literal (`dev`, `/dev/null`)
    "luci-q-quoted": ("/usr/lib/lua/luci/controller/admin/network.lua",
                      "module('luci.controller.admin.network', package.seeall)\n"
                      "function iface_reconnect(iface)\n  local dev = luci.http.formvalue('dev')\n"
                      "  luci.sys.call(\"env -i /sbin/ifup %q >/dev/null 2>/dev/null\" % iface)\n"
                      "  luci.sys.call(\"env -i /bin/ubus call network reload >/dev/null 2>/dev/null\")\n"
                      "  luci.sys.call((\"ifdown %q\"):format(dev))\nend\n"),
    "luci-numbers": ("/usr/lib/lua/luci/controller/admin/system.lua",
                     "module('luci.controller.admin.system', package.seeall)\nfunction action_clock()\n"
                     "  local date = luci.http.formvalue('set')\n"
                     "  luci.sys.call(\"date -s '%04d-%02d-%02d'\" %{ date.year, date.month, date.day })\n"
                     "end\n"),
    "luci-shellquote": ("/usr/lib/lua/luci/controller/ping.lua",
                        "module('luci.controller.ping', package.seeall)\nfunction ping()\n"
                        "  local host = luci.http.formvalue('host')\n"
                        "  luci.sys.call('ping -c 1 ' .. luci.util.shellquote(host))\nend\n"),
    "shell-word-in-path": ("/www/cgi-bin/net.cgi",
                           "#!/bin/sh\ndev=\"$QUERY_STRING\"\necho \"$dev\"\n"
                           "sh -c 'ifconfig eth0 up >/dev/null'\n"),
    "php-escaped": ("/www/status.php",
                    "<?php\n$n = htmlspecialchars($_GET['name']);\necho $n;\nsystem('uptime');\n?>\n"),
}


@pytest.mark.parametrize("case", sorted(RUNS_INPUT))
def test_cgi_running_its_input_is_found(case: str) -> None:
    path, text, literal = RUNS_INPUT[case]
    files: dict[str, str | bytes] = {path: text, "/www/index.html": "<a href='/status.html'>x</a>"}
    found = [f for f in _run(files) if f.rule.id == "FP-WEB-001"]
    assert len(found) == 1, [(f.rule.id, f.evidence.excerpt) for f in _run(files)]
    assert evidence_bytes(files, found[0]) == literal
    assert found[0].details["linked"] is False


@pytest.mark.parametrize("case", sorted(SAFE_CGI))
def test_cgi_with_fixed_commands_is_not_reported(case: str) -> None:
    path, text = SAFE_CGI[case]
    assert _run({path: text}) == []


TELNET_CGI = ("#!/bin/sh\necho 'Content-type: text/plain'\necho\n"
              "/usr/sbin/telnetd -l /bin/sh -p 2323 &\necho ok\n")


def test_unlinked_cgi_starting_telnetd_is_found() -> None:
    files: dict[str, str | bytes] = {"/www/cgi-bin/tn.cgi": TELNET_CGI,
                                     "/www/index.html": "<a href='/cgi-bin/status.cgi'>Status</a>"}
    (found,) = _run(files)
    assert found.rule.id == "FP-WEB-002"
    assert evidence_bytes(files, found) == b"/usr/sbin/telnetd -l /bin/sh -p 2323 &"


def test_linked_cgi_starting_telnetd_is_a_feature() -> None:
    files: dict[str, str | bytes] = {
        "/www/cgi-bin/tn.cgi": TELNET_CGI,
        "/www/admin.html": "<form action='/cgi-bin/tn.cgi'><input type=submit value='Enable telnet'></form>"}
    assert _run(files) == []


def test_cgi_switching_debug_on_through_nvram() -> None:
    files: dict[str, str | bytes] = {
        "/www/cgi-bin/mfg.cgi": "#!/bin/sh\nnvram set debug_mode=1\nnvram commit\n"}
    (found,) = _run(files)
    assert found.rule.id == "FP-WEB-002" and evidence_bytes(files, found) == b"nvram set debug_mode=1"


SERVER = r"""
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
struct handler { const char *path; int (*fn)(const char *); };
static int wan(const char *q) { return printf("HTTP/1.0 200 OK\r\nContent-Type: text/html\r\n\r\n%s", q); }
static int debug_telnet(const char *q) { (void)q; return system("telnetd -l /bin/sh -p 2323"); }
static const struct handler handlers[] = {
    {"/goform/formSetWan", wan},
    {"/goform/formDebugTelnet", debug_telnet},
    {0, 0},
};
int main(int argc, char **argv) {
    for (const struct handler *h = handlers; argc > 2 && h->path; h++)
        if (strcmp(argv[1], h->path) == 0) return h->fn(argv[2]);
    return 0;
}
"""


@pytest.fixture(scope="module", params=["gcc", "mipsel-linux-gnu-gcc", "mips-linux-gnu-gcc",
                                        "arm-linux-gnueabi-gcc", "aarch64-linux-gnu-gcc"])
def web_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The web server built for x86-64, MIPS LE/BE, ARM and AArch64, -O2 and stripped."""
    compiler = tool(request.param)
    tmp: Path = tmp_path_factory.mktemp("websrv")
    (tmp / "httpd.c").write_text(SERVER)
    proc = subprocess.run([compiler, "-O2", "-s", "-o", str(tmp / "httpd"), str(tmp / "httpd.c")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return (tmp / "httpd").read_bytes()


def test_hidden_handler_of_a_web_server_is_found(web_server: bytes) -> None:
    files: dict[str, str | bytes] = {
        "/usr/sbin/httpd": web_server,
        "/www/wan.html": "<form action='/goform/formSetWan' method=post></form>"}
    (found,) = _run(files)
    assert found.rule.id == "FP-WEB-003"
    assert evidence_bytes(files, found) == b"/goform/formDebugTelnet"
    assert found.details["handler"] == "/goform/formDebugTelnet"


def test_web_server_whose_handlers_are_all_linked_is_not_reported(web_server: bytes) -> None:
    files: dict[str, str | bytes] = {
        "/usr/sbin/httpd": web_server,
        "/www/wan.html": "<form action='/goform/formSetWan' method=post></form>",
        "/www/js/debug.js": "function telnet() { post('/goform/formDebugTelnet'); }"}
    assert _run(files) == []
