"""Secrets in text content: any file or member that is UTF-8 without NUL bytes, whatever its name."""

from __future__ import annotations

import codecs
from collections.abc import Iterator

from scanner.formats.interface import AnalysisContext, Analyzer, Probe
from scanner.model import Finding
from scanner.rulebook import finding
from scanner.secret_scan import find_secrets

_BLOCK = 1 << 20
_OVERLAP = 4096


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
        seen: set[tuple[int, str]] = set()
        with ctx.open() as stream:
            while True:
                raw = stream.read(_BLOCK)
                final = not raw
                text = carry + decoder.decode(raw, final=final)
                for match in find_secrets(text):
                    position = carry_offset + match.start
                    key = (position, match.pattern.name)
                    if key in seen:
                        continue
                    seen.add(key)
                    yield finding(
                        match.pattern.rule_id,
                        analyzer=self.name,
                        member=ctx.member,
                        detail=f"{match.pattern.name} in text at character {position}",
                        evidence=match.redacted,
                        extra={"secret_type": match.pattern.name, "char_offset": position},
                    )
                if final:
                    return
                keep = min(len(text), _OVERLAP)
                carry_offset += len(text) - keep
                carry = text[len(text) - keep :]
                seen = {k for k in seen if k[0] >= carry_offset}
