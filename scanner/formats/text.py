"""Secrets in text content: any file or member that is UTF-8 without NUL bytes, whatever its name."""

from __future__ import annotations

import codecs
from collections.abc import Iterator

from scanner.formats.interface import AnalysisContext, Analyzer, Probe
from scanner.model import Finding
from scanner.rulebook import finding
from scanner.secret_scan import find_secrets

_BLOCK = 1 << 20
_OVERLAP = 32768
"""Characters carried into the next block, so a secret across a block boundary is seen whole."""
_SAFE = 4096
"""A match ending this close to a block's end is left to the next block (which sees more after it)."""


class TextSecretsAnalyzer(Analyzer):
    """Scans text content for secrets, streaming with overlap so memory stays bounded."""

    name = "text-secrets"
    format = "text"
    supplementary = True

    def detect(self, probe: Probe) -> bool:
        return probe.is_text()

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
        carry = ""
        carry_offset = 0  # character offset of carry[0] in the whole text
        carry_line = 1  # line number of carry[0]
        low = 0  # matches ending at or before this index were reported by the previous block
        with ctx.open() as stream:
            while True:
                raw = stream.read(_BLOCK)
                final = not raw
                text = carry + decoder.decode(raw, final=final)
                high = len(text) if final else len(text) - _SAFE
                for match in find_secrets(text):
                    if not low < match.end <= high:
                        continue
                    position = carry_offset + match.start
                    line = carry_line + text.count("\n", 0, match.start)
                    yield finding(
                        match.pattern.rule_id,
                        analyzer=self.name,
                        member=ctx.member,
                        detail=f"{match.pattern.name} in text at line {line} (character {position})",
                        evidence=match.redacted,
                        extra={"secret_type": match.pattern.name, "line": line, "char_offset": position},
                    )
                if final:
                    return
                keep = min(len(text), _OVERLAP)
                carry_offset += len(text) - keep
                carry_line += text.count("\n", 0, len(text) - keep)
                carry = text[len(text) - keep :]
                low = max(0, keep - _SAFE)
