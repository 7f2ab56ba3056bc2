"""Helpers shared by the dependency sources: bounded reading, TOML, PEP 508 requirement strings."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from packaging.requirements import InvalidRequirement, Requirement

from scanner.deps.interface import Dependency, DependencySourceError
from scanner.deps.redaction import redact_dependency_text

MAX_SOURCE_BYTES = 8 << 20
"""Largest dependency file read (requirements and lock files are kilobytes; anything bigger is hostile)."""
MAX_TEXT_EXCERPT = 200
"""Characters of an offending line quoted in a diagnostic."""


def read_text(path: Path, display: str) -> str:
    """The UTF-8 text of a dependency file, bounded by :data:`MAX_SOURCE_BYTES`."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_SOURCE_BYTES + 1)
    except OSError as exc:
        raise DependencySourceError(f"{display}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_SOURCE_BYTES:
        raise DependencySourceError(f"{display}: larger than {MAX_SOURCE_BYTES} bytes; not read")
    return decode(data, display)


def decode(data: bytes, display: str) -> str:
    """Decode UTF-8 (a BOM is allowed); other encodings are an error naming the file."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DependencySourceError(f"{display}: not UTF-8 text (byte {exc.start})") from None


def parse_toml(text: str, display: str) -> dict[str, Any]:
    """Parse TOML; a syntax error is a :class:`DependencySourceError` naming the file."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10
        import tomli as tomllib
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise DependencySourceError(f"{display}: invalid TOML: {exc}") from None
    except RecursionError:
        raise DependencySourceError(f"{display}: TOML nested too deeply") from None


def parse_json(text: str, display: str) -> Any:
    """Parse JSON; a syntax error or hostile nesting is a :class:`DependencySourceError` naming the file."""
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DependencySourceError(f"{display}: invalid JSON: {exc}") from None
    except RecursionError:
        raise DependencySourceError(f"{display}: JSON nested too deeply") from None


def excerpt(text: str) -> str:
    """A bounded quote of an offending line."""
    text = redact_dependency_text(text.strip())
    return text if len(text) <= MAX_TEXT_EXCERPT else text[: MAX_TEXT_EXCERPT - 1] + "…"


def exact_version(specifier: str) -> str | None:
    """The version a specifier pins exactly (``==1.2.3`` or ``===1.2.3``, no wildcard), else ``None``."""
    parts = [p.strip() for p in specifier.split(",") if p.strip()]
    pins = [p for p in parts if p.startswith("==") and not p.endswith(".*")]
    if not pins:
        return None
    value = pins[0][3:] if pins[0].startswith("===") else pins[0][2:]
    return value.strip() or None


def from_pep508(
    text: str,
    *,
    source: str,
    origin: str,
    line: int | None = None,
    hashes: tuple[str, ...] = (),
    hashable: bool = False,
) -> Dependency:
    """A :class:`Dependency` from a PEP 508 string; raises ``InvalidRequirement`` when it does not parse."""
    req = Requirement(text)
    specifier = str(req.specifier)
    url = redact_dependency_text(req.url) if req.url else None
    return Dependency(
        name=req.name,
        version=exact_version(specifier) if not url else None,
        specifier=specifier,
        source=source,
        line=line,
        hashes=hashes,
        marker=str(req.marker) if req.marker is not None else None,
        direct_reference=url,
        origin=origin,
        hashable=hashable,
    )


__all__ = [
    "MAX_SOURCE_BYTES",
    "InvalidRequirement",
    "decode",
    "exact_version",
    "excerpt",
    "from_pep508",
    "parse_json",
    "parse_toml",
    "read_text",
]
