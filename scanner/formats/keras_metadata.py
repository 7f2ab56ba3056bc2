"""``keras_metadata.pb`` of TF-Keras SavedModels: the per-layer JSON configs, Lambda layers included.

A TF-Keras model saved in the SavedModel format keeps each Keras object's configuration as JSON in this
file (``SavedMetadata.nodes[].metadata``, tensorflow/python/keras/protobuf/saved_metadata.proto), and the
loader rebuilds Lambda layers and custom objects from it. Each node's JSON is judged like a ``.keras``
config; nothing is loaded.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from scanner.formats._protowire import LEN, WireError, WireLimit, WireSource
from scanner.formats.interface import AnalysisContext, Analyzer, Probe
from scanner.formats.keras_config import judge_config
from scanner.model import Finding
from scanner.rulebook import finding

NAME = "keras-metadata"
IDENTIFIER_PREFIX = b"_tf_keras_"
_NODE_PATH = 3
_IDENTIFIER = 4
_METADATA = 5


def looks_like_keras_metadata(head: bytes) -> bool:
    """``SavedMetadata``: field 1 messages opening with a version, node id or path; a Keras identifier."""
    if head[:1] != b"\x0a" or IDENTIFIER_PREFIX not in head:
        return False
    src = WireSource.from_bytes(head)
    try:
        _, pos = src.varint(1, len(head))
    except WireError:
        return False
    return head[pos : pos + 1] in (b"\x0a", b"\x10", b"\x1a")


class KerasMetadataAnalyzer(Analyzer):
    """TF-Keras ``keras_metadata.pb`` files, by content."""

    first_bytes = frozenset(b"\x0a")
    name = NAME
    format = "keras-savedmodel-metadata"
    priority = 165

    def detect(self, probe: Probe) -> bool:
        return looks_like_keras_metadata(probe.head)

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        ctx.set_property("framework", "keras")
        cap = ctx.limits.max_structure_bytes
        seen: set[tuple[str, str]] = set()
        nodes = 0
        with ctx.open() as stream:
            src = WireSource(stream, ctx.probe.size)
            try:
                for f in src.fields(0, src.size):
                    if f.number != 1 or f.wire != LEN:
                        continue
                    nodes += 1
                    for item in self._node(src, f.offset, f.end, cap):
                        key = (item.rule_id, item.evidence or item.detail)
                        if key not in seen:  # a model's JSON repeats its layers' JSON
                            seen.add(key)
                            yield item
            except WireError as exc:
                yield finding("AS-KER-008", analyzer=NAME, offset=exc.offset, detail=f"protobuf: {exc}")
            except WireLimit as exc:
                ctx.not_analyzed(ctx.member, str(exc))
                yield finding("AS-GEN-004", analyzer=NAME, detail=str(exc))
        ctx.set_property("keras_objects", nodes)

    def _node(self, src: WireSource, start: int, end: int, cap: int) -> Iterator[Finding]:
        path = identifier = ""
        metadata = None
        for g in src.fields(start, end):
            if g.wire == LEN and g.number == _NODE_PATH:
                path = src.text(g, 1024)[0]
            elif g.wire == LEN and g.number == _IDENTIFIER:
                identifier = src.text(g, 256)[0]
            elif g.wire == LEN and g.number == _METADATA:
                metadata = g
        if metadata is None:
            return
        where = f"keras_metadata {path or '?'} ({identifier or '?'})"
        if metadata.length > cap:
            yield finding("AS-GEN-004", analyzer=NAME, detail=f"{where}: metadata larger than {cap} bytes")
            return
        text, _ = src.text(metadata, cap)
        try:
            document = json.loads(text)
        except ValueError as exc:
            yield finding("AS-KER-004", analyzer=NAME, offset=metadata.offset, detail=f"{where}: {exc}")
            return
        except RecursionError:
            yield finding("AS-GEN-004", analyzer=NAME, detail=f"{where}: JSON nested too deeply")
            return
        yield from judge_config(document, NAME, where)
