"""TensorFlow graphs without TensorFlow: SavedModel ``saved_model.pb`` and frozen ``GraphDef`` files.

Op names are read with the minimal protobuf wire reader: every NodeDef of every meta graph's GraphDef and
of every function in its library. Ops that run Python or touch files are reported; nothing is executed.
Field numbers follow tensorflow/core/protobuf/saved_model.proto, meta_graph.proto and
tensorflow/core/framework/{graph,node_def,function,attr_value}.proto.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from scanner.formats._protowire import LEN, Field, WireError, WireLimit, WireSource
from scanner.formats.interface import AnalysisContext, Analyzer, Probe
from scanner.formats.keras_config import keras_rules
from scanner.model import Finding
from scanner.rulebook import finding

NAME = "tf-graph"
MAX_NAME = 512
MAX_REPORTED = 100


@dataclass
class _GraphWalk:
    src: WireSource
    findings: list[Finding] = field(default_factory=list)
    ops: dict[str, int] = field(default_factory=dict)
    tf_version: str = ""
    reported: int = 0

    def saved_model(self) -> None:
        for f in self.src.fields(0, self.src.size):
            if f.number == 2 and f.wire == LEN:
                self.meta_graph(f)

    def meta_graph(self, f: Field) -> None:
        for g in self.src.fields(f.offset, f.end):
            if g.wire != LEN:
                continue
            if g.number == 1:
                for h in self.src.fields(g.offset, g.end):
                    if h.number == 5 and h.wire == LEN:
                        self.tf_version = self.src.text(h, 64)[0]
            elif g.number == 2:
                self.graph(g.offset, g.end, "graph")

    def graph(self, start: int, end: int, where: str) -> None:
        for f in self.src.fields(start, end):
            if f.wire != LEN:
                continue
            if f.number == 1:
                self.node(f, where)
            elif f.number == 2:
                self.library(f)

    def library(self, f: Field) -> None:
        for g in self.src.fields(f.offset, f.end):
            if g.number != 1 or g.wire != LEN:
                continue
            name = "?"
            nodes: list[Field] = []
            for h in self.src.fields(g.offset, g.end):
                if h.number == 1 and h.wire == LEN:  # signature: OpDef, name = 1
                    for k in self.src.fields(h.offset, h.end):
                        if k.number == 1 and k.wire == LEN:
                            name = self.src.text(k, MAX_NAME)[0]
                elif h.number == 3 and h.wire == LEN:
                    nodes.append(h)
            for h in nodes:
                self.node(h, f"function {name}")

    def node(self, f: Field, where: str) -> None:
        name = op = ""
        attrs: dict[str, str] = {}
        for g in self.src.fields(f.offset, f.end):
            if g.wire != LEN:
                continue
            if g.number == 1:
                name = self.src.text(g, MAX_NAME)[0]
            elif g.number == 2:
                op = self.src.text(g, MAX_NAME)[0]
            elif g.number == 5:
                key, value = self.attr(g)
                if key:
                    attrs[key] = value
        self.ops[op] = self.ops.get(op, 0) + 1
        rules = keras_rules()
        rule = None
        if op in rules.tf_python_ops:
            rule = "AS-KER-006"
        elif op in rules.tf_file_ops or (
            op == "PrintV2" and attrs.get("output_stream", "").startswith("file://")
        ):
            rule = "AS-KER-007"
        if rule is None:
            return
        self.reported += 1
        if self.reported > MAX_REPORTED:
            return
        target = f" (output_stream {attrs['output_stream']!r})" if op == "PrintV2" else ""
        self.findings.append(
            finding(
                rule,
                analyzer=NAME,
                offset=f.offset,
                detail=f"{where}: node {name!r} is op {op}{target}",
                evidence=op,
                extra={"qualname": op},
            )
        )

    def attr(self, f: Field) -> tuple[str, str]:
        """A NodeDef attr map entry: key and, for string values (AttrValue.s), the text."""
        key = value = ""
        for g in self.src.fields(f.offset, f.end):
            if g.number == 1 and g.wire == LEN:
                key = self.src.text(g, MAX_NAME)[0]
            elif g.number == 2 and g.wire == LEN:
                for h in self.src.fields(g.offset, g.end):
                    if h.number == 2 and h.wire == LEN:
                        value = self.src.text(h, 4096)[0]
        return key, value


def _top_fields(head: bytes) -> list[tuple[int, int, int, int]]:
    """``(number, wire, payload start, payload length)`` of the top-level fields visible in ``head``.

    Stops at the first field cut by the end of the probe (it is kept, with its claimed length).
    """
    src = WireSource.from_bytes(head)
    out: list[tuple[int, int, int, int]] = []
    pos = 0
    try:
        while pos < len(head) and len(out) < 64:
            tag, pos = src.varint(pos, len(head))
            number, wire = tag >> 3, tag & 7
            if number == 0:
                return []
            if wire == 0:
                value, pos = src.varint(pos, len(head))
                out.append((number, wire, pos, value))
            elif wire == LEN:
                length, pos = src.varint(pos, len(head))
                out.append((number, wire, pos, length))
                pos += length
            else:
                return []
    except WireError:
        pass
    return out


_FIRST_TAGS = (b"\x08", b"\x0a", b"\x12", b"\x18", b"\x22")
"""The field tags either message can open with: SavedModel 1 (varint), 2; GraphDef 1, 2, 3 (varint), 4."""


def _looks_like_saved_model(head: bytes) -> bool:
    # SavedModel: saved_model_schema_version (1, varint) and meta_graphs (2, message), in any order; a
    # MetaGraphDef opens with meta_info_def (1) or graph_def (2).
    fields = _top_fields(head)
    if not fields or any((n, w) not in ((1, 0), (2, LEN)) for n, w, _, _ in fields):
        return False
    metas = [(start, length) for n, _, start, length in fields if n == 2]
    if not metas or any(n == 1 and value != 1 for n, _, _, value in fields):
        return False
    start, length = metas[0]
    return length > 2 and start < len(head) and head[start] in (0x0A, 0x12)


def _looks_like_node(head: bytes, start: int, length: int) -> bool:
    """A NodeDef (name 1, op 2, input 3, device 4, attr 5, ...) whose op is visible and an identifier."""
    src = WireSource.from_bytes(head)
    end = min(start + length, len(head))
    pos = start
    try:
        while pos < end:
            tag, pos = src.varint(pos, end)
            number, wire = tag >> 3, tag & 7
            if wire != LEN or not 1 <= number <= 8:
                return False
            size, pos = src.varint(pos, end)
            if number == 2:
                op = head[pos : pos + size]
                return 0 < size <= 200 and len(op) == size and op.isascii() and op.decode().isidentifier()
            pos += size
    except WireError:
        return False
    return False


def _looks_like_graphdef(head: bytes) -> bool:
    # GraphDef: node (1), library (2), version (3, deprecated varint), versions (4), in any order, with
    # at least one NodeDef naming its op.
    fields = _top_fields(head)
    allowed = {(1, LEN), (2, LEN), (3, 0), (4, LEN)}
    if not fields or any((n, w) not in allowed for n, w, _, _ in fields):
        return False
    return any(n == 1 and _looks_like_node(head, start, length) for n, _, start, length in fields)


class TensorFlowGraphAnalyzer(Analyzer):
    """SavedModel protos and frozen GraphDefs, by their first fields."""

    first_bytes = frozenset(b"".join(_FIRST_TAGS))
    name = NAME
    format = "tensorflow"
    priority = 160

    def detect(self, probe: Probe) -> bool:
        if probe.head[:1] not in _FIRST_TAGS:
            return False
        return _looks_like_saved_model(probe.head) or _looks_like_graphdef(probe.head)

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        ctx.set_property("framework", "tensorflow")
        saved = _looks_like_saved_model(ctx.probe.head)
        with ctx.open() as stream:
            walk = _GraphWalk(WireSource(stream, ctx.probe.size))
            try:
                if saved:
                    walk.saved_model()
                else:
                    walk.graph(0, ctx.probe.size, "graph")
            except WireError as exc:
                walk.findings.append(
                    finding("AS-KER-008", analyzer=NAME, offset=exc.offset, detail=f"protobuf: {exc}")
                )
            except WireLimit as exc:
                ctx.not_analyzed(ctx.member, str(exc))
                walk.findings.append(finding("AS-GEN-004", analyzer=NAME, detail=str(exc)))
        yield from walk.findings
        if walk.reported > MAX_REPORTED:
            yield finding(
                "AS-GEN-004",
                analyzer=NAME,
                detail=f"{walk.reported - MAX_REPORTED} more dangerous ops not listed",
            )
        ctx.set_property("op_types", dict(sorted(walk.ops.items())[:200]))
        if walk.tf_version:
            ctx.set_property("libraries", {"tensorflow": walk.tf_version})
