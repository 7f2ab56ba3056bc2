"""Recognising pickles by content: PROTO 2-5 at the start, or a protocol 0/1 stream of valid opcodes."""

from __future__ import annotations

import io
import pickletools

from scanner.pickles.machine import Machine
from scanner.pickles.reader import OPCODE_KINDS, PickleFormatError, PickleReader, Truncated, utf8_argument

LEGACY_TORCH_MAGIC = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
"""A legacy ``torch.save`` file starts with the pickle of this magic number."""


def starts_pickle(head: bytes, total: int) -> bool:
    """Whether ``head`` (the first bytes of ``total``) is the start of a pickle.

    PROTO 2-5 followed by decodable opcodes is enough. A protocol 0/1 stream must parse to STOP within
    the head, or (for a larger file) be valid opcodes through the whole head: a text file that happens
    to start with ``(`` is not a pickle (a space, or most lower-case letters, is not an opcode).
    """
    if len(head) >= 2 and head[0] == 0x80:
        return 2 <= head[1] <= 5 and _valid_start(head, total)
    if not head or head[0] not in _PROTO0_FIRST:
        return False
    first = OPCODE_KINDS.get(head[0])
    if first is None:
        return False  # no opcode at all
    if first[1] is None and len(head) > 1 and head[1] not in OPCODE_KINDS:
        return False  # an opcode without argument followed by a byte that is no opcode (most text)
    reader = PickleReader(io.BytesIO(head), 0, len(head), framed=False)
    ops = 0
    try:
        while not reader.at_end:
            ops += 1
            if reader.next_op().name == "STOP":
                return ops > 1 and _plausible(head)
    except Truncated as exc:
        return total > len(head) and ops > 8 and exc.needed <= total
    except PickleFormatError:
        return False
    return total > len(head) and ops > 8


def _plausible(head: bytes) -> bool:
    """A short protocol 0/1 stream is a pickle if it runs to STOP without stack errors, or imports
    something before its first error (``torch==2.5.1`` decodes as opcodes, but pops an empty stack)."""
    trace = Machine(PickleReader(io.BytesIO(head), 0, len(head), framed=False)).run()
    if not trace.errors:
        return True
    return bool(trace.imports) and trace.imports[0].offset < trace.errors[0][0]


def _valid_start(head: bytes, total: int, want: int = 8) -> bool:
    """The first ``want`` opcodes after PROTO decode (or STOP comes first, or the file ends cleanly).

    Raw tensor bytes that happen to start with ``0x80 0x02..0x05`` (a torch zip's ``data/0``) fail this
    almost surely, so they are not taken for a malformed pickle.
    """
    return _quick_start(head, want) or _reader_start(head, total, want)


def _reader_start(head: bytes, total: int, want: int) -> bool:
    """:func:`_valid_start` decided by the reader, for every argument kind and truncation."""
    reader = PickleReader(io.BytesIO(head), 0, len(head), framed=False)
    ops = 0
    try:
        while ops < want and not reader.at_end:
            if reader.next_op().name == "STOP":
                return True
            ops += 1
    except Truncated as exc:
        # the file really ends there, or the probe only holds the start of a payload the file has
        return total == len(head) or ops >= 2 or 0 < exc.needed <= total
    except PickleFormatError:
        return False
    return ops >= want or (reader.at_end and total == len(head) and ops >= 2)


def _quick_start(head: bytes, want: int) -> bool:
    """``True`` when the first ``want`` opcodes decode (or STOP comes first), checked on the bytes with
    no reader: arguments of fixed size, or length-prefixed within the head (UTF-8 checked where the
    reader checks it). ``False`` means only "not shown here": text arguments, an argument past the head
    or anything odd is left to the reader, which decides exactly."""
    p, ops, size = 0, 0, len(head)
    while ops < want:
        if p >= size:
            return False
        kind = _QUICK.get(head[p])
        if kind is None:
            return False
        width, utf8 = kind
        p += 1
        if width < 0:  # a length of -width bytes, then that many bytes
            if p - width > size:
                return False
            n = int.from_bytes(head[p : p - width], "little")
            p -= width
            if width == 4 and n >= 1 << 31:
                return False  # a negative signed length: the reader reports it
            if p + n > size or (utf8 and not _decodes(head[p : p + n])):
                return False
            p += n
        elif width == 0 and head[p - 1] == 0x2E:  # STOP
            return True
        else:
            p += width
            if p > size:
                return False
        ops += 1
    return True


def _decodes(data: bytes) -> bool:
    try:
        utf8_argument(data, 0)
    except PickleFormatError:
        return False
    return True


def _quick_kinds() -> dict[int, tuple[int, bool]]:
    """Opcode byte -> (argument width, or minus the width of its length prefix; UTF-8 payload)."""
    kinds: dict[int, tuple[int, bool]] = {}
    for info in pickletools.opcodes:
        arg = info.arg
        if arg is None:
            kinds[ord(info.code)] = (0, False)
        elif arg.n >= 0:
            kinds[ord(info.code)] = (arg.n, False)
        elif arg.n in (pickletools.TAKEN_FROM_ARGUMENT1, pickletools.TAKEN_FROM_ARGUMENT4,
                       pickletools.TAKEN_FROM_ARGUMENT4U, pickletools.TAKEN_FROM_ARGUMENT8U):  # fmt: skip
            prefix = {-2: 1, -3: 4, -4: 4, -5: 8}[arg.n]
            kinds[ord(info.code)] = (-prefix, arg.name.startswith("unicodestring"))
    return kinds


_QUICK = _quick_kinds()


_PROTO0_FIRST = frozenset(b"(.0123FGIJKLMNPQRSTUVX]abcdeghijklopqrstu}")
"""Bytes that can start a protocol 0/1 pickle (opcodes of protocols 0 and 1)."""
PICKLE_FIRST_BYTES = _PROTO0_FIRST | {0x80}
"""Every byte :func:`starts_pickle` can accept first (PROTO, or a protocol 0/1 opcode)."""
