"""The scan policy: threshold, per-rule overrides, extra allowed pickle globals, required checks.

The default policy is ``rules/policy.yaml``; ``--policy FILE`` replaces it. Every key is validated: a typo
is a :class:`PolicyError` (exit 2), never silently ignored.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from scanner.model import Finding, Severity
from scanner.resources import RulesDataError, load_rules_file, load_yaml_text
from scanner.rulebook import RULE_ID, all_rules

_TOP_KEYS = {"version", "fail_on", "overrides", "allowed_globals", "required_checks", "suppressions"}
_GLOBAL = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_][\w.]*$")


class PolicyError(Exception):
    """The policy file is invalid; the message names the file and the key."""


@dataclass(frozen=True)
class RuleOverride:
    """A policy change to one rule."""

    disabled: bool = False
    """Drop this rule's findings entirely."""
    severity: Severity | None = None
    """Replace the rule's severity."""


@dataclass(frozen=True)
class Policy:
    """A validated policy."""

    fail_on: Severity = Severity.MEDIUM
    """Findings at or above this fail the scan."""
    overrides: Mapping[str, RuleOverride] = field(default_factory=dict)
    """Per-rule overrides by rule id."""
    allowed_globals: frozenset[tuple[str, str]] = frozenset()
    """Extra ``(module, qualname)`` pairs a pickle may import (an organisation's own classes)."""
    required_checks: tuple[str, ...] = ()
    """Checks that must hold (e.g. ``signature``), enforced by the commands that know them."""
    suppressions: tuple[Any, ...] = ()
    """Validated suppression entries (see :mod:`scanner.suppressions` when present)."""
    source: str = "rules/policy.yaml"
    """Where the policy came from."""

    def apply(self, finding: Finding) -> Finding | None:
        """The finding after overrides, or ``None`` when its rule is disabled."""
        override = self.overrides.get(finding.rule_id)
        if override is None:
            return finding
        if override.disabled:
            return None
        if override.severity is not None:
            return replace(finding, severity=override.severity)
        return finding


def _fail(source: str, message: str) -> PolicyError:
    return PolicyError(f"{source}: {message}")


def parse_policy(data: Any, source: str) -> Policy:
    """Validate parsed YAML into a :class:`Policy`."""
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise _fail(source, "the policy must be a mapping")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise _fail(source, f"unknown key(s) {unknown}; allowed: {sorted(_TOP_KEYS)}")
    if data.get("version", 1) != 1:
        raise _fail(source, f"unsupported policy version {data.get('version')!r} (expected 1)")
    try:
        fail_on = Severity.parse(str(data.get("fail_on", "medium")))
    except ValueError as exc:
        raise _fail(source, f"fail_on: {exc}") from None
    overrides: dict[str, RuleOverride] = {}
    rules_data = data.get("overrides") or {}
    if not isinstance(rules_data, dict):
        raise _fail(source, "overrides: must map rule ids to overrides")
    known = all_rules()
    for rule_id, entry in rules_data.items():
        if not isinstance(rule_id, str) or not RULE_ID.match(rule_id):
            raise _fail(source, f"overrides: {rule_id!r} is not a rule id (AS-<AREA>-NNN)")
        if rule_id not in known:
            raise _fail(source, f"overrides: no rule {rule_id} exists")
        if not isinstance(entry, dict) or set(entry) - {"disabled", "severity"}:
            raise _fail(source, f"overrides.{rule_id}: expected keys 'disabled' and/or 'severity'")
        disabled = entry.get("disabled", False)
        if not isinstance(disabled, bool):
            raise _fail(source, f"overrides.{rule_id}.disabled: must be true or false")
        severity = None
        if "severity" in entry:
            try:
                severity = Severity.parse(str(entry["severity"]))
            except ValueError as exc:
                raise _fail(source, f"overrides.{rule_id}.severity: {exc}") from None
        overrides[rule_id] = RuleOverride(disabled=disabled, severity=severity)
    allowed: set[tuple[str, str]] = set()
    for entry in data.get("allowed_globals") or []:
        if not isinstance(entry, str) or not _GLOBAL.match(entry):
            raise _fail(source, f"allowed_globals: {entry!r} must be 'module:qualname'")
        module, qualname = entry.split(":", 1)
        allowed.add((module, qualname))
    required = data.get("required_checks") or []
    if not isinstance(required, list) or not all(isinstance(r, str) for r in required):
        raise _fail(source, "required_checks: must be a list of check names")
    suppressions = data.get("suppressions") or []
    if not isinstance(suppressions, list):
        raise _fail(source, "suppressions: must be a list")
    return Policy(
        fail_on=fail_on,
        overrides=overrides,
        allowed_globals=frozenset(allowed),
        required_checks=tuple(required),
        suppressions=tuple(suppressions),
        source=source,
    )


def default_policy() -> Policy:
    """The policy shipped in ``rules/policy.yaml``."""
    try:
        return parse_policy(load_rules_file("policy.yaml"), "rules/policy.yaml")
    except RulesDataError as exc:
        raise PolicyError(str(exc)) from None


def load_policy(path: str | None) -> Policy:
    """Load ``path``, or the default policy when ``None``."""
    if path is None:
        return default_policy()
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"{path}: cannot read policy: {exc.strerror or exc}") from None
    try:
        data = load_yaml_text(text, path)
    except RulesDataError as exc:
        raise PolicyError(str(exc)) from None
    return parse_policy(data, path)
