"""JSON (schema v1) and SARIF 2.1.0 outputs on real fixtures: schema validity, mapping, fingerprints,
byte-identical reproducible output."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from scanner.fingerprint import normalise_evidence
from scanner.report.json_report import result_schema
from scanner.report.sarif import artifact_uri
from scanner.rulebook import all_rules
from tests.conftest import FIXTURES, SHARED

LEAKY = FIXTURES / "foundation" / "leaky.safetensors"
SARIF_SCHEMA = SHARED / "schemas" / "sarif-schema-2.1.0.json"
MIXED = [
    FIXTURES / "foundation",
    FIXTURES / "demo",
    FIXTURES / "formats_b",
    FIXTURES / "deps" / "model",
    FIXTURES / "deps" / "vulnerable",
    FIXTURES / "pickle",
    FIXTURES / "archives",
    FIXTURES / "hf",
    FIXTURES / "safetensors",
    FIXTURES / "secrets",
]


def validate_json(doc: dict[str, Any]) -> None:
    jsonschema.Draft202012Validator(
        result_schema(), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    ).validate(doc)


def validate_sarif(doc: dict[str, Any]) -> None:
    schema = json.loads(SARIF_SCHEMA.read_text())
    cls = jsonschema.validators.validator_for(schema)
    errors = list(cls(schema, format_checker=cls.FORMAT_CHECKER).iter_errors(doc))
    assert not errors, [f"{list(e.path)}: {e.message[:200]}" for e in errors[:5]]


@pytest.fixture(scope="module")
def mixed_outputs(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any], int]:
    from scanner.cli import main

    out = tmp_path_factory.mktemp("out")
    code = main(
        [
            "scan",
            *map(str, MIXED),
            "--reproducible",
            "--jobs",
            "1",
            "--json",
            str(out / "r.json"),
            "--sarif",
            str(out / "r.sarif"),
        ]
    )
    return json.loads((out / "r.json").read_text()), json.loads((out / "r.sarif").read_text()), code


def test_json_validates_and_has_fingerprints(mixed_outputs) -> None:  # type: ignore[no-untyped-def]
    doc, _, code = mixed_outputs
    assert code == 1
    validate_json(doc)
    paths = [a["path"] for a in doc["artifacts"]]
    assert len(paths) == len(set(paths)) and len(paths) > 30
    leaky = next(a for a in doc["artifacts"] if a["relpath"] == "leaky.safetensors")
    (f,) = leaky["findings"]
    assert f["rule_id"] == "AS-SEC-001" and f["severity"] == "high"
    assert len(f["fingerprint"]) == 32
    assert "hf_" in f["evidence"] and "REDACTED" in f["evidence"]
    assert doc["summary"]["suppressed"] == 0
    total = sum(doc["summary"]["findings"].values())
    assert total == sum(len(a["findings"]) for a in doc["artifacts"])


def test_json_schema_rejects_a_broken_result(mixed_outputs) -> None:  # type: ignore[no-untyped-def]
    doc = json.loads(json.dumps(mixed_outputs[0]))
    doc["artifacts"][0]["findings"].append({"rule_id": "AS-SEC-001", "severity": "urgent"})
    with pytest.raises(jsonschema.ValidationError):
        validate_json(doc)


def test_sarif_validates_against_the_official_schema(mixed_outputs) -> None:  # type: ignore[no-untyped-def]
    doc, sarif, _ = mixed_outputs
    validate_sarif(sarif)
    assert sarif["version"] == "2.1.0"
    (run,) = sarif["runs"]
    rules = run["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == sorted(all_rules())
    sec = next(r for r in rules if r["id"] == "AS-SEC-001")
    assert sec["defaultConfiguration"]["level"] == "error"
    assert sec["properties"]["security-severity"] == "8.0"
    assert all_rules()["AS-SEC-001"].fix in sec["help"]["text"]
    assert sec["helpUri"] == "https://cwe.mitre.org/data/definitions/798.html"
    # one result per finding, in the JSON's order, with the same fingerprints
    json_pairs = [
        (artifact_uri(a["path"]), f["rule_id"], f["fingerprint"]) for a in doc["artifacts"] for f in a["findings"]
    ]
    sarif_pairs = [
        (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["ruleId"],
            r["partialFingerprints"]["artifactScanner/v1"],
        )
        for r in run["results"]
    ]
    assert sarif_pairs == json_pairs
    leaky = next(r for r in run["results"] if r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"].endswith("leaky.safetensors"))
    assert leaky["level"] == "error" and leaky["properties"]["offset"] == 8
    assert rules[leaky["ruleIndex"]]["id"] == "AS-SEC-001"
    medium = [r for r in run["results"] if r["properties"]["severity"] == "medium"]
    assert medium and all(r["level"] == "warning" for r in medium)
    # artifacts carry their digests
    art = run["artifacts"][leaky["locations"][0]["physicalLocation"]["artifactLocation"]["index"]]
    assert art["hashes"]["sha-256"] == next(
        a["digests"]["sha256"] for a in doc["artifacts"] if a["relpath"] == "leaky.safetensors"
    )


def test_reproducible_outputs_are_byte_identical_and_carry_no_tmp_path(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    model = tmp_path / "model"
    shutil.copytree(FIXTURES / "demo" / "leaky-model", model)
    monkeypatch.chdir(tmp_path)
    outputs = []
    for run in range(2):
        r = run_cli(
            "scan", "model", "--reproducible", "--json", f"r{run}.json", "--sarif", f"r{run}.sarif", "--html", f"r{run}.html"
        )
        assert r.code == 1
        outputs.append(tuple((tmp_path / f"r{run}.{ext}").read_bytes() for ext in ("json", "sarif", "html")))
    assert outputs[0] == outputs[1]
    for blob in outputs[0]:
        assert str(tmp_path).encode() not in blob
        assert b"1970-01-01T00:00:00Z" in blob
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    r = run_cli("scan", "model", "--json", "-")
    assert r.json()["generated_at"] == "2023-11-14T22:13:20Z"


def test_fingerprint_ignores_root_and_number_noise(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        shutil.copy(LEAKY, tmp_path / name / "leaky.safetensors")
    fps = [
        run_cli("scan", str(tmp_path / name), "--json", "-").json()["artifacts"][0]["findings"][0]["fingerprint"]
        for name in ("a", "b")
    ]
    assert fps[0] == fps[1]
    # renamed file: a different finding identity
    (tmp_path / "a" / "leaky.safetensors").rename(tmp_path / "a" / "other.safetensors")
    moved = run_cli("scan", str(tmp_path / "a"), "--json", "-").json()["artifacts"][0]["findings"][0]
    assert moved["fingerprint"] != fps[0]
    assert normalise_evidence("  at 0x1f,\n offset 123 ") == "at #, offset #"


def test_sarif_uri_of_a_hostile_name_is_encoded(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "drop"
    d.mkdir()
    shutil.copy(LEAKY, d / 'we ird#"<x>.safetensors')
    out = tmp_path / "r.sarif"
    assert run_cli("scan", str(d), "--sarif", str(out)).code == 1
    sarif = json.loads(out.read_text())
    validate_sarif(sarif)
    uri = sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
    assert uri.startswith("file:///") and uri.endswith("/drop/we%20ird%23%22%3Cx%3E.safetensors")


def test_undecodable_and_control_characters_in_names(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "drop"
    d.mkdir()
    raw = os.path.join(os.fsencode(d), b"bad\xff\x1b[31mred\xe2\x80\xaeslm.safetensors")
    shutil.copy(LEAKY, raw)
    out = {ext: tmp_path / f"r.{ext}" for ext in ("json", "sarif", "html")}
    r = run_cli("scan", str(d), *(x for ext, p in out.items() for x in (f"--{ext}", str(p))))
    assert r.code == 1
    # the terminal never receives a raw escape or bidi override from a file name
    assert "\x1b" not in r.out and "\u202e" not in r.out
    assert "bad\\xff\\x1b[31mred\\u202eslm.safetensors" in r.out
    doc = json.loads(out["json"].read_text(encoding="utf-8"))
    validate_json(doc)
    assert doc["artifacts"][0]["relpath"] == "bad\\xff\x1b[31mred\u202eslm.safetensors"
    sarif = json.loads(out["sarif"].read_text(encoding="utf-8"))
    validate_sarif(sarif)
    uri = sarif["runs"][0]["artifacts"][0]["location"]["uri"]
    assert uri.endswith("/drop/bad%FF%1B%5B31mred%E2%80%AEslm.safetensors")
    html_text = out["html"].read_text(encoding="utf-8")
    assert "bad\\xff\\x1b[31mred\\u202eslm.safetensors" in html_text and "\x1b" not in html_text


def test_sarif_to_stdout_and_one_stdout_output_only(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("scan", str(LEAKY), "--sarif", "-")
    assert r.code == 1
    validate_sarif(json.loads(r.out))
    assert "verdict: FAIL" in r.err
    r = run_cli("scan", str(LEAKY), "--sarif", "-", "--json", "-")
    assert r.code == 2 and "only one of --json, --sarif, --html, --bom may be '-'" in r.err and r.out == ""


def test_unwritable_output_is_exit_2(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    for flag in ("--html", "--sarif", "--json"):
        r = run_cli("scan", str(LEAKY), flag, str(tmp_path))  # a directory
        assert r.code == 2 and f"cannot write {tmp_path}" in r.err


def test_no_output_carries_a_secret(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Every renderer's output, searched with the scanner's own patterns, holds redacted forms only."""
    from scanner.secret_scan import find_secrets

    out = {ext: tmp_path / f"r.{ext}" for ext in ("json", "sarif", "html")}
    roots = [FIXTURES / "secrets", FIXTURES / "demo", FIXTURES / "foundation", FIXTURES / "formats_b" / "onnx"]
    r = run_cli("scan", *map(str, roots), *(x for ext, p in out.items() for x in (f"--{ext}", str(p))))
    assert r.code == 1
    doc = json.loads(out["json"].read_text())
    redacted = [f for a in doc["artifacts"] for f in a["findings"] if "REDACTED" in (f["evidence"] or "")]
    assert len(redacted) >= 10
    for name, text in [("terminal", r.out), *((ext, p.read_text()) for ext, p in out.items())]:
        leaks = [text[m.start : m.end][:8] for m in find_secrets(text)]
        assert leaks == [], name
