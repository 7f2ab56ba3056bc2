"""Reading a JSON result (schema v1) back into a :class:`~scanner.model.ScanReport`, so that a stored
result can be rendered again (``artifact-scanner report``) without rescanning.

The reader is strict about structure (a missing key or a wrong type is a :class:`ResultError`) and
builds the same frozen values the scan built, so re-rendered SARIF and HTML match those of the scan.
"""

from __future__ import annotations

from typing import Any

from scanner.json_file import JsonFileError, read_json_file
from scanner.model import (
    AnalyzerError,
    Artifact,
    Coverage,
    Digests,
    Finding,
    Location,
    NotAnalyzed,
    PathError,
    ScanReport,
    ScanResult,
    Severity,
    ShardDigest,
    Verdict,
)
from scanner.report.json_report import SCHEMA_VERSION

MAX_RESULT_BYTES = 512 << 20


class ResultError(Exception):
    """The file is not a readable scan result."""


def _digests(d: Any) -> Digests | None:
    if d is None:
        return None
    shards = tuple(
        ShardDigest(int(s["index"]), int(s["offset"]), int(s["length"]), str(s["sha256"]))
        for s in d.get("shards", [])
    )
    return Digests(str(d["sha256"]), str(d["blake3"]), int(d["size"]), d.get("shard_size"), shards)


def _finding(f: Any) -> Finding:
    location = f["location"]
    return Finding(
        rule_id=str(f["rule_id"]),
        severity=Severity.parse(str(f["severity"])),
        title=str(f["title"]),
        detail=str(f["detail"]),
        location=Location(location["member"], location["offset"]),
        evidence=f["evidence"],
        reference=f["reference"],
        analyzer=str(f["analyzer"]),
        extra=dict(f.get("extra", {})),
        suppressed_by=f.get("suppressed_by"),
    )


def _result(a: Any) -> ScanResult:
    path = str(a["path"])
    artifact = Artifact(path, path, str(a["root"]), str(a["relpath"]), int(a["size"]))
    coverage = a["coverage"]
    return ScanResult(
        artifact=artifact,
        digests=_digests(a["digests"]),
        format=str(a["format"]),
        findings=tuple(_finding(f) for f in a["findings"]),
        errors=tuple(AnalyzerError(str(e["analyzer"]), str(e["message"]), e["member"]) for e in a["errors"]),
        coverage=Coverage(
            analyzed=tuple(str(x) for x in coverage["analyzed"]),
            not_analyzed=tuple(NotAnalyzed(n["member"], str(n["reason"])) for n in coverage["not_analyzed"]),
        ),
        properties=dict(a["properties"]),
    )


def report_from_dict(doc: Any) -> ScanReport:
    """The report a JSON result describes; raises :class:`ResultError` when it is not one."""
    if not isinstance(doc, dict) or doc.get("schema_version") != SCHEMA_VERSION:
        raise ResultError(
            f"not a scan result with schema_version {SCHEMA_VERSION} (write one with scan --json)"
        )
    try:
        return ScanReport(
            results=tuple(_result(a) for a in doc["artifacts"]),
            errors=tuple(PathError(str(e["path"]), str(e["message"])) for e in doc["errors"]),
            fail_on=Severity.parse(str(doc["fail_on"])),
            verdict=Verdict(doc["verdict"]),
            generated_at=str(doc["generated_at"]),
            extras=dict(doc["extras"]),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise ResultError(f"malformed scan result: {type(exc).__name__}: {exc}") from None


def load_result(path: str) -> ScanReport:
    """Read and parse a JSON result file; raises :class:`ResultError`."""
    try:
        doc = read_json_file(path, MAX_RESULT_BYTES)
    except JsonFileError as exc:
        raise ResultError(str(exc)) from None
    try:
        return report_from_dict(doc)
    except ResultError as exc:
        raise ResultError(f"{path}: {exc}") from None
