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
from scanner.suppressions import Suppression, parse_suppressions

_TOP_KEYS = {"version", "fail_on", "overrides", "allowed_globals", "required_checks", "suppressions", "rules"}
KNOWN_CHECKS = frozenset({"signature"})
"""Names ``required_checks`` may hold (``signature``: every model directory carries a model signature)."""
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
    suppressions: tuple[Suppression, ...] = ()
    """Validated suppression entries (see :mod:`scanner.suppressions`)."""
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
    unknown_checks = sorted(set(required) - KNOWN_CHECKS)
    if unknown_checks:
        known_checks = sorted(KNOWN_CHECKS)
        raise _fail(source, f"required_checks: unknown check(s) {unknown_checks}; known: {known_checks}")
    # --- suppressions and catalogue entries (issue 5) ---
    try:
        suppressions = parse_suppressions(data.get("suppressions"))
    except ValueError as exc:
        raise _fail(source, str(exc)) from None
    _check_catalogue_copy(data.get("rules"), source)
    # --- end suppressions ---
    return Policy(
        fail_on=fail_on,
        overrides=overrides,
        allowed_globals=frozenset(allowed),
        required_checks=tuple(required),
        suppressions=tuple(suppressions),
        source=source,
    )


def _check_catalogue_copy(entries: Any, source: str) -> None:
    """The shipped policy file also defines the AS-POL rules; a copy of it may keep that ``rules:`` list,
    but only unchanged: rules are changed through ``overrides``, so an edited definition is an error."""
    if entries is None:
        return
    if not isinstance(entries, list):
        raise _fail(source, "rules: must be the list of rule definitions copied from the shipped file")
    known = all_rules()
    for entry in entries:
        rule_id = entry.get("id") if isinstance(entry, dict) else None
        rule = known.get(rule_id) if isinstance(rule_id, str) else None
        same = rule is not None and all(
            str(entry.get(key, "")).strip() == str(getattr(rule, key) or "").strip()
            for key in ("title", "rationale", "fix", "reference")
        )
        if not same or rule is None or str(entry.get("severity", "")).strip().lower() != rule.severity.label:
            raise _fail(
                source,
                f"rules: {rule_id!r} differs from the shipped definition; rule definitions cannot be "
                "changed in a policy (use overrides to change a severity or disable a rule)",
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
