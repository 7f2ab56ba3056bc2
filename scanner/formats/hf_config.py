"""Hugging Face configuration files (config.json, tokenizer_config.json, processor configs): the code
``trust_remote_code=True`` would import (``auto_map``, ``custom_pipelines``) and, for model configs, the
architecture, task and framework.

A supplementary analyzer: it runs beside the text and chat-template analyzers on JSON objects that carry
one of the keys it reads.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from scanner.formats.interface import JSON_FIRST_BYTES, AnalysisContext, Analyzer, Probe
from scanner.model import Finding
from scanner.resources import load_rules_file
from scanner.rulebook import finding
from scanner.secret_scan import redact, redact_tree

if TYPE_CHECKING:  # the repository helpers load when a config names remote code
    from scanner.hf_repo import CodeReference

NAME = "hf-config"
MAX_JSON_BYTES = 64 << 20
MAX_REPORTED = 50
"""Malformed references reported one by one before the rest are counted."""
_MARKERS = (b'"auto_map"', b'"custom_pipelines"', b'"architectures"', b'"model_type"')


@functools.cache
def _tasks() -> tuple[tuple[str, str], ...]:
    data = load_rules_file("hf.yaml")
    return tuple((str(k), str(v)) for k, v in data["architecture_tasks"].items())


def _short(value: Any, limit: int = 200) -> str:
    return redact(str(value)[:limit])


class HfConfigAnalyzer(Analyzer):
    """auto_map / custom_pipelines references and model config properties."""

    first_bytes = JSON_FIRST_BYTES
    name = NAME
    format = "json"
    supplementary = True

    def detect(self, probe: Probe) -> bool:
        if probe.size > MAX_JSON_BYTES or not probe.is_json_object():
            return False
        return any(m in probe.head or m in probe.tail for m in _MARKERS)

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        limit = min(MAX_JSON_BYTES, ctx.limits.max_structure_bytes)
        with ctx.open() as stream:
            raw = stream.read(limit + 1)
        if len(raw) > limit:
            ctx.not_analyzed(ctx.member, f"JSON over {limit} bytes not parsed for auto_map")
            return
        try:
            document = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return  # not a configuration after all (a marker inside some other text)
        if not isinstance(document, dict):
            return
        self._properties(ctx, document)
        yield from self._references(ctx, document)

    def _properties(self, ctx: AnalysisContext, document: dict[str, Any]) -> None:
        architectures = document.get("architectures")
        if isinstance(architectures, list) and architectures and isinstance(architectures[0], str):
            arch = architectures[0]
            ctx.set_property("architecture", _short(arch))
            for suffix, task in _tasks():
                if arch.endswith(suffix):
                    ctx.set_property("task", task)
                    break
        if isinstance(document.get("model_type"), str):
            ctx.set_property("model_type", _short(document["model_type"]))
        if "transformers_version" in document or "architectures" in document:
            ctx.set_property("framework", "transformers")
        dtype = document.get("torch_dtype", document.get("dtype"))
        if isinstance(dtype, str):
            ctx.set_property("torch_dtype", _short(dtype, 40))

    def _references(self, ctx: AnalysisContext, document: dict[str, Any]) -> Iterator[Finding]:
        from scanner.hf_repo import code_references, import_closure, repository_dir

        local: list[CodeReference] = []
        malformed = 0
        for ref in code_references(document):
            if isinstance(ref, tuple) or ref.module_file is None:
                malformed += 1
                if malformed > MAX_REPORTED:
                    continue
                if isinstance(ref, tuple):
                    detail = f"{ref[0]} is {_short(json.dumps(ref[1]), 120)}"
                else:
                    detail = f"{ref.key} = {_short(ref.value)!r}"
                yield finding("AS-HF-004", analyzer=NAME, detail=detail)
            elif ref.repo is not None:
                yield finding(
                    "AS-HF-002",
                    analyzer=NAME,
                    detail=f"{ref.key} = {ref.value!r} imports {ref.module_file} from the repository "
                    f"{ref.repo}",
                    evidence=ref.value,
                    extra={"repository": ref.repo, "module_file": ref.module_file},
                )
            else:
                local.append(ref)
        if malformed > MAX_REPORTED:
            yield finding(
                "AS-HF-004",
                analyzer=NAME,
                detail=f"{malformed - MAX_REPORTED} more entries not understood "
                f"(the first {MAX_REPORTED} are listed)",
            )
        if not local:
            return
        repo_dir = repository_dir(ctx.artifact_path) if ctx.depth == 0 else None
        closure = import_closure(repo_dir, [r.module_file for r in local if r.module_file])
        files = list(closure.present) + list(closure.missing)
        keys = ", ".join(dict.fromkeys(r.key for r in local))
        yield finding(
            "AS-HF-001",
            analyzer=NAME,
            detail=f"{keys}: trust_remote_code=True would import {', '.join(files)}",
            evidence="; ".join(f"{r.key} = {r.value}" for r in local)[:1000],
            extra={
                "files": files,
                "references": {r.key: r.value for r in local},
                "repository_dir": str(repo_dir) if repo_dir is not None else None,
            },
        )
        if repo_dir is not None:
            for rel in closure.missing:
                yield finding(
                    "AS-HF-005",
                    analyzer=NAME,
                    detail=f"{rel} is imported by trust_remote_code but is not in {repo_dir}",
                )
        if closure.truncated:
            yield finding(
                "AS-GEN-004",
                analyzer=NAME,
                detail="relative imports of the custom code were followed through only the first "
                "files; the rest were not listed",
            )
        ctx.set_property("remote_code_files", redact_tree(files))
