"""Static, stripped programs: the syscall wrappers are named (firmproof.device.binary.syscalls), so
that FP-SVC-008/009 and FP-TRIG-001 read them as if libc were imported; decoys stay quiet."""

from __future__ import annotations

import os

import pytest

from firmproof.analyzers.services import Services
from firmproof.analyzers.triggers import Triggers
from firmproof.device.binary import Executable
from firmproof.device.binary.elf import parse
from firmproof.fs.rootfs import RootFS
from firmproof.model import Severity
from tests.variants.families.compiled import CATEGORY, DECOYS, OPTS, SOURCES, Program

CASES = [("x86-64", "-Os"), ("armel", "-O2"), ("musl", "-O0"), ("i686", "-O0"),
         ("mips", "-O2"), ("mipsel", "-Os"), ("mipsel", "-O0")]
DECOY_CASES = [("config-secret", "x86-64", "-O2"), ("udp-echo", "x86-64", "-O2"),
               ("local-script", "x86-64", "-O2"), ("udp-echo", "mips", "-Os"),
               ("local-script", "mipsel", "-O2"), ("config-secret", "mipsel", "-O0")]
# every member and decoy at every level where members were missed (issue 12): AArch64 glibc,
# whose system() and popen() reach clone through tail calls, musl, whose cancellable calls go
# through a helper that is only jumped to, and MIPS64 (n64, both endiannesses), whose functions
# compute _gp
MATRIX = [(toolchain, opt) for toolchain in ("aarch64", "musl", "mips64", "mips64el") for opt in OPTS]
# the literals each trigger compares with (an inlined memcmp compares its first 16 bytes)
MAGIC = {"magic-memcmp-system": ("HELODBG-OPEN-SES",), "knock-read-fork-exec": ("xyzzy_factory_mode",),
         "magic-inline-word": ("kN0ckKn0",),
         "http-header-shell": ("Mozilla/5.0 (SupportAgent-7f3a)", "c3VwcG9ydDpCa0RvMHIh")}


def _build(member: str, toolchain: str, opt: str) -> bytes:
    path = os.fspath(Program(SOURCES[member], toolchain, opt, True))       # skips without the compiler
    with open(path, "rb") as f:
        return f.read()


def _exe(data: bytes) -> Executable:
    return Executable("/prog", "x", data, parse(data))


@pytest.mark.parametrize(("toolchain", "opt"), CASES)
def test_static_wrappers_are_named(toolchain, opt):
    exe = _exe(_build("bind-fork-execve", toolchain, opt))
    assert exe.static and not exe.imports
    assert {"socket", "bind", "listen", "accept", "dup2", "execve"} <= exe.names()
    assert {"socket", "bind", "dup2", "execve"} <= exe.syscall_names()      # first pass, no sweep


def test_static_decoy_has_no_socket():
    exe = _exe(_build("local-script", "x86-64", "-O2"))
    assert exe.static and not exe.names() & {"socket", "bind", "connect", "accept"}


def _router(program: bytes) -> RootFS:
    return RootFS.from_files({
        "/etc/inittab": "::sysinit:/etc/init.d/rcS\n",
        "/etc/init.d/rcS": "#!/bin/sh\n/usr/sbin/daemon &\n",
        "/usr/sbin/daemon": program,
    }, modes={"/etc/init.d/rcS": 0o755, "/usr/sbin/daemon": 0o755})


@pytest.mark.parametrize(("toolchain", "opt"), CASES)
def test_static_connect_back_and_trigger_found(toolchain, opt):
    fs = _router(_build("connect-back", toolchain, opt))
    (finding,) = [f for f in Services().run(fs) if f.rule.id == "FP-SVC-009"]
    assert finding.details["static"] is True and finding.details["address"] == "203.0.113.66"
    fs = _router(_build("magic-memcmp-system", toolchain, opt))
    (trigger,) = list(Triggers().run(fs))
    assert trigger.details["magic"].startswith("HELODBG-OPEN-SESAME"[:16])


@pytest.mark.parametrize(("member", "toolchain", "opt"), DECOY_CASES)
def test_static_decoys_not_reported(member, toolchain, opt):
    fs = _router(_build(member, toolchain, opt))
    assert [f.rule.id for f in Services().run(fs) if f.rule.id in ("FP-SVC-008", "FP-SVC-009")] == []
    assert [f.rule.id for f in Triggers().run(fs)] == []


@pytest.mark.parametrize("member", [*CATEGORY, *DECOYS])
@pytest.mark.parametrize(("toolchain", "opt"), MATRIX)
def test_static_matrix(member, toolchain, opt):
    fs = _router(_build(member, toolchain, opt))
    shells = [f.rule.id for f in Services().run(fs) if f.rule.id in ("FP-SVC-008", "FP-SVC-009")]
    triggers = list(Triggers().run(fs))
    if member == "mgmt-reboot":     # a fixed harmless action: a low finding at most
        assert shells == [] and all(t.severity is Severity.LOW for t in triggers)
    elif member in DECOYS:
        assert shells == [] and triggers == []
    elif CATEGORY[member] == "service.remote-shell":
        assert shells
    else:
        (trigger,) = triggers
        assert trigger.details["magic"].startswith(MAGIC[member])     # in order, whatever the loads'
