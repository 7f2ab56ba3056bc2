"""Secret detection over strings and text, with patterns from ``rules/secrets.yaml``.

Every output of the scanner shows a secret only in its redacted form: its type, at most four leading
characters and its length. :func:`redact` is applied to every finding when it is built.
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from scanner.resources import RulesDataError, load_rules_file


@dataclass(frozen=True)
class SecretPattern:
    """One secret pattern from ``rules/secrets.yaml``."""

    name: str
    """Type of secret, shown in the redacted form (``aws-access-key-id``)."""
    rule_id: str
    """Rule reported when it matches."""
    source: str
    """The pattern's source; group ``secret`` (or the whole match) is the secret value."""
    min_entropy: float
    """Minimum Shannon entropy (bits per char) of the value; 0 for fixed-format patterns."""
    keywords: tuple[str, ...] = ()
    """Lower-case strings of which one must occur in the text for the pattern to be tried."""
    exclude_source: str | None = None
    """Values matching this are placeholders (documentation examples), not secrets."""
    deep_regex: str | None = None
    """Pattern searched in raw binary bytes by ``scan --deep`` (``None``: not a deep pattern)."""
    prefilter: str | None = None
    """Cheap hyperscan superset of ``regex`` for long texts (``None``: derived from ``regex``)."""

    # Compiled on first use: ``re`` compiles the whole set in ~50 ms, while the hyperscan search needs
    # a pattern's regex only to confirm a candidate, which most scans never meet.
    @functools.cached_property
    def regex(self) -> re.Pattern[str]:
        """The compiled pattern."""
        return _compiled(self, self.source)

    @functools.cached_property
    def exclude(self) -> re.Pattern[str] | None:
        """The compiled placeholder pattern, if any."""
        return _compiled(self, self.exclude_source) if self.exclude_source is not None else None

    def accepts(self, value: str) -> bool:
        """Whether a matched value passes the entropy and placeholder checks."""
        if self.min_entropy and shannon_entropy(value) < self.min_entropy:
            return False
        return not (self.exclude is not None and self.exclude.search(value))


@dataclass(frozen=True)
class SecretMatch:
    """A secret found in a string."""

    pattern: SecretPattern
    """What matched."""
    start: int
    """Start of the secret value in the text."""
    end: int
    """End (exclusive) of the secret value."""
    redacted: str
    """Redacted form of the value."""


def redacted_form(kind: str, value: str) -> str:
    """``[REDACTED kind: abcd… (N chars)]``: the type, at most 4 leading characters and the length."""
    return f"[REDACTED {kind}: {value[:4]}… ({len(value)} chars)]"


def shannon_entropy(value: str) -> float:
    """Shannon entropy of ``value`` in bits per character."""
    if not value:
        return 0.0
    counts = Counter(value)
    total = len(value)
    return -sum(c / total * math.log2(c / total) for c in counts.values())


def _source(entry: Any, key: str) -> str:
    try:
        return str(entry[key])
    except KeyError:
        raise RulesDataError(f"rules/secrets.yaml: pattern {entry.get('name')!r}: no {key}") from None


def _compiled(pattern: SecretPattern, source: str) -> re.Pattern[str]:
    try:
        return re.compile(source)
    except re.error as exc:
        raise RulesDataError(f"rules/secrets.yaml: pattern {pattern.name!r}: {exc}") from None


@functools.cache
def secret_patterns() -> tuple[SecretPattern, ...]:
    """The compiled patterns, in file order."""
    data = load_rules_file("secrets.yaml")
    patterns = []
    for entry in data.get("patterns", []):
        deep = bool(entry.get("deep", False))
        patterns.append(
            SecretPattern(
                name=str(entry["name"]),
                rule_id=str(entry["rule"]),
                source=_source(entry, "regex"),
                min_entropy=float(entry.get("min_entropy", 0.0)),
                keywords=tuple(str(k).lower() for k in entry.get("keywords", ())),
                exclude_source=_source(entry, "exclude") if "exclude" in entry else None,
                deep_regex=str(entry.get("deep_regex", entry["regex"])) if deep else None,
                prefilter=str(entry["prefilter"]) if "prefilter" in entry else None,
            )
        )
    return tuple(patterns)


def _candidates(text: str) -> Iterator[SecretMatch]:
    lowered: str | None = None
    for pattern in secret_patterns():
        if pattern.keywords:
            if lowered is None:
                lowered = text.lower()
            if not any(k in lowered for k in pattern.keywords):
                continue
        group = "secret" if "secret" in pattern.regex.groupindex else 0
        for m in pattern.regex.finditer(text):
            start, end = m.span(group)
            value = text[start:end]
            if pattern.accepts(value):
                yield SecretMatch(pattern, start, end, redacted_form(pattern.name, value))


MIN_SECRET_CHARS = 14
"""No pattern matches fewer characters (``tests/test_secret_patterns.py`` checks every pattern): shorter
strings (tensor names, dtypes, most metadata) are not searched at all."""
FAST_MIN_CHARS = 1
"""Texts at least this long are searched by :mod:`scanner.secret_fast` (hyperscan, one pass for every
pattern, ~4 us for a short string) instead of ``re`` (every pattern in turn, ~12 us, and ~50 ms to
compile the set). Both find exactly the same secrets; the ``re`` path is the reference in tests."""


def rank(match: SecretMatch) -> tuple[int, int, int]:
    """Sort key choosing among overlapping matches: earliest first; at one position a fixed-format
    pattern wins over a generic one, then the longest."""
    generic = 1 if match.pattern.min_entropy else 0
    return (match.start, generic, -(match.end - match.start))


def find_secrets(text: str) -> Iterator[SecretMatch]:
    """Yield the secrets in ``text``, non-overlapping, in order of position (character offsets)."""
    if len(text) < MIN_SECRET_CHARS:
        return
    if len(text) >= FAST_MIN_CHARS:
        yield from _find_fast(text)
        return
    last_end = -1
    for match in sorted(_candidates(text), key=rank):
        if match.start >= last_end:
            last_end = match.end
            yield match


def _find_fast(text: str) -> Iterator[SecretMatch]:
    from scanner.secret_fast import find_secrets_bytes

    data = text.encode("utf-8", "surrogatepass")
    byte_pos = char_pos = 0
    for match in find_secrets_bytes(data):
        # Widen to character boundaries (a byte-level match may cut a multi-byte character).
        lo, hi = max(match.start, byte_pos), match.end
        while lo > byte_pos and 0x80 <= data[lo] < 0xC0:
            lo -= 1
        while hi < len(data) and 0x80 <= data[hi] < 0xC0:
            hi += 1
        start = char_pos + len(data[byte_pos:lo].decode("utf-8", "surrogatepass"))
        end = start + len(data[lo:hi].decode("utf-8", "surrogatepass"))
        byte_pos, char_pos = hi, end
        yield SecretMatch(match.pattern, start, end, match.redacted)


def redact(text: str) -> str:
    """``text`` with every secret replaced by its redacted form."""
    if not text:
        return text
    pieces: list[str] = []
    pos = 0
    for match in find_secrets(text):
        pieces.append(text[pos : match.start])
        pieces.append(match.redacted)
        pos = match.end
    if not pieces:
        return text
    pieces.append(text[pos:])
    return "".join(pieces)


def redact_tree(value: Any) -> Any:
    """Redact every string inside nested dicts, lists and tuples (tuples come back as lists).

    The strings are first searched together, joined by newlines, in one pass: when nothing could match
    there (the common case), none of them holds a secret and none is searched on its own."""
    texts: list[str] = []
    _strings(value, texts)
    clean = redact if texts and _any_candidate("\n".join(texts)) else _unchanged
    return _map_strings(value, clean)


def _strings(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        if len(value) >= MIN_SECRET_CHARS:
            out.append(value)
    elif isinstance(value, dict):
        for v in value.values():
            _strings(v, out)
    elif isinstance(value, (list, tuple)):
        for v in value:
            _strings(v, out)


def _any_candidate(text: str) -> bool:
    from scanner.secret_fast import any_candidate

    return any_candidate(text.encode("utf-8", "surrogatepass"))


def _unchanged(text: str) -> str:
    return text


def _map_strings(value: Any, clean: Callable[[str], str]) -> Any:
    """A copy of nested dicts, lists and tuples (tuples as lists) with ``clean`` applied to each value
    string (keys are kept)."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {k: _map_strings(v, clean) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_map_strings(v, clean) for v in value]
    return value
