"""Hostile or odd inputs to sign and verify: symlinks, FIFOs, garbage bundles, inconsistent signatures;
and the model_signing command line accepting our signature."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.attest_helpers import copy_model


@pytest.fixture
def keypair(run_cli, tmp_path: Path) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    assert run_cli("keygen", "--output", str(tmp_path / "k")).code == 0
    return tmp_path / "k.key", tmp_path / "k.pub"


def test_model_signing_cli_verifies_our_signature(run_cli, tmp_path: Path, keypair) -> None:  # type: ignore[no-untyped-def]
    cli = Path(sys.executable).with_name("model_signing")
    if not cli.exists():
        pytest.skip("model_signing CLI not installed next to this interpreter")
    model = copy_model(tmp_path)
    sig = tmp_path / "model.sig"
    assert run_cli("sign", str(model), "--key", str(keypair[0]), "--output", str(sig)).code == 0
    ok = subprocess.run(
        [str(cli), "verify", "key", str(model), "--signature", str(sig), "--public_key", str(keypair[1])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "Verification succeeded" in ok.stdout
    (model / "README.md").write_text("changed")
    bad = subprocess.run(
        [str(cli), "verify", "key", str(model), "--signature", str(sig), "--public_key", str(keypair[1])],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode != 0
    assert "README.md" in bad.stdout + bad.stderr


def test_symlink_is_refused_unless_allowed(run_cli, tmp_path: Path, keypair) -> None:  # type: ignore[no-untyped-def]
    model = copy_model(tmp_path)
    os.symlink("config.json", model / "alias.json")
    refused = run_cli("sign", str(model), "--key", str(keypair[0]), "--output", str(tmp_path / "a.sig"))
    assert refused.code == 3
    assert "alias.json is a symlink" in refused.err
    sig = tmp_path / "b.sig"
    allowed = run_cli("sign", str(model), "--key", str(keypair[0]), "--output", str(sig), "--allow-symlinks")
    assert allowed.code == 0
    statement = json.loads(base64.b64decode(json.loads(sig.read_text())["dsseEnvelope"]["payload"]))
    assert statement["predicate"]["serialization"]["allow_symlinks"] is True
    assert "alias.json" in [r["name"] for r in statement["predicate"]["resources"]]
    assert run_cli("verify", str(model), "--bundle", str(sig), "--key", str(keypair[1])).code == 0


def test_fifo_in_model_is_refused_without_hanging(run_cli, tmp_path: Path, keypair) -> None:  # type: ignore[no-untyped-def]
    model = copy_model(tmp_path)
    sig = tmp_path / "m.sig"
    assert run_cli("sign", str(model), "--key", str(keypair[0]), "--output", str(sig)).code == 0
    os.mkfifo(model / "pipe")
    signed = run_cli("sign", str(model), "--key", str(keypair[0]), "--output", str(tmp_path / "x.sig"))
    assert signed.code == 3
    assert "pipe is not a regular file" in signed.err
    verified = run_cli("verify", str(model), "--bundle", str(sig), "--key", str(keypair[1]))
    assert verified.code == 1
    assert "cannot read the files: pipe is not a regular file" in verified.err


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty bundle file"),
        ("[1, 2]", "not a JSON object"),
        ('{"mediaType": "x"}', "not a Sigstore bundle"),
        ("\x00\xff garbage", "not valid JSON"),
    ],
)
def test_garbage_bundles_fail_with_a_reason(
    run_cli, tmp_path: Path, keypair, content: str, message: str
) -> None:  # type: ignore[no-untyped-def]
    model = copy_model(tmp_path)
    bundle = tmp_path / "b.json"
    bundle.write_text(content)
    result = run_cli("verify", str(model), "--bundle", str(bundle), "--key", str(keypair[1]))
    assert result.code == 1
    assert message in result.err


def test_resources_not_matching_the_subject_are_rejected(run_cli, tmp_path: Path, keypair) -> None:  # type: ignore[no-untyped-def]
    """A signer that lists resources inconsistent with the signed subject digest is refused, even when
    the signature itself is valid."""
    from scanner.attest import oms
    from scanner.attest.signers import KeySigner

    model = copy_model(tmp_path)
    manifest = oms.compute_manifest(model, oms.Serialization())
    statement = oms.statement(manifest)
    statement["predicate"]["resources"][0]["digest"] = "00" * 32
    sig = tmp_path / "m.sig"
    sig.write_text(KeySigner(keypair[0]).sign_statement(json.dumps(statement).encode()))
    result = run_cli("verify", str(model), "--bundle", str(sig), "--key", str(keypair[1]))
    assert result.code == 1
    assert "do not hash to the subject digest" in result.err


def test_bundle_inside_the_model_is_not_an_extra_file(run_cli, tmp_path: Path, keypair) -> None:  # type: ignore[no-untyped-def]
    model = copy_model(tmp_path)
    out = model / "model.intoto.jsonl"
    assert run_cli("scan", str(model), "--attest", str(out), "--key", str(keypair[0])).code == 0
    ok = run_cli("verify", str(model), "--bundle", str(out), "--key", str(keypair[1]))
    assert ok.code == 0, ok.err
    shutil.copy(out, model / "copy.jsonl")
    extra = run_cli("verify", str(model), "--bundle", str(out), "--key", str(keypair[1]))
    assert extra.code == 1
    assert "extra (unsigned): copy.jsonl" in extra.err


def test_deeply_nested_bundle_and_card_do_not_crash(run_cli, tmp_path: Path, keypair) -> None:  # type: ignore[no-untyped-def]
    model = copy_model(tmp_path)
    bundle = tmp_path / "deep.json"
    bundle.write_text("[" * 200_000 + "]" * 200_000)
    result = run_cli("verify", str(model), "--bundle", str(bundle), "--key", str(keypair[1]))
    assert result.code == 1
    assert "bundle" in result.err
    (model / "README.md").write_text("---\nlicense: " + "[" * 50_000 + "]" * 50_000 + "\n---\n")
    (model / "config.json").write_text("[" * 200_000 + "]" * 200_000)
    bom = run_cli("bom", str(model), "--reproducible")
    assert bom.code == 0, bom.err
    assert '"value": "license,datasets,metrics,limitations,intended_use"' in bom.out


@pytest.mark.parametrize(
    "statement",
    [
        {"_type": "https://in-toto.io/Statement/v1", "subject": "x", "predicateType": "p", "predicate": {}},
        {"_type": "https://in-toto.io/Statement/v1", "subject": [1, 2], "predicateType": "p"},
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "a", "digest": "abc"}],
            "predicateType": "p",
        },
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "m", "digest": {"sha256": "00"}}],
            "predicateType": "https://model_signing/signature/v1.0",
            "predicate": {"serialization": [], "resources": 5},
        },
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "m", "digest": []}],
            "predicateType": "https://model_signing/signature/v1.0",
            "predicate": {"serialization": {"method": "files", "hash_type": "sha256"}, "resources": 5},
        },
        {
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "m", "digest": []}],
            "predicateType": "https://model_signing/Digests/v0.1",
        },
    ],
    ids=[
        "subject-string",
        "subject-ints",
        "digest-string",
        "serialization-list",
        "resources-int",
        "compat-bad",
    ],
)
def test_hostile_statement_shapes_fail_without_crashing(
    run_cli, tmp_path: Path, keypair, statement: dict
) -> None:  # type: ignore[no-untyped-def, type-arg]
    from scanner.attest.signers import KeySigner

    model = copy_model(tmp_path)
    sig = model / "model.sig"
    sig.write_text(KeySigner(keypair[0]).sign_statement(json.dumps(statement).encode()))
    result = run_cli("verify", str(model), "--bundle", str(sig), "--key", str(keypair[1]))
    assert result.code == 1
    assert "verification FAILED" in result.err
    scanned = run_cli("scan", str(model), "--json", "-")
    assert scanned.code in (0, 1)
    rules = {f["rule_id"] for a in scanned.json()["artifacts"] for f in a["findings"]}
    if statement["predicateType"].startswith("https://model_signing/"):
        assert "AS-ATT-003" in rules
