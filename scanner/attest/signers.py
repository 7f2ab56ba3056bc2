"""Signers: each turns an in-toto statement (JSON bytes) into one Sigstore bundle JSON text.

- :class:`KeySigner`: a local ECDSA key, fully offline; the bundle names the key by its hint.
- :class:`CertificateSigner`: a local key with its certificate and chain (private PKI), offline.
- :class:`KeylessSigner`: Sigstore keyless through sigstore-python (Fulcio certificate, Rekor entry);
  the identity token comes from ambient CI credentials or the interactive browser flow. This is the
  only part that uses the network, and only when the user asks for ``--keyless``.
"""

from __future__ import annotations

import abc
from collections.abc import Callable
from pathlib import Path
from typing import Any

from scanner.attest import keys
from scanner.attest.bundle import build_dsse_bundle
from scanner.attest.dsse import INTOTO_PAYLOAD_TYPE, Envelope, pae
from scanner.attest.errors import AttestError


class Signer(abc.ABC):
    """Signs in-toto statements into Sigstore bundles."""

    @abc.abstractmethod
    def sign_statement(self, payload: bytes) -> str:
        """Sign the statement's JSON bytes (unchanged) as a DSSE envelope; returns the bundle JSON."""


class KeySigner(Signer):
    """A local ECDSA private key (PEM; passphrase from ``$ARTIFACT_SCANNER_KEY_PASSWORD``)."""

    def __init__(self, key_path: str | Path) -> None:
        self._key = keys.load_private_key(key_path)

    def _envelope(self, payload: bytes) -> Envelope:
        signature = keys.sign(self._key, pae(INTOTO_PAYLOAD_TYPE, payload))
        return Envelope(INTOTO_PAYLOAD_TYPE, payload, signature)

    def sign_statement(self, payload: bytes) -> str:
        return build_dsse_bundle(self._envelope(payload), key_hint=keys.key_hint(self._key.public_key()))


class CertificateSigner(KeySigner):
    """A local key with its signing certificate and the chain up to (not necessarily including) a root."""

    def __init__(self, key_path: str | Path, cert_path: str | Path, chain_path: str | Path) -> None:
        super().__init__(key_path)
        certificate = keys.load_certificates(cert_path)[0]
        if certificate.public_key() != self._key.public_key():
            raise AttestError(f"{cert_path}: the certificate's public key does not match the private key")
        self._chain = [certificate, *keys.load_certificates(chain_path)]

    def sign_statement(self, payload: bytes) -> str:
        return build_dsse_bundle(self._envelope(payload), chain=self._chain)


TokenSource = Callable[[], Any]


def ambient_or_interactive_token() -> Any:
    """An OIDC identity token: ambient CI credentials first (GitHub Actions, GCP ...), else the
    interactive browser flow against Sigstore's production issuer."""
    from sigstore.models import ClientTrustConfig
    from sigstore.oidc import IdentityToken, Issuer, detect_credential

    ambient = detect_credential()
    if ambient:
        return IdentityToken(ambient)
    config = ClientTrustConfig.production()
    return Issuer(config.signing_config.get_oidc_url()).identity_token()


class KeylessSigner(Signer):
    """Sigstore keyless signing: an ephemeral key certified by Fulcio, logged in Rekor."""

    def __init__(
        self, token_source: TokenSource = ambient_or_interactive_token, staging: bool = False
    ) -> None:
        self._token_source = token_source
        self._staging = staging
        self._signer: Any = None

    def _context(self) -> Any:
        from sigstore.models import ClientTrustConfig
        from sigstore.sign import SigningContext

        config = ClientTrustConfig.staging() if self._staging else ClientTrustConfig.production()
        return SigningContext.from_trust_config(config)

    def sign_statement(self, payload: bytes) -> str:
        from sigstore.dsse import Statement
        from sigstore.errors import Error
        from sigstore.oidc import ExpiredIdentity, IssuerError

        try:
            statement = Statement(payload)
            if self._signer is None:
                token = self._token_source()  # ambient CI credentials, or the browser flow
                self._signer = self._context().signer(token, cache=True).__enter__()
            bundle = self._signer.sign_dsse(statement)
        except (Error, IssuerError, ExpiredIdentity, OSError) as exc:  # OSError: network failures
            raise AttestError(f"keyless signing failed: {exc}") from None
        text: str = bundle.to_json()
        return text


def make_signer(key: str | None, cert: str | None, chain: str | None, keyless: bool) -> Signer:
    """The signer for exactly one of ``--key``, ``--key --cert --cert-chain`` or ``--keyless``.

    Raises :class:`AttestError` (a usage error) for any other combination.
    """
    if keyless:
        if key or cert or chain:
            raise AttestError("--keyless takes no --key, --cert or --cert-chain")
        return KeylessSigner()
    if not key:
        raise AttestError(
            "choose one signing mode: --key KEY, --key KEY --cert CERT --cert-chain CHAIN, or --keyless"
        )
    if cert or chain:
        if not (cert and chain):
            raise AttestError("--cert and --cert-chain go together (with --key)")
        return CertificateSigner(key, cert, chain)
    return KeySigner(key)
