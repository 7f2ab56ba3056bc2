"""ML-specific advisories shipped as data in ``rules/deps.yaml`` (``ml_advisories``): framework versions
whose model loaders execute code, some newer than any advisory snapshot (e.g. CVE-2025-32434)."""

from __future__ import annotations

import functools
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from scanner.deps.interface import Advisory, Dependency, ServiceAnswer, VulnerabilityService, canonical_name
from scanner.resources import RulesDataError, load_rules_file

RULES_FILE = "deps.yaml"


@dataclass(frozen=True)
class MlAdvisory:
    """One entry of ``ml_advisories``."""

    advisory: Advisory
    """What is reported."""
    package: str
    """PEP 503 name."""
    affected: SpecifierSet
    """Affected versions."""


def _entry(item: object) -> MlAdvisory:
    if not isinstance(item, dict):
        raise RulesDataError(f"rules/{RULES_FILE}: ml_advisories entries must be mappings")
    try:
        spec = SpecifierSet(str(item["affected"]))
        advisory = Advisory(
            id=str(item["id"]),
            aliases=tuple(sorted(str(a) for a in item.get("aliases") or [])),
            summary=" ".join(str(item.get("summary", "")).split()),
            fixed_in=tuple(str(v) for v in item.get("fixed_in") or []),
            affected_range=str(spec),
            cvss_score=float(item["cvss_score"]) if item.get("cvss_score") is not None else None,
            reference=str(item["reference"]) if item.get("reference") else None,
            service="ml-rules",
        )
        return MlAdvisory(advisory, canonical_name(str(item["package"])), spec)
    except (KeyError, ValueError, InvalidSpecifier) as exc:
        raise RulesDataError(f"rules/{RULES_FILE}: bad ml_advisories entry {item!r}: {exc}") from None


@functools.cache
def ml_advisories() -> tuple[MlAdvisory, ...]:
    """Every ML-specific advisory in the rules data."""
    data = load_rules_file(RULES_FILE)
    items = data.get("ml_advisories") or [] if isinstance(data, dict) else []
    return tuple(_entry(item) for item in items)


class MlRulesService(VulnerabilityService):
    """Matches pinned framework versions against the ML-specific advisories (always offline, always on)."""

    name = "ml-rules"

    def query(self, dependency: Dependency) -> ServiceAnswer:
        if dependency.version is None:
            return ServiceAnswer(dependency, skipped="no exact version")
        try:
            version = Version(dependency.version)
        except InvalidVersion:
            return ServiceAnswer(dependency, skipped=f"version {dependency.version!r} is not PEP 440")
        hits = tuple(
            entry.advisory
            for entry in ml_advisories()
            if entry.package == dependency.canonical and entry.affected.contains(version, prereleases=True)
        )
        return ServiceAnswer(dependency, hits)

    def describe(self) -> str:
        return f"ML-specific advisories in rules/{RULES_FILE} ({len(ml_advisories())})"
