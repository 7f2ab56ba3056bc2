"""Every secret pattern over large text at hyperscan speed.

Python's ``re`` runs each of the ~20 patterns separately at 10-30 MB/s; on a 100 MB tokenizer.json that
is seconds per pattern. Here one hyperscan database holds a prefilter form of every pattern (named
groups made plain, lookarounds dropped: a superset of the real pattern) and reports candidate match
ends in one pass; the pattern's own regex then confirms each candidate in a window around it, so the
result is exactly what ``re`` finds. A pattern hyperscan cannot compile, or one whose matches can be
longer than :data:`MAX_WINDOW` (PEM blocks), runs with ``re`` over the whole text, behind its keywords.
Offsets are byte offsets into the UTF-8 data.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import re
import threading
import warnings
from dataclasses import dataclass
from typing import cast

from scanner.resources import cache_dir
from scanner.secret_scan import SecretMatch, SecretPattern, rank, redacted_form, secret_patterns

MAX_WINDOW = 1 << 15
"""Longest match a hyperscan-prefiltered pattern may have (bytes); the confirming regex searches this
far (or the pattern's own longest match, if shorter) on both sides of a candidate end."""

_NAMED_GROUP = re.compile(r"\(\?P<\w+>")
_LOOKAROUND = re.compile(r"\(\?<?[!=][^()]*\)")
_LONG_REPEAT = re.compile(r"\{(\d+),(\d+)\}")


def prefilter_source(regex: str) -> bytes:
    """A hyperscan-compilable superset of a Python pattern: named groups made plain, lookarounds
    dropped, and long bounded repeats left open (``{20,200}`` -> ``{20,}``, much cheaper to compile)."""
    source = _LOOKAROUND.sub("", _NAMED_GROUP.sub("(?:", regex))
    source = _LONG_REPEAT.sub(lambda m: f"{{{m.group(1)},}}" if int(m.group(2)) > 64 else m.group(0), source)
    return source.encode()


@dataclass(frozen=True)
class _Engine:
    database: object | None
    indexed: tuple[SecretPattern, ...]
    """Patterns by hyperscan id (each confirmed by :func:`_confirmer` around a candidate)."""
    fallback: tuple[tuple[SecretPattern, re.Pattern[bytes], re.Pattern[bytes] | None], ...]
    """Patterns run with ``re`` over the whole data (when one of their keywords occurs)."""


def _width(pattern: str) -> int:
    """Longest match of a Python pattern (huge when unbounded)."""
    with warnings.catch_warnings(), contextlib.suppress(Exception):
        warnings.simplefilter("ignore", DeprecationWarning)
        import sre_parse  # the deprecated public alias of re._parser (3.11+)

        return int(sre_parse.parse(pattern).getwidth()[1])
    return 1 << 62


def _database(sources: list[bytes]) -> object | None:
    """The compiled hyperscan database of ``sources``, from the cache when an earlier run compiled it.

    Compiling the full pattern set costs about 0.2 s, paid once per set of patterns and hyperscan
    version, not at every start. A cache file that does not load is ignored and rewritten.
    """
    import hyperscan

    version = str(getattr(hyperscan, "__version__", ""))
    key = hashlib.sha256(b"\0".join([version.encode(), *sources])).hexdigest()[:32]
    cached = cache_dir() / f"hyperscan-{key}.db"
    with contextlib.suppress(OSError, hyperscan.error, TypeError, ValueError):
        return cast(object, hyperscan.loadb(cached.read_bytes(), hyperscan.HS_MODE_BLOCK))
    database = hyperscan.Database(mode=hyperscan.HS_MODE_BLOCK)
    try:
        database.compile(expressions=sources, ids=list(range(len(sources))), elements=len(sources), flags=0)
    except hyperscan.error:
        return None
    with contextlib.suppress(OSError, hyperscan.error):
        cached.parent.mkdir(parents=True, exist_ok=True)
        partial = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
        partial.write_bytes(hyperscan.dumpb(database))
        os.replace(partial, cached)
    return database


def _keywords(pattern: SecretPattern) -> re.Pattern[bytes] | None:
    if not pattern.keywords:
        return None
    return re.compile(b"(?i)" + b"|".join(re.escape(k.encode()) for k in pattern.keywords))


@functools.cache
def _confirmer(pattern: SecretPattern) -> tuple[re.Pattern[bytes], int]:
    """The pattern's own regex over bytes and how far around a candidate end it must search; built
    when a candidate first occurs (compiling every pattern up front cost most of a small scan)."""
    return re.compile(pattern.source.encode()), min(_width(pattern.source), MAX_WINDOW)


@functools.cache
def _engine() -> _Engine:
    indexed: list[tuple[SecretPattern, bytes]] = []
    fallback: list[tuple[SecretPattern, re.Pattern[bytes], re.Pattern[bytes] | None]] = []
    for pattern in secret_patterns():
        source = pattern.prefilter.encode() if pattern.prefilter else prefilter_source(pattern.source)
        indexed.append((pattern, source))
    database = _database([s for _, s in indexed]) if indexed else None
    if database is None and indexed:  # find the culprits only when the whole set fails
        keep = [entry for entry in indexed if _database([entry[1]]) is not None]
        fallback.extend(
            (p, _confirmer(p)[0], _keywords(p)) for p, _ in indexed if all(p is not k[0] for k in keep)
        )
        indexed = keep
        database = _database([s for _, s in indexed]) if indexed else None
    return _Engine(database, tuple(p for p, _ in indexed), tuple(fallback))


_local = threading.local()


def _scratch(database: object) -> object:
    import hyperscan

    scratch = getattr(_local, "scratch", None)
    if scratch is None:
        scratch = hyperscan.Scratch(cast(hyperscan.Database, database))
        _local.scratch = scratch
    return scratch


def _windows(ends: list[int], reach: int, size: int) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for end in sorted(ends):
        lo, hi = max(0, end - reach), min(size, end + reach)
        if merged and lo <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], hi))
        else:
            merged.append((lo, hi))
    return merged


def _match(pattern: SecretPattern, m: re.Match[bytes]) -> SecretMatch | None:
    group = "secret" if "secret" in m.re.groupindex else 0
    start, end = m.span(group)
    value = m.group(group).decode("utf-8", "replace")
    if not pattern.accepts(value):
        return None
    return SecretMatch(pattern, start, end, redacted_form(pattern.name, value))


def any_candidate(data: bytes) -> bool:
    """Whether any pattern could match anywhere in ``data``: a hyperscan candidate (a superset of the
    real matches) or a fallback pattern's match. ``False`` proves there is no secret, in ``data`` and
    in any piece of it joined into ``data`` with newlines (no pattern is anchored to a text's start or
    end; its word boundaries see a newline as they see the edge of a text)."""
    import hyperscan

    engine = _engine()
    if engine.database is not None:
        database = cast(hyperscan.Database, engine.database)

        def stop(_id: int, _start: int, _end: int, _flags: int, _context: object) -> bool:
            return True

        try:
            database.scan(data, match_event_handler=stop, scratch=cast(hyperscan.Scratch, _scratch(database)))
        except hyperscan.ScanTerminated:
            return True
    for _, regex, keywords in engine.fallback:
        if (keywords is None or keywords.search(data) is not None) and regex.search(data) is not None:
            return True
    return False


def find_secrets_bytes(data: bytes) -> list[SecretMatch]:
    """The secrets in UTF-8 ``data``, non-overlapping, in order; offsets are byte offsets."""
    import hyperscan

    engine = _engine()
    found: list[SecretMatch] = []
    if engine.database is not None:
        database = cast(hyperscan.Database, engine.database)
        ends: dict[int, list[int]] = {}

        def on_match(pattern_id: int, _start: int, end: int, _flags: int, _context: object) -> None:
            ends.setdefault(pattern_id, []).append(end)

        database.scan(data, match_event_handler=on_match, scratch=cast(hyperscan.Scratch, _scratch(database)))
        for pattern_id, pattern_ends in ends.items():
            pattern = engine.indexed[pattern_id]
            regex, back = _confirmer(pattern)
            seen: set[int] = set()
            for lo, hi in _windows(pattern_ends, back, len(data)):
                for m in regex.finditer(data, lo, hi):
                    if m.start() not in seen:
                        seen.add(m.start())
                        match = _match(pattern, m)
                        if match is not None:
                            found.append(match)
    for pattern, regex, keywords in engine.fallback:
        if keywords is not None and keywords.search(data) is None:
            continue
        for m in regex.finditer(data):
            match = _match(pattern, m)
            if match is not None:
                found.append(match)
    result: list[SecretMatch] = []
    last_end = -1
    for match in sorted(found, key=rank):
        if match.start >= last_end:
            last_end = match.end
            result.append(match)
    return result
