"""Shared reading of TOML lock files whose entries are ``[[package]]`` tables with name and version."""

from __future__ import annotations

from typing import Any

from scanner.deps.interface import Dependency, SourceProblem
from scanner.deps.redaction import redact_dependency_text

MAX_LOCK_ENTRIES = 50_000
"""Entries read from one lock file."""
_INDEXES = ("legacy", "pypi", "registry")
"""Poetry source types that are package indexes (their entries carry a version from the index)."""
_LOCATION_KEYS = ("url", "git", "path", "editable", "virtual", "directory")


def hashes_of(entry: dict[str, Any]) -> tuple[str, ...]:
    """``algorithm:hex`` hashes from ``hash``/``hashes`` keys of a lock entry and its file tables."""
    found: list[str] = []

    def add(value: Any) -> None:
        if isinstance(value, str) and ":" in value:
            found.append(value.lower())
        elif isinstance(value, dict):
            found.extend(f"{k.lower()}:{v.lower()}" for k, v in sorted(value.items()) if isinstance(v, str))

    add(entry.get("hash"))
    add(entry.get("hashes"))
    for key in ("sdist", "wheels", "files", "archive"):
        items = entry.get(key)
        for item in items if isinstance(items, list) else [items]:
            if isinstance(item, dict):
                add(item.get("hash"))
                add(item.get("hashes"))
    return tuple(sorted(set(found)))


def package_entries(
    entries: Any, display: str, origin: str, table: str
) -> tuple[list[Dependency], list[SourceProblem]]:
    """Dependencies from a list of package tables; entries without name or version are problems."""
    deps: list[Dependency] = []
    problems: list[SourceProblem] = []
    if entries is None:
        return deps, problems
    if not isinstance(entries, list):
        return deps, [SourceProblem("malformed", f"{display}: '{table}' must be an array of tables", display)]
    for index, entry in enumerate(entries[:MAX_LOCK_ENTRIES]):
        where = f"{display}: {table}[{index}]"
        if not isinstance(entry, dict) or not isinstance(entry.get("name"), str):
            problems.append(SourceProblem("malformed", f"{where}: entry without a name", display))
            continue
        name = entry["name"]
        version = entry.get("version")
        source = entry.get("source")
        reference = None
        if isinstance(source, dict) and "registry" not in source and source.get("type") not in _INDEXES:
            value = next((source[k] for k in _LOCATION_KEYS if k in source), None)
            reference = redact_dependency_text(str(value)) if value is not None else "unknown source"
        for key in ("vcs", "directory", "archive"):
            if isinstance(entry.get(key), dict):
                ref = entry[key]
                reference = redact_dependency_text(str(ref.get("url") or ref.get("path") or key))
        if not isinstance(version, str) and reference is None:
            problems.append(SourceProblem("malformed", f"{where} ({name}): entry without a version", display))
            continue
        deps.append(
            Dependency(
                name=name,
                version=version if isinstance(version, str) and reference is None else None,
                specifier=f"=={version}" if isinstance(version, str) else "",
                source=display,
                hashes=hashes_of(entry),
                marker=entry.get("marker") if isinstance(entry.get("marker"), str) else None,
                direct_reference=reference,
                origin=origin,
                hashable=False,
            )
        )
    if len(entries) > MAX_LOCK_ENTRIES:
        problems.append(SourceProblem("limit", f"{display}: more than {MAX_LOCK_ENTRIES} entries", display))
    return deps, problems
