"""Which file names are dependency declarations. Kept free of heavy imports: the scan's detector calls it
for every file and member."""

from __future__ import annotations

import re

_REQUIREMENTS = re.compile(r"^(.*requirements.*|constraints.*)\.(txt|in)$", re.IGNORECASE)
_PYLOCK = re.compile(r"^pylock(\.[^./\\]+)?\.toml$")
_EXACT = {
    "pyproject.toml": "pyproject",
    "poetry.lock": "poetry.lock",
    "uv.lock": "uv.lock",
    "Pipfile.lock": "Pipfile.lock",
}

DEPENDENCY_KINDS = (
    "requirements",
    "constraints",
    "pyproject",
    "pylock",
    "poetry.lock",
    "uv.lock",
    "Pipfile.lock",
)
"""Kinds of dependency declaration files (``config.json`` is an artifact, not a declaration)."""


def kind_of(filename: str) -> str | None:
    """The dependency-file kind of a base name, or ``None`` when it is not one."""
    if filename in _EXACT:
        return _EXACT[filename]
    if _PYLOCK.match(filename):
        return "pylock"
    match = _REQUIREMENTS.match(filename)
    if match:
        return "constraints" if filename.lower().startswith("constraints") else "requirements"
    return None
