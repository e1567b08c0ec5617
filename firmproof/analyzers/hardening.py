"""FP-ELF: programs built without the usual exploit mitigations, one summary per image.

Hardening is context, not a backdoor: a Debian root file system has dozens of programs
without a stack protector (gcc's -fstack-protector-strong only instruments functions
with arrays), so a finding per program would drown everything else. One info finding per
file system counts the programs lacking NX, PIE, RELRO (none / only partial) and a stack
protector, and lists them in `details.programs`.

Evidence: the ELF header and program header table of the first program (by path) that
lacks something. Those bytes decide NX (the flags of PT_GNU_STACK), PIE (e_type ET_DYN
with PT_INTERP) and RELRO (PT_GNU_RELRO); the stack protector and `stripped` are read
from the symbol tables, which the details name but the evidence does not cover.
Shared libraries are left out: PIE does not apply to them.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterator
from typing import Any

from firmproof.analyzers.base import ElfAnalyzer, rule
from firmproof.device import binary
from firmproof.fs.filetype import ELF
from firmproof.fs.rootfs import RootFS
from firmproof.model import Category, Finding, Severity

MAX_LISTED = 500

WEAK_PROGRAMS = rule(
    "FP-ELF-001", Category.HARDENING, Severity.INFO,
    title="programs built without exploit mitigations",
    why="""Programs without NX (executable stack), PIE (fixed load address), full RELRO
        (writable GOT) or a stack protector turn a memory-safety bug in a network service
        into remote code execution with far less effort. One summary per file system:
        `details.lacking` counts the programs per missing mitigation, `details.programs`
        lists them.""",
    confirm="""Run `checksec --file=<program>` or `readelf -lW <program>` (GNU_STACK flags RWE =
        no NX; Type EXEC = no PIE; no GNU_RELRO = no RELRO, no BIND_NOW in `readelf -d` =
        partial) and `readelf -s <program> | grep __stack_chk_fail` for the canary. The
        evidence bytes are the ELF and program headers of the first listed program.""",
    references=["https://github.com/slimm609/checksec",
                "https://wiki.debian.org/Hardening",
                "https://cwe.mitre.org/data/definitions/693.html"],
)


class Hardening(ElfAnalyzer):
    """One summary per view: `run` and `merge` over the programs, not `program`."""

    family = "ELF"
    name = "hardening"
    rules = (WEAK_PROGRAMS,)

    def run(self, fs: RootFS) -> Iterator[Finding]:
        programs = weak = 0
        counts: Counter[str] = Counter()
        listed: list[dict[str, Any]] = []
        first: tuple[str, int] | None = None
        for entry in fs.files(ELF):
            exe = binary.load(fs, entry.path)
            if exe is None or not exe.headers.is_program:
                continue
            programs += 1
            lacking = exe.hardening.lacking()
            if not lacking:
                continue
            weak += 1
            counts.update(lacking)
            if first is None:
                first = (entry.path, exe.headers.header_span)
            if len(listed) < MAX_LISTED:
                listed.append({"path": entry.report_path, "arch": exe.arch, "lacking": list(lacking),
                               "stripped": exe.hardening.stripped})
        if first is None:
            return
        path, span = first
        yield WEAK_PROGRAMS.at(
            fs, path, 0, span, title=_title(weak, programs),
            checked=programs, weak=weak, lacking=dict(sorted(counts.items())),
            programs=listed, truncated=weak > len(listed))

    @classmethod
    def merge(cls, findings: list[Finding]) -> list[Finding]:
        """One summary from the summaries of the view's parts: counts added, programs listed
        in path order, evidence in the first of them."""
        if len(findings) < 2:
            return findings
        counts: Counter[str] = Counter()
        for finding in findings:
            counts.update(finding.details["lacking"])
        listed = sorted((p for f in findings for p in f.details["programs"]), key=lambda p: p["path"])
        checked = sum(f.details["checked"] for f in findings)
        weak = sum(f.details["weak"] for f in findings)
        first = min(findings, key=lambda f: f.path)
        details = dict(first.details, checked=checked, weak=weak, lacking=dict(sorted(counts.items())),
                       programs=listed[:MAX_LISTED], truncated=weak > min(len(listed), MAX_LISTED))
        return [dataclasses.replace(first, title=_title(weak, checked), details=details)]


def _title(weak: int, programs: int) -> str:
    return f"{weak} of {programs} programs built without some exploit mitigation"
