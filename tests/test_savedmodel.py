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
