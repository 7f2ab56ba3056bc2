"""The audit: dependencies from a source, answers from the services, and the findings they make.

Used by ``artifact-scanner audit``, by the scan analyzer of dependency files and by the scan step that
audits versions recorded in artifacts. Severity of a vulnerability: its CVSS base score when the advisory
gives one (computed from the vector), else its qualitative severity, else the rule's default (high).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from scanner.deps.cvss import severity_of_label, severity_of_score
from scanner.deps.interface import (
    Advisory,
    Dependency,
    IndexOption,
    ServiceError,
    SourceProblem,
    SourceResult,
    VulnerabilityService,
)
from scanner.deps.osv_store import VulnDbError, open_store
from scanner.deps.services.ml_rules import MlRulesService
from scanner.deps.services.offline import OfflineOsvService
from scanner.model import Finding, Severity
from scanner.rulebook import finding, get_rule

ANALYZER = "deps"
RECORDED_CAP = Severity.LOW
"""Highest severity of a vulnerability found in a version recorded by an artifact (e.g. ONNX
``producer_version``, config.json ``transformers_version``): benign models saved with an old framework must
not fail a scan, while declared, locked and installed versions take the advisory's severity."""
_MAX_LISTED = 20


@dataclass(frozen=True)
class AuditSetup:
    """The services an audit asks, and what is missing."""

    services: tuple[VulnerabilityService, ...]
    """Services in the order they are asked (ML rules first, so their richer finding wins a duplicate)."""
    vulnerability_data: bool
    """Whether a general advisory source (offline index or online service) is available."""
    notes: tuple[str, ...] = ()
    """Why a source is missing (for the "audit did not run" coverage note)."""

    def describe(self) -> list[str]:
        """One line per service."""
        return [s.describe() for s in self.services]


def setup_services(vuln_db: str | None, *, use_default: bool = True, online: str | None = None) -> AuditSetup:
    """Services for ``--vuln-db`` (or the default index when ``use_default``) and ``--online``.

    Raises :class:`VulnDbError` when a database named explicitly cannot be used.
    """
    services: list[VulnerabilityService] = [MlRulesService()]
    notes: list[str] = []
    data = False
    if vuln_db is not None or use_default:
        try:
            services.append(OfflineOsvService(open_store(vuln_db)))
            data = True
        except VulnDbError as exc:
            if vuln_db is not None:
                raise
            notes.append(str(exc))
    if online:
        from scanner.deps.services.pip_audit_bridge import PipAuditService

        services.append(PipAuditService(online))
        data = True
    if not data:
        notes.append(
            "no --vuln-db, no imported database and no --online: only ML-specific rules were checked"
        )
    return AuditSetup(tuple(services), data, tuple(notes))


@dataclass
class AuditOutcome:
    """Findings and notes for one audited input."""

    findings: list[Finding] = field(default_factory=list)
    """Findings in a stable order."""
    errors: list[str] = field(default_factory=list)
    """Service failures (the result is then incomplete)."""
    not_analyzed: list[str] = field(default_factory=list)
    """Coverage notes (includes not followed, dependencies not checked)."""


def purl(dep: Dependency) -> str:
    """The package URL of a pinned PyPI dependency."""
    return f"pkg:pypi/{dep.canonical}@{dep.version}" if dep.version else f"pkg:pypi/{dep.canonical}"


def severity_of(advisory: Advisory) -> Severity | None:
    """The advisory's own severity (``None``: take the rule's default)."""
    if advisory.cvss_score is not None:
        return severity_of_score(advisory.cvss_score)
    if advisory.qualitative_severity:
        return severity_of_label(advisory.qualitative_severity)
    return None


def vulnerability_finding(dep: Dependency, advisory: Advisory, member: str | None = None) -> Finding:
    """The finding for one advisory affecting one dependency."""
    rule = "AS-DEP-006" if advisory.service == "ml-rules" else "AS-DEP-001"
    fixed = ", ".join(advisory.fixed_in) or "none published"
    aliases = f" ({', '.join(advisory.aliases)})" if advisory.aliases else ""
    score = f"; CVSS {advisory.cvss_score}" if advisory.cvss_score is not None else ""
    detail = (
        f"{dep.where}: {dep.name} {dep.version} is affected by {advisory.id}{aliases}"
        f"{' in range ' + advisory.affected_range if advisory.affected_range else ' (listed version)'}"
        f"; fixed in {fixed}{score}. {advisory.summary}"
    ).strip()
    if advisory.reference:
        detail += f" See {advisory.reference}"
    severity = severity_of(advisory)
    if dep.origin == "artifact":
        # A recorded version is what the model was saved with, not what will load it: inform, do not fail.
        severity = min(severity if severity is not None else get_rule(rule).severity, RECORDED_CAP)
        detail = (
            f"{detail} (Recorded in the artifact: the version it was saved with, not necessarily the one "
            f"that will load it; severity capped at {RECORDED_CAP.label}.)"
        )
    return finding(
        rule,
        analyzer=ANALYZER,
        member=member,
        severity=severity,
        title=f"Vulnerable dependency {dep.name} {dep.version}: {advisory.id}"
        if rule == "AS-DEP-001"
        else f"{dep.name} {dep.version}: model loader executes code ({advisory.id})",
        detail=detail,
        evidence=f"{dep.name}=={dep.version}",
        extra={
            "package": dep.canonical,
            "version": dep.version,
            "vulnerability_id": advisory.id,
            "aliases": list(advisory.aliases),
            "fixed_in": list(advisory.fixed_in),
            "affected_range": advisory.affected_range,
            "cvss_score": advisory.cvss_score,
            "cvss_vector": advisory.cvss_vector,
            "purl": purl(dep),
            "source": dep.where,
            "service": advisory.service,
            "origin": dep.origin,
        },
    )


def _problem_findings(problems: Iterable[SourceProblem], member: str | None, outcome: AuditOutcome) -> None:
    for problem in problems:
        if problem.kind == "malformed":
            outcome.findings.append(
                finding(
                    "AS-DEP-004",
                    analyzer=ANALYZER,
                    member=member,
                    detail=problem.message,
                    evidence=problem.text,
                    extra={"source": problem.source, "line": problem.line},
                )
            )
        elif problem.kind == "limit":
            outcome.findings.append(
                finding("AS-GEN-004", analyzer=ANALYZER, member=member, detail=problem.message)
            )
            outcome.not_analyzed.append(problem.message)
        else:
            outcome.not_analyzed.append(problem.message)


def _policy_findings(deps: Sequence[Dependency], member: str | None, outcome: AuditOutcome) -> None:
    unhashed: list[Dependency] = []
    for dep in deps:
        extra = {"package": dep.canonical, "source": dep.where, "origin": dep.origin}
        if dep.direct_reference is not None:
            outcome.findings.append(
                finding(
                    "AS-DEP-007",
                    analyzer=ANALYZER,
                    member=member,
                    detail=f"{dep.where}: {dep.name} is installed from {dep.direct_reference}",
                    evidence=dep.direct_reference,
                    extra=extra,
                )
            )
        elif dep.version is None and dep.origin != "constraints":
            spec = dep.specifier or "any version"
            outcome.findings.append(
                finding(
                    "AS-DEP-002",
                    analyzer=ANALYZER,
                    member=member,
                    detail=f"{dep.where}: {dep.name} is not pinned to one version ({spec})",
                    evidence=f"{dep.name}{dep.specifier}",
                    extra={**extra, "specifier": dep.specifier},
                )
            )
        elif dep.hashable and dep.version is not None and not dep.hashes:
            unhashed.append(dep)
    if unhashed:
        names = [f"{d.name}=={d.version}" for d in unhashed]
        shown = ", ".join(names[:_MAX_LISTED]) + (
            f" and {len(names) - _MAX_LISTED} more" if len(names) > _MAX_LISTED else ""
        )
        outcome.findings.append(
            finding(
                "AS-DEP-003",
                analyzer=ANALYZER,
                member=member,
                detail=f"{unhashed[0].source}: {len(unhashed)} pinned requirement(s) without --hash: {shown}",
                evidence=shown,
                extra={"packages": sorted({d.canonical for d in unhashed})},
            )
        )


def _index_findings(options: Iterable[IndexOption], member: str | None, outcome: AuditOutcome) -> None:
    for opt in options:
        insecure = opt.value.lower().startswith("http://")
        if opt.option == "--extra-index-url":
            why = "packages may be taken from either index, whichever offers the higher version"
        elif opt.option == "--trusted-host":
            why = "TLS certificate checks are disabled for this host"
        elif insecure:
            why = "packages are downloaded over plain HTTP"
        else:
            continue
        outcome.findings.append(
            finding(
                "AS-DEP-008",
                analyzer=ANALYZER,
                member=member,
                detail=f"{opt.source}:{opt.line}: {opt.option} {opt.value}: {why}",
                evidence=f"{opt.option} {opt.value}",
                extra={"option": opt.option, "value": opt.value, "source": f"{opt.source}:{opt.line}"},
            )
        )


def _same(a: Advisory, b: Advisory) -> bool:
    return bool({a.id, *a.aliases} & {b.id, *b.aliases})


def vulnerability_findings(
    deps: Sequence[Dependency], setup: AuditSetup, member: str | None, outcome: AuditOutcome
) -> None:
    """Ask every service about the pinned dependencies; one finding per distinct advisory."""
    pinned = [d for d in deps if d.version is not None and d.direct_reference is None]
    reported: dict[tuple[str, str, str], list[Advisory]] = {}
    for service in setup.services:
        try:
            answers = list(service.query_all(pinned))
        except ServiceError as exc:
            outcome.errors.append(f"{service.name}: {exc}")
            continue
        for answer in answers:
            dep = answer.dependency
            key = (dep.where, dep.canonical, dep.version or "")
            seen = reported.setdefault(key, [])
            for advisory in answer.advisories:
                if any(_same(advisory, earlier) for earlier in seen):
                    continue
                seen.append(advisory)
                outcome.findings.append(vulnerability_finding(dep, advisory, member))
            if answer.skipped and service.name != "ml-rules":
                outcome.not_analyzed.append(f"{dep.where}: {dep.name}: {answer.skipped}")


def audit_source(
    result: SourceResult,
    setup: AuditSetup,
    member: str | None = None,
    *,
    policy: bool = True,
    note_finding: bool = True,
) -> AuditOutcome:
    """Findings for what one source found: problems, policy (unpinned, unhashed) and vulnerabilities.

    Without vulnerability data the audit "did not run": a coverage note always, and an AS-DEP-005
    finding too when ``note_finding`` (the audit command; a scan keeps it to the coverage note).
    """
    outcome = AuditOutcome()
    _problem_findings(result.problems, member, outcome)
    if policy:
        _policy_findings(result.dependencies, member, outcome)
        _index_findings(result.index_options, member, outcome)
    vulnerability_findings(result.dependencies, setup, member, outcome)
    if not setup.vulnerability_data and result.dependencies:
        reason = "; ".join(setup.notes)
        outcome.not_analyzed.append(f"dependency vulnerabilities not checked: {reason}")
        if not note_finding:
            return outcome
        outcome.findings.append(
            finding(
                "AS-DEP-005",
                analyzer=ANALYZER,
                member=member,
                detail=f"{len(result.dependencies)} dependencies listed but not checked for "
                f"vulnerabilities: {reason}",
            )
        )
    return outcome
