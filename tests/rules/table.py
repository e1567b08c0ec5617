"""The rule table: every case of every analyzer family, in the registry's order."""

from __future__ import annotations

from . import cases_accounts, cases_configcreds, cases_consoles, cases_webcred
from .case import Case

CASES: list[Case] = [
    *cases_accounts.CASES,
    *cases_webcred.CASES,
    *cases_configcreds.CASES,
    *cases_consoles.CASES,
]
