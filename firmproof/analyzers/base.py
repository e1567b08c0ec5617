"""What every analyzer family is: a tuple of rules and one generator of findings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import ClassVar

from firmproof.device import binary
from firmproof.fs.filetype import ELF
from firmproof.fs.rootfs import RootFS
from firmproof.model import Category, Finding, Rule, Severity


def rule(rule_id: str, category: Category, severity: Severity, *, title: str, why: str,
         confirm: str, references: tuple[str, ...] | list[str] = ()) -> Rule:
    """Declare a rule; kept next to the code that raises it."""
    return Rule(id=rule_id, category=category, severity=severity, title=title,
                why=" ".join(why.split()), confirm=" ".join(confirm.split()),
                references=tuple(references))


class Analyzer:
    """An analyzer family. `run` sees a whole file system (a boot chain spans files),
    yields findings made with `Rule.at`, and never opens host paths."""

    family: ClassVar[str]              # the FP-<FAMILY>- prefix of its rules
    name: ClassVar[str]                # short name used in the report's `errors`
    rules: ClassVar[tuple[Rule, ...]]
    needs_root: ClassVar[bool] = False  # only runs on views that look like a root file system
    shares: ClassVar[str | None] = None  # analyzers with the same key run in one worker task,
                                         # sharing its caches (the ELF model, the components)

    reads_boot_chain: ClassVar[bool] = False  # `run` reads bootchain.boot_chain: analysis walks
                                              # it once per view, before the view's tasks fork
    on_device: ClassVar[str | None] = None  # on a root that mounts file systems beside it:
                                            # "boot": run again on the device (root and mounts),
                                            # whose findings replace the root's alone;
                                            # "accounts": run again on the account databases
                                            # boot copies onto the device
    visits: ClassVar[tuple[str, ...]] = ()  # file types `run` reads one at a time, each on its
                                            # own: analysis may then run it on parts of a
                                            # big view (RootFS.part) and join them with `merge`

    def run(self, fs: RootFS) -> Iterator[Finding]:
        raise NotImplementedError

    def prepare(self) -> None:
        """One-time set-up (compiling a rule pack): analysis calls it before forking workers,
        so that each inherits the result instead of redoing it."""

    @classmethod
    def merge(cls, findings: list[Finding]) -> list[Finding]:
        """The findings of one view from the findings of its parts (see `visits`). Findings
        about one file each need nothing; a summary over the view joins its parts' summaries."""
        return findings


class ElfAnalyzer(Analyzer):
    """A family that reads ELF executables, each program on its own: it declares its rules and
    what it looks for in one program (`program`). How analysis schedules it is decided here,
    not by the family: every ELF family of a big view runs in one task per part of its files
    (`visits`), the three sharing the ELF models `firmproof.device.binary` caches (`shares`). A family
    that sums up over programs (one finding per view) overrides `run` and `merge` instead."""

    shares = "binary"
    visits = (ELF,)

    def run(self, fs: RootFS) -> Iterator[Finding]:
        for entry in fs.files(ELF):
            exe = binary.load(fs, entry.path)
            if exe is not None:
                yield from self.program(fs, entry.path, exe)

    def program(self, fs: RootFS, path: str, exe: binary.Executable) -> Iterator[Finding]:
        """The findings of the program at `path`, whose model is `exe`."""
        raise NotImplementedError
