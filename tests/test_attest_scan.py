"""scan --attest / attest: signed scan-result and BOM statements as JSON Lines, verified by ``verify``."""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

import pytest

from scanner.attest.errors import AttestError
from scanner.attest.signers import KeylessSigner, make_signer
from scanner.attest.statement import BOM_PREDICATE_TYPE, SCAN_PREDICATE_TYPE
from tests.attest_helpers import copy_model, make_pki


def _statements(jsonl: Path) -> list[dict]:  # type: ignore[type-arg]
    lines = jsonl.read_text().splitlines()
    return [json.loads(base64.b64decode(json.loads(line)["dsseEnvelope"]["payload"])) for line in lines]


@pytest.fixture
def keypair(run_cli, tmp_path: Path) -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    assert run_cli("keygen", "--output", str(tmp_path / "k")).code == 0
    return tmp_path / "k.key", tmp_path / "k.pub"


def test_scan_attest_writes_two_signed_statements(run_cli, tmp_path: Path, keypair) -> None:  # type: ignore[no-untyped-def]
    key, pub = keypair
    model = copy_model(tmp_path)
    out, bom = tmp_path / "model.intoto.jsonl", tmp_path / "bom.json"
    result = run_cli(
        "scan", str(model), "--attest", str(out), "--key", str(key), "--bom", str(bom), "--reproducible"
    )
    assert result.code == 0, result.err
    scan, bom_statement = _statements(out)
    assert scan["_type"] == "https://in-toto.io/Statement/v1"
    assert scan["predicateType"] == SCAN_PREDICATE_TYPE
    assert scan["predicate"]["verdict"] == "pass"
    assert bom_statement["predicateType"] == BOM_PREDICATE_TYPE
    assert bom_statement["predicate"] == json.loads(bom.read_text())
    expected = [
        {"name": name, "digest": {"sha256": hashlib.sha256((model / name).read_bytes()).hexdigest()}}
        for name in ("README.md", "config.json", "model.safetensors")
    ]
    assert scan["subject"] == expected
    assert bom_statement["subject"] == expected
    ok = run_cli("verify", str(model), "--bundle", str(out), "--key", str(pub))
    assert ok.code == 0, ok.err
    assert SCAN_PREDICATE_TYPE in ok.out and BOM_PREDICATE_TYPE in ok.out


def test_attestations_reject_tampering_and_wrong_key(run_cli, tmp_path: Path, keypair) -> None:  # type: ignore[no-untyped-def]
    key, _ = keypair
    assert run_cli("keygen", "--output", str(tmp_path / "other")).code == 0
    model = copy_model(tmp_path)
    out = tmp_path / "a.jsonl"
    assert run_cli("attest", str(model), "--key", str(key), "--output", str(out)).code == 0
    wrong = run_cli("verify", str(model), "--bundle", str(out), "--key", str(tmp_path / "other.pub"))
    assert wrong.code == 1
    assert "bundle 1: wrong key" in wrong.err and "bundle 2: wrong key" in wrong.err
    (model / "config.json").write_text('{"architectures": ["Evil"]}')
    (model / "notes.txt").write_text("added")
    bad = run_cli("verify", str(model), "--bundle", str(out), "--key", str(keypair[1]))
    assert bad.code == 1
    assert "changed: config.json" in bad.err
    assert "extra (unsigned): notes.txt" in bad.err
    # One line cut short: that bundle fails, the report says which.
    lines = out.read_text().splitlines()
    out.write_text(lines[0] + "\n" + lines[1][:100] + "\n")
    cut = run_cli("verify", str(model), "--bundle", str(out), "--key", str(keypair[1]))
    assert cut.code == 1
    assert "not valid JSON (truncated?)" in cut.err


def test_attest_with_private_pki(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pki = make_pki(tmp_path / "pki")
    model = copy_model(tmp_path)
    out = tmp_path / "a.jsonl"
    made = run_cli(
        "attest",
        str(model),
        "--key",
        str(pki["key"]),
        "--cert",
        str(pki["cert"]),
        "--cert-chain",
        str(pki["chain"]),
        "--output",
        str(out),
    )
    assert made.code == 0, made.err
    ok = run_cli("verify", str(model), "--bundle", str(out), "--cert-chain", str(pki["root"]))
    assert ok.code == 0, ok.err


@pytest.mark.parametrize(
    "flags",
    [["--attest", "x.jsonl"], ["--key", "k.key"], ["--attest", "x.jsonl", "--keyless", "--key", "k.key"]],
    ids=["attest-without-mode", "key-without-attest", "two-modes"],
)
def test_scan_signing_flags_are_usage_errors(run_cli, tmp_path: Path, flags: list[str]) -> None:  # type: ignore[no-untyped-def]
    model = copy_model(tmp_path)
    result = run_cli("scan", str(model), *flags)
    assert result.code == 2
    assert not (tmp_path / "x.jsonl").exists()


def test_attest_records_a_failing_verdict(run_cli, tmp_path: Path, keypair) -> None:  # type: ignore[no-untyped-def]
    from tests.conftest import FIXTURES

    out = tmp_path / "a.jsonl"
    leaky = FIXTURES / "demo" / "leaky-model"
    result = run_cli("scan", str(leaky), "--attest", str(out), "--key", str(keypair[0]))
    assert result.code == 1
    scan = _statements(out)[0]
    assert scan["predicate"]["verdict"] == "fail"
    assert scan["predicate"]["summary"]["findings"]["high"] >= 1
    assert {s["name"] for s in scan["subject"]} == {"deploy.env", "model.safetensors"}


def test_keyless_statement_is_accepted_by_sigstore_before_the_network() -> None:
    """The keyless path validates our statement with sigstore-python, then asks for an identity token;
    a token source that fails stops it there (no network is touched)."""
    from sigstore.oidc import IdentityError

    from scanner.attest.statement import scan_statement
    from scanner.engine import ScanOptions, scan_paths
    from tests.conftest import FIXTURES

    calls: list[str] = []

    def no_token() -> object:
        calls.append("token")
        raise IdentityError("no ambient credential in this test")

    report = scan_paths([str(FIXTURES / "demo" / "vendor-model")], ScanOptions(reproducible=True))
    signer = KeylessSigner(token_source=no_token)
    with pytest.raises(AttestError, match="keyless signing failed: no ambient credential"):
        signer.sign_statement(scan_statement(report))
    assert calls == ["token"]
    with pytest.raises(AttestError, match="keyless signing failed: malformed in-toto statement"):
        signer.sign_statement(b'{"_type": "https://in-toto.io/Statement/v1"}')
    assert calls == ["token"]
    assert isinstance(make_signer(None, None, None, True), KeylessSigner)


@pytest.mark.network
@pytest.mark.skipif(
    os.environ.get("ARTIFACT_SCANNER_NETWORK_TESTS") != "1"
    or not os.environ.get("ARTIFACT_SCANNER_TEST_IDENTITY"),
    reason="keyless signing needs the network and an ambient identity (ARTIFACT_SCANNER_NETWORK_TESTS=1, "
    "ARTIFACT_SCANNER_TEST_IDENTITY, ARTIFACT_SCANNER_TEST_ISSUER)",
)
def test_keyless_round_trip_online(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    model = copy_model(tmp_path)
    out = tmp_path / "a.jsonl"
    assert run_cli("scan", str(model), "--attest", str(out), "--keyless").code == 0
    ok = run_cli(
        "verify",
        str(model),
        "--bundle",
        str(out),
        "--identity",
        os.environ["ARTIFACT_SCANNER_TEST_IDENTITY"],
        "--issuer",
        os.environ["ARTIFACT_SCANNER_TEST_ISSUER"],
    )
    assert ok.code == 0, ok.err


def test_attestation_of_several_roots_verifies_each_root(run_cli, tmp_path: Path, keypair) -> None:  # type: ignore[no-untyped-def]
    key, pub = keypair
    first, second = copy_model(tmp_path, "first"), copy_model(tmp_path, "second")
    (second / "extra.txt").write_text("only in the second model")
    out = tmp_path / "both.jsonl"
    assert run_cli("scan", str(first), str(second), "--attest", str(out), "--key", str(key)).code == 0
    names = {s["name"] for s in _statements(out)[0]["subject"]}
    assert {"first/config.json", "second/extra.txt"} <= names
    for root in (first, second):
        ok = run_cli("verify", str(root), "--bundle", str(out), "--key", str(pub))
        assert ok.code == 0, ok.err
    (first / "extra.txt").write_text("smuggled")
    bad = run_cli("verify", str(first), "--bundle", str(out), "--key", str(pub))
    assert bad.code == 1
    assert "extra (unsigned): extra.txt" in bad.err
