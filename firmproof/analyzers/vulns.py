"""FP-VULN: components whose version has known vulnerabilities, from the offline database.

Components come from `firmproof.device.components` (package databases, build properties, version
strings in binaries); their versions are matched against the records imported with
`firmproof vulndb import` (see `firmproof.device.components.vulndb`). No database, no finding:
the CLI says once that matching is off. The evidence is the component's own: the version string in the binary
or the package-database entry.
"""

from __future__ import annotations

from collections.abc import Iterator

from firmproof.analyzers.base import Analyzer, rule
from firmproof.device.components import COMPONENTS, Component, identify_cached, vulndb
from firmproof.fs.rootfs import RootFS
from firmproof.model import Category, Finding, Severity

VULNERABLE_COMPONENT = rule(
    "FP-VULN-001", Category.VULNERABLE_COMPONENT, Severity.HIGH,
    title="component version with known vulnerabilities",
    why="""A component (BusyBox, Dropbear, OpenSSL, dnsmasq, …) whose version falls inside the
        affected range of published vulnerabilities. An unpatched network service is a way into the
        device as good as a planted one, and years-old versions are common in firmware. Severity
        follows the highest CVSS base score of the matched records (9+ critical, 7+ high, 4+ medium,
        below low).""",
    confirm="""Read the version string at the evidence offset (`strings -t d FILE | grep VERSION`),
        then the advisories in `details.cves`: a vendor may have back-ported a fix without changing
        the version string, which only the vendor's changelog or a diff of the code can show.""",
    references=["https://nvd.nist.gov/vuln", "https://osv.dev/",
                "https://cwe.mitre.org/data/definitions/1104.html"],
)


def severity_of(score: float | None) -> Severity:
    if score is None:
        return VULNERABLE_COMPONENT.severity
    if score >= 9.0:
        return Severity.CRITICAL
    if score >= 7.0:
        return Severity.HIGH
    if score >= 4.0:
        return Severity.MEDIUM
    return Severity.LOW


def matches(component: Component) -> tuple[vulndb.Match, ...]:
    """Records affecting this component: NVD by CPE on the upstream version (its CPE name and
    the other names NVD files the same product under: curl's CVEs are `haxx:curl` or
    `haxx:libcurl`), OSV by package name on the version as found."""
    found: dict[str, vulndb.Match] = {}
    if component.vendor and component.product:
        names = (f"{component.vendor}:{component.product}", *component.cpe_aliases)
        for m in vulndb.lookup(tuple(f"cpe:{n}" for n in names), component.upstream_version):
            found.setdefault(m.id, m)
    for m in vulndb.lookup((f"pkg:{component.name.lower()}",), component.version):
        found.setdefault(m.id, m)
    return tuple(found[k] for k in sorted(found))


class Vulnerabilities(Analyzer):
    family = "VULN"
    name = "vulnerabilities"
    rules = (VULNERABLE_COMPONENT,)
    shares = COMPONENTS

    def run(self, fs: RootFS) -> Iterator[Finding]:
        if not vulndb.available():
            return
        for component in identify_cached(fs):
            if component.source == "apk":      # no record names an app by its version
                continue
            found = matches(component)
            if not found:
                continue
            cves = sorted({c for m in found for c in m.cves})
            scored = [m for m in found if m.cvss_score is not None]
            worst = max(scored, key=lambda m: m.cvss_score or 0.0) if scored else None
            ev = component.evidence
            yield VULNERABLE_COMPONENT.at(
                fs, component.fs_path, ev.offset, ev.length,
                title=f"{component.name} {component.version}: {len(cves) or len(found)} known "
                      f"vulnerabilit{'y' if (len(cves) or len(found)) == 1 else 'ies'}",
                severity=severity_of(worst.cvss_score if worst else None),
                component=component.name, version=component.version, source=component.source,
                cpe=component.cpe, purl=component.purl, cves=cves,
                records=[m.id for m in found],
                cvss={"score": worst.cvss_score, "vector": worst.cvss_vector} if worst else None)
