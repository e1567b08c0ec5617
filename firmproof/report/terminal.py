"""What a person sees on the terminal: progress while unpacking, then a summary.

Everything goes to standard error, so that standard output carries only the report.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, SpinnerColumn, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from firmproof.model import Finding, Rule, Severity
from firmproof.report.coverage import coverage_line, headline

if TYPE_CHECKING:
    from firmproof.batch import BatchResult, Outcome
    from firmproof.evidence.diff import Diff
    from firmproof.evidence.verify import Verification
    from firmproof.host.doctor import Check
    from firmproof.report import Report

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red", Severity.HIGH: "bold red", Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan", Severity.INFO: "dim",
}
MAX_LISTED = 40
MAX_VERIFIED_LISTED = 200       # rows of verify's table: those that do not hold come first
UNWRAPPED = 100_000     # columns of a console that is no terminal: whole lines, for grep and logs


def console(*, stderr: bool = False) -> Console:
    """A console for people; where the output is no terminal (a pipe, a file, CI's log), lines
    are not folded at 80 columns, so that a path or an excerpt stays on one line."""
    out = Console(stderr=stderr, highlight=False)
    return out if out.is_terminal else Console(stderr=stderr, highlight=False, width=UNWRAPPED)


class ScanDisplay:
    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.console = console(stderr=True)
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> ScanDisplay:
        if self.enabled and self.console.is_terminal and not self.console.is_dumb_terminal:
            # redrawn on each event, not by rich's refresh thread: the scan forks its extraction
            # and analysis children, and a process that forks must have one thread. A dumb
            # terminal (TERM=dumb, as in an editor's shell or a CI log) cannot redraw a line in
            # place: it gets a line per layer, as a pipe does
            self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                      TimeElapsedColumn(), console=self.console, transient=True,
                                      auto_refresh=False)
            self._progress.start()
            self._task = self._progress.add_task("unpacking", total=None)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()

    def progress(self, container: str, layers: int, files: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=(
                f"unpacking layer {layers} ({files} files so far): {container[-70:]}"), refresh=True)
        elif self.enabled:
            self.console.print(f"[dim]unpacking {container}[/dim]")

    def summary(self, result: Report, output: Path | None, *, vex_marked: int | None = None) -> None:
        if not self.enabled:
            return
        out = self.console
        unpacked, coverage = result.unpack, result.coverage
        if coverage is not None:
            style = "green" if coverage["complete"] else "bold yellow"
            out.print(f"[{style}]{escape(headline(coverage))}[/]")
        out.print(f"[bold]{result.image.name}[/bold]  sha256 {result.image.sha256}")
        out.print(f"unpacked {unpacked.files} files ({unpacked.bytes:,} bytes) in "
                  f"{len(unpacked.containers)} containers, depth {unpacked.depth}, "
                  f"{result.unpack_seconds:.1f}s; scan {result.seconds:.1f}s")
        if coverage is not None:
            out.print(escape(coverage_line(coverage)))
        for error in unpacked.errors[:10]:
            out.print(f"[yellow]unpack:[/yellow] {error.path}: {error.error}")
        if len(unpacked.errors) > 10:
            out.print(f"[yellow]unpack:[/yellow] … {len(unpacked.errors) - 10} more in the report")
        for failure in result.errors[:5]:
            out.print(f"[yellow]analyzer {failure.analyzer}:[/yellow] {failure.path}: {failure.error}")
        skips = coverage["files"]["skips"] if coverage is not None else []
        for skip in skips[:5]:
            out.print(f"[yellow]not examined:[/yellow] {escape(skip['container'] + skip['path'])}: "
                      f"{skip['analyzer']}: {skip['reason']}")

        by_severity = Counter(f.severity for f in result.findings)
        table = Table(title="findings", show_edge=False)
        table.add_column("category")
        for severity in Severity:
            table.add_column(severity.value, justify="right", style=SEVERITY_STYLE[severity])
        by_category = Counter((f.category.value, f.severity) for f in result.findings)
        for category in sorted({f.category.value for f in result.findings}):
            table.add_row(category, *[str(by_category.get((category, s), "") or "") for s in Severity])
        table.add_row("[bold]total[/bold]", *[str(by_severity.get(s, 0)) for s in Severity])
        out.print(table)

        listing = Table(show_edge=False, show_header=True)
        for name in ("severity", "rule", "where", "what"):
            listing.add_column(name, overflow="fold")
        for finding in result.findings[:MAX_LISTED]:
            where = f"{finding.path}:{finding.evidence.offset}"
            listing.add_row(f"[{SEVERITY_STYLE[finding.severity]}]{finding.severity.value}[/]",
                            finding.rule.id, where,
                            f"{finding.title}\n[dim]{escape(_short(finding.evidence.excerpt))}[/dim]")
        if result.findings:
            out.print(listing)
        if len(result.findings) > MAX_LISTED:
            out.print(f"… and {len(result.findings) - MAX_LISTED} more in the report")
        if vex_marked is not None:
            out.print(f"VEX: {vex_marked} vulnerability finding{'' if vex_marked == 1 else 's'} "
                      "marked not affecting (severity info)")
        if output:
            out.print(f"report: {output}")


def print_rules(rules: tuple[Rule, ...]) -> None:
    out = console()
    table = Table(show_edge=False)
    for name in ("id", "category", "severity", "title"):
        table.add_column(name, overflow="fold")
    for rule in rules:
        table.add_row(rule.id, rule.category.value,
                      f"[{SEVERITY_STYLE[rule.severity]}]{rule.severity.value}[/]", rule.title)
    out.print(table)


def print_doctor(checks: list[Check], install: str | None, fatal: list[Check]) -> None:
    """The requirements as a table on standard output; what to do about the missing ones."""
    out = console()
    table = Table(show_edge=False)
    for name in ("", "requirement", "need", "found", "from", "used for"):
        table.add_column(name, overflow="fold")
    for c in checks:
        mark = "[green]ok[/]" if c.ok else "[bold red]MISSING[/]" if c.need == "scan" else "[yellow]no[/]"
        where = c.found or "-"
        if c.version and c.version != c.found:
            where = f"{where} ({c.version})"
        used = c.purpose + (f": {', '.join(c.formats)}" if c.formats else "")
        table.add_row(mark, escape(c.name), c.need, escape(where), escape(c.package or ""), escape(used))
    out.print(table)
    missing = [c for c in checks if not c.ok]
    if not missing:
        out.print("doctor: everything found")
        return
    out.print(f"doctor: {len(missing)} missing, {len(fatal)} of them needed by a default scan")
    if install:
        out.print(f"install them (as root): [bold]{escape(install)}[/], or run `make setup`")


def _short(excerpt: str, limit: int = 72) -> str:
    """The first line of an excerpt, cut to fit a table cell (the report keeps it whole)."""
    first = excerpt.split("\\x0a", 1)[0]
    return first if len(first) <= limit else first[:limit - 1] + "…"


def print_verification(result: Verification) -> None:
    """Holds / does not hold, finding by finding, on standard error."""
    out = console(stderr=True)
    for reason in result.image_reasons:
        out.print(f"[bold red]image does not match:[/] {escape(reason)}")
    if result.signature is not None:
        style = "green" if result.signature_ok else "bold red"
        out.print(f"[{style}]signature {'holds' if result.signature_ok else 'does not hold'}:[/] "
                  f"{escape(result.signature)}")
    table = Table(show_edge=False)
    for name in ("#", "verdict", "rule", "where", "why not"):
        table.add_column(name, overflow="fold")
    # the findings that fail first; a table of many thousand rows costs more than the checks
    shown = sorted(result.checks, key=lambda c: (c.holds, c.index))[:MAX_VERIFIED_LISTED]
    for check in sorted(shown, key=lambda c: c.index):
        verdict = "[green]holds[/]" if check.holds else "[bold red]does not hold[/]"
        table.add_row(str(check.index), verdict, check.rule, escape(check.place),
                      escape("; ".join(check.reasons)))
    if result.checks:
        out.print(table)
    if len(result.checks) > len(shown):
        out.print(f"… {len(result.checks) - len(shown)} more findings not listed (--json lists them all)")
    for check in result.identity:
        if not check.holds:
            out.print(f"[bold red]guessed {escape(check.id.rsplit('.', 1)[-1])} does not hold:[/] "
                      f"{escape(check.place)}: {escape('; '.join(check.reasons))}")
    if result.identity:
        out.print(f"{sum(c.holds for c in result.identity)} of {len(result.identity)} guessed "
                  "identity fields hold")
    held = sum(c.holds for c in result.checks)
    style = "bold green" if result.holds else "bold red"
    out.print(f"[{style}]{held} of {len(result.checks)} findings hold"
              f"{'' if result.holds else '; the report does not hold'}[/]")


def print_diff(result: Diff, *, stderr: bool = False) -> None:
    """Findings that appeared, vanished or changed, then the inventory changes: the verb's
    output on standard output (on standard error when the JSON diff takes standard output)."""
    out = console(stderr=stderr)
    out.print(f"[bold]old[/bold] {escape(result.old.label)} ({result.old.kind}, "
              f"{len(result.old.report.findings)} findings)  [bold]new[/bold] {escape(result.new.label)} "
              f"({result.new.kind}, {len(result.new.report.findings)} findings)")
    table = Table(title="findings", show_edge=False)
    for name in ("change", "severity", "rule", "where", "what"):
        table.add_column(name, overflow="fold")

    def row(change: str, f: Finding, note: str = "") -> None:
        table.add_row(change, f"[{SEVERITY_STYLE[f.severity]}]{f.severity.value}[/]", f.rule.id,
                      escape(f"{f.path}:{f.evidence.offset}"),
                      escape(f"{f.title}{note}\n{_short(f.evidence.excerpt)}"))

    for f in result.appeared:
        row("[bold red]appeared[/]", f)
    for f in result.vanished:
        row("[green]vanished[/]", f)
    for c in result.changed:
        row("[yellow]changed[/]", c.new, f" ({', '.join(c.fields)})")
    if table.row_count:
        out.print(table)
    else:
        out.print("findings: no change")
    if result.inventory is None:
        out.print("[dim]inventory: compare two images (not reports) to see it[/dim]")
        return
    for section, changes in result.inventory.items():
        items = [("+", k, v) for k, v in changes["added"].items()]
        items += [("-", k, v) for k, v in changes["removed"].items()]
        items += [("~", k, f"{v[0]} → {v[1]}") for k, v in changes["changed"].items()]
        if not items:
            continue
        out.print(f"[bold]{section}[/bold]: {len(changes['added'])} added, "
                  f"{len(changes['removed'])} removed, {len(changes['changed'])} changed")
        for mark, key, value in items[:MAX_LISTED]:
            color = {"+": "red", "-": "green", "~": "yellow"}[mark]
            shown = value if section not in ("files", "executables") else value[:16]
            out.print(f"  [{color}]{mark}[/] {escape(key)}  [dim]{escape(str(shown))}[/dim]")
        if len(items) > MAX_LISTED:
            out.print(f"  … and {len(items) - MAX_LISTED} more (--json lists them all)")
    for path, lines in list(result.lines.items())[:MAX_LISTED]:
        out.print(f"[bold]{escape(path)}[/bold]")
        for line in lines["removed"][:20]:
            out.print(f"  [green]-[/] {escape(line)}")
        for line in lines["added"][:20]:
            out.print(f"  [red]+[/] {escape(line)}")



class BatchDisplay:
    """`firmproof batch` on standard error: a progress bar (images done of those to scan,
    findings so far, time left) and the failures on a terminal; elsewhere one line per image."""

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.console = console(stderr=True)
        self._progress: Progress | None = None
        self._task: TaskID | None = None
        self.findings = 0
        self.done = 0
        self.total = 0

    def __enter__(self) -> BatchDisplay:
        from rich.progress import BarColumn, MofNCompleteColumn, TimeRemainingColumn

        if self.enabled and self.console.is_terminal and not self.console.is_dumb_terminal:
            self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                      MofNCompleteColumn(), TextColumn("{task.fields[findings]} findings"),
                                      TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(),
                                      console=self.console, transient=True)
            self._progress.start()
            self._task = self._progress.add_task("hashing", total=None, findings=0)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()

    def planned(self, total: int, skipped: int) -> None:
        self.total = total
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description="scanning", total=total)
        if self.enabled and skipped:
            self.console.print(f"{skipped} image{'' if skipped == 1 else 's'} already in the store: skipped")

    def started(self, path: str, worker: int) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, description=f"scanning {escape(Path(path).name[-40:])}")

    def finished(self, outcome: Outcome, findings: int) -> None:
        self.done += 1
        self.findings += findings
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, advance=1, findings=self.findings)
        if not self.enabled or (self._progress is not None and outcome.error is None):
            return                      # on a terminal the bar counts them; failures are listed
        if outcome.error is not None:
            line = f"[yellow]failed[/] {escape(outcome.path)}: {escape(outcome.error)}"
        else:
            line = f"scanned {escape(outcome.path)}: {findings} finding{'' if findings == 1 else 's'}"
        self.console.print(f"[{self.done}/{self.total}] {line}")

    def unreadable(self, path: str, why: str) -> None:
        if self.enabled:
            self.console.print(f"[yellow]not an image[/] {escape(path)}: {escape(why)}")

    def summary(self, result: BatchResult, store: str) -> None:
        if not self.enabled:
            return
        failed = len(result.failed)
        style = "green" if result.ok else "bold yellow"
        errors = (f" ({result.stored_errors} of them errors: --retry-errors scans them again)"
                  if result.stored_errors else "")
        self.console.print(
            f"[{style}]batch: {result.total} images: {result.scanned} scanned, {result.skipped} already "
            f"in the store{errors}, {failed} failed; {result.findings} findings; {result.seconds:.1f} s[/]  "
            f"store: {escape(store)}")


class RowsDisplay:
    """The rows of a `firmproof db` query as a table on standard output, long cells folded."""

    def __init__(self) -> None:
        self.console = console()

    def show(self, rows: list[dict[str, object]], columns: list[str]) -> None:
        if not rows:
            self.console.print("no rows")
            return
        table = Table(show_edge=False)
        for name in columns:
            table.add_column(name, overflow="fold")
        for row in rows:
            cells = []
            for name in columns:
                value = row.get(name)
                text = "" if value is None else str(value)
                if name in ("sha256", "image_sha256", "key", "rules_version") and len(text) > 16:
                    text = text[:16]            # a prefix identifies; --csv and --json give it whole
                elif name in ("excerpt", "error"):
                    text = _short(text)
                cells.append(escape(text))
            table.add_row(*cells)
        self.console.print(table)
        self.console.print(f"{len(rows)} row{'' if len(rows) == 1 else 's'}")
