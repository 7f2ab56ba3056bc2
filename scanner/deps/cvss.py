"""CVSS base scores computed from vectors (v3.0/v3.1 and v2), and the severity a score maps to.

OSV records usually give the vector only (``CVSS:3.1/AV:N/AC:L/...``); the base score is computed with
the equations of the CVSS v3.1 and v2 specifications. A CVSS v4 vector is not scored here (its score comes
from a lookup table of macro vectors); such a record falls back to its qualitative severity, else high.
"""

from __future__ import annotations

import math

from scanner.model import Severity

_V3 = {
    "AV": {"N": 0.85, "A": 0.62, "L": 0.55, "P": 0.2},
    "AC": {"L": 0.77, "H": 0.44},
    "UI": {"N": 0.85, "R": 0.62},
    "C": {"H": 0.56, "L": 0.22, "N": 0.0},
    "I": {"H": 0.56, "L": 0.22, "N": 0.0},
    "A": {"H": 0.56, "L": 0.22, "N": 0.0},
}
_V3_PR = {"U": {"N": 0.85, "L": 0.62, "H": 0.27}, "C": {"N": 0.85, "L": 0.68, "H": 0.5}}
_V2 = {
    "AV": {"L": 0.395, "A": 0.646, "N": 1.0},
    "AC": {"H": 0.35, "M": 0.61, "L": 0.71},
    "Au": {"M": 0.45, "S": 0.56, "N": 0.704},
    "C": {"N": 0.0, "P": 0.275, "C": 0.660},
    "I": {"N": 0.0, "P": 0.275, "C": 0.660},
    "A": {"N": 0.0, "P": 0.275, "C": 0.660},
}
_QUALITATIVE = {
    "CRITICAL": Severity.CRITICAL,
    "HIGH": Severity.HIGH,
    "MODERATE": Severity.MEDIUM,
    "MEDIUM": Severity.MEDIUM,
    "LOW": Severity.LOW,
    "NONE": Severity.INFO,
}


def _metrics(vector: str) -> dict[str, str]:
    metrics: dict[str, str] = {}
    for part in vector.strip().split("/"):
        key, sep, value = part.partition(":")
        if sep:
            metrics[key] = value
    return metrics


def _roundup(value: float) -> float:
    """The CVSS v3.1 Roundup: the smallest one-decimal number >= value, robust to float error."""
    scaled = round(value * 100_000)
    if scaled % 10_000 == 0:
        return scaled / 100_000
    return (math.floor(scaled / 10_000) + 1) / 10.0


def score_v3(vector: str) -> float | None:
    """Base score of a CVSS v3.x vector, or ``None`` when a base metric is missing or invalid."""
    m = _metrics(vector)
    try:
        scope = m["S"]
        weights = {k: table[m[k]] for k, table in _V3.items()}
        pr = _V3_PR[scope][m["PR"]]
    except KeyError:
        return None
    iss = 1 - (1 - weights["C"]) * (1 - weights["I"]) * (1 - weights["A"])
    changed = 7.52 * (iss - 0.029) - 3.25 * (iss - 0.02) ** 15
    impact = 6.42 * iss if scope == "U" else changed
    exploitability = 8.22 * weights["AV"] * weights["AC"] * pr * weights["UI"]
    if impact <= 0:
        return 0.0
    total = impact + exploitability if scope == "U" else 1.08 * (impact + exploitability)
    return _roundup(min(total, 10.0))


def score_v2(vector: str) -> float | None:
    """Base score of a CVSS v2 vector, or ``None`` when a base metric is missing or invalid."""
    m = _metrics(vector)
    try:
        w = {k: table[m[k]] for k, table in _V2.items()}
    except KeyError:
        return None
    impact = 10.41 * (1 - (1 - w["C"]) * (1 - w["I"]) * (1 - w["A"]))
    exploitability = 20 * w["AV"] * w["AC"] * w["Au"]
    factor = 0.0 if impact == 0 else 1.176
    return round(((0.6 * impact) + (0.4 * exploitability) - 1.5) * factor + 1e-9, 1)


def score_vector(kind: str, vector: str) -> float | None:
    """Base score for an OSV ``severity`` entry (``CVSS_V3``/``CVSS_V2``); a bare number is taken as is."""
    text = vector.strip()
    try:
        number = float(text)
    except ValueError:
        pass
    else:
        return number if 0.0 <= number <= 10.0 else None
    if kind == "CVSS_V3" or text.startswith("CVSS:3"):
        return score_v3(text)
    if kind == "CVSS_V2":
        return score_v2(text)
    return None


def severity_of_score(score: float) -> Severity:
    """The CVSS qualitative rating of a score (0 none -> info, <4 low, <7 medium, <9 high, else critical)."""
    if score <= 0.0:
        return Severity.INFO
    if score < 4.0:
        return Severity.LOW
    if score < 7.0:
        return Severity.MEDIUM
    if score < 9.0:
        return Severity.HIGH
    return Severity.CRITICAL


def severity_of_label(label: str) -> Severity | None:
    """A qualitative severity label (``HIGH``, ``MODERATE`` ...) as a severity, or ``None``."""
    return _QUALITATIVE.get(label.strip().upper())
