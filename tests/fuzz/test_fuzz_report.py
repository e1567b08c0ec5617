"""Fuzzing the report loader (firmproof/report/file.py: read_json and load), which `verify` and
`diff` run on reports an auditor was handed.

Seeds: a report firmproof writes here of a real image (the tiny SquashFS, scanned by the CLI).
Three kinds of input: the report's bytes edited (flips, cuts, splices, numbers as text), the
report's JSON tree edited (a value anywhere replaced by any JSON value, or a key dropped),
and JSON-ish bytes from scratch (deep nesting, huge numbers, NaN, lone surrogates, BOMs).

Documented outcome: a dict (load: a checked report) or ReportFileError.
"""

from __future__ import annotations

import json
import tempfile
from functools import partial
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from firmproof.report.file import ReportFileError, load, read_json

from .harness import examples, json_ish, mutants, run_bounded

JSON_VALUES = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
              st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
              st.sampled_from(("critical", "info", "firmproof.report/1", "", "\ud800"))),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.text(max_size=6), inner, max_size=3)),
    max_leaves=12)


def _both(blob: bytes) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-report-") as tmp:
        path = Path(tmp) / "report.json"
        path.write_bytes(blob)
        for reader in (read_json, load):
            result = run_bounded(partial(reader, path), (ReportFileError,))
            if isinstance(result, ReportFileError):
                message = str(result)
                assert "\n" not in message and len(message) < 2000, message[:300]


def _edit_tree(draw: Any, value: Any, depth: int = 0) -> Any:
    """`value` with one node somewhere below it replaced, dropped or kept."""
    if isinstance(value, dict) and value and depth < 8 and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(value)))
        out = dict(value)
        if draw(st.integers(0, 9)) == 0:
            del out[key]
        else:
            out[key] = _edit_tree(draw, value[key], depth + 1)
        return out
    if isinstance(value, list) and value and depth < 8 and draw(st.booleans()):
        index = draw(st.integers(0, len(value) - 1))
        out_list = list(value)
        out_list[index] = _edit_tree(draw, value[index], depth + 1)
        if draw(st.integers(0, 9)) == 0:
            out_list *= draw(st.integers(2, 50))
        return out_list
    return draw(JSON_VALUES)


@settings(max_examples=examples(620))
@given(data=st.data())
def test_report_bytes(report_seeds: dict[str, bytes], data: st.DataObject) -> None:
    _both(data.draw(mutants(report_seeds, head=(0, 2048))))


@settings(max_examples=examples(750))
@given(data=st.data())
def test_report_tree(report_seeds: dict[str, bytes], data: st.DataObject) -> None:
    report = json.loads(report_seeds["scan-report"])
    edited = report
    for _ in range(data.draw(st.integers(1, 4))):
        edited = _edit_tree(data.draw, edited)
    _both(json.dumps(edited, ensure_ascii=data.draw(st.booleans())).encode("utf-8", "surrogatepass"))


@settings(max_examples=examples(500))
@given(blob=json_ish())
def test_json_ish(blob: bytes) -> None:
    _both(blob)


def test_seed_report_loads(report_seeds: dict[str, bytes]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "report.json"
        path.write_bytes(report_seeds["scan-report"])
        assert load(path)["schema"] == "firmproof.report/1"
