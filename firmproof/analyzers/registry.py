"""The registry: an explicit tuple of analyzer families, and the rule table derived from it.

`firmproof rules`, the generated docs and SARIF's rule list all come from here.
"""

from __future__ import annotations

import re
from functools import cache

from firmproof.analyzers.base import Analyzer
from firmproof.model import Rule

_RULE_ID = re.compile(r"^FP-([A-Z]+)-(\d{3})$")


@cache
@cache
def analyzers() -> tuple[Analyzer, ...]:
    """Every analyzer family, in the order they run (stateless: one instance each)."""
    from firmproof.analyzers import (
        accounts,
        android,
        configcreds,
        consoles,
        exfil,
        hardcoded,
        hardening,
        keys,
        keystores,
        known,
        services,
        suid,
        triggers,
        vulns,
        web,
        webcred,
    )

    return (
        accounts.Accounts(),
        webcred.WebCredentials(),
        configcreds.ConfigCredentials(),
        keys.Keys(),
        keystores.Keystores(),
        services.Services(),
        consoles.Consoles(),
        suid.Setuid(),
        hardening.Hardening(),
        hardcoded.Hardcoded(),
        triggers.Triggers(),
        web.WebEndpoints(),
        exfil.Exfiltration(),
        known.KnownBackdoors(),
        android.Android(),
        vulns.Vulnerabilities(),
    )


@cache
def all_rules() -> tuple[Rule, ...]:
    """Every rule, sorted by id; checked once for duplicate ids and wrong prefixes."""
    seen: dict[str, Rule] = {}
    for analyzer in analyzers():
        for r in analyzer.rules:
            match = _RULE_ID.match(r.id)
            if not match:
                raise ValueError(f"rule id {r.id!r} is not FP-<FAMILY>-<NNN>")
            if match.group(1) != analyzer.family:
                raise ValueError(f"rule {r.id} declared in family {analyzer.family}")
            if r.id in seen:
                raise ValueError(f"duplicate rule id {r.id}")
            seen[r.id] = r
    return tuple(sorted(seen.values(), key=lambda r: r.id))


def rule_by_id(rule_id: str) -> Rule | None:
    return next((r for r in all_rules() if r.id == rule_id), None)
