"""Raw pickles of any protocol (and joblib's pickles with in-stream numpy arrays), recognised by content.

Every pickle stacked in the file is read, junk between them is reported and skipped, and each import and
call is judged by the pickle engine (:mod:`scanner.pickles`). Nothing is unpickled.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

from scanner.formats.interface import AnalysisContext, Analyzer, Probe
from scanner.model import Finding
from scanner.pickles.detect import LEGACY_TORCH_MAGIC, PICKLE_FIRST_BYTES, starts_pickle
from scanner.pickles.joblib_arrays import joblib_build_hook
from scanner.pickles.report import PickleFindings
from scanner.pickles.stream import read_pickles


def byte_reader(stream: BinaryIO) -> Callable[[int, int], bytes]:
    """A function reading ``[start, end)`` of ``stream`` (for decompiling one pickle)."""

    def read(start: int, end: int) -> bytes:
        stream.seek(start)
        return stream.read(end - start)

    return read


class PickleAnalyzer(Analyzer):
    """Any pickle stream: protocols 0-5, stacked pickles, joblib arrays."""

    first_bytes = PICKLE_FIRST_BYTES
    name = "pickle"
    format = "pickle"
    priority = 60

    def detect(self, probe: Probe) -> bool:
        return probe.cached(_starts_pickle)

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        with ctx.open() as stream:
            result = read_pickles(stream, 0, ctx.probe.size, build_hook=joblib_build_hook)
            ctx.set_property("pickle_count", result.pickles)
            protocols = sorted({t.protocol for t in result.traces})
            ctx.set_property("pickle_protocols", protocols)
            yield from PickleFindings(self.name, ctx, byte_reader(stream)).stream(result)


class JoblibAnalyzer(PickleAnalyzer):
    """A joblib pickle (numpy arrays stored raw inside the stream); analyzed like any pickle."""

    name = "joblib"
    format = "joblib"
    priority = 61

    def detect(self, probe: Probe) -> bool:
        return super().detect(probe) and b"joblib.numpy_pickle" in probe.head[:4096]


def _starts_pickle(probe: Probe) -> bool:
    return starts_pickle(probe.head, probe.size)


def is_legacy_torch(head: bytes) -> bool:
    """Whether the head is that of a legacy (non-zip) ``torch.save`` file."""
    return head.startswith(LEGACY_TORCH_MAGIC)
