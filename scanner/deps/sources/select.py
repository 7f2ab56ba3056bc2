"""Which dependency source reads a file. For dependency files the NAME is the legitimate signal: a
``requirements.txt`` is a text file like any other until its name says how pip will read it."""

from __future__ import annotations

from pathlib import Path

from scanner.deps.filenames import DEPENDENCY_KINDS, kind_of
from scanner.deps.interface import DependencySource
from scanner.deps.sources.locks import PipfileLockSource, PoetryLockSource, PyLockSource, UvLockSource
from scanner.deps.sources.pyproject import PyProjectSource
from scanner.deps.sources.recorded import ConfigJsonSource
from scanner.deps.sources.requirements import RequirementsSource


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


__all__ = ["DEPENDENCY_KINDS", "kind_of", "source_for"]
