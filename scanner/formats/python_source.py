"""Python source in a model repository (``modeling_*.py`` that ``trust_remote_code`` imports, helper
scripts): dangerous calls found with :mod:`ast`, each with its line number. The code is never imported.

Recognised by content, so the hub cache's extension-less blobs are judged too: text that has the
shape of a Python module (imports, definitions), or any text file whose name ends in ``.py``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

from scanner.formats.interface import TEXT_FIRST_BYTES, AnalysisContext, Analyzer, Probe
from scanner.model import Finding
from scanner.rulebook import finding
from scanner.secret_scan import redact_tree

NAME = "python-source"
_PYTHON_LINE = re.compile(
    rb"^(?:import [A-Za-z_][\w.]*|from \.*[\w.]* import [\w*(]|def [A-Za-z_]\w*\(|class [A-Za-z_]\w*[(:])",
    re.MULTILINE,
)


class PythonSourceAnalyzer(Analyzer):
    """Dangerous calls in Python modules."""

    first_bytes = TEXT_FIRST_BYTES
    name = NAME
    format = "python"
    supplementary = True

    def detect(self, probe: Probe) -> bool:
        if not probe.is_text() or probe.head.lstrip()[:1] in (b"{", b"["):
            return False
        if probe.name.endswith(".py"):
            return True
        head = probe.head
        if b"import " not in head and b"def " not in head and b"class " not in head:
            return False  # every line the pattern takes holds one of these: a C search skips most text
        lines = _PYTHON_LINE.finditer(head)
        return next(lines, None) is not None and next(lines, None) is not None  # two Python lines

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        from scanner.pycode_check import MAX_CALLS, MAX_SOURCE_BYTES, judge_source  # ast: only for code

        if ctx.probe.size > MAX_SOURCE_BYTES:
            ctx.not_analyzed(ctx.member, f"Python source over {MAX_SOURCE_BYTES} bytes not parsed")
            yield finding(
                "AS-GEN-004",
                analyzer=NAME,
                detail=f"Python source of {ctx.probe.size} bytes is over the {MAX_SOURCE_BYTES}-byte cap",
            )
            return
        with ctx.open() as stream:
            source = stream.read(MAX_SOURCE_BYTES).decode("utf-8", "replace")
        try:
            report = judge_source(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            if ctx.probe.name.endswith(".py"):
                ctx.not_analyzed(ctx.member, f"Python source does not parse ({type(exc).__name__})")
            return  # text that only looked like Python
        for call in report.calls:
            yield finding(
                "AS-HF-003",
                analyzer=NAME,
                detail=f"line {call.line}: {call.name} ({call.category})",
                evidence=call.source,
                extra={"line": call.line, "call": call.name, "category": call.category},
            )
        if len(report.calls) >= MAX_CALLS:
            ctx.not_analyzed(ctx.member, f"only the first {MAX_CALLS} dangerous calls are listed")
        ctx.set_property("python_imports", redact_tree(list(report.imports[:100])))
        if report.relative_imports:
            ctx.set_property("python_relative_imports", redact_tree(list(report.relative_imports[:100])))
