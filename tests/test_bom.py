"""CycloneDX 1.6 ML-BOM: strict schema validation, models and files, model card, libraries, vulnerabilities."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import blake3
import pytest
from cyclonedx.schema import SchemaVersion
from cyclonedx.validation.json import JsonStrictValidator

from tests.attest_helpers import VENDOR_MODEL, copy_model
from tests.conftest import FIXTURES, SHARED

PYPA = SHARED / "vuln-db" / "pypa-advisory-database"


def _bom(run_cli, *args: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    result = run_cli("bom", *args, "--reproducible")
    assert result.code == 0, result.err
    errors = JsonStrictValidator(SchemaVersion.V1_6).validate_str(result.out)
    assert errors is None, errors
    return json.loads(result.out)


def _props(component: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {p["name"]: p["value"] for p in component.get("properties", [])}


def _models(bom: dict) -> list[dict]:  # type: ignore[type-arg]
    return [c for c in bom["components"] if c["type"] == "machine-learning-model"]


def test_vendor_model_bom(run_cli) -> None:  # type: ignore[no-untyped-def]
    bom = _bom(run_cli, str(VENDOR_MODEL))
    assert bom["specVersion"] == "1.6"
    (model,) = _models(bom)
    assert model["name"] == "vendor-model"
    assert model["licenses"] == [{"license": {"id": "Apache-2.0"}}]
    files = {f["name"]: f for f in model["components"]}
    assert sorted(files) == ["README.md", "config.json", "model.safetensors"]
    for name, component in files.items():
        data = (VENDOR_MODEL / name).read_bytes()
        hashes = {h["alg"]: h["content"] for h in component["hashes"]}
        assert hashes == {
            "SHA-256": hashlib.sha256(data).hexdigest(),
            "BLAKE3": blake3.blake3(data).hexdigest(),
        }
    assert _props(files["model.safetensors"])["artifact-scanner:tensor_count"] == "3"
    props = _props(model)
    assert props["artifact-scanner:architecture"] == "TinyForSequenceClassification"
    assert props["artifact-scanner:task"] == "text-classification"
    assert props["artifact-scanner:modelcard:missing"] == "limitations,intended_use"
    card = model["modelCard"]
    assert card["modelParameters"]["datasets"] == [{"type": "dataset", "name": "imdb"}]
    assert card["modelParameters"]["modelArchitecture"] == "TinyForSequenceClassification"
    assert card["modelParameters"]["architectureFamily"] == "tiny"
    assert card["quantitativeAnalysis"]["performanceMetrics"] == [{"type": "accuracy"}]
    libraries = {c["purl"] for c in bom["components"] if c["type"] == "library"}
    # the format's loader, numpy from the header's "format": "np" metadata, transformers from config.json
    assert libraries == {"pkg:pypi/safetensors", "pkg:pypi/numpy", "pkg:pypi/transformers"}
    meta = _props(bom["metadata"])
    assert meta["artifact-scanner:verdict"] == "pass"
    assert meta["artifact-scanner:findings:medium"] == "0"
    deps = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    assert deps[model["bom-ref"]] == ["pkg:pypi/numpy", "pkg:pypi/safetensors", "pkg:pypi/transformers"]


def test_reproducible_bom_is_byte_identical_and_serial_follows_content(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = copy_model(tmp_path)
    first = run_cli("bom", str(model), "--reproducible").out
    second = run_cli("bom", str(model), "--reproducible").out
    assert first == second
    (model / "config.json").write_text('{"architectures": ["OtherForCausalLM"]}')
    third = json.loads(run_cli("bom", str(model), "--reproducible").out)
    assert third["serialNumber"] != json.loads(first)["serialNumber"]
    assert json.loads(first)["metadata"]["timestamp"] == "1970-01-01T00:00:00+00:00"
    assert _props(_models(third)[0])["artifact-scanner:task"] == "text-generation"


def test_standalone_onnx_model_with_recorded_framework(run_cli) -> None:  # type: ignore[no-untyped-def]
    onnx = FIXTURES / "formats_b" / "onnx" / "benign_torch.onnx"
    bom = _bom(run_cli, str(onnx))
    (model,) = _models(bom)
    assert model["name"] == "benign_torch.onnx"
    props = _props(model)
    assert props["artifact-scanner:tensor_count"] == "4"
    assert props["artifact-scanner:parameter_count"] == "212"
    assert props["artifact-scanner:dtypes"] == "float32"
    assert props["artifact-scanner:framework"] == "onnx"
    assert props["artifact-scanner:modelcard:missing"] == "license,datasets,metrics,limitations,intended_use"
    (file_component,) = model["components"]
    assert json.loads(_props(file_component)["artifact-scanner:shapes"])["0.weight"] == [16, 8]
    libraries = {c["purl"] for c in bom["components"] if c["type"] == "library"}
    assert libraries == {"pkg:pypi/torch@2.13.0", "pkg:pypi/onnx"}


def test_model_card_sections_and_metric_values(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = copy_model(tmp_path)
    (model / "README.md").write_text(
        "---\nlicense: mit\npipeline_tag: text-classification\ndatasets: [imdb, sst2]\n"
        "model-index:\n- name: tiny\n  results:\n  - metrics:\n    - type: f1\n      value: 0.91\n---\n"
        "# Tiny\n\n## Intended uses\nSentiment of short English reviews.\n\n"
        "## Bias, Risks, and Limitations\nNot for medical text.\n"
    )
    (model / "requirements.txt").write_text("torch==2.13.0\nnumpy\n")
    bom = _bom(run_cli, str(model))
    (component,) = _models(bom)
    card = component["modelCard"]
    assert card["considerations"] == {
        "useCases": ["Sentiment of short English reviews."],
        "technicalLimitations": ["Not for medical text."],
    }
    assert card["quantitativeAnalysis"]["performanceMetrics"] == [{"type": "f1", "value": "0.91"}]
    assert [d["name"] for d in card["modelParameters"]["datasets"]] == ["imdb", "sst2"]
    assert "properties" not in card
    assert _props(component)["artifact-scanner:modelcard:missing"] == ""
    assert component["licenses"] == [{"license": {"id": "MIT"}}]
    deps = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    assert set(deps[component["bom-ref"]]) == {
        "pkg:pypi/torch@2.13.0",
        "pkg:pypi/numpy",
        "pkg:pypi/safetensors",
        "pkg:pypi/transformers",
    }


@pytest.mark.skipif(not PYPA.is_dir(), reason="../shared/vuln-db is not beside the checkout")
def test_vulnerable_dependency_points_at_its_library(
    run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))  # the index built from PYPA goes here
    model = tmp_path / "model"
    shutil.copytree(FIXTURES / "deps" / "model", model)
    shutil.copy(VENDOR_MODEL / "model.safetensors", model / "model.safetensors")
    shutil.copy(FIXTURES / "deps" / "scored" / "requirements.txt", model / "requirements-scored.txt")
    bom = _bom(run_cli, str(model), "--vuln-db", str(PYPA))
    vulns = {v["id"]: v for v in bom["vulnerabilities"]}
    scored = vulns["PYSEC-2023-221"]["ratings"][0]
    assert scored["score"] == 7.5 and scored["severity"] == "high"
    assert scored["method"] in ("CVSSv3", "CVSSv31") and scored["vector"]
    torch = vulns["CVE-2025-32434"]
    assert torch["affects"] == [
        {
            "ref": "pkg:pypi/torch@2.5.1",
            "versions": [
                {"status": "affected", "version": "2.5.1"},
                {"status": "unaffected", "version": "2.6.0"},
            ],
        }
    ]
    assert torch["ratings"][0]["severity"] == "critical"
    assert torch["recommendation"] == "Upgrade torch to 2.6.0"
    (component,) = _models(bom)
    deps = {d["ref"]: d.get("dependsOn", []) for d in bom["dependencies"]}
    assert "pkg:pypi/torch@2.5.1" in deps[component["bom-ref"]]
    assert _props(bom["metadata"])["artifact-scanner:verdict"] == "fail"


def test_scan_bom_flag_writes_the_same_bom(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "bom.cdx.json"
    result = run_cli("scan", str(VENDOR_MODEL), "--bom", str(out), "--reproducible")
    assert result.code == 0
    assert out.read_text() == run_cli("bom", str(VENDOR_MODEL), "--reproducible").out


def test_files_outside_models_and_secrets_redacted(run_cli) -> None:  # type: ignore[no-untyped-def]
    leaky = FIXTURES / "demo" / "leaky-model"
    result = run_cli("bom", str(leaky), "--reproducible")
    bom = json.loads(result.out)
    (model,) = _models(bom)
    assert [f["name"] for f in model["components"]] == ["deploy.env", "model.safetensors"]
    assert _props(model)["artifact-scanner:worst_severity"] == "high"
    secret = (leaky / "deploy.env").read_text().split("=", 1)[1].strip()
    assert secret not in result.out


def test_secret_in_model_card_is_redacted(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = copy_model(tmp_path)
    secret = "hf_" + "aB3dE5gH7jK9mN1pQ3sT5vW7yZ9bC1dF2h"
    (model / "README.md").write_text(f"---\nlicense: mit\n---\n## Limitations\nUse token {secret} to test.\n")
    bom = run_cli("bom", str(model), "--reproducible").out
    assert secret not in bom
    (component,) = _models(json.loads(bom))
    (limitation,) = component["modelCard"]["considerations"]["technicalLimitations"]
    assert limitation.startswith("Use token ") and "hf_" in limitation


def test_every_format_fixture_gives_a_valid_bom(run_cli) -> None:  # type: ignore[no-untyped-def]
    """Hostile and benign fixtures of every analyzer: the BOM stays valid and groups models by directory."""
    bom = _bom(run_cli, str(FIXTURES / "formats_b"))
    models = {m["bom-ref"]: m for m in _models(bom)}
    assert set(models) == {
        "model:0:gguf",
        "model:0:keras",
        "model:0:onnx",
        "model:0:onnx/ext_ok",
        "model:0:onnx/ext_real",
        "model:0:savedmodel",
        "model:0:savedmodel/benign",
        "model:0:savedmodel/evil",
    }
    gguf = _props(models["model:0:gguf"])
    assert gguf["artifact-scanner:chat_template"] == "true"
    assert gguf["artifact-scanner:worst_severity"] == "critical"
    assert [f["name"] for f in models["model:0:onnx/ext_ok"]["components"]] == [
        "onnx/ext_ok/model.onnx",
        "onnx/ext_ok/weights.bin",
    ]
    loose = {c["name"] for c in bom["components"] if c["type"] == "file"}
    assert "templates/evil/chat_template.jinja" in loose


def test_front_matter_limitations_and_intended_use(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = copy_model(tmp_path)
    (model / "README.md").write_text(
        "---\nlicense: apache-2.0\nlimitations: English only\nintended_use: [spam filtering]\n---\n# Card\n"
    )
    (component,) = _models(_bom(run_cli, str(model)))
    assert component["modelCard"]["considerations"] == {
        "useCases": ["spam filtering"],
        "technicalLimitations": ["English only"],
    }
    assert _props(component)["artifact-scanner:modelcard:missing"] == "datasets,metrics"


def test_task_recorded_by_the_config_analyzer(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = tmp_path / "bert"
    model.mkdir()
    shutil.copy(FIXTURES / "deps" / "model" / "config.json", model / "config.json")  # BertModel
    shutil.copy(VENDOR_MODEL / "model.safetensors", model / "model.safetensors")
    (component,) = _models(_bom(run_cli, str(model)))
    assert component["modelCard"]["modelParameters"]["task"] == "feature-extraction"
    assert _props(component)["artifact-scanner:task"] == "feature-extraction"
    assert "pkg:pypi/transformers@4.30.0" in {
        c["purl"] for c in _bom(run_cli, str(model))["components"] if c["type"] == "library"
    }


def test_hugging_face_cache_snapshot_is_one_model(run_cli) -> None:  # type: ignore[no-untyped-def]
    """A hub cache lists each file twice (snapshots/REV/name -> ../../blobs/HASH): the BOM names the
    repository and revision, and does not list the blobs again."""
    cache = FIXTURES / "hf" / "hub-cache"
    bom = _bom(run_cli, str(cache))
    (model,) = _models(bom)
    assert model["name"] == "acme/tiny-remote"
    assert model["version"] == "4f2c1f0a9d8e7b6c5a4f3e2d1c0b9a8f7e6d5c4b"
    names = sorted(f["name"].rsplit("/", 1)[1] for f in model["components"])
    assert names == sorted(
        [
            "config.json",
            "configuration_tiny.py",
            "helpers.py",
            "model.safetensors",
            "modeling_tiny.py",
            "tokenizer_config.json",
        ]
    )
    everything = json.dumps(bom)
    assert "/blobs/" not in everything
