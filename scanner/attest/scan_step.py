"""The scan's signature step: model signatures found next to models, checked without a key.

For every model directory (see :mod:`scanner.bom.grouping`) holding a ``model.sig``, the signature is
parsed (unverified) and the digests it lists are compared with the digests the scan computed for the
files around it (``files`` serialization, SHA-256 or BLAKE3; shard signatures need the shard digests and
are listed as not analyzed). Differences are AS-ATT-002, an unusable signature AS-ATT-003. When the
policy's ``required_checks`` holds ``signature``, a model without one is AS-ATT-001. Findings go to the
signature's (or the model's first file's) result. Who signed is ``verify``'s job: it needs trust material.
"""

from __future__ import annotations

import posixpath
from dataclasses import replace
from typing import TYPE_CHECKING

from scanner.attest.errors import VerificationError
from scanner.engine import finalize_findings
from scanner.model import Coverage, Finding, NotAnalyzed, ScanReport, ScanResult, compute_verdict
from scanner.policy import Policy
from scanner.rulebook import finding

if TYPE_CHECKING:
    from scanner.bom.grouping import ModelGroup

SIGNATURE_NAME = "model.sig"
ANALYZER = "model-signature"
MAX_LISTED = 20


def _signature_findings(results: tuple[ScanResult, ...], sig: ScanResult) -> tuple[list[Finding], str | None]:
    """Findings for one signature, and a not-analyzed reason when it could not be compared."""
    # cryptography is imported only when a model directory holds a signature
    from scanner.attest import oms
    from scanner.attest.bundle import MAX_BUNDLE, parse_bundle, payload_json

    try:
        if sig.artifact.size > MAX_BUNDLE:
            raise VerificationError(f"larger than {MAX_BUNDLE} bytes")
        with open(sig.artifact.fs_path, "rb") as f:
            text = f.read(MAX_BUNDLE + 1).decode("utf-8", "replace")
        bundle = parse_bundle(text)
        if bundle.envelope is None:
            raise VerificationError("not a DSSE bundle")
        manifest = oms.manifest_from_statement(payload_json(bundle.envelope))
    except (VerificationError, OSError) as exc:
        return [finding("AS-ATT-003", analyzer=ANALYZER, detail=f"{sig.artifact.relpath}: {exc}")], None
    except Exception as exc:  # hostile content must end as a finding, never as a crash of the scan
        detail = f"{sig.artifact.relpath}: unreadable signature content ({type(exc).__name__}: {exc})"
        return [finding("AS-ATT-003", analyzer=ANALYZER, detail=detail[:500])], None
    serialization = manifest.serialization
    if serialization.method != "files":
        return [], f"{serialization.method} signature: shard digests are compared by verify only"
    if set(manifest.resources) == {"."}:
        return [], "single-file signature: compared by verify only"
    base = posixpath.dirname(sig.artifact.relpath)
    ignore = (*serialization.ignore_paths, SIGNATURE_NAME, *oms.GIT_PATHS)
    actual: dict[str, str] = {}
    for r in results:
        rel = r.artifact.relpath
        if r.artifact.root != sig.artifact.root or (base and not rel.startswith(base + "/")):
            continue
        name = rel[len(base) + 1 :] if base else rel
        if r.digests is None or oms.is_ignored(name, ignore):
            continue
        actual[name] = r.digests.blake3 if serialization.hash_type == "blake3" else r.digests.sha256
    signed = {name: digest for name, (_, digest) in manifest.resources.items()}
    changed = sorted(n for n in set(signed) & set(actual) if signed[n] != actual[n])
    missing = sorted(set(signed) - set(actual))
    extra = sorted(set(actual) - set(signed))
    if not (changed or missing or extra):
        return [], None
    parts = [
        f"{label}: {', '.join(names[:MAX_LISTED])}{' ...' if len(names) > MAX_LISTED else ''}"
        for label, names in (("changed", changed), ("missing", missing), ("unsigned", extra))
        if names
    ]
    found = finding(
        "AS-ATT-002",
        analyzer=ANALYZER,
        detail=f"{sig.artifact.relpath} does not match the files ({'; '.join(parts)})",
        extra={"changed": changed, "missing": missing, "unsigned": extra},
    )
    return [found], None


def check_model_signatures(report: ScanReport, policy: Policy) -> ScanReport:
    """The report with signature findings added (verdict recomputed).

    Every ``model.sig`` in a scanned directory is compared with the files of its directory; with
    ``required_checks: [signature]`` every model directory must hold one.
    """
    added: dict[int, tuple[list[Finding], list[str]]] = {}
    signed_dirs = set()
    for sig in report.results:
        art = sig.artifact
        if art.root == art.path or posixpath.basename(art.relpath) != SIGNATURE_NAME:
            continue
        signed_dirs.add((art.root, posixpath.dirname(art.relpath)))
        items, note = _signature_findings(report.results, sig)
        entry = added.setdefault(id(sig), ([], []))
        entry[0].extend(items)
        if note:
            entry[1].append(note)
    if "signature" in policy.required_checks:
        from scanner.bom.grouping import group_models

        groups, _ = group_models(report.results)
        for group in groups:
            if group.standalone or _covered(group, signed_dirs):
                continue
            first = group.files[0]
            where = group.directory or posixpath.basename(group.root.rstrip("/")) or group.root
            item = finding("AS-ATT-001", analyzer=ANALYZER, detail=f"model {where} has no {SIGNATURE_NAME}")
            added.setdefault(id(first), ([], []))[0].append(item)
    if not added:
        return report
    results = []
    for result in report.results:
        if id(result) not in added:
            results.append(result)
            continue
        items, notes = added[id(result)]
        results.append(
            replace(
                result,
                findings=finalize_findings([*result.findings, *items], policy),
                coverage=Coverage(
                    (*result.coverage.analyzed, f"{ANALYZER}:."),
                    result.coverage.not_analyzed + tuple(NotAnalyzed(None, n) for n in notes),
                ),
            )
        )
    final = tuple(results)
    return replace(report, results=final, verdict=compute_verdict(final, report.errors, report.fail_on))


def _covered(group: ModelGroup, signed_dirs: set[tuple[str, str]]) -> bool:
    """Whether a signature in the model's directory or above it covers the model."""
    directory = group.directory
    while True:
        if (group.root, directory) in signed_dirs:
            return True
        if not directory:
            return False
        directory = posixpath.dirname(directory)


__all__ = ["SIGNATURE_NAME", "check_model_signatures"]
