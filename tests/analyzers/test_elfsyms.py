"""firmproof.device.parsers.elfsyms on programs compiled at test time."""

from __future__ import annotations

from firmproof.device.parsers.elfsyms import read_symbols


def test_dynamic_imports_come_from_dynsym(elf_programs):
    syms = read_symbols(elf_programs["bindshell"])
    assert syms is not None
    assert syms.source == "dynsym"
    assert {"socket", "bind", "listen", "accept", "dup2", "execl"} <= syms.imports
    assert any(n.startswith("libc.so") for n in syms.needed)


def test_decoy_programs_lack_the_bind_shell_imports(elf_programs):
    echo = read_symbols(elf_programs["udpecho"])
    assert echo is not None and "bind" in echo.imports
    assert not echo.imports & {"listen", "accept", "execl", "execve", "system"}
    only_exec = read_symbols(elf_programs["execonly"])
    assert only_exec is not None and "execl" in only_exec.imports
    assert not only_exec.imports & {"socket", "bind"}


def test_imports_without_section_headers_come_from_the_dynamic_segment(elf_programs, sectionless):
    syms = read_symbols(sectionless(elf_programs["bindshell"]))
    assert syms is not None
    assert syms.source == "dynamic"
    assert {"socket", "bind", "listen", "accept", "execl"} <= syms.imports


def test_static_program_symbols_come_from_symtab(elf_programs):
    data = elf_programs.get("bindshell-static")
    if data is None:
        import pytest
        pytest.skip("no static libc to link against")
    syms = read_symbols(data)
    assert syms is not None
    assert syms.source == "symtab"
    assert {"socket", "bind", "listen", "accept", "execl"} <= syms.imports


def test_not_elf_and_garbage():
    assert read_symbols(b"#!/bin/sh\necho hi\n") is None
    broken = read_symbols(b"\x7fELF\x02\x01\x01" + b"\xff" * 40 + b"\0bind\0socket\0")
    assert broken is not None and broken.source == "strings"
    assert {"bind", "socket"} <= broken.imports
