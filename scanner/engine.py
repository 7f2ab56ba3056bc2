"""The scan pipeline: list files, hash each in one streaming pass, sniff by content, run analyzers,
apply the policy, and gather a :class:`~scanner.model.ScanReport`.

Large payloads are read once (for hashing); analyzers re-read only the structural bytes they need. Files
of up to one hashing chunk are read once into memory and shared by hashing and analysis.
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, BinaryIO

from scanner.formats._byte_range import byte_range
from scanner.formats.interface import AnalysisContext, Limits, ScanBudget, make_probe
from scanner.formats.registry import select_analyzers
from scanner.hashing import CHUNK_SIZE, HashError, hash_bytes, hash_file
from scanner.model import (
    AnalyzerError,
    Artifact,
    Coverage,
    Digests,
    Finding,
    Location,
    NotAnalyzed,
    ScanReport,
    ScanResult,
    Severity,
    compute_verdict,
)
from scanner.policy import Policy, default_policy
from scanner.rulebook import finding
from scanner.walk import ExternalLink, Listing, list_artifacts

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True)
class ScanOptions:
    """How to scan."""

    policy: Policy = field(default_factory=default_policy)
    """Overrides, allowed globals, suppressions."""
    fail_on: Severity | None = None
    """Threshold; ``None`` takes the policy's."""
    limits: Limits = field(default_factory=Limits)
    """Bounds for hostile input."""
    shard_size: int | None = None
    """Also compute a shard manifest with this shard size."""
    deep_secrets: bool = False
    """Search raw binary content for high-confidence secret patterns too."""
    reproducible: bool = False
    """Pin timestamps (to ``SOURCE_DATE_EPOCH`` or the epoch)."""
    jobs: int | None = None
    """Files scanned at once (``None``: every usable core)."""
    workers: str = "auto"
    """``threads``, ``processes`` (forkserver/spawn, never fork) or ``auto`` (see :mod:`scanner.parallel`)."""
    vuln_db: str | None = None
    """OSV records or index to audit dependency files and recorded library versions against."""

    @property
    def threshold(self) -> Severity:
        """The effective fail-on severity."""
        return self.fail_on if self.fail_on is not None else self.policy.fail_on


def timestamp(reproducible: bool) -> str:
    """Now in RFC 3339 UTC, or the pinned time under ``SOURCE_DATE_EPOCH`` / reproducible mode."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch is not None and epoch.strip().isdigit():
        seconds = int(epoch)
    elif reproducible:
        seconds = 0
    else:
        seconds = int(time.time())
    return datetime.fromtimestamp(seconds, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _view_opener(base: BinaryIO, size: int) -> Callable[[], BinaryIO]:
    """Opens independent read positions over a shared seekable stream (closing one leaves it open)."""

    def opener() -> BinaryIO:
        return byte_range(base, 0, size)

    return opener


@dataclass
class _Collector:
    """Everything gathered while analyzing one top-level artifact and its members."""

    artifact_path: str
    options: ScanOptions
    budget: ScanBudget
    properties: dict[str, Any] = field(default_factory=dict)
    not_analyzed: list[tuple[str | None, str]] = field(default_factory=list)
    errors: list[tuple[str, str, str | None]] = field(default_factory=list)
    analyzed: list[str] = field(default_factory=list)
    format: str = "unknown"

    def context(
        self, member: str | None, probe: Any, opener: Callable[[], BinaryIO], depth: int
    ) -> AnalysisContext:
        props = (
            self.properties
            if depth == 0
            else self.properties.setdefault("members", {}).setdefault(member, {})
        )
        return AnalysisContext(
            artifact_path=self.artifact_path,
            member=member,
            probe=probe,
            opener=opener,
            depth=depth,
            budget=self.budget,
            options=self.options,
            _member_scanner=self.scan_member,
            _properties=props,
            _not_analyzed=self.not_analyzed,
            _errors=self.errors,
            _analyzed=self.analyzed,
        )

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        primary, extra = select_analyzers(ctx.probe)
        # --- secrets (issue 4): analyzers that only some options enable (scan --deep) ---
        extra = tuple(a for a in extra if a.enabled(ctx.options))
        # --- end secrets ---
        if ctx.depth == 0:
            self.format = primary.format if primary else (extra[0].format if extra else "unknown")
        if primary is None and not extra:
            ctx.not_analyzed(ctx.member, "no analyzer recognises this content")
            yield finding("AS-GEN-002", analyzer="engine", member=ctx.member)
            return
        for analyzer in (primary, *extra) if primary else extra:
            self.analyzed.append(f"{analyzer.name}:{ctx.member or '.'}")
            try:
                for item in analyzer.analyze(ctx):
                    if item.location.member is None and ctx.member is not None:
                        item = replace(item, location=Location(ctx.member, item.location.offset))
                    yield item
            except Exception as exc:  # an analyzer failure is recorded, never dropped
                ctx.error(analyzer.name, f"{type(exc).__name__}: {exc}")

    def scan_member(
        self, parent: AnalysisContext, name: str, stream: BinaryIO, size: int
    ) -> Iterator[Finding]:
        member = parent.child_member(name)
        limits = self.budget.limits
        self.budget.members += 1
        if parent.depth + 1 > limits.max_depth:
            parent.not_analyzed(member, f"nesting deeper than {limits.max_depth}")
            yield finding(
                "AS-GEN-004",
                analyzer="engine",
                member=member,
                detail=f"container nesting exceeds the limit of {limits.max_depth}; member not analyzed",
            )
            return
        if self.budget.members > limits.max_members:
            if self.budget.members == limits.max_members + 1:
                yield finding(
                    "AS-GEN-004",
                    analyzer="engine",
                    member=member,
                    detail=f"more than {limits.max_members} members; the rest were not analyzed",
                )
            parent.not_analyzed(member, "member count limit reached")
            return
        if size == 0:
            yield finding("AS-GEN-001", analyzer="engine", member=member)
            return
        probe = make_probe(stream, size, name)
        ctx = self.context(member, probe, _view_opener(stream, size), parent.depth + 1)
        yield from self.analyze(ctx)


def _read_small(path: str) -> bytes:
    """The whole content of a file of at most one hashing chunk (unbuffered: one read, no copy)."""
    with open(path, "rb", buffering=0) as f:
        before = os.fstat(f.fileno())
        want = min(before.st_size, CHUNK_SIZE) + 1  # one byte more shows a file that grew
        data = f.read(want) or b""
        while 0 < len(data) < before.st_size:  # a short read (signal, network file system): read on
            more = f.read(want - len(data))
            if not more:
                break
            data += more
        if len(data) != before.st_size:  # it grew or shrank between the fstat and the end of the read
            raise HashError(f"{path}: file changed while being read")
    return data


def _sort_key(f: Finding) -> tuple[int, str, int, str, str]:
    loc = f.location
    return (
        -int(f.severity),
        loc.member or "",
        loc.offset if loc.offset is not None else -1,
        f.rule_id,
        f.detail,
    )


def finalize_findings(findings: list[Finding], policy: Policy) -> tuple[Finding, ...]:
    """Apply policy overrides and sort worst first, then by location and rule."""
    kept = [g for g in (policy.apply(f) for f in findings) if g is not None]
    return tuple(sorted(kept, key=_sort_key))


RAW_BYTES_RULE = "AS-SEC-003"
"""The ``--deep`` search's rule: it re-finds, in raw bytes, secrets a format analyzer already reported."""


def _without_rediscovered_secrets(findings: list[Finding]) -> list[Finding]:
    """Drop raw-byte secret findings whose secret (same redacted evidence and member) a format analyzer
    already reported with its context (metadata key, tensor name): one secret, one finding."""
    structured = {
        (f.evidence, f.location.member)
        for f in findings
        if f.rule_id != RAW_BYTES_RULE and f.extra.get("secret_type")
    }
    return [
        f
        for f in findings
        if f.rule_id != RAW_BYTES_RULE or (f.evidence, f.location.member) not in structured
    ]


def scan_artifact(
    artifact: Artifact, options: ScanOptions, progress: ProgressCallback | None = None
) -> ScanResult:
    """Hash and analyze one file."""
    collector = _Collector(artifact.path, options, ScanBudget(options.limits))
    try:
        if artifact.size <= CHUNK_SIZE:
            data = _read_small(artifact.fs_path)
            digests: Digests = hash_bytes(data, shard_size=options.shard_size)
            if progress is not None and data:
                progress(len(data))
            size = len(data)

            def opener() -> BinaryIO:
                return io.BytesIO(data)
        else:
            digests = hash_file(artifact.fs_path, shard_size=options.shard_size, progress=progress)
            size = digests.size

            def opener() -> BinaryIO:
                return open(artifact.fs_path, "rb")
    except (HashError, OSError) as exc:
        message = str(exc) if isinstance(exc, HashError) else f"{artifact.path}: {exc.strerror or exc}"
        return ScanResult(artifact, None, "unknown", errors=(AnalyzerError("io", message),))

    findings: list[Finding] = []
    if size == 0:
        findings.append(finding("AS-GEN-001", analyzer="engine"))
        collector.format = "empty"
    else:
        try:
            with opener() as stream:
                probe = make_probe(stream, size, os.path.basename(artifact.relpath))
            ctx = collector.context(None, probe, opener, 0)
            findings.extend(collector.analyze(ctx))
        except OSError as exc:
            collector.errors.append(("io", f"{artifact.path}: {exc.strerror or exc}", None))
    return ScanResult(
        artifact=artifact,
        digests=digests,
        format=collector.format,
        findings=finalize_findings(_without_rediscovered_secrets(findings), options.policy),
        errors=tuple(AnalyzerError(a, m, mem) for a, m, mem in collector.errors),
        coverage=Coverage(
            analyzed=tuple(collector.analyzed),
            not_analyzed=tuple(NotAnalyzed(m, r) for m, r in collector.not_analyzed),
        ),
        properties=collector.properties,
    )


def _link_result(link: ExternalLink, options: ScanOptions) -> ScanResult:
    artifact = Artifact(path=link.path, fs_path=link.path, root=link.root, relpath=link.relpath, size=0)
    found = finding(
        "AS-GEN-003",
        analyzer="walk",
        evidence=f"-> {link.target}",
        detail=f"symlink {link.relpath} points to {link.target}, outside the scanned root; not followed",
    )
    return ScanResult(
        artifact=artifact,
        digests=None,
        format="symlink",
        findings=finalize_findings([found], options.policy),
        coverage=Coverage(not_analyzed=(NotAnalyzed(None, "symlink leaving the scanned root"),)),
    )


def _file_key(artifact: Artifact) -> tuple[int, int, int, int] | None:
    try:
        st = os.stat(artifact.fs_path)
    except OSError:
        return None
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def scan_paths(
    paths: list[str],
    options: ScanOptions,
    progress: ProgressCallback | None = None,
    listing: Listing | None = None,
) -> ScanReport:
    """Scan files and directories; the result's order is stable whatever ``options.jobs`` is.
    ``listing`` is ``list_artifacts(paths)`` when the caller has it already."""
    if listing is None:
        listing = list_artifacts(paths)
    # A file reached twice (hard links, symlinks into a blob store) is analyzed once.
    unique: dict[tuple[int, int, int, int] | str, Artifact] = {}
    keys: list[tuple[int, int, int, int] | str] = []
    for artifact in listing.artifacts:
        key = _file_key(artifact) or artifact.path
        unique.setdefault(key, artifact)
        keys.append(key)
    todo = list(unique.items())

    # --- parallel scanning (issue 5): same order and bytes as a serial run ---
    from scanner.parallel import scan_all

    scanned = scan_all([artifact for _, artifact in todo], options, progress)
    done = {key: result for (key, _), result in zip(todo, scanned, strict=True)}
    # --- end parallel scanning ---
    results: list[ScanResult] = []
    for artifact, key in zip(listing.artifacts, keys, strict=True):
        result = done[key]
        if result.artifact is not artifact:
            result = replace(result, artifact=artifact)
        results.append(result)
    results.extend(_link_result(link, options) for link in listing.external_links)
    results.sort(
        key=lambda r: (paths.index(r.artifact.root), r.artifact.relpath.encode("utf-8", "surrogateescape"))
    )
    final = tuple(results)
    threshold = options.threshold
    return ScanReport(
        results=final,
        errors=listing.errors,
        fail_on=threshold,
        verdict=compute_verdict(final, listing.errors, threshold),
        generated_at=timestamp(options.reproducible),
    )
