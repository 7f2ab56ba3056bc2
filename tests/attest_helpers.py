"""Test helpers for attestations: key pairs and a small private PKI made in tmp_path (never committed)."""

from __future__ import annotations

import datetime
import shutil
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import FIXTURES

VENDOR_MODEL = FIXTURES / "demo" / "vendor-model"


def copy_model(tmp_path: Path, name: str = "model") -> Path:
    """A private copy of the demo vendor model."""
    target = tmp_path / name
    shutil.copytree(VENDOR_MODEL, target)
    return target


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )


def make_pki(tmp_path: Path, *, signing_usage: bool = True) -> dict[str, Path]:
    """Root CA -> intermediate CA -> signing certificate; returns the PEM paths (key, cert, chain, root)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    root_key = ec.generate_private_key(ec.SECP256R1())
    int_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())

    def cert(
        subject: str,
        issuer: str,
        key: ec.EllipticCurvePrivateKey,
        signer: ec.EllipticCurvePrivateKey,
        ca: bool,
    ) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(subject))
            .issuer_name(_name(issuer))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            builder = builder.add_extension(
                x509.KeyUsage(signing_usage, False, False, False, False, False, False, False, False),
                critical=True,
            )
        return builder.sign(signer, hashes.SHA256())

    tmp_path.mkdir(parents=True, exist_ok=True)
    root = cert("test root", "test root", root_key, root_key, True)
    intermediate = cert("test intermediate", "test root", int_key, root_key, True)
    leaf = cert("test signer", "test intermediate", leaf_key, int_key, False)
    pem = serialization.Encoding.PEM
    paths = {
        "key": tmp_path / "signer.key",
        "cert": tmp_path / "signer.crt",
        "chain": tmp_path / "chain.pem",
        "root": tmp_path / "root.pem",
    }
    _write_key(leaf_key, paths["key"])
    paths["cert"].write_bytes(leaf.public_bytes(pem))
    paths["chain"].write_bytes(intermediate.public_bytes(pem) + root.public_bytes(pem))
    paths["root"].write_bytes(root.public_bytes(pem))
    return paths
