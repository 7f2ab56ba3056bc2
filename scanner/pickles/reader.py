"""Opcode reader for pickle protocols 0-5, over a seekable stream, in bounded memory.

Opcode metadata (codes, names, argument kinds) comes from :mod:`pickletools`; the decoding is ours. Large
byte and string payloads are never materialised: past :data:`INLINE_CAP` bytes the reader keeps only a
prefix and seeks over the rest (:class:`Blob`).

**Frames.** In *framed* mode the reader follows CPython's C unpickler reading from a file object without
``peek`` (a ``BytesIO``, as ``torch.load`` uses for zip members): ``FRAME`` loads the frame into a
buffer, opcodes are served from it, and a read that does not fit in what is left of the buffer drops the
rest of the frame and reads from the file after it. ``pickletools`` (and scanners built on it) read the
same bytes contiguously, so a call can hide behind a frame that they misread. In *contiguous* mode the
reader reads like ``pickletools`` and like the C unpickler over a ``peek``-able file. Callers that see a
straddled frame (:attr:`PickleReader.straddles`) read the stream both ways.
"""

from __future__ import annotations

import codecs
import pickletools
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

INLINE_CAP = 1 << 20
"""Byte/string payloads longer than this are skipped, keeping only :data:`BLOB_HEAD` bytes."""
BLOB_HEAD = 4096
"""Prefix kept of a skipped payload."""
MAX_LINE = 1 << 16
"""Longest text argument line (protocol 0 opcodes)."""
MAX_FRAME = 16 << 20
"""Largest frame buffered; a larger claimed frame is read contiguously (and reported)."""

UP_TO_NEWLINE = pickletools.UP_TO_NEWLINE
OPCODES: dict[int, pickletools.OpcodeInfo] = {ord(op.code): op for op in pickletools.opcodes}
"""Opcode byte -> metadata."""


class PickleFormatError(Exception):
    """The bytes are not a valid opcode stream at ``offset``."""

    def __init__(self, offset: int, message: str) -> None:
        super().__init__(f"{message} at offset {offset}")
        self.offset = offset
        self.message = message


class Truncated(PickleFormatError):
    """The data ended inside an opcode."""


@dataclass(frozen=True)
class Blob:
    """A byte or string payload too large to hold: its length and first bytes."""

    length: int
    """Claimed length in bytes."""
    head: bytes
    """The first :data:`BLOB_HEAD` bytes."""
    text: bool
    """Whether the opcode makes a ``str`` (else ``bytes``)."""


@dataclass(frozen=True)
class Op:
    """One decoded opcode."""

    offset: int
    """Logical offset of the opcode byte."""
    name: str
    """Opcode name (``GLOBAL``, ``REDUCE`` ...)."""
    arg: object
    """Decoded argument, ``None`` when the opcode has none."""


class PickleReader:
    """Decodes opcodes from ``stream`` between ``start`` and ``end`` (absolute offsets)."""

    def __init__(self, stream: BinaryIO, start: int, end: int, *, framed: bool = True) -> None:
        self._f = stream
        self._end = end
        self._pos = start
        """File position of the next byte not yet pulled into the frame buffer."""
        self._buf = b""
        self._idx = 0
        self._buf_start = start
        self.framed = framed
        self.straddles: list[int] = []
        """Offsets where a read crossed the end of a frame (the C unpickler dropped bytes there)."""
        self.big_frames: list[int] = []
        """Offsets of frames larger than :data:`MAX_FRAME` (read contiguously)."""
        stream.seek(start)

    # ------------------------------------------------------------------------------------- raw reads
    @property
    def offset(self) -> int:
        """Logical offset of the next byte."""
        if self._idx < len(self._buf):
            return self._buf_start + self._idx
        return self._pos

    @property
    def at_end(self) -> bool:
        """No byte left to read."""
        return self._idx >= len(self._buf) and self._pos >= self._end

    def _file_read(self, n: int) -> bytes:
        n = min(n, self._end - self._pos)
        if n <= 0:
            return b""
        data = self._f.read(n)
        self._pos += len(data)
        return data

    def _drop_buffer(self) -> None:
        if self._idx < len(self._buf):
            self.straddles.append(self._buf_start + self._idx)
        self._buf = b""
        self._idx = 0

    def read(self, n: int) -> bytes:
        """Exactly ``n`` bytes (``n`` small), or :class:`Truncated`."""
        idx = self._idx
        if idx + n <= len(self._buf):
            self._idx = idx + n
            return self._buf[idx : idx + n]
        where = self.offset
        self._drop_buffer()
        data = self._file_read(n)
        if len(data) < n:
            raise Truncated(where, f"data ends inside an opcode ({len(data)} of {n} bytes)")
        return data

    def readline(self) -> bytes:
        """A line without its ``\\n`` (at most :data:`MAX_LINE` bytes)."""
        where = self.offset
        buf = self._buf
        if self._idx < len(buf):
            nl = buf.find(b"\n", self._idx)
            if nl >= 0:
                line = buf[self._idx : nl]
                self._idx = nl + 1
                return line
        self._drop_buffer()
        limit = min(MAX_LINE, self._end - self._pos)
        line = self._f.readline(limit) if limit > 0 else b""
        self._pos += len(line)
        if not line.endswith(b"\n"):
            if len(line) >= MAX_LINE:
                raise PickleFormatError(where, f"text argument longer than {MAX_LINE} bytes")
            raise Truncated(where, "data ends inside a text argument")
        return line[:-1]

    def skip(self, n: int) -> None:
        """Skip ``n`` bytes without reading them into memory (raw data that is not opcodes)."""
        where = self.offset
        left = len(self._buf) - self._idx
        if n <= left:
            self._idx += n
            return
        self._buf = b""
        self._idx = 0
        n -= left
        if self._pos + n > self._end:
            self._pos = self._end
            raise Truncated(where, f"data ends inside a {n}-byte payload")
        self._pos += n
        self._f.seek(self._pos)

    def payload(self, n: int, text: bool) -> bytes | Blob:
        """``n`` payload bytes, or a :class:`Blob` when larger than :data:`INLINE_CAP`."""
        if n <= INLINE_CAP:
            return self.read(n)
        where = self.offset
        if self._idx + n <= len(self._buf):
            head = self._buf[self._idx : self._idx + BLOB_HEAD]
            self._idx += n
            return Blob(n, head, text)
        self._drop_buffer()
        if self._end - self._pos < n:
            self._pos = self._end
            raise Truncated(where, f"data ends inside a {n}-byte payload")
        head = self.read(min(BLOB_HEAD, n))
        try:
            self.skip(n - len(head))
        except Truncated:
            raise Truncated(where, f"data ends inside a {n}-byte payload") from None
        return Blob(n, head, text)

    def _frame(self, length: int, where: int) -> None:
        if not self.framed:
            return
        if length > MAX_FRAME:
            self.big_frames.append(where)
            return
        if self._idx + length <= len(self._buf):
            return  # already buffered: the C unpickler just goes on reading it
        self._drop_buffer()
        start = self._pos
        data = self._file_read(length)
        if len(data) < length:
            raise Truncated(where, f"frame claims {length} bytes, {len(data)} left")
        self._buf = data
        self._buf_start = start
        self._idx = 0

    # ------------------------------------------------------------------------------------- opcodes
    def next_op(self) -> Op:
        """Decode the next opcode; raises :class:`PickleFormatError` on invalid or truncated data."""
        where = self.offset
        code = self.read(1)[0]
        info = OPCODES.get(code)
        if info is None:
            raise PickleFormatError(where, f"invalid opcode byte {code:#04x}")
        name = info.name
        if info.arg is None:
            return Op(where, name, None)
        arg = self._argument(info.arg.name, where)
        if name == "FRAME":
            assert isinstance(arg, int)
            self._frame(arg, where)
        return Op(where, name, arg)

    def _argument(self, kind: str, where: int) -> object:
        if kind == "uint1":
            return self.read(1)[0]
        if kind == "uint2":
            return int(struct.unpack("<H", self.read(2))[0])
        if kind == "int4":
            return int(struct.unpack("<i", self.read(4))[0])
        if kind == "uint4":
            return int(struct.unpack("<I", self.read(4))[0])
        if kind == "uint8":
            return int(struct.unpack("<Q", self.read(8))[0])
        if kind == "float8":
            return float(struct.unpack(">d", self.read(8))[0])
        if kind in ("long1", "long4"):
            n = self.read(1)[0] if kind == "long1" else int(struct.unpack("<i", self.read(4))[0])
            if n < 0:
                raise PickleFormatError(where, "negative LONG4 length")
            if n > 1 << 16:
                self.skip(n)
                return Blob(n, b"", False)
            return int.from_bytes(self.read(n), "little", signed=True)
        if kind in ("string1", "string4", "bytes1", "bytes4", "bytes8", "bytearray8"):
            n = self._length(kind, where)
            data = self.payload(n, kind.startswith("string"))
            if kind.startswith("string") and isinstance(data, bytes):
                return data.decode("latin-1")  # Python 2 str: decoded as the unpickler's encoding does
            return data
        if kind.startswith("unicodestring") and kind != "unicodestringnl":
            n = self._length(kind, where)
            data = self.payload(n, True)
            return data.decode("utf-8", "surrogatepass") if isinstance(data, bytes) else data
        line = self.readline()
        if kind == "stringnl_noescape_pair":
            second = self.readline()
            return f"{line.decode('utf-8', 'replace')} {second.decode('utf-8', 'replace')}"
        if kind == "stringnl_noescape":
            return line.decode("ascii", "replace")
        if kind == "stringnl":
            return _quoted(line, where)
        if kind == "unicodestringnl":
            return line.decode("raw-unicode-escape", "replace")
        if kind == "decimalnl_short":
            return _decimal(line, where, short=True)
        if kind == "decimalnl_long":
            return _decimal(line.rstrip(b"L"), where, short=False)
        if kind == "floatnl":
            try:
                return float(line)
            except ValueError:
                raise PickleFormatError(where, "invalid FLOAT argument") from None
        raise PickleFormatError(where, f"unsupported argument kind {kind}")

    def _length(self, kind: str, where: int) -> int:
        if kind.endswith("1"):
            return self.read(1)[0]
        if kind.endswith("8"):
            return int(struct.unpack("<Q", self.read(8))[0])
        fmt = "<i" if kind == "string4" else "<I"
        n = int(struct.unpack(fmt, self.read(4))[0])
        if n < 0:
            raise PickleFormatError(where, "negative BINSTRING length")
        return n


def _quoted(line: bytes, where: int) -> str:
    if len(line) < 2 or line[:1] not in (b"'", b'"') or line[-1:] != line[:1]:
        raise PickleFormatError(where, "STRING argument is not quoted")
    try:
        decoded: Any = codecs.escape_decode(line[1:-1])[0]  # bytes (typeshed says str)
        return bytes(decoded).decode("latin-1")
    except ValueError:
        raise PickleFormatError(where, "invalid escape in STRING argument") from None


def _decimal(line: bytes, where: int, *, short: bool) -> int | bool:
    if short and line in (b"00", b"01"):
        return line == b"01"
    try:
        return int(line)
    except ValueError:
        raise PickleFormatError(where, "invalid decimal argument") from None
