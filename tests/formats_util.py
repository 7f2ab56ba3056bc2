"""Helpers shared by the format analyzer tests (ONNX, Keras, SavedModel, GGUF, chat templates)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import FIXTURES

FORMATS = FIXTURES / "formats_b"


def scan(run_cli: Any, path: Path | str, *extra: str) -> tuple[int, dict[str, Any]]:
    """Scan one path in process; returns the exit code and the JSON document."""
    r = run_cli("scan", str(path), "--json", "-", *extra)
    assert "Traceback" not in r.err
    return r.code, r.json()


def only_artifact(doc: dict[str, Any]) -> dict[str, Any]:
    """The single artifact of a one-file scan."""
    (art,) = doc["artifacts"]
    return art


def with_rule(art: dict[str, Any], rule_id: str) -> list[dict[str, Any]]:
    """Findings of ``art`` with this rule id."""
    return [f for f in art["findings"] if f["rule_id"] == rule_id]


def above_low(art: dict[str, Any]) -> list[dict[str, Any]]:
    """Findings above low (what fails a default scan)."""
    return [f for f in art["findings"] if f["severity"] not in ("info", "low")]
