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
from typing import Any, BinaryIO, NamedTuple

INLINE_CAP = 1 << 20
"""Byte/string payloads longer than this are skipped, keeping only :data:`BLOB_HEAD` bytes."""
BLOB_HEAD = 4096
"""Prefix kept of a skipped payload."""
MAX_LINE = 1 << 16
"""Longest text argument line (protocol 0 opcodes)."""

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

    def __init__(self, offset: int, message: str, needed: int = 0) -> None:
        super().__init__(offset, message)
        self.needed = needed
        """Logical offset the read needed to reach."""


@dataclass(frozen=True)
class Blob:
    """A byte or string payload too large to hold: its length and first bytes."""

    length: int
    """Claimed length in bytes."""
    head: bytes
    """The first :data:`BLOB_HEAD` bytes."""
    text: bool
    """Whether the opcode makes a ``str`` (else ``bytes``)."""


class Op(NamedTuple):
    """One decoded opcode."""

    offset: int
    """Logical offset of the opcode byte."""
    name: str
    """Opcode name (``GLOBAL``, ``REDUCE`` ...)."""
    arg: object
    """Decoded argument, ``None`` when the opcode has none."""


CHUNK = 1 << 18
"""Bytes read ahead at once."""
OPCODE_KINDS: dict[int, tuple[str, str | None]] = {
    code: (info.name, info.arg.name if info.arg else None) for code, info in OPCODES.items()
}


class PickleReader:
    """Decodes opcodes from ``stream`` between ``start`` and ``end`` (absolute offsets).

    Bytes are read ahead in chunks into a window; frames are tracked as logical ranges
    (``_fend``), so a frame of any claimed size costs no memory.
    """

    def __init__(self, stream: BinaryIO, start: int, end: int, *, framed: bool = True) -> None:
        self._f = stream
        self._end = end
        self._data = b""
        self._base = start
        """Logical offset of ``_data[0]``."""
        self._p = 0
        """Index of the next byte in ``_data``."""
        self._limit = 0
        """Index up to which reads need no frame or refill handling."""
        self._fend = -1
        """Logical end of the current frame, -1 outside frames (framed mode only)."""
        self.framed = framed
        self.straddles: list[int] = []
        """Offsets where a read crossed the end of a frame (the C unpickler dropped bytes there)."""
        stream.seek(start)

    # ------------------------------------------------------------------------------------- raw reads
    @property
    def offset(self) -> int:
        """Logical offset of the next byte."""
        return self._base + self._p

    @property
    def at_end(self) -> bool:
        """No byte left to read."""
        return self._base + self._p >= self._end

    def _set_limit(self) -> None:
        limit = len(self._data)
        if self._fend >= 0:
            limit = min(limit, self._fend - self._base)
        self._limit = limit

    def _move(self, pos: int, need: int) -> None:
        """Make the window start at logical ``pos`` holding ``need`` bytes when the data has them."""
        data_end = self._base + len(self._data)
        if self._base <= pos <= data_end:
            tail = self._data[pos - self._base :]
            read_from = data_end
        else:
            tail = b""
            read_from = pos
            self._f.seek(pos)
        want = min(max(CHUNK, need - len(tail)), self._end - read_from)
        if len(tail) < need and want > 0:
            tail += self._f.read(want)
        self._data = tail
        self._base = pos
        self._p = 0

    def _frame_check(self, n: int) -> None:
        """Apply the C unpickler's frame rule to a read of ``n`` bytes at the current position."""
        if self._fend < 0:
            return
        pos = self._base + self._p
        if pos >= self._fend:
            self._fend = -1
        elif pos + n > self._fend:
            self.straddles.append(pos)
            pos = self._fend
            self._fend = -1
            self._move(pos, n)

    def read(self, n: int) -> bytes:
        """Exactly ``n`` bytes (``n`` small), or :class:`Truncated`."""
        p = self._p
        if p + n <= self._limit:
            self._p = p + n
            return self._data[p : p + n]
        return self._slow_read(n)

    def _slow_read(self, n: int) -> bytes:
        where = self._base + self._p
        self._frame_check(n)
        if self._p + n > len(self._data):
            self._move(self._base + self._p, n)
        p = self._p
        data = self._data[p : p + n]
        if len(data) < n:
            self._p = len(self._data)
            self._set_limit()
            raise Truncated(where, f"data ends inside an opcode ({len(data)} of {n} bytes)", where + n)
        self._p = p + n
        self._set_limit()
        return data

    def readline(self) -> bytes:
        """A line without its ``\\n`` (at most :data:`MAX_LINE` bytes)."""
        where = pos = self._base + self._p
        if self._fend >= 0:
            if pos >= self._fend:
                self._fend = -1
            else:
                span = min(self._fend - pos, MAX_LINE + 1)
                if self._p + span > len(self._data):
                    self._move(pos, span)
                if self._data.find(b"\n", self._p, self._p + span) < 0 and self._fend - pos <= MAX_LINE:
                    self.straddles.append(pos)  # no newline left in the frame: C drops the rest
                    self._move(self._fend, MAX_LINE + 1)
                    self._fend = -1
        nl = self._data.find(b"\n", self._p, self._p + MAX_LINE + 1)
        if nl < 0:
            self._move(self._base + self._p, MAX_LINE + 1)
            nl = self._data.find(b"\n", 0, MAX_LINE + 1)
            if nl < 0:
                self._p = min(len(self._data), MAX_LINE)
                self._set_limit()
                if len(self._data) > MAX_LINE:
                    raise PickleFormatError(where, f"text argument longer than {MAX_LINE} bytes")
                raise Truncated(where, "data ends inside a text argument")
        line = self._data[self._p : nl]
        self._p = nl + 1
        self._set_limit()
        return line

    def skip(self, n: int) -> None:
        """Skip ``n`` bytes without reading them into memory (raw data that is not opcodes)."""
        where = self._base + self._p
        target = where + n
        if target > self._end:
            self._data, self._base, self._p = b"", self._end, 0
            self._set_limit()
            raise Truncated(where, f"data ends inside a {n}-byte payload", target)
        if self._fend >= 0 and target >= self._fend:
            self._fend = -1
        if target <= self._base + len(self._data):
            self._p = target - self._base
        else:
            self._data, self._base, self._p = b"", target, 0
            self._f.seek(target)
        self._set_limit()

    def payload(self, n: int, text: bool) -> bytes | Blob:
        """``n`` payload bytes, or a :class:`Blob` when larger than :data:`INLINE_CAP`."""
        if n <= INLINE_CAP:
            return self.read(n)
        where = self._base + self._p
        self._frame_check(n)
        if self._base + self._p + n > self._end:
            needed = self._base + self._p + n
            self.skip(self._end - self._base - self._p)
            raise Truncated(where, f"data ends inside a {n}-byte payload", needed)
        head = self.read(BLOB_HEAD)
        self.skip(n - len(head))
        return Blob(n, head, text)

    def _frame(self, length: int, where: int) -> None:
        if not self.framed:
            return
        pos = self._base + self._p
        if self._fend >= 0 and pos < self._fend:
            if pos + length <= self._fend:
                return  # already buffered: the C unpickler just goes on reading it
            self.straddles.append(pos)
            pos = self._fend
            self._move(pos, 1)
        if pos + length > self._end:
            raise Truncated(where, f"frame claims {length} bytes, {self._end - pos} left", pos + length)
        self._fend = pos + length
        self._set_limit()

    # ------------------------------------------------------------------------------------- opcodes
    def next_op(self) -> Op:
        """Decode the next opcode; raises :class:`PickleFormatError` on invalid or truncated data."""
        p = self._p
        where = self._base + p
        if p < self._limit:
            code = self._data[p]
            self._p = p + 1
        else:
            code = self._slow_read(1)[0]
        kind = OPCODE_KINDS.get(code)
        if kind is None:
            raise PickleFormatError(where, f"invalid opcode byte {code:#04x}")
        name, argkind = kind
        if argkind is None:
            return Op(where, name, None)
        arg = self._argument(argkind, where)
        if name == "FRAME":
            assert isinstance(arg, int)
            self._frame(arg, where)
        return Op(where, name, arg)

    def _argument(self, kind: str, where: int) -> object:
        if kind == "uint1":
            return self.read(1)[0]
        if kind == "unicodestring1":
            return utf8_argument(self.read(self.read(1)[0]), where)
        if kind == "uint2":
            return int.from_bytes(self.read(2), "little")
        if kind == "int4":
            return int(struct.unpack("<i", self.read(4))[0])
        if kind in ("uint4", "uint8"):
            return int.from_bytes(self.read(4 if kind == "uint4" else 8), "little")
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
            raw = self.payload(n, kind.startswith("string"))
            if kind.startswith("string") and isinstance(raw, bytes):
                return raw.decode("latin-1")  # Python 2 str: decoded as the unpickler's encoding does
            return raw
        if kind.startswith("unicodestring") and kind != "unicodestringnl":
            n = self._length(kind, where)
            text = self.payload(n, True)
            return utf8_argument(text, where) if isinstance(text, bytes) else text
        return self._text_argument(kind, where)

    def _text_argument(self, kind: str, where: int) -> object:
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
            return int.from_bytes(self.read(8), "little")
        fmt = "<i" if kind == "string4" else "<I"
        n = int(struct.unpack(fmt, self.read(4))[0])
        if n < 0:
            raise PickleFormatError(where, "negative BINSTRING length")
        return n


def utf8_argument(data: bytes, where: int) -> str:
    """A string argument as the unpickler decodes it (UTF-8, lone surrogates allowed)."""
    try:
        return data.decode("utf-8", "surrogatepass")
    except UnicodeDecodeError:
        raise PickleFormatError(where, "string argument is not valid UTF-8") from None


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
