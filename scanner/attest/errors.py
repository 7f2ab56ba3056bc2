"""Typed errors of the attestation layer, each carrying a one-line diagnostic for the user."""

from __future__ import annotations


class AttestError(Exception):
    """Signing or verification could not be set up (bad key, unreadable file, wrong flags): exit 2."""


class VerificationError(Exception):
    """A bundle does not verify; the message says why (exit 1)."""
