"""pip-audit as a library: our offline index behind pip-audit's service interface (offline), and pip-audit's
online OSV and PyPI services (network; run only with ARTIFACT_SCANNER_NETWORK_TESTS=1)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scanner.deps.interface import Dependency
from scanner.deps.osv_store import OsvStore, import_records
from scanner.deps.services.offline import OfflineOsvService
from scanner.deps.services.pip_audit_bridge import PipAuditService, as_pip_audit_service

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "deps"
NETWORK = os.environ.get("ARTIFACT_SCANNER_NETWORK_TESTS") == "1"
needs_network = pytest.mark.skipif(
    not NETWORK, reason="network tests run only with ARTIFACT_SCANNER_NETWORK_TESTS=1"
)


def test_offline_index_behind_pip_audits_interface(tmp_path: Path) -> None:
    from packaging.version import Version
    from pip_audit._service import ResolvedDependency, VulnerabilityService

    index = tmp_path / "i.sqlite"
    import_records(FIXTURES / "osv-records.zip", index)
    adapter = as_pip_audit_service(OfflineOsvService(OsvStore(index)))
    assert isinstance(adapter, VulnerabilityService)
    spec, results = adapter.query(ResolvedDependency(name="Demo_Package", version=Version("1.2.0")))
    assert spec.name == "Demo_Package"
    assert [(r.id, sorted(r.aliases)) for r in results] == [("GHSA-fake-qual-0001", ["CVE-2099-0001"])]


def test_unknown_online_service_is_refused() -> None:
    from scanner.deps.interface import ServiceError

    with pytest.raises(ServiceError, match="unknown online service"):
        PipAuditService("nvd")


@pytest.mark.network
@needs_network
@pytest.mark.parametrize("which", ["osv", "pypi"])
def test_online_service_finds_a_known_vulnerability(which: str, tmp_path: Path) -> None:
    service = PipAuditService(which, cache_dir=tmp_path)
    answer = service.query(Dependency(name="pillow", version="9.0.0"))
    ids = {a.id for a in answer.advisories} | {alias for a in answer.advisories for alias in a.aliases}
    assert "CVE-2022-24303" in ids  # PYSEC-2022-168, fixed in 9.0.1
    assert all(a.fixed_in for a in answer.advisories)


@pytest.mark.network
@needs_network
def test_audit_online_cli(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scanner.cli import main

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    code = main(["audit", str(FIXTURES / "vulnerable" / "requirements.txt"), "--online", "--json", "-"])
    out = capsys.readouterr().out
    assert code == 1
    assert "PYSEC-2022-168" in out or "CVE-2022-24303" in out
