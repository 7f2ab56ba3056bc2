"""The rule catalogue: every finding refers to a rule defined in a ``rules/*.yaml`` file.

A rules file may hold a top-level ``rules:`` list; each entry has

- ``id``: ``AS-<AREA>-NNN`` (AREA is 2-5 upper-case letters), stable forever once released;
- ``severity``: ``critical|high|medium|low|info`` (the default; the policy may override it);
- ``title``: one line;
- ``rationale``: why it matters;
- ``fix``: what to do about it;
- ``reference`` (optional): a URL, CVE or GHSA id.

Other top-level keys in the same files are data owned by one analyzer (allowlists, patterns).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from scanner.model import Finding, Location, Severity
from scanner.resources import RulesDataError, load_rules_file, rules_files

RULE_ID = re.compile(r"^AS-[A-Z]{2,5}-\d{3}$")
_REQUIRED = ("id", "severity", "title", "rationale", "fix")
_ALLOWED = {*_REQUIRED, "reference"}


@dataclass(frozen=True)
class Rule:
    """A rule as defined in ``rules/``."""

    id: str
    """Stable id ``AS-<AREA>-NNN``."""
    severity: Severity
    """Default severity."""
    title: str
    """One-line title."""
    rationale: str
    """Why it matters."""
    fix: str
    """What to do."""
    reference: str | None
    """Supporting reference, if any."""
    source: str
    """The rules file it came from."""


def _parse_rule(entry: Any, source: str) -> Rule:
    if not isinstance(entry, dict):
        raise RulesDataError(f"rules/{source}: each rule must be a mapping, got {entry!r}")
    missing = [k for k in _REQUIRED if k not in entry]
    unknown = sorted(set(entry) - _ALLOWED)
    if missing or unknown:
        raise RulesDataError(
            f"rules/{source}: rule {entry.get('id')!r}: missing {missing}, unknown {unknown}"
        )
    rule_id = str(entry["id"])
    if not RULE_ID.match(rule_id):
        raise RulesDataError(f"rules/{source}: bad rule id {rule_id!r} (expected AS-<AREA>-NNN)")
    try:
        severity = Severity.parse(str(entry["severity"]))
    except ValueError as exc:
        raise RulesDataError(f"rules/{source}: rule {rule_id}: {exc}") from None
    reference = entry.get("reference")
    return Rule(
        id=rule_id,
        severity=severity,
        title=str(entry["title"]).strip(),
        rationale=str(entry["rationale"]).strip(),
        fix=str(entry["fix"]).strip(),
        reference=str(reference) if reference else None,
        source=source,
    )


@functools.cache
def all_rules() -> Mapping[str, Rule]:
    """Every rule, by id; duplicate ids across files are an error."""
    rules: dict[str, Rule] = {}
    for name in rules_files():
        data = load_rules_file(name)
        if not isinstance(data, dict) or "rules" not in data:
            continue
        entries = data["rules"]
        if not isinstance(entries, list):
            raise RulesDataError(f"rules/{name}: 'rules' must be a list")
        for entry in entries:
            rule = _parse_rule(entry, name)
            if rule.id in rules:
                raise RulesDataError(f"rule {rule.id} defined in both {rules[rule.id].source} and {name}")
            rules[rule.id] = rule
    return rules


def get_rule(rule_id: str) -> Rule:
    """The rule with this id; an unknown id is a programming error."""
    try:
        return all_rules()[rule_id]
    except KeyError:
        raise RulesDataError(f"no rule {rule_id} in rules/") from None


def finding(
    rule_id: str,
    *,
    analyzer: str,
    detail: str = "",
    member: str | None = None,
    offset: int | None = None,
    evidence: str | None = None,
    severity: Severity | None = None,
    title: str | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Finding:
    """Build a finding for ``rule_id``, taking defaults from the rule and redacting secrets.

    ``detail``, ``evidence`` and every string inside ``extra`` are passed through secret redaction, so
    no output can carry a raw secret whatever renders it.
    """
    from scanner.secret_scan import redact, redact_tree

    rule = get_rule(rule_id)
    return Finding(
        rule_id=rule.id,
        severity=severity if severity is not None else rule.severity,
        title=redact(title) if title else rule.title,
        detail=redact(detail),
        location=Location(member=member, offset=offset),
        evidence=redact(evidence[:2000]) if evidence is not None else None,
        reference=rule.reference,
        analyzer=analyzer,
        extra=redact_tree(dict(extra)) if extra else {},
    )
