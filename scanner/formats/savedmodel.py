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


def _looks_like_saved_model(head: bytes) -> bool:
    # saved_model_schema_version = 1 (field 1, varint), then meta_graphs (field 2) opening with
    # meta_info_def (field 1) or graph_def (field 2).
    if head[:3] != b"\x08\x01\x12" or len(head) < 6:
        return False
    src = WireSource.from_bytes(head)
    try:
        _, pos = src.varint(3, len(head))
    except WireError:
        return False
    return pos < len(head) and head[pos] in (0x0A, 0x12)


def _looks_like_graphdef(head: bytes) -> bool:
    # GraphDef.node (field 1) holding NodeDef.name (1) then NodeDef.op (2), both printable.
    src = WireSource.from_bytes(head)
    try:
        if head[:1] != b"\x0a":
            return False
        _, pos = src.varint(1, len(head))
        if head[pos : pos + 1] != b"\x0a":
            return False
        name_len, pos = src.varint(pos + 1, len(head))
        name = head[pos : pos + name_len]
        pos += name_len
        if head[pos : pos + 1] != b"\x12":
            return False
        op_len, pos = src.varint(pos + 1, len(head))
        op = head[pos : pos + op_len]
    except WireError:
        return False
    return bool(op) and op.isascii() and op.decode("ascii").isidentifier() and name.isascii() and bool(name)


class TensorFlowGraphAnalyzer(Analyzer):
    """SavedModel protos and frozen GraphDefs, by their first fields."""

    name = NAME
    format = "tensorflow"
    priority = 160

    def detect(self, probe: Probe) -> bool:
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
