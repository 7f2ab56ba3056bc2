"""zlib and LZMA-alone streams whose content is a pickle (joblib's ``compress='zlib'`` / ``'lzma'``).

The archive family's stream analyzers do the bounded decompression and hand the content on, where the
pickle analyzers claim it; these subclasses only claim such streams first (the first decompressed bytes
start a pickle), so that reports and the BOM label the file a compressed pickle, not a bare stream.
"""

from __future__ import annotations

import lzma
import zlib
from typing import Any

from scanner.formats.compressed import LzmaAloneAnalyzer, ZlibAnalyzer
from scanner.formats.interface import Probe
from scanner.pickles.detect import starts_pickle

FORMAT = "compressed-pickle"
PRIORITY = 55
"""Above the plain zlib/LZMA analyzers (50)."""


def _holds_pickle(decompressor: Any, head: bytes) -> bool:
    try:
        first = decompressor.decompress(head[:4096], 256)
    except (zlib.error, lzma.LZMAError, EOFError):
        return False
    return starts_pickle(first, 1 << 62 if len(first) == 256 else len(first))


class ZlibPickleAnalyzer(ZlibAnalyzer):
    """A zlib stream holding a pickle."""

    name = "zlib-pickle"
    format = FORMAT
    priority = PRIORITY

    def detect(self, probe: Probe) -> bool:
        return super().detect(probe) and _holds_pickle(self.decompressor(), probe.head)


class LzmaPickleAnalyzer(LzmaAloneAnalyzer):
    """An LZMA-alone stream holding a pickle."""

    name = "lzma-pickle"
    format = FORMAT
    priority = PRIORITY

    def detect(self, probe: Probe) -> bool:
        return super().detect(probe) and _holds_pickle(self.decompressor(), probe.head)
