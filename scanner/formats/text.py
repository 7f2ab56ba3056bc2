"""Secrets in text content: any file or member that is UTF-8 without NUL bytes, whatever its name.

The content is read in blocks of bytes carried over with overlap, so memory is bounded and a secret across
a block boundary is seen whole; each block is searched with every pattern at once
(:func:`scanner.secret_fast.find_secrets_bytes`). Locations are byte offsets, with line numbers.
"""

from __future__ import annotations

from collections.abc import Iterator

from scanner.formats.interface import AnalysisContext, Analyzer, Probe
from scanner.model import Finding
from scanner.rulebook import finding
from scanner.secret_fast import find_secrets_bytes

_BLOCK = 1 << 20
_OVERLAP = 65536
"""Bytes carried into the next block, so a secret across a block boundary is seen whole."""
_SAFE = 20000
"""A match ending this close to a block's end is left to the next block (which sees more after it)."""


class TextSecretsAnalyzer(Analyzer):
    """Scans text content for secrets, streaming with overlap so memory stays bounded."""

    name = "text-secrets"
    format = "text"
    supplementary = True

    def detect(self, probe: Probe) -> bool:
        return probe.is_text()

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        carry = b""
        carry_offset = 0  # byte offset of carry[0] in the content
        carry_line = 1  # line number of carry[0]
        low = 0  # matches ending at or before this index were reported by the previous block
        with ctx.open() as stream:
            while True:
                raw = stream.read(_BLOCK)
                final = not raw
                data = carry + raw
                high = len(data) if final else len(data) - _SAFE
                for match in find_secrets_bytes(data):
                    if not low < match.end <= high:
                        continue
                    offset = carry_offset + match.start
                    line = carry_line + data.count(b"\n", 0, match.start)
                    yield finding(
                        match.pattern.rule_id,
                        analyzer=self.name,
                        member=ctx.member,
                        offset=offset,
                        detail=f"{match.pattern.name} in text at line {line}",
                        evidence=match.redacted,
                        extra={"secret_type": match.pattern.name, "line": line},
                    )
                if final:
                    return
                keep = min(len(data), _OVERLAP)
                carry_offset += len(data) - keep
                carry_line += data.count(b"\n", 0, len(data) - keep)
                carry = data[len(data) - keep :]
                low = max(0, keep - _SAFE)
