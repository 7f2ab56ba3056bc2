"""Stable finding fingerprints, used by the baseline and by SARIF ``partialFingerprints``.

A fingerprint identifies *the same problem* across runs and machines, so it leaves out everything that
moves when nothing changed: the scanned root as typed, byte offsets, the severity after policy, the
timestamp. It is the SHA-256 (first 32 hex digits) of a canonical JSON array::

    ["artifact-scanner-fp-v1", rule_id, relpath, member, normalised evidence]

``relpath`` is the artifact's POSIX path relative to the scanned root (the file name when a file was
named), ``member`` the path inside a container (``""`` for the file itself). The evidence is normalised
by collapsing white space and replacing numbers (decimal and ``0x`` hex) by ``#``, so that offsets or
counts printed inside it do not change the fingerprint. A finding without evidence uses its detail,
normalised the same way. Secrets are already redacted before a finding exists, so a fingerprint never
hashes a raw secret.
"""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata

from scanner.model import Artifact, Finding

FINGERPRINT_VERSION = "artifact-scanner-fp-v1"
"""Serialization tag; bump it if the recipe ever changes (old baselines then stop matching)."""

_NUMBER = re.compile(r"\b0x[0-9a-fA-F]+\b|\d+")
_SPACE = re.compile(r"\s+")


def normalise_evidence(text: str | None) -> str:
    """Evidence without run-to-run noise: NFC, collapsed white space, numbers as ``#``."""
    if not text:
        return ""
    text = unicodedata.normalize("NFC", text)
    return _SPACE.sub(" ", _NUMBER.sub("#", text)).strip()


def compute_fingerprint(rule_id: str, relpath: str, member: str | None, evidence: str) -> str:
    """The fingerprint of already-normalised parts (also used to read findings back from JSON)."""
    canonical = json.dumps(
        [FINGERPRINT_VERSION, rule_id, relpath, member or "", evidence],
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def finding_fingerprint(artifact: Artifact, finding: Finding) -> str:
    """The fingerprint of ``finding`` in ``artifact``."""
    basis = finding.evidence if finding.evidence else finding.detail
    return compute_fingerprint(
        finding.rule_id, artifact.relpath, finding.location.member, normalise_evidence(basis)
    )
