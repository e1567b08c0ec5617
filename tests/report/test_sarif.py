"""SARIF 2.1.0 output: valid against the official schema, and faithful to the JSON report."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from conftest import REPO, firmproof

from firmproof.analyzers.registry import all_rules
from firmproof.report.sarif import FINGERPRINT, artifact_uri

# The OASIS schema, byte for byte; no PyPI package ships it (sarif-om, sarif-tools, pysarif and
# sarif-pydantic were checked), so it is read from the shared schemas folder.
SCHEMA = REPO.parent / "shared" / "schemas" / "sarif-schema-2.1.0.json"
LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}


@pytest.fixture(scope="module")
def reports(tmp_path_factory: pytest.TempPathFactory, demo_scan: tuple[Path, dict]) -> tuple[dict, dict]:
    image, report = demo_scan
    root = tmp_path_factory.mktemp("sarif")
    proc = firmproof("scan", image, "-q", "--format", "sarif", "-o", root / "demo.sarif")
    assert proc.returncode == 0, proc.stderr
    return report, json.loads((root / "demo.sarif").read_text())


def test_sarif_validates_against_the_official_schema(reports: tuple[dict, dict]):
    if not SCHEMA.is_file():
        pytest.skip(f"the OASIS SARIF 2.1.0 schema is absent ({SCHEMA}); the structural test still runs")
    schema = json.loads(SCHEMA.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    validator = validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(reports[1]), key=lambda e: list(e.path))
    assert errors == [], [f"{list(e.path)}: {e.message}" for e in errors[:5]]
    # the schema really constrains: a result without a message is rejected
    broken = json.loads(json.dumps(reports[1]))
    del broken["runs"][0]["results"][0]["message"]
    assert list(validator.iter_errors(broken))


def test_sarif_carries_every_rule_and_finding(reports: tuple[dict, dict]):
    report, log = reports
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    by_id = {r["id"]: r for r in rules}
    assert len(by_id) == len(rules)
    # (the rule set may grow while the suite runs, as other families land: compare what both know)
    for rule in all_rules():
        entry = by_id[rule.id]
        assert rule.why in entry["help"]["text"] and rule.confirm in entry["help"]["text"]
        assert entry["properties"]["category"] == rule.category.value
        assert entry["properties"]["severity"] == rule.severity.value
        assert entry["defaultConfiguration"]["level"] == LEVELS[rule.severity.value]
    results = run["results"]
    assert len(results) == len(report["findings"]) >= 7
    for result, finding in zip(results, report["findings"], strict=True):
        assert result["ruleId"] == finding["rule"] == rules[result["ruleIndex"]]["id"]
        assert result["level"] == LEVELS[finding["severity"]]
        assert result["partialFingerprints"][FINGERPRINT] == finding["id"]
        assert finding["title"] in result["message"]["text"]
        location = result["locations"][0]["physicalLocation"]
        uri = location["artifactLocation"]["uri"]
        assert uri == "/".join([*(c.strip("/") for c in finding["container"]), finding["path"].lstrip("/")])
        assert uri.startswith("demo.bin/uimage@0x0/") and uri.endswith(finding["path"])
        assert location["region"] == {"byteOffset": finding["evidence"]["offset"],
                                      "byteLength": finding["evidence"]["length"],
                                      "snippet": {"text": finding["evidence"]["excerpt"]}}
        artifact = run["artifacts"][location["artifactLocation"]["index"]]
        assert artifact["location"]["uri"] == uri
        assert artifact["hashes"]["sha-256"] == finding["evidence"]["sha256"]
    assert run["artifacts"][0]["hashes"]["sha-256"] == report["image"]["sha256"]


def test_artifact_uri_escapes_what_a_uri_cannot_hold(tmp_path: Path):
    assert artifact_uri(["fw 1.bin", "squashfs@0x40"], "/etc/a:b") == "fw%201.bin/squashfs@0x40/etc/a%3Ab"
