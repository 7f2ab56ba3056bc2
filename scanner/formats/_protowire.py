"""A minimal, bounded protobuf wire-format reader over a seekable stream.

It never materialises a length-delimited field unless asked: callers get the field's offset and length and
decide whether to descend into it (a sub-message), read it (a short string) or skip it (tensor payloads).
Memory therefore stays flat whatever the size of the message. Every read is checked against the enclosing
message's end, so lying lengths are reported as :class:`WireError`, never followed.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

VARINT = 0
FIXED64 = 1
LEN = 2
FIXED32 = 5

_WINDOW = 1 << 16


class WireError(ValueError):
    """The bytes do not follow the protobuf wire format."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(f"{message} at byte {offset}")
        self.offset = offset
        """Where the problem was found."""


class WireLimit(Exception):
    """A bound (field count, nesting) was reached."""


@dataclass(frozen=True)
class Field:
    """One field of a message as it appears on the wire."""

    number: int
    """The field number."""
    wire: int
    """The wire type (0 varint, 1 fixed64, 2 length-delimited, 5 fixed32)."""
    value: int
    """The decoded varint, or the raw little-endian fixed value; 0 for length-delimited fields."""
    offset: int
    """Offset of the payload (after tag and length)."""
    length: int
    """Payload length for length-delimited fields, else 0."""

    @property
    def end(self) -> int:
        """Offset just after a length-delimited payload."""
        return self.offset + self.length


class WireSource:
    """Random access to a stream through a small window, with a budget of fields read."""

    def __init__(self, stream: BinaryIO, size: int, max_fields: int = 20_000_000) -> None:
        self._stream = stream
        self.size = size
        """Bytes in the stream."""
        self._buf = b""
        self._buf_start = 0
        self.fields_read = 0
        """Fields decoded so far."""
        self.max_fields = max_fields
        """Raise :class:`WireLimit` beyond this many fields."""

    @classmethod
    def from_bytes(cls, data: bytes) -> WireSource:
        """A source over bytes already in memory (detection probes)."""
        import io

        return cls(io.BytesIO(data), len(data))

    def _byte(self, pos: int) -> int:
        rel = pos - self._buf_start
        if not 0 <= rel < len(self._buf):
            self._stream.seek(pos)
            self._buf = self._stream.read(_WINDOW)
            self._buf_start = pos
            rel = 0
            if not self._buf:
                raise WireError(pos, "unexpected end of data")
        return self._buf[rel]

    def varint(self, pos: int, end: int) -> tuple[int, int]:
        """Decode a varint starting at ``pos`` that must end before ``end``; returns (value, next)."""
        value = 0
        shift = 0
        start = pos
        while True:
            if pos >= end:
                raise WireError(start, "truncated varint")
            byte = self._byte(pos)
            pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value, pos
            shift += 7
            if shift >= 70:
                raise WireError(start, "varint longer than 10 bytes")

    def read(self, pos: int, length: int) -> bytes:
        """Read ``length`` bytes at ``pos`` (the caller bounds ``length``)."""
        rel = pos - self._buf_start
        if rel >= 0 and rel + length <= len(self._buf):
            return self._buf[rel : rel + length]
        self._stream.seek(pos)
        data = self._stream.read(length)
        if len(data) != length:
            raise WireError(pos, "unexpected end of data")
        return data

    def fields(self, start: int, end: int) -> Iterator[Field]:
        """The fields of the message occupying ``[start, end)``, in wire order."""
        pos = start
        while pos < end:
            self.fields_read += 1
            if self.fields_read > self.max_fields:
                raise WireLimit(f"more than {self.max_fields} protobuf fields")
            tag_at = pos
            tag, pos = self.varint(pos, end)
            number, wire = tag >> 3, tag & 7
            if number == 0:
                raise WireError(tag_at, "field number 0")
            if wire == VARINT:
                value, pos = self.varint(pos, end)
                yield Field(number, wire, value, pos, 0)
            elif wire == LEN:
                length, pos = self.varint(pos, end)
                if length > end - pos:
                    raise WireError(tag_at, f"field {number} claims {length} bytes, only {end - pos} remain")
                yield Field(number, wire, 0, pos, length)
                pos += length
            elif wire in (FIXED64, FIXED32):
                width = 8 if wire == FIXED64 else 4
                if width > end - pos:
                    raise WireError(tag_at, f"truncated fixed-width field {number}")
                raw = self.read(pos, width)
                yield Field(number, wire, int.from_bytes(raw, "little"), pos, 0)
                pos += width
            else:
                raise WireError(tag_at, f"unsupported wire type {wire} for field {number}")
        if pos != end:
            raise WireError(pos, "message overruns its enclosing length")

    def text(self, field: Field, cap: int = 1 << 20) -> tuple[str, bool]:
        """A length-delimited field decoded as UTF-8 (replacing bad bytes), at most ``cap`` bytes.

        Returns the text and whether it was cut.
        """
        length = min(field.length, cap)
        raw = self.read(field.offset, length)
        return raw.decode("utf-8", "replace"), field.length > cap

    def packed_varints(self, field: Field, cap: int = 64) -> list[int]:
        """At most ``cap`` varints of a packed repeated field."""
        out: list[int] = []
        pos = field.offset
        while pos < field.end and len(out) < cap:
            value, pos = self.varint(pos, field.end)
            out.append(value)
        return out


def signed64(value: int) -> int:
    """Reinterpret a decoded varint as a two's-complement int64."""
    return value - (1 << 64) if value >= 1 << 63 else value
