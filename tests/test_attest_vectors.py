"""Public vectors in ../shared/vectors (read in place): model_signing signatures and Sigstore bundles."""

from __future__ import annotations

import pytest

from tests.conftest import SHARED

VECTORS = SHARED / "vectors"
MS = VECTORS / "model-signing"
CONF = VECTORS / "sigstore-conformance"
BEACON = (
    "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/"
    ".github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main"
)
GITHUB = "https://token.actions.githubusercontent.com"

pytestmark = pytest.mark.skipif(not VECTORS.is_dir(), reason="../shared/vectors is not beside the checkout")


def test_model_signing_key_vector(run_cli) -> None:  # type: ignore[no-untyped-def]
    sig = MS / "v1.0.0-elliptic-key" / "model.sig"
    ok = run_cli(
        "verify",
        str(MS / "v1.0.0-elliptic-key" / "signme-1"),
        "--bundle",
        str(sig),
        "--key",
        str(MS / "keys" / "signing-key-pub.pem"),
    )
    assert ok.code == 0, ok.err
    assert "https://model_signing/signature/v1.0" in ok.out
    # The wrong file under the same signature is a changed file.
    other = run_cli(
        "verify",
        str(MS / "v1.0.0-certificate" / "signme-2"),
        "--bundle",
        str(sig),
        "--key",
        str(MS / "keys" / "signing-key-pub.pem"),
    )
    assert other.code == 1
    assert "changed: ." in other.err


def test_model_signing_certificate_vector(run_cli) -> None:  # type: ignore[no-untyped-def]
    folder = MS / "v1.0.0-certificate"
    ok = run_cli(
        "verify",
        str(folder),
        "--bundle",
        str(folder / "model.sig"),
        "--cert-chain",
        str(MS / "keys" / "ca-cert.pem"),
    )
    assert ok.code == 0, ok.err
    assert "2 signed item(s)" in ok.out
    # A chain the signer does not lead to is refused.
    wrong = run_cli(
        "verify",
        str(folder),
        "--bundle",
        str(folder / "model.sig"),
        "--cert-chain",
        str(MS / "keys" / "signing-key-cert.pem"),
    )
    assert wrong.code == 1
    assert "trusted" in wrong.err


def test_model_signing_keyless_vector_offline(run_cli) -> None:  # type: ignore[no-untyped-def]
    folder = MS / "v1.0.0-sigstore"
    ok = run_cli(
        "verify",
        str(folder),
        "--bundle",
        str(folder / "model.sig"),
        "--identity",
        "stefanb@us.ibm.com",
        "--issuer",
        "https://sigstore.verify.ibm.com/oauth2",
    )
    assert ok.code == 0, ok.err
    wrong = run_cli(
        "verify",
        str(folder),
        "--bundle",
        str(folder / "model.sig"),
        "--identity",
        "mallory@example.com",
        "--issuer",
        "https://sigstore.verify.ibm.com/oauth2",
    )
    assert wrong.code == 1
    assert "mallory@example.com" in wrong.err


@pytest.mark.parametrize("name", ["happy-path-v0.3", "happy-path-intoto-in-dsse-v3"])
def test_conformance_keyless_bundles(run_cli, name: str) -> None:  # type: ignore[no-untyped-def]
    bundle = CONF / name / "bundle.sigstore.json"
    ok = run_cli(
        "verify", str(CONF / "a.txt"), "--bundle", str(bundle), "--identity", BEACON, "--issuer", GITHUB
    )
    assert ok.code == 0, ok.err
    wrong = run_cli(
        "verify",
        str(CONF / "a.txt"),
        "--bundle",
        str(bundle),
        "--identity",
        "https://github.com/evil/repo/.github/workflows/x.yml@refs/heads/main",
        "--issuer",
        GITHUB,
    )
    assert wrong.code == 1
    assert "Sigstore verification failed" in wrong.err


def test_rekor_v2_bundle_with_its_trusted_root(run_cli) -> None:  # type: ignore[no-untyped-def]
    folder = CONF / "rekor2-dsse-happy-path"
    ok = run_cli(
        "verify",
        str(CONF / "a.txt"),
        "--bundle",
        str(folder / "bundle.sigstore.json"),
        "--identity",
        BEACON,
        "--issuer",
        GITHUB,
        "--trusted-root",
        str(folder / "trusted_root.json"),
    )
    assert ok.code == 0, ok.err
    # The production root does not vouch for the staging certificate.
    prod = run_cli(
        "verify",
        str(CONF / "a.txt"),
        "--bundle",
        str(folder / "bundle.sigstore.json"),
        "--identity",
        BEACON,
        "--issuer",
        GITHUB,
    )
    assert prod.code == 1


def test_sigstore_python_wheel_bundle(run_cli) -> None:  # type: ignore[no-untyped-def]
    folder = VECTORS / "sigstore-python"
    wheel = folder / "bundle_v3_github.whl"
    ok = run_cli(
        "verify",
        str(wheel),
        "--bundle",
        f"{wheel}.sigstore",
        "--identity",
        "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2",
        "--issuer",
        GITHUB,
    )
    assert ok.code == 0, ok.err
    assert "message-signature" in ok.out
    wrong = run_cli(
        "verify",
        str(wheel),
        "--bundle",
        f"{wheel}.sigstore",
        "--identity",
        "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v9.9.9",
        "--issuer",
        GITHUB,
    )
    assert wrong.code == 1
    assert "Sigstore verification failed" in wrong.err
    # Another file under the same bundle: its digest is not the signed one.
    other = run_cli(
        "verify",
        str(CONF / "a.txt"),
        "--bundle",
        f"{wheel}.sigstore",
        "--identity",
        "https://github.com/trailofbits/rfc8785.py/.github/workflows/release.yml@refs/tags/v0.1.2",
        "--issuer",
        GITHUB,
    )
    assert other.code == 1
    assert "changed: a.txt" in other.err


def test_managed_key_bundle(run_cli) -> None:  # type: ignore[no-untyped-def]
    folder = CONF / "managed-key-happy-path"
    ok = run_cli(
        "verify",
        str(CONF / "a.txt"),
        "--bundle",
        str(folder / "bundle.sigstore.json"),
        "--key",
        str(folder / "key.pub"),
    )
    assert ok.code == 0, ok.err


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("dsse-invalid-sig_fail", "Sigstore verification failed"),
        ("dsse-mismatch-sig_fail", "Sigstore verification failed"),
        ("signature-mismatch_fail", "Sigstore verification failed"),
        ("managed-key-wrong-key_fail", "wrong key"),
    ],
)
def test_fail_vectors_are_rejected(run_cli, name: str, reason: str) -> None:  # type: ignore[no-untyped-def]
    folder = CONF / name
    trust = (
        ["--key", str(folder / "key.pub")]
        if (folder / "key.pub").exists()
        else ["--identity", BEACON, "--issuer", GITHUB]
    )
    result = run_cli("verify", str(CONF / "a.txt"), "--bundle", str(folder / "bundle.sigstore.json"), *trust)
    assert result.code == 1
    assert reason in result.err


def test_every_fail_vector_is_covered() -> None:
    fails = sorted(p.name for p in CONF.iterdir() if p.name.endswith("_fail"))
    assert fails == sorted(
        [
            "dsse-invalid-sig_fail",
            "dsse-mismatch-sig_fail",
            "signature-mismatch_fail",
            "managed-key-wrong-key_fail",
        ]
    )
