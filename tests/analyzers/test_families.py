"""Conventions of the analyzer families, as failures: the ELF families leave how they are
scheduled to their base class, and a family borrows helpers only from analyzers.common."""

from __future__ import annotations

import re
from pathlib import Path

import firmproof.analyzers
from firmproof.analyzers.base import ElfAnalyzer
from firmproof.analyzers.registry import analyzers
from firmproof.fs.filetype import ELF


def test_elf_families_leave_the_scheduling_knobs_to_their_base_class():
    elf = [a for a in analyzers() if ELF in a.visits]
    assert {a.name for a in elf} >= {"hardening", "hardcoded", "triggers"}
    for family in elf:
        assert isinstance(family, ElfAnalyzer), family.name
        assert not {"shares", "visits"} & set(vars(type(family))), family.name


# the package's own machinery, not analyzer families
NOT_FAMILIES = {"__init__", "base", "common", "registry", "schedule"}


def test_a_family_imports_no_other_familys_module():
    folder = Path(firmproof.analyzers.__file__).parent
    for module in sorted(folder.glob("*.py")):
        if module.stem in NOT_FAMILIES:
            continue
        borrowed = set(re.findall(r"from firmproof\.analyzers\.(\w+) import", module.read_text()))
        assert borrowed <= {"base", "common"}, f"{module.name} imports {borrowed - {'base', 'common'}}"
