"""Reads every pickle in a byte range: stacked pickles, junk between them, frames read both ways.

After a STOP the next byte must start another pickle; otherwise the bytes up to the next PROTO 2-5
marker or protocol 0/1 import opcode (or the end) are junk, and reading resumes there. A pickle that
hits invalid data keeps what it found before it. When a frame is straddled, the same pickle is read
again contiguously and both readings are kept, since different loaders see either.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import BinaryIO

from scanner.pickles.machine import BuildHook, Machine, Trace
from scanner.pickles.reader import PickleReader
from scanner.pickles.values import Global

MAX_PICKLES = 1000
"""Pickles read from one range."""
RESYNC_CHUNK = 1 << 20


@dataclass
class StreamResult:
    """Everything read from one byte range."""

    traces: list[Trace] = field(default_factory=list)
    """One per pickle (two when a frame was straddled: the framed reading first)."""
    junk: list[tuple[int, int]] = field(default_factory=list)
    """(offset, length) of bytes that belong to no pickle."""
    straddles: list[int] = field(default_factory=list)
    """Offsets where an opcode crossed a frame boundary."""
    limits: list[tuple[int, str]] = field(default_factory=list)
    """Limits hit while reading the range."""
    pickles: int = 0
    """Distinct pickles found."""
    end: int = 0
    """Offset after the last byte consumed."""


_TEXT_IMPORT = re.compile(rb"[ci][A-Za-z_][\w.]{0,255}\n[A-Za-z_][\w.]{0,255}\n")
"""A protocol 0/1 ``GLOBAL`` or ``INST`` opcode: the first import of a text pickle hidden after junk."""
CARRY = 520
"""Bytes kept from one resync chunk to the next, so a marker split between chunks is still seen."""


def _find_marker(stream: BinaryIO, start: int, end: int) -> int:
    """Offset of the next place a pickle may start at or after ``start`` (a ``PROTO 2..5`` marker, or a
    protocol 0/1 import opcode), or ``end``."""
    pos = start
    carry = b""
    while pos < end:
        stream.seek(pos)
        chunk = stream.read(min(RESYNC_CHUNK, end - pos))
        if not chunk:
            break
        data = carry + chunk
        base = pos - len(carry)
        found: int | None = None
        i = data.find(b"\x80")
        while 0 <= i < len(data) - 1:
            if 2 <= data[i + 1] <= 5:
                found = i
                break
            i = data.find(b"\x80", i + 1)
        text_import = _TEXT_IMPORT.search(data, 0, len(data) if found is None else found + CARRY)
        if text_import is not None and (found is None or text_import.start() < found):
            found = text_import.start()
        if found is not None:
            return base + found
        carry = data[-CARRY:]
        pos += len(chunk)
    return end


def read_one(
    stream: BinaryIO,
    start: int,
    end: int,
    extensions: dict[int, Global],
    build_hook: BuildHook | None = None,
    result: StreamResult | None = None,
) -> Trace:
    """Read one pickle from ``start``; a straddled frame adds a second, contiguous reading to ``result``."""
    reader = PickleReader(stream, start, end, framed=True)
    trace = Machine(reader, extensions=extensions, build_hook=build_hook).run()
    if result is not None:
        result.traces.append(trace)
        if reader.straddles:
            result.straddles.extend(reader.straddles)
            again = PickleReader(stream, start, end, framed=False)
            result.traces.append(Machine(again, extensions=dict(extensions), build_hook=build_hook).run())
    return trace


def read_pickles(
    stream: BinaryIO,
    start: int,
    end: int,
    *,
    max_pickles: int = MAX_PICKLES,
    build_hook: BuildHook | None = None,
    stacked: bool = True,
) -> StreamResult:
    """Read pickles from ``start`` to ``end`` (up to ``max_pickles``; only one unless ``stacked``)."""
    result = StreamResult(end=start)
    extensions: dict[int, Global] = {}
    pos = start
    while pos < end:
        if result.pickles >= max_pickles:
            if stacked:
                result.limits.append((pos, f"more than {max_pickles} pickles in one stream"))
            break
        kept = len(result.traces)
        trace = read_one(stream, pos, end, extensions, build_hook, result)
        meaningful = trace.stopped or trace.imports or trace.calls or trace.dynamic or trace.extensions
        if pos == start or meaningful:
            result.pickles += 1
            pos = max(trace.end, pos + 1)
            result.end = pos
            if trace.limits:
                break  # the rest of the range is not analyzed; the limit finding says so
            if not stacked or not trace.stopped:
                if not trace.stopped and stacked:
                    # malformed: resume at the next marker after the failure
                    nxt = _find_marker(stream, pos, end)
                    if nxt > pos:
                        result.junk.append((pos, nxt - pos))
                    pos = result.end = nxt
                    continue
                break
            continue
        # not a pickle: junk up to the next PROTO marker
        del result.traces[kept:]
        nxt = _find_marker(stream, pos + 1, end)
        result.junk.append((pos, nxt - pos))
        pos = result.end = nxt
    return result
