"""ONNX models, read by a bounded protobuf wire walk (the ``onnx`` package is never asked to parse them).

The walk descends into the structural messages (model, graphs, nodes, attributes, tensors, functions,
training info) and skips tensor payloads (``raw_data``, packed numbers) by offset, so memory stays flat
for a multi-gigabyte model. It reports external data locations that are absolute or leave the model
directory (in initializers, sparse initializers, Constant attributes and the subgraphs of If/Loop/Scan),
operators from non-standard domains, Python-executing custom operators, secrets in ``metadata_props``,
doc strings, string attributes and string tensors, and malformed protobuf.
"""

from __future__ import annotations

import functools
import os
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from scanner.formats._protowire import LEN, VARINT, Field, WireError, WireLimit, WireSource, signed64
from scanner.formats.interface import AnalysisContext, Analyzer, Probe
from scanner.model import Finding
from scanner.resources import load_rules_file
from scanner.rulebook import finding
from scanner.secret_scan import find_secrets

NAME = "onnx"
MAX_DEPTH = 64
"""Nesting of subgraphs (If/Loop/Scan bodies inside each other) followed."""
MAX_REPORTED = 50
"""Findings of one kind reported one by one before they are summarised."""
TEXT_CAP = 1 << 20
"""Longest doc string or string value read for secret scanning."""

DATA_TYPES = {
    1: "float32", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string",
    9: "bool", 10: "float16", 11: "float64", 12: "uint32", 13: "uint64", 14: "complex64",
    15: "complex128", 16: "bfloat16", 17: "float8e4m3fn", 18: "float8e4m3fnuz", 19: "float8e5m2",
    20: "float8e5m2fnuz", 21: "uint4", 22: "int4", 23: "float4e2m1", 24: "float8e8m0", 25: "uint2",
    26: "int2",
}  # fmt: skip
STRING_TYPE = 8
EXTERNAL = 1
ITEM_SIZES = {
    1: 4, 2: 1, 3: 1, 4: 2, 5: 2, 6: 4, 7: 8, 9: 1, 10: 2, 11: 8, 12: 4, 13: 8, 14: 8, 15: 16, 16: 2,
    17: 1, 18: 1, 19: 1, 20: 1, 24: 1,
}  # fmt: skip
"""Bytes per element of the fixed-width data types (sub-byte types are packed and left out)."""

# Wire types of the top-level ModelProto fields, used by detection.
_MODEL_FIELDS = {
    1: VARINT,
    2: LEN,
    3: LEN,
    4: LEN,
    5: VARINT,
    6: LEN,
    7: LEN,
    8: LEN,
    14: LEN,
    20: LEN,
    25: LEN,
}
_GRAPH_FIRST_TAGS = {0x0A, 0x12, 0x2A, 0x52, 0x5A, 0x62, 0x6A, 0x7A}
_STRING_FIELDS = {2, 3, 4, 6}
"""producer_name, producer_version, domain, doc_string."""
_MESSAGE_FIELDS = {14, 20, 25}
"""metadata_props, training_info, functions."""


def _prefix_is_text(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(data) - 3
    return True


def _prefix_is_message(source: WireSource, start: int, end: int) -> bool:
    """Whether ``[start, end)`` (cut by the probe) reads as protobuf fields, at least one complete."""
    pos = start
    complete = 0
    try:
        while pos < end:
            tag, pos = source.varint(pos, end)
            if tag >> 3 == 0 or tag & 7 not in (VARINT, 1, LEN, 5):
                return False
            if tag & 7 == VARINT:
                _, pos = source.varint(pos, end)
            elif tag & 7 == LEN:
                length, pos = source.varint(pos, end)
                pos += length
            else:
                pos += 8 if tag & 7 == 1 else 4
            complete += pos <= end
    except WireError:
        return complete > 0  # a varint cut by the end of the probe
    return complete > 0


@dataclass(frozen=True)
class OnnxRules:
    """Data from ``rules/onnx.yaml``."""

    standard_domains: frozenset[str]
    """Domains defined by the ONNX standard."""
    python_ops: tuple[tuple[str, re.Pattern[str]], ...]
    """(domain or ``*``, op_type pattern) of Python-executing operators."""


@functools.cache
def onnx_rules() -> OnnxRules:
    """The ONNX data of the rule book."""
    data = load_rules_file("onnx.yaml")
    return OnnxRules(
        standard_domains=frozenset(str(d) for d in data["standard_domains"]),
        python_ops=tuple((str(e["domain"]), re.compile(str(e["op_type_regex"]))) for e in data["python_ops"]),
    )


def is_python_op(domain: str, op_type: str) -> bool:
    """Whether ``domain``/``op_type`` names an operator that runs Python code."""
    return any(
        (d == "*" or d == domain) and pattern.fullmatch(op_type) for d, pattern in onnx_rules().python_ops
    )


_FIRST_BYTES = frozenset(
    (tag & 0x7F) | (0x80 if tag > 0x7F else 0) for tag in (n << 3 | w for n, w in _MODEL_FIELDS.items())
)
"""The first byte of the first field's tag (a varint) of any ModelProto."""


def looks_like_onnx(head: bytes, size: int) -> bool:
    """Whether ``head`` starts like a serialized ModelProto (any field order; ir_version >= 3)."""
    if not head or head[0] not in _FIRST_BYTES:
        return False
    source = WireSource.from_bytes(head)
    pos = 0
    seen = 0
    try:
        while pos < len(head):
            tag, pos = source.varint(pos, len(head))
            number, wire = tag >> 3, tag & 7
            if _MODEL_FIELDS.get(number) != wire:
                return False
            if wire == VARINT:
                value, pos = source.varint(pos, len(head))
                if number == 1:
                    return 3 <= value <= 100
            else:
                length, pos = source.varint(pos, len(head))
                if pos + length > size:
                    return False
                if pos + length > len(head):
                    # A large field before ir_version (protobuf fields may come in any order, and a
                    # runtime accepts them so): accept it when its visible part looks like what it is.
                    if number == 7:
                        return length > 16 and head[pos] in _GRAPH_FIRST_TAGS
                    if number in _STRING_FIELDS:
                        return length > 1024 and _prefix_is_text(head[pos:])
                    return number in _MESSAGE_FIELDS and _prefix_is_message(source, pos, len(head))
                pos += length
            seen += 1
    except WireError:
        return False
    return False


def external_path_problem(location: str, model_dir: str | None) -> tuple[str, str] | None:
    """``(rule_id, reason)`` when an external data location is absolute or leaves the model directory."""
    if not location:
        return None
    if (
        location.startswith(("/", "\\"))
        or re.match(r"^[A-Za-z]:", location)
        or "://" in location
        or location.startswith("~")
    ):
        return "AS-ONX-001", "absolute path, drive, home or URL"
    parts = re.split(r"[\\/]", location)
    if ".." in parts:
        normal = posixpath.normpath(location.replace("\\", "/"))
        return "AS-ONX-002", f"'..' traversal (normalises to {normal!r})"
    if model_dir is not None:
        base = os.path.realpath(model_dir)
        target = os.path.realpath(os.path.join(base, location))
        if os.path.commonpath([base, target]) != base:
            return "AS-ONX-002", "resolves (through a symlink) outside the model directory"
    return None


@dataclass
class _Stats:
    tensors: int = 0
    parameters: int = 0
    dtypes: set[str] = field(default_factory=set)
    shapes: dict[str, list[int]] = field(default_factory=dict)
    nodes: int = 0
    external: dict[str, int] = field(default_factory=dict)
    external_bytes: int = 0
    domains: dict[str, set[str]] = field(default_factory=dict)
    local_functions: set[tuple[str, str]] = field(default_factory=set)
    opsets: dict[str, int] = field(default_factory=dict)


class _Walk:
    """One walk over one model; findings are appended to ``self.findings``."""

    def __init__(self, source: WireSource, model_dir: str | None) -> None:
        self.src = source
        self.model_dir = model_dir
        self.findings: list[Finding] = []
        self.stats = _Stats()
        self.path_findings = 0
        self.producer: tuple[str, str] = ("", "")

    # -- helpers --------------------------------------------------------------------------------------
    def _text(self, f: Field) -> str:
        return self.src.text(f, TEXT_CAP)[0]

    def _secrets(self, text: str, where: str, offset: int) -> None:
        for match in find_secrets(text):
            self.findings.append(
                finding(
                    match.pattern.rule_id,
                    analyzer=NAME,
                    offset=offset,
                    detail=f"{match.pattern.name} in {where}",
                    evidence=match.redacted,
                    extra={"secret_type": match.pattern.name},
                )
            )

    # -- messages -------------------------------------------------------------------------------------
    def model(self) -> None:
        producer_name = producer_version = ""
        for f in self.src.fields(0, self.src.size):
            if f.number == 2 and f.wire == LEN:
                producer_name = self._text(f)[:200]
            elif f.number == 3 and f.wire == LEN:
                producer_version = self._text(f)[:200]
            elif f.number == 6 and f.wire == LEN:
                self._secrets(self._text(f), "model doc_string", f.offset)
            elif f.number == 7 and f.wire == LEN:
                self.graph(f.offset, f.end, "graph", 0)
            elif f.number == 8 and f.wire == LEN:
                self.opset(f)
            elif f.number == 14 and f.wire == LEN:
                self.metadata_prop(f, "model metadata_props")
            elif f.number == 20 and f.wire == LEN:
                self.training_info(f, 0)
            elif f.number == 25 and f.wire == LEN:
                self.function(f, 0)
        self.producer = (producer_name, producer_version)

    def opset(self, f: Field) -> None:
        domain, version = "", 0
        for g in self.src.fields(f.offset, f.end):
            if g.number == 1 and g.wire == LEN:
                domain = self._text(g)[:200]
            elif g.number == 2 and g.wire == VARINT:
                version = signed64(g.value)
        self.stats.opsets[domain] = version

    def metadata_prop(self, f: Field, where: str) -> None:
        key = value = ""
        for g in self.src.fields(f.offset, f.end):
            if g.number == 1 and g.wire == LEN:
                key = self._text(g)
            elif g.number == 2 and g.wire == LEN:
                value = self._text(g)
        self._secrets(f"{key}={value}", f"{where}[{key[:80]!r}]", f.offset)

    def training_info(self, f: Field, depth: int) -> None:
        for g in self.src.fields(f.offset, f.end):
            if g.number in (1, 2) and g.wire == LEN:
                part = "initialization" if g.number == 1 else "algorithm"
                self.graph(g.offset, g.end, f"training_info.{part}", depth + 1)

    def function(self, f: Field, depth: int) -> None:
        name = domain = ""
        nodes: list[Field] = []
        for g in self.src.fields(f.offset, f.end):
            if g.number == 1 and g.wire == LEN:
                name = self._text(g)[:200]
            elif g.number == 10 and g.wire == LEN:
                domain = self._text(g)[:200]
            elif g.number == 7 and g.wire == LEN:
                nodes.append(g)
            elif g.number == 8 and g.wire == LEN:
                self._secrets(self._text(g), "function doc_string", g.offset)
            elif g.number == 14 and g.wire == LEN:
                self.metadata_prop(g, "function metadata_props")
        self.stats.local_functions.add((domain, name))
        for g in nodes:
            self.node(g, f"function {domain}.{name}", depth + 1)

    def graph(self, start: int, end: int, path: str, depth: int) -> None:
        if depth > MAX_DEPTH:
            raise WireLimit(f"subgraphs nested deeper than {MAX_DEPTH} ({path})")
        for f in self.src.fields(start, end):
            if f.wire != LEN:
                continue
            if f.number == 1:
                self.node(f, path, depth)
            elif f.number == 5:
                self.tensor(f, f"{path} initializer", depth == 0)
            elif f.number == 15:
                self.sparse_tensor(f, f"{path} sparse_initializer", depth == 0)
            elif f.number == 10:
                self._secrets(self._text(f), f"{path} doc_string", f.offset)
            elif f.number == 16:
                self.metadata_prop(f, f"{path} metadata_props")

    def node(self, f: Field, path: str, depth: int) -> None:
        self.stats.nodes += 1
        name = op_type = domain = ""
        attributes: list[Field] = []
        for g in self.src.fields(f.offset, f.end):
            if g.wire != LEN:
                continue
            if g.number == 3:
                name = self._text(g)[:200]
            elif g.number == 4:
                op_type = self._text(g)[:200]
            elif g.number == 7:
                domain = self._text(g)[:200]
            elif g.number == 5:
                attributes.append(g)
            elif g.number == 6:
                self._secrets(self._text(g), f"{path} node {name!r} doc_string", g.offset)
            elif g.number == 9:
                self.metadata_prop(g, f"{path} node metadata_props")
        where = f"{path}/{op_type}({name})" if name else f"{path}/{op_type}"
        if domain not in onnx_rules().standard_domains:
            self.stats.domains.setdefault(domain, set()).add(op_type)
        if is_python_op(domain, op_type):
            named = self._string_attributes(attributes)
            shown = ", ".join(f"{k}={v!r}" for k, v in named.items())
            self.findings.append(
                finding(
                    "AS-ONX-004",
                    analyzer=NAME,
                    offset=f.offset,
                    detail=f"node {where} is operator {domain}::{op_type}, which runs Python code"
                    + (f" ({shown})" if shown else ""),
                    evidence=f"{domain}::{op_type}",
                    extra={"module": domain, "qualname": op_type, "attributes": named},
                )
            )
        for g in attributes:
            self.attribute(g, where, depth)

    def _string_attributes(self, attributes: list[Field]) -> dict[str, str]:
        """``name: value`` of the string attributes of a node (what a Python op calls), bounded."""
        out: dict[str, str] = {}
        for f in attributes[:20]:
            name = value = None
            for g in self.src.fields(f.offset, f.end):
                if g.wire == LEN and g.number == 1:
                    name = self._text(g)[:100]
                elif g.wire == LEN and g.number == 4:
                    value = self.src.text(g, 300)[0]
            if name is not None and value is not None:
                out[name] = value
        return out

    def attribute(self, f: Field, where: str, depth: int) -> None:
        name = ""
        for g in self.src.fields(f.offset, f.end):
            if g.wire != LEN:
                continue
            if g.number == 1:
                name = self._text(g)[:200]
            elif g.number in (4, 9):  # s, strings
                self._secrets(self._text(g), f"{where} attribute {name!r}", g.offset)
            elif g.number in (5, 10):  # t, tensors
                self.tensor(g, f"{where} attribute {name!r}", False)
            elif g.number in (22, 23):  # sparse_tensor(s)
                self.sparse_tensor(g, f"{where} attribute {name!r}", False)
            elif g.number in (6, 11):  # g, graphs: If/Loop/Scan bodies and any custom graph attribute
                self.graph(g.offset, g.end, f"{where}.{name or 'graph'}", depth + 1)
            elif g.number == 13:
                self._secrets(self._text(g), f"{where} attribute {name!r} doc_string", g.offset)

    def sparse_tensor(self, f: Field, where: str, count: bool) -> None:
        for g in self.src.fields(f.offset, f.end):
            if g.wire == LEN and g.number in (1, 2):
                self.tensor(g, f"{where} {'values' if g.number == 1 else 'indices'}", count and g.number == 1)

    def tensor(self, f: Field, where: str, count: bool) -> None:
        name = ""
        dims: list[int] = []
        data_type = 0
        location_kind = 0
        external: dict[str, str] = {}
        strings: list[Field] = []
        for g in self.src.fields(f.offset, f.end):
            if g.number == 1:
                if g.wire == VARINT:
                    dims.append(signed64(g.value))
                elif g.wire == LEN:
                    dims.extend(signed64(v) for v in self.src.packed_varints(g, 64))
            elif g.number == 2 and g.wire == VARINT:
                data_type = g.value
            elif g.number == 8 and g.wire == LEN:
                name = self._text(g)[:300]
            elif g.number == 6 and g.wire == LEN:
                strings.append(g)
            elif g.number == 12 and g.wire == LEN:
                self._secrets(self._text(g), f"{where} tensor doc_string", g.offset)
            elif g.number == 13 and g.wire == LEN:
                key = value = ""
                for h in self.src.fields(g.offset, g.end):
                    if h.number == 1 and h.wire == LEN:
                        key = self._text(h)[:100]
                    elif h.number == 2 and h.wire == LEN:
                        value = self._text(h)[:4096]
                external[key] = value
            elif g.number == 14 and g.wire == VARINT:
                location_kind = g.value
            # 9 raw_data and the packed numeric fields are skipped: never read.
        label = f"{where} tensor {name!r}"
        if data_type == STRING_TYPE and strings:
            budget = TEXT_CAP
            for g in strings:
                if budget <= 0:
                    break
                text, _ = self.src.text(g, budget)
                budget -= len(text)
                self._secrets(text, f"string tensor {label}", g.offset)
        if count:
            self.stats.tensors += 1
            params = 1
            for d in dims:
                params *= max(d, 0)
            self.stats.parameters += params
            self.stats.dtypes.add(DATA_TYPES.get(data_type, f"type{data_type}"))
            if len(self.stats.shapes) < 50 and name:
                self.stats.shapes[name] = dims
        if location_kind == EXTERNAL or external:
            location = external.get("location", "")
            if self.external(location, label, f.offset):
                expected = None
                if data_type in ITEM_SIZES and dims and all(d >= 0 for d in dims):
                    expected = ITEM_SIZES[data_type]
                    for d in dims:
                        expected *= d
                self.external_range(location, external, expected, label, f.offset)

    def external_range(
        self, location: str, external: dict[str, str], expected: int | None, label: str, offset: int
    ) -> None:
        """Check ``offset``/``length`` of an external data entry against the tensor and the file."""
        numbers: dict[str, int] = {}
        for key in ("offset", "length"):
            text = external.get(key)
            if text is None:
                continue
            if not text.isdigit() or len(text) > 20:
                self._range_finding(f"{label}: external data {key} {text[:40]!r} is not a byte count", offset)
                return
            numbers[key] = int(text)
        start, length = numbers.get("offset", 0), numbers.get("length")
        if length is not None:
            self.stats.external_bytes += length
            if expected is not None and length != expected:
                self._range_finding(
                    f"{label}: external data length {length} differs from the {expected} bytes "
                    "its shape and type need",
                    offset,
                )
                return
        if self.model_dir is None or not location:
            return
        path = os.path.join(self.model_dir, location)
        try:
            size = os.path.getsize(path)
        except OSError:
            return  # not beside the model: reported in the AS-ONX-006 summary
        end = start + (length if length is not None else 0)
        if start > size or end > size:
            self._range_finding(
                f"{label}: external data bytes {start}..{end} lie beyond the end of {location!r} "
                f"({size} bytes)",
                offset,
            )

    def _range_finding(self, detail: str, offset: int) -> None:
        self.path_findings += 1
        if self.path_findings <= MAX_REPORTED:
            self.findings.append(finding("AS-ONX-007", analyzer=NAME, offset=offset, detail=detail))

    def external(self, location: str, label: str, offset: int) -> bool:
        """Count an external data reference; report its path. Whether the path is safe to check further."""
        self.stats.external[location] = self.stats.external.get(location, 0) + 1
        problem = external_path_problem(location, self.model_dir)
        if problem is None:
            return True
        self.path_findings += 1
        if self.path_findings > MAX_REPORTED:
            return False
        rule_id, reason = problem
        self.findings.append(
            finding(
                rule_id,
                analyzer=NAME,
                offset=offset,
                detail=f"{label} reads its data from {location!r}: {reason}",
                evidence=location[:300],
            )
        )
        return False


class OnnxAnalyzer(Analyzer):
    """ONNX ModelProto files (``.onnx``), whatever their name."""

    first_bytes = _FIRST_BYTES
    name = NAME
    format = "onnx"
    priority = 150

    def detect(self, probe: Probe) -> bool:
        return probe.size >= 4 and looks_like_onnx(probe.head, probe.size)

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        ctx.set_property("framework", "onnx")
        model_dir = None
        if ctx.member is None and os.path.isfile(ctx.artifact_path):
            model_dir = os.path.dirname(os.path.abspath(ctx.artifact_path))
        with ctx.open() as stream:
            walk = _Walk(WireSource(stream, ctx.probe.size), model_dir)
            try:
                walk.model()
            except WireError as exc:
                walk.findings.append(
                    finding("AS-ONX-005", analyzer=NAME, offset=exc.offset, detail=f"protobuf: {exc}")
                )
            except WireLimit as exc:
                walk.findings.append(finding("AS-GEN-004", analyzer=NAME, detail=f"ONNX walk stopped: {exc}"))
                ctx.not_analyzed(ctx.member, f"ONNX walk stopped: {exc}")
        yield from walk.findings
        yield from self._summaries(walk)
        self._properties(ctx, walk)

    def _summaries(self, walk: _Walk) -> Iterator[Finding]:
        stats = walk.stats
        if walk.path_findings > MAX_REPORTED:
            yield finding(
                "AS-ONX-002",
                analyzer=NAME,
                detail=f"{walk.path_findings - MAX_REPORTED} more tensors with unsafe external data paths "
                "or ranges",
            )
        local = stats.local_functions
        for domain in sorted(stats.domains):
            ops = sorted(stats.domains[domain])
            foreign = [op for op in ops if (domain, op) not in local]
            if not foreign:
                continue  # every operator is a function defined inside the model, walked above
            yield finding(
                "AS-ONX-003",
                analyzer=NAME,
                detail=f"domain {domain!r} (opset {stats.opsets.get(domain, '?')}): operators "
                + ", ".join(foreign[:20])
                + (f" and {len(foreign) - 20} more" if len(foreign) > 20 else ""),
                evidence=domain,
                extra={"module": domain},
            )
        for location in sorted(stats.external):
            missing = ""
            if (
                walk.model_dir is not None
                and external_path_problem(location, walk.model_dir) is None
                and not os.path.isfile(os.path.join(walk.model_dir, location))
            ):
                missing = " (not found beside the model)"
            yield finding(
                "AS-ONX-006",
                analyzer=NAME,
                detail=f"{stats.external[location]} tensor(s) read from external file {location!r}{missing}",
                evidence=location[:300],
            )

    def _properties(self, ctx: AnalysisContext, walk: _Walk) -> None:
        stats = walk.stats
        ctx.set_property("tensor_count", stats.tensors)
        ctx.set_property("parameter_count", stats.parameters)
        ctx.set_property("dtypes", sorted(stats.dtypes))
        ctx.set_property("shapes", dict(stats.shapes))
        ctx.set_property("node_count", stats.nodes)
        if stats.external:
            ctx.set_property("external_data_bytes", stats.external_bytes)
        ctx.set_property("opsets", {k or "ai.onnx": v for k, v in sorted(stats.opsets.items())})
        name, version = walk.producer
        if name:
            libraries: dict[str, Any] = {{"pytorch": "torch"}.get(name, name): version}
            ctx.set_property("libraries", libraries)
