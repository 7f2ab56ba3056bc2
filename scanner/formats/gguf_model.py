"""GGUF models (llama.cpp): metadata judged (secrets, chat templates), tensor table checked, BOM facts."""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from scanner.formats.interface import AnalysisContext, Analyzer, Probe
from scanner.jinja_check import template_findings
from scanner.model import Finding
from scanner.resources import load_rules_file
from scanner.rulebook import finding
from scanner.secret_scan import find_secrets

if TYPE_CHECKING:
    from scanner.formats.gguf_reader import GgufHeader, MetadataValue

NAME = "gguf"
MAX_TENSOR_FINDINGS = 20


@functools.cache
def _data() -> tuple[frozenset[str], dict[int, tuple[str, int, int]]]:
    data = load_rules_file("gguf.yaml")
    types = {int(k): (str(v[0]), int(v[1]), int(v[2])) for k, v in data["ggml_types"].items()}
    return frozenset(map(str, data["secret_scan_skip"])), types


def is_template_key(item: MetadataValue) -> bool:
    """Chat templates live under ``tokenizer.chat_template`` and ``tokenizer.chat_template.<name>``."""
    return item.key == "tokenizer.chat_template" or item.key.startswith("tokenizer.chat_template.")


def _looks_like_jinja(text: str) -> bool:
    return ("{%" in text and "%}" in text) or ("{{" in text and "}}" in text)


class GgufAnalyzer(Analyzer):
    """GGUF files, by their ``GGUF`` magic."""

    first_bytes = frozenset(b"G")
    name = NAME
    format = "gguf"
    priority = 200

    def detect(self, probe: Probe) -> bool:
        return probe.head[:4] == b"GGUF" and probe.size >= 8

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        from scanner.formats.gguf_reader import GgufError, GgufLimit, GgufReader  # only for GGUF files

        skip, _ = _data()
        ctx.set_property("framework", "gguf")
        with ctx.open() as stream:
            reader = GgufReader(stream, ctx.probe.size, keep_text_for=lambda key: key not in skip)
            try:
                header = reader.read()
            except GgufLimit as exc:
                ctx.not_analyzed(ctx.member, str(exc))
                yield finding("AS-GEN-004", analyzer=NAME, offset=exc.offset, detail=f"GGUF: {exc}")
                return
            except GgufError as exc:
                yield finding("AS-GGF-001", analyzer=NAME, offset=exc.offset, detail=str(exc))
                return
        yield from self._metadata(ctx, header, skip)
        yield from self._tensors(ctx, header)

    def _metadata(self, ctx: AnalysisContext, header: GgufHeader, skip: frozenset[str]) -> Iterator[Finding]:
        from scanner.formats.gguf_reader import ARRAY, STRING, iter_text

        seen: set[str] = set()
        templates = 0
        for item in header.metadata:
            if item.key in seen:
                yield finding(
                    "AS-GGF-002", analyzer=NAME, offset=item.offset, detail=f"key {item.key!r} appears again"
                )
            seen.add(item.key)
            if item.type_id == STRING and isinstance(item.value, str):
                if is_template_key(item) or _looks_like_jinja(item.value):
                    templates += is_template_key(item)
                    if item.truncated:
                        yield finding("AS-GEN-004", analyzer=NAME, offset=item.offset,
                                      detail=f"template {item.key!r} longer than the judged cap")  # fmt: skip
                    else:
                        yield from template_findings(
                            item.value, analyzer=NAME, where=f"GGUF metadata {item.key!r}", offset=item.offset
                        )
            elif item.type_id == ARRAY and is_template_key(item):
                for text in item.value:
                    yield from template_findings(
                        text, analyzer=NAME, where=f"GGUF metadata {item.key!r}", offset=item.offset
                    )
        for item, text in iter_text(header, skip):
            for match in find_secrets(f"{item.key}={text}"):
                yield finding(
                    match.pattern.rule_id,
                    analyzer=NAME,
                    offset=item.offset,
                    detail=f"{match.pattern.name} in GGUF metadata {item.key!r}",
                    evidence=match.redacted,
                    extra={"secret_type": match.pattern.name},
                )
        ctx.set_property("chat_template", templates > 0)
        arch = header.get("general.architecture")
        if isinstance(arch, str):
            ctx.set_property("architecture", arch[:200])
        ctx.set_property("gguf_version", header.version)

    def _tensors(self, ctx: AnalysisContext, header: GgufHeader) -> Iterator[Finding]:
        _, types = _data()
        size = ctx.probe.size
        problems = 0
        spans: list[tuple[int, int, str]] = []
        params = 0
        dtypes: set[str] = set()
        shapes: dict[str, Any] = {}
        for t in header.tensors:
            count = 1
            for d in t.dims:
                count *= d
            params += count
            info = types.get(t.type_id)
            reason = None
            if info is None:
                reason = f"unknown ggml type {t.type_id}"
            else:
                type_name, block, block_bytes = info
                dtypes.add(type_name)
                if len(shapes) < 50:
                    shapes[t.name] = list(t.dims)
                nbytes = count // block * block_bytes
                start = header.data_start + t.offset
                if t.dims and t.dims[0] % block:
                    reason = (
                        f"first dimension {t.dims[0]} is not a multiple of the {type_name} block ({block})"
                    )
                elif t.offset % header.alignment:
                    reason = f"offset {t.offset} is not aligned to {header.alignment}"
                elif start + nbytes > size:
                    reason = f"bytes {start}..{start + nbytes} lie beyond the end of the file ({size})"
                else:
                    spans.append((start, start + nbytes, t.name))
            if reason:
                problems += 1
                if problems <= MAX_TENSOR_FINDINGS:
                    yield finding("AS-GGF-003", analyzer=NAME, offset=t.info_offset,
                                  detail=f"tensor {t.name!r}: {reason}")  # fmt: skip
        spans.sort()
        for (_, end_a, name_a), (start_b, _, name_b) in itertools.pairwise(spans):
            if start_b < end_a:
                problems += 1
                if problems <= MAX_TENSOR_FINDINGS:
                    yield finding("AS-GGF-003", analyzer=NAME,
                                  detail=f"tensors {name_a!r} and {name_b!r} overlap")  # fmt: skip
        if problems > MAX_TENSOR_FINDINGS:
            yield finding("AS-GGF-003", analyzer=NAME,
                          detail=f"{problems - MAX_TENSOR_FINDINGS} more tensor table problems")  # fmt: skip
        ctx.set_property("tensor_count", len(header.tensors))
        ctx.set_property("parameter_count", params)
        ctx.set_property("dtypes", sorted(dtypes))
        ctx.set_property("shapes", shapes)
