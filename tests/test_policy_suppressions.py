"""Policy suppressions (digest pins, expiry, unused), the baseline, and policy validation (exit 2)."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT
from tests.test_report_json_sarif import validate_json, validate_sarif

LEAKY = FIXTURES / "foundation" / "leaky.safetensors"
TINY = FIXTURES / "foundation" / "tiny.safetensors"
LEAKY_SHA = hashlib.sha256(LEAKY.read_bytes()).hexdigest()
TINY_SHA = hashlib.sha256(TINY.read_bytes()).hexdigest()


def write_policy(tmp_path: Path, body: str) -> str:
    path = tmp_path / "policy.yaml"
    path.write_text(body)
    return str(path)


def suppression(**fields: str) -> str:
    entry = {"rule": "AS-SEC-001", "reason": "test token, revoked", "owner": "ml-platform", **fields}
    lines = [f"  - {k}: {json.dumps(v)}" if i == 0 else f"    {k}: {json.dumps(v)}" for i, (k, v) in enumerate(entry.items())]
    return "suppressions:\n" + "\n".join(lines) + "\n"


def policy_result(doc: dict) -> dict:  # type: ignore[type-arg]
    (res,) = [a for a in doc["artifacts"] if a["format"] == "policy"]
    return res


def test_digest_pinned_suppression_applies_to_that_content(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    policy = write_policy(tmp_path, suppression(sha256=LEAKY_SHA, path="*.safetensors"))
    sarif = tmp_path / "r.sarif"
    r = run_cli("scan", str(LEAKY), "--policy", policy, "--json", "-", "--sarif", str(sarif))
    assert r.code == 0
    doc = r.json()
    validate_json(doc)
    (f,) = doc["artifacts"][0]["findings"]
    assert f["rule_id"] == "AS-SEC-001" and f["suppressed_by"] == "test token, revoked"
    assert f["extra"]["suppression"] == {"kind": "policy", "policy": policy, "index": 1, "owner": "ml-platform"}
    assert doc["summary"]["findings"]["high"] == 0 and doc["summary"]["suppressed"] == 1
    assert doc["verdict"] == "pass" and len(doc["artifacts"]) == 1  # no policy notes: it was used
    log = json.loads(sarif.read_text())
    validate_sarif(log)
    (result,) = log["runs"][0]["results"]
    assert result["suppressions"] == [
        {"kind": "external", "status": "accepted", "justification": "test token, revoked"}
    ]


def test_digest_pin_of_other_content_does_not_apply(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    policy = write_policy(tmp_path, suppression(sha256=TINY_SHA))
    r = run_cli("scan", str(LEAKY), "--policy", policy, "--json", "-")
    assert r.code == 1
    doc = r.json()
    validate_json(doc)
    assert doc["artifacts"][0]["findings"][0].get("suppressed_by") is None
    (note,) = policy_result(doc)["findings"]
    assert note["rule_id"] == "AS-POL-002" and note["severity"] == "info"
    assert "sha256 pin matches no scanned file" in note["detail"]
    assert f"sha256={TINY_SHA}" in note["evidence"]


def test_expired_suppression_stops_applying_and_is_medium(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    policy = write_policy(tmp_path, suppression(expires="2020-01-31"))
    r = run_cli("scan", str(LEAKY), "--policy", policy, "--json", "-")
    assert r.code == 1
    doc = r.json()
    validate_json(doc)
    assert doc["artifacts"][0]["findings"][0].get("suppressed_by") is None
    (note,) = policy_result(doc)["findings"]
    assert note["rule_id"] == "AS-POL-001" and note["severity"] == "medium"
    assert "expired on 2020-01-31" in note["detail"] and "1 finding(s)" in note["detail"]
    assert doc["summary"]["findings"] == {"critical": 0, "high": 1, "medium": 1, "low": 0, "info": 0}


def test_expiry_is_judged_on_source_date_epoch(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    policy = write_policy(tmp_path, suppression(expires="2030-06-30"))
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1908000000")  # 2030-06-19: still valid
    assert run_cli("scan", str(LEAKY), "--policy", policy).code == 0
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1909100000")  # 2030-07-01: expired
    r = run_cli("scan", str(LEAKY), "--policy", policy, "--json", "-")
    assert r.code == 1
    assert policy_result(r.json())["findings"][0]["rule_id"] == "AS-POL-001"


def test_unused_suppression_is_info_and_can_be_overridden(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    policy = write_policy(tmp_path, suppression(path="other/*.bin"))
    r = run_cli("scan", str(TINY), "--policy", policy, "--json", "-")
    assert r.code == 0
    (note,) = policy_result(r.json())["findings"]
    assert note["rule_id"] == "AS-POL-002" and note["severity"] == "info"
    assert note["detail"] == "suppression #1 for AS-SEC-001 (owner ml-platform) matched no finding"
    body = suppression(path="other/*.bin") + "overrides:\n  AS-POL-002: {severity: high}\n"
    r = run_cli("scan", str(TINY), "--policy", write_policy(tmp_path, body), "--json", "-")
    assert r.code == 1 and policy_result(r.json())["findings"][0]["severity"] == "high"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("suppressions:\n  - {rule: AS-SEC-001, owner: me}\n", "suppressions[1]: 'reason' is required"),
        ("suppressions:\n  - {rule: AS-SEC-001, reason: ok}\n", "suppressions[1]: 'owner' is required"),
        ("suppressions:\n  - {rule: AS-SEC-001, reason: ok, owner: me, expire: 2030-01-01}\n", "unknown key(s) ['expire']"),
        ("suppressions:\n  - {rule: AS-SEC-001, reason: ok, owner: me, expires: soon}\n", "suppressions[1].expires"),
        ("suppressions:\n  - {rule: AS-SEC-999, reason: ok, owner: me}\n", "no rule AS-SEC-999"),
        ("suppressions:\n  - {rule: AS-SEC-001, reason: ok, owner: me, sha256: abc}\n", "64 hex digits"),
        ("suppressions:\n  - {rule: AS-SEC-001, reason: '  ', owner: me}\n", "reason: must be a non-empty string"),
        ("suppressions: {rule: AS-SEC-001}\n", "suppressions: must be a list"),
        ("required_checks: [signatur]\n", "required_checks: unknown check(s) ['signatur']; known: ['signature']"),
        ("rules:\n  - {id: AS-POL-001, severity: low, title: t, rationale: r, fix: f}\n", "differs from the shipped definition"),
    ],
)
def test_malformed_policy_is_exit_2(run_cli, tmp_path: Path, body: str, message: str) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("scan", str(TINY), "--policy", write_policy(tmp_path, body))
    assert r.code == 2
    assert "policy error" in r.err and message in r.err


def test_a_copy_of_the_shipped_policy_is_valid(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    copy = tmp_path / "mine.yaml"
    shutil.copy(ROOT / "rules" / "policy.yaml", copy)
    assert run_cli("scan", str(TINY), "--policy", str(copy)).code == 0
    assert run_cli("scan", str(LEAKY), "--policy", str(copy)).code == 1


def test_baseline_reports_only_new_findings(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = tmp_path / "model"
    shutil.copytree(FIXTURES / "demo" / "leaky-model", model)
    base = tmp_path / "base.json"
    assert run_cli("scan", str(model), "--json", str(base)).code == 1
    # Same findings, even from another checkout location: nothing new, pass.
    other = tmp_path / "elsewhere" / "model"
    shutil.copytree(model, other)
    r = run_cli("scan", str(other), "--baseline", str(base), "--json", "-")
    assert r.code == 0
    doc = r.json()
    validate_json(doc)
    assert doc["extras"]["baseline"] == {"file": "base.json", "known": 1, "new": 0, "absent": 0}
    (known,) = [f for a in doc["artifacts"] for f in a["findings"]]
    assert known["suppressed_by"] == "present in baseline base.json"
    assert "verdict: PASS" in r.err and "1 suppressed" in r.err
    # A new leaked credential in another file is reported; the known one stays silenced.
    shutil.copy(LEAKY, model / "weights2.safetensors")
    sarif = tmp_path / "r.sarif"
    r = run_cli("scan", str(model), "--baseline", str(base), "--json", "-", "--sarif", str(sarif))
    assert r.code == 1
    doc = r.json()
    assert doc["extras"]["baseline"] == {"file": "base.json", "known": 1, "new": 1, "absent": 0}
    active = [(a["relpath"], f["rule_id"]) for a in doc["artifacts"] for f in a["findings"] if "suppressed_by" not in f]
    assert active == [("weights2.safetensors", "AS-SEC-001")]
    log = json.loads(sarif.read_text())
    validate_sarif(log)
    states = sorted(
        (r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].rsplit("/", 1)[1], r["baselineState"])
        for r in log["runs"][0]["results"]
    )
    assert states == [("deploy.env", "unchanged"), ("weights2.safetensors", "new")]
    # The baseline's own matched findings carry over to the next baseline; a fixed one is "absent".
    base2 = tmp_path / "base2.json"
    run_cli("scan", str(model), "--baseline", str(base), "--json", str(base2))
    (model / "deploy.env").unlink()
    r = run_cli("scan", str(model), "--baseline", str(base2), "--json", "-")
    assert r.code == 0 and r.json()["extras"]["baseline"] == {"file": "base2.json", "known": 1, "new": 0, "absent": 1}


@pytest.mark.parametrize(
    ("content", "message"),
    [("{not json", "not JSON"), ('{"schema_version": 2, "artifacts": []}', "schema_version 1"), (None, "cannot read")],
)
def test_bad_baseline_is_exit_2(run_cli, tmp_path: Path, content: str | None, message: str) -> None:  # type: ignore[no-untyped-def]
    base = tmp_path / "base.json"
    if content is not None:
        base.write_text(content)
    r = run_cli("scan", str(TINY), "--baseline", str(base))
    assert r.code == 2 and "baseline error" in r.err and message in r.err


def test_fingerprint_suppression_silences_one_finding_only(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "m"
    d.mkdir()
    shutil.copy(LEAKY, d / "a.safetensors")
    shutil.copy(LEAKY, d / "b.safetensors")
    first = run_cli("scan", str(d), "--json", "-").json()
    fp = {a["relpath"]: a["findings"][0]["fingerprint"] for a in first["artifacts"]}
    assert fp["a.safetensors"] != fp["b.safetensors"]
    policy = write_policy(tmp_path, suppression(fingerprint=fp["b.safetensors"], member="*"))
    r = run_cli("scan", str(d), "--policy", policy, "--json", "-")
    assert r.code == 1
    state = {a["relpath"]: a["findings"][0].get("suppressed_by") for a in r.json()["artifacts"]}
    assert state == {"a.safetensors": None, "b.safetensors": "test token, revoked"}


def test_findings_of_later_scan_steps_are_suppressible(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Suppressions apply after every step that adds findings (here the model-signature step)."""
    model = tmp_path / "model"
    shutil.copytree(FIXTURES / "demo" / "vendor-model", model)
    required = "required_checks: [signature]\n"
    r = run_cli("scan", str(model), "--policy", write_policy(tmp_path, required), "--json", "-")
    assert r.code == 1
    unsigned = [f for a in r.json()["artifacts"] for f in a["findings"] if f["rule_id"] == "AS-ATT-001"]
    assert len(unsigned) == 1 and "suppressed_by" not in unsigned[0]
    body = required + (
        "suppressions:\n  - {rule: AS-ATT-001, reason: signed at publication, owner: release-team}\n"
    )
    r = run_cli("scan", str(model), "--policy", write_policy(tmp_path, body), "--json", "-")
    assert r.code == 0
    (silenced,) = [f for a in r.json()["artifacts"] for f in a["findings"] if f["rule_id"] == "AS-ATT-001"]
    assert silenced["suppressed_by"] == "signed at publication"
    assert not [a for a in r.json()["artifacts"] if a["format"] == "policy"]  # used, so no AS-POL-002
