"""TensorFlow SavedModel and frozen GraphDef: op names read without TensorFlow; file and Python ops flagged."""

from __future__ import annotations

from tests.formats_util import FORMATS, above_low, only_artifact, scan, with_rule

TF = FORMATS / "savedmodel"


def test_benign_saved_model_passes(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, TF / "benign" / "saved_model.pb")
    art = only_artifact(doc)
    assert code == 0, art["findings"]
    assert art["format"] == "tensorflow"
    assert above_low(art) == [] and art["errors"] == []
    ops = art["properties"]["op_types"]
    # The checkpoint ops every SavedModel has, and PrintV2 to stderr, are not file access.
    assert {"SaveV2", "RestoreV2", "MergeV2Checkpoints", "PrintV2", "MatMul"} <= set(ops)
    assert art["properties"]["libraries"] == {"tensorflow": "2.16.1"}


def test_file_and_python_ops_in_graph_and_function_library(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, TF / "evil" / "saved_model.pb")
    art = only_artifact(doc)
    assert code == 1
    (py,) = with_rule(art, "AS-KER-006")
    assert py["severity"] == "critical"
    assert py["detail"] == "function __inference_call_42: node 'py' is op EagerPyFunc"
    files = {f["detail"] for f in with_rule(art, "AS-KER-007")}
    assert files == {
        "graph: node 'read' is op ReadFile",
        "graph: node 'leak' is op PrintV2 (output_stream 'file:///tmp/leak.txt')",
        "function __inference_call_42: node 'write' is op WriteFile",
    }
    assert all(f["severity"] == "critical" for f in with_rule(art, "AS-KER-007"))


def test_frozen_graphdef_pyfunc(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, TF / "frozen_graph.pb")
    art = only_artifact(doc)
    assert art["format"] == "tensorflow"
    (f,) = with_rule(art, "AS-KER-006")
    assert code == 1 and f["evidence"] == "PyFunc"
    assert f["detail"] == "graph: node 'py' is op PyFunc"


def test_truncated_saved_model_is_malformed(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, TF / "truncated_saved_model.pb")
    art = only_artifact(doc)
    (f,) = with_rule(art, "AS-KER-008")
    assert code == 1 and f["severity"] == "medium"
    assert "field 2 claims" in f["detail"]
    assert art["errors"] == []


def test_benign_keras_metadata_passes(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, TF / "benign" / "keras_metadata.pb")
    art = only_artifact(doc)
    assert code == 0, art["findings"]
    assert art["format"] == "keras-savedmodel-metadata"
    assert art["findings"] == [] and art["errors"] == []
    assert art["properties"]["keras_objects"] == 2


def test_lambda_in_tf_keras_saved_model_metadata(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, TF / "keras_lambda" / "keras_metadata.pb")
    art = only_artifact(doc)
    assert code == 1
    # The model's JSON repeats the layer's: reported once.
    (f,) = with_rule(art, "AS-KER-001")
    assert f["severity"] == "critical"
    assert "keras_metadata root (_tf_keras_sequential) config.layers[1] (Lambda 'lambda')" in f["detail"]
    assert set(f["extra"]["call_chain"]) == {"__import__", "os", "system"}


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _field(number: int, value: bytes | str | int) -> bytes:
    if isinstance(value, int):
        return _varint(number << 3) + _varint(value)
    raw = value.encode() if isinstance(value, str) else value
    return _varint(number << 3 | 2) + _varint(len(raw)) + raw


def test_field_order_does_not_hide_a_saved_model(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Protobuf parsers accept fields in any order; so must detection (meta graphs before the version)."""
    node = _field(2, "PyFunc") + _field(1, "py")  # op before name
    graph = _field(4, _field(1, 1808)) + _field(1, node)  # versions before the nodes
    saved = _field(2, _field(2, graph)) + _field(1, 1)
    path = tmp_path / "saved_model.pb"
    path.write_bytes(saved)
    code, doc = scan(run_cli, path)
    art = only_artifact(doc)
    assert art["format"] == "tensorflow"
    (f,) = with_rule(art, "AS-KER-006")
    assert code == 1 and f["detail"] == "graph: node 'py' is op PyFunc"
    frozen = tmp_path / "frozen.pb"
    frozen.write_bytes(graph)
    code, doc = scan(run_cli, frozen)
    (f,) = with_rule(only_artifact(doc), "AS-KER-006")
    assert code == 1 and f["evidence"] == "PyFunc"
