"""What a rule case is: a small file system (or a builder of one) and what the rule must do on it.

A hit names the file and the exact bytes its evidence must cover; a miss (a decoy of the same
shape) expects no finding of the rule at all. Cases that need programs, keys or APKs take a
`Kit`, which builds them with the real tools once per session.
"""

from __future__ import annotations

import functools
import hashlib
import subprocess
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from firmproof.fs.rootfs import RootFS
from firmproof.model import Severity
from tests.conftest import tool
from tests.variants.families.compiled import Program

Files = Mapping[str, bytes | str]


class Kit:
    """Builders for cases that need real programs, keys or APKs (cached per session)."""

    def __init__(self, request: pytest.FixtureRequest, tmp: Path) -> None:
        self._request = request
        self.tmp = tmp

    def fixture(self, name: str) -> Any:
        """A session fixture of the suite (tests/rules/conftest.py imports the ones it shares)."""
        return self._request.getfixturevalue(name)

    @staticmethod
    def program(source: str, opt: str = "-O2", *, static: bool = False) -> bytes:
        """A stripped x86-64 program compiled by gcc (cached on disk by source and flags)."""
        return _program(source, opt, static)

    def gcc(self, source: str, *flags: str) -> bytes:
        """An x86-64 program compiled by gcc with these flags (once per session)."""
        return _gcc(self.tmp, source, flags)

    def run(self, *args: str | Path) -> str:
        """A real tool's standard output, the tool failing the test when it is missing."""
        proc = subprocess.run([tool(str(args[0])), *map(str, args[1:])], capture_output=True,
                              text=True, cwd=self.tmp)
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    def passwd_hash(self, flag: str, password: str, salt: str) -> str:
        """A crypt hash made by openssl, not by the code under test."""
        return _openssl_passwd(flag, password, salt)


@functools.cache
def _program(source: str, opt: str, static: bool) -> bytes:
    return Path(Program(source, "x86-64", opt, static)).read_bytes()


@functools.cache
def _gcc(tmp: Path, source: str, flags: tuple[str, ...]) -> bytes:
    name = hashlib.sha256("\0".join([source, *flags]).encode()).hexdigest()[:16]
    (tmp / f"{name}.c").write_text(source)
    proc = subprocess.run([tool("gcc"), *flags, "-o", str(tmp / name), str(tmp / f"{name}.c")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    return (tmp / name).read_bytes()


@functools.cache
def _openssl_passwd(flag: str, password: str, salt: str) -> str:
    return subprocess.run([tool("openssl"), "passwd", flag, "-salt", salt, password],
                          capture_output=True, text=True, check=True).stdout.strip()


@dataclass(frozen=True)
class Case:
    """One input for one rule. `path` is None for a miss."""

    rule: str
    name: str
    files: Files | Callable[[Kit], Files]
    path: str | None = None
    evidence: bytes | Callable[[bytes], bytes] = b""   # exact bytes, or cut from the file's bytes
    at: int | None = None                     # the evidence's offset, where its bytes recur in the file
    modes: Mapping[str, int] = field(default_factory=dict)
    owners: Mapping[str, tuple[int, int]] = field(default_factory=dict)
    links: Mapping[str, str] = field(default_factory=dict)
    severity: Severity | None = None          # a hit's severity, where it is not the rule's
    details: Mapping[str, Any] = field(default_factory=dict)   # a subset of the hit's details
    count: int | None = 1                     # findings of the rule on this tree (None: any)
    silent: bool = False                      # a miss on which the analyzer finds nothing at all

    @property
    def hit(self) -> bool:
        return self.path is not None

    @property
    def id(self) -> str:
        return f"{self.rule}-{'hit' if self.hit else 'miss'}-{self.name}"

    def fs(self, kit: Kit) -> RootFS:
        files = self.files(kit) if callable(self.files) else self.files
        return RootFS.from_files(dict(files), modes=dict(self.modes), owners=dict(self.owners),
                                 links=dict(self.links))

    def expected(self, data: bytes) -> bytes:
        return self.evidence(data) if callable(self.evidence) else self.evidence


def hit(rule: str, name: str, files: Files | Callable[[Kit], Files], path: str,
        evidence: bytes | Callable[[bytes], bytes], **more: Any) -> Case:
    return Case(rule, name, files, path, evidence, **more)


def miss(rule: str, name: str, files: Files | Callable[[Kit], Files], **more: Any) -> Case:
    return Case(rule, name, files, None, **more)
