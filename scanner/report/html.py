"""The vendor-intake review report: one self-contained HTML file (no script, font, image or style from
anywhere else; a Content-Security-Policy forbids loading any).

Everything that comes from an artifact (file names, metadata, evidence, decompiled code) reaches the page
through Jinja2 autoescaping, and every string is passed through secret redaction once more before
rendering, so a hostile name cannot inject markup and no secret is shown in full.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from importlib import resources
from typing import Any

import jinja2

from scanner import __version__
from scanner.fingerprint import finding_fingerprint
from scanner.model import Finding, ScanReport, ScanResult, Severity
from scanner.report._safe import encodable_tree, printable
from scanner.report.interface import Renderer
from scanner.rulebook import all_rules
from scanner.secret_scan import redact_tree

TEMPLATE = "report.html.j2"


@functools.cache
def _template() -> jinja2.Template:
    text = (resources.files("scanner.report") / "templates" / TEMPLATE).read_text(encoding="utf-8")
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined, keep_trailing_newline=True)
    return env.from_string(text)


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{n} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{n} B"


def _finding_view(f: Finding, r: ScanResult) -> dict[str, Any]:
    rule = all_rules().get(f.rule_id)
    chain = f.extra.get("call_chain")
    decompiled = f.extra.get("decompiled")
    suppression = f.extra.get("suppression")
    return {
        "severity": f.severity.label,
        "rule_id": f.rule_id,
        "title": f.title,
        "detail": f.detail,
        "location": f.location.describe(),
        "evidence": f.evidence,
        "rationale": rule.rationale if rule else "",
        "fix": rule.fix if rule else "",
        "reference": f.reference,
        "reference_is_link": bool(f.reference and f.reference.startswith("https://")),
        "decompiled": decompiled if isinstance(decompiled, str) else None,
        "call_chain": [str(c) for c in chain] if isinstance(chain, (list, tuple)) else [],
        "suppressed_by": f.suppressed_by,
        "suppression_owner": suppression.get("owner") if isinstance(suppression, Mapping) else None,
        "fingerprint": finding_fingerprint(r.artifact, f),
    }


def _vulnerability_view(f: Finding, r: ScanResult) -> dict[str, Any] | None:
    if "vulnerability_id" not in f.extra:
        return None
    aliases = f.extra.get("aliases")
    fixed = f.extra.get("fixed_in")
    return {
        "artifact": r.artifact.path,
        "package": str(f.extra.get("package", "")),
        "version": str(f.extra.get("version", "")),
        "id": str(f.extra.get("vulnerability_id", "")),
        "aliases": ", ".join(map(str, aliases)) if isinstance(aliases, (list, tuple)) else "",
        "fixed_in": ", ".join(map(str, fixed)) if isinstance(fixed, (list, tuple)) else str(fixed or ""),
        "severity": f.severity.label,
        "suppressed": f.suppressed_by is not None,
    }


def report_view(report: ScanReport) -> dict[str, Any]:
    """The data the template shows, every string redacted."""
    counts = {s.label: 0 for s in sorted(Severity, reverse=True)}
    artifacts: list[dict[str, Any]] = []
    vulnerabilities: list[dict[str, Any]] = []
    not_analyzed: list[dict[str, Any]] = []
    suppressed = 0
    for index, r in enumerate(report.results):
        active = [f for f in r.findings if f.suppressed_by is None]
        for f in active:
            counts[f.severity.label] += 1
        suppressed += len(r.findings) - len(active)
        for f in r.findings:
            vuln = _vulnerability_view(f, r)
            if vuln is not None:
                vulnerabilities.append(vuln)
        for n in r.coverage.not_analyzed:
            not_analyzed.append({"artifact": r.artifact.path, "member": n.member or "", "reason": n.reason})
        for e in r.errors:
            not_analyzed.append(
                {
                    "artifact": r.artifact.path,
                    "member": e.member or "",
                    "reason": f"error: {e.analyzer}: {e.message}",
                }
            )
        worst = r.worst
        artifacts.append(
            {
                "anchor": f"artifact-{index}",
                "path": r.artifact.path,
                "format": r.format,
                "size": _size(r.digests.size if r.digests else r.artifact.size),
                "sha256": r.digests.sha256 if r.digests else None,
                "blake3": r.digests.blake3 if r.digests else None,
                "worst": worst.label if worst is not None else "clean",
                "active": len(active),
                "findings": [_finding_view(f, r) for f in r.findings],
                "errors": [f"{e.analyzer}: {e.message}" for e in r.errors],
            }
        )
    for path_error in report.errors:
        not_analyzed.append(
            {"artifact": path_error.path, "member": "", "reason": f"error: {path_error.message}"}
        )
    rank = {s.label: int(s) for s in Severity}
    ordered = sorted(
        artifacts, key=lambda a: (-rank.get(a["worst"], -1) - (10 if a["errors"] else 0), a["path"])
    )
    view = {
        "tool_version": __version__,
        "generated_at": report.generated_at,
        "verdict": report.verdict.value,
        "fail_on": report.fail_on.label,
        "counts": counts,
        "suppressed": suppressed,
        "artifacts": ordered,
        "vulnerabilities": vulnerabilities,
        "not_analyzed": not_analyzed,
        "baseline": report.extras.get("baseline"),
    }
    redacted: dict[str, Any] = redact_tree(encodable_tree(view, printable))
    return redacted


class HtmlRenderer(Renderer):
    """A self-contained HTML review report."""

    name = "html"

    def render(self, report: ScanReport) -> str:
        return _template().render(**report_view(report))
