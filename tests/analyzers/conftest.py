"""Real ELF programs for the services and setuid tests, compiled once per session with gcc."""

from __future__ import annotations

import struct
import subprocess
from collections.abc import Callable

import pytest

from firmproof.model import Finding
from tests.conftest import tool

SOURCES = {
    # a bind shell: socket/bind/listen/accept, dup2 onto 0/1/2, execl("/bin/sh")
    "bindshell": r"""
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(9999);
    a.sin_addr.s_addr = htonl(INADDR_ANY);
    bind(s, (struct sockaddr *)&a, sizeof a);
    listen(s, 1);
    for (;;) {
        int c = accept(s, 0, 0);
        if (fork() == 0) {
            dup2(c, 0); dup2(c, 1); dup2(c, 2);
            execl("/bin/sh", "sh", (char *)0);
            _exit(1);
        }
        close(c);
    }
}
""",
    # a UDP echo daemon: binds a port, never runs anything
    "udpecho": r"""
#include <netinet/in.h>
#include <sys/socket.h>
int main(void) {
    char buf[512];
    struct sockaddr_in a = {0}, peer;
    socklen_t len = sizeof peer;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    a.sin_family = AF_INET;
    a.sin_port = htons(7);
    bind(s, (struct sockaddr *)&a, sizeof a);
    for (;;) {
        ssize_t n = recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&peer, &len);
        if (n > 0) sendto(s, buf, (size_t)n, 0, (struct sockaddr *)&peer, len);
    }
}
""",
    # a config daemon: a TCP listener that runs fixed commands through system() and popen()
    # and never puts the socket on a shell's stdin/stdout (the shape of vendor config tools)
    "cmdserver": r"""
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
    char buf[128];
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons(1234);
    bind(s, (struct sockaddr *)&a, sizeof a);
    listen(s, 1);
    for (;;) {
        int c = accept(s, 0, 0);
        ssize_t n = read(c, buf, sizeof buf - 1);
        if (n > 0 && strncmp(buf, "save", 4) == 0) system("/bin/sh /etc/scripts/save.sh");
        FILE *f = popen("cat /var/config.xml", "r");
        if (f) pclose(f);
        close(c);
    }
}
""",
    # runs a shell, never touches the network
    "execonly": r"""
#include <unistd.h>
int main(void) {
    execl("/bin/sh", "sh", "-c", "echo hello", (char *)0);
    return 1;
}
""",
    # carries the version string of GNU bash (the setuid test's 'known shell by strings')
    "bashlike": r"""
#include <stdio.h>
static const char version[] = "GNU bash, version 5.2.15(1)-release (x86_64-pc-linux-gnu)";
int main(void) { puts(version); return 0; }
""",
}


def _gcc() -> str:
    return tool("gcc")


@pytest.fixture(scope="session")
def elf_programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    """name -> bytes of a dynamically linked, not stripped ELF program built from SOURCES;
    'bindshell-static' is the bind shell linked statically (symbols from .symtab)."""
    gcc = _gcc()
    out_dir = tmp_path_factory.mktemp("elf")
    programs: dict[str, bytes] = {}
    for name, source in SOURCES.items():
        src = out_dir / f"{name}.c"
        src.write_text(source)
        binary = out_dir / name
        proc = subprocess.run([gcc, "-O1", "-o", str(binary), str(src)], capture_output=True, text=True)
        if proc.returncode != 0:
            pytest.fail(f"gcc cannot build {name} (C headers missing? the Debian package is "
                        f"libc6-dev):\n{proc.stderr}")
        programs[name] = binary.read_bytes()
    static = out_dir / "bindshell-static"
    proc = subprocess.run([gcc, "-O1", "-static", "-o", str(static), str(out_dir / "bindshell.c")],
                          capture_output=True)
    if proc.returncode == 0:
        programs["bindshell-static"] = static.read_bytes()
    return programs


def without_section_headers(elf: bytes) -> bytes:
    """The ELF with its section header table forgotten (what sstrip does to embedded binaries)."""
    data = bytearray(elf)
    assert data[4] == 2 and data[5] == 1, "64-bit little-endian expected"
    struct.pack_into("<Q", data, 0x28, 0)   # e_shoff
    struct.pack_into("<HHH", data, 0x3A, 0, 0, 0)  # e_shentsize, e_shnum, e_shstrndx
    return bytes(data)


@pytest.fixture(scope="session")
def sectionless() -> Callable[[bytes], bytes]:
    return without_section_headers


def evidence_bytes(files: dict[str, str | bytes], finding: Finding) -> bytes:
    """The bytes a finding's evidence names, cut from the files the test built."""
    data = files[finding.path]
    data = data.encode() if isinstance(data, str) else data
    return data[finding.evidence.offset:finding.evidence.offset + finding.evidence.length]
