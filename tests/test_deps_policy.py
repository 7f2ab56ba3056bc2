"""Policy findings on dependency files (credentials redacted, index options, unpinned, direct references)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scanner.cli import main
from scanner.deps.redaction import redact_dependency_text

SECRETS = ("S3cretPassw0rdXyz", "glpat-abcdefghijklmnopqrst", "TopSecretValue123", "AnotherSecret99")


def test_url_credentials_are_redacted() -> None:
    assert redact_dependency_text("https://user:S3cretPassw0rdXyz@host/simple") == (
        "https://user:[REDACTED url-password: S3cr… (17 chars)]@host/simple"
    )
    assert "abcdefghijklmnopqrstuvwxyz12" not in redact_dependency_text(
        "https://abcdefghijklmnopqrstuvwxyz12@h/x"
    )
    assert redact_dependency_text("git+ssh://git@github.com/x/y.git") == "git+ssh://git@github.com/x/y.git"


def test_no_credential_reaches_any_output(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    req = tmp_path / "requirements.txt"
    req.write_text(
        "--extra-index-url https://user:S3cretPassw0rdXyz@pypi.example.com/simple\n"
        "-e git+https://oauth2:glpat-abcdefghijklmnopqrst@gitlab.com/x.git#egg=x\n"
        "private-pkg @ https://deploy:TopSecretValue123@files.example.com/p-1.0.tar.gz\n"
        "bad @ https://deploy:TopSecretValue123@ files\n"
        "-r https://u:AnotherSecret99@x/r.txt\n"
    )
    for command in ("audit", "scan"):
        capsys.readouterr()
        code = main([command, str(req), "--json", "-"])
        captured = capsys.readouterr()
        assert code == 1
        for secret in SECRETS:
            assert secret not in captured.out and secret not in captured.err
        doc = json.loads(captured.out)
        rules = sorted(f["rule_id"] for f in doc["artifacts"][0]["findings"])
        assert rules.count("AS-DEP-007") == 2 and "AS-DEP-008" in rules and "AS-DEP-004" in rules


def test_index_options(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    req = tmp_path / "requirements.txt"
    req.write_text(
        "--index-url https://proxy.example.com/simple\n"
        "--extra-index-url https://download.pytorch.org/whl/cpu\n"
        "--trusted-host proxy.example.com\n"
        "-f http://mirror.example.com/wheels\n"
        f"torch==2.6.0 --hash=sha256:{'0' * 64}\n"
    )
    capsys.readouterr()
    code = main(["scan", str(req), "--json", "-"])
    doc = json.loads(capsys.readouterr().out)
    found = [(f["rule_id"], f["severity"], f["extra"].get("option")) for f in doc["artifacts"][0]["findings"]]
    assert code == 0  # all low: a benign PyTorch-style requirements file passes a default scan
    assert found == [
        ("AS-DEP-008", "low", "--extra-index-url"),
        ("AS-DEP-008", "low", "--trusted-host"),
        ("AS-DEP-008", "low", "--find-links"),
    ]
