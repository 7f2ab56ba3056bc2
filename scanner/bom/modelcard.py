"""What a model's card (``README.md`` with YAML front matter) and ``config.json`` say, for the BOM.

Front matter gives ``license``, ``datasets``, ``metrics`` (and values from ``model-index`` results),
``pipeline_tag``; the body's sections titled like *Limitations* / *Bias, Risks, and Limitations* and
*Intended use* / *Uses* give the considerations. ``config.json`` gives the architecture
(``architectures[0]``) and family (``model_type``). Reads are bounded and parsed as data only
(``yaml.safe_load``, ``json``); every string is passed through secret redaction.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from scanner.secret_scan import redact

MAX_CARD = 256 << 10
MAX_CONFIG = 1 << 20
MAX_TEXT = 1000
MAX_ITEMS = 50
CARD_FIELDS = ("license", "datasets", "metrics", "limitations", "intended_use")
"""Model card fields the BOM expects; those not found are listed in ``artifact-scanner:modelcard:missing``."""

_TASKS = {
    "ForCausalLM": "text-generation",
    "LMHeadModel": "text-generation",
    "ForSequenceClassification": "text-classification",
    "ForTokenClassification": "token-classification",
    "ForQuestionAnswering": "question-answering",
    "ForMaskedLM": "fill-mask",
    "ForConditionalGeneration": "text2text-generation",
    "ForImageClassification": "image-classification",
    "ForObjectDetection": "object-detection",
    "ForSpeechSeq2Seq": "automatic-speech-recognition",
    "ForCTC": "automatic-speech-recognition",
}
_LIMITATIONS = re.compile(r"limitation|bias|risk", re.IGNORECASE)
_USES = re.compile(r"intended use|^uses$|use cases?|direct use", re.IGNORECASE)


@dataclass(frozen=True)
class CardFacts:
    """Facts from a model card and config."""

    license: str | None = None
    """SPDX id or name from the front matter."""
    datasets: tuple[str, ...] = ()
    """Training/evaluation dataset names."""
    metrics: tuple[tuple[str, str | None], ...] = ()
    """``(metric type, value or None)``."""
    limitations: tuple[str, ...] = ()
    """Technical limitations text."""
    intended_use: tuple[str, ...] = ()
    """Intended use cases."""
    task: str | None = None
    """Task (``pipeline_tag``, else derived from the architecture's class name)."""
    architecture: str | None = None
    """``config.json`` ``architectures[0]``."""
    family: str | None = None
    """``config.json`` ``model_type``."""
    derived_task: str | None = None
    """The task guessed from the architecture's class name (``task`` when no ``pipeline_tag``)."""
    transformers_version: str | None = None
    """``config.json`` ``transformers_version``: the library version the model was saved with."""

    def missing(self) -> list[str]:
        """Expected card fields that were not found."""
        present = {
            "license": bool(self.license),
            "datasets": bool(self.datasets),
            "metrics": bool(self.metrics),
            "limitations": bool(self.limitations),
            "intended_use": bool(self.intended_use),
        }
        return [name for name in CARD_FIELDS if not present[name]]


def _read(path: Path | None, limit: int) -> str | None:
    if path is None:
        return None
    try:
        with open(path, "rb") as f:
            return f.read(limit).decode("utf-8", "replace")
    except OSError:
        return None


def _text(value: Any) -> str:
    return redact(" ".join(str(value).split()))[:MAX_TEXT]


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (_text(value),)
    if isinstance(value, list):
        return tuple(_text(v) for v in value[:MAX_ITEMS] if isinstance(v, str | int | float))
    return ()


def _front_matter(text: str) -> tuple[dict[str, Any], str]:
    if not text.startswith("---"):
        return {}, text
    end = text.find("\n---", 3)
    if end < 0:
        return {}, text
    try:
        data = yaml.safe_load(text[3:end])
    except (yaml.YAMLError, RecursionError):  # deep nesting is hostile, not a crash
        data = None
    body = text[end + 4 :]
    return (data if isinstance(data, dict) else {}), body


def _sections(body: str) -> dict[str, str]:
    sections: dict[str, str] = {}
    title = None
    lines: list[str] = []
    for line in body.splitlines():
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if heading:
            if title is not None:
                sections.setdefault(title, "\n".join(lines).strip())
            title, lines = heading.group(1), []
        elif title is not None:
            lines.append(line)
    if title is not None:
        sections.setdefault(title, "\n".join(lines).strip())
    return sections


def _metrics(front: dict[str, Any]) -> tuple[tuple[str, str | None], ...]:
    found: dict[str, str | None] = {}
    index = front.get("model-index")
    if isinstance(index, list):
        for entry in index[:MAX_ITEMS]:
            for result in (entry.get("results") or [])[:MAX_ITEMS] if isinstance(entry, dict) else []:
                for metric in (result.get("metrics") or [])[:MAX_ITEMS] if isinstance(result, dict) else []:
                    if isinstance(metric, dict) and metric.get("type"):
                        value = metric.get("value")
                        found[_text(metric["type"])] = _text(value) if value is not None else None
    for name in _strings(front.get("metrics")):
        found.setdefault(name, None)
    return tuple(found.items())


def _task_from(architecture: str | None) -> str | None:
    if not architecture:
        return None
    return next((task for suffix, task in _TASKS.items() if architecture.endswith(suffix)), None)


def read_card(readme: Path | None, config: Path | None) -> CardFacts:
    """Facts from a README model card and a ``config.json`` (either may be ``None`` or unreadable)."""
    front: dict[str, Any] = {}
    sections: dict[str, str] = {}
    text = _read(readme, MAX_CARD)
    if text is not None:
        front, body = _front_matter(text)
        sections = _sections(body)
    architecture = family = transformers_version = None
    raw = _read(config, MAX_CONFIG)
    if raw is not None:
        try:
            data = json.loads(raw)
        except (ValueError, RecursionError):
            data = None
        if isinstance(data, dict):
            archs = data.get("architectures")
            if isinstance(archs, list) and archs and isinstance(archs[0], str):
                architecture = _text(archs[0])
            if isinstance(data.get("model_type"), str):
                family = _text(data["model_type"])
            version = data.get("transformers_version")
            if isinstance(version, str) and re.fullmatch(r"[0-9][0-9A-Za-z.+!-]{0,40}", version):
                transformers_version = version
    license_value = front.get("license")
    if isinstance(license_value, list):
        license_value = license_value[0] if license_value else None
    limitations = _strings(front.get("limitations")) + tuple(
        _text(v) for k, v in sections.items() if _LIMITATIONS.search(k) and v.strip()
    )
    uses = _strings(front.get("intended_use") or front.get("intended-use")) + tuple(
        _text(v) for k, v in sections.items() if _USES.search(k.strip()) and v.strip()
    )
    pipeline = front.get("pipeline_tag")
    return CardFacts(
        license=_text(license_value) if license_value else None,
        datasets=_strings(front.get("datasets")),
        metrics=_metrics(front),
        limitations=limitations[:MAX_ITEMS],
        intended_use=uses[:MAX_ITEMS],
        task=_text(pipeline) if isinstance(pipeline, str) else _task_from(architecture),
        architecture=architecture,
        family=family,
        derived_task=_task_from(architecture),
        transformers_version=transformers_version,
    )


def model_card_json(facts: CardFacts, bom_ref: str) -> dict[str, Any]:
    """The CycloneDX 1.6 ``modelCard`` object (cyclonedx-python-lib has no class for it)."""
    card: dict[str, Any] = {"bom-ref": bom_ref}
    parameters: dict[str, Any] = {}
    if facts.task:
        parameters["task"] = facts.task
    if facts.family:
        parameters["architectureFamily"] = facts.family
    if facts.architecture:
        parameters["modelArchitecture"] = facts.architecture
    if facts.datasets:
        parameters["datasets"] = [{"type": "dataset", "name": name} for name in facts.datasets]
    if parameters:
        card["modelParameters"] = parameters
    if facts.metrics:
        card["quantitativeAnalysis"] = {
            "performanceMetrics": [
                {"type": kind, **({"value": value} if value is not None else {})}
                for kind, value in facts.metrics
            ]
        }
    considerations: dict[str, Any] = {}
    if facts.intended_use:
        considerations["useCases"] = list(facts.intended_use)
    if facts.limitations:
        considerations["technicalLimitations"] = list(facts.limitations)
    if considerations:
        card["considerations"] = considerations
    missing = facts.missing()
    if missing:
        card["properties"] = [{"name": "artifact-scanner:modelcard:missing", "value": ",".join(missing)}]
    return card
