"""Dependency files in a scan: requirements*.txt, pyproject.toml, pylock.toml, poetry.lock, uv.lock,
Pipfile.lock (claimed by NAME, the one legitimate signal for these text files), and the
``transformers_version`` recorded in a Hugging Face config.json.

Unpinned, unhashed and malformed declarations are always reported; vulnerabilities are checked against
the ML-specific rules always and against an advisory database when ``scan --vuln-db`` names one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from scanner.deps.filenames import kind_of
from scanner.formats.interface import JSON_FIRST_BYTES, TEXT_FIRST_BYTES, AnalysisContext, Analyzer, Probe
from scanner.model import Finding
from scanner.rulebook import finding

_CONFIG_MARKER = b'"transformers_version"'


def _read_bounded(ctx: AnalysisContext, limit: int) -> bytes | None:
    with ctx.open() as stream:
        data = stream.read(limit + 1)
    return None if len(data) > limit else data


def _disk_path(ctx: AnalysisContext) -> Path | None:
    """The file on disk when analyzing a top-level file (so requirements includes can be followed)."""
    if ctx.depth != 0:
        return None
    path = Path(ctx.artifact_path)
    return path if path.is_file() else None


class DependencyFileAnalyzer(Analyzer):
    """Requirements and lock files: parse, report policy problems and vulnerable pins."""

    first_bytes = TEXT_FIRST_BYTES
    name = "dependencies"
    format = "python-dependencies"
    priority = 300

    def detect(self, probe: Probe) -> bool:
        return kind_of(probe.name) is not None and probe.is_text()

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        from scanner.deps.audit import ANALYZER, audit_source
        from scanner.deps.interface import DependencySourceError
        from scanner.deps.runner import dependency_rows
        from scanner.deps.scan_step import scan_setup
        from scanner.deps.sources._common import MAX_SOURCE_BYTES, decode
        from scanner.deps.sources.select import kind_of, source_for

        kind = kind_of(ctx.probe.name)
        assert kind is not None  # detect() claimed it
        display = ctx.artifact_path if ctx.member is None else ctx.member
        data = _read_bounded(ctx, MAX_SOURCE_BYTES)
        if data is None:
            ctx.not_analyzed(ctx.member, f"dependency file larger than {MAX_SOURCE_BYTES} bytes")
            yield finding(
                "AS-GEN-004",
                analyzer=ANALYZER,
                member=ctx.member,
                detail=f"{display}: dependency file larger than {MAX_SOURCE_BYTES} bytes; not parsed",
            )
            return
        setup = scan_setup(getattr(ctx.options, "vuln_db", None))
        try:
            result = source_for(kind, decode(data, display), display, _disk_path(ctx)).collect()
        except DependencySourceError as exc:
            yield finding("AS-DEP-004", analyzer=ANALYZER, member=ctx.member, detail=str(exc))
            return
        ctx.set_property("dependencies", dependency_rows(result))
        outcome = audit_source(result, setup, ctx.member, note_finding=False)
        for note in outcome.not_analyzed:
            ctx.not_analyzed(ctx.member, note)
        for message in outcome.errors:
            ctx.error(ANALYZER, message)
        yield from outcome.findings


class RecordedVersionsAnalyzer(Analyzer):
    """A config.json recording ``transformers_version``: that version is audited like a pin."""

    first_bytes = JSON_FIRST_BYTES
    name = "recorded-versions"
    format = "json"
    supplementary = True

    def detect(self, probe: Probe) -> bool:
        return _CONFIG_MARKER in probe.head and probe.is_json_object()

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        from scanner.deps.audit import ANALYZER, audit_source
        from scanner.deps.interface import DependencySourceError
        from scanner.deps.scan_step import scan_setup
        from scanner.deps.sources._common import MAX_SOURCE_BYTES, decode
        from scanner.deps.sources.recorded import ConfigJsonSource

        display = ctx.artifact_path if ctx.member is None else ctx.member
        data = _read_bounded(ctx, MAX_SOURCE_BYTES)
        if data is None:
            ctx.not_analyzed(ctx.member, "config.json too large for the recorded-version check")
            return
        try:
            result = ConfigJsonSource(decode(data, display), display).collect()
        except DependencySourceError:
            return  # not JSON after all: the primary analyzer reports malformed structure
        outcome = audit_source(
            result,
            scan_setup(getattr(ctx.options, "vuln_db", None)),
            ctx.member,
            policy=False,
            note_finding=False,
        )
        for message in outcome.errors:
            ctx.error(ANALYZER, message)
        yield from outcome.findings
