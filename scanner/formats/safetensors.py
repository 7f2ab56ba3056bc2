"""safetensors: an 8-byte little-endian header length, a JSON header, then the raw tensor data.

Only the header is read; tensor bytes are never loaded (they were read once, for hashing).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator
from typing import Any

from scanner.formats.interface import AnalysisContext, Analyzer, Probe
from scanner.model import Finding
from scanner.rulebook import finding
from scanner.secret_scan import find_secrets

MAX_HEADER = 100 << 20
"""The reference implementation refuses headers over 100 MB."""


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key!r} in header")
        out[key] = value
    return out


class SafetensorsAnalyzer(Analyzer):
    """Validates the header bounds and JSON; scans metadata for secrets."""

    name = "safetensors"
    format = "safetensors"
    priority = 200

    def detect(self, probe: Probe) -> bool:
        if probe.size < 10 or len(probe.head) < 10:
            return False
        (length,) = struct.unpack_from("<Q", probe.head)
        return probe.head[8:9] == b"{" and length >= 2

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        probe = ctx.probe
        (length,) = struct.unpack_from("<Q", probe.head)
        if length > MAX_HEADER or length > ctx.limits.max_structure_bytes:
            yield finding(
                "AS-GEN-004",
                analyzer=self.name,
                offset=0,
                detail=f"header claims {length} bytes, over the {MAX_HEADER}-byte limit",
            )
            return
        if 8 + length > probe.size:
            yield finding(
                "AS-GEN-005",
                analyzer=self.name,
                offset=0,
                detail=f"header claims {length} bytes but the file has {probe.size - 8} after the length",
            )
            return
        with ctx.open() as stream:
            stream.seek(8)
            raw = stream.read(length)
        try:
            header = json.loads(raw.decode("utf-8"), object_pairs_hook=_reject_duplicates)
        except (UnicodeDecodeError, ValueError) as exc:
            yield finding(
                "AS-GEN-005", analyzer=self.name, offset=8, detail=f"header is not valid JSON: {exc}"
            )
            return
        if not isinstance(header, dict):
            yield finding("AS-GEN-005", analyzer=self.name, offset=8, detail="header is not a JSON object")
            return
        metadata = header.get("__metadata__") or {}
        tensors = {k: v for k, v in header.items() if k != "__metadata__"}
        ctx.set_property("tensor_count", len(tensors))
        if isinstance(metadata, dict):
            for key, value in metadata.items():
                for match in find_secrets(f"{key}={value}"):
                    yield finding(
                        match.pattern.rule_id,
                        analyzer=self.name,
                        offset=8,
                        detail=f"{match.pattern.name} in __metadata__[{key!r}]",
                        evidence=match.redacted,
                    )
