"""Hostile reports: `verify` and `diff` refuse each with one line naming the problem and exit
code 2, in bounded time and memory; a report of the largest size admitted verifies quickly."""

from __future__ import annotations

import copy
import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import firmproof, need_tools, scan_report

from firmproof.cli import main
from firmproof.evidence.verify import load_report, verify
from firmproof.report import file as reportfile
from firmproof.testing.demo import build_image
from firmproof.testing.fixtures import grown_report


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], Path]:
    """The demo image as an uncompressed tar (built in seconds), its report and the report's file."""
    need_tools("openssl", "ssh-keygen")
    root = tmp_path_factory.mktemp("report-input")
    image = build_image(root / "demo.tar", fmt="tar", wrap_uimage=False)
    report = scan_report(image, root)
    assert len(report["findings"]) >= 7
    return image, report, root / "report.json"


@pytest.fixture(autouse=True)
def _cli_state() -> Any:
    """main() configures logging and structlog for the process: put them back after each test."""
    import structlog

    handlers, level, config = logging.root.handlers[:], logging.root.level, structlog.get_config()
    yield
    logging.root.handlers[:] = handlers
    logging.root.setLevel(level)
    structlog.configure(**config)


def _refused(capsys: pytest.CaptureFixture[str], *argv: str | Path) -> str:
    """Run the CLI in this process: exit code 2 and one line on standard error, which it returns."""
    capsys.readouterr()
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("firmproof: "), err
    return lines[0]


def _both_verbs(capsys: pytest.CaptureFixture[str], demo: tuple[Path, dict[str, Any], Path],
                bad: Path) -> list[str]:
    """The messages of `verify BAD IMAGE`, `diff BAD GOOD` and `diff GOOD BAD`."""
    image, _, good = demo
    return [_refused(capsys, "verify", bad, image), _refused(capsys, "diff", bad, good),
            _refused(capsys, "diff", good, bad)]


def _write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


# -- what JSON can do to a parser ------------------------------------------------------------------

def test_a_number_of_5000_digits(demo, capsys, tmp_path: Path):
    """Python refuses to convert it (ValueError inside json); the loader refuses it first."""
    report = json.loads(demo[2].read_text())
    text = json.dumps(report).replace('"seconds": ', '"seconds": ' + "7" * 5000 + ", \"was\": ", 1)
    bad = _write(tmp_path, "digits.json", text)
    for message in _both_verbs(capsys, demo, bad):
        assert "a number of 5,000 digits" in message and str(bad) in message


def test_200000_nested_arrays(demo, capsys, tmp_path: Path):
    bad = _write(tmp_path, "nested.json", "[" * 200_000 + "]" * 200_000)
    started = time.monotonic()
    for message in _both_verbs(capsys, demo, bad):
        assert f"nested more than {reportfile.MAX_DEPTH} deep" in message
    assert time.monotonic() - started < 10


def test_200000_nested_objects_in_a_real_process(demo, tmp_path: Path):
    """In a child process, as a user runs it: the C stack is never at risk."""
    image, _, good = demo
    bad = _write(tmp_path, "nested.json", '{"schema": "firmproof.report/1", "stats": '
                 + '{"a": [' * 200_000 + "1" + "]}" * 200_000 + "}")
    for args in (("verify", bad, image), ("diff", good, bad)):
        proc = firmproof(*args)
        assert proc.returncode == 2 and "Traceback" not in proc.stderr, proc.stderr
        assert proc.stderr.strip().splitlines() == [
            f"firmproof: {bad}: arrays and objects nested more than {reportfile.MAX_DEPTH} deep, "
            "not a report"]


def test_nesting_that_parses_is_still_bounded(demo, capsys, tmp_path: Path):
    """70 levels parse, but would leave little room to whoever walks the report next."""
    report = json.loads(demo[2].read_text())
    deep: Any = "bottom"
    for _ in range(70):
        deep = {"deeper": [deep]}
    report["findings"][0]["details"]["extra"] = deep
    bad = _write(tmp_path, "deep.json", json.dumps(report))
    for message in _both_verbs(capsys, demo, bad):
        assert message.endswith(f"findings[0].details: arrays and objects nested more than "
                                f"{reportfile.MAX_DEPTH} deep")


@pytest.mark.parametrize(("number", "problem"), [("NaN", "NaN is not a JSON number"),
                                                 ("-Infinity", "-Infinity is not a JSON number"),
                                                 ("1e400", "1e400 is too large a number")])
def test_numbers_json_does_not_have(demo, capsys, tmp_path: Path, number: str, problem: str):
    text = demo[2].read_text().replace('"seconds": ', f'"seconds": {number}, "was": ', 1)
    bad = _write(tmp_path, "nan.json", text)
    for message in _both_verbs(capsys, demo, bad):
        assert message == f"firmproof: {bad}: not JSON ({problem})"


def test_a_hostile_key_stays_on_one_line(demo, capsys, tmp_path: Path):
    report = json.loads(demo[2].read_text())
    deep: Any = 0
    for _ in range(70):
        deep = [deep]
    report["image"]["new\nline \x1b[31m" + "k" * 100] = deep
    bad = _write(tmp_path, "key.json", json.dumps(report))
    for message in _both_verbs(capsys, demo, bad):
        assert message.endswith("image['new\\nline \\x1b[31m" + "k" * 26 + "…']: arrays and objects "
                                f"nested more than {reportfile.MAX_DEPTH} deep")


def test_not_utf8(demo, capsys, tmp_path: Path):
    report = demo[2].read_bytes()
    at = report.index(b'"title": "') + len(b'"title": "')
    bad = _write(tmp_path, "latin1.json", report[:at] + b"caf\xe9 " + report[at:])
    for message in _both_verbs(capsys, demo, bad):
        assert f"not UTF-8 (byte 0xe9 at offset {at + 3:,})" in message


def test_empty_file(demo, capsys, tmp_path: Path):
    for content in ("", " \n\t\n"):
        bad = _write(tmp_path, "empty.json", content)
        for message in _both_verbs(capsys, demo, bad):
            assert message == f"firmproof: {bad}: empty file, not a report"


def test_a_json_array_at_top_level(demo, capsys, tmp_path: Path):
    """Even without the .json suffix, diff reads a file starting with `[` as a report."""
    findings = json.loads(demo[2].read_text())["findings"]
    for name in ("array.json", "array.out"):
        bad = _write(tmp_path, name, "\n  " + json.dumps(findings))
        for message in _both_verbs(capsys, demo, bad):
            assert message.endswith("an array at top level, not a firmproof report (a JSON object with "
                                    "schema firmproof.report/1)")


def test_not_a_report(demo, capsys, tmp_path: Path):
    bad = _write(tmp_path, "other.json", json.dumps({"schema": "something/1", "findings": []}))
    for message in _both_verbs(capsys, demo, bad):
        assert message.endswith("not a firmproof report (schema 'something/1', not firmproof.report/1)")


# -- limits ----------------------------------------------------------------------------------------

def test_a_file_over_the_size_limit(demo, capsys, tmp_path: Path):
    """A sparse file: refused from its size, never read."""
    for name in ("huge.json", "huge.report"):
        bad = tmp_path / name
        bad.write_bytes(b"{")
        os.truncate(bad, reportfile.MAX_BYTES + 1)
        started = time.monotonic()
        for message in _both_verbs(capsys, demo, bad):
            assert f"{reportfile.MAX_BYTES + 1:,} bytes" in message
            assert f"larger than the {reportfile.MAX_BYTES // 2 ** 20} MiB a report may be" in message
        assert time.monotonic() - started < 5


def test_a_device_without_end(demo, capsys):
    """/dev/zero has no size: at most the limit is read, then it is refused."""
    started = time.monotonic()
    message = _refused(capsys, "verify", "/dev/zero", demo[0])
    assert message.endswith(f"more than the {reportfile.MAX_BYTES // 2 ** 20} MiB a report may be")
    assert time.monotonic() - started < 10


def test_too_many_findings(demo, capsys, tmp_path: Path):
    report = json.loads(demo[2].read_text())
    report["findings"] = [0] * (reportfile.MAX_FINDINGS + 1)
    bad = _write(tmp_path, "many.json", json.dumps(report))
    for message in _both_verbs(capsys, demo, bad):
        assert message.endswith(f"findings: {reportfile.MAX_FINDINGS + 1:,} findings, more than the "
                                f"{reportfile.MAX_FINDINGS:,} a report may hold")


def test_too_many_values(demo, capsys, tmp_path: Path):
    """Values are counted before parsing (an empty object is 3 bytes of the file, 64 of memory)."""
    report = json.loads(demo[2].read_text())
    report["stats"]["padding"] = [{}] * (reportfile.MAX_VALUES // 2)
    bad = _write(tmp_path, "objects.json", json.dumps(report, separators=(",", ":")))
    for message in _both_verbs(capsys, demo, bad):
        assert f"JSON values, more than the {reportfile.MAX_VALUES:,} a report may hold" in message


# -- the schema ------------------------------------------------------------------------------------

def _set(path: str, value: Any) -> Any:
    """A change to a report: set the field at `path` (dots and [i]) to `value`, or delete it."""
    def change(report: dict[str, Any]) -> None:
        parts = path.replace("[", ".").replace("]", "").split(".")
        node: Any = report
        for part in parts[:-1]:
            node = node[int(part)] if part.isdigit() else node[part]
        last: Any = int(parts[-1]) if parts[-1].isdigit() else parts[-1]
        if value is _DELETE:
            del node[last]
        else:
            node[last] = value
    return change


_DELETE = object()


@pytest.mark.parametrize(("path", "value", "expected"), [
    ("findings[2].evidence.offset", "x",
     "findings[2].evidence.offset: expected an integer ≥ 0, got a string 'x'"),
    ("findings[2].evidence.offset", -1,
     "findings[2].evidence.offset: expected an integer ≥ 0, got an integer -1"),
    ("findings[1].evidence.length", 1.5,
     "findings[1].evidence.length: expected an integer ≥ 0, got a number"),
    ("findings[3].evidence", 5, "findings[3].evidence: expected an object, got an integer 5"),
    ("findings[0].evidence.excerpt", None, "findings[0].evidence.excerpt: expected a string, got null"),
    ("findings[0].evidence.sha256", _DELETE, "findings[0].evidence.sha256: missing (expected a string)"),
    ("findings[4].container", None, "findings[4].container: expected an array, got null"),
    ("findings[4].container", ["demo.tar", 7],
     "findings[4].container[1]: expected a string, got an integer 7"),
    ("findings[5]", "nonsense", "findings[5]: expected an object, got a string 'nonsense'"),
    ("findings[0].rule", True, "findings[0].rule: expected a string, got a boolean"),
    ("findings[0].path", ["/etc/shadow"], "findings[0].path: expected a string, got an array"),
    ("findings[0].severity", "fatal\nreally",
     "findings[0].severity: "
     "expected one of critical, high, medium, low, info, got a string 'fatal\\nreally'"),
    ("findings[0].details", [], "findings[0].details: expected an object, got an array"),
    ("findings[0].references", "https://x",
     "findings[0].references: expected an array, got a string 'https://x'"),
    ("findings", {"0": {}}, "findings: expected an array, got an object"),
    ("image", None, "image: expected an object, got null"),
    ("image.sha256", 5, "image.sha256: expected a string, got an integer 5"),
    ("image.size", "1k", "image.size: expected an integer ≥ 0, got a string '1k'"),
    ("image.vendor", 3, "image.vendor: expected a string or null, got an integer 3"),
    ("unpack.containers[0].format", _DELETE, "unpack.containers[0].format: missing (expected a string)"),
    ("unpack.errors", [["x"]], "unpack.errors[0]: expected an object, got an array"),
    ("unpack.files", None, "unpack.files: expected an integer ≥ 0, got null"),
    ("stats", [], "stats: expected an object, got an array"),
    ("coverage", "all", "coverage: expected an object, got a string 'all'"),
    ("tool", _DELETE, "tool: missing (expected an object)"),
])
def test_wrong_types_name_the_field(demo, capsys, tmp_path: Path, path: str, value: Any, expected: str):
    report = json.loads(demo[2].read_text())
    _set(path, value)(report)
    bad = _write(tmp_path, "typed.json", json.dumps(report))
    for message in _both_verbs(capsys, demo, bad):
        assert message == f"firmproof: {bad}: {expected}"


def test_a_long_bad_value_is_cut_in_the_message(demo, capsys, tmp_path: Path):
    report = json.loads(demo[2].read_text())
    report["findings"][0]["severity"] = "x" * 100_000
    bad = _write(tmp_path, "long.json", json.dumps(report))
    message = _refused(capsys, "verify", bad, demo[0])
    assert len(message) < 300 and "got a string '" + "x" * 40 + "…'" in message


def test_unknown_keys_and_coverage_are_accepted(demo, capsys, tmp_path: Path):
    """A newer report (more keys anywhere, a coverage section) is read, and it still verifies."""
    image, report, _ = demo
    newer = copy.deepcopy(report)
    newer["coverage"] = {"examined": 0.97, "files": {"skips": [{"path": "/x", "reason": "y"}]}}
    newer["signed_by"] = {"lab": ["a", {"b": None}]}
    newer["image"]["board"] = "v2"
    newer["findings"][0]["confidence"] = "high"
    newer["findings"][0]["evidence"]["encoding"] = "latin-1"
    newer["unpack"]["containers"][0]["offset"] = 0
    path = _write(tmp_path, "newer.json", json.dumps(newer))
    capsys.readouterr()
    assert main(["verify", str(path), str(image)]) == 0, capsys.readouterr().err
    assert main(["diff", str(path), str(_write(tmp_path, "same.json", json.dumps(report)))]) == 0
    assert "Traceback" not in capsys.readouterr().err


def test_the_loader_is_the_one_verify_and_diff_use(demo):
    """verify's load_report and diff's load_side both go through firmproof.report.file."""
    from firmproof.evidence.diff import load_side

    _, report, path = demo
    assert load_report(path).to_json() == report == load_side(path).report.to_json()


# -- a large report ------------------------------------------------------------------------------



def test_a_report_of_the_most_findings_admitted_verifies_quickly(demo, tmp_path: Path):
    """MAX_FINDINGS findings spread over the demo's evidence files: read and checked in seconds
    (before: every finding hashed its whole file again; bench/verify_large.py has the numbers)."""
    image, report, _ = demo
    big = grown_report(report, image, reportfile.MAX_FINDINGS, tmp_path / "unpacked")
    path = _write(tmp_path, "big.json", json.dumps(big))
    started = time.monotonic()
    loaded = load_report(path)
    read = time.monotonic() - started
    result = verify(loaded, image)
    seconds = time.monotonic() - started
    assert result.holds and len(result.checks) == reportfile.MAX_FINDINGS
    assert [c.index for c in result.checks] == list(range(reportfile.MAX_FINDINGS))
    assert read < 10 and seconds < 30, (read, seconds)
