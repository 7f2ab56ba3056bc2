"""Recognising pickles by content: PROTO 2-5 at the start, or a protocol 0/1 stream of valid opcodes."""

from __future__ import annotations

import io

from scanner.pickles.machine import Machine
from scanner.pickles.reader import OPCODE_KINDS, PickleFormatError, PickleReader, Truncated

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


_PROTO0_FIRST = frozenset(b"(.0123FGIJKLMNPQRSTUVX]abcdeghijklopqrstu}")
"""Bytes that can start a protocol 0/1 pickle (opcodes of protocols 0 and 1)."""
PICKLE_FIRST_BYTES = _PROTO0_FIRST | {0x80}
"""Every byte :func:`starts_pickle` can accept first (PROTO, or a protocol 0/1 opcode)."""
