"""Helpers shared by the pickle engine tests."""

from __future__ import annotations

from typing import Any

from tests.conftest import FIXTURES

PICKLE = FIXTURES / "pickle"
BENIGN = PICKLE / "benign"
HOSTILE = PICKLE / "hostile"


def scan_json(run_cli: Any, *paths: str, expect: int | None = None) -> dict[str, Any]:
    """Scan in process and return the JSON result (checking the exit code when given)."""
    result = run_cli("scan", *paths, "--json", "-", "--reproducible")
    if expect is not None:
        assert result.code == expect, result.out[-2000:] + result.err
    data: dict[str, Any] = result.json()
    return data


def findings(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every finding of every artifact."""
    return [f for artifact in data["artifacts"] for f in artifact["findings"]]


def find(data: dict[str, Any], rule_id: str, dotted: str | None = None) -> dict[str, Any]:
    """The first finding of ``rule_id`` (whose extra module.qualname is ``dotted``, when given)."""
    for f in findings(data):
        extra = f.get("extra", {})
        if f["rule_id"] == rule_id and (dotted is None or f"{extra.get('module')}.{extra.get('qualname')}" == dotted):
            return f
    raise AssertionError(f"no {rule_id} {dotted or ''} in {[(f['rule_id'], f.get('extra')) for f in findings(data)]}")
