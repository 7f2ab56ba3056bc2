"""A seekable read-only window over part of another seekable stream (e.g. bytes appended to a file)."""

from __future__ import annotations

import io
from typing import Any, BinaryIO


class ByteRange(io.RawIOBase):
    """Bytes ``[start, start + size)`` of ``base``, seen as a stream starting at 0 (``base`` stays open)."""

    def __init__(self, base: BinaryIO, start: int, size: int) -> None:
        self._base = base
        self._start = start
        self._size = size
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        want = min(len(buffer), self._size - self._pos)
        if want <= 0:
            return 0
        self._base.seek(self._start + self._pos)
        data = self._base.read(want)
        n = len(data)
        buffer[:n] = data
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        origin = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        self._pos = max(0, origin + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos


def byte_range(base: BinaryIO, start: int, size: int) -> BinaryIO:
    """A buffered :class:`ByteRange`."""
    return io.BufferedReader(ByteRange(base, start, size), 1 << 16)
