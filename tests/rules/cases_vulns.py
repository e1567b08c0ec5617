"""FP-VULN-001 (firmproof/analyzers/vulns.py) against the real NVD and OSV records of
tests/data/vulndb (the `records` fixture imports them)."""

from __future__ import annotations

from firmproof.model import Severity

from .case import hit, miss


def opkg(version: str) -> dict[str, str]:
    return {"/usr/lib/opkg/status":
            f"Package: dnsmasq-full\nVersion: {version}\nStatus: install user installed\n"}


CASES = [
    hit("FP-VULN-001", "dnsmasq-2.77-opkg-entry", opkg("2.77-1"), "/usr/lib/opkg/status",
        b"Package: dnsmasq-full\nVersion: 2.77-1", severity=Severity.CRITICAL,
        details={"component": "dnsmasq", "version": "2.77-1"}),
    miss("FP-VULN-001", "dnsmasq-2.90-opkg-entry", opkg("2.90-1"), silent=True),
]
