"""FP-ELF-001 (firmproof/analyzers/hardening.py), FP-HCRED-001 (hardcoded.py) and FP-TRIG-001
(triggers.py) on programs gcc builds from tests/binary/src at -O2, stripped."""

from __future__ import annotations

import struct
from pathlib import Path

from .case import Kit, hit, miss

SRC = Path(__file__).resolve().parents[1] / "binary" / "src"
WEAK_SOURCE = "#include <stdio.h>\nint main(int c, char **v) { char b[64]; " \
              "snprintf(b, sizeof b, \"%s\", v[0]); puts(b); return c; }\n"
WEAK = ("-O2", "-no-pie", "-fno-stack-protector", "-z", "execstack", "-Wl,-z,norelro")
STRONG = ("-O2", "-pie", "-fPIE", "-fstack-protector-all", "-Wl,-z,relro,-z,now")


def programs(*names: str):
    """tests/binary/src programs at /usr/sbin/<name>."""
    return lambda kit: {f"/usr/sbin/{n}": kit.gcc((SRC / f"{n}.c").read_text(), "-O2", "-s") for n in names}


def headers(elf: bytes) -> bytes:
    """The ELF header and the program header table of a 64-bit little-endian program."""
    phoff, = struct.unpack_from("<Q", elf, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", elf, 0x36)
    return elf[:phoff + phentsize * phnum]


def weak_and_strong(kit: Kit) -> dict[str, bytes]:
    return {"/bin/a-strong": kit.gcc(WEAK_SOURCE, *STRONG), "/bin/b-weak": kit.gcc(WEAK_SOURCE, *WEAK)}


def hardened(kit: Kit) -> dict[str, bytes]:
    return {"/bin/strong": kit.gcc(WEAK_SOURCE, *STRONG),
            "/lib/libf.so": kit.gcc("int f(int x) { return x + 1; }\n", "-O2", "-shared", "-fPIC",
                                    "-fno-stack-protector")}


CASES = [
    hit("FP-ELF-001", "one-summary-for-the-weak-program", weak_and_strong, "/bin/b-weak", headers,
        details={"checked": 2, "weak": 1}),
    miss("FP-ELF-001", "hardened-programs-and-libraries", hardened, silent=True),

    hit("FP-HCRED-001", "master-password", programs("login_master"), "/usr/sbin/login_master",
        b"Xm4st3r_k3y!2017", details={"literal": "Xm4st3r_k3y!2017", "compare": "strcmp"}),
    hit("FP-HCRED-001", "backdoor-user-agent", programs("httpd_ua"), "/usr/sbin/httpd_ua",
        b"xmlset_roodkcableoj28840ybtide", details={"compare": "strcmp"}),
    # a hash read from a file, 'password' only in usage text, a UDP echo daemon comparing 'PING'
    miss("FP-HCRED-001", "hash-from-a-file-usage-text-echo", programs("login_hash", "usage_only", "udp_echo"),
         silent=True),

    hit("FP-TRIG-001", "magic-packet-starts-telnetd", programs("udp_trigger"), "/usr/sbin/udp_trigger",
        b"/usr/sbin/telnetd -l /bin/sh -p 2323 &",
        details={"magic": "w302r_mfg_open", "run": "system"}),
    # the echo daemon compares input with 'PING' but runs nothing; the NTP client binds nothing;
    # the login runs a shell but has no socket
    miss("FP-TRIG-001", "echo-ntp-and-login", programs("udp_echo", "ntp_client", "login_master"),
         silent=True),
]
