"""Access to the data files under ``rules/``, installed inside the package as ``scanner/rules``.

In a wheel the build force-includes the project's top-level ``rules/`` as ``scanner/rules``; in a source
checkout (editable install) the same files are read from the project root.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # importlib.resources.abc is 3.11+; importlib.abc holds it on 3.10
    from importlib.abc import Traversable

import yaml


class RulesDataError(Exception):
    """A file under ``rules/`` is missing or malformed (a packaging or editing error)."""


@functools.cache
def rules_dir() -> Traversable:
    """The directory holding the rule and policy data."""
    packaged = resources.files("scanner") / "rules"
    if packaged.is_dir():
        return packaged
    source = Path(__file__).resolve().parent.parent / "rules"
    if source.is_dir():
        return source
    raise RulesDataError("rules/ data not found inside the package nor beside it")


class _UniqueKeyLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]  # libyaml when built
    """A safe YAML loader that rejects duplicate mapping keys instead of keeping the last one."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode, deep: bool = False) -> Any:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return loader.construct_mapping(node, deep=deep)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_unique_mapping,
)


def load_yaml_text(text: str, origin: str) -> Any:
    """Parse YAML safely, rejecting duplicate keys; errors name ``origin``."""
    try:
        return yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise RulesDataError(f"{origin}: invalid YAML: {exc}") from None


@functools.cache
def load_rules_file(name: str) -> Any:
    """Parse one YAML file under ``rules/`` (cached; treat the result as read-only)."""
    node = rules_dir() / name
    if not node.is_file():
        raise RulesDataError(f"rules/{name} is missing")
    text = node.read_text(encoding="utf-8")
    # Building Python objects from YAML costs ~0.2 s for all rules at every start; the same data as
    # JSON, keyed by the file's content hash, loads ten times faster. Any cache problem: parse YAML.
    cached = cache_dir() / f"rules-{hashlib.sha256(text.encode()).hexdigest()[:32]}.json"
    with contextlib.suppress(OSError, ValueError):
        return json.loads(cached.read_text(encoding="utf-8"))
    data = load_yaml_text(text, f"rules/{name}")
    with contextlib.suppress(OSError, TypeError, ValueError):
        encoded = json.dumps(data)
        if json.loads(encoded) == data:  # only data JSON keeps exactly (no dates, no int keys)
            cached.parent.mkdir(parents=True, exist_ok=True)
            partial = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
            partial.write_text(encoded, encoding="utf-8")
            os.replace(partial, cached)
    return data


def rules_files() -> list[str]:
    """Names of every YAML file under ``rules/``, sorted."""
    return sorted(n.name for n in rules_dir().iterdir() if n.name.endswith((".yaml", ".yml")))


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/artifact-scanner`` (``~/.cache/artifact-scanner`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "artifact-scanner"
