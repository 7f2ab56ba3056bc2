"""Bare compressed streams: gzip, bzip2, xz, LZMA ("alone") and zlib, recognised by content.

The stream is decompressed once, bounded by the member size limit, the ratio limit (against the
compressed size) and the artifact's expansion budget, into a spool; the result is handed back to the
engine as a member, so a ``.tar.gz`` becomes a tar, a compressed joblib file a pickle, a ``.pt.gz`` a
checkpoint. Concatenated gzip/bzip2/xz streams are read to the end as their tools do; trailing garbage
is reported and what came before it is still analyzed.
"""

from __future__ import annotations

import bz2
import io
import lzma
import zlib
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO, ClassVar

from scanner.formats._containers import scan_member, spool_bounded
from scanner.formats.interface import AnalysisContext, Analyzer, Probe
from scanner.model import Finding
from scanner.rulebook import finding

SMALL_OUTPUT = 1 << 20
"""Output always allowed whatever the ratio (tiny files of zeros are not bombs)."""
_SUFFIXES = (".gz", ".tgz", ".gzip", ".bz2", ".tbz2", ".xz", ".txz", ".lzma", ".zz", ".z")
_TAR_SUFFIXES = {".tgz": ".tar", ".tbz2": ".tar", ".txz": ".tar"}


class _StreamReader(io.RawIOBase):
    """Decompresses one stream, or concatenated streams when ``multi``, chunk by chunk.

    Corrupt data raises; bytes after the last complete stream that do not start another one stop the
    reading and are counted in ``trailing`` (what came before stays readable).
    """

    def __init__(self, source: BinaryIO, make: Callable[[], Any], multi: bool, magic: bytes) -> None:
        self._source = source
        self._make = make
        self._d = make()
        self._zlib = hasattr(self._d, "unconsumed_tail")
        self._multi = multi
        self._magic = magic
        self._pending = b""
        self._buffer = b""
        self._started = False
        self.trailing = 0
        self.done = False

    def readable(self) -> bool:
        return True

    def _next_stream(self) -> None:
        rest = self._d.unused_data + self._pending
        self._pending = b""
        if len(rest) < len(self._magic):
            rest += self._source.read(1 << 16)
        if not rest:
            self.done = True
            return
        if self._multi and rest.startswith(self._magic):
            self._d = self._make()
            self._pending = rest
            self._started = False
            return
        self.done = True
        junk = rest.strip(b"\0")
        while not junk:
            more = self._source.read(1 << 16)
            if not more:
                return
            junk = more.strip(b"\0")
        self.trailing = len(rest) + sum(len(c) for c in iter(lambda: self._source.read(1 << 16), b""))

    def _step(self, want: int) -> None:
        if self._d.eof:
            self._next_stream()
            return
        if self._zlib:
            data = self._d.unconsumed_tail or self._pending or self._source.read(1 << 16)
            self._pending = b""
            if not data:
                raise EOFError("compressed stream ends early")
            self._buffer = self._d.decompress(data, want)
        else:
            data = b""
            if self._d.needs_input:
                data = self._pending or self._source.read(1 << 16)
                self._pending = b""
                if not data:
                    raise EOFError("compressed stream ends early")
            self._buffer = self._d.decompress(data, want)
        self._started = True

    def readinto(self, buffer: Any) -> int:
        while not self._buffer and not self.done:
            self._step(len(buffer))
        n = min(len(buffer), len(self._buffer))
        buffer[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


def _tries(decompressor: Any, head: bytes) -> bool:
    """Whether ``head`` starts a valid stream for ``decompressor`` (no error on the first bytes)."""
    try:
        decompressor.decompress(head[:4096], 1024)
    except (zlib.error, lzma.LZMAError, OSError, EOFError, ValueError):
        return False
    return True


class CompressedStreamAnalyzer(Analyzer):
    """Base for the codecs below: decompress with bounds, hand the content on."""

    first_bytes: ClassVar[frozenset[int] | None] = frozenset()  # claims nothing; each codec sets its own
    name = "compressed"
    format = "compressed"
    priority = 140
    codec: ClassVar[str] = ""

    def detect(self, probe: Probe) -> bool:
        return False

    magic: ClassVar[bytes] = b""
    multi: ClassVar[bool] = True

    def decompressor(self) -> Any:
        """A fresh decompressor object for one stream."""
        raise NotImplementedError

    def reader(self, stream: BinaryIO) -> _StreamReader:
        """A reader of the decompressed content."""
        return _StreamReader(stream, self.decompressor, self.multi, self.magic)

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        limits = ctx.limits
        size = ctx.probe.size
        cap = min(
            limits.max_member_bytes,
            max(size * limits.max_ratio, SMALL_OUTPUT),
            max(limits.max_total_bytes - ctx.budget.expanded_bytes, 0),
        )
        name = self.stored_name(ctx.probe.head) or self._member_name(ctx.probe.name)
        member = ctx.child_member(name)
        ctx.set_property("compression", self.codec)
        with ctx.open() as stream:
            source = self.reader(stream)
            spooled = spool_bounded(ctx, source, cap)
            more = False
            if spooled.error is None and spooled.size == cap:
                try:
                    more = bool(source.read(1))
                except Exception as exc:  # decompressors raise their own error types
                    spooled.error = f"{type(exc).__name__}: {exc}"
        with spooled.file as data:
            if more:
                ctx.not_analyzed(member, f"content beyond the first {cap} bytes")
                yield finding(
                    "AS-GEN-004",
                    analyzer=self.name,
                    member=member,
                    detail=f"{self.codec} stream of {size} bytes expands beyond {cap} bytes (size, ratio "
                    f"or total limit); only the first {cap} bytes were analyzed",
                )
            if spooled.error is not None:
                yield finding(
                    "AS-GEN-005",
                    analyzer=self.name,
                    member=member if spooled.size else ctx.member,
                    detail=f"{self.codec} stream unreadable after {spooled.size} bytes: {spooled.error}",
                )
            if source.trailing:
                yield finding(
                    "AS-GEN-005",
                    analyzer=self.name,
                    member=ctx.member,
                    detail=f"{source.trailing} bytes of non-{self.codec} data follow the compressed stream",
                )
            if spooled.size:
                yield from scan_member(ctx, self.name, name, data, spooled.size)  # type: ignore[arg-type]

    def stored_name(self, head: bytes) -> str | None:
        """The original file name the stream records, if the format has one."""
        return None

    def _member_name(self, name: str) -> str:
        base = name.rsplit("/", 1)[-1]
        lower = base.lower()
        for suffix in _SUFFIXES:
            if lower.endswith(suffix) and len(base) > len(suffix):
                return base[: -len(suffix)] + _TAR_SUFFIXES.get(suffix, "")
        return f"<{self.codec}>"


class GzipAnalyzer(CompressedStreamAnalyzer):
    """gzip (RFC 1952), including concatenated members."""

    first_bytes = frozenset(b"\x1f")
    name = "gzip"
    format = "gzip"
    codec = "gzip"

    def detect(self, probe: Probe) -> bool:
        return probe.head[:3] == b"\x1f\x8b\x08"

    magic = b"\x1f\x8b"

    def decompressor(self) -> Any:
        return zlib.decompressobj(31)

    def stored_name(self, head: bytes) -> str | None:
        """The FNAME field of the gzip header (``gzip model.pt`` records ``model.pt``), base name only."""
        flags = head[3] if len(head) > 3 else 0
        pos = 10
        if flags & 0x04:  # FEXTRA
            if len(head) < pos + 2:
                return None
            pos += 2 + int.from_bytes(head[pos : pos + 2], "little")
        if not flags & 0x08:  # FNAME
            return None
        end = head.find(b"\0", pos, pos + 1024)
        if end < 0:
            return None
        name = head[pos:end].decode("latin-1").replace("\\", "/").rsplit("/", 1)[-1]
        return name if name and name not in (".", "..") and name.isprintable() else None


class Bzip2Analyzer(CompressedStreamAnalyzer):
    """bzip2 streams, including concatenated ones."""

    first_bytes = frozenset(b"B")
    name = "bzip2"
    format = "bzip2"
    codec = "bzip2"

    def detect(self, probe: Probe) -> bool:
        head = probe.head
        return (
            head[:3] == b"BZh"
            and head[3:4] in b"123456789"
            and head[4:10]
            in (
                b"\x31\x41\x59\x26\x53\x59",
                b"\x17\x72\x45\x38\x50\x90",
            )
        )

    magic = b"BZh"

    def decompressor(self) -> Any:
        return bz2.BZ2Decompressor()


class XzAnalyzer(CompressedStreamAnalyzer):
    """xz containers."""

    first_bytes = frozenset(b"\xfd")
    name = "xz"
    format = "xz"
    codec = "xz"

    def detect(self, probe: Probe) -> bool:
        return probe.head[:6] == b"\xfd7zXZ\x00"

    magic = b"\xfd7zXZ\x00"

    def decompressor(self) -> Any:
        return lzma.LZMADecompressor(lzma.FORMAT_XZ)


class LzmaAloneAnalyzer(CompressedStreamAnalyzer):
    """Legacy ``.lzma`` ("alone") streams.

    Low priority: an LZMA-alone or zlib stream whose content starts a pickle (joblib's compressors) is
    claimed first by the subclasses in ``compressed_pickle`` (same decompression, a compressed-pickle
    label); these take every other content.
    """

    first_bytes = frozenset(range(225))  # the properties byte
    name = "lzma"
    format = "lzma"
    codec = "lzma"
    priority = 50

    def detect(self, probe: Probe) -> bool:
        head = probe.head
        if len(head) < 14 or head[0] >= 225 or head[1:5] == b"\0\0\0\0":
            return False
        dict_size = int.from_bytes(head[1:5], "little")
        if dict_size & (dict_size - 1) and dict_size != 0xFFFFFFFF:
            # Dictionary sizes are 2^n or 2^n + 2^(n-1).
            low = dict_size & -dict_size
            if dict_size != low * 3:
                return False
        return _tries(lzma.LZMADecompressor(lzma.FORMAT_ALONE), head)

    multi = False

    def decompressor(self) -> Any:
        return lzma.LZMADecompressor(lzma.FORMAT_ALONE)


class ZlibAnalyzer(CompressedStreamAnalyzer):
    """zlib-wrapped deflate (joblib's default compressor writes it)."""

    first_bytes = frozenset(b"\x78")
    name = "zlib"
    format = "zlib"
    codec = "zlib"
    priority = 50

    def detect(self, probe: Probe) -> bool:
        head = probe.head
        if len(head) < 8 or head[0] != 0x78 or head[1] not in (0x01, 0x5E, 0x9C, 0xDA):
            return False
        return _tries(zlib.decompressobj(), head)

    multi = False

    def decompressor(self) -> Any:
        return zlib.decompressobj(15)
