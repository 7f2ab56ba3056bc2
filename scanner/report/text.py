"""The report for people: artifacts grouped worst first, each finding with its rule, location and fix."""

from __future__ import annotations

import io

from rich.console import Console
from rich.markup import escape

from scanner.model import ScanReport, ScanResult, Severity
from scanner.report.interface import Renderer
from scanner.rulebook import get_rule

_STYLE = {
    Severity.CRITICAL: "bold white on red",
    Severity.HIGH: "bold red",
    Severity.MEDIUM: "yellow",
    Severity.LOW: "cyan",
    Severity.INFO: "dim",
}


def _rank(result: ScanResult) -> tuple[int, str]:
    worst = result.worst
    return (-(int(worst) if worst is not None else -1) - (10 if result.errors else 0), result.artifact.path)


class TextRenderer(Renderer):
    """Plain or coloured terminal text."""

    name = "text"

    def __init__(self, color: bool = False, width: int = 100) -> None:
        self.color = color
        self.width = width

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
        for result in sorted(report.results, key=_rank):
            worst = result.worst
            label = worst.label.upper() if worst is not None else "clean"
            digest = result.digests.sha256[:16] if result.digests else "-"
            console.print(
                f"[bold]{escape(result.artifact.path)}[/]  format={escape(result.format)}  "
                f"sha256={digest}…  worst={label}"
            )
            for f in result.findings:
                where = f.location.describe()
                style = _STYLE[f.severity]
                line = f"  [{style}]{f.severity.label.upper():8}[/] {f.rule_id} {escape(f.title)}"
                if where:
                    line += f"  [dim]({escape(where)})[/]"
                console.print(line)
                if f.detail:
                    console.print(f"           {escape(f.detail)}")
                if f.evidence:
                    console.print(f"           evidence: {escape(f.evidence)}")
                if f.severity >= Severity.MEDIUM:
                    console.print(f"           fix: {escape(get_rule(f.rule_id).fix)}")
            for e in result.errors:
                console.print(f"  [bold magenta]ERROR[/]    {escape(e.analyzer)}: {escape(e.message)}")
        for path_error in report.errors:
            console.print(f"[bold magenta]ERROR[/] {escape(path_error.message)}")
        counts = {s: 0 for s in Severity}
        for r in report.results:
            for f in r.findings:
                if f.suppressed_by is None:
                    counts[f.severity] += 1
        summary = ", ".join(f"{n} {s.label}" for s, n in sorted(counts.items(), reverse=True) if n)
        console.print(
            f"\n{len(report.results)} artifact(s), findings: {summary or 'none'}; "
            f"verdict: [bold]{report.verdict.value.upper()}[/] (fail on {report.fail_on.label})"
        )
        return buffer.getvalue()
