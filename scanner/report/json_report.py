"""JSON result, schema v1 (``scanner/schemas/scan-result-v1.schema.json``; documented in docs/reports.md).

Keys are emitted in a fixed order, lists in the report's stable order, so the same scan gives
byte-identical output (with the timestamp pinned).
"""

from __future__ import annotations

import functools
import json
from typing import Any

from scanner import __version__
from scanner.fingerprint import finding_fingerprint
from scanner.model import Artifact, Digests, Finding, ScanReport, ScanResult, Severity
from scanner.report._safe import render_encodable
from scanner.report.interface import Renderer

SCHEMA_VERSION = 1
SCHEMA_FILE = "scan-result-v1.schema.json"


@functools.cache
def result_schema() -> dict[str, Any]:
    """The JSON Schema of this output, shipped inside the package (``scanner/schemas``)."""
    from importlib import resources  # ~6 ms to import: only for validation

    text = (resources.files("scanner") / "schemas" / SCHEMA_FILE).read_text(encoding="utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema


def digests_to_dict(d: Digests) -> dict[str, Any]:
    """JSON form of digests."""
    out: dict[str, Any] = {"sha256": d.sha256, "blake3": d.blake3, "size": d.size}
    if d.shard_size:
        out["shard_size"] = d.shard_size
        out["shards"] = [
            {"index": s.index, "offset": s.offset, "length": s.length, "sha256": s.sha256} for s in d.shards
        ]
    return out


def finding_to_dict(f: Finding, artifact: Artifact) -> dict[str, Any]:
    """JSON form of a finding of ``artifact``."""
    out: dict[str, Any] = {
        "rule_id": f.rule_id,
        "severity": f.severity.label,
        "title": f.title,
        "detail": f.detail,
        "location": {"member": f.location.member, "offset": f.location.offset},
        "evidence": f.evidence,
        "reference": f.reference,
        "analyzer": f.analyzer,
        "fingerprint": finding_fingerprint(artifact, f),
    }
    if f.extra:
        out["extra"] = dict(f.extra)
    if f.suppressed_by is not None:
        out["suppressed_by"] = f.suppressed_by
    return out


def result_to_dict(r: ScanResult) -> dict[str, Any]:
    """JSON form of one artifact's result."""
    worst = r.worst
    return {
        "path": r.artifact.path,
        "root": r.artifact.root,
        "relpath": r.artifact.relpath,
        "size": r.artifact.size,
        "format": r.format,
        "digests": digests_to_dict(r.digests) if r.digests else None,
        "worst_severity": worst.label if worst is not None else None,
        "findings": [finding_to_dict(f, r.artifact) for f in r.findings],
        "errors": [{"analyzer": e.analyzer, "message": e.message, "member": e.member} for e in r.errors],
        "coverage": {
            "analyzed": list(r.coverage.analyzed),
            "not_analyzed": [{"member": n.member, "reason": n.reason} for n in r.coverage.not_analyzed],
        },
        "properties": dict(r.properties),
    }


def report_to_dict(report: ScanReport) -> dict[str, Any]:
    """JSON form of a whole report."""
    counts = {s.label: 0 for s in sorted(Severity, reverse=True)}
    suppressed = 0
    for r in report.results:
        for f in r.findings:
            if f.suppressed_by is None:
                counts[f.severity.label] += 1
            else:
                suppressed += 1
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "artifact-scanner", "version": __version__},
        "generated_at": report.generated_at,
        "fail_on": report.fail_on.label,
        "verdict": report.verdict.value,
        "exit_code": report.verdict.exit_code,
        "summary": {
            "artifacts": len(report.results),
            "findings": counts,
            "suppressed": suppressed,
            "errors": len(report.errors) + sum(len(r.errors) for r in report.results),
        },
        "artifacts": [result_to_dict(r) for r in report.results],
        "errors": [{"path": e.path, "message": e.message} for e in report.errors],
        "extras": dict(report.extras),
    }


class JsonRenderer(Renderer):
    """The full result as JSON."""

    name = "json"

    def render(self, report: ScanReport) -> str:
        return render_encodable(report_to_dict(report), render_document)


def render_document(document: dict[str, Any]) -> str:
    """Indented JSON whose ``artifacts`` are one compact line each.

    Pretty-printing goes through the pure-Python encoder (3-4x slower than the C one): for thousands of
    artifacts it cost more than scanning them. One line per artifact keeps the file readable and
    diffable and lets the C encoder do the bulk. The result is still ordinary JSON.
    """
    fields = []
    for key, value in document.items():
        name = json.dumps(key, ensure_ascii=False)
        if key == "artifacts" and isinstance(value, list) and value:
            encode = json.JSONEncoder(ensure_ascii=False).encode  # one encoder, not one per artifact
            lines = ",\n".join("    " + encode(item) for item in value)
            fields.append(f"  {name}: [\n{lines}\n  ]")
        else:
            # JSON strings never hold a raw newline, so re-indenting by lines is exact.
            encoded = json.dumps(value, indent=2, ensure_ascii=False)
            fields.append(f"  {name}: " + encoded.replace("\n", "\n  "))
    return "{\n" + ",\n".join(fields) + "\n}\n"
