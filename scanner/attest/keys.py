"""Key material: ECDSA key pairs, passphrases from the environment, certificates and chains.

Only NIST P-256/P-384/P-521 ECDSA keys are used, as in Sigstore and OpenSSF model signing; the
signature hash follows the curve (SHA-256/384/512). A key's *hint* is the hex SHA-256 of its PEM
SubjectPublicKeyInfo, the identifier ``model_signing`` writes into ``verificationMaterial.publicKey.hint``.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from scanner.attest import PASSWORD_ENV
from scanner.attest.errors import AttestError

_CURVES: dict[str, type[hashes.SHA256 | hashes.SHA384 | hashes.SHA512]] = {
    "secp256r1": hashes.SHA256,
    "secp384r1": hashes.SHA384,
    "secp521r1": hashes.SHA512,
}
MAX_KEY_FILE = 1 << 20


def _read(path: str | Path, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_KEY_FILE + 1)
    except OSError as exc:
        raise AttestError(f"{what} {path}: {exc.strerror or exc}") from None
    if len(data) > MAX_KEY_FILE:
        raise AttestError(f"{what} {path}: larger than {MAX_KEY_FILE} bytes")
    return data


def _check_curve(key: object, path: str | Path) -> None:
    if not isinstance(key, ec.EllipticCurvePrivateKey | ec.EllipticCurvePublicKey):
        raise AttestError(f"{path}: not an elliptic-curve (ECDSA) key")
    if key.curve.name not in _CURVES:
        raise AttestError(f"{path}: unsupported curve {key.curve.name} (use P-256, P-384 or P-521)")


def signature_hash(key: ec.EllipticCurvePublicKey) -> hashes.HashAlgorithm:
    """The hash ECDSA uses with this key's curve."""
    return _CURVES[key.curve.name]()


def generate_key_pair(prefix: str) -> tuple[Path, Path]:
    """Write ``PREFIX.key`` (PKCS#8 PEM, mode 0600, encrypted when the passphrase variable is set) and
    ``PREFIX.pub`` (SubjectPublicKeyInfo PEM); returns both paths. Existing files are not overwritten."""
    key_path, pub_path = Path(f"{prefix}.key"), Path(f"{prefix}.pub")
    for path in (key_path, pub_path):
        if path.exists():
            raise AttestError(f"{path} already exists; not overwritten")
    private = ec.generate_private_key(ec.SECP256R1())
    password = os.environ.get(PASSWORD_ENV)
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password.encode("utf-8"))
        if password
        else serialization.NoEncryption()
    )
    pem = private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    key_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    os.chmod(key_path, 0o600)
    pub_path.write_bytes(public_pem(private.public_key()))
    return key_path, pub_path


def load_private_key(path: str | Path) -> ec.EllipticCurvePrivateKey:
    """A PEM private key, decrypted with ``$ARTIFACT_SCANNER_KEY_PASSWORD`` when it is encrypted."""
    data = _read(path, "private key")
    password = os.environ.get(PASSWORD_ENV)
    try:
        key = serialization.load_pem_private_key(data, password.encode("utf-8") if password else None)
    except TypeError:
        raise AttestError(f"{path}: the key is encrypted; set {PASSWORD_ENV}") from None
    except ValueError as exc:
        raise AttestError(
            f"{path}: cannot load the private key (wrong passphrase or not PEM): {exc}"
        ) from None
    _check_curve(key, path)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return key


def load_public_key(path: str | Path) -> ec.EllipticCurvePublicKey:
    """A PEM public key (or the key of a PEM certificate)."""
    data = _read(path, "public key")
    key: object
    try:
        if b"BEGIN CERTIFICATE" in data:
            key = x509.load_pem_x509_certificate(data).public_key()
        else:
            key = serialization.load_pem_public_key(data)
    except ValueError as exc:
        raise AttestError(f"{path}: cannot load the public key: {exc}") from None
    _check_curve(key, path)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    return key


def load_certificates(path: str | Path) -> list[x509.Certificate]:
    """Every certificate of a PEM file, in order."""
    data = _read(path, "certificate file")
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise AttestError(f"{path}: cannot load certificates: {exc}") from None
    if not certs:
        raise AttestError(f"{path}: no PEM certificate found")
    return certs


def public_pem(key: ec.EllipticCurvePublicKey) -> bytes:
    """SubjectPublicKeyInfo PEM of a public key."""
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_hint(key: ec.EllipticCurvePublicKey) -> str:
    """Hex SHA-256 of the key's PEM, as ``model_signing`` records it."""
    return hashlib.sha256(public_pem(key)).hexdigest()


def sign(key: ec.EllipticCurvePrivateKey, data: bytes) -> bytes:
    """DER ECDSA signature of ``data`` with the curve's hash."""
    return key.sign(data, ec.ECDSA(signature_hash(key.public_key())))


def verify(key: ec.EllipticCurvePublicKey, signature: bytes, data: bytes) -> bool:
    """Whether ``signature`` is a valid ECDSA signature of ``data`` by ``key``."""
    try:
        key.verify(signature, data, ec.ECDSA(signature_hash(key)))
    except InvalidSignature:
        return False
    return True
