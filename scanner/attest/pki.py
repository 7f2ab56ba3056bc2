"""Private-PKI certificate chains: path building to a trust anchor, validity at signing time, usage.

The bundle carries the signing certificate first, then intermediates; the anchors come from the
verifier's ``--cert-chain`` PEM. As ``model_signing`` does, validity is checked at the signing
certificate's ``notBefore`` (there is no trusted timestamp in an offline bundle), and the signing
certificate must allow digital signatures or code signing.
"""

from __future__ import annotations

from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from scanner.attest.errors import VerificationError

MAX_CHAIN = 8


def _issued_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except Exception:  # InvalidSignature, ValueError, TypeError (unsupported algorithms) alike
        return False
    return True


def _valid_at(cert: x509.Certificate, when: datetime) -> bool:
    return cert.not_valid_before_utc <= when <= cert.not_valid_after_utc


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        return bool(cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca)
    except x509.ExtensionNotFound:
        return False


def _can_sign(cert: x509.Certificate) -> bool:
    try:
        if cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature:
            return True
    except x509.ExtensionNotFound:
        pass
    try:
        usage = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return ExtendedKeyUsageOID.CODE_SIGNING in usage


def verify_chain(chain: list[x509.Certificate], anchors: list[x509.Certificate]) -> ec.EllipticCurvePublicKey:
    """Check that ``chain[0]`` leads to one of ``anchors``; returns the signing certificate's key."""
    if not chain:
        raise VerificationError("the bundle carries no certificate")
    leaf = chain[0]
    when = leaf.not_valid_before_utc
    pool = list(chain[1:]) + list(anchors)
    anchor_set = {a.fingerprint(hashes.SHA256()) for a in anchors}
    current = leaf
    for _ in range(MAX_CHAIN):
        if not _valid_at(current, when):
            raise VerificationError(
                f"certificate {current.subject.rfc4514_string()} not valid at signing time"
            )
        fp = current.fingerprint(hashes.SHA256())
        if fp in anchor_set and current is not leaf:
            break
        issuer = next(
            (c for c in pool if c is not current and c.subject == current.issuer and _issued_by(current, c)),
            None,
        )
        if issuer is None:
            raise VerificationError(
                f"certificate chain does not lead to a trusted certificate: no trusted issuer for "
                f"{current.subject.rfc4514_string()}"
            )
        if not _is_ca(issuer):
            raise VerificationError(f"issuer {issuer.subject.rfc4514_string()} is not a CA")
        if issuer.fingerprint(hashes.SHA256()) in anchor_set:
            if not _valid_at(issuer, when):
                raise VerificationError(f"trusted certificate {issuer.subject.rfc4514_string()} not valid")
            break
        current = issuer
    else:
        raise VerificationError(f"certificate chain longer than {MAX_CHAIN}")
    if not _can_sign(leaf):
        raise VerificationError("the signing certificate does not allow digital signatures or code signing")
    key = leaf.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise VerificationError("the signing certificate does not hold an ECDSA key")
    return key
