"""The typed Report: what a scan returns is what its JSON says, and its JSON reads back into it."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from firmproof.analyzers.registry import rule_by_id
from firmproof.model import Category
from firmproof.report import Report, UnpackError
from firmproof.report.file import ReportFileError


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory, demo_scan: tuple[Path, dict]) -> tuple[Path, dict]:
    _, report = demo_scan
    root = tmp_path_factory.mktemp("model")
    path = root / "report.json"
    path.write_text(json.dumps(report))
    return path, report


def test_a_report_reads_back_into_the_same_json(demo: tuple[Path, dict]):
    path, report = demo
    loaded = Report.load(path)
    assert loaded.to_json() == report
    assert json.dumps(loaded.to_json(), indent=2) == json.dumps(report, indent=2)   # key order too
    assert len(loaded.findings) == len(report["findings"]) >= 7


def test_findings_read_back_keep_this_firmproofs_rule(demo: tuple[Path, dict]):
    path, report = demo
    for finding, data in zip(Report.load(path).findings, report["findings"], strict=True):
        assert finding.rule is rule_by_id(data["rule"])
        assert finding.finding_id("not the image") == data["id"]      # the id the report gave
        assert finding.evidence.window == b""                          # no bytes: they stayed in the image


def test_a_rule_another_version_describes_otherwise_is_rebuilt_from_the_report(demo: tuple[Path, dict]):
    _, original = demo
    report = copy.deepcopy(original)
    finding = report["findings"][0]
    finding["references"] = ["https://example.invalid/advisory"]
    report["findings"].append({**copy.deepcopy(original["findings"][0]), "rule": "FP-NEW-001",
                               "category": Category.REMOTE_SHELL.value})
    loaded = Report.from_json(report)
    first, new = loaded.findings[0], loaded.findings[-1]
    assert first.rule is not rule_by_id(finding["rule"])
    assert first.rule.references == ("https://example.invalid/advisory",) and first.rule.why == ""
    assert new.rule.id == "FP-NEW-001" and new.category is Category.REMOTE_SHELL
    assert loaded.to_json() == report


def test_a_category_outside_the_contract_is_refused_by_name(demo: tuple[Path, dict]):
    _, original = demo
    report = copy.deepcopy(original)
    report["findings"][1]["category"] = "service.made-up"
    with pytest.raises(ReportFileError, match=r"category 'service\.made-up' is not one of the contract's"):
        Report.from_json(report, "r.json")


def test_keys_of_a_newer_report_are_kept_as_they_are(demo: tuple[Path, dict]):
    _, original = demo
    report = {**copy.deepcopy(original), "attestations": [{"by": "lab"}]}
    report["unpack"]["errors"] = [{"path": "squashfs@0x40000", "error": "file limit", "kind": "limit"},
                                  {"path": "", "error": "truncated"}]
    loaded = Report.from_json(report)
    assert loaded.extra == {"attestations": [{"by": "lab"}]}
    assert loaded.unpack.errors == (UnpackError("squashfs@0x40000", "file limit", "limit"),
                                    UnpackError("", "truncated"))
    assert loaded.to_json() == report
