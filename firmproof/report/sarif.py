"""SARIF 2.1.0 from a firmproof report, for GitHub code scanning and other SARIF viewers.

Rules come from the rule registry (help = why it matters + how to confirm); each finding
becomes a result whose artifact URI is the container chain plus the path, whose region is
the evidence's byte range, and whose partial fingerprint is the finding id. The image and
each evidence file are listed as artifacts with their sha-256.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from firmproof.analyzers.registry import all_rules
from firmproof.model import Rule, Severity
from firmproof.report import SCHEMA
from firmproof.report.coverage import headline

if TYPE_CHECKING:
    from firmproof.report import Report

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT = "firmproofFindingId/v1"

LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
         Severity.LOW: "note", Severity.INFO: "note"}
# GitHub code scanning ranks security results by this property (0.0-10.0)
SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5",
                     Severity.LOW: "3.0", Severity.INFO: "0.0"}


def artifact_uri(container: list[str], path: str) -> str:
    """'fw.bin', 'squashfs@0x40000' + '/etc/shadow' -> 'fw.bin/squashfs@0x40000/etc/shadow'."""
    parts = [p.strip("/") for p in container if p.strip("/")]
    return quote("/".join([*parts, path.strip("/")]), safe="/@+,;=~!$&'()*")


def _rule(rule: Rule) -> dict[str, Any]:
    """A rule's SARIF descriptor (a rule read back from another version's report has no texts)."""
    links = [r for r in rule.references if r.startswith(("https://", "http://"))]
    entry: dict[str, Any] = {
        "id": rule.id,
        "name": "".join(w.capitalize() for w in rule.title.replace("-", " ").split() if w.isalnum())
        or rule.id,
        "shortDescription": {"text": rule.title},
        **({"fullDescription": {"text": rule.why},
            "help": {"text": f"{rule.why}\n\nHow to confirm: {rule.confirm}",
                     "markdown": f"{rule.why}\n\n**How to confirm:** {rule.confirm}"
                     + "".join(f"\n- {r}" for r in rule.references)}} if rule.why else {}),
        "defaultConfiguration": {"level": LEVEL[rule.severity]},
        "properties": {"category": rule.category.value, "severity": rule.severity.value,
                       "tags": ["security", rule.category.value],
                       "security-severity": SECURITY_SEVERITY[rule.severity]},
    }
    if links:
        entry["helpUri"] = links[0]
    return entry


def sarif(report: Report) -> dict[str, Any]:
    """The SARIF log of one firmproof report. Rules: every rule of this firmproof, then those its
    findings name that it does not know (a report of another version, read back)."""
    rules = [_rule(r) for r in all_rules()]
    index = {r["id"]: i for i, r in enumerate(rules)}
    image = report.image
    artifacts: list[dict[str, Any]] = [{
        "location": {"uri": artifact_uri([image.name], "")},
        "length": image.size, "hashes": {"sha-256": image.sha256}, "roles": ["analysisTarget"],
    }]
    artifact_index: dict[str, int] = {}
    results = []
    for finding in report.findings:
        rule, evidence = finding.rule, finding.evidence
        if rule.id not in index:
            index[rule.id] = len(rules)
            rules.append(_rule(rule))
        uri = artifact_uri(list(finding.container), finding.path)
        if uri not in artifact_index:
            artifact_index[uri] = len(artifacts)
            artifacts.append({"location": {"uri": uri}, "hashes": {"sha-256": evidence.sha256},
                              "parentIndex": 0})
        results.append({
            "ruleId": rule.id,
            "ruleIndex": index[rule.id],
            "level": LEVEL[finding.severity],
            "message": {"text": f"{finding.title}: {evidence.excerpt[:200]}"},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": uri, "index": artifact_index[uri]},
                "region": {"byteOffset": evidence.offset, "byteLength": evidence.length,
                           "snippet": {"text": evidence.excerpt}},
            }}],
            "partialFingerprints": {FINGERPRINT: finding.finding_id(image.sha256)},
            "properties": {"severity": finding.severity.value, "category": rule.category.value,
                           "container": list(finding.container), "path": finding.path,
                           "sha256": evidence.sha256, "details": finding.details},
        })
    notifications = [{"level": "warning", "message": {"text": f"{e.path}: {e.error}"},
                      "descriptor": {"id": "unpack"}} for e in report.unpack.errors]
    notifications += [{"level": "error", "message": {"text": f"{e.analyzer} on {e.path}: {e.error}"},
                       "descriptor": {"id": "analyzer"}} for e in report.errors]
    coverage = report.coverage
    invocation: dict[str, Any] = {"executionSuccessful": True}
    if coverage is not None:
        # the verdict first: a consumer that reads one notification reads whether the scan is whole
        notifications.insert(0, {"level": "note" if coverage["complete"] else "error",
                                 "message": {"text": headline(coverage)}, "descriptor": {"id": "coverage"}})
        invocation["properties"] = {"coverage": coverage}
    return {
        "$schema": SARIF_SCHEMA,
        "version": SARIF_VERSION,
        "runs": [{
            "tool": {"driver": {"name": "firmproof", "version": report.tool_version,
                                "semanticVersion": report.tool_version, "rules": rules}},
            "invocations": [{**invocation, "toolExecutionNotifications": notifications}],
            "artifacts": artifacts,
            "results": results,
            "properties": {"image": image.to_json(), "schema": SCHEMA},
        }],
    }
