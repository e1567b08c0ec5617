"""The rule table: the cases of every analyzer family, one module a family, in the registry's order."""

from __future__ import annotations

from . import (
    cases_accounts,
    cases_android,
    cases_binary,
    cases_configcreds,
    cases_consoles,
    cases_exfil,
    cases_keys,
    cases_known,
    cases_services,
    cases_suid,
    cases_vulns,
    cases_web,
    cases_webcred,
)
from .case import Case

FAMILIES = (cases_accounts, cases_webcred, cases_configcreds, cases_keys, cases_services, cases_consoles,
            cases_suid, cases_binary, cases_web, cases_exfil, cases_known, cases_android,
            cases_vulns)

CASES: list[Case] = [case for family in FAMILIES for case in family.CASES]
