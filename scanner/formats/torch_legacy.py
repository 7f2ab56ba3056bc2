"""Legacy PyTorch files (``torch.save(..., _use_new_zipfile_serialization=False)``).

Five pickles are stacked (magic number, protocol version, system info, the object, the storage keys),
followed by each storage's raw bytes (an 8-byte element count, then the elements). Every pickle is
analyzed, not only the first; storages are skipped by their declared sizes, and anything after them is
read as further pickles or reported as junk.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from typing import Any

from scanner.formats.interface import AnalysisContext, Analyzer, Probe
from scanner.formats.pickle_file import byte_reader, is_legacy_torch
from scanner.model import Finding
from scanner.pickles.detect import LEGACY_TORCH_MAGIC
from scanner.pickles.report import PickleFindings
from scanner.pickles.stream import StreamResult, read_pickles
from scanner.pickles.values import Global
from scanner.rulebook import finding

LEGACY_PICKLES = 5
ELEMENT_SIZE = {
    "DoubleStorage": 8, "FloatStorage": 4, "HalfStorage": 2, "BFloat16Storage": 2, "LongStorage": 8,
    "IntStorage": 4, "ShortStorage": 2, "CharStorage": 1, "ByteStorage": 1, "BoolStorage": 1,
    "ComplexFloatStorage": 8, "ComplexDoubleStorage": 16, "QUInt8Storage": 1, "QInt8Storage": 1,
    "QInt32Storage": 4, "QUInt4x2Storage": 1, "QUInt2x4Storage": 1, "UntypedStorage": 1,
}  # fmt: skip
_LABELS = ("magic number", "protocol version", "system info", "object", "storage keys")


def _storage_sizes(pids: list[Any]) -> dict[str, int]:
    """Storage key -> element size, from ``('storage', torch.XStorage, key, location, numel, ...)`` ids."""
    sizes: dict[str, int] = {}
    for pid in pids:
        if isinstance(pid, tuple) and len(pid) >= 5 and pid[0] == "storage":
            kind, key = pid[1], pid[2]
            if isinstance(kind, Global) and isinstance(key, str) and kind.name in ELEMENT_SIZE:
                sizes[key] = ELEMENT_SIZE[kind.name]
    return sizes


class TorchLegacyAnalyzer(Analyzer):
    """All stacked pickles of a legacy torch file, then its storages by their declared sizes."""

    first_bytes = frozenset(LEGACY_TORCH_MAGIC[:1])
    name = "torch-legacy"
    format = "pytorch-legacy"
    priority = 70

    def detect(self, probe: Probe) -> bool:
        return is_legacy_torch(probe.head)

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        size = ctx.probe.size
        with ctx.open() as stream:
            report = PickleFindings(self.name, ctx, byte_reader(stream))
            pos = 0
            traces = []
            for index in range(LEGACY_PICKLES):
                part = read_pickles(stream, pos, size, stacked=False)
                label = f"pickle {index + 1} of {LEGACY_PICKLES}, {_LABELS[index]}"
                yield from report.stream(part, label)
                if not part.traces or not part.traces[0].stopped:
                    return
                traces.append(part.traces[0])
                pos = part.end
            ctx.set_property("pickle_count", LEGACY_PICKLES)
            sizes = _storage_sizes(traces[3].persistent_ids)
            keys = traces[4].result
            if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
                yield finding(
                    "AS-PKL-005",
                    analyzer=self.name,
                    offset=traces[4].start,
                    detail="storage keys are not a list of strings",
                )
                return
            for key in keys:
                if key not in sizes:
                    yield finding(
                        "AS-PKL-005",
                        analyzer=self.name,
                        offset=pos,
                        detail=f"storage {key!r} is listed but not described by the object pickle",
                    )
                    return
                header = _read_at(stream, pos, 8)
                if len(header) < 8:
                    yield finding(
                        "AS-PKL-005",
                        analyzer=self.name,
                        offset=pos,
                        detail=f"data ends before storage {key!r}",
                    )
                    return
                (count,) = struct.unpack("<q", header)
                length = count * sizes[key]
                if count < 0 or pos + 8 + length > size:
                    yield finding(
                        "AS-PKL-005",
                        analyzer=self.name,
                        offset=pos,
                        detail=f"storage {key!r} claims {count} elements, beyond the end of the file",
                    )
                    return
                pos += 8 + length
            ctx.set_property("storage_count", len(keys))
            if pos < size:
                rest: StreamResult = read_pickles(stream, pos, size)
                rest.junk = rest.junk or ([] if rest.traces else [(pos, size - pos)])
                yield from report.stream(rest, "after the storages")


def _read_at(stream: Any, pos: int, n: int) -> bytes:
    stream.seek(pos)
    data: bytes = stream.read(n)
    return data
