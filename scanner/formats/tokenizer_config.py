"""Chat templates in JSON files (``tokenizer_config.json``, ``chat_template.json``, processor configs).

A supplementary analyzer: it runs beside whichever analyzer owns JSON files and only judges the
``chat_template`` value (a string, a list of ``{name, template}``, or a mapping of names to templates).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from scanner.formats.interface import HEAD_SIZE, JSON_FIRST_BYTES, TAIL_SIZE, AnalysisContext, Analyzer, Probe
from scanner.jinja_check import template_findings
from scanner.model import Finding
from scanner.rulebook import finding

NAME = "chat-template-json"
MAX_JSON_BYTES = 64 << 20
_MARKERS = (b'"chat_template"', b'"tokenizer_class"', b'"added_tokens_decoder"')


def named_templates(value: Any) -> Iterator[tuple[str, str]]:
    """``(name, template)`` pairs of a ``chat_template`` value in any of its shapes."""
    if isinstance(value, str):
        yield "default", value
    elif isinstance(value, list):
        for index, entry in enumerate(value):
            if isinstance(entry, dict) and isinstance(entry.get("template"), str):
                yield str(entry.get("name", index)), entry["template"]
            elif isinstance(entry, str):
                yield str(index), entry
    elif isinstance(value, dict):
        for key, entry in value.items():
            if isinstance(entry, str):
                yield str(key), entry


class ChatTemplateJsonAnalyzer(Analyzer):
    """JSON objects that carry (or, being tokenizer configs, may carry) a ``chat_template``."""

    first_bytes = JSON_FIRST_BYTES
    name = NAME
    format = "json"
    supplementary = True

    def detect(self, probe: Probe) -> bool:
        if probe.size > MAX_JSON_BYTES or not probe.is_json_object():
            return False
        # A JSON object larger than head + tail may hold its chat_template where the probe cannot see.
        return probe.size > HEAD_SIZE + TAIL_SIZE or any(m in probe.head or m in probe.tail for m in _MARKERS)

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        limit = min(MAX_JSON_BYTES, ctx.limits.max_structure_bytes)
        if ctx.probe.size > limit:
            yield finding("AS-GEN-004", analyzer=NAME, detail=f"JSON of {ctx.probe.size} bytes not parsed")
            return
        with ctx.open() as stream:
            raw = stream.read(limit)
        try:
            document = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            if b'"chat_template"' in raw:
                yield finding(
                    "AS-GEN-005", analyzer=NAME, detail=f"JSON with a chat_template does not parse: {exc}"
                )
            return
        except RecursionError:
            yield finding("AS-GEN-004", analyzer=NAME, detail="JSON nested too deeply to parse")
            return
        if not isinstance(document, dict) or "chat_template" not in document:
            return
        found = False
        for name, template in named_templates(document["chat_template"]):
            found = True
            yield from template_findings(template, analyzer=NAME, where=f"chat_template {name!r}")
        if ctx.depth == 0 and found:
            ctx.set_property("chat_template", True)
