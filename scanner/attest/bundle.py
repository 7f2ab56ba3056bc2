"""Sigstore bundles (v0.3 JSON), built and parsed with ``sigstore-models``.

Key and private-PKI bundles carry no certificate from Fulcio and no transparency-log entry, which
sigstore-python refuses; they are therefore handled here, as ``model_signing`` does, and only keyless
bundles go to sigstore-python (:mod:`scanner.attest.verify`). Parsing accepts what ``model_signing``
accepts: a missing ``tlogEntries`` and the older ``publicKey`` form carrying ``rawBytes``.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from scanner.attest.dsse import Envelope
from scanner.attest.errors import VerificationError

MEDIA_TYPE = "application/vnd.dev.sigstore.bundle.v0.3+json"
MAX_BUNDLE = 32 << 20
"""Largest bundle read (a model signature lists every file; 32 MiB is about 150,000 files)."""


@dataclass(frozen=True)
class ParsedBundle:
    """What verification needs from a bundle."""

    media_type: str
    """The bundle's media type."""
    envelope: Envelope | None
    """The DSSE envelope, for attestations and model signatures."""
    message_digest: tuple[str, bytes] | None
    """``(algorithm, digest)`` of a message-signature bundle over one file."""
    message_signature: bytes | None
    """The signature of a message-signature bundle."""
    key_hint: str | None
    """``publicKey.hint``, when present."""
    chain: tuple[x509.Certificate, ...]
    """``x509CertificateChain`` certificates (private PKI), signing certificate first."""
    keyless_certificate: bool
    """Whether the bundle holds a single ``certificate`` (Sigstore keyless) rather than a key or chain."""
    tlog_entries: int
    """Number of transparency-log entries."""
    raw: str
    """The JSON text, for sigstore-python."""


def build_dsse_bundle(
    envelope: Envelope,
    *,
    key_hint: str | None = None,
    chain: list[x509.Certificate] | None = None,
) -> str:
    """A v0.3 bundle JSON for a DSSE envelope signed with a local key (``key_hint``) or a chain."""
    from sigstore_models.bundle.v1 import Bundle

    material: dict[str, Any] = {"tlogEntries": []}
    if chain:
        material["x509CertificateChain"] = {
            "certificates": [
                {"rawBytes": base64.b64encode(c.public_bytes(serialization.Encoding.DER)).decode()}
                for c in chain
            ]
        }
    else:
        material["publicKey"] = {"hint": key_hint}
    bundle = Bundle.from_dict(
        {"mediaType": MEDIA_TYPE, "verificationMaterial": material, "dsseEnvelope": envelope.to_dict()}
    )
    text: str = bundle.to_json()
    return text


def _normalize(data: dict[str, Any]) -> dict[str, Any]:
    material = data.get("verificationMaterial")
    if isinstance(material, dict):
        material.setdefault("tlogEntries", [])
        key = material.get("publicKey")
        if isinstance(key, dict):
            key.setdefault("hint", None)
            for name in ("rawBytes", "keyDetails"):
                key.pop(name, None)
    return data


def parse_bundle(text: str) -> ParsedBundle:
    """Parse one bundle; raises :class:`VerificationError` saying what is wrong with it."""
    from pydantic import ValidationError
    from sigstore_models.bundle.v1 import Bundle

    try:
        data = json.loads(text)
    except ValueError as exc:
        raise VerificationError(f"bundle is not valid JSON (truncated?): {exc}") from None
    except RecursionError:
        raise VerificationError("bundle JSON is nested too deeply") from None
    if not isinstance(data, dict):
        raise VerificationError("bundle is not a JSON object")
    try:
        bundle = Bundle.from_json(json.dumps(_normalize(data)))
    except RecursionError:
        raise VerificationError("bundle JSON is nested too deeply") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise VerificationError(f"not a Sigstore bundle: {where}: {first.get('msg')}") from None
    material = bundle.verification_material
    envelope = None
    if bundle.dsse_envelope is not None:
        env = bundle.dsse_envelope
        if len(env.signatures) != 1:
            raise VerificationError(f"DSSE envelope has {len(env.signatures)} signatures, expected 1")
        envelope = Envelope(env.payload_type, env.payload, env.signatures[0].sig)
    digest = None
    signature = None
    if bundle.message_signature is not None:
        signature = bundle.message_signature.signature
        if bundle.message_signature.message_digest is not None:
            md = bundle.message_signature.message_digest
            digest = (str(getattr(md.algorithm, "value", md.algorithm)), md.digest)
    if envelope is None and signature is None:
        raise VerificationError("bundle holds neither a DSSE envelope nor a message signature")
    chain: tuple[x509.Certificate, ...] = ()
    if material.x509_certificate_chain is not None:
        try:
            chain = tuple(
                x509.load_der_x509_certificate(c.raw_bytes)
                for c in material.x509_certificate_chain.certificates
            )
        except ValueError as exc:
            raise VerificationError(f"bundle certificate does not parse: {exc}") from None
    return ParsedBundle(
        media_type=bundle.media_type,
        envelope=envelope,
        message_digest=digest,
        message_signature=signature,
        key_hint=material.public_key.hint if material.public_key is not None else None,
        chain=chain,
        keyless_certificate=material.certificate is not None,
        tlog_entries=len(material.tlog_entries),
        raw=text,
    )


def payload_json(envelope: Envelope) -> dict[str, Any]:
    """The in-toto statement inside an envelope."""
    try:
        data = json.loads(envelope.payload)
    except (ValueError, RecursionError):
        raise VerificationError("DSSE payload is not JSON (or nested too deeply)") from None
    if not isinstance(data, dict) or data.get("_type") != "https://in-toto.io/Statement/v1":
        raise VerificationError("DSSE payload is not an in-toto Statement v1")
    return data
