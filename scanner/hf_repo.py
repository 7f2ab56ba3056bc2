"""Hugging Face repository layout: where a file's repository directory is (also in the hub cache, where
``snapshots/<rev>/*`` are links into extension-less ``blobs/``), what ``auto_map`` references mean, and
which files ``trust_remote_code=True`` would import.

transformers resolves ``"module_file.ClassName"`` to ``module_file.py`` beside config.json, and
``"org/repo--module_file.ClassName"`` to that file in another repository; it then fetches every file the
module imports relatively (``from .x import y``), recursively.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

MAX_SNAPSHOT_ENTRIES = 10_000
"""Entries looked at in a hub cache's snapshots to find which revision a blob belongs to."""
MAX_CLOSURE_FILES = 200
"""Python files followed through relative imports."""

_REFERENCE = re.compile(
    r"^(?:(?P<repo>[\w.-]+/[\w.-]+)--)?(?P<module>[A-Za-z_][\w.]*)\.(?P<cls>[A-Za-z_]\w*)$"
)


@dataclass(frozen=True)
class CodeReference:
    """One ``auto_map`` / ``custom_pipelines`` value."""

    key: str
    """Where it was found (``auto_map.AutoModelForCausalLM``)."""
    value: str
    """The reference as written."""
    repo: str | None
    """Another repository (``org/name``) the code comes from, or ``None`` for this one."""
    module_file: str | None
    """``module.py`` path relative to the repository, ``None`` when the value is not understood."""


def parse_reference(key: str, value: str) -> CodeReference:
    """Interpret one reference; ``module_file`` is ``None`` when it does not have the expected shape."""
    m = _REFERENCE.match(value.strip())
    if m is None:
        return CodeReference(key, value, None, None)
    module = m.group("module").replace(".", "/")
    return CodeReference(key, value, m.group("repo"), f"{module}.py")


def code_references(document: dict[str, object]) -> Iterator[CodeReference | tuple[str, object]]:
    """References in ``auto_map`` and ``custom_pipelines``; a value of an unexpected type is yielded as
    ``(key, value)``."""
    auto_map = document.get("auto_map")
    if auto_map is not None:
        if not isinstance(auto_map, dict):
            yield ("auto_map", auto_map)
        else:
            for auto_class, value in auto_map.items():
                key = f"auto_map.{auto_class}"
                values = value if isinstance(value, list) else [value]
                for item in values:
                    if item is None and isinstance(value, list):
                        continue  # tokenizers: [slow, null] when there is no fast class
                    yield parse_reference(key, item) if isinstance(item, str) else (key, item)
    pipelines = document.get("custom_pipelines")
    if isinstance(pipelines, dict):
        for task, spec in pipelines.items():
            impl = spec.get("impl") if isinstance(spec, dict) else None
            if isinstance(impl, str):
                yield parse_reference(f"custom_pipelines.{task}.impl", impl)
            elif impl is not None:
                yield (f"custom_pipelines.{task}.impl", impl)


def repository_dir(display_path: str) -> Path | None:
    """The directory a top-level file belongs to as a repository.

    For a hub-cache blob (``models--org--name/blobs/<hash>``), the snapshot directory holding a link to
    it (the first revision in sorted order); otherwise the file's own directory.
    """
    path = Path(display_path)
    parent = path.parent
    if parent.name == "blobs" and parent.parent.name.startswith(("models--", "datasets--", "spaces--")):
        snapshots = parent.parent / "snapshots"
        try:
            target = path.resolve()
            seen = 0
            for revision in sorted(snapshots.iterdir()):
                for root, _dirs, files in os.walk(revision):
                    for name in sorted(files):
                        seen += 1
                        if seen > MAX_SNAPSHOT_ENTRIES:
                            return None
                        entry = Path(root) / name
                        if entry.resolve() == target:
                            return entry.parent
        except OSError:
            return None
        return None
    return parent if parent.is_dir() else None


@dataclass(frozen=True)
class Closure:
    """The files ``trust_remote_code`` would import for some references."""

    present: tuple[str, ...]
    """Files found in the repository directory, relative to it, in discovery order."""
    missing: tuple[str, ...]
    """Referenced or relatively imported files that are not there."""
    truncated: bool
    """More than :data:`MAX_CLOSURE_FILES` files: the rest were not followed."""


def import_closure(repo_dir: Path | None, module_files: list[str]) -> Closure:
    """Follow relative imports from ``module_files`` inside ``repo_dir`` (just list them without one)."""
    if repo_dir is None:
        return Closure((), tuple(dict.fromkeys(module_files)), False)
    from scanner.pycode_check import MAX_SOURCE_BYTES, judge_source  # ast and its rules: only for code

    present: list[str] = []
    missing: list[str] = []
    queue = list(dict.fromkeys(module_files))
    seen = set(queue)
    while queue:
        if len(present) + len(missing) >= MAX_CLOSURE_FILES:
            return Closure(tuple(present), tuple(missing), True)
        rel = queue.pop(0)
        path = repo_dir / rel
        try:
            if not path.is_file():
                missing.append(rel)
                continue
            with open(path, "rb") as f:
                data = f.read(MAX_SOURCE_BYTES + 1)
        except OSError:
            missing.append(rel)
            continue
        present.append(rel)
        if len(data) > MAX_SOURCE_BYTES:
            continue
        try:
            report = judge_source(data.decode("utf-8", "replace"))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        folder = os.path.dirname(rel)
        for module in report.relative_imports:
            nxt = os.path.join(folder, module.replace(".", "/") + ".py")
            if nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return Closure(tuple(present), tuple(missing), False)
