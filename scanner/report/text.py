"""The report for people on a terminal: a summary table, then the findings grouped by artifact, worst
artifact first, each with its rule id, location, explanation and fix advice from the rulebook.

Colour only when asked (the command asks when the stream is a terminal and ``NO_COLOR`` is unset).
Clean artifacts are counted in the summary, not listed one by one; suppressed findings are counted, and
the JSON, SARIF and HTML outputs keep them with their reasons. Every string from an artifact is made
printable first (no control sequence reaches the terminal); in colour mode it is also markup-escaped,
and emoji codes are not interpreted. Plain mode builds the text directly, which keeps a report of
thousands of findings fast.
"""

from __future__ import annotations

import io
from collections import Counter

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


def _rank(result: ScanResult) -> tuple[int, str]:
    worst = result.worst
    return (-(int(worst) if worst is not None else -1) - (10 if result.errors else 0), result.artifact.path)


def _first_sentence(text: str) -> str:
    """The rationale's first sentence: the short explanation a terminal line has room for."""
    end = text.find(". ")
    return text if end < 0 else text[: end + 1]


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

    def _t(self, text: str) -> str:
        """Artifact-controlled text, printable and (in colour mode) markup-inert."""
        safe = printable(text)
        if not self.color:
            return safe
        from rich.markup import escape  # rich only for colour: plain text skips its ~35 ms import

        return escape(safe)

    def _paint(self, text: str, style: str) -> str:
        """``text`` (already safe) in ``style`` when colouring."""
        return f"[{style}]{text}[/]" if self.color else text

    def _summary(self, report: ScanReport) -> list[str]:
        counts, suppressed = _counts(report)
        formats = Counter(r.format for r in report.results)
        worst = max((r.worst for r in report.results if r.worst is not None), default=None)
        errors = len(report.errors) + sum(len(r.errors) for r in report.results)
        verdict = report.verdict.value
        listed = ", ".join(f"{name} {n}" for name, n in sorted(formats.items()))
        rows = [
            (
                "verdict",
                f"{self._paint(verdict.upper(), _VERDICT_STYLE[verdict])} (fail on {report.fail_on.label})",
            ),
            ("artifacts", str(len(report.results))),
            ("formats", self._t(listed) or "-"),
            ("worst severity", worst.label if worst is not None else "none"),
            (
                "findings",
                "  ".join(f"{self._paint(s.label, _STYLE[s])} {counts[s]}" for s in reversed(Severity)),
            ),
            ("suppressed", str(suppressed)),
            ("errors", str(errors)),
        ]
        return [f"{self._paint(key.ljust(16), 'bold')}{value}" for key, value in rows]

    def _finding(self, f: Finding) -> list[str]:
        where = f.location.describe()
        severity = self._paint(f"{f.severity.label.upper():8}", _STYLE[f.severity])
        line = f"  {severity} {f.rule_id} {self._t(f.title)}"
        if where:
            line += "  " + self._paint(f"({self._t(where)})", "dim")
        lines = [line]
        if f.detail:
            lines.append(f"{_INDENT}{self._t(f.detail)}")
        if f.evidence:
            lines.append(f"{_INDENT}evidence: {self._t(f.evidence)}")
        chain = f.extra.get("call_chain")
        if isinstance(chain, (list, tuple)) and chain:
            lines.append(f"{_INDENT}call chain: {self._t(' -> '.join(map(str, chain)))}")
        rule = all_rules().get(f.rule_id)
        if rule is not None and f.severity >= Severity.LOW:
            lines.append(f"{_INDENT}why: {self._t(_first_sentence(rule.rationale))}")
            lines.append(f"{_INDENT}fix: {self._t(rule.fix)}")
        return lines

    def render(self, report: ScanReport) -> str:
        lines = self._summary(report)
        clean = 0
        for result in sorted(report.results, key=_rank):
            active = [f for f in result.findings if f.suppressed_by is None]
            if not active and not result.errors:
                clean += 1
                continue
            worst = result.worst
            label = worst.label.upper() if worst is not None else "clean"
            digest = result.digests.sha256[:16] + "…" if result.digests else "-"
            lines.append("")
            lines.append(
                f"{self._paint(self._t(result.artifact.path), 'bold')}  format={self._t(result.format)}  "
                f"sha256={digest}  worst={label}"
            )
            for f in active:
                lines.extend(self._finding(f))
            for e in result.errors:
                member = f" ({self._t(e.member)})" if e.member else ""
                error = self._paint("ERROR", "bold magenta")
                lines.append(f"  {error}    {self._t(e.analyzer)}: {self._t(e.message)}{member}")
        for path_error in report.errors:
            lines.append(f"{self._paint('ERROR', 'bold magenta')} {self._t(path_error.message)}")
        counts, suppressed = _counts(report)
        summary = ", ".join(f"{counts[s]} {s.label}" for s in reversed(Severity) if counts[s])
        tail = f"; {suppressed} suppressed" if suppressed else ""
        lines.append("")
        lines.append(
            f"{len(report.results)} artifact(s), {clean} without findings; findings: {summary or 'none'}"
            f"{tail}; verdict: {self._paint(report.verdict.value.upper(), 'bold')} "
            f"(fail on {report.fail_on.label})"
        )
        text = "\n".join(lines) + "\n"
        if not self.color:
            return text
        from rich.console import Console

        buffer = io.StringIO()
        console = Console(
            file=buffer,
            force_terminal=True,
            width=self.width,
            highlight=False,
            emoji=False,
            soft_wrap=True,
        )
        console.print(text, end="")
        return buffer.getvalue()
