"""FP-SUID: setuid/setgid-root executables that a standard system does not ship.

Mode and owner come from the file system's own metadata where the unpacker could read
it (`FileEntry.meta_source == "fs"`); the finding says which. Scripts are left out: Linux
ignores the setuid bit of a `#!` script.
"""

from __future__ import annotations

import fnmatch
import hashlib
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from firmproof.analyzers.base import Analyzer, rule
from firmproof.device.bootchain import SHELLS
from firmproof.fs.rootfs import FILE, FileEntry, RootFS
from firmproof.model import Category, Finding, Severity

_ATTACK = "https://attack.mitre.org/techniques/T1548/001/"
_DATA = Path(__file__).resolve().parent.parent / "data"  # package data, not image content
_CWE = "https://cwe.mitre.org/data/definitions/{}.html"

SETUID_SHELL = rule(
    "FP-SUID-001", Category.SUID, Severity.CRITICAL,
    title="setuid-root shell",
    why="""A shell (or a copy of one under another name) with the setuid bit, owned by root: any
        local user, or any code that can run one program, becomes root by running it. A classic
        persistence backdoor (`cp /bin/sh /usr/bin/.x; chmod 4755 /usr/bin/.x`).""",
    confirm="""Check the mode and owner in `details` against the image (`unsquashfs -lln`, `ls -l`
        on the extracted tree as root); `details.shell` says why the file is a shell (its name, its
        bytes equal to /bin/sh's target, or a shell's version string).""",
    references=[_ATTACK, _CWE.format(250)],
)
UNEXPECTED_SETUID = rule(
    "FP-SUID-002", Category.SUID, Severity.MEDIUM,
    title="unexpected setuid/setgid-root program",
    why="""A setuid-root (or setgid-root) program that standard distributions do not ship that way
        runs with root rights for whoever starts it; vendor debug helpers of this kind are a
        frequent local privilege escalation and sometimes a deliberate backdoor.""",
    confirm="""Check the mode and owner in `details` against the image, then read what the program
        does (strings, disassembly) with the rights it is given.""",
    references=[_ATTACK, _CWE.format(250), _CWE.format(269)],
)
SETUID_BUSYBOX = rule(
    "FP-SUID-003", Category.SUID, Severity.MEDIUM,
    title="BusyBox installed setuid root",
    why="""A setuid-root BusyBox runs every applet as root unless it was built with
        CONFIG_FEATURE_SUID and a strict /etc/busybox.conf: `busybox sh` or `busybox vi
        /etc/shadow` may then give any user root. Common on embedded images, still worth a look.""",
    confirm="""Check the mode and owner in `details`; look for /etc/busybox.conf in the image and for
        'FEATURE_SUID' behaviour (`busybox sh -c id` as a normal user in an emulator).""",
    references=["https://busybox.net/FAQ.html", _ATTACK, _CWE.format(250)],
)

_SHELL_MARKERS = ((b"GNU bash, version", "GNU bash"), (b"@(#)MIRBSD KSH", "mksh"),
                  (b"ZSH_VERSION", "zsh"), (b"KSH_VERSION", "ksh"), (b"BusyBox v", "BusyBox"))
_SHELL_LINKS = ("/bin/sh", "/bin/bash", "/bin/ash", "/bin/dash", "/bin/zsh", "/bin/ksh",
                "/usr/bin/bash", "/usr/bin/zsh", "/usr/bin/dash")
_HEADER_BYTES = 16
_META_NOTE = {
    "fs": "mode and owner read from the file system image's own metadata",
    "host": "mode and owner as extracted on the host (the image's metadata was not available)",
}


@dataclass(frozen=True)
class Expected:
    name: str
    bits: str
    paths: tuple[str, ...]

    def allows(self, path: str, setuid: bool, setgid: bool) -> bool:
        if (setuid and "u" not in self.bits) or (setgid and "g" not in self.bits):
            return False
        return any(_path_match(path, pattern) for pattern in self.paths)


def _path_match(path: str, pattern: str) -> bool:
    parts, pattern_parts = path.split("/"), pattern.split("/")
    return len(parts) == len(pattern_parts) and all(
        fnmatch.fnmatchcase(p, q) for p, q in zip(parts, pattern_parts, strict=True))


@cache
def expected_setuid() -> dict[str, Expected]:
    text = (_DATA / "expected-setuid.txt").read_text("utf-8")
    out: dict[str, Expected] = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) >= 3 and not fields[0].startswith("#"):
            out[fields[0]] = Expected(fields[0], fields[1], tuple(fields[2:]))
    return out


class Setuid(Analyzer):
    family = "SUID"
    name = "setuid"
    rules = (SETUID_SHELL, UNEXPECTED_SETUID, SETUID_BUSYBOX)

    def run(self, fs: RootFS) -> Iterator[Finding]:
        shell_hashes: dict[str, str] | None = None
        for entry in fs.files():
            setuid = entry.is_setuid and entry.uid == 0
            setgid = entry.is_setgid and entry.gid == 0
            if not (setuid or setgid):
                continue
            data = fs.read(entry.path)
            if not data or not data.startswith(b"\x7fELF"):
                continue
            details = self._details(entry, setuid, setgid)
            length = min(_HEADER_BYTES, len(data))
            if entry.name.startswith("busybox"):
                yield SETUID_BUSYBOX.at(fs, entry.path, 0, length, **details,
                                        note="every applet of this BusyBox runs with root rights")
                continue
            if shell_hashes is None:
                shell_hashes = self._shell_hashes(fs)
            why = self._shell(entry, data, shell_hashes)
            if why is not None:
                yield SETUID_SHELL.at(fs, entry.path, 0, length, shell=why, **details)
                continue
            expected = expected_setuid().get(entry.name)
            if expected is not None and expected.allows(entry.path, setuid, setgid):
                continue
            if expected is not None:
                details["note"] = (f"{entry.name} is a standard setuid/setgid program, but not at "
                                   f"this path or with these bits (usually {' '.join(expected.paths)})")
            yield UNEXPECTED_SETUID.at(fs, entry.path, 0, length, **details)

    @staticmethod
    def _details(entry: FileEntry, setuid: bool, setgid: bool) -> dict[str, Any]:
        return {"mode": f"{entry.mode:04o}", "uid": entry.uid, "gid": entry.gid,
                "setuid": setuid, "setgid": setgid, "meta_source": entry.meta_source,
                "metadata": _META_NOTE.get(entry.meta_source, entry.meta_source)}

    @staticmethod
    def _shell_hashes(fs: RootFS) -> dict[str, str]:
        """sha256 -> the shell link whose target has that content (/bin/sh → /bin/busybox…)."""
        out: dict[str, str] = {}
        for link in _SHELL_LINKS:
            target = fs.stat(link)
            if target is None or target.kind != FILE:
                continue
            data = fs.read(link)
            if data:
                out.setdefault(hashlib.sha256(data).hexdigest(), f"{link} ({target.path})")
        return out

    @staticmethod
    def _shell(entry: FileEntry, data: bytes, shell_hashes: dict[str, str]) -> str | None:
        name = posixpath.basename(entry.path)
        if name in SHELLS:
            return f"named {name}"
        same = shell_hashes.get(hashlib.sha256(data).hexdigest())
        if same is not None:
            return f"same bytes as {same}"
        for marker, label in _SHELL_MARKERS:
            if marker in data:
                return f"contains the version string of {label}"
        return None
