"""Our offline OSV service: advisories from a local index (see :mod:`scanner.deps.osv_store`)."""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

from scanner.deps.interface import Advisory, Dependency, ServiceAnswer, VulnerabilityService
from scanner.deps.osv_records import match_entry
from scanner.deps.osv_store import OsvStore


class OfflineOsvService(VulnerabilityService):
    """Matches pinned versions against the OSV/PyPA records of a local index."""

    name = "osv-offline"

    def __init__(self, store: OsvStore) -> None:
        self.store = store

    def query(self, dependency: Dependency) -> ServiceAnswer:
        if dependency.version is None:
            return ServiceAnswer(dependency, skipped="no exact version")
        found: dict[str, Advisory] = {}
        for stored in self.store.advisories_for(dependency.canonical):
            match = match_entry(dependency.version, stored.entry)
            if match is None or stored.record.id in found:
                continue
            record = stored.record
            found[record.id] = Advisory(
                id=record.id,
                aliases=record.aliases,
                summary=record.summary,
                fixed_in=match.fixed_in,
                affected_range=match.affected_range,
                cvss_score=record.cvss_score,
                cvss_vector=record.cvss_vector,
                qualitative_severity=record.qualitative,
                reference=record.reference,
                service=self.name,
            )
        skipped = None
        try:
            Version(dependency.version)
        except InvalidVersion:
            skipped = (
                f"version {dependency.version!r} is not PEP 440: only exact listed versions were compared"
            )
        return ServiceAnswer(dependency, tuple(found[k] for k in sorted(found)), skipped)

    def describe(self) -> str:
        meta = self.store.meta
        records = meta.get("records", "?")
        return f"offline OSV index {self.store.index} ({records} records from {meta.get('source')})"
