"""``audit``, ``db import`` and ``scan --vuln-db`` against the real PyPA advisory snapshot.

The expected advisories were checked by hand against ../shared/vuln-db/pypa-advisory-database/vulns/:
- torch 1.13.0: PYSEC-2022-43015 (ECOSYSTEM introduced 0, fixed 1.13.1), plus the ML rule CVE-2025-32434
  (torch < 2.6.0, shipped in rules/deps.yaml because it is newer than the snapshot);
- pillow 9.0.0: PYSEC-2022-168 (fixed 9.0.1), PYSEC-2022-42979 (fixed 9.2.0), PYSEC-2023-175 (fixed
  10.0.1), PYSEC-2023-227 (fixed 10.0.0); not PYSEC-2022-8/9/10 (fixed exactly 9.0.0) nor PYSEC-2022-42980
  (introduced 9.2.0);
- numpy 1.16.0: PYSEC-2019-108 (fixed 1.16.1), PYSEC-2021-856 (fixed 1.19.1), PYSEC-2021-857 (fixed 1.19.0);
  not PYSEC-2017-1 (fixed 1.13.3);
- werkzeug 3.0.0: PYSEC-2023-221 (introduced 3.0.0, fixed 3.0.1), CVSS:3.1/.../A:H = 7.5 -> high;
- cdo-local-uuid 0.4.0: PYSEC-2024-6 (no fix), CVSS:3.1/AV:L/AC:L/PR:L/UI:R/S:U/C:L/I:N/A:N = 2.8 -> low.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from scanner.cli import main
from scanner.deps.scan_step import audit_recorded_libraries
from scanner.engine import ScanOptions, scan_paths
from scanner.model import Severity

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "fixtures" / "deps"
SNAPSHOT = Path(__file__).resolve().parents[1].parent / "shared" / "vuln-db" / "pypa-advisory-database"

pytestmark = pytest.mark.skipif(not SNAPSHOT.is_dir(), reason=f"advisory snapshot not found at {SNAPSHOT}")


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(args))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(scope="module")
def index(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The whole snapshot imported once (with ``db import --output``)."""
    path = tmp_path_factory.mktemp("vulndb") / "osv.sqlite"
    assert main(["db", "import", str(SNAPSHOT), "--output", str(path)]) == 0
    return str(path)


@pytest.fixture(autouse=True)
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg-cache"))


def audit_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code, out, _ = run(capsys, "audit", *args, "--json", "-", "--reproducible")
    return code, json.loads(out)


def vulns(doc: dict[str, Any]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for artifact in doc["artifacts"]:
        for f in artifact["findings"]:
            if f["rule_id"] in ("AS-DEP-001", "AS-DEP-006"):
                found.setdefault(f["extra"]["package"], set()).add(f["extra"]["vulnerability_id"])
    return found


def test_vulnerable_pins_find_exactly_the_advisories(capsys: pytest.CaptureFixture[str], index: str) -> None:
    code, doc = audit_json(capsys, str(FIXTURES / "vulnerable" / "requirements.txt"), "--vuln-db", index)
    assert code == 1
    assert vulns(doc) == {
        "torch": {"PYSEC-2022-43015", "CVE-2025-32434"},
        "pillow": {"PYSEC-2022-168", "PYSEC-2022-42979", "PYSEC-2023-175", "PYSEC-2023-227"},
        "numpy": {"PYSEC-2019-108", "PYSEC-2021-856", "PYSEC-2021-857"},
    }


def test_finding_extra_keys(capsys: pytest.CaptureFixture[str], index: str) -> None:
    _, doc = audit_json(capsys, str(FIXTURES / "vulnerable" / "requirements.txt"), "--vuln-db", index)
    findings = {f["extra"].get("vulnerability_id"): f for f in doc["artifacts"][0]["findings"]}
    numpy = findings["PYSEC-2021-856"]
    assert numpy["severity"] == "high"  # no CVSS in the record: the rule's default
    assert numpy["extra"]["package"] == "numpy" and numpy["extra"]["version"] == "1.16.0"
    assert numpy["extra"]["fixed_in"] == ["1.19.1"]
    assert numpy["extra"]["affected_range"] == "<1.19.1"
    assert numpy["extra"]["cvss_score"] is None
    assert numpy["extra"]["purl"] == "pkg:pypi/numpy@1.16.0"
    assert isinstance(numpy["extra"]["aliases"], list)
    ml = findings["CVE-2025-32434"]
    assert ml["rule_id"] == "AS-DEP-006" and ml["severity"] == "critical"
    assert ml["extra"]["aliases"] == ["GHSA-53q9-r3pm-6pq6"] and ml["extra"]["fixed_in"] == ["2.6.0"]
    assert ml["reference"] == "https://github.com/advisories/GHSA-53q9-r3pm-6pq6"
    assert "requirements.txt:2: torch 1.13.0" in ml["detail"]
    unhashed = findings[None]
    assert unhashed["rule_id"] == "AS-DEP-003" and unhashed["severity"] == "info"


def test_fixed_versions_find_nothing(capsys: pytest.CaptureFixture[str], index: str) -> None:
    code, doc = audit_json(capsys, str(FIXTURES / "fixed" / "requirements.txt"), "--vuln-db", index)
    assert code == 0
    assert doc["artifacts"][0]["findings"] == []


def test_severity_from_cvss_vectors(capsys: pytest.CaptureFixture[str], index: str) -> None:
    _, doc = audit_json(capsys, str(FIXTURES / "scored" / "requirements.txt"), "--vuln-db", index)
    by_id = {f["extra"].get("vulnerability_id"): f for f in doc["artifacts"][0]["findings"]}
    assert (by_id["PYSEC-2023-221"]["severity"], by_id["PYSEC-2023-221"]["extra"]["cvss_score"]) == (
        "high",
        7.5,
    )
    assert by_id["PYSEC-2023-221"]["extra"]["affected_range"] == ">=3.0.0,<3.0.1"
    assert (by_id["PYSEC-2024-6"]["severity"], by_id["PYSEC-2024-6"]["extra"]["cvss_score"]) == ("low", 2.8)
    assert by_id["PYSEC-2024-6"]["extra"]["fixed_in"] == []
    assert by_id["PYSEC-2022-42980"]["extra"]["affected_range"] == ">=9.2.0,<9.3.0"


def test_lock_files_and_pyproject(capsys: pytest.CaptureFixture[str], index: str) -> None:
    _, doc = audit_json(capsys, str(FIXTURES / "locks"), str(FIXTURES / "pyproject"), "--vuln-db", index)
    per_file = {Path(a["path"]).name: a for a in doc["artifacts"]}
    assert set(per_file) == {"poetry.lock", "uv.lock", "Pipfile.lock", "pylock.toml", "pyproject.toml"}
    assert vulns({"artifacts": [per_file["uv.lock"]]}) == {
        "numpy": {"PYSEC-2019-108", "PYSEC-2021-856", "PYSEC-2021-857"}
    }
    assert vulns({"artifacts": [per_file["Pipfile.lock"]]})["werkzeug"] == {"PYSEC-2023-221"}
    assert vulns({"artifacts": [per_file["poetry.lock"]]})["torch"] == {"CVE-2025-32434"}
    assert vulns({"artifacts": [per_file["pylock.toml"]]})["torch"] == {"PYSEC-2022-43015", "CVE-2025-32434"}
    pyproject_rules = sorted(f["rule_id"] for f in per_file["pyproject.toml"]["findings"])
    assert pyproject_rules.count("AS-DEP-002") == 2  # torch>=2.0 and pytest>=8 are unpinned
    assert "AS-DEP-003" not in pyproject_rules  # pyproject cannot carry hashes


def test_installed_environment(capsys: pytest.CaptureFixture[str], index: str) -> None:
    code, doc = audit_json(capsys, "--env", str(FIXTURES / "env"), "--vuln-db", index)
    assert code == 1
    result = doc["artifacts"][0]
    assert result["format"] == "python-environment"
    assert result["digests"] is not None
    assert vulns(doc) == {
        "pillow": {"PYSEC-2022-168", "PYSEC-2022-42979", "PYSEC-2023-175", "PYSEC-2023-227"},
        "torch": {"CVE-2025-32434"},
    }
    assert not Path("/tmp/artifact-scanner-pth-ran").exists()


def test_malformed_line_is_a_clear_finding(capsys: pytest.CaptureFixture[str], index: str) -> None:
    code, out, _ = run(capsys, "audit", str(FIXTURES / "malformed" / "requirements.txt"), "--vuln-db", index)
    assert code == 1
    assert "requirements.txt:3: cannot parse requirement line 'torch=>2.0'" in out
    assert "requirements.txt:5: cannot parse requirement line '--bogus-option value'" in out


def test_no_data_means_audit_did_not_run(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = audit_json(capsys, str(FIXTURES / "fixed" / "requirements.txt"))
    assert code == 0  # a coverage note, not an error
    rules = [f["rule_id"] for f in doc["artifacts"][0]["findings"]]
    assert rules == ["AS-DEP-005"]
    notes = [n["reason"] for n in doc["artifacts"][0]["coverage"]["not_analyzed"]]
    assert any("not checked" in n for n in notes)
    assert doc["extras"]["dependency_audit"]["vulnerability_data"] is False


def test_ml_rule_runs_even_without_data(capsys: pytest.CaptureFixture[str]) -> None:
    code, doc = audit_json(capsys, str(FIXTURES / "model"))
    assert code == 1
    assert vulns(doc) == {"torch": {"CVE-2025-32434"}}


def test_default_index_from_db_import(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    records = tmp_path / "records"
    shutil.copytree(SNAPSHOT / "vulns" / "numpy", records / "numpy")
    code, out, _ = run(capsys, "db", "import", str(records))
    assert code == 0 and "indexed 8 advisories" in out
    assert (tmp_path / "xdg-cache" / "artifact-scanner" / "osv-index.sqlite").is_file()
    code, doc = audit_json(capsys, str(FIXTURES / "vulnerable" / "requirements.txt"))
    assert vulns(doc)["numpy"] == {"PYSEC-2019-108", "PYSEC-2021-856", "PYSEC-2021-857"}
    assert "pillow" not in vulns(doc)


def test_bad_vuln_db_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, _, err = run(capsys, "audit", str(FIXTURES / "fixed"), "--vuln-db", str(tmp_path / "nope"))
    assert code == 2 and "no such file" in err
    code, _, err = run(capsys, "scan", str(FIXTURES / "fixed"), "--vuln-db", str(tmp_path / "nope"))
    assert code == 2 and "vulnerability database error" in err


def test_audit_needs_a_path(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "audit")[0] == 2


def test_output_is_deterministic(capsys: pytest.CaptureFixture[str], index: str) -> None:
    first = run(
        capsys, "audit", str(FIXTURES / "locks"), "--vuln-db", index, "--json", "-", "--reproducible"
    )[1]
    second = run(
        capsys, "audit", str(FIXTURES / "locks"), "--vuln-db", index, "--json", "-", "--reproducible"
    )[1]
    assert first == second


def test_scan_with_vuln_db(capsys: pytest.CaptureFixture[str], index: str) -> None:
    code, out, _ = run(capsys, "scan", str(FIXTURES / "vulnerable"), "--vuln-db", index, "--json", "-")
    doc = json.loads(out)
    assert code == 1
    assert doc["artifacts"][0]["format"] == "python-dependencies"
    assert vulns(doc)["pillow"] == {"PYSEC-2022-168", "PYSEC-2022-42979", "PYSEC-2023-175", "PYSEC-2023-227"}


def test_scan_without_vuln_db_notes_coverage(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "scan", str(FIXTURES / "fixed"), "--json", "-")
    doc = json.loads(out)
    assert code == 0
    result = doc["artifacts"][0]
    assert result["findings"] == []
    assert any("not checked" in n["reason"] for n in result["coverage"]["not_analyzed"])


def test_scan_reports_unpinned_and_ml_rule_without_db(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "scan", str(FIXTURES / "mixed"), "--json", "-")
    doc = json.loads(out)
    rules = sorted(f["rule_id"] for a in doc["artifacts"] for f in a["findings"])
    assert code == 1
    assert rules.count("AS-DEP-006") == 1  # torch 2.5.1
    assert "AS-DEP-002" in rules and "AS-DEP-007" in rules


def test_scan_audits_transformers_version_in_config(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    records = tmp_path / "records"
    records.mkdir()
    (records / "T-1.json").write_text(
        json.dumps(
            {
                "id": "TEST-TRANSFORMERS-1",
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": "transformers"},
                        "ranges": [
                            {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "4.36.0"}]}
                        ],
                    }
                ],
            }
        )
    )
    code, out, _ = run(
        capsys, "scan", str(FIXTURES / "model" / "config.json"), "--vuln-db", str(records), "--json", "-"
    )
    doc = json.loads(out)
    assert vulns(doc) == {"transformers": {"TEST-TRANSFORMERS-1"}}
    assert doc["artifacts"][0]["findings"][0]["severity"] == "low"  # recorded, not declared: capped
    assert code == 0


def test_recorded_libraries_step(index: str) -> None:
    report = scan_paths([str(FIXTURES / "fixed" / "requirements.txt")], ScanOptions(reproducible=True))
    recorded = replace(report.results[0], properties={"libraries": {"torch": "2.4.0", "numpy": "1.16.0"}})
    report = replace(report, results=(recorded,))
    audited = audit_recorded_libraries(report, index, ScanOptions().policy)
    found = {(f.extra["package"], f.extra["vulnerability_id"]) for f in audited.results[0].findings}
    assert ("torch", "CVE-2025-32434") in found and ("numpy", "PYSEC-2021-856") in found
    # recorded versions say what saved the model, not what loads it: reported, capped at low
    assert audited.results[0].worst is Severity.LOW
    assert all("Recorded in the artifact" in f.detail for f in audited.results[0].findings)
    assert audited.verdict.exit_code == 0


def test_audit_artifacts_records_library_versions(capsys: pytest.CaptureFixture[str]) -> None:
    from scanner.engine import scan_artifact
    from scanner.walk import list_artifacts

    model = FIXTURES / "onnx-model"
    scanned = scan_artifact(list_artifacts([str(model)]).artifacts[0], ScanOptions())
    if not scanned.properties.get("libraries"):
        pytest.skip("no analyzer on this branch records library versions of ONNX files")
    code, doc = audit_json(capsys, str(model), "--artifacts")
    assert code == 0  # recorded versions are capped at low
    result = doc["artifacts"][0]
    assert result["properties"]["libraries"] == {"torch": "2.5.1"}
    assert [(f["rule_id"], f["severity"]) for f in result["findings"]] == [("AS-DEP-006", "low")]
    code, doc = audit_json(capsys, str(model))
    assert doc["artifacts"] == []  # without --artifacts only dependency files are read


def test_cvss_vector_is_kept_for_reports(capsys: pytest.CaptureFixture[str], index: str) -> None:
    _, doc = audit_json(capsys, str(FIXTURES / "scored" / "requirements.txt"), "--vuln-db", index)
    by_id = {f["extra"].get("vulnerability_id"): f["extra"] for f in doc["artifacts"][0]["findings"]}
    assert by_id["PYSEC-2023-221"]["cvss_vector"] == "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"
    assert by_id["PYSEC-2022-42980"]["cvss_vector"] is None


def test_explicit_non_dependency_file_is_refused(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    code, out, _ = run(capsys, "audit", str(weights))
    assert code == 3 and "not a dependency file" in out
    pins = tmp_path / "deps.txt"
    pins.write_text("torch==2.6.0\n")
    code, doc = audit_json(capsys, str(pins))
    assert doc["artifacts"][0]["format"] == "requirements"
