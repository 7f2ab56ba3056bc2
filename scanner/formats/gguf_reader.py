"""A bounded reader for GGUF files (header, every metadata key/value of every type, the tensor table).

Written from the GGUF specification; the ``gguf`` package maps the whole file and trusts the header's
counts, so it is used only to write fixtures. Every claimed count and length is checked against the bytes
that remain before anything is allocated or read, strings are kept only up to a cap, numeric arrays are
skipped by seeking, and tensor data is never read.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO

MAGIC = b"GGUF"
MAX_STRING_KEPT = 1 << 20
"""Longest string value kept in memory (chat templates are well below)."""
MAX_KEY_LEN = 65_535
MAX_ARRAY_DEPTH = 4
MAX_KV = 1_000_000
MAX_TENSORS = 1_000_000
MAX_DIMS = 8
MAX_TEXT_PER_ARRAY = 4 << 20
"""String bytes of one array kept for secret scanning."""

STRING = 8
ARRAY = 9
_SCALARS: dict[int, tuple[str, str]] = {
    0: ("uint8", "<B"), 1: ("int8", "<b"), 2: ("uint16", "<H"), 3: ("int16", "<h"), 4: ("uint32", "<I"),
    5: ("int32", "<i"), 6: ("float32", "<f"), 7: ("bool", "<?"), 10: ("uint64", "<Q"), 11: ("int64", "<q"),
    12: ("float64", "<d"),
}  # fmt: skip


class GgufError(ValueError):
    """The file does not follow the GGUF format."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(f"{message} (at byte {offset})")
        self.offset = offset
        """Where the problem was found."""


class GgufLimit(GgufError):
    """A bound of this reader was reached (the file may be legitimate but is too large to judge)."""


@dataclass(frozen=True)
class MetadataValue:
    """One metadata key/value."""

    key: str
    """The key."""
    type_id: int
    """GGUF value type (8 string, 9 array, ...)."""
    offset: int
    """Offset of the key in the file."""
    value: Any
    """Scalar, string (possibly cut), or for arrays the list of kept string items (empty for numbers)."""
    element_type: int | None = None
    """Element type for arrays."""
    count: int = 1
    """Elements in an array."""
    truncated: bool = False
    """Whether a string (or an array's kept text) was cut."""


@dataclass(frozen=True)
class TensorInfo:
    """One entry of the tensor table."""

    name: str
    """Tensor name."""
    dims: tuple[int, ...]
    """Shape, innermost first as stored."""
    type_id: int
    """ggml type."""
    offset: int
    """Offset relative to the start of the data area."""
    info_offset: int
    """Where the entry lies in the file."""


@dataclass
class GgufHeader:
    """Everything read from a GGUF file before its tensor data."""

    version: int
    """Format version (1, 2 or 3)."""
    metadata: list[MetadataValue] = field(default_factory=list)
    """Key/values in file order (duplicates kept)."""
    tensors: list[TensorInfo] = field(default_factory=list)
    """Tensor table."""
    data_start: int = 0
    """Offset of the data area (aligned)."""
    alignment: int = 32
    """Alignment in force."""

    def get(self, key: str) -> Any:
        """The first value under ``key`` or ``None``."""
        for item in self.metadata:
            if item.key == key:
                return item.value
        return None


class _Cursor:
    """A position in the stream, read through a bounded window (no seek per value)."""

    WINDOW = 1 << 20

    def __init__(self, stream: BinaryIO, size: int) -> None:
        self.stream = stream
        self.size = size
        self.pos = 0
        self._buf = b""
        self._buf_start = 0

    def remaining(self) -> int:
        return self.size - self.pos

    def read(self, n: int) -> bytes:
        if n > self.remaining():
            raise GgufError(self.pos, f"needs {n} bytes, only {self.remaining()} remain")
        rel = self.pos - self._buf_start
        if rel < 0 or rel + n > len(self._buf):
            self.stream.seek(self.pos)
            self._buf = self.stream.read(max(n, self.WINDOW))
            self._buf_start = self.pos
            rel = 0
            if len(self._buf) < n:
                raise GgufError(self.pos, "unexpected end of file")
        self.pos += n
        return self._buf[rel : rel + n]

    def skip(self, n: int) -> None:
        if n > self.remaining():
            raise GgufError(self.pos, f"needs {n} bytes, only {self.remaining()} remain")
        self.pos += n

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.read(struct.calcsize(fmt)))[0]


class GgufReader:
    """Reads one GGUF header; :meth:`read` raises :class:`GgufError` on malformed input."""

    def __init__(self, stream: BinaryIO, size: int, keep_text_for: Any = None) -> None:
        self.cur = _Cursor(stream, size)
        self._count_fmt = "<Q"
        self._keep_text = keep_text_for or (lambda key: True)

    def _length(self, what: str, minimum_item: int, limit: int) -> int:
        at = self.cur.pos
        n = int(self.cur.unpack(self._count_fmt))
        if n * minimum_item > self.cur.remaining():
            raise GgufError(
                at, f"{what} claims {n} entries, more than the {self.cur.remaining()} bytes left hold"
            )
        if n > limit:
            raise GgufLimit(at, f"{what} claims {n} entries, over the limit of {limit}")
        return n

    def string(self, keep: int = MAX_STRING_KEPT) -> tuple[str, bool]:
        cur = self.cur
        at = cur.pos
        n = int.from_bytes(cur.read(8 if self._count_fmt == "<Q" else 4), "little")
        if n > cur.size - cur.pos:
            raise GgufError(at, f"string claims {n} bytes, only {cur.remaining()} remain")
        keep = max(keep, 0)
        if n <= keep:
            return cur.read(n).decode("utf-8", "replace"), False
        raw = cur.read(keep)
        cur.skip(n - keep)
        return raw.decode("utf-8", "replace"), True

    def read(self) -> GgufHeader:
        cur = self.cur
        if cur.read(4) != MAGIC:
            raise GgufError(0, "bad magic")
        version = int(cur.unpack("<I"))
        if version not in (1, 2, 3):
            raise GgufError(4, f"unsupported GGUF version {version}")
        if version == 1:
            self._count_fmt = "<I"
        header = GgufHeader(version=version)
        n_tensors = self._length("tensor count", 0, MAX_TENSORS)
        n_kv = self._length("metadata count", 4 + 8 + 4 if version > 1 else 9, MAX_KV)
        for _ in range(n_kv):
            header.metadata.append(self._kv())
        alignment = header.get("general.alignment")
        if alignment is not None:
            if (
                not isinstance(alignment, int)
                or isinstance(alignment, bool)
                or alignment <= 0
                or (alignment & (alignment - 1))
            ):
                raise GgufError(cur.pos, f"general.alignment {alignment!r} is not a positive power of two")
            header.alignment = alignment
        if n_tensors * 24 > cur.remaining():
            raise GgufError(cur.pos, f"tensor count {n_tensors} exceeds what the file can hold")
        for _ in range(n_tensors):
            header.tensors.append(self._tensor_info())
        header.data_start = -(-cur.pos // header.alignment) * header.alignment
        return header

    def _kv(self) -> MetadataValue:
        at = self.cur.pos
        raw_len = int(self.cur.unpack(self._count_fmt))
        if raw_len > MAX_KEY_LEN or raw_len > self.cur.remaining():
            raise GgufError(at, f"metadata key claims {raw_len} bytes")
        raw = self.cur.read(raw_len)
        try:
            key = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise GgufError(at, "metadata key is not UTF-8") from None
        type_id = int(self.cur.unpack("<I"))
        if type_id == ARRAY:
            element, count, items, cut = self._array(key, 0)
            return MetadataValue(key, type_id, at, items, element, count, cut)
        value, cut = self._value(type_id)
        return MetadataValue(key, type_id, at, value, truncated=cut)

    def _value(self, type_id: int) -> tuple[Any, bool]:
        if type_id == STRING:
            return self.string()
        if type_id in _SCALARS:
            return self.cur.unpack(_SCALARS[type_id][1]), False
        raise GgufError(self.cur.pos - 4, f"unknown value type {type_id}")

    def _array(self, key: str, depth: int) -> tuple[int, int, list[str], bool]:
        if depth >= MAX_ARRAY_DEPTH:
            raise GgufLimit(self.cur.pos, f"arrays nested deeper than {MAX_ARRAY_DEPTH}")
        element = int(self.cur.unpack("<I"))
        if element in _SCALARS:
            width = struct.calcsize(_SCALARS[element][1])
            count = self._length(f"array {key!r}", width, 1 << 62)
            self.cur.skip(count * width)
            return element, count, [], False
        if element == STRING:
            count = self._length(f"array {key!r}", 8 if self._count_fmt == "<Q" else 4, 1 << 62)
            keep = self._keep_text(key)
            items: list[str] = []
            budget = MAX_TEXT_PER_ARRAY
            for _ in range(count):
                text, _ = self.string(budget if keep else 0)
                if keep and budget > 0:
                    items.append(text)
                    budget -= len(text)
            return element, count, items, keep and budget <= 0
        if element == ARRAY:
            count = self._length(f"array {key!r}", 12, 1 << 62)
            items = []
            for _ in range(count):
                _, _, sub, _ = self._array(key, depth + 1)
                if len(items) < 10_000:
                    items.extend(sub)
            return element, count, items, False
        raise GgufError(self.cur.pos - 4, f"array {key!r} has unknown element type {element}")

    def _tensor_info(self) -> TensorInfo:
        at = self.cur.pos
        name, _ = self.string(4096)
        n_dims = int(self.cur.unpack("<I"))
        if n_dims > MAX_DIMS:
            raise GgufError(at, f"tensor {name!r} claims {n_dims} dimensions")
        dim_fmt = "<Q" if self._count_fmt == "<Q" else "<I"
        dims = tuple(int(self.cur.unpack(dim_fmt)) for _ in range(n_dims))
        type_id = int(self.cur.unpack("<I"))
        offset = int(self.cur.unpack("<Q"))
        return TensorInfo(name, dims, type_id, offset, at)


def iter_text(header: GgufHeader, skip: frozenset[str]) -> Iterator[tuple[MetadataValue, str]]:
    """Each string value (and string array item) with its key, for secret scanning."""
    for item in header.metadata:
        if item.key in skip:
            continue
        if item.type_id == STRING and isinstance(item.value, str):
            yield item, item.value
        elif item.type_id == ARRAY and item.value:
            yield item, "\n".join(item.value)
