"""keygen, sign and verify: offline round trips, tampering, wrong keys, and interop with model_signing."""

from __future__ import annotations

import base64
import json
import os
import stat
from pathlib import Path

import pytest

from tests.attest_helpers import copy_model, make_pki


def _keygen(run_cli, tmp_path: Path, name: str = "k") -> tuple[Path, Path]:  # type: ignore[no-untyped-def]
    prefix = tmp_path / name
    result = run_cli("keygen", "--output", str(prefix))
    assert result.code == 0, result.err
    return Path(f"{prefix}.key"), Path(f"{prefix}.pub")


def _payload(bundle: Path) -> dict:  # type: ignore[type-arg]
    data = json.loads(bundle.read_text())
    return json.loads(base64.b64decode(data["dsseEnvelope"]["payload"]))


def test_keygen_writes_private_key_0600_and_refuses_overwrite(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key, pub = _keygen(run_cli, tmp_path)
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert b"BEGIN PRIVATE KEY" in key.read_bytes()
    assert b"BEGIN PUBLIC KEY" in pub.read_bytes()
    again = run_cli("keygen", "--output", str(tmp_path / "k"))
    assert again.code == 2
    assert "already exists" in again.err


def test_sign_and_verify_round_trip_with_key(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key, pub = _keygen(run_cli, tmp_path)
    model = copy_model(tmp_path)
    (model / ".git").mkdir()
    (model / ".git" / "HEAD").write_text("ref: refs/heads/main\n")
    sig = model / "model.sig"
    signed = run_cli("sign", str(model), "--key", str(key), "--output", str(sig))
    assert signed.code == 0, signed.err
    statement = _payload(sig)
    assert statement["predicateType"] == "https://model_signing/signature/v1.0"
    names = [r["name"] for r in statement["predicate"]["resources"]]
    assert names == ["README.md", "config.json", "model.safetensors"]  # no model.sig, no .git
    assert statement["subject"][0]["name"] == "model"
    assert {"model.sig", ".git", ".gitignore"} <= set(statement["predicate"]["serialization"]["ignore_paths"])
    verified = run_cli("verify", str(model), "--bundle", str(sig), "--key", str(pub))
    assert verified.code == 0, verified.err
    assert "3 signed item(s)" in verified.out


def test_sign_defaults_to_model_sig_in_cwd(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    key, pub = _keygen(run_cli, tmp_path)
    model = copy_model(tmp_path)
    monkeypatch.chdir(tmp_path)
    assert run_cli("sign", "model", "--key", str(key)).code == 0
    assert (tmp_path / "model.sig").is_file()
    assert run_cli("verify", "model", "--bundle", "model.sig", "--key", str(pub)).code == 0
    assert model.is_dir()


@pytest.mark.parametrize(
    ("tamper", "message"),
    [
        (
            lambda m: (m / "model.safetensors").write_bytes(_flip((m / "model.safetensors").read_bytes())),
            "changed: model.safetensors",
        ),
        (lambda m: (m / "config.json").rename(m / "config2.json"), "missing: config.json"),
        (lambda m: (m / "extra.bin").write_bytes(b"\0" * 10), "extra (unsigned): extra.bin"),
    ],
    ids=["flipped-byte", "renamed-file", "added-file"],
)
def test_tampered_model_is_rejected_by_name(run_cli, tmp_path: Path, tamper, message: str) -> None:  # type: ignore[no-untyped-def]
    key, pub = _keygen(run_cli, tmp_path)
    model = copy_model(tmp_path)
    sig = tmp_path / "model.sig"
    assert run_cli("sign", str(model), "--key", str(key), "--output", str(sig)).code == 0
    tamper(model)
    result = run_cli("verify", str(model), "--bundle", str(sig), "--key", str(pub))
    assert result.code == 1
    assert message in result.err
    if "renamed" in message or "missing" in message:
        assert "extra (unsigned): config2.json" in result.err


def _flip(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


def test_wrong_key_and_truncated_bundle_are_rejected(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key, _ = _keygen(run_cli, tmp_path)
    _, other_pub = _keygen(run_cli, tmp_path, "other")
    model = copy_model(tmp_path)
    sig = tmp_path / "model.sig"
    assert run_cli("sign", str(model), "--key", str(key), "--output", str(sig)).code == 0
    wrong = run_cli("verify", str(model), "--bundle", str(sig), "--key", str(other_pub))
    assert wrong.code == 1
    assert "wrong key" in wrong.err
    # Without the (unauthenticated) key hint the signature check itself must fail.
    data = json.loads(sig.read_text())
    data["verificationMaterial"]["publicKey"]["hint"] = None
    unhinted = tmp_path / "unhinted.sig"
    unhinted.write_text(json.dumps(data))
    bad = run_cli("verify", str(model), "--bundle", str(unhinted), "--key", str(other_pub))
    assert bad.code == 1
    assert "bad signature" in bad.err
    truncated = tmp_path / "truncated.sig"
    truncated.write_text(sig.read_text()[: len(sig.read_text()) // 2])
    cut = run_cli("verify", str(model), "--bundle", str(truncated), "--key", str(other_pub))
    assert cut.code == 1
    assert "not valid JSON (truncated?)" in cut.err


def test_modified_payload_breaks_the_signature(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key, pub = _keygen(run_cli, tmp_path)
    model = copy_model(tmp_path)
    sig = tmp_path / "model.sig"
    assert run_cli("sign", str(model), "--key", str(key), "--output", str(sig)).code == 0
    (model / "config.json").write_text("{}")
    statement = _payload(sig)
    for resource in statement["predicate"]["resources"]:
        if resource["name"] == "config.json":
            import hashlib

            resource["digest"] = hashlib.sha256(b"{}").hexdigest()
    data = json.loads(sig.read_text())
    data["dsseEnvelope"]["payload"] = base64.b64encode(json.dumps(statement).encode()).decode()
    sig.write_text(json.dumps(data))
    result = run_cli("verify", str(model), "--bundle", str(sig), "--key", str(pub))
    assert result.code == 1
    assert "bad signature" in result.err


def test_passphrase_from_environment(run_cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("ARTIFACT_SCANNER_KEY_PASSWORD", "correct horse")
    key, pub = _keygen(run_cli, tmp_path)
    assert b"ENCRYPTED PRIVATE KEY" in key.read_bytes()
    model = copy_model(tmp_path)
    sig = tmp_path / "m.sig"
    assert run_cli("sign", str(model), "--key", str(key), "--output", str(sig)).code == 0
    monkeypatch.setenv("ARTIFACT_SCANNER_KEY_PASSWORD", "wrong")
    bad = run_cli("sign", str(model), "--key", str(key), "--output", str(tmp_path / "x.sig"))
    assert bad.code == 2
    assert "wrong passphrase" in bad.err
    monkeypatch.delenv("ARTIFACT_SCANNER_KEY_PASSWORD")
    missing = run_cli("sign", str(model), "--key", str(key), "--output", str(tmp_path / "y.sig"))
    assert missing.code == 2
    assert "ARTIFACT_SCANNER_KEY_PASSWORD" in missing.err
    assert run_cli("verify", str(model), "--bundle", str(sig), "--key", str(pub)).code == 0


@pytest.mark.parametrize(
    "flags",
    [[], ["--keyless", "--key", "k.key"], ["--key", "k.key", "--cert", "c.pem"], ["--cert", "c.pem"]],
    ids=["none", "keyless-and-key", "cert-without-chain", "cert-without-key"],
)
def test_sign_needs_exactly_one_mode(run_cli, tmp_path: Path, flags: list[str]) -> None:  # type: ignore[no-untyped-def]
    model = copy_model(tmp_path)
    result = run_cli("sign", str(model), *flags)
    assert result.code == 2
    assert "--" in result.err


def test_verify_needs_exactly_one_trust_mode(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key, pub = _keygen(run_cli, tmp_path)
    model = copy_model(tmp_path)
    sig = tmp_path / "m.sig"
    assert run_cli("sign", str(model), "--key", str(key), "--output", str(sig)).code == 0
    both = run_cli("verify", str(model), "--bundle", str(sig), "--key", str(pub), "--identity", "a@b.c")
    assert both.code == 2
    only_identity = run_cli("verify", str(model), "--bundle", str(sig), "--identity", "a@b.c")
    assert only_identity.code == 2
    assert "--issuer" in only_identity.err


def test_pki_round_trip_and_untrusted_root(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pki = make_pki(tmp_path / "pki1")
    other = make_pki(tmp_path / "pki2")
    model = copy_model(tmp_path)
    sig = tmp_path / "m.sig"
    signed = run_cli(
        "sign",
        str(model),
        "--key",
        str(pki["key"]),
        "--cert",
        str(pki["cert"]),
        "--cert-chain",
        str(pki["chain"]),
        "--output",
        str(sig),
    )
    assert signed.code == 0, signed.err
    chain = json.loads(sig.read_text())["verificationMaterial"]["x509CertificateChain"]["certificates"]
    assert len(chain) == 3
    ok = run_cli("verify", str(model), "--bundle", str(sig), "--cert-chain", str(pki["root"]))
    assert ok.code == 0, ok.err
    untrusted = run_cli("verify", str(model), "--bundle", str(sig), "--cert-chain", str(other["root"]))
    assert untrusted.code == 1
    assert "does not lead to a trusted certificate" in untrusted.err


def test_pki_certificate_must_match_key_and_allow_signing(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pki = make_pki(tmp_path / "a")
    other = make_pki(tmp_path / "b")
    model = copy_model(tmp_path)
    mismatch = run_cli(
        "sign",
        str(model),
        "--key",
        str(other["key"]),
        "--cert",
        str(pki["cert"]),
        "--cert-chain",
        str(pki["chain"]),
        "--output",
        str(tmp_path / "x.sig"),
    )
    assert mismatch.code == 2
    assert "does not match the private key" in mismatch.err
    nosign = make_pki(tmp_path / "c", signing_usage=False)
    sig = tmp_path / "n.sig"
    assert (
        run_cli(
            "sign",
            str(model),
            "--key",
            str(nosign["key"]),
            "--cert",
            str(nosign["cert"]),
            "--cert-chain",
            str(nosign["chain"]),
            "--output",
            str(sig),
        ).code
        == 0
    )
    refused = run_cli("verify", str(model), "--bundle", str(sig), "--cert-chain", str(nosign["root"]))
    assert refused.code == 1
    assert "does not allow digital signatures" in refused.err


@pytest.mark.parametrize(("hash_type", "shard"), [("sha256", None), ("blake3", None), ("sha256", "100")])
def test_model_signing_verifies_our_signature(
    run_cli, tmp_path: Path, hash_type: str, shard: str | None
) -> None:  # type: ignore[no-untyped-def]
    from model_signing import verifying

    key, pub = _keygen(run_cli, tmp_path)
    model = copy_model(tmp_path)
    (model / "sub").mkdir()
    (model / "sub" / "b.txt").write_text("b")
    (model / "a.txt").write_text("a")
    (model / "a").mkdir()
    (model / "a" / "b.txt").write_text("nested")  # parts order puts a/b.txt before a.txt; strings do not
    (model / "empty").write_bytes(b"")
    sig = tmp_path / "model.sig"
    args = ["sign", str(model), "--key", str(key), "--output", str(sig), "--hash", hash_type]
    if shard:
        args += ["--shard-size", shard]
    assert run_cli(*args).code == 0
    statement = _payload(sig)
    assert statement["predicate"]["serialization"]["method"] == ("shards" if shard else "files")
    names = [r["name"].split(":")[0] for r in statement["predicate"]["resources"]]
    assert names.index("a/b.txt") < names.index("a.txt")
    verifying.Config().use_elliptic_key_verifier(public_key=pub).verify(model, sig)
    (model / "a.txt").write_text("changed")
    with pytest.raises(ValueError, match=r"a\.txt"):
        verifying.Config().use_elliptic_key_verifier(public_key=pub).verify(model, sig)


def test_we_verify_a_fresh_model_signing_signature(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from model_signing import hashing, signing

    key, pub = _keygen(run_cli, tmp_path)
    model = copy_model(tmp_path)
    sig = tmp_path / "ms.sig"
    config = signing.Config().use_elliptic_key_signer(private_key=key)
    config.set_hashing_config(hashing.Config().use_shard_serialization(shard_size=64))
    config.sign(model, sig)
    assert run_cli("verify", str(model), "--bundle", str(sig), "--key", str(pub)).code == 0
    (model / "model.safetensors").write_bytes(_flip((model / "model.safetensors").read_bytes()))
    result = run_cli("verify", str(model), "--bundle", str(sig), "--key", str(pub))
    assert result.code == 1
    assert "changed: model.safetensors" in result.err


def test_model_signing_verifies_our_pki_signature(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from model_signing import verifying

    pki = make_pki(tmp_path / "pki")
    model = copy_model(tmp_path)
    sig = tmp_path / "m.sig"
    assert (
        run_cli(
            "sign",
            str(model),
            "--key",
            str(pki["key"]),
            "--cert",
            str(pki["cert"]),
            "--cert-chain",
            str(pki["chain"]),
            "--output",
            str(sig),
        ).code
        == 0
    )
    verifying.Config().use_certificate_verifier(certificate_chain=[pki["root"]]).verify(model, sig)
