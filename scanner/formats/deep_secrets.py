"""``scan --deep``: secrets in the raw bytes of binary content (text content is scanned by ``text``).

Runs only when :attr:`scanner.engine.ScanOptions.deep_secrets` is set; reads the content once more,
in constant memory, with :func:`scanner.secret_deep.search_stream`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from scanner.formats.interface import AnalysisContext, Analyzer, Probe
from scanner.model import Finding
from scanner.rulebook import finding

NAME = "deep-secrets"
MAX_REPORTED = 100
"""Secrets reported one by one per file or member; the rest are counted in one finding."""


class DeepSecretsAnalyzer(Analyzer):
    """High-confidence secret patterns over every byte of binary content."""

    name = NAME
    format = "binary"
    supplementary = True

    def enabled(self, options: Any) -> bool:
        return bool(getattr(options, "deep_secrets", False))

    def detect(self, probe: Probe) -> bool:
        return not probe.is_text()

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        from scanner.secret_deep import DeepSearchLimit, search_stream  # only with --deep

        reported = 0
        with ctx.open() as stream:
            try:
                for match in search_stream(stream):
                    reported += 1
                    if reported > MAX_REPORTED:
                        continue
                    yield finding(
                        "AS-SEC-003",
                        analyzer=NAME,
                        member=ctx.member,
                        offset=match.offset,
                        detail=f"{match.pattern.name} in raw bytes at offset {match.offset:#x}",
                        evidence=match.redacted,
                        extra={"secret_type": match.pattern.name, "length": match.length},
                    )
            except DeepSearchLimit as exc:
                ctx.not_analyzed(ctx.member, f"deep secret search stopped at offset {exc.offset:#x}")
                yield finding(
                    "AS-GEN-004", analyzer=NAME, member=ctx.member, offset=exc.offset, detail=str(exc)
                )
        if reported > MAX_REPORTED:
            yield finding(
                "AS-SEC-003",
                analyzer=NAME,
                member=ctx.member,
                detail=f"{reported - MAX_REPORTED} more secrets in raw bytes (only the first {MAX_REPORTED} "
                "are listed one by one)",
            )
