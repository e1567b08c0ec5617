"""SARIF 2.1.0 from a firmproof report, for GitHub code scanning and other SARIF viewers.

Rules come from the rule registry (help = why it matters + how to confirm); each finding
becomes a result whose artifact URI is the container chain plus the path, whose region is
the evidence's byte range, and whose partial fingerprint is the finding id. The image and
each evidence file are listed as artifacts with their sha-256.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from firmproof.coverage import headline
from firmproof.model import Rule, Severity
from firmproof.rules import all_rules

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT = "firmproofFindingId/v1"

LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning",
         Severity.LOW: "note", Severity.INFO: "note"}
# GitHub code scanning ranks security results by this property (0.0-10.0)
SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.5",
                     Severity.LOW: "3.0", Severity.INFO: "0.0"}


def level_of(severity: str) -> str:
    try:
        return LEVEL[Severity(severity)]
    except ValueError:
        return "warning"


def artifact_uri(container: list[str], path: str) -> str:
    """'fw.bin', 'squashfs@0x40000' + '/etc/shadow' -> 'fw.bin/squashfs@0x40000/etc/shadow'."""
    parts = [p.strip("/") for p in container if p.strip("/")]
    return quote("/".join([*parts, path.strip("/")]), safe="/@+,;=~!$&'()*")


def _rule(rule: Rule) -> dict[str, Any]:
    links = [r for r in rule.references if r.startswith(("https://", "http://"))]
    entry: dict[str, Any] = {
        "id": rule.id,
        "name": "".join(w.capitalize() for w in rule.title.replace("-", " ").split() if w.isalnum())
        or rule.id,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.why},
        "help": {"text": f"{rule.why}\n\nHow to confirm: {rule.confirm}",
                 "markdown": f"{rule.why}\n\n**How to confirm:** {rule.confirm}"
                 + "".join(f"\n- {r}" for r in rule.references)},
        "defaultConfiguration": {"level": LEVEL[rule.severity]},
        "properties": {"category": rule.category.value, "severity": rule.severity.value,
                       "tags": ["security", rule.category.value],
                       "security-severity": SECURITY_SEVERITY[rule.severity]},
    }
    if links:
        entry["helpUri"] = links[0]
    return entry


def _unknown_rule(finding: dict[str, Any]) -> dict[str, Any]:
    """A rule the report names but this firmproof does not know (a report of another version)."""
    return {"id": finding["rule"], "shortDescription": {"text": finding.get("title", finding["rule"])},
            "properties": {"category": finding.get("category"), "severity": finding.get("severity")}}


def sarif(report: dict[str, Any]) -> dict[str, Any]:
    """The SARIF log of one firmproof report (schema firmproof.report/1)."""
    rules = [_rule(r) for r in all_rules()]
    index = {r["id"]: i for i, r in enumerate(rules)}
    image = report["image"]
    artifacts: list[dict[str, Any]] = [{
        "location": {"uri": artifact_uri([image["name"]], "")},
        "length": image["size"], "hashes": {"sha-256": image["sha256"]}, "roles": ["analysisTarget"],
    }]
    artifact_index: dict[str, int] = {}
    results = []
    for finding in report["findings"]:
        if finding["rule"] not in index:
            index[finding["rule"]] = len(rules)
            rules.append(_unknown_rule(finding))
        evidence = finding["evidence"]
        uri = artifact_uri(finding["container"], finding["path"])
        if uri not in artifact_index:
            artifact_index[uri] = len(artifacts)
            artifacts.append({"location": {"uri": uri}, "hashes": {"sha-256": evidence["sha256"]},
                              "parentIndex": 0})
        results.append({
            "ruleId": finding["rule"],
            "ruleIndex": index[finding["rule"]],
            "level": level_of(finding["severity"]),
            "message": {"text": f"{finding['title']}: {evidence['excerpt'][:200]}"},
            "locations": [{"physicalLocation": {
                "artifactLocation": {"uri": uri, "index": artifact_index[uri]},
                "region": {"byteOffset": evidence["offset"], "byteLength": evidence["length"],
                           "snippet": {"text": evidence["excerpt"]}},
            }}],
            "partialFingerprints": {FINGERPRINT: finding["id"]},
            "properties": {"severity": finding["severity"], "category": finding["category"],
                           "container": finding["container"], "path": finding["path"],
                           "sha256": evidence["sha256"], "details": finding.get("details", {})},
        })
    notifications = [{"level": "warning", "message": {"text": f"{e.get('path', '')}: {e.get('error', '')}"},
                      "descriptor": {"id": "unpack"}} for e in report.get("unpack", {}).get("errors", [])]
    notifications += [{"level": "error",
                       "message": {"text": f"{e.get('analyzer', '')} on {e.get('path', '')}: "
                                           f"{e.get('error', '')}"},
                       "descriptor": {"id": "analyzer"}} for e in report.get("errors", [])]
    coverage = report.get("coverage")
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
            "tool": {"driver": {"name": "firmproof", "version": report["tool"]["version"],
                                "semanticVersion": report["tool"]["version"], "rules": rules}},
            "invocations": [{**invocation, "toolExecutionNotifications": notifications}],
            "artifacts": artifacts,
            "results": results,
            "properties": {"image": image, "schema": report["schema"]},
        }],
    }
