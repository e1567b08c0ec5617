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

from firmproof.model import Rule, Severity

if TYPE_CHECKING:
    from firmproof.scan import ScanResult

SEVERITY_STYLE = {
    Severity.CRITICAL: "bold white on red", Severity.HIGH: "bold red", Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan", Severity.INFO: "dim",
}
MAX_LISTED = 40


class ScanDisplay:
    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self.console = Console(stderr=True, highlight=False)
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def __enter__(self) -> ScanDisplay:
        if self.enabled and self.console.is_terminal:
            self._progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                      TimeElapsedColumn(), console=self.console, transient=True)
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
                f"unpacking layer {layers} ({files} files so far): {container[-70:]}"))
        elif self.enabled:
            self.console.print(f"[dim]unpacking {container}[/dim]")

    def summary(self, result: ScanResult, output: Path | None) -> None:
        if not self.enabled:
            return
        out = self.console
        unpacked = result.unpacked
        out.print(f"[bold]{result.image_name}[/bold]  sha256 {result.image_sha256}")
        out.print(f"unpacked {unpacked.files} files ({unpacked.bytes:,} bytes) in "
                  f"{len(unpacked.layers)} containers, depth {unpacked.depth}, "
                  f"{unpacked.seconds:.1f}s; scan {result.seconds:.1f}s")
        for error in unpacked.errors[:10]:
            out.print(f"[yellow]unpack:[/yellow] {error['path']}: {error['error']}")
        if len(unpacked.errors) > 10:
            out.print(f"[yellow]unpack:[/yellow] … {len(unpacked.errors) - 10} more in the report")
        for error in result.errors[:5]:
            out.print(f"[yellow]analyzer {error['analyzer']}:[/yellow] {error['path']}: {error['error']}")

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
        if output:
            out.print(f"report: {output}")


def print_rules(rules: tuple[Rule, ...]) -> None:
    console = Console()
    table = Table(show_edge=False)
    for name in ("id", "category", "severity", "title"):
        table.add_column(name, overflow="fold")
    for rule in rules:
        table.add_row(rule.id, rule.category.value,
                      f"[{SEVERITY_STYLE[rule.severity]}]{rule.severity.value}[/]", rule.title)
    console.print(table)


def _short(excerpt: str, limit: int = 72) -> str:
    """The first line of an excerpt, cut to fit a table cell (the report keeps it whole)."""
    first = excerpt.split("\\x0a", 1)[0]
    return first if len(first) <= limit else first[:limit - 1] + "…"
