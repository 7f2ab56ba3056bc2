"""DSSE (Dead Simple Signing Envelope) v1: pre-authentication encoding and envelope JSON.

See https://github.com/secure-systems-lab/dsse/blob/v1.0.0/protocol.md. The signature covers
``PAE(type, body) = "DSSEv1" SP len(type) SP type SP len(body) SP body`` (lengths in ASCII decimal bytes).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass

INTOTO_PAYLOAD_TYPE = "application/vnd.in-toto+json"


def pae(payload_type: str, payload: bytes) -> bytes:
    """The pre-authentication encoding that DSSE signatures are computed over."""
    kind = payload_type.encode("utf-8")
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


@dataclass(frozen=True)
class Envelope:
    """A DSSE envelope with one signature."""

    payload_type: str
    """Media type of the payload (``application/vnd.in-toto+json`` for statements)."""
    payload: bytes
    """The signed bytes, exactly as signed."""
    signature: bytes
    """Raw signature over :func:`pae` of type and payload (DER ECDSA for our keys)."""

    def to_dict(self) -> dict[str, object]:
        """The protobuf-JSON form used inside Sigstore bundles."""
        return {
            "payload": base64.b64encode(self.payload).decode("ascii"),
            "payloadType": self.payload_type,
            "signatures": [{"sig": base64.b64encode(self.signature).decode("ascii")}],
        }
