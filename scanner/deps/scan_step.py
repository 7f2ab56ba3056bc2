"""The dependency audit inside ``scan``: the services a scan uses, and the whole-scan step that audits
package versions the format analyzers recorded in ``ScanResult.properties["libraries"]``."""

from __future__ import annotations

import functools
from dataclasses import replace
from typing import TYPE_CHECKING

from scanner.engine import finalize_findings
from scanner.model import AnalyzerError, Coverage, NotAnalyzed, ScanReport, compute_verdict
from scanner.policy import Policy

if TYPE_CHECKING:
    from scanner.deps.audit import AuditSetup


@functools.lru_cache(maxsize=8)
def scan_setup(vuln_db: str | None) -> AuditSetup:
    """Services for a scan: the ML-specific rules always, the advisory index only with ``--vuln-db``
    (a scan never reads the default index implicitly, so its result depends on its arguments only)."""
    from scanner.deps.audit import setup_services

    if vuln_db is None:
        setup = setup_services(None, use_default=False)
        return replace(setup, notes=("no --vuln-db given: only ML-specific rules were checked",))
    return setup_services(vuln_db)


def audit_recorded_libraries(report: ScanReport, vuln_db: str | None, policy: Policy) -> ScanReport:
    """Add findings for vulnerable library versions recorded in artifacts; recompute the verdict."""
    if vuln_db is None and not any(r.properties.get("libraries") for r in report.results):
        return report  # nothing to audit (and the audit's modules stay unimported)
    from scanner.deps.audit import audit_source
    from scanner.deps.sources.recorded import RecordedLibrariesSource

    setup = scan_setup(vuln_db)
    results = []
    for result in report.results:
        libraries = result.properties.get("libraries")
        if not isinstance(libraries, dict) or not libraries:
            results.append(result)
            continue
        source = RecordedLibrariesSource(libraries, result.artifact.path).collect()
        outcome = audit_source(source, setup, policy=False, note_finding=False)
        if not outcome.findings and not outcome.errors and setup.vulnerability_data:
            results.append(result)
            continue
        notes = tuple(NotAnalyzed(None, n) for n in outcome.not_analyzed)
        if not setup.vulnerability_data:
            notes += (NotAnalyzed(None, f"recorded library versions: {setup.notes[0]}"),)
        results.append(
            replace(
                result,
                findings=finalize_findings([*result.findings, *outcome.findings], policy),
                errors=result.errors + tuple(AnalyzerError("deps", m) for m in outcome.errors),
                coverage=Coverage(result.coverage.analyzed, result.coverage.not_analyzed + notes),
            )
        )
    final = tuple(results)
    extras = dict(report.extras)
    if vuln_db is not None:
        extras["dependency_audit"] = {
            "services": setup.describe(),
            "vulnerability_data": setup.vulnerability_data,
            "notes": list(setup.notes),
        }
    return replace(
        report, results=final, verdict=compute_verdict(final, report.errors, report.fail_on), extras=extras
    )
