"""NumPy ``.npy``: magic, version, a Python-literal header, then the data.

Plain dtypes are checked against the file size and never read. An object dtype means the data is a
pickle (NumPy unpickles it when its loader is told to allow pickles): that pickle is analyzed by the
pickle engine.
"""

from __future__ import annotations

import ast
import re
import struct
from collections.abc import Iterator
from typing import Any

from scanner.formats.interface import AnalysisContext, Analyzer, Probe
from scanner.formats.pickle_file import byte_reader
from scanner.model import Finding
from scanner.pickles.report import PickleFindings
from scanner.pickles.stream import read_pickles
from scanner.rulebook import finding

MAGIC = b"\x93NUMPY"
MAX_HEADER = 1 << 16
_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")
"""A memory address in an object's repr."""
_SIZE = re.compile(r"^[<>|=]?[a-zA-Z](\d*)")


def _has_object(descr: Any, depth: int = 0) -> bool:
    if depth > 32:
        return True
    if isinstance(descr, str):
        return descr.lstrip("<>|=").startswith("O")
    if isinstance(descr, (list, tuple)):
        return any(_has_object(d, depth + 1) for d in descr)
    return False


def _itemsize(descr: Any) -> int | None:
    if not isinstance(descr, str):
        return None
    m = _SIZE.match(descr)
    if not m or not m.group(1):
        return None
    unit = 4 if descr.lstrip("<>|=").startswith("U") else 1
    return int(m.group(1)) * unit


class NpyAnalyzer(Analyzer):
    """Validates the header; analyzes the pickle of object arrays."""

    first_bytes = frozenset(MAGIC[:1])
    name = "npy"
    format = "npy"
    priority = 180

    def detect(self, probe: Probe) -> bool:
        return probe.head.startswith(MAGIC) and len(probe.head) >= 10

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        head = ctx.probe.head
        major = head[6]
        if major == 1:
            (length,) = struct.unpack_from("<H", head, 8)
            start = 10
        elif major in (2, 3) and len(head) >= 12:
            (length,) = struct.unpack_from("<I", head, 8)
            start = 12
        else:
            yield finding("AS-GEN-005", analyzer=self.name, offset=6, detail=f"unknown .npy version {major}")
            return
        if length > MAX_HEADER or start + length > len(head):
            yield finding(
                "AS-GEN-005",
                analyzer=self.name,
                offset=8,
                detail=f"header claims {length} bytes, beyond the data",
            )
            return
        text = head[start : start + length].decode("latin-1")
        try:
            header = ast.literal_eval(text)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError) as exc:
            # The parser's message may name a node by its repr, memory address included: dropped, so that
            # two scans of the same file say the same.
            reason = _ADDRESS.sub("", str(exc))
            yield finding(
                "AS-GEN-005", analyzer=self.name, offset=start, detail=f"header is not a literal: {reason}"
            )
            return
        if not isinstance(header, dict) or not {"descr", "shape", "fortran_order"} <= set(header):
            yield finding(
                "AS-GEN-005",
                analyzer=self.name,
                offset=start,
                detail="header lacks descr/shape/fortran_order",
            )
            return
        descr, shape = header["descr"], header["shape"]
        data_start = start + length
        ctx.set_property("dtype", str(descr)[:200])
        ctx.set_property("shape", list(shape) if isinstance(shape, tuple) else str(shape)[:100])
        if _has_object(descr):
            with ctx.open() as stream:
                result = read_pickles(stream, data_start, ctx.probe.size)
                yield from PickleFindings(self.name, ctx, byte_reader(stream)).stream(
                    result, "object array pickle"
                )
            return
        itemsize = _itemsize(descr)
        if (
            itemsize is None
            or not isinstance(shape, tuple)
            or not all(isinstance(n, int) and n >= 0 for n in shape)
        ):
            return
        count = 1
        for n in shape:
            count *= n
        if data_start + count * itemsize > ctx.probe.size:
            yield finding(
                "AS-GEN-005",
                analyzer=self.name,
                offset=data_start,
                detail=f"shape {shape} of {descr} needs {count * itemsize} bytes, the file has "
                f"{ctx.probe.size - data_start}",
            )
