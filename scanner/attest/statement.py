"""in-toto Statement v1 for a scan: the scan result and the BOM, one subject per scanned file.

Subjects are named by the file's POSIX path relative to the scanned root (prefixed by the root's name
when several roots were scanned) with its ``sha256``. Two statements are made:

- the scan result, predicate type :data:`SCAN_PREDICATE_TYPE`, whose predicate is the JSON result
  (schema v1, ``scanner/schemas/scan-result-v1.schema.json``): verdict, counts, findings per file;
- the BOM, predicate type ``https://cyclonedx.org/bom``, whose predicate is the CycloneDX document.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from scanner.attest.signers import Signer
from scanner.model import ScanReport

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
SCAN_PREDICATE_TYPE = "https://artifact-scanner.dev/attestation/scan-result/v1"
BOM_PREDICATE_TYPE = "https://cyclonedx.org/bom"


def subjects(report: ScanReport) -> list[dict[str, Any]]:
    """One subject per hashed file, sorted by name."""
    roots = list(dict.fromkeys(r.artifact.root for r in report.results))
    out: dict[str, str] = {}
    for result in report.results:
        if result.digests is None:
            continue
        art = result.artifact
        name = art.relpath
        if len(roots) > 1:
            base = posixpath.basename(art.root.rstrip("/")) or art.root
            name = name if art.root == art.path else f"{base}/{name}"
        out[name] = result.digests.sha256
    return [{"name": name, "digest": {"sha256": digest}} for name, digest in sorted(out.items())]


def _statement(report: ScanReport, predicate_type: str, predicate: Any) -> bytes:
    statement = {
        "_type": STATEMENT_TYPE,
        "subject": subjects(report),
        "predicateType": predicate_type,
        "predicate": predicate,
    }
    return json.dumps(statement, sort_keys=True, separators=(",", ":")).encode("utf-8")


def scan_statement(report: ScanReport) -> bytes:
    """The scan-result statement (JSON bytes, as signed)."""
    from scanner.report.json_report import JsonRenderer

    return _statement(report, SCAN_PREDICATE_TYPE, json.loads(JsonRenderer().render(report)))


def bom_statement(report: ScanReport, bom_json: str) -> bytes:
    """The BOM statement (JSON bytes, as signed)."""
    return _statement(report, BOM_PREDICATE_TYPE, json.loads(bom_json))


def attestation_lines(report: ScanReport, bom_json: str, signer: Signer) -> str:
    """JSON Lines: the signed scan-result bundle, then the signed BOM bundle."""
    if not subjects(report):
        from scanner.attest.errors import AttestError

        raise AttestError("nothing was hashed: there is no file to attest")
    lines = []
    for payload in (scan_statement(report), bom_statement(report, bom_json)):
        bundle = json.loads(signer.sign_statement(payload))
        lines.append(json.dumps(bundle, separators=(",", ":")))
    return "\n".join(lines) + "\n"
