"""Meta-tests: conventions of the rule registry turned into failures."""

from __future__ import annotations

import re
from pathlib import Path

from firmproof.report.rules_doc import rules_markdown
from firmproof.rules import all_rules, analyzers

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


def test_every_rule_has_a_test_that_names_it():
    """Each rule id appears in a test file (its hit and its decoy live there)."""
    tests = "\n".join(p.read_text() for p in (REPO / "tests").rglob("test_*.py"))
    missing = [r.id for r in all_rules() if r.id not in tests]
    assert missing == []


def test_docs_are_generated_from_the_declarations():
    doc = REPO / "docs" / "rules.md"
    assert doc.read_text() == rules_markdown(all_rules()), "run: firmproof rules --markdown > docs/rules.md"
