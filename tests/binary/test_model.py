"""The executable model on real cross-compiled programs: format facts, strings, xrefs, calls."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from firmproof.analyzers.hardcoded import AUTH_LITERALS, AUTH_WORDS
from firmproof.device import binary
from firmproof.device.binary.disasm import rip_loads
from firmproof.device.binary.elf import NotElf, parse
from firmproof.fs.rootfs import RootFS
from tests.conftest import need_tools, tool

from .conftest import SRC, TOOLCHAINS, VARIANTS, cross_build, gcc_build, variant_id

SECRET = b"Xm4st3r_k3y!2017"
COMPARE_NAMES = frozenset({"strcmp", "strncmp", "memcmp", "strstr", "strcasecmp"})


def load(data: bytes, path: str = "/bin/login") -> binary.Executable:
    exe = binary.load(RootFS.from_files({path: data}), path)
    assert exe is not None
    return exe


@pytest.mark.parametrize("variant", VARIANTS, ids=variant_id)
def test_model_arch_imports_strings_xrefs_calls(builds, variant):
    toolchain, _, stripped = variant
    build = builds[("login_master", *variant)]
    exe = load(build.data)
    _, _, arch, endian = TOOLCHAINS[toolchain]
    assert (exe.arch, exe.endian) == (arch, endian)
    assert exe.bits == (64 if arch in ("aarch64", "x86-64") else 32)
    assert {"strcmp", "getspnam", "getpass", "execl"} <= exe.imports
    assert "main" not in exe.imports and any(lib.startswith("libc.so") for lib in exe.needed)
    assert exe.hardening.stripped is stripped and exe.kind == "pie" and exe.hardening.pie
    # the literal: where it is in the file, which code loads it, which call takes it
    (ref,) = [s for s in exe.strings if s.text == SECRET.decode()]
    assert ref.offset == build.data.index(SECRET + b"\0")
    sites = exe.xrefs(ref.offset)
    assert sites, "no code location loads the master password"
    compares = [(c, i) for c, i, s in exe.calls_with_string({"strcmp"}) if s.offset == ref.offset]
    assert compares and compares[0][1] in (0, 1)
    call = compares[0][0]
    assert call.callee == "strcmp" and exe.function_of(call.site) is not None
    # the load comes before the call (or in its MIPS delay slot), in the same function
    assert min(sites) <= call.site + 4 and exe.function_of(min(sites)) == exe.function_of(call.site)
    (execl,) = exe.calls("execl")
    assert isinstance(execl.args[0], int) and exe.string_at(execl.args[0]).text == "/bin/sh"


@pytest.mark.parametrize("opt", ["-O0", "-O2"])
@pytest.mark.parametrize("toolchain", sorted(TOOLCHAINS))
def test_model_reads_past_literal_pool_words_that_are_no_instruction(tmp_path, toolchain, opt):
    """binutils 2.44 (Debian 13) aligns ARM segments to 64 KiB: the GOT lies 0x20000 past the
    code, and a literal pool word holding the PC-relative offset to it (0x0001fad8) decodes as
    no ARM instruction (capstone's skipdata gives `.byte`). The sweep passes over such data
    words; any linker gives that layout with -z max-page-size=0x10000."""
    data = cross_build(tmp_path, toolchain, SRC / "login_master.c", opt, "-Wl,-z,max-page-size=0x10000")
    exe = load(data)
    (ref,) = [s for s in exe.strings if s.text == SECRET.decode()]
    assert exe.xrefs(ref.offset), "no code location loads the master password"
    assert any(s.offset == ref.offset for _, _, s in exe.calls_with_string({"strcmp"}))
    (execl,) = exe.calls("execl")
    assert isinstance(execl.args[0], int) and exe.string_at(execl.args[0]).text == "/bin/sh"


def test_model_t9_before_an_unconditional_branch_is_the_targets(tmp_path):
    """MIPS: a `jalr $t9` after `b L; li $t9, X` does not call X; the `jalr $t9` at L does."""
    need_tools("mips64-linux-gnuabi64-gcc")
    out = tmp_path / "t9"
    subprocess.run(["mips64-linux-gnuabi64-gcc", "-nostdlib", "-static", "-no-pie", "-fno-pic",
                    "-mno-abicalls", "-o", str(out), str(Path(__file__).resolve().parent / "asm" /
                                                         "t9_after_jump.mips64.S")],
                   check=True, capture_output=True)
    data = out.read_bytes()
    exe = binary.Executable("/t9", "x", data, parse(data))
    assert exe.arch == "mips" and exe.code is not None
    start = exe.headers.entry
    # __start: daddiu, b, li; the stray jalr at +12, the one at L (+28)
    assert [(c.site - start, c.target) for c in exe.code.calls] == [(28, 0x4440)]


def test_model_hardening_flags_follow_the_compiler_flags(tmp_path):
    source = ("#include <stdio.h>\nint main(int c, char **v) { char b[64]; "
              "snprintf(b, sizeof b, \"%s\", v[0]); puts(b); return c; }\n")
    weak = load(gcc_build(tmp_path, source, "-O2", "-no-pie", "-fno-stack-protector", "-z", "execstack",
                          "-Wl,-z,norelro"))
    assert weak.kind == "exec" and weak.hardening.lacking() == ("nx", "pie", "relro", "canary")
    strong = load(gcc_build(tmp_path, source, "-O2", "-fPIE", "-pie", "-fstack-protector-all",
                            "-Wl,-z,relro,-z,now"))
    assert strong.kind == "pie" and strong.hardening.lacking() == ()
    partial = load(gcc_build(tmp_path, source, "-O2", "-fstack-protector-all", "-Wl,-z,relro,-z,lazy"))
    assert partial.hardening.relro == "partial" and partial.hardening.lacking() == ("full-relro",)


def test_model_rejects_what_is_not_elf():
    fs = RootFS.from_files({"/a": b"\x7fELF" + b"\0" * 12, "/b": b"#!/bin/sh\n"})
    assert binary.load(fs, "/a") is None and binary.load(fs, "/b") is None
    with pytest.raises(NotElf):
        parse(b"MZ\x90\x00")


def test_model_focused_view_sees_the_same_compare_as_the_full_sweep(builds):
    build = builds[("httpd_ua", "x86-64", "-O2", True)]
    exe = load(build.data)
    assert exe.bounded()
    quick = exe.quick_refs()
    assert quick is not None
    _, sites = next(v for v in quick.values() if v[0].text == "xmlset_roodkcableoj28840ybtide")
    view = exe.focused(sites)
    full = {(c.site, s.offset) for c, _, s in exe.calls_with_string({"strcmp"})}
    narrow = {(c.site, s.offset) for c, _, s in view.calls_with_string({"strcmp"})}
    assert narrow and narrow <= full
    assert view.code is not None and exe.code is not None
    assert view.code.instructions < exe.code.instructions


def test_model_and_rules_survive_truncated_and_corrupted_programs(builds):
    """Bad input: cut or scribbled-over executables give fewer facts, never an exception."""
    from firmproof.analyzers.hardcoded import Hardcoded
    from firmproof.analyzers.hardening import Hardening
    from firmproof.analyzers.triggers import Triggers

    files: dict[str, bytes | str] = {}
    for key in (("udp_trigger", "mips", "-O2", False), ("login_master", "arm", "-O0", True),
                ("httpd_ua", "x86-64", "-O2", False)):
        data = builds[key].data
        files[f"/cut/{key[0]}"] = data[:len(data) // 2]
        files[f"/head/{key[0]}"] = data[:64]
        scribbled = bytearray(data)
        scribbled[0x40:0x400] = bytes(range(256)) * 3 + bytes(0x400 - 0x40 - 768)
        files[f"/scribbled/{key[0]}"] = bytes(scribbled)
    fs = RootFS.from_files(files)
    for path in files:
        exe = binary.load(fs, path)
        if exe is not None:
            exe.calls_with_string({"strcmp", "system"})
            exe.strings  # noqa: B018
    for analyzer in (Hardcoded(), Triggers(), Hardening()):
        list(analyzer.run(fs))



_RIP = re.compile(rb"[\x48\x4c][\x8b\x8d][\x05\x0d\x15\x1d\x25\x2d\x35\x3d]")


def _by_regex(exe: binary.Executable, wanted: set[int]) -> tuple[list[tuple[int, int]], list[int]]:
    """The byte-pattern scans written the plain way: the oracle for the vectorised ones.
    (RIP-relative loads as (site, target); `call rel32` sites into `wanted`.)"""
    loads, calls = [], []
    data = exe.data
    for _, vaddr, offset, size in exe.headers.code:
        for m in _RIP.finditer(data, offset, offset + size - 7):
            site = vaddr + m.start() - offset
            loads.append((site, site + 7 + int.from_bytes(data[m.start() + 3:m.start() + 7], "little",
                                                          signed=True)))
        for m in re.finditer(rb"\xe8", data[offset:offset + size - 4]):
            p = m.start()
            if vaddr + p + 5 + int.from_bytes(data[offset + p + 1:offset + p + 5], "little",
                                              signed=True) in wanted:
                calls.append(vaddr + p)
    return loads, calls


def _host_programs() -> list[Path]:
    """Real optimised PIE programs of the host's Debian, the same set wherever the suite runs:
    coreutils' ls and programs of packages `make setup` installs."""
    return [Path("/usr/bin/ls"),
            *(Path(tool(name)) for name in ("ssh", "ssh-keygen", "openssl", "dropbearkey"))]


def test_vectorised_byte_scans_find_what_the_plain_scan_finds(builds):
    """x86-64 quick references and call sites, on the test programs and on the host's own
    (real, optimised, PIE) programs: the same sites as a plain regex walk."""
    datas = [b.data for k, b in builds.items() if k[1] == "x86-64"]
    datas += [p.read_bytes() for p in _host_programs()]
    checked = called = 0
    for data in datas:
        exe = load(data)
        stubs = {a for a, n in exe.plt_stubs().items() if n in COMPARE_NAMES}
        loads, calls = _by_regex(exe, stubs)
        found = rip_loads(exe.headers, exe.data)
        assert found is not None
        assert list(zip(found[0].tolist(), found[1].tolist(), strict=True)) == loads
        quick = exe.quick_calls(COMPARE_NAMES)
        assert quick is not None and set(calls) <= set(quick)
        for site in set(quick) - set(calls):       # the rest call through a GOT slot
            at = exe.offset_of(site)
            assert at is not None and exe.data[at:at + 2] == b"\xff\x15"
        checked += len(loads)
        called += len(calls)
    assert checked > 1000 and called > 10


def test_mentions_with_literals_agrees_with_the_plain_regex(builds):
    """The literal prefilter of `mentions` changes the speed, never the answer."""
    answers = set()
    for build in builds.values():
        exe = load(build.data)
        answer = exe.mentions(AUTH_WORDS)
        assert exe.mentions(AUTH_WORDS, AUTH_LITERALS) == answer, build.name
        answers.add(answer)
    for path in _host_programs():
        exe = load(path.read_bytes())
        assert exe.mentions(AUTH_WORDS, AUTH_LITERALS) == exe.mentions(AUTH_WORDS), path
    assert answers == {True, False}


def test_strings_are_the_nul_terminated_printable_runs(builds):
    """The vectorised string table against the plain regex, with offsets and addresses."""
    pattern = re.compile(rb"[\x20-\x7e\t\r\n]{4,}(?=\x00)")
    datas = [b.data for b in builds.values()] + [p.read_bytes() for p in _host_programs()]
    total = 0
    for data in datas:
        exe = load(data)
        expected = sorted(((m.start(), m.group().decode("latin-1"))
                           for start, end in exe.headers.data
                           for m in pattern.finditer(data, start, end)), key=lambda t: t[0])
        assert [(s.offset, s.text) for s in exe.strings] == expected
        assert all(s.vaddr == exe.headers.vaddr_of(s.offset) for s in exe.strings)
        total += len(expected)
    assert total > 5000
