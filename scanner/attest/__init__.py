"""Attestations: in-toto statements in DSSE envelopes inside Sigstore bundles (v0.3 JSON).

- :mod:`scanner.attest.dsse`: the DSSE pre-authentication encoding and envelopes;
- :mod:`scanner.attest.statement`: in-toto Statement v1 for scan results and BOMs;
- :mod:`scanner.attest.oms`: the OpenSSF model signature (``https://model_signing/signature/v1.0``);
- :mod:`scanner.attest.keys`: key pairs, passphrases and certificate chains;
- :mod:`scanner.attest.bundle`: Sigstore bundles built and parsed with ``sigstore-models``;
- :mod:`scanner.attest.signers`: signing with a local key, a private PKI or Sigstore keyless;
- :mod:`scanner.attest.verify`: checking a bundle against files on disk.

Nothing here loads or runs an artifact; every digest comes from :mod:`scanner.hashing`. Modules that
need ``cryptography`` or sigstore import them themselves, so commands stay fast to start.
"""

PASSWORD_ENV = "ARTIFACT_SCANNER_KEY_PASSWORD"  # noqa: S105 - the variable's name, not a password
"""Environment variable holding a private key's passphrase."""
