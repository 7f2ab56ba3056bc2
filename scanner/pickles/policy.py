"""The import/call policy of ``rules/pickle.yaml``: judge a ``(module, qualified name)`` pair.

Order: exact allowlist (plus the scan policy's ``allowed_globals``), denylist (a denied path denies all
below it, and is still denied when reached through another module's attributes), dunder attribute
chains, TorchScript classes, and everything else as an unknown import (medium). Python 2 names are
mapped first, as the unpickler's ``fix_imports`` does.
"""

from __future__ import annotations

import _compat_pickle
import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scanner.model import Severity
from scanner.resources import RulesDataError, load_rules_file

DANGEROUS_BUILTINS = frozenset(
    {
        "eval",
        "exec",
        "compile",
        "__import__",
        "getattr",
        "setattr",
        "delattr",
        "globals",
        "vars",
        "locals",
        "open",
        "breakpoint",
    }
)
"""Builtins that stay dangerous whatever module they are reached through (``x.y.eval``)."""


@dataclass(frozen=True)
class DenyEntry:
    """One denylist entry."""

    path: str
    """Dotted path (module or module.qualname) denied with everything below it."""
    severity: Severity
    """Severity of an import of it."""
    family: str
    """Technique family (process, loader, code-execution ...)."""
    reason: str
    """Why it is dangerous."""
    reference: str | None
    """CVE, GHSA or URL."""
    loader: bool
    """Its constant byte/string arguments are scanned as nested payloads."""
    clean_nested: Severity | None = None
    """Severity when every nested payload was scanned and found below medium (``None``: unchanged)."""


@dataclass(frozen=True)
class Judgement:
    """How the policy judges one import."""

    rule_id: str | None
    """Rule to report, ``None`` when allowed."""
    severity: Severity
    """Severity of the finding (``INFO`` when allowed)."""
    reason: str
    """Why (the allowlist group, the denylist reason, ...)."""
    entry: DenyEntry | None = None
    """The denylist entry that matched, if any."""

    @property
    def allowed(self) -> bool:
        """Nothing to report."""
        return self.rule_id is None


@dataclass(frozen=True)
class PicklePolicy:
    """The allowlist and denylist, loaded once."""

    allowed: Mapping[tuple[str, str], str]
    """(module, qualname) -> reason."""
    denied: Mapping[str, DenyEntry]
    """Dotted path -> entry."""


def _parse_allow(data: Any) -> dict[tuple[str, str], str]:
    allowed: dict[tuple[str, str], str] = {}
    for group in data or []:
        if not isinstance(group, dict) or not isinstance(group.get("globals"), dict) or "reason" not in group:
            raise RulesDataError("rules/pickle.yaml: each allow group needs 'reason' and a 'globals' mapping")
        for module, names in group["globals"].items():
            if not isinstance(names, list):
                raise RulesDataError(f"rules/pickle.yaml: allow {module}: expected a list of names")
            for name in names:
                allowed[(str(module), str(name))] = str(group["reason"])
    return allowed


def _parse_deny(data: Any) -> dict[str, DenyEntry]:
    denied: dict[str, DenyEntry] = {}
    for entry in data or []:
        try:
            item = DenyEntry(
                path=str(entry["path"]),
                severity=Severity.parse(str(entry["severity"])),
                family=str(entry["family"]),
                reason=str(entry["reason"]),
                reference=str(entry["reference"]) if entry.get("reference") else None,
                loader=bool(entry.get("loader", False)),
                clean_nested=Severity.parse(str(entry["clean_nested"]))
                if entry.get("clean_nested")
                else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RulesDataError(f"rules/pickle.yaml: bad deny entry {entry!r}: {exc}") from None
        if item.path in denied:
            raise RulesDataError(f"rules/pickle.yaml: {item.path} denied twice")
        denied[item.path] = item
    return denied


@functools.cache
def pickle_policy() -> PicklePolicy:
    """The policy of ``rules/pickle.yaml``."""
    data = load_rules_file("pickle.yaml")
    return PicklePolicy(allowed=_parse_allow(data.get("allow")), denied=_parse_deny(data.get("deny")))


def normalize(module: str, name: str) -> tuple[str, str]:
    """Map Python 2 names to Python 3 ones as ``fix_imports`` does (``__builtin__`` -> ``builtins``)."""
    first, dot, rest = name.partition(".")
    mapped = _compat_pickle.NAME_MAPPING.get((module, first))
    if mapped is not None:
        return mapped[0], mapped[1] + dot + rest
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def _deny_match(segments: list[str], denied: Mapping[str, DenyEntry]) -> DenyEntry | None:
    best: DenyEntry | None = None
    for start in range(len(segments)):
        for end in range(start + 1, len(segments) + 1):
            entry = denied.get(".".join(segments[start:end]))
            if entry is not None and (best is None or entry.severity > best.severity):
                best = entry
        if best is not None:
            return best
    return None


@functools.lru_cache(maxsize=8192)
def judge(module: str, name: str, extra_allowed: frozenset[tuple[str, str]] = frozenset()) -> Judgement:
    """Judge the import of ``name`` (possibly dotted) from ``module``."""
    policy = pickle_policy()
    norm = normalize(module, name)
    for pair in ((module, name), norm):
        if pair in policy.allowed:
            return Judgement(None, Severity.INFO, policy.allowed[pair])
        if pair in extra_allowed:
            return Judgement(None, Severity.INFO, "allowed by the scan policy (allowed_globals)")
    segments = [*norm[0].split("."), *norm[1].split(".")]
    entry = _deny_match(segments, policy.denied)
    if entry is not None:
        return Judgement("AS-PKL-001", entry.severity, f"{entry.family}: {entry.reason}", entry)
    qual = norm[1].split(".")
    bad_builtin = [s for s in qual if s in DANGEROUS_BUILTINS]
    if bad_builtin:
        entry = policy.denied.get(f"builtins.{bad_builtin[0]}")
        reason = entry.reason if entry else "dangerous builtin"
        return Judgement(
            "AS-PKL-001", Severity.CRITICAL, f"reaches builtin {bad_builtin[0]}: {reason}", entry
        )
    dunders = [s for s in qual[1:] if s.startswith("__") and s.endswith("__")]
    if dunders or (qual[0] in _DANGEROUS_DUNDERS):
        which = dunders[0] if dunders else qual[0]
        return Judgement(
            "AS-PKL-003", Severity.CRITICAL, f"attribute chain through {which} reaches interpreter internals"
        )
    if norm[0] == "__torch__" or norm[0].startswith("__torch__."):
        return Judgement("AS-PKL-010", Severity.LOW, "TorchScript class, resolved by the TorchScript runtime")
    return Judgement("AS-PKL-004", Severity.MEDIUM, "neither allowlisted nor denylisted")


_DANGEROUS_DUNDERS = frozenset(
    {"__builtins__", "__globals__", "__dict__", "__import__", "__loader__", "__spec__", "__class__",
     "__subclasses__", "__bases__", "__base__", "__mro__", "__code__", "__self__", "__func__", "__closure__",
     "__getattribute__", "__reduce__", "__reduce_ex__", "__init__", "__new__", "__call__", "__module__"}
)  # fmt: skip
