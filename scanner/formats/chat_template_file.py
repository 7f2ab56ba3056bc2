"""Stand-alone Jinja templates (``chat_template.jinja`` and the like), judged without rendering."""

from __future__ import annotations

from collections.abc import Iterator

from scanner.formats.interface import TEXT_FIRST_BYTES, AnalysisContext, Analyzer, Probe
from scanner.jinja_check import MAX_TEMPLATE_CHARS, template_findings
from scanner.model import Finding

NAME = "jinja-file"
_SUFFIXES = (".jinja", ".jinja2", ".j2")


class JinjaFileAnalyzer(Analyzer):
    """Text whose name says Jinja and whose content holds Jinja statements or expressions."""

    first_bytes = TEXT_FIRST_BYTES
    name = NAME
    format = "jinja"
    supplementary = True

    def detect(self, probe: Probe) -> bool:
        if probe.size > MAX_TEMPLATE_CHARS * 4 or not probe.is_text():
            return False
        has_syntax = b"{%" in probe.head or b"{{" in probe.head
        return has_syntax and probe.name.lower().endswith(_SUFFIXES)

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        with ctx.open() as stream:
            raw = stream.read(MAX_TEMPLATE_CHARS * 4 + 1)
        text = raw.decode("utf-8", "replace")
        yield from template_findings(text, analyzer=NAME, where="template file")
        if ctx.depth == 0:
            ctx.set_property("chat_template", True)
