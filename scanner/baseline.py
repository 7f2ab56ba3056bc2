"""``scan --baseline FILE``: report only the findings that a previous JSON result did not have.

Findings are matched by fingerprint (:mod:`scanner.fingerprint`) as a multiset: if the baseline held a
fingerprint twice and the scan finds it three times, one is new. A finding found in the baseline is kept
in the outputs, marked ``suppressed_by`` with ``extra.suppression.kind == "baseline"``, and no longer
counts towards the verdict. The baseline counts what the previous run reported: its unsuppressed
findings and the ones it had itself matched in a baseline, but not those a policy suppression silenced
(when that suppression expires, its findings must come back).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from scanner.fingerprint import compute_fingerprint, finding_fingerprint, normalise_evidence
from scanner.json_file import JsonFileError, read_json_file
from scanner.model import Finding, ScanReport, compute_verdict

MAX_BASELINE_BYTES = 256 << 20


class BaselineError(Exception):
    """The baseline file is missing or is not a scan result (exit 2)."""


@dataclass(frozen=True)
class Baseline:
    """The fingerprints of a previous result."""

    name: str
    """File name of the baseline (no directory: outputs carry no local paths)."""
    known: Counter[str]
    """How many times each fingerprint was reported."""


def _fingerprint_of(entry: Any, relpath: str, where: str) -> str:
    if not isinstance(entry, dict) or not isinstance(entry.get("rule_id"), str):
        raise BaselineError(f"{where}: not a finding object")
    fp = entry.get("fingerprint")
    if isinstance(fp, str):
        return fp
    location = entry["location"] if isinstance(entry.get("location"), dict) else {}
    basis = entry.get("evidence") or entry.get("detail") or ""
    member = location.get("member") if isinstance(location.get("member"), str) else None
    return compute_fingerprint(entry["rule_id"], relpath, member, normalise_evidence(str(basis)))


def _counts(entry: dict[str, Any]) -> bool:
    if entry.get("suppressed_by") is None:
        return True
    record = entry.get("extra", {}).get("suppression") if isinstance(entry.get("extra"), dict) else None
    return isinstance(record, dict) and record.get("kind") == "baseline"


def load_baseline(path: str) -> Baseline:
    """Read a JSON result written by ``scan --json``; raises :class:`BaselineError`."""
    try:
        doc = read_json_file(path, MAX_BASELINE_BYTES)
    except JsonFileError as exc:
        raise BaselineError(f"baseline {exc}") from None
    valid = isinstance(doc, dict) and doc.get("schema_version") == 1
    if not valid or not isinstance(doc.get("artifacts"), list):
        raise BaselineError(f"{path}: not a scan result with schema_version 1 (write one with scan --json)")
    known: Counter[str] = Counter()
    for i, artifact in enumerate(doc["artifacts"]):
        where = f"{path}: artifacts[{i}]"
        if not isinstance(artifact, dict) or not isinstance(artifact.get("relpath"), str):
            raise BaselineError(f"{where}: missing relpath")
        findings = artifact.get("findings")
        if not isinstance(findings, list):
            raise BaselineError(f"{where}: findings must be a list")
        for j, entry in enumerate(findings):
            fp = _fingerprint_of(entry, artifact["relpath"], f"{where}.findings[{j}]")
            if _counts(entry):
                known[fp] += 1
    return Baseline(name=os.path.basename(path), known=known)


def apply_baseline(report: ScanReport, baseline: Baseline) -> ScanReport:
    """Mark findings present in ``baseline``, count them in ``extras["baseline"]``, recompute the verdict."""
    remaining = Counter(baseline.known)
    matched = 0
    new = 0
    results = []
    for result in report.results:
        findings: list[Finding] = []
        for item in result.findings:
            if item.suppressed_by is None:
                fp = finding_fingerprint(result.artifact, item)
                if remaining[fp] > 0:
                    remaining[fp] -= 1
                    matched += 1
                    record = {"kind": "baseline", "baseline": baseline.name}
                    item = replace(
                        item,
                        suppressed_by=f"present in baseline {baseline.name}",
                        extra={**item.extra, "suppression": record},
                    )
                else:
                    new += 1
            findings.append(item)
        results.append(replace(result, findings=tuple(findings)))
    final = tuple(results)
    extras = dict(report.extras)
    extras["baseline"] = {
        "file": baseline.name,
        "known": matched,
        "new": new,
        "absent": sum(remaining.values()),
    }
    return replace(
        report, results=final, verdict=compute_verdict(final, report.errors, report.fail_on), extras=extras
    )
