"""FP-WEB-001…003: CGI scripts that run request input or start telnetd, and hidden handlers of a
web server compiled with gcc (firmproof/analyzers/web.py). A CGI is unlinked when no page of the
image names it."""

from __future__ import annotations

from .case import Case, hit, miss

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

TELNET_CGI = ("#!/bin/sh\necho 'Content-type: text/plain'\necho\n"
              "/usr/sbin/telnetd -l /bin/sh -p 2323 &\necho ok\n")

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


def executable(files: dict[str, str]) -> dict[str, dict[str, int]]:
    return {"modes": {path: 0o755 for path in files}}


def cgi_runs_input(name: str) -> Case:
    path, text, literal = RUNS_INPUT[name]
    files = {path: text, "/www/index.html": "<a href='/status.html'>x</a>"}
    return hit("FP-WEB-001", name, files, path, literal, details={"linked": False}, **executable(files))


def cgi_with_fixed_commands(name: str) -> Case:
    path, text = SAFE_CGI[name]
    return miss("FP-WEB-001", name, {path: text}, silent=True, **executable({path: text}))


UNLINKED_TELNET = {"/www/cgi-bin/tn.cgi": TELNET_CGI,
                   "/www/index.html": "<a href='/cgi-bin/status.cgi'>Status</a>"}
LINKED_TELNET = {"/www/cgi-bin/tn.cgi": TELNET_CGI,
                 "/www/admin.html": "<form action='/cgi-bin/tn.cgi'>"
                                    "<input type=submit value='Enable telnet'></form>"}
NVRAM_DEBUG = {"/www/cgi-bin/mfg.cgi": "#!/bin/sh\nnvram set debug_mode=1\nnvram commit\n"}
WAN_PAGE = {"/www/wan.html": "<form action='/goform/formSetWan' method=post></form>"}


def web_server(pages: dict[str, str]):
    return lambda kit: {"/usr/sbin/httpd": kit.program(SERVER), **pages}


CASES = [
    *(cgi_runs_input(name) for name in sorted(RUNS_INPUT)),
    *(cgi_with_fixed_commands(name) for name in sorted(SAFE_CGI)),

    hit("FP-WEB-002", "unlinked-cgi-starts-telnetd", UNLINKED_TELNET, "/www/cgi-bin/tn.cgi",
        b"/usr/sbin/telnetd -l /bin/sh -p 2323 &", silent=True, **executable(UNLINKED_TELNET)),
    hit("FP-WEB-002", "cgi-switches-debug-on-through-nvram", NVRAM_DEBUG, "/www/cgi-bin/mfg.cgi",
        b"nvram set debug_mode=1", **executable(NVRAM_DEBUG)),
    miss("FP-WEB-002", "linked-cgi-starting-telnetd-is-a-feature", LINKED_TELNET, silent=True,
         **executable(LINKED_TELNET)),

    hit("FP-WEB-003", "hidden-handler-of-a-web-server", web_server(WAN_PAGE), "/usr/sbin/httpd",
        b"/goform/formDebugTelnet", details={"handler": "/goform/formDebugTelnet"}),
    miss("FP-WEB-003", "every-handler-linked",
         web_server({**WAN_PAGE,
                     "/www/js/debug.js": "function telnet() { post('/goform/formDebugTelnet'); }"}),
         silent=True),
]
