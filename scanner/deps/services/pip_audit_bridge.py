"""pip-audit as a library: its online PyPI and OSV services, and our services behind its interface.

This is the ONLY module that imports pip-audit, whose API lives in private modules (``pip_audit._service``);
the version is pinned in pyproject.toml and checked here, so an upgrade fails loudly instead of subtly.
pip-audit (and ``requests`` under it) is imported inside functions: start-up stays fast and offline runs
never load it.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

from scanner.deps.interface import (
    Advisory,
    Dependency,
    ServiceAnswer,
    ServiceError,
    VulnerabilityService,
)

PIP_AUDIT_VERSION = "2.10.1"
"""The pip-audit release whose private service API this module is written against."""
ONLINE_SERVICES = ("osv", "pypi")
"""Names accepted by :class:`PipAuditService`."""


def _check_version() -> None:
    try:
        installed = metadata.version("pip-audit")
    except metadata.PackageNotFoundError:
        raise ServiceError(
            "pip-audit is not installed; online audits need pip-audit==" + PIP_AUDIT_VERSION
        ) from None
    if installed != PIP_AUDIT_VERSION:
        raise ServiceError(
            f"pip-audit {installed} is installed; this scanner needs exactly {PIP_AUDIT_VERSION}"
        )


class PipAuditService(VulnerabilityService):
    """pip-audit's online OSV (``api.osv.dev``) or PyPI JSON vulnerability service.

    pip-audit's results carry no CVSS data, so these advisories take the default severity (high).
    """

    name = "online"

    def __init__(self, which: str = "osv", timeout: int = 15, cache_dir: Path | None = None) -> None:
        if which not in ONLINE_SERVICES:
            raise ServiceError(f"unknown online service {which!r} (choose from {', '.join(ONLINE_SERVICES)})")
        self.which = which
        self.timeout = timeout
        self.cache_dir = cache_dir
        self._service: Any = None

    def _backend(self) -> Any:
        if self._service is None:
            _check_version()
            from pip_audit._service import OsvService, PyPIService

            factory: Callable[..., Any] = OsvService if self.which == "osv" else PyPIService
            self._service = factory(cache_dir=self.cache_dir, timeout=self.timeout)
        return self._service

    def query(self, dependency: Dependency) -> ServiceAnswer:
        if dependency.version is None:
            return ServiceAnswer(dependency, skipped="no exact version")
        from packaging.version import InvalidVersion, Version
        from pip_audit._service import ResolvedDependency
        from pip_audit._service import ServiceError as PipAuditServiceError

        try:
            version = Version(dependency.version)
        except InvalidVersion:
            return ServiceAnswer(dependency, skipped=f"version {dependency.version!r} is not PEP 440")
        backend = self._backend()
        try:
            _, results = backend.query(ResolvedDependency(name=dependency.name, version=version))
        except PipAuditServiceError as exc:
            raise ServiceError(f"{self.which} service failed for {dependency.name}: {exc}") from None
        except OSError as exc:  # requests' errors derive from OSError
            raise ServiceError(f"{self.which} service unreachable: {exc}") from None
        advisories = {
            str(r.id): Advisory(
                id=str(r.id),
                aliases=tuple(sorted(str(a) for a in r.aliases)),
                summary=" ".join(str(r.description).split())[:1000],
                fixed_in=tuple(str(v) for v in sorted(r.fix_versions)),
                service=f"pip-audit:{self.which}",
            )
            for r in results
        }
        return ServiceAnswer(dependency, tuple(advisories[k] for k in sorted(advisories)))

    def describe(self) -> str:
        return f"pip-audit {PIP_AUDIT_VERSION} online {self.which} service"


def _is_pep440(text: str) -> bool:
    from packaging.version import InvalidVersion, Version

    try:
        Version(text)
    except InvalidVersion:
        return False
    return True


def as_pip_audit_service(service: VulnerabilityService) -> Any:
    """Our service (e.g. the offline OSV index) behind pip-audit's ``VulnerabilityService`` interface,
    so pip-audit's own machinery (its auditor, fixer and formats) can use our offline data."""
    _check_version()
    from packaging.version import Version
    from pip_audit._service import Dependency as PipDependency
    from pip_audit._service import ResolvedDependency, VulnerabilityResult
    from pip_audit._service import VulnerabilityService as PipVulnerabilityService

    class _Adapter(PipVulnerabilityService):  # type: ignore[misc]
        def query(self, spec: PipDependency) -> tuple[PipDependency, list[VulnerabilityResult]]:
            if spec.is_skipped() or not isinstance(spec, ResolvedDependency):
                return spec, []
            answer = service.query(Dependency(name=spec.name, version=str(spec.version)))
            return spec, [
                VulnerabilityResult(
                    id=a.id,
                    description=a.summary,
                    fix_versions=[Version(v) for v in a.fixed_in if _is_pep440(v)],
                    aliases=set(a.aliases),
                )
                for a in answer.advisories
            ]

    return _Adapter()
