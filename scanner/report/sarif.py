"""SARIF 2.1.0 for code-scanning tools: one run, every catalogue rule, one result per finding.

Mapping (documented in docs/reports.md):

- ``tool.driver.rules``: every rule of ``rules/`` sorted by id, with the rationale and fix as help text,
  ``defaultConfiguration.level`` and ``properties.security-severity`` from the rule's default severity;
- a result sits at the artifact's path (``artifactLocation.uri``, relative as the user named it); the
  member and byte offset inside the file go to ``properties`` (a region would point into the wrong
  bytes for a member of a container);
- ``partialFingerprints["artifactScanner/v1"]`` is :func:`scanner.fingerprint.finding_fingerprint`;
- a suppressed finding carries a SARIF ``suppressions`` entry (kind ``external``) with its reason; when
  a baseline was given every result has ``baselineState`` ``new`` or ``unchanged``;
- analyzer and path errors are ``toolExecutionNotifications`` of the single invocation.

No timestamps, durations, host names or absolute temporary paths are written, so two runs over the same
input give byte-identical output.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from scanner import __version__
from scanner.fingerprint import finding_fingerprint
from scanner.model import Finding, ScanReport, ScanResult, Severity
from scanner.report._safe import render_encodable
from scanner.report.interface import Renderer
from scanner.rulebook import Rule, all_rules

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "artifactScanner/v1"

LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
"""SARIF ``level`` per severity."""

SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "0.0",
}
"""``security-severity`` (a CVSS-like score GitHub buckets as critical >= 9, high >= 7, medium >= 4)."""


def artifact_uri(path: str) -> str:
    """A URI reference for a display path: relative paths stay relative, absolute ones become file URIs."""
    encoded = quote(path.encode("utf-8", "surrogateescape"), safe="/-._~")
    return f"file://{encoded}" if path.startswith("/") else encoded


def _rule_descriptor(rule: Rule) -> dict[str, Any]:
    help_text = f"{rule.rationale}\n\nFix: {rule.fix}"
    markdown = f"{rule.rationale}\n\n**Fix:** {rule.fix}"
    if rule.reference:
        help_text += f"\n\nReference: {rule.reference}"
        markdown += f"\n\n**Reference:** {rule.reference}"
    descriptor: dict[str, Any] = {
        "id": rule.id,
        "name": "".join(w.capitalize() for w in rule.title.replace("-", " ").split() if w.isalnum())
        or rule.id,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.rationale},
        "help": {"text": help_text, "markdown": markdown},
        "defaultConfiguration": {"level": LEVEL[rule.severity]},
        "properties": {
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "severity": rule.severity.label,
            "tags": ["security", rule.id.split("-")[1].lower()],
        },
    }
    if rule.reference and rule.reference.startswith("https://"):
        descriptor["helpUri"] = rule.reference
    return descriptor


def _result(
    f: Finding, r: ScanResult, artifact_index: int, rule_index: dict[str, int], baseline: bool
) -> dict[str, Any]:
    message = f.title if not f.detail else f"{f.title}: {f.detail}"
    props: dict[str, Any] = {"severity": f.severity.label, "analyzer": f.analyzer}
    if f.location.member is not None:
        props["member"] = f.location.member
    if f.location.offset is not None:
        props["offset"] = f.location.offset
    if f.evidence is not None:
        props["evidence"] = f.evidence
    if f.reference:
        props["reference"] = f.reference
    for key in ("module", "qualname", "call_chain", "vulnerability_id", "package", "version", "fixed_in"):
        if key in f.extra:
            props[key] = f.extra[key]
    out: dict[str, Any] = {
        "ruleId": f.rule_id,
        "ruleIndex": rule_index[f.rule_id],
        "level": LEVEL[f.severity],
        "message": {"text": message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": artifact_uri(r.artifact.path), "index": artifact_index}
                }
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: finding_fingerprint(r.artifact, f)},
        "properties": props,
    }
    if f.suppressed_by is not None:
        out["suppressions"] = [{"kind": "external", "status": "accepted", "justification": f.suppressed_by}]
    if baseline:
        suppression = f.extra.get("suppression")
        kind = suppression.get("kind") if isinstance(suppression, Mapping) else None
        out["baselineState"] = "unchanged" if kind == "baseline" else "new"
    return out


def report_to_sarif(report: ScanReport) -> dict[str, Any]:
    """The SARIF log as a dict."""
    rules = [all_rules()[k] for k in sorted(all_rules())]
    rule_index = {rule.id: i for i, rule in enumerate(rules)}
    baseline = "baseline" in report.extras
    artifacts: list[dict[str, Any]] = []
    results: list[dict[str, Any]] = []
    notifications: list[dict[str, Any]] = []
    for index, r in enumerate(report.results):
        uri = artifact_uri(r.artifact.path)
        entry: dict[str, Any] = {"location": {"uri": uri}, "length": r.artifact.size}
        if r.digests is not None:
            entry["length"] = r.digests.size
            entry["hashes"] = {"sha-256": r.digests.sha256, "blake3": r.digests.blake3}
        entry["properties"] = {"format": r.format}
        artifacts.append(entry)
        results.extend(_result(f, r, index, rule_index, baseline) for f in r.findings)
        for e in r.errors:
            text = f"{e.analyzer}: {e.message}" + (f" (member {e.member})" if e.member else "")
            notifications.append(
                {
                    "level": "error",
                    "message": {"text": text},
                    "locations": [
                        {
                            "physicalLocation": {
                                "artifactLocation": {"uri": artifact_uri(r.artifact.path), "index": index}
                            }
                        }
                    ],
                }
            )
    for path_error in report.errors:
        notifications.append({"level": "error", "message": {"text": path_error.message}})
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "artifact-scanner",
                "version": __version__,
                "semanticVersion": __version__,
                "rules": [_rule_descriptor(rule) for rule in rules],
            }
        },
        "invocations": [
            {
                "executionSuccessful": not notifications,
                "toolExecutionNotifications": notifications,
            }
        ],
        "artifacts": artifacts,
        "results": results,
        "properties": {
            "verdict": report.verdict.value,
            "fail_on": report.fail_on.label,
            "generated_at": report.generated_at,
        },
    }
    return {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}


def _indented_json(document: Any) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


class SarifRenderer(Renderer):
    """SARIF 2.1.0 JSON."""

    name = "sarif"

    def render(self, report: ScanReport) -> str:
        return render_encodable(
            report_to_sarif(report),
            lambda document: json.dumps(document, indent=2, ensure_ascii=False) + "\n",
        )
