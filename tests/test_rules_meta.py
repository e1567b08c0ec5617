"""Meta-tests: conventions of the rule registry turned into failures."""

from __future__ import annotations

import re
from pathlib import Path

from firmproof.analyzers.registry import all_rules, analyzers
from firmproof.report.rules_doc import rules_markdown
from tests.rules.table import CASES

REPO = Path(__file__).resolve().parent.parent


def test_ids_are_unique_and_prefixed_by_their_family():
    seen = set()
    for analyzer in analyzers():
        for rule in analyzer.rules:
            assert re.fullmatch(rf"FP-{analyzer.family}-\d{{3}}", rule.id), rule.id
            assert rule.id not in seen
            seen.add(rule.id)
    assert len(all_rules()) == len(seen)


def test_every_rule_is_documented():
    for rule in all_rules():
        assert len(rule.why) > 40, rule.id
        assert len(rule.confirm) > 20, rule.id
        assert rule.title, rule.id


def test_every_rule_has_a_hit_case_and_a_miss_case():
    """The rule table (tests/rules/) holds, for every rule of the registry, a case that must
    hit, with its evidence bytes, and a decoy of the same shape that must not; no case names a
    rule the registry does not have."""
    registry = {r.id for r in all_rules()}
    hits = {c.rule for c in CASES if c.hit}
    misses = {c.rule for c in CASES if not c.hit}
    assert sorted(registry - hits) == [], "rules without a case that must hit"
    assert sorted(registry - misses) == [], "rules without a case that must not hit"
    assert sorted({c.rule for c in CASES} - registry) == [], "cases of rules the registry does not have"
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids)), "two cases of one rule with one name"


def test_docs_are_generated_from_the_declarations():
    doc = REPO / "docs" / "rules.md"
    assert doc.read_text() == rules_markdown(all_rules()), "run: firmproof rules --markdown > docs/rules.md"
