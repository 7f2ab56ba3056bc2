"""Policy suppressions: accepted findings, each with a reason, an owner, and optionally an expiry date
and a digest pin.

A suppression entry in the policy's ``suppressions:`` list::

    - rule: AS-SEC-002            # required: the rule id it silences
      reason: test fixture value  # required: why this is acceptable
      owner: ml-platform@corp     # required: who answers for it
      path: "models/*.onnx"       # optional: glob on the artifact's relative or display path
      member: "*/config.json"     # optional: glob on the member path inside a container
      sha256: 3b1f...             # optional: applies only to the file with exactly this content
      fingerprint: 9ac0...        # optional: applies only to this one finding
      expires: 2026-06-30         # optional: last day it applies (UTC)

A suppressed finding is kept in every output (``suppressed_by`` and ``extra.suppression``) but no longer
counts towards the verdict. An expired suppression stops applying and adds AS-POL-001 (medium); one that
silenced nothing adds AS-POL-002 (info). Both are reported on a result for the policy file itself.
"""

from __future__ import annotations

import fnmatch
import os
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timezone
from typing import Any

from scanner.fingerprint import finding_fingerprint
from scanner.model import Artifact, Coverage, Finding, ScanReport, ScanResult, compute_verdict
from scanner.rulebook import RULE_ID, all_rules, finding

_KEYS = {"rule", "reason", "owner", "path", "member", "sha256", "fingerprint", "expires"}
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_FINGERPRINT = re.compile(r"^[0-9a-f]{32}$")


@dataclass(frozen=True)
class Suppression:
    """One validated suppression entry."""

    index: int
    """1-based position in the policy's list (named in messages)."""
    rule: str
    """Rule id it silences."""
    reason: str
    """Why the finding is acceptable."""
    owner: str
    """Who is accountable for it."""
    path: str | None = None
    """Glob matched against the artifact's relative path and its display path."""
    member: str | None = None
    """Glob matched against the member path (``None``: any location)."""
    sha256: str | None = None
    """Digest pin: the file must have exactly this SHA-256."""
    fingerprint: str | None = None
    """Only the finding with this fingerprint."""
    expires: date | None = None
    """Last day (UTC) on which it applies."""

    def describe(self) -> str:
        """A one-line identification used as evidence and in messages."""
        parts = [f"#{self.index}", f"rule={self.rule}"]
        for key in ("path", "member", "sha256", "fingerprint"):
            value = getattr(self, key)
            if value is not None:
                parts.append(f"{key}={value}")
        if self.expires is not None:
            parts.append(f"expires={self.expires.isoformat()}")
        parts.append(f"owner={self.owner}")
        return " ".join(parts)

    def matches(self, result: ScanResult, item: Finding) -> bool:
        """Whether this suppression covers ``item`` in ``result`` (expiry aside)."""
        if item.rule_id != self.rule:
            return False
        artifact = result.artifact
        if self.path is not None and not (
            fnmatch.fnmatchcase(artifact.relpath, self.path) or fnmatch.fnmatchcase(artifact.path, self.path)
        ):
            return False
        if self.member is not None and not fnmatch.fnmatchcase(item.location.member or "", self.member):
            return False
        if self.sha256 is not None and (result.digests is None or result.digests.sha256 != self.sha256):
            return False
        return self.fingerprint is None or finding_fingerprint(artifact, item) == self.fingerprint


def _text(entry: Mapping[str, Any], key: str, where: str, required: bool) -> str | None:
    value = entry.get(key)
    if value is None:
        if required:
            raise ValueError(f"{where}: '{key}' is required")
        return None
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{where}.{key}: must be a non-empty string")
    return value.strip()


def _expiry(value: Any, where: str) -> date | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError(f"{where}.expires: {value!r} is not a date (YYYY-MM-DD)")


def parse_suppressions(entries: Any) -> tuple[Suppression, ...]:
    """Validate the ``suppressions:`` list; raises ``ValueError`` naming the entry and key."""
    if entries is None:
        return ()
    if not isinstance(entries, list):
        raise ValueError("suppressions: must be a list")
    known = all_rules()
    parsed: list[Suppression] = []
    for number, entry in enumerate(entries, start=1):
        where = f"suppressions[{number}]"
        if not isinstance(entry, dict):
            raise ValueError(f"{where}: must be a mapping with rule, reason and owner")
        unknown = sorted(str(k) for k in set(entry) - _KEYS)
        if unknown:
            raise ValueError(f"{where}: unknown key(s) {unknown}; allowed: {sorted(_KEYS)}")
        rule = _text(entry, "rule", where, True) or ""
        if not RULE_ID.match(rule):
            raise ValueError(f"{where}.rule: {rule!r} is not a rule id (AS-<AREA>-NNN)")
        if rule not in known:
            raise ValueError(f"{where}.rule: no rule {rule} exists")
        sha256 = _text(entry, "sha256", where, False)
        if sha256 is not None and not _SHA256.match(sha256.lower()):
            raise ValueError(f"{where}.sha256: must be 64 hex digits")
        fp = _text(entry, "fingerprint", where, False)
        if fp is not None and not _FINGERPRINT.match(fp.lower()):
            raise ValueError(f"{where}.fingerprint: must be 32 hex digits (a finding's fingerprint)")
        parsed.append(
            Suppression(
                index=number,
                rule=rule,
                reason=_text(entry, "reason", where, True) or "",
                owner=_text(entry, "owner", where, True) or "",
                path=_text(entry, "path", where, False),
                member=_text(entry, "member", where, False),
                sha256=sha256.lower() if sha256 else None,
                fingerprint=fp.lower() if fp else None,
                expires=_expiry(entry.get("expires"), where),
            )
        )
    return tuple(parsed)


def today() -> date:
    """The UTC date expiry is judged on: ``SOURCE_DATE_EPOCH`` when set, else the clock."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    seconds = int(epoch) if epoch is not None and epoch.strip().isdigit() else int(time.time())
    return datetime.fromtimestamp(seconds, tz=timezone.utc).date()


def _silence(item: Finding, s: Suppression, source: str) -> Finding:
    record: dict[str, Any] = {"kind": "policy", "policy": source, "index": s.index, "owner": s.owner}
    if s.expires is not None:
        record["expires"] = s.expires.isoformat()
    return replace(item, suppressed_by=s.reason, extra={**item.extra, "suppression": record})


def apply_suppressions(
    report: ScanReport,
    suppressions: tuple[Suppression, ...],
    source: str,
    on: date,
    adjust: Callable[[Finding], Finding | None] | None = None,
) -> ScanReport:
    """Silence covered findings, report expired and unused suppressions, and recompute the verdict.

    ``adjust`` is the policy's override function (``Policy.apply``) for the AS-POL findings.
    """
    if not suppressions:
        return report
    active = [s for s in suppressions if s.expires is None or s.expires >= on]
    expired = [s for s in suppressions if s.expires is not None and s.expires < on]
    used: dict[int, int] = {s.index: 0 for s in suppressions}
    results: list[ScanResult] = []
    for result in report.results:
        changed = False
        findings: list[Finding] = []
        for item in result.findings:
            if item.suppressed_by is None:
                for s in expired:
                    if s.matches(result, item):
                        used[s.index] += 1
                for s in active:
                    if s.matches(result, item):
                        used[s.index] += 1
                        item = _silence(item, s, source)
                        changed = True
                        break
            findings.append(item)
        results.append(replace(result, findings=tuple(findings)) if changed else result)
    notes: list[Finding] = []
    for s in expired:
        notes.append(
            finding(
                "AS-POL-001",
                analyzer="policy",
                evidence=s.describe(),
                detail=f"suppression #{s.index} for {s.rule} (owner {s.owner}) expired on "
                f"{s.expires.isoformat() if s.expires else '?'}; it no longer applies "
                f"({used[s.index]} finding(s) it would cover are reported again)",
            )
        )
    for s in active:
        if used[s.index] == 0:
            pin = " (its sha256 pin matches no scanned file)" if s.sha256 else ""
            notes.append(
                finding(
                    "AS-POL-002",
                    analyzer="policy",
                    evidence=s.describe(),
                    detail=f"suppression #{s.index} for {s.rule} (owner {s.owner}) matched no finding{pin}",
                )
            )
    if adjust is not None:
        notes = [g for g in (adjust(n) for n in notes) if g is not None]
    if notes:
        notes.sort(key=lambda f: -int(f.severity))
        name = os.path.basename(source) or source
        policy_artifact = Artifact(path=source, fs_path=source, root=source, relpath=name, size=0)
        results.append(
            ScanResult(
                artifact=policy_artifact,
                digests=None,
                format="policy",
                findings=tuple(notes),
                coverage=Coverage(analyzed=("policy:.",)),
            )
        )
    final = tuple(results)
    return replace(report, results=final, verdict=compute_verdict(final, report.errors, report.fail_on))
