"""The ``storages`` and ``tensors`` members of a legacy PyTorch tar, split as ``torch.load`` reads them.

``torch.serialization.legacy_load`` reads ``storages`` as: a pickled count; per storage a pickled
``(key, location, storage type)`` followed by an int64 element count and the raw bytes; then a pickled
list of views. ``tensors``: a pickled count; per tensor a pickled ``(key, storage key, tensor type)``
followed by an int32 ndim, 4 padding bytes, ndim int64 sizes, ndim int64 strides and an int64 offset.
Handing those members whole to the pickle analyzers would report the raw data as bytes outside any
pickle; split, each pickle is a member of its own and each storage's bytes are a tensor storage. Pickle
boundaries come from the pickle engine's reader (which follows frames as CPython's unpickler does).
Anything that does not fit the layout returns ``None`` and the member is handed on whole.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from typing import BinaryIO

ELEMENT_SIZES = {
    "Double": 8, "Float": 4, "Half": 2, "BFloat16": 2, "Long": 8, "Int": 4, "Short": 2, "Char": 1,
    "Byte": 1, "Bool": 1, "ComplexDouble": 16, "ComplexFloat": 8,
}  # fmt: skip
_STORAGE = re.compile(r"^(\w+?)Storage$")
_TENSOR = re.compile(r"^\w*Tensor$")
MAX_PIECES = 100_000
"""Pieces one member may be split into."""


@dataclass(frozen=True)
class Piece:
    """A byte range of the member: a pickle or a storage's raw data."""

    kind: str
    """``pickle`` or ``storage``."""
    offset: int
    """Start in the member."""
    length: int
    """Bytes."""


def split_member(stream: BinaryIO, size: int, tensors: bool) -> list[Piece] | None:
    """The pieces of a ``storages`` (or, with ``tensors``, a ``tensors``) member, or ``None``."""
    from scanner.pickles.stream import read_one

    pieces: list[Piece] = []
    pos = 0
    while pos < size:
        if len(pieces) >= MAX_PIECES:
            return None
        trace = read_one(stream, pos, size, {})
        if not trace.stopped or trace.end <= pos:
            return None
        pieces.append(Piece("pickle", pos, trace.end - pos))
        pos = trace.end
        names = [g.name for g in trace.imports if g.module == "torch"]
        if tensors and any(_TENSOR.match(n) for n in names):
            stream.seek(pos)
            head = stream.read(4)
            if len(head) < 4:
                return None
            (ndim,) = struct.unpack("<i", head)
            if not 0 <= ndim <= 64:
                return None
            pos += 8 + 16 * ndim + 8
        elif not tensors:
            sizes = [ELEMENT_SIZES.get(m.group(1)) for m in map(_STORAGE.match, names) if m]
            if not sizes:
                continue
            if sizes[0] is None:
                return None
            stream.seek(pos)
            raw = stream.read(8)
            if len(raw) < 8:
                return None
            (numel,) = struct.unpack("<q", raw)
            length = numel * sizes[0]
            if numel < 0 or pos + 8 + length > size:
                return None
            pieces.append(Piece("storage", pos + 8, length))
            pos += 8 + length
        if pos > size:
            return None
    return pieces
