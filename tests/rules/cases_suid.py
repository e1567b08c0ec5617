"""FP-SUID-001…003: setuid programs (firmproof/analyzers/suid.py). The evidence is the first 16
bytes of the program; the programs are gcc builds and this machine's BusyBox."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import tool

from .case import Kit, hit, miss


def elf(name: str, path: str):
    """A program of tests/analyzers/conftest.py's SOURCES at `path`, /bin/sh a link to dash."""
    def build(kit: Kit) -> dict[str, bytes]:
        shell = kit.fixture("elf_programs")["execonly"]        # stands for /bin/dash
        return {"/bin/dash": shell, path: kit.fixture("elf_programs")[name]}
    return build


def busybox(kit: Kit) -> dict[str, bytes]:
    return {"/bin/busybox": Path(tool("busybox")).read_bytes()}


def head(data: bytes) -> bytes:
    return data[:16]


SHELL = {"links": {"/bin/sh": "dash"}}

CASES = [
    hit("FP-SUID-001", "copy-of-the-shell-under-another-name", elf("execonly", "/usr/bin/.sysd"),
        "/usr/bin/.sysd", head, modes={"/bin/dash": 0o755, "/usr/bin/.sysd": 0o4755},
        details={"mode": "4755", "uid": 0}, **SHELL),
    miss("FP-SUID-001", "copy-of-the-shell-not-setuid", elf("execonly", "/usr/bin/.sysd"),
         modes={"/bin/dash": 0o755, "/usr/bin/.sysd": 0o755}, silent=True, **SHELL),

    hit("FP-SUID-002", "unexpected-setuid-root-daemon", elf("udpecho", "/usr/sbin/debugd"),
        "/usr/sbin/debugd", head, modes={"/usr/sbin/debugd": 0o4755},
        details={"setuid": True, "mode": "4755"}, **SHELL),
    miss("FP-SUID-002", "expected-setuid-program", elf("udpecho", "/usr/bin/passwd"),
         modes={"/usr/bin/passwd": 0o4755}, silent=True, **SHELL),
    miss("FP-SUID-002", "setuid-program-of-another-user", elf("udpecho", "/opt/app/bin/tool"),
         modes={"/opt/app/bin/tool": 0o4755}, owners={"/opt/app/bin/tool": (1000, 1000)}, silent=True,
         **SHELL),

    hit("FP-SUID-003", "setuid-busybox", busybox, "/bin/busybox", head, modes={"/bin/busybox": 0o4755},
        links={"/bin/sh": "busybox"}),
    miss("FP-SUID-003", "busybox-not-setuid", busybox, modes={"/bin/busybox": 0o755},
         links={"/bin/sh": "busybox"}, silent=True),
]
