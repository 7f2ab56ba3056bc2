"""``scan --deep``: the high-confidence secret patterns searched in raw binary bytes with hyperscan.

The stream is read in large blocks into one reused buffer whose last :data:`OVERLAP` bytes are carried
into the next block, so memory is constant and a secret that straddles two blocks is seen whole. Hyperscan
reports candidate match ends at multi-GB/s; each candidate is confirmed (and its exact extent found) by the
pattern's Python regex over a small window around it, then checked against the placeholder rules. A match
is reported by the block in which its end falls inside the block's *owned* range, so every secret is
reported exactly once whatever the block boundaries.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, cast

from scanner.secret_fast import prefilter_source
from scanner.secret_scan import SecretPattern, redacted_form, secret_patterns

BLOCK = 8 << 20
"""Bytes read per block."""
MAX_MATCH = 1024
"""Longest match of a deep pattern (``deep_regex`` bounds its repeats to stay below it)."""
LOOKAHEAD = 256
"""How far past a candidate end the confirming regex may extend the match."""
SAFE = MAX_MATCH + LOOKAHEAD
"""Matches ending within this many bytes of a block's end are left to the next block."""
OVERLAP = 4096
"""Bytes carried from one block into the next (> ``SAFE + MAX_MATCH``)."""
MAX_CANDIDATES = 1 << 20
"""Candidate ends collected per block before the search of the stream stops (a limit finding)."""


@dataclass(frozen=True)
class BinaryMatch:
    """A secret found in raw bytes."""

    pattern: SecretPattern
    """What matched."""
    offset: int
    """Byte offset of the value in the stream."""
    length: int
    """Length of the value in bytes."""
    redacted: str
    """Redacted form of the value."""


class DeepSearchLimit(Exception):
    """Too many candidate matches: the content is adversarial or degenerate; the rest was not searched."""

    def __init__(self, offset: int) -> None:
        super().__init__(f"more than {MAX_CANDIDATES} candidate matches in one block near offset {offset}")
        self.offset = offset


@dataclass(frozen=True)
class _Compiled:
    database: object
    patterns: tuple[SecretPattern, ...]
    confirm: tuple[re.Pattern[bytes], ...]


@functools.cache
def _compiled() -> _Compiled:
    import hyperscan

    patterns = tuple(p for p in secret_patterns() if p.deep_regex is not None)
    sources = [prefilter_source(p.deep_regex or "") for p in patterns]
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    database.compile(expressions=sources, ids=list(range(len(sources))), elements=len(sources), flags=0)
    confirm = tuple(re.compile((p.deep_regex or "").encode()) for p in patterns)
    return _Compiled(database, patterns, confirm)


def deep_patterns() -> tuple[SecretPattern, ...]:
    """The patterns searched in binary content."""
    return _compiled().patterns


def _windows(ends: list[int], size: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for end in sorted(ends):
        lo, hi = max(0, end - MAX_MATCH), min(size, end + LOOKAHEAD)
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def search_stream(stream: BinaryIO, block: int = BLOCK) -> Iterator[BinaryMatch]:
    """Yield the deep-pattern secrets in ``stream`` (read to its end), in order of block, then pattern.

    Raises :class:`DeepSearchLimit` after yielding what was confirmed when a block holds more candidate
    matches than :data:`MAX_CANDIDATES`.
    """
    import hyperscan

    compiled = _compiled()
    database = compiled.database
    assert isinstance(database, hyperscan.Database)
    scratch = hyperscan.Scratch(database)
    buffer = bytearray(OVERLAP + block)
    view = memoryview(buffer)
    base = 0  # stream offset of buffer[0]
    kept = 0  # bytes carried over at the start of the buffer
    first = True
    candidates: dict[int, list[int]] = {}
    count = [0]

    def on_match(pattern_id: int, _start: int, end: int, _flags: int, _context: object) -> bool | None:
        candidates.setdefault(pattern_id, []).append(end)
        count[0] += 1
        return True if count[0] > MAX_CANDIDATES else None

    try:
        while True:
            filled = kept
            while filled < len(buffer):
                n = stream.readinto(view[filled:])  # type: ignore[attr-defined]
                if not n:
                    break
                filled += n
            final = filled < len(buffer)
            # The last block may hold only carried bytes: it still owns their final matches.
            candidates.clear()
            count[0] = 0
            with contextlib.suppress(hyperscan.ScanTerminated):  # raised when on_match asks to stop
                # hyperscan reads any buffer; its stub only names str/bytes
                database.scan(cast(bytes, view[:filled]), match_event_handler=on_match, scratch=scratch)
            low = 0 if first else OVERLAP - SAFE
            high = filled if final else filled - SAFE
            for pattern_id in sorted(candidates):
                pattern, regex = compiled.patterns[pattern_id], compiled.confirm[pattern_id]
                seen: set[int] = set()
                for lo, hi in _windows(candidates[pattern_id], filled):
                    for m in regex.finditer(buffer, lo, hi):
                        start, end = m.span()
                        if not low < end <= high or start in seen:
                            continue
                        seen.add(start)
                        value = m.group().decode("latin-1")
                        if pattern.accepts(value):
                            yield BinaryMatch(
                                pattern, base + start, end - start, redacted_form(pattern.name, value)
                            )
            if count[0] > MAX_CANDIDATES:
                raise DeepSearchLimit(base)
            if final:
                return
            kept = OVERLAP
            buffer[:kept] = buffer[filled - kept : filled]
            base += filled - kept
            first = False
    finally:
        view.release()
