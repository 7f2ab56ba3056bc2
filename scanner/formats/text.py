"""Secrets in text content: any file or member that is UTF-8 without NUL bytes, whatever its name.

The content is read in blocks of bytes carried over with overlap, so memory is bounded and a secret across
a block boundary is seen whole; each block is searched with every pattern at once
(:func:`scanner.secret_fast.find_secrets_bytes`). Locations are byte offsets, with line numbers.
UTF-16 text with a byte-order mark (Windows editors write it) is transcoded to UTF-8 first; its offsets
are then those of the UTF-8 form.
"""

from __future__ import annotations

import codecs
import io
from collections.abc import Iterator
from typing import IO, Any

from scanner.formats.interface import TEXT_FIRST_BYTES, AnalysisContext, Analyzer, Probe
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

    first_bytes = TEXT_FIRST_BYTES | frozenset(codecs.BOM_UTF16_LE[:1] + codecs.BOM_UTF16_BE[:1])
    name = "text-secrets"
    format = "text"
    supplementary = True

    def detect(self, probe: Probe) -> bool:
        return probe.is_text() or _utf16(probe.head) is not None

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        encoding = None if ctx.probe.is_text() else _utf16(ctx.probe.head)
        with ctx.open() as raw_stream:
            stream: IO[bytes] = (
                raw_stream
                if encoding is None
                else io.BufferedReader(_Transcoded(raw_stream, encoding), _BLOCK)
            )
            yield from self._scan(ctx, stream, encoding)

    def _scan(self, ctx: AnalysisContext, stream: IO[bytes], encoding: str | None) -> Iterator[Finding]:
        where = "text" if encoding is None else f"{encoding} text (offsets of its UTF-8 form)"
        carry = b""
        carry_offset = 0  # byte offset of carry[0] in the content
        carry_line = 1  # line number of carry[0]
        low = 0  # matches ending at or before this index were reported by the previous block
        size = ctx.probe.size if encoding is None else None  # transcoded text has another length
        while True:
            raw = stream.read(_BLOCK)
            data = carry + raw
            # The last block: nothing more to read, or (plain text) the content's end is in hand, so
            # a file smaller than a block is searched once, not again as its own carry-over.
            final = not raw or (size is not None and len(raw) < _BLOCK and carry_offset + len(data) >= size)
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
                    detail=f"{match.pattern.name} in {where} at line {line}",
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


def _utf16(head: bytes) -> str | None:
    """``utf-16-le``/``utf-16-be`` when ``head`` starts with that byte-order mark and decodes cleanly."""
    for bom, name in ((codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be")):
        if head.startswith(bom) and len(head) >= 4:
            sample = head[2 : 2 + (len(head) - 2) // 2 * 2]
            try:
                text = sample.decode(name)
            except UnicodeDecodeError:
                return None
            return name if "\0" not in text else None
    return None


class _Transcoded(io.RawIOBase):
    """A UTF-16 stream read as UTF-8 bytes (the byte-order mark dropped), in bounded steps."""

    def __init__(self, source: IO[bytes], encoding: str) -> None:
        self._source = source
        self._decoder = codecs.getincrementaldecoder(encoding)("replace")
        self._pending = b""
        source.read(2)  # the byte-order mark

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            raw = self._source.read(1 << 20)
            self._pending = self._decoder.decode(raw, final=not raw).encode("utf-8", "surrogatepass")
            if not raw:
                break
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n
