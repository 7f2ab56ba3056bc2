"""scan's model-signature step: AS-ATT-001 (required and missing), 002 (files differ), 003 (malformed)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.attest_helpers import copy_model
from tests.conftest import SHARED

MS = SHARED / "vectors" / "model-signing"


def _findings(run_cli, *args: str) -> tuple[int, list[dict]]:  # type: ignore[no-untyped-def, type-arg]
    result = run_cli("scan", *args, "--json", "-")
    data = result.json()
    found = [dict(f, file=a["relpath"]) for a in data["artifacts"] for f in a["findings"]]
    return result.code, found


@pytest.fixture
def signed_model(run_cli, tmp_path: Path) -> Path:  # type: ignore[no-untyped-def]
    assert run_cli("keygen", "--output", str(tmp_path / "k")).code == 0
    model = copy_model(tmp_path)
    assert (
        run_cli(
            "sign", str(model), "--key", str(tmp_path / "k.key"), "--output", str(model / "model.sig")
        ).code
        == 0
    )
    return model


def test_signed_model_scans_clean(run_cli, signed_model: Path) -> None:  # type: ignore[no-untyped-def]
    code, found = _findings(run_cli, str(signed_model))
    assert code == 0
    assert found == []


def test_tampered_signed_model_is_high(run_cli, signed_model: Path) -> None:  # type: ignore[no-untyped-def]
    (signed_model / "config.json").write_text('{"architectures": ["Swapped"]}')
    (signed_model / "README.md").rename(signed_model / "README.txt")
    code, found = _findings(run_cli, str(signed_model))
    assert code == 1
    (att,) = [f for f in found if f["rule_id"] == "AS-ATT-002"]
    assert att["severity"] == "high"
    assert att["file"] == "model.sig"
    assert att["detail"] == (
        "model.sig does not match the files (changed: config.json; missing: README.md; unsigned: README.txt)"
    )


def test_malformed_signature_is_medium(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = copy_model(tmp_path)
    (model / "model.sig").write_text('{"mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json"')
    code, found = _findings(run_cli, str(model))
    assert code == 1
    (att,) = [f for f in found if f["rule_id"] == "AS-ATT-003"]
    assert att["severity"] == "medium"
    assert "not valid JSON" in att["detail"]


def test_policy_can_require_a_signature(run_cli, tmp_path: Path, signed_model: Path) -> None:  # type: ignore[no-untyped-def]
    policy = tmp_path / "policy.yaml"
    policy.write_text("version: 1\nrequired_checks: [signature]\n")
    unsigned = copy_model(tmp_path, "unsigned")
    code, found = _findings(run_cli, str(unsigned), "--policy", str(policy))
    assert code == 1
    (att,) = [f for f in found if f["rule_id"] == "AS-ATT-001"]
    assert att["severity"] == "medium"
    assert att["detail"] == "model unsigned has no model.sig"
    code, found = _findings(run_cli, str(signed_model), "--policy", str(policy))
    assert code == 0
    assert found == []


@pytest.mark.skipif(not MS.is_dir(), reason="../shared/vectors is not beside the checkout")
def test_model_signing_vectors_match_and_tampering_is_found(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, found = _findings(run_cli, str(MS))
    assert code == 0
    assert found == []
    copy = tmp_path / "cert"
    shutil.copytree(MS / "v1.0.0-certificate", copy)
    (copy / "signme-2").write_bytes(b"tampered")
    code, found = _findings(run_cli, str(copy))
    assert code == 1
    assert [f["detail"] for f in found if f["rule_id"] == "AS-ATT-002"] == [
        "model.sig does not match the files (changed: signme-2)"
    ]


def test_signature_findings_obey_suppressions(run_cli, tmp_path: Path, signed_model: Path) -> None:  # type: ignore[no-untyped-def]
    (signed_model / "config.json").write_text("{}")
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "version: 1\nsuppressions:\n  - rule: AS-ATT-002\n    reason: config regenerated on purpose\n"
        "    owner: ml-platform\n    expires: '2099-01-01'\n"
    )
    code, found = _findings(run_cli, str(signed_model), "--policy", str(policy))
    assert code == 0
    (att,) = [f for f in found if f["rule_id"] == "AS-ATT-002"]
    assert att["suppressed_by"]
    bom = run_cli("bom", str(signed_model), "--policy", str(policy), "--reproducible")
    assert '"name": "artifact-scanner:verdict",\n        "value": "pass"' in bom.out
