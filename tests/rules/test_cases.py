"""Every case of the rule table through its rule's analyzer: a hit must point at the exact
bytes it names, a miss must give no finding of the rule."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import pytest

from firmproof.analyzers.base import Analyzer
from firmproof.analyzers.registry import analyzers
from firmproof.model import excerpt_of

from .case import Case, Kit
from .table import CASES


@functools.cache
def analyzer_of(rule_id: str) -> Analyzer:
    (analyzer,) = [a for a in analyzers() if rule_id in {r.id for r in a.rules}]
    analyzer.prepare()
    return analyzer


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.id)
def test_case(case: Case, kit: Kit, records: Path) -> None:
    fs = case.fs(kit)
    every = list(analyzer_of(case.rule).run(fs))
    found = [f for f in every if f.rule.id == case.rule]
    shown = [(f.rule.id, f.path, f.evidence.offset, f.evidence.excerpt) for f in every]
    if not case.hit:
        assert (every if case.silent else found) == [], shown
        return
    assert case.path is not None
    data = fs.read(case.path)
    assert data is not None, case.path
    want = case.expected(data)
    assert want, "a hit names the bytes of its evidence"
    at = [f for f in found if f.path == case.path
          and data[f.evidence.offset:f.evidence.offset + f.evidence.length] == want
          and case.at in (None, f.evidence.offset)]
    assert at, (want, shown)
    finding = at[0]
    assert finding.evidence.sha256 == hashlib.sha256(data).hexdigest()
    assert finding.evidence.excerpt == excerpt_of(want)
    if case.count is not None:
        assert len(found) == case.count, shown
    assert finding.severity is (case.severity or finding.rule.severity)
    assert {k: finding.details.get(k) for k in case.details} == dict(case.details)
