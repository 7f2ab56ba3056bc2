"""Core value types shared by every part of the scanner.

Everything here is a frozen dataclass: analyzers create findings, the engine gathers them into results,
and renderers only read them.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any


class Severity(enum.IntEnum):
    """How bad a finding is; ordered so that comparisons work (``CRITICAL > HIGH``)."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, name: str) -> Severity:
        """Parse a case-insensitive severity name; raises ``ValueError`` naming the choices."""
        try:
            return cls[name.strip().upper()]
        except KeyError:
            choices = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {name!r} (choose from {choices})") from None

    @property
    def label(self) -> str:
        """The lower-case name used in every output."""
        return self.name.lower()


class Verdict(enum.Enum):
    """The overall outcome of a scan, one to one with the process exit code."""

    PASS = "pass"  # noqa: S105 - a verdict, not a password
    FAIL = "fail"
    INCOMPLETE = "incomplete"

    @property
    def exit_code(self) -> int:
        """0 for pass, 1 for fail, 3 for incomplete."""
        return {Verdict.PASS: 0, Verdict.FAIL: 1, Verdict.INCOMPLETE: 3}[self]


@dataclass(frozen=True)
class ShardDigest:
    """SHA-256 of one fixed-size shard of a file."""

    index: int
    """Zero-based shard number."""
    offset: int
    """Byte offset of the shard's first byte."""
    length: int
    """Bytes in the shard (the last one may be short)."""
    sha256: str
    """Lower-case hex digest."""


@dataclass(frozen=True)
class Digests:
    """Content digests of one file (or of a directory, per the documented serialization)."""

    sha256: str
    """Lower-case hex SHA-256."""
    blake3: str
    """Lower-case hex BLAKE3 (32-byte output)."""
    size: int
    """Bytes hashed."""
    shard_size: int | None = None
    """Shard size when a shard manifest was requested."""
    shards: tuple[ShardDigest, ...] = ()
    """The shard manifest, in order."""


@dataclass(frozen=True)
class Location:
    """Where inside an artifact a finding lies."""

    member: str | None = None
    """Path of the member inside a container; nested containers are joined with ``!``."""
    offset: int | None = None
    """Byte offset inside the member (or the file when there is no member), where known."""

    def describe(self) -> str:
        """A short human form such as ``archive/data.pkl @ 0x1f``."""
        parts = []
        if self.member:
            parts.append(self.member)
        if self.offset is not None:
            parts.append(f"@ {self.offset:#x}")
        return " ".join(parts)


@dataclass(frozen=True)
class Finding:
    """One thing an analyzer reports. Create findings with :func:`scanner.rulebook.finding`."""

    rule_id: str
    """Stable rule id ``AS-<AREA>-NNN`` defined in ``rules/``."""
    severity: Severity
    """Severity after the rule default (the policy may change it later)."""
    title: str
    """One-line statement of the problem."""
    detail: str = ""
    """Explanation specific to this occurrence (secrets already redacted)."""
    location: Location = field(default_factory=Location)
    """Where in the artifact."""
    evidence: str | None = None
    """The bytes or names that triggered it, redacted and bounded."""
    reference: str | None = None
    """A URL or CVE/GHSA id backing the rule."""
    analyzer: str = ""
    """Name of the analyzer that produced it."""
    extra: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    """Structured extras for reports (``call_chain``, ``decompiled``, ``module``, ``qualname``), redacted."""
    suppressed_by: str | None = None
    """Reason of the suppression that silenced it, if any (it is then kept for the record only)."""


@dataclass(frozen=True)
class Artifact:
    """A file to scan."""

    path: str
    """Display path: POSIX path relative to the scanned root, prefixed by the root as given."""
    fs_path: str
    """Where the bytes are read from (a symlink inside the root is resolved)."""
    root: str
    """The path the user named (file or directory)."""
    relpath: str
    """POSIX path relative to ``root`` (the file name when ``root`` is a file)."""
    size: int
    """Size in bytes when it was listed."""


@dataclass(frozen=True)
class AnalyzerError:
    """An analyzer that failed, or an I/O error: the scan is then incomplete, never silently clean."""

    analyzer: str
    """Which analyzer (or ``io`` / ``hash``)."""
    message: str
    """One-line diagnostic."""
    member: str | None = None
    """The member being analyzed, if any."""


@dataclass(frozen=True)
class NotAnalyzed:
    """A part of an artifact that no analyzer covered, and why."""

    member: str | None
    """Member path, or ``None`` for the whole file."""
    reason: str
    """Why it was not analyzed."""


@dataclass(frozen=True)
class Coverage:
    """What was and was not analyzed."""

    analyzed: tuple[str, ...] = ()
    """``analyzer:member`` entries in the order they ran."""
    not_analyzed: tuple[NotAnalyzed, ...] = ()
    """Parts left out, each with its reason."""


@dataclass(frozen=True)
class ScanResult:
    """Everything known about one artifact after a scan."""

    artifact: Artifact
    """The file."""
    digests: Digests | None
    """``None`` only when hashing failed (an error is then recorded)."""
    format: str
    """Detected format of the file (``unknown`` when nothing claimed it)."""
    findings: tuple[Finding, ...] = ()
    """Sorted worst first, then by location and rule id."""
    errors: tuple[AnalyzerError, ...] = ()
    """Analyzer and I/O failures."""
    coverage: Coverage = field(default_factory=Coverage)
    """What was and was not analyzed."""
    properties: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    """Facts for the BOM and reports (tensor count, dtypes, framework versions ...)."""

    @property
    def worst(self) -> Severity | None:
        """Highest unsuppressed severity, or ``None`` without findings."""
        active = [f.severity for f in self.findings if f.suppressed_by is None]
        return max(active) if active else None


@dataclass(frozen=True)
class PathError:
    """A path given on the command line (or met while walking) that could not be scanned at all."""

    path: str
    """The path as given or met."""
    message: str
    """One-line diagnostic."""


@dataclass(frozen=True)
class ScanReport:
    """The outcome of scanning one or more paths."""

    results: tuple[ScanResult, ...]
    """One per file, in a stable order (roots as given, then sorted relative paths)."""
    errors: tuple[PathError, ...]
    """Paths that could not be scanned."""
    fail_on: Severity
    """The threshold the verdict was computed with."""
    verdict: Verdict
    """Overall outcome."""
    generated_at: str
    """RFC 3339 UTC timestamp (pinned by ``--reproducible`` or ``SOURCE_DATE_EPOCH``)."""
    extras: Mapping[str, Any] = field(default_factory=dict, hash=False, compare=False)
    """Results of whole-scan steps (dependency audit, policy notes) keyed by step name."""


def compute_verdict(
    results: tuple[ScanResult, ...], errors: tuple[PathError, ...], fail_on: Severity
) -> Verdict:
    """A finding at or above ``fail_on`` fails; otherwise any error makes the scan incomplete."""
    for result in results:
        worst = result.worst
        if worst is not None and worst >= fail_on:
            return Verdict.FAIL
    if errors or any(r.errors for r in results):
        return Verdict.INCOMPLETE
    return Verdict.PASS
