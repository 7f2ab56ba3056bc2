"""The report for people on a terminal: a summary table, then the findings grouped by artifact, worst
artifact first, each with its rule id, location, explanation and fix advice from the rulebook.

Colour only when asked (the command asks when the stream is a terminal and ``NO_COLOR`` is unset).
Clean artifacts are counted in the summary, not listed one by one; suppressed findings are counted, and
the JSON, SARIF and HTML outputs keep them with their reasons.
"""

from __future__ import annotations

import io
from collections import Counter

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from scanner.model import Finding, ScanReport, ScanResult, Severity
from scanner.report._safe import printable
from scanner.report.interface import Renderer
from scanner.rulebook import all_rules

_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}
_VERDICT_STYLE = {"pass": "bold green", "fail": "bold red", "incomplete": "bold yellow"}
_INDENT = " " * 11


def _e(text: str) -> str:
    """Artifact-controlled text made printable and markup-inert."""
    return escape(printable(text))


def _rank(result: ScanResult) -> tuple[int, str]:
    worst = result.worst
    return (-(int(worst) if worst is not None else -1) - (10 if result.errors else 0), result.artifact.path)


def _counts(report: ScanReport) -> tuple[Counter[Severity], int]:
    counts: Counter[Severity] = Counter()
    suppressed = 0
    for r in report.results:
        for f in r.findings:
            if f.suppressed_by is None:
                counts[f.severity] += 1
            else:
                suppressed += 1
    return counts, suppressed


class TextRenderer(Renderer):
    """Plain or coloured terminal text."""

    name = "text"

    def __init__(self, color: bool = False, width: int = 100) -> None:
        self.color = color
        self.width = width

    def _summary(self, console: Console, report: ScanReport) -> None:
        counts, suppressed = _counts(report)
        formats = Counter(r.format for r in report.results)
        worst = max((r.worst for r in report.results if r.worst is not None), default=None)
        errors = len(report.errors) + sum(len(r.errors) for r in report.results)
        table = Table(box=box.SIMPLE, show_header=False, show_edge=False, pad_edge=False)
        table.add_column("key", style="bold")
        table.add_column("value")
        verdict = report.verdict.value
        table.add_row(
            "verdict", f"[{_VERDICT_STYLE[verdict]}]{verdict.upper()}[/] (fail on {report.fail_on.label})"
        )
        table.add_row("artifacts", str(len(report.results)))
        table.add_row("formats", _e(", ".join(f"{name} {n}" for name, n in sorted(formats.items()))) or "-")
        table.add_row("worst severity", worst.label if worst is not None else "none")
        table.add_row(
            "findings",
            "  ".join(f"[{_STYLE[s]}]{s.label}[/] {counts[s]}" for s in reversed(Severity)),
        )
        table.add_row("suppressed", str(suppressed))
        table.add_row("errors", str(errors))
        console.print(table)

    def _finding(self, console: Console, f: Finding) -> None:
        where = f.location.describe()
        line = f"  [{_STYLE[f.severity]}]{f.severity.label.upper():8}[/] {f.rule_id} {_e(f.title)}"
        if where:
            line += f"  [dim]({_e(where)})[/]"
        console.print(line)
        if f.detail:
            console.print(f"{_INDENT}{_e(f.detail)}")
        if f.evidence:
            console.print(f"{_INDENT}evidence: {_e(f.evidence)}")
        chain = f.extra.get("call_chain")
        if isinstance(chain, (list, tuple)) and chain:
            console.print(f"{_INDENT}call chain: {_e(' -> '.join(map(str, chain)))}")
        rule = all_rules().get(f.rule_id)
        if rule is not None and f.severity >= Severity.LOW:
            console.print(f"{_INDENT}fix: {_e(rule.fix)}")

    def render(self, report: ScanReport) -> str:
        buffer = io.StringIO()
        console = Console(
            file=buffer,
            force_terminal=self.color,
            no_color=not self.color,
            width=self.width,
            highlight=False,
            soft_wrap=True,
        )
        self._summary(console, report)
        clean = 0
        for result in sorted(report.results, key=_rank):
            active = [f for f in result.findings if f.suppressed_by is None]
            if not active and not result.errors:
                clean += 1
                continue
            worst = result.worst
            label = worst.label.upper() if worst is not None else "clean"
            digest = result.digests.sha256[:16] + "…" if result.digests else "-"
            console.print(
                f"\n[bold]{_e(result.artifact.path)}[/]  format={_e(result.format)}  "
                f"sha256={digest}  worst={label}"
            )
            for f in active:
                self._finding(console, f)
            for e in result.errors:
                member = f" ({_e(e.member)})" if e.member else ""
                console.print(f"  [bold magenta]ERROR[/]    {_e(e.analyzer)}: {_e(e.message)}{member}")
        for path_error in report.errors:
            console.print(f"[bold magenta]ERROR[/] {_e(path_error.message)}")
        counts, suppressed = _counts(report)
        summary = ", ".join(f"{counts[s]} {s.label}" for s in reversed(Severity) if counts[s])
        tail = f"; {suppressed} suppressed" if suppressed else ""
        console.print(
            f"\n{len(report.results)} artifact(s), {clean} without findings; findings: {summary or 'none'}"
            f"{tail}; verdict: [bold]{report.verdict.value.upper()}[/] (fail on {report.fail_on.label})"
        )
        return buffer.getvalue()
