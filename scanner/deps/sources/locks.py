"""Lock files: ``pylock.toml`` (PEP 751), ``poetry.lock``, ``uv.lock`` and ``Pipfile.lock``.

Every entry of a lock file is pinned by construction; entries installed from a path, URL or VCS have no
version an advisory can match and are reported as such.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from scanner.deps.interface import (
    Dependency,
    DependencySource,
    DependencySourceError,
    SourceProblem,
    SourceResult,
)
from scanner.deps.redaction import redact_dependency_text
from scanner.deps.sources._common import parse_json, parse_toml, read_text
from scanner.deps.sources._lockfile import MAX_LOCK_ENTRIES, hashes_of, package_entries


class _TomlLock(DependencySource):
    """A TOML lock file whose packages are an array of tables under :attr:`table`."""

    table: ClassVar[str]

    def __init__(self, text: str, display: str) -> None:
        self.text = text
        self.display = display

    @classmethod
    def from_path(cls, path: Path, display: str | None = None) -> _TomlLock:
        """Read the lock file from disk."""
        shown = display or str(path)
        return cls(read_text(path, shown), shown)

    def collect(self) -> SourceResult:
        data = parse_toml(self.text, self.display)
        deps, problems = package_entries(data.get(self.table), self.display, self.name, self.table)
        return SourceResult(tuple(deps), tuple(problems), (self.display,))


class PyLockSource(_TomlLock):
    """``pylock.toml`` / ``pylock.NAME.toml`` (PEP 751): ``[[packages]]``."""

    name = "pylock"
    table = "packages"


class PoetryLockSource(_TomlLock):
    """``poetry.lock``: ``[[package]]``."""

    name = "poetry.lock"
    table = "package"


class UvLockSource(_TomlLock):
    """``uv.lock``: ``[[package]]``; the project itself (an editable or virtual source) is skipped."""

    name = "uv.lock"
    table = "package"

    def collect(self) -> SourceResult:
        result = super().collect()
        kept = tuple(d for d in result.dependencies if not _is_local_project(d))
        return SourceResult(kept, result.problems, result.files)


def _is_local_project(dep: Dependency) -> bool:
    return dep.direct_reference in (".", "./")


class PipfileLockSource(DependencySource):
    """``Pipfile.lock`` (JSON): the ``default`` and ``develop`` sections."""

    name = "Pipfile.lock"

    def __init__(self, text: str, display: str) -> None:
        self.text = text
        self.display = display

    @classmethod
    def from_path(cls, path: Path, display: str | None = None) -> PipfileLockSource:
        """Read the lock file from disk."""
        shown = display or str(path)
        return cls(read_text(path, shown), shown)

    def collect(self) -> SourceResult:
        data: Any = parse_json(self.text, self.display)
        if not isinstance(data, dict):
            raise DependencySourceError(f"{self.display}: not a Pipfile.lock (top level is not an object)")
        deps: list[Dependency] = []
        problems: list[SourceProblem] = []
        for section in ("default", "develop"):
            table = data.get(section) or {}
            if not isinstance(table, dict):
                problems.append(SourceProblem("malformed", f"{self.display}: '{section}' is not an object"))
                continue
            for name in sorted(table)[:MAX_LOCK_ENTRIES]:
                entry = table[name]
                where = f"{self.display}: {section}.{name}"
                if not isinstance(entry, dict):
                    problems.append(SourceProblem("malformed", f"{where}: not an object", self.display))
                    continue
                version = entry.get("version")
                reference = next(
                    (
                        redact_dependency_text(str(entry[k]))
                        for k in ("git", "path", "file", "hg")
                        if k in entry
                    ),
                    None,
                )
                if not isinstance(version, str) and reference is None:
                    problems.append(SourceProblem("malformed", f"{where}: no version", self.display))
                    continue
                spec = version if isinstance(version, str) else ""
                pinned = spec[2:] if spec.startswith("==") and not spec.startswith("===") else None
                deps.append(
                    Dependency(
                        name=name,
                        version=pinned if reference is None else None,
                        specifier=spec,
                        source=f"{self.display} ({section})",
                        hashes=hashes_of(entry),
                        marker=entry.get("markers") if isinstance(entry.get("markers"), str) else None,
                        direct_reference=reference,
                        origin=self.name,
                        hashable=False,
                    )
                )
        return SourceResult(tuple(deps), tuple(problems), (self.display,))
