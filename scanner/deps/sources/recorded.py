"""Versions recorded by the artifacts themselves.

Two inputs: ``ScanResult.properties["libraries"]`` (package -> version, set by the format analyzers from
e.g. scikit-learn's ``_sklearn_version`` or a PyTorch archive) and a Hugging Face ``config.json``'s
``transformers_version``. A recorded version is what the model was saved with, a strong hint of what it
will be loaded with.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from scanner.deps.interface import Dependency, DependencySource, SourceResult
from scanner.deps.sources._common import parse_json

CONFIG_VERSION_KEYS = {"transformers_version": "transformers"}
"""config.json keys holding the version of a package."""


def _dependency(package: str, version: str, display: str, how: str) -> Dependency:
    return Dependency(
        name=package,
        version=version,
        specifier=f"=={version}",
        source=f"{display} ({how})",
        origin="artifact",
        hashable=False,
    )


class RecordedLibrariesSource(DependencySource):
    """Package versions an analyzer recorded in ``properties["libraries"]``."""

    name = "artifact"

    def __init__(self, libraries: Mapping[str, Any], display: str) -> None:
        self.libraries = libraries
        self.display = display

    def collect(self) -> SourceResult:
        deps = [
            _dependency(str(package), str(version), self.display, "recorded in the artifact")
            for package, version in sorted(self.libraries.items())
            if isinstance(version, (str, int, float)) and str(version).strip()
        ]
        return SourceResult(tuple(deps), (), (self.display,))


class ConfigJsonSource(DependencySource):
    """``transformers_version`` (and the like) in a Hugging Face ``config.json``."""

    name = "config.json"

    def __init__(self, text: str, display: str) -> None:
        self.text = text
        self.display = display

    def collect(self) -> SourceResult:
        data = parse_json(self.text, self.display)
        deps: list[Dependency] = []
        if isinstance(data, dict):
            for key, package in sorted(CONFIG_VERSION_KEYS.items()):
                value = data.get(key)
                if isinstance(value, str) and value.strip():
                    deps.append(_dependency(package, value.strip(), self.display, key))
        return SourceResult(tuple(deps), (), (self.display,))
