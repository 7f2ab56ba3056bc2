"""``pyproject.toml``: PEP 621 ``[project]`` dependencies and extras, PEP 735 dependency groups, and
Poetry's ``[tool.poetry]`` dependency tables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scanner.deps.interface import Dependency, DependencySource, SourceProblem, SourceResult
from scanner.deps.redaction import redact_dependency_text
from scanner.deps.sources._common import InvalidRequirement, excerpt, from_pep508, parse_toml, read_text

_MAX_ENTRIES = 10_000


class PyProjectSource(DependencySource):
    """Dependencies declared in a ``pyproject.toml`` (declarations, usually ranges, never hashes)."""

    name = "pyproject"

    def __init__(self, text: str, display: str) -> None:
        self.text = text
        self.display = display

    @classmethod
    def from_path(cls, path: Path, display: str | None = None) -> PyProjectSource:
        """Read a pyproject.toml from disk."""
        shown = display or str(path)
        return cls(read_text(path, shown), shown)

    def collect(self) -> SourceResult:
        data = parse_toml(self.text, self.display)
        deps: list[Dependency] = []
        problems: list[SourceProblem] = []
        project = data.get("project")
        if isinstance(project, dict):
            self._strings(project.get("dependencies"), "project.dependencies", deps, problems)
            extras = project.get("optional-dependencies")
            if isinstance(extras, dict):
                for extra in sorted(extras):
                    self._strings(extras[extra], f"project.optional-dependencies.{extra}", deps, problems)
        groups = data.get("dependency-groups")
        if isinstance(groups, dict):
            for group in sorted(groups):
                entries = groups[group]
                strings = [e for e in entries if isinstance(e, str)] if isinstance(entries, list) else entries
                self._strings(strings, f"dependency-groups.{group}", deps, problems)
        tool = data.get("tool")
        poetry = tool.get("poetry") if isinstance(tool, dict) else None
        if isinstance(poetry, dict):
            self._poetry(poetry.get("dependencies"), "tool.poetry.dependencies", deps, problems)
            groups = poetry.get("group")
            if isinstance(groups, dict):
                for group in sorted(groups):
                    table = groups[group]
                    if isinstance(table, dict):
                        key = f"tool.poetry.group.{group}.dependencies"
                        self._poetry(table.get("dependencies"), key, deps, problems)
        if len(deps) > _MAX_ENTRIES:
            problems.append(SourceProblem("limit", f"{self.display}: more than {_MAX_ENTRIES} dependencies"))
            deps = deps[:_MAX_ENTRIES]
        return SourceResult(tuple(deps), tuple(problems), (self.display,))

    def _strings(self, value: Any, key: str, deps: list[Dependency], problems: list[SourceProblem]) -> None:
        if value is None:
            return
        if not isinstance(value, list):
            problems.append(SourceProblem("malformed", f"{self.display}: {key} must be a list", self.display))
            return
        for index, entry in enumerate(value):
            where = f"{self.display}: {key}[{index}]"
            if not isinstance(entry, str):
                problems.append(SourceProblem("malformed", f"{where}: not a string", self.display))
                continue
            try:
                deps.append(from_pep508(entry, source=f"{self.display} ({key})", origin="pyproject"))
            except InvalidRequirement as exc:
                reason = str(exc).splitlines()[0] if str(exc) else "invalid requirement"
                problems.append(
                    SourceProblem(
                        "malformed",
                        f"{where}: cannot parse requirement {excerpt(entry)!r}: {reason}",
                        self.display,
                        text=excerpt(entry),
                    )
                )

    def _poetry(self, table: Any, key: str, deps: list[Dependency], problems: list[SourceProblem]) -> None:
        if not isinstance(table, dict):
            return
        for name in sorted(table):
            if name.lower() == "python":
                continue
            spec = table[name]
            reference = None
            if isinstance(spec, dict):
                reference = spec.get("git") or spec.get("path") or spec.get("url")
                spec = spec.get("version", "")
            if isinstance(spec, list):  # multiple constraints by marker: audit none, they are ranges
                spec = ""
            text = str(spec).strip()
            exact = text.removeprefix("==") if (text and text[0].isdigit()) or text.startswith("==") else None
            if exact is not None and any(c in exact for c in "*,<>~^ "):
                exact = None
            deps.append(
                Dependency(
                    name=name,
                    version=exact,
                    specifier="" if text == "*" else text,
                    source=f"{self.display} ({key})",
                    direct_reference=redact_dependency_text(str(reference)) if reference else None,
                    origin="pyproject",
                    hashable=False,
                )
            )
