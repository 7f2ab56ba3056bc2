"""Which dependency source reads a file. For dependency files the NAME is the legitimate signal: a
``requirements.txt`` is a text file like any other until its name says how pip will read it."""

from __future__ import annotations

import re
from pathlib import Path

from scanner.deps.interface import DependencySource
from scanner.deps.sources.locks import PipfileLockSource, PoetryLockSource, PyLockSource, UvLockSource
from scanner.deps.sources.pyproject import PyProjectSource
from scanner.deps.sources.recorded import ConfigJsonSource
from scanner.deps.sources.requirements import RequirementsSource

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


def source_for(
    kind: str, text: str, display: str, path: Path | None = None, root: Path | None = None
) -> DependencySource:
    """The source reading ``text`` of this kind; ``path`` (the file on disk, if it is one) lets
    requirements includes be followed beside it, as long as they stay inside ``root`` (default: the
    file's directory)."""
    if kind in ("requirements", "constraints"):
        base_dir = path.resolve().parent if path is not None else None
        return RequirementsSource(text, display, base_dir, origin=kind, path=path, root=root)
    if kind == "pyproject":
        return PyProjectSource(text, display)
    if kind == "pylock":
        return PyLockSource(text, display)
    if kind == "poetry.lock":
        return PoetryLockSource(text, display)
    if kind == "uv.lock":
        return UvLockSource(text, display)
    if kind == "Pipfile.lock":
        return PipfileLockSource(text, display)
    if kind == "config.json":
        return ConfigJsonSource(text, display)
    raise ValueError(f"unknown dependency file kind {kind!r}")
