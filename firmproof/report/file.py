"""Reading a firmproof report (schema firmproof.report/1) that may have been written by anyone.

`verify` and `diff` read reports an auditor was handed, so a report is input like a firmware
image: it must not be able to crash, hang or exhaust the reader. `load` is the one way to
read one, and it refuses, with one sentence naming the problem, a report that is

- larger than MAX_BYTES, or holding more than MAX_VALUES JSON values (counted before parsing,
  as the `,` `{` `[` bytes: each value but the first of an array or object follows a `,`).
  Parsed, a JSON value takes up to about 120 bytes of memory (an empty object, three bytes of
  the file, takes 64), so the two bound the memory of whatever is admitted to roughly
  MAX_BYTES for the text plus 120 × MAX_VALUES for the values: about 300 MB;
- not UTF-8, or not JSON, or JSON with NaN/Infinity, a number too large for a float, or an
  integer of more than MAX_DIGITS digits (Python's own limit is 4300, and converting one is
  quadratic in its length);
- nested more than MAX_DEPTH arrays and objects deep (the parser's own recursion guard stops
  deeper input long before the C stack is at risk; the depth of what parsed is then checked);
- not of the report schema: every field `verify` and `diff` use is type-checked before use,
  and the message names the field (`findings[12].evidence.offset: expected an integer ≥ 0,
  got a string`); unknown keys are accepted (newer reports), only their depth is checked;
- holding more than MAX_FINDINGS findings.

Firmproof's own reports of real firmware hold a few hundred findings and weigh well under a
megabyte; the limits are far above that, and low enough that verifying the largest report they
admit stays within a minute and half a gigabyte (bench/verify_large.py measures it).
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

SCHEMA = "firmproof.report/1"
MAX_BYTES = 64 * 1024 * 1024            # a report file, in bytes
MAX_VALUES = 2_000_000                  # JSON values in a report (`,` `{` `[` bytes: ~30 a finding)
MAX_DEPTH = 64                          # arrays and objects nested in each other, the report itself is 1
MAX_DIGITS = 1000                       # digits of one integer
MAX_FINDINGS = 25_000                   # findings in one report
SEVERITIES = ("critical", "high", "medium", "low", "info")

_SEVERITY_SET = frozenset(SEVERITIES)
_SHOWN = 40                              # characters of a bad value quoted in a message


class ReportFileError(Exception):
    """The report cannot be read or is not a usable firmproof report: one line, exit code 2."""


class _Bad(Exception):
    """A field of the report is wrong: where it is, and what is wrong with it."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where}: {problem}" if where else problem)


class _TooLong(ValueError):
    def __init__(self, digits: int) -> None:
        super().__init__(f"a number of {digits:,} digits (more than the {MAX_DIGITS:,} a report may use)")


def load(path: Path) -> dict[str, Any]:
    """The report at `path`, parsed and checked; ReportFileError with one sentence if not."""
    report = read_json(path)
    check(report, str(path))
    return report


def read_json(path: Path) -> Any:
    """Any JSON document handed to firmproof (a report, a signature envelope), under the same
    bounds as a report (size, values, depth, digits), not checked against a schema."""
    data = _read(path)
    text = _decode(path, data)
    del data
    return _parse(path, text)


def _size(count: int) -> str:
    return f"{count:,} bytes ({count / 1024 / 1024:.1f} MiB)"


def _read(path: Path) -> bytes:
    try:
        with path.open("rb") as handle:
            if path.is_file():
                size = path.stat().st_size
                if size > MAX_BYTES:
                    raise ReportFileError(f"{path}: {_size(size)}, larger than the "
                                          f"{MAX_BYTES // 1024 // 1024} MiB a report may be")
                data = handle.read(size + 1)        # + 1: a file that grows is caught below
            else:                                   # a pipe or a device has no size: read at most this
                buffer = bytearray()
                while len(buffer) <= MAX_BYTES and (block := handle.read(1 << 20)):
                    buffer += block
                data = bytes(buffer)
    except FileNotFoundError:
        raise ReportFileError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ReportFileError(f"{path}: is a directory, not a report") from None
    except OSError as exc:
        raise ReportFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise ReportFileError(f"{path}: more than the {MAX_BYTES // 1024 // 1024} MiB a report may be")
    if not data.strip():
        raise ReportFileError(f"{path}: empty file, not a report")
    values = data.count(b",") + data.count(b"{") + data.count(b"[")
    if values > MAX_VALUES:
        raise ReportFileError(f"{path}: holds up to {values:,} JSON values, more than the {MAX_VALUES:,} "
                              "a report may hold")
    return data


def _decode(path: Path, data: bytes) -> str:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ReportFileError(f"{path}: not UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start:,}), "
                              "not a report") from None


def _parse_int(text: str) -> int:
    digits = len(text) - text.startswith("-")
    if digits > MAX_DIGITS:
        raise _TooLong(digits)
    return int(text)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text[:_SHOWN]} is too large a number")
    return value


def _parse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _parse(path: Path, text: str) -> Any:
    try:
        return json.loads(text, parse_int=_parse_int, parse_float=_parse_float,
                          parse_constant=_parse_constant)
    except RecursionError:
        # json's scanner counts its own recursion: it stops near the interpreter's recursion
        # limit (about 1000), far deeper than any report and far short of the C stack
        raise ReportFileError(f"{path}: arrays and objects nested more than {MAX_DEPTH} deep, "
                              "not a report") from None
    except _TooLong as exc:
        raise ReportFileError(f"{path}: {exc}, not a report") from None
    except json.JSONDecodeError as exc:
        raise ReportFileError(f"{path}: not JSON ({exc})") from None
    except ValueError as exc:
        raise ReportFileError(f"{path}: not JSON ({exc})") from None


# -- the schema ------------------------------------------------------------------------------------

_KINDS = ((bool, "a boolean"), (int, "an integer"), (float, "a number"), (str, "a string"),
          (list, "an array"), (dict, "an object"))          # bool first: it is an int too


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    return next((name for kind, name in _KINDS if isinstance(value, kind)), type(value).__name__)


def _got(value: Any) -> str:
    if isinstance(value, str):
        shown = value if len(value) <= _SHOWN else value[:_SHOWN] + "…"
        return f"{_kind(value)} {shown!r}"
    if isinstance(value, int) and not isinstance(value, bool) and len(shown := str(value)) <= _SHOWN:
        return f"{_kind(value)} {shown}"
    return _kind(value)


def _need(parent: dict[str, Any], key: str, where: str, expected: str) -> _Bad:
    """The error for `parent[key]` not being `expected` (missing, or another type)."""
    if key not in parent:
        return _Bad(f"{where}.{key}" if where else key, f"missing (expected {expected})")
    return _Bad(f"{where}.{key}" if where else key, f"expected {expected}, got {_got(parent[key])}")


def _object(parent: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = parent.get(key)
    if type(value) is not dict:
        raise _need(parent, key, where, "an object")
    return value


def _list(parent: dict[str, Any], key: str, where: str) -> list[Any]:
    value = parent.get(key)
    if type(value) is not list:
        raise _need(parent, key, where, "an array")
    return value


def _strings(parent: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
    for key in keys:
        if type(parent.get(key)) is not str:
            raise _need(parent, key, where, "a string")


def _counts(parent: dict[str, Any], keys: tuple[str, ...], where: str) -> None:
    for key in keys:
        value = parent.get(key)
        if type(value) is not int or value < 0:
            raise _need(parent, key, where, "an integer ≥ 0")


def _string_list(parent: dict[str, Any], key: str, where: str) -> None:
    for i, item in enumerate(_list(parent, key, where)):
        if type(item) is not str:
            raise _Bad(f"{where}.{key}[{i}]", f"expected a string, got {_got(item)}")


def _shallow(value: Any, depth: int, where: str) -> None:
    """`value`, found `depth` arrays and objects deep, nests no deeper than MAX_DEPTH in all."""
    if type(value) is dict:
        children: Any = value.values()
    elif type(value) is list:
        children = value
    else:
        return
    stack = [(children, depth)]
    while stack:
        items, level = stack.pop()
        if level > MAX_DEPTH:
            raise _Bad(where, f"arrays and objects nested more than {MAX_DEPTH} deep")
        for item in items:
            kind = type(item)
            if kind is dict:
                stack.append((item.values(), level + 1))
            elif kind is list:
                stack.append((item, level + 1))


_PLAIN_KEY = re.compile(r"[A-Za-z0-9_@-]{1,40}")


def _field(where: str, key: str) -> str:
    """`where.key`, a key that is not a plain word quoted (and cut) so the message stays one line."""
    if _PLAIN_KEY.fullmatch(key):
        return f"{where}.{key}" if where else key
    shown = key if len(key) <= _SHOWN else key[:_SHOWN] + "…"
    return f"{where}[{shown!r}]"


def _extra(parent: dict[str, Any], known: frozenset[str], depth: int, where: str) -> None:
    """Keys this version does not know are accepted; only their depth is bounded."""
    if len(parent) > len(known) or not known.issuperset(parent):
        for key, value in parent.items():
            if key not in known:
                _shallow(value, depth + 1, _field(where, key))


_TOP = frozenset({"schema", "tool", "image", "unpack", "findings", "errors", "stats", "coverage"})
_IMAGE = frozenset({"name", "sha256", "size", "vendor", "product", "version"})
_UNPACK = frozenset({"files", "bytes", "depth", "containers", "errors"})
_FINDING = frozenset({"id", "rule", "category", "severity", "title", "path", "container", "evidence",
                      "details", "references"})
_FINDING_STRINGS = ("id", "rule", "category", "severity", "title", "path")
_EVIDENCE = frozenset({"sha256", "offset", "length", "excerpt"})


def check(report: Any, name: str = "report") -> None:
    """Raise ReportFileError naming the first field of `report` (called `name` in the message)
    that is not what schema firmproof.report/1 says."""
    try:
        _check(report)
    except _Bad as exc:
        raise ReportFileError(f"{name}: {exc}") from None


def _check(report: Any) -> None:
    """Raise _Bad at the first wrong field (the report itself is depth 1)."""
    if type(report) is not dict:
        raise _Bad("", f"{_kind(report)} at top level, not a firmproof report (a JSON object with "
                       f"schema {SCHEMA})")
    if report.get("schema") != SCHEMA:
        value = report.get("schema")
        schema = ("no schema" if "schema" not in report else
                  f"schema {_got(value).removeprefix('a string ')}" if isinstance(value, str) else
                  f"schema {_kind(value)}")
        raise _Bad("", f"not a firmproof report ({schema}, not {SCHEMA})")
    tool = _object(report, "tool", "")
    _shallow(tool, 2, "tool")
    image = _object(report, "image", "")
    _strings(image, ("name", "sha256"), "image")
    _counts(image, ("size",), "image")
    for key in ("vendor", "product", "version"):
        if image.get(key) is not None and type(image[key]) is not str:
            raise _need(image, key, "image", "a string or null")
    _extra(image, _IMAGE, 2, "image")
    unpack = _object(report, "unpack", "")
    _counts(unpack, ("files", "bytes", "depth"), "unpack")
    for key, fields in (("containers", ("path", "format")), ("errors", ("path", "error"))):
        for i, item in enumerate(_list(unpack, key, "unpack")):
            where = f"unpack.{key}[{i}]"
            if type(item) is not dict:
                raise _Bad(where, f"expected an object, got {_got(item)}")
            _strings(item, fields, where)
            _extra(item, frozenset(fields), 4, where)
    _extra(unpack, _UNPACK, 2, "unpack")
    findings = _list(report, "findings", "")
    if len(findings) > MAX_FINDINGS:
        raise _Bad("findings", f"{len(findings):,} findings, more than the {MAX_FINDINGS:,} a report "
                               "may hold")
    for i, finding in enumerate(findings):
        _finding(finding, i)
    _shallow(_list(report, "errors", ""), 2, "errors")
    _shallow(_object(report, "stats", ""), 2, "stats")
    if "coverage" in report:
        _shallow(_object(report, "coverage", ""), 2, "coverage")
    _extra(report, _TOP, 1, "")


def _finding(finding: Any, i: int) -> None:
    if type(finding) is not dict:
        raise _Bad(f"findings[{i}]", f"expected an object, got {_got(finding)}")
    for key in _FINDING_STRINGS:
        if type(finding.get(key)) is not str:
            raise _need(finding, key, f"findings[{i}]", "a string")
    if finding["severity"] not in _SEVERITY_SET:
        raise _Bad(f"findings[{i}].severity", f"expected one of {', '.join(SEVERITIES)}, "
                                              f"got {_got(finding['severity'])}")
    container = finding.get("container")
    if type(container) is not list or not all(type(c) is str for c in container):
        _string_list(finding, "container", f"findings[{i}]")
    evidence = finding.get("evidence")
    if type(evidence) is not dict:
        raise _need(finding, "evidence", f"findings[{i}]", "an object")
    if not (type(evidence.get("sha256")) is str and type(evidence.get("excerpt")) is str):
        _strings(evidence, ("sha256", "excerpt"), f"findings[{i}].evidence")
    offset, length = evidence.get("offset"), evidence.get("length")
    if not (type(offset) is int and type(length) is int and offset >= 0 and length >= 0):
        _counts(evidence, ("offset", "length"), f"findings[{i}].evidence")
    details = finding.get("details")
    if type(details) is not dict:
        raise _need(finding, "details", f"findings[{i}]", "an object")
    _shallow(details, 4, f"findings[{i}].details")
    references = finding.get("references")
    if type(references) is not list or not all(type(r) is str for r in references):
        _string_list(finding, "references", f"findings[{i}]")
    if len(finding) > len(_FINDING) or not _FINDING.issuperset(finding):
        _extra(finding, _FINDING, 3, f"findings[{i}]")
    if len(evidence) > len(_EVIDENCE) or not _EVIDENCE.issuperset(evidence):
        _extra(evidence, _EVIDENCE, 4, f"findings[{i}].evidence")

