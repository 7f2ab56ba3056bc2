"""Dangerous calls in Python source, found with :mod:`ast` (the code is parsed, never imported or run).

Names are resolved through the module's imports (``import subprocess as sp``, ``from os import system``),
``__import__('os').system``, ``importlib.import_module('os').system`` and ``getattr(os, 'system')`` with
constant strings, then matched against ``dangerous_calls`` in ``rules/hf.yaml``. Relative imports are
listed too: ``trust_remote_code`` fetches those files with the module that imports them.
"""

from __future__ import annotations

import ast
import builtins
import fnmatch
import functools
from dataclasses import dataclass
from typing import Any

from scanner.resources import load_rules_file

MAX_SOURCE_BYTES = 8 << 20
"""Largest Python source parsed."""
MAX_CALLS = 200
"""Dangerous calls listed per file."""
_BUILTINS = frozenset(dir(builtins))


@dataclass(frozen=True)
class _Guard:
    keyword: str
    safe: Any
    default_safe: bool


@dataclass(frozen=True)
class _CallRules:
    patterns: tuple[tuple[str, str], ...]  # (fnmatch pattern, category)
    guards: dict[str, _Guard]


@functools.cache
def _rules() -> _CallRules:
    data = load_rules_file("hf.yaml")
    patterns = tuple(
        (str(pattern), str(category))
        for category, names in data["dangerous_calls"].items()
        for pattern in names
    )
    guards = {
        str(name): _Guard(str(g["keyword"]), g["safe"], bool(g["default_safe"]))
        for name, g in data.get("keyword_guards", {}).items()
    }
    return _CallRules(patterns, guards)


@dataclass(frozen=True)
class DangerousCall:
    """A call of a dangerous function."""

    name: str
    """Resolved dotted name (``os.system``, ``builtins.exec``)."""
    category: str
    """``process``, ``code-execution``, ``network`` ... (from the rules)."""
    line: int
    """1-based line number."""
    source: str
    """The call's source text, bounded."""


@dataclass(frozen=True)
class CodeReport:
    """What the judge found in one source file."""

    calls: tuple[DangerousCall, ...]
    """Dangerous calls, in source order."""
    relative_imports: tuple[str, ...]
    """Modules imported relatively (``from .configuration_x import ...`` gives ``configuration_x``)."""
    imports: tuple[str, ...]
    """Top-level packages imported absolutely, sorted."""


def category_of(name: str) -> str | None:
    """The danger category of a resolved dotted name, or ``None``."""
    for pattern, category in _rules().patterns:
        if fnmatch.fnmatchcase(name, pattern):
            return category
    return None


class _Resolver:
    def __init__(self, source: str) -> None:
        self.source = source
        self.aliases: dict[str, str] = {}
        self.calls: list[DangerousCall] = []
        self.relative: list[str] = []
        self.imports: set[str] = set()

    def add_import(self, node: ast.Import) -> None:
        for alias in node.names:
            self.imports.add(alias.name.split(".")[0])
            if alias.asname:
                self.aliases[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                self.aliases[top] = top

    def add_import_from(self, node: ast.ImportFrom) -> None:
        module = node.module or ""
        if node.level:
            if module:
                self.relative.append(module)
            else:
                self.relative.extend(a.name for a in node.names)
            return
        self.imports.add(module.split(".")[0])
        for alias in node.names:
            if alias.name != "*":
                self.aliases[alias.asname or alias.name] = f"{module}.{alias.name}"

    def resolve(self, node: ast.AST) -> str | None:
        """Dotted name an expression refers to, when it can be known statically."""
        if isinstance(node, ast.Name):
            if node.id in self.aliases:
                return self.aliases[node.id]
            return f"builtins.{node.id}" if node.id in _BUILTINS else None
        if isinstance(node, ast.Attribute):
            base = self.resolve(node.value)
            return f"{base}.{node.attr}" if base else None
        if isinstance(node, ast.Call):
            func = self.resolve(node.func)
            first = node.args[0] if node.args else None
            constant = (
                first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else None
            )
            if func in ("builtins.__import__", "importlib.import_module") and constant:
                return constant
            if func == "builtins.getattr" and len(node.args) >= 2:
                target, attr = self.resolve(node.args[0]), node.args[1]
                if target and isinstance(attr, ast.Constant) and isinstance(attr.value, str):
                    return f"{target}.{attr.value}"
        return None

    def _guarded(self, name: str, node: ast.Call) -> bool:
        guard = _rules().guards.get(name)
        if guard is None:
            return False
        for kw in node.keywords:
            if kw.arg == guard.keyword:
                return isinstance(kw.value, ast.Constant) and kw.value.value == guard.safe
        return guard.default_safe

    def check_call(self, node: ast.Call) -> None:
        name = self.resolve(node.func)
        if name is not None:
            category = category_of(name)
            if category is not None and not self._guarded(name, node):
                text = ast.get_source_segment(self.source, node) or name
                self.calls.append(DangerousCall(name, category, node.lineno, " ".join(text.split())[:200]))


def judge_source(source: str) -> CodeReport:
    """Judge Python ``source``; raises ``SyntaxError``, ``ValueError`` or ``RecursionError`` if it does
    not parse. Import aliases are collected first (wherever they appear), then every call is judged."""
    tree = ast.parse(source)
    resolver = _Resolver(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            resolver.add_import(node)
        elif isinstance(node, ast.ImportFrom):
            resolver.add_import_from(node)
    calls = sorted(
        (n for n in ast.walk(tree) if isinstance(n, ast.Call)), key=lambda n: (n.lineno, n.col_offset)
    )
    for call in calls:
        if len(resolver.calls) >= MAX_CALLS:
            break
        resolver.check_call(call)
    return CodeReport(
        tuple(resolver.calls), tuple(dict.fromkeys(resolver.relative)), tuple(sorted(resolver.imports))
    )
