"""Detection benchmark: recall and precision per backdoor family.

Two corpora:
- the variant corpus of the test suite (tests/variants): every family written in many forms
  beside decoys of the same shape, built with the real tools and scanned end to end;
- the real images of ../shared/corpus/real, against the truth file kept next to the tests that
  read them (tests/corpus_truth.toml): what each image holds (must be found) and which high or
  critical findings are true; any other high/critical finding is a false alarm.

    python bench/detection.py [--family NAME] [--jobs 2] [--no-variants] [--no-real]
                              [--json OUT]

Prints Markdown tables for docs/benchmarks.md. Recall: true variants found / true variants.
Precision: true variants found / (found + decoys given a finding of their family's category).
"Loud decoys": decoys with any high or critical finding at all (the clean-image criterion).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import subprocess
import sys
import tempfile
import tomllib
from collections import defaultdict
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
CORPUS = REPO.parent / "shared" / "corpus" / "real"
TRUTH = REPO / "tests" / "corpus_truth.toml"
LOUD = ("critical", "high")


@dataclass
class Outcome:
    ident: str
    family: str
    decoy: bool
    found: bool = False
    false_alarm: bool = False
    loud: list[str] = field(default_factory=list)      # high/critical findings (decoys)
    known_miss: str | None = None
    error: str | None = None


def _one(index: int) -> Outcome:
    import logging

    import structlog

    from tests.variants.corpus import build, judge, scan_image
    from tests.variants.families import all_variants

    logging.disable(logging.WARNING)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.CRITICAL))
    variant = all_variants()[index]
    out = Outcome(variant.ident, variant.family, variant.decoy, known_miss=variant.known_miss)
    try:
        with tempfile.TemporaryDirectory(prefix="fp-detect-") as folder:
            findings = scan_image(build(variant, Path(folder)), Path(folder))
    except Exception as exc:  # a variant that cannot be built (a missing cross compiler)
        out.error = f"{type(exc).__name__}: {exc}"
        return out
    verdict = judge(variant, findings)
    out.found = verdict.found
    out.false_alarm = bool(verdict.false_alarms)
    if variant.decoy:
        out.loud = [f"{f.rule.id} {f.path}" for f in findings if f.severity.value in LOUD]
    return out


def variant_outcomes(family: str | None, jobs: int) -> list[Outcome]:
    from tests.variants.families import all_variants

    indices = [i for i, v in enumerate(all_variants()) if family in (None, v.family)]
    # unblob sets the "fork" start method when it is imported: import it before the pool
    # fixes the method, so that forked workers inherit it instead of failing to set it
    import unblob.pool  # noqa: F401

    with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork")) as pool:
        return list(pool.map(_one, indices))


def _ratio(num: int, den: int) -> str:
    return f"{num / den:.3f}" if den else "–"


def variant_table(outcomes: Iterable[Outcome]) -> tuple[str, dict[str, dict[str, int]]]:
    by_family: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for o in outcomes:
        row = by_family[o.family]
        if o.error:
            row["errors"] += 1
        elif o.decoy:
            row["decoys"] += 1
            row["false_alarms"] += o.false_alarm
            row["loud_decoys"] += bool(o.loud)
        else:
            row["true"] += 1
            row["found"] += o.found
    total: dict[str, int] = defaultdict(int)
    lines = ["| family | true variants | found | recall | decoys | false alarms | precision "
             "| loud decoys | not built |", "|---|---|---|---|---|---|---|---|---|"]
    for name in sorted(by_family):
        row = by_family[name]
        for key, value in row.items():
            total[key] += value
        lines.append(_row(name, row))
    lines.append(_row("**all**", total))
    return "\n".join(lines), {k: dict(v) for k, v in by_family.items()}


def _row(name: str, row: dict[str, int]) -> str:
    found, true, alarms = row.get("found", 0), row.get("true", 0), row.get("false_alarms", 0)
    return (f"| {name} | {true} | {found} | {_ratio(found, true)} | {row.get('decoys', 0)} | {alarms} "
            f"| {_ratio(found, found + alarms)} | {row.get('loud_decoys', 0)} | {row.get('errors', 0)} |")


# -- the real corpus -----------------------------------------------------------------


def _matches(finding: dict, entry: dict) -> bool:
    """`finding` is the one `entry` names, itself or as a rule it absorbed (`details.also`:
    two rules on the same bytes are one finding)."""
    rules = {finding["rule"], *finding.get("details", {}).get("also", ())}
    return ("rule" not in entry or entry["rule"] in rules) and all(
        finding.get(key) == entry[key] for key in ("category", "path") if key in entry)


def real_outcomes(jobs: int) -> list[dict]:
    truth = tomllib.loads(TRUTH.read_text())["image"]
    present = [t for t in truth if (CORPUS / t["file"]).is_file()]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        return list(pool.map(_real_one, present))


def _real_one(entry: dict) -> dict:
    with tempfile.TemporaryDirectory(prefix="fp-detect-") as folder:
        out = Path(folder) / "report.json"
        cli = Path(sys.executable).parent / "firmproof"
        proc = subprocess.run([str(cli), "scan", str(CORPUS / entry["file"]), "-q", "-o", str(out)],
                              capture_output=True, text=True, check=False)
        if not out.exists():
            return {"file": entry["file"], "error": proc.stderr.strip()[-300:]}
        findings = json.loads(out.read_text())["findings"]
    must = entry.get("expect", [])
    found = [m for m in must if any(_matches(f, m) for f in findings)]
    explained = must + entry.get("true", [])
    loud = [f for f in findings if f["severity"] in LOUD]
    unexplained = [f"{f['rule']} {f['path']}" for f in loud
                   if not any(_matches(f, e) for e in explained)]
    return {"file": entry["file"], "expected": len(must), "found": len(found),
            "missed": [f"{m.get('rule', m.get('category'))} {m['path']}" for m in must if m not in found],
            "loud": len(loud), "unexplained": unexplained}


def real_table(rows: list[dict]) -> str:
    lines = ["| image | expected | found | high/critical "
             "| false alarms (high/critical not in the truth file) |",
             "|---|---|---|---|---|"]
    for r in rows:
        if "error" in r:
            lines.append(f"| {r['file']} | error: {r['error']} | | | |")
            continue
        shown = ", ".join(r["unexplained"]) or "0"
        lines.append(f"| {r['file']} | {r['expected']} | {r['found']} | {r['loud']} | {shown} |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--family")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--no-variants", action="store_true")
    parser.add_argument("--no-real", action="store_true")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    result: dict[str, object] = {}
    if not args.no_variants:
        outcomes = variant_outcomes(args.family, args.jobs)
        table, per_family = variant_table(outcomes)
        print("## Variant corpus\n\n" + table + "\n")
        for o in outcomes:
            if o.error:
                print(f"- not built: {o.ident}: {o.error}")
            elif not o.decoy and not o.found:
                print(f"- missed: {o.ident}" + (f" (known: {o.known_miss})" if o.known_miss else ""))
            elif o.decoy and (o.false_alarm or o.loud):
                print(f"- decoy reported: {o.ident}: {', '.join(o.loud) or 'its category'}")
        result["variants"] = {"families": per_family, "outcomes": [asdict(o) for o in outcomes]}
    if not args.no_real:
        if not CORPUS.is_dir():
            print(f"\n(real corpus absent: {CORPUS} — skipped)")
        else:
            rows = real_outcomes(args.jobs)
            print("\n## Real corpus (truth: tests/corpus_truth.toml)\n\n" + real_table(rows))
            result["real"] = rows
    if args.json:
        args.json.write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
