"""zlib and LZMA-alone streams whose content is a pickle (joblib's ``compress='zlib'`` / ``'lzma'``).

Recognised by content: the header parses and the first decompressed bytes start a pickle. The content is
decompressed in bounded size and ratio into a spooled file and handed back to the engine as a member,
where the pickle analyzers claim it. (gzip, bz2 and xz wrappers belong to the archive analyzers.)
"""

from __future__ import annotations

import lzma
import zlib
from collections.abc import Iterator
from typing import IO, Any

from scanner.formats.interface import AnalysisContext, Analyzer, Probe
from scanner.model import Finding
from scanner.pickles.detect import starts_pickle
from scanner.rulebook import finding

CHUNK = 1 << 16
OUT = 1 << 20


def _decompressor(head: bytes) -> Any | None:
    if len(head) >= 2 and head[0] & 0x0F == 8 and (head[0] << 8 | head[1]) % 31 == 0:
        return zlib.decompressobj()
    if (
        len(head) >= 13
        and head[0] < 225
        and head[1:5] in (b"\x00\x00\x80\x00", b"\x00\x00\x40\x00", b"\x00\x00\x00\x01")
    ) or (len(head) >= 13 and head[:1] == b"]" and head[1:3] == b"\x00\x00"):
        return lzma.LZMADecompressor(format=lzma.FORMAT_ALONE)
    return None


class CompressedPickleAnalyzer(Analyzer):
    """Decompresses a zlib or LZMA-alone pickle (bounded) and scans the content as a member."""

    name = "compressed-pickle"
    format = "compressed-pickle"
    priority = 55

    def detect(self, probe: Probe) -> bool:
        dec = _decompressor(probe.head)
        if dec is None:
            return False
        try:
            first = dec.decompress(probe.head[:4096], 256)
        except (zlib.error, lzma.LZMAError, EOFError):
            return False
        return starts_pickle(first, 1 << 62 if len(first) == 256 else len(first))

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        import tempfile

        limits = ctx.limits
        dec = _decompressor(ctx.probe.head)
        assert dec is not None
        cap = min(limits.max_member_bytes, max(0, limits.max_total_bytes - ctx.budget.expanded_bytes))
        written = 0
        problem: tuple[str, str] | None = None
        out: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=limits.spool_memory_bytes)  # noqa: SIM115
        with out, ctx.open() as src:
            try:
                for data, read in _inflate(dec, src):
                    written += len(data)
                    if written > cap:
                        problem = ("AS-GEN-004", f"decompressed content exceeds {cap} bytes")
                        break
                    if written > (1 << 20) and written > limits.max_ratio * max(read, 1):
                        problem = ("AS-GEN-004", f"decompression ratio exceeds {limits.max_ratio}:1 (bomb)")
                        break
                    out.write(data)
                else:
                    if not dec.eof:
                        problem = ("AS-GEN-005", f"compressed stream ends early after {written} bytes")
            except (zlib.error, lzma.LZMAError, EOFError) as exc:
                problem = ("AS-GEN-005", f"compressed stream is corrupt after {written} bytes: {exc}")
            ctx.budget.expanded_bytes += written
            if problem is not None:
                yield finding(problem[0], analyzer=self.name, detail=problem[1])
            size = out.tell()
            if size:
                out.seek(0)
                yield from ctx.scan_member("<decompressed>", out, size)  # type: ignore[arg-type]


def _inflate(dec: Any, src: IO[bytes]) -> Iterator[tuple[bytes, int]]:
    """Decompressed pieces of at most :data:`OUT` bytes, with the compressed bytes read so far."""
    read = 0
    while not dec.eof:
        chunk = src.read(CHUNK)
        if not chunk:
            return
        read += len(chunk)
        if isinstance(dec, lzma.LZMADecompressor):
            yield dec.decompress(chunk, OUT), read
            while not dec.needs_input and not dec.eof:
                yield dec.decompress(b"", OUT), read
        else:
            buf = chunk
            while buf and not dec.eof:
                data = dec.decompress(buf, OUT)
                buf = dec.unconsumed_tail
                yield data, read
