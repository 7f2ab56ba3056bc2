"""``audit`` as a library: dependency files, model directories and environments into a ScanReport, so
every existing renderer (text, JSON, and later SARIF, HTML, BOM) shows the audit like a scan."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scanner.deps.audit import ANALYZER, AuditOutcome, AuditSetup, audit_source
from scanner.deps.interface import DependencySourceError, SourceResult
from scanner.deps.sources._common import read_text
from scanner.deps.sources.installed import InstalledSource
from scanner.deps.sources.recorded import RecordedLibrariesSource
from scanner.deps.sources.select import kind_of, source_for
from scanner.engine import finalize_findings, timestamp
from scanner.hashing import DirectoryEntry, HashError, directory_digest, hash_file
from scanner.model import (
    AnalyzerError,
    Artifact,
    Coverage,
    Digests,
    NotAnalyzed,
    PathError,
    ScanReport,
    ScanResult,
    Severity,
    compute_verdict,
)
from scanner.policy import Policy, default_policy
from scanner.rulebook import finding
from scanner.walk import list_artifacts

CONFIG_NAMES = ("config.json",)
"""Artifact files whose recorded versions are audited (``transformers_version``)."""
MAX_LISTED_DEPENDENCIES = 1000
"""Dependencies kept in a result's ``dependencies`` property."""


@dataclass(frozen=True)
class AuditOptions:
    """How to audit."""

    setup: AuditSetup
    """The services to ask."""
    policy: Policy = field(default_factory=default_policy)
    """Overrides and threshold."""
    fail_on: Severity | None = None
    """Threshold; ``None`` takes the policy's."""
    reproducible: bool = False
    """Pin the timestamp."""
    artifacts: bool = False
    """Also scan the other files of directories for library versions they record (as slow as a scan)."""

    @property
    def threshold(self) -> Severity:
        """The effective fail-on severity."""
        return self.fail_on if self.fail_on is not None else self.policy.fail_on


def audited_kind(name: str, named_explicitly: bool) -> str | None:
    """The source kind for a file name; a file named on the command line defaults to requirements."""
    kind = kind_of(name)
    if kind is None and name in CONFIG_NAMES:
        return "config.json"
    if kind is None and named_explicitly and os.path.splitext(name)[1].lower() in (".txt", ".in", ""):
        return "requirements"
    return kind


def dependency_rows(result: SourceResult) -> list[dict[str, Any]]:
    """The ``dependencies`` property: what was found, for reports and the BOM."""
    return [
        {
            "name": d.canonical,
            "version": d.version,
            "specifier": d.specifier,
            "source": d.where,
            "origin": d.origin,
            "direct_reference": d.direct_reference,
        }
        for d in result.dependencies[:MAX_LISTED_DEPENDENCIES]
    ]


def _result(
    artifact: Artifact,
    digests: Digests | None,
    kind: str,
    outcome: AuditOutcome,
    options: AuditOptions,
    source: SourceResult | None,
    errors: list[str],
) -> ScanResult:
    properties: dict[str, Any] = {}
    if source is not None:
        properties["dependencies"] = dependency_rows(source)
        properties["dependency_files"] = list(source.files)
    return ScanResult(
        artifact=artifact,
        digests=digests,
        format=kind,
        findings=finalize_findings(outcome.findings, options.policy),
        errors=tuple(AnalyzerError(ANALYZER, m) for m in [*errors, *outcome.errors]),
        coverage=Coverage(
            analyzed=(f"{ANALYZER}:.",),
            not_analyzed=tuple(NotAnalyzed(None, note) for note in outcome.not_analyzed),
        ),
        properties=properties,
    )


def audit_file(artifact: Artifact, kind: str, options: AuditOptions) -> ScanResult:
    """Audit one dependency file (or config.json)."""
    errors: list[str] = []
    try:
        digests: Digests | None = hash_file(artifact.fs_path)
    except HashError as exc:
        digests = None
        errors.append(str(exc))
    path = Path(artifact.fs_path)
    try:
        text = read_text(path, artifact.path)
        root = Path(artifact.root) if os.path.isdir(artifact.root) else path.resolve().parent
        source = source_for(kind, text, artifact.path, path, root).collect()
    except DependencySourceError as exc:
        outcome = AuditOutcome()
        outcome.findings.append(finding("AS-DEP-004", analyzer=ANALYZER, detail=str(exc)))
        return _result(artifact, digests, kind, outcome, options, None, [*errors, str(exc)])
    outcome = audit_source(source, options.setup, policy=kind != "config.json")
    return _result(artifact, digests, kind, outcome, options, source, errors)


def audit_environment(path: str, options: AuditOptions) -> ScanResult:
    """Audit an installed environment (its dist-info METADATA, never its interpreter)."""
    root = Path(path)
    artifact = Artifact(path=path, fs_path=str(root), root=path, relpath=".", size=0)
    try:
        source = InstalledSource(root, path).collect()
    except DependencySourceError as exc:
        return _result(artifact, None, "python-environment", AuditOutcome(), options, None, [str(exc)])
    entries: list[DirectoryEntry] = []
    errors: list[str] = []
    for shown in source.files:
        relative = shown[len(path.rstrip("/")) + 1 :]
        try:
            entries.append(DirectoryEntry(relative, hash_file(os.path.join(path, relative))))
        except HashError as exc:
            errors.append(str(exc))
    outcome = audit_source(source, options.setup, policy=False)
    digests = directory_digest(entries) if entries else None
    return _result(artifact, digests, "python-environment", outcome, options, source, errors)


def audit_artifact(artifact: Artifact, options: AuditOptions) -> ScanResult | None:
    """Scan a model file for the library versions it records and audit them (``None``: it records none)."""
    from scanner.engine import ScanOptions, scan_artifact

    scanned = scan_artifact(artifact, ScanOptions(policy=options.policy, reproducible=options.reproducible))
    libraries = scanned.properties.get("libraries")
    if not isinstance(libraries, dict) or not libraries:
        return None
    source = RecordedLibrariesSource(libraries, artifact.path).collect()
    outcome = audit_source(source, options.setup, policy=False, note_finding=False)
    outcome.not_analyzed.extend(f"scan of the artifact: {e.analyzer}: {e.message}" for e in scanned.errors)
    result = _result(artifact, scanned.digests, scanned.format, outcome, options, source, [])
    return replace(result, properties={**result.properties, "libraries": dict(libraries)})


def audit_paths(paths: list[str], environments: list[str], options: AuditOptions) -> ScanReport:
    """Audit files and directories (their dependency files and config.json, and with
    ``options.artifacts`` the versions other files record) and environments."""
    results: list[ScanResult] = []
    path_errors: list[PathError] = []
    for path in paths:
        listing = list_artifacts([path])
        path_errors.extend(listing.errors)
        explicit = os.path.isfile(path)
        for artifact in listing.artifacts:
            kind = audited_kind(os.path.basename(artifact.relpath), explicit)
            if kind is not None:
                results.append(audit_file(artifact, kind, options))
            elif options.artifacts:
                recorded = audit_artifact(artifact, options)
                if recorded is not None:
                    results.append(recorded)
            elif explicit:
                path_errors.append(
                    PathError(
                        artifact.path,
                        f"{artifact.path}: not a dependency file (name it requirements*.txt, pyproject.toml, "
                        "a lock file or config.json; use --artifacts for versions a model file records)",
                    )
                )
    results.extend(audit_environment(env, options) for env in environments)
    final = tuple(results)
    threshold = options.threshold
    return ScanReport(
        results=final,
        errors=tuple(path_errors),
        fail_on=threshold,
        verdict=compute_verdict(final, tuple(path_errors), threshold),
        generated_at=timestamp(options.reproducible),
        extras={
            "dependency_audit": {
                "services": options.setup.describe(),
                "vulnerability_data": options.setup.vulnerability_data,
                "notes": list(options.setup.notes),
            }
        },
    )
