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
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # importlib.resources.abc is 3.11+; importlib.abc holds it on 3.10
    from importlib.abc import Traversable


class RulesDataError(Exception):
    """A file under ``rules/`` is missing or malformed (a packaging or editing error)."""


@functools.cache
def rules_dir() -> Traversable:
    """The directory holding the rule and policy data."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "rules", here.parent / "rules"):  # installed package, then a checkout
        if candidate.is_dir():
            return candidate
    from importlib import resources  # a zipped install; imports zipfile and friends (~5 ms)

    packaged = resources.files("scanner") / "rules"
    if packaged.is_dir():
        return packaged
    raise RulesDataError("rules/ data not found inside the package nor beside it")


def load_yaml_text(text: str, origin: str) -> Any:
    """Parse YAML safely, rejecting duplicate keys; errors name ``origin``."""
    import yaml  # only on a cache miss or a user's policy file: PyYAML costs ~25 ms to import

    from scanner.yaml_loader import UniqueKeyLoader

    try:
        return yaml.load(text, Loader=UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
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
