"""Verify a bundle (or JSON Lines of bundles) against files on disk.

Two steps, both required: the signature (a public key, a private-PKI chain, or a Sigstore identity
checked by sigstore-python offline against its embedded trust root or ``--trusted-root``), then the
content: the files are re-hashed with :mod:`scanner.hashing` and every signed digest is compared.
An OMS model signature is compared resource by resource with its own serialization settings; other
in-toto statements (ours or anyone's) by subject: by relative path for a directory, by digest for a
single file. Changed, missing and unsigned extra files are reported by name.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

from scanner.attest import keys, oms, pki
from scanner.attest.bundle import MAX_BUNDLE, ParsedBundle, parse_bundle, payload_json
from scanner.attest.dsse import INTOTO_PAYLOAD_TYPE, Envelope, pae
from scanner.attest.errors import AttestError, VerificationError
from scanner.hashing import HashError, hash_file


@dataclass(frozen=True)
class Trust:
    """What a signature must chain to: exactly one of a key, a chain, or an identity and issuer."""

    key: str | None = None
    """PEM public key file."""
    cert_chain: str | None = None
    """PEM file of trusted certificates (private PKI)."""
    identity: str | None = None
    """Expected Sigstore certificate identity (SAN: e-mail or workflow URI)."""
    issuer: str | None = None
    """Expected OIDC issuer URL."""
    trusted_root: str | None = None
    """Sigstore trusted_root.json replacing the embedded production root."""

    def check(self) -> None:
        """Raise :class:`AttestError` unless exactly one mode is chosen."""
        modes = [bool(self.key), bool(self.cert_chain), bool(self.identity or self.issuer)]
        if sum(modes) != 1:
            raise AttestError("choose one of --key PUB, --cert-chain PEM, or --identity ID --issuer URL")
        if (self.identity or self.issuer) and not (self.identity and self.issuer):
            raise AttestError("--identity and --issuer go together")
        if self.trusted_root and not self.identity:
            raise AttestError("--trusted-root applies to --identity/--issuer (Sigstore) verification")


@dataclass
class Outcome:
    """The result of verifying one bundle file."""

    problems: list[str] = field(default_factory=list)
    """Why verification failed, one line each; empty on success."""
    statements: list[str] = field(default_factory=list)
    """Predicate types of the verified statements (or ``message-signature``)."""
    files_checked: int = 0
    """Signed files or resources compared against the disk."""
    digests: dict[str, str] = field(default_factory=dict, repr=False)
    """SHA-256 of files already hashed in this verification (JSON Lines re-use them)."""

    @property
    def ok(self) -> bool:
        """Whether everything verified."""
        return not self.problems and bool(self.statements)

    def add(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)


def _read_bundles(bundle_file: Path) -> list[str]:
    try:
        with open(bundle_file, "rb") as f:
            data = f.read(MAX_BUNDLE + 1)
    except OSError as exc:
        raise AttestError(f"{bundle_file}: {exc.strerror or exc}") from None
    if len(data) > MAX_BUNDLE:
        raise VerificationError(f"{bundle_file}: larger than {MAX_BUNDLE} bytes")
    text = data.decode("utf-8", "replace")
    lines = [line for line in text.splitlines() if line.strip()]
    if len(lines) > 1 and all(
        line.lstrip().startswith("{") and line.rstrip().endswith("}") for line in lines
    ):
        return lines
    if not text.strip():
        raise VerificationError(f"{bundle_file}: empty bundle file")
    return [text]


def _sha256(path: Path, cache: dict[str, str] | None = None) -> str:
    key = str(path)
    if cache is not None and key in cache:
        return cache[key]
    try:
        digest = hash_file(path).sha256
    except HashError as exc:
        raise oms.ModelReadError(str(exc)) from None
    if cache is not None:
        cache[key] = digest
    return digest


def _check_hint(bundle: ParsedBundle, key: ec.EllipticCurvePublicKey) -> None:
    hint = bundle.key_hint
    if hint and len(hint) == 64 and all(c in "0123456789abcdef" for c in hint) and hint != keys.key_hint(key):
        raise VerificationError("wrong key: the bundle names a different signing key than the one given")


def _pae_compat(payload: bytes) -> bytes:
    # model_signing < 1.0 signed str(bytes) inside a str (see its sign_sigstore_pb.pae_compat)
    text = f"DSSEV1 {len(INTOTO_PAYLOAD_TYPE)} {INTOTO_PAYLOAD_TYPE} {len(payload)} {payload!r}"
    return text.encode("utf-8")


def _verify_local(
    bundle: ParsedBundle, key: ec.EllipticCurvePublicKey, path: Path
) -> tuple[str, bytes] | None:
    """Check a key or PKI signature; returns the DSSE ``(type, payload)``, or ``None`` for a message."""
    _check_hint(bundle, key)
    if bundle.envelope is not None:
        env = bundle.envelope
        if keys.verify(key, env.signature, pae(env.payload_type, env.payload)):
            return env.payload_type, env.payload
        if keys.verify(key, env.signature, _pae_compat(env.payload)):
            return env.payload_type, env.payload
        raise VerificationError("bad signature: the DSSE signature does not verify with the given key")
    if not path.is_file():
        raise VerificationError("a message-signature bundle signs one file; PATH is not a file")
    digest = bytes.fromhex(_sha256(path))
    if bundle.message_digest is not None and bundle.message_digest[1] != digest:
        raise VerificationError(f"changed: {path.name} (its SHA-256 differs from the signed digest)")
    assert bundle.message_signature is not None
    try:
        key.verify(bundle.message_signature, digest, ec.ECDSA(utils.Prehashed(hashes.SHA256())))
    except InvalidSignature:
        raise VerificationError(
            "bad signature: the message signature does not verify with the given key"
        ) from None
    return None


def _verify_sigstore(bundle: ParsedBundle, trust: Trust, path: Path) -> tuple[str, bytes] | None:
    from sigstore.errors import Error as SigstoreError
    from sigstore.hashes import Hashed
    from sigstore.models import Bundle, TrustedRoot
    from sigstore.verify import Verifier, policy
    from sigstore_models.common.v1 import HashAlgorithm

    try:
        if trust.trusted_root:
            verifier = Verifier(trusted_root=TrustedRoot.from_file(trust.trusted_root))
        else:
            # Offline on purpose (embedded or cached trust root): its warning saying so is noise here.
            logging.getLogger("sigstore._internal.tuf").setLevel(logging.ERROR)
            verifier = Verifier.production(offline=True)
        sig_bundle = Bundle.from_json(bundle.raw)
        identity = policy.Identity(identity=str(trust.identity), issuer=str(trust.issuer))
        if bundle.envelope is not None:
            payload_type, payload = verifier.verify_dsse(sig_bundle, identity)
            return payload_type, payload
        if not path.is_file():
            raise VerificationError("a message-signature bundle signs one file; PATH is not a file")
        digest = bytes.fromhex(_sha256(path))
        if bundle.message_digest is not None and bundle.message_digest[1] != digest:
            raise VerificationError(f"changed: {path.name} (its SHA-256 differs from the signed digest)")
        hashed = Hashed(algorithm=HashAlgorithm.SHA2_256, digest=digest)
        verifier.verify_artifact(hashed, sig_bundle, identity)
        return None
    except SigstoreError as exc:
        message = str(exc)
        diagnostics = getattr(exc, "diagnostics", None)
        if callable(diagnostics):
            message = " ".join(str(diagnostics()).split())
        raise VerificationError(f"Sigstore verification failed: {message}") from None
    except (ValueError, OSError) as exc:
        raise VerificationError(f"Sigstore verification failed: {exc}") from None


def _signed_content(bundle: ParsedBundle, trust: Trust, path: Path) -> tuple[str, bytes] | None:
    try:
        public = keys.load_public_key(trust.key) if trust.key else None
        anchors = keys.load_certificates(trust.cert_chain) if trust.cert_chain else None
    except AttestError as exc:
        raise VerificationError(f"wrong key: unusable verification material: {exc}") from None
    if public is not None:
        return _verify_local(bundle, public, path)
    if anchors is not None:
        if not bundle.chain:
            raise VerificationError("the bundle carries no certificate chain (not a PKI signature)")
        return _verify_local(bundle, pki.verify_chain(list(bundle.chain), anchors), path)
    return _verify_sigstore(bundle, trust, path)


def _excluded(model: Path, bundle_file: Path, extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    return oms.default_ignore(model, bundle_file, extra)


def _check_oms(statement: dict[str, Any], path: Path, bundle_file: Path, outcome: Outcome) -> None:
    signed = oms.manifest_from_statement(statement)
    serialization = signed.serialization
    ignore = _excluded(path, bundle_file, serialization.ignore_paths)
    actual = oms.compute_manifest(
        path,
        oms.Serialization(
            serialization.method,
            serialization.hash_type,
            serialization.shard_size,
            serialization.allow_symlinks,
            ignore,
        ),
    )
    outcome.files_checked += len(signed.resources)

    shards = serialization.method == "shards"

    def file_of(name: str) -> str:
        return oms.resource_file(name, shards)

    signed_files = {file_of(n) for n in signed.resources}
    actual_files = {file_of(n) for n in actual.resources}
    for name in sorted(signed_files - actual_files):
        outcome.add(f"missing: {name}")
    for name in sorted(actual_files - signed_files):
        outcome.add(f"extra (unsigned): {name}")
    changed = {
        file_of(n)
        for n in set(signed.resources) | set(actual.resources)
        if file_of(n) in signed_files & actual_files and signed.resources.get(n) != actual.resources.get(n)
    }
    for name in sorted(changed):
        outcome.add(f"changed: {name}")


def _check_subjects(statement: dict[str, Any], path: Path, bundle_file: Path, outcome: Outcome) -> None:
    subjects = statement.get("subject")
    if not isinstance(subjects, list) or not subjects:
        raise VerificationError("statement has no subjects")
    signed: dict[str, str] = {}
    for subject in subjects:
        digest = subject.get("digest") if isinstance(subject, dict) else None
        if not isinstance(digest, dict) or not isinstance(digest.get("sha256"), str):
            raise VerificationError(f"subject {str(subject)[:200]} carries no sha256 digest")
        signed[str(subject.get("name", ""))] = str(digest["sha256"]).lower()
    if path.is_file():
        outcome.files_checked += 1
        if _sha256(path, outcome.digests) not in signed.values():
            outcome.add(f"changed: {path.name} (its SHA-256 is not among the signed subjects)")
        return
    ignore = _excluded(path, bundle_file)
    files = dict(oms.list_model_files(path, oms.Serialization(ignore_paths=ignore)))
    # A scan of several roots names subjects "<root name>/<path>": verify this root's share.
    prefix = f"{path.resolve().name}/"
    if not any(name in files for name in signed) and any(name.startswith(prefix) for name in signed):
        signed = {name[len(prefix) :]: d for name, d in signed.items() if name.startswith(prefix)}
    outcome.files_checked += len(signed)
    for name, digest in sorted(signed.items()):
        if name not in files:
            outcome.add(f"missing: {name}")
        elif _sha256(files[name], outcome.digests) != digest:
            outcome.add(f"changed: {name}")
    for name in sorted(set(files) - set(signed)):
        outcome.add(f"extra (unsigned): {name}")


def verify_bundle_file(path: str | Path, bundle_file: str | Path, trust: Trust) -> Outcome:
    """Verify every bundle in ``bundle_file`` against ``path``; problems are collected, not raised.

    Raises :class:`AttestError` for unusable inputs (missing path, unreadable key): a usage error.
    """
    trust.check()
    model, bundles_path = Path(path), Path(bundle_file)
    if not model.exists():
        raise AttestError(f"{model}: no such file or directory")
    outcome = Outcome()
    try:
        texts = _read_bundles(bundles_path)
    except VerificationError as exc:
        outcome.add(str(exc))
        return outcome
    for number, text in enumerate(texts, 1):
        where = f"bundle {number}: " if len(texts) > 1 else ""
        try:
            bundle = parse_bundle(text)
            content = _signed_content(bundle, trust, model)
            if content is None:
                outcome.statements.append("message-signature")
                outcome.files_checked += 1
                continue
            payload_type, payload = content
            if payload_type != INTOTO_PAYLOAD_TYPE:
                raise VerificationError(f"DSSE payload type {payload_type!r} is not an in-toto statement")
            statement = payload_json(Envelope(payload_type, payload, b""))
            kind = str(statement.get("predicateType"))
            if kind in (oms.PREDICATE_TYPE, oms.PREDICATE_TYPE_COMPAT):
                _check_oms(statement, model, bundles_path, outcome)
            else:
                _check_subjects(statement, model, bundles_path, outcome)
            outcome.statements.append(kind)
        except VerificationError as exc:
            outcome.add(f"{where}{exc}")
        except oms.ModelReadError as exc:
            outcome.add(f"{where}cannot read the files: {exc}")
        except (AttributeError, TypeError, KeyError, ValueError) as exc:  # hostile statement shapes
            outcome.add(f"{where}malformed statement: {type(exc).__name__}: {str(exc)[:200]}")
    return outcome


def decode_payload(text: str) -> bytes:
    """The DSSE payload bytes of a bundle JSON (unverified; for display and tests)."""
    bundle = parse_bundle(text)
    if bundle.envelope is None:
        raise VerificationError("not a DSSE bundle")
    return bundle.envelope.payload


__all__ = ["Outcome", "Trust", "decode_payload", "verify_bundle_file"]
