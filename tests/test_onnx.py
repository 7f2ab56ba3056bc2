"""ONNX analyzer: benign exports pass; external data, Python ops, domains, secrets, malformed and deep input."""

from __future__ import annotations

import io
import os
from pathlib import Path

import onnx
import pytest
from onnx import TensorProto, helper

from scanner.formats._protowire import WireSource
from scanner.formats.onnx_model import _Walk, external_path_problem, looks_like_onnx
from tests.formats_util import FORMATS, above_low, only_artifact, scan, with_rule

ONNX = FORMATS / "onnx"


@pytest.mark.parametrize("name", ["benign_torch.onnx", "benign_if.onnx"])
def test_benign_models_pass(run_cli, name: str) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, ONNX / name)
    art = only_artifact(doc)
    assert code == 0, art["findings"]
    assert art["format"] == "onnx"
    assert above_low(art) == []
    assert art["errors"] == []


def test_benign_torch_export_properties(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, doc = scan(run_cli, ONNX / "benign_torch.onnx")
    props = only_artifact(doc)["properties"]
    # Linear(8,16) + Linear(16,4): two weights and two biases.
    assert props["tensor_count"] == 4
    assert props["parameter_count"] == 8 * 16 + 16 + 16 * 4 + 4
    assert props["dtypes"] == ["float32"]
    assert props["libraries"]["torch"]
    # The torch export's graph agrees with what onnx itself parses.
    model = onnx.load_model(str(ONNX / "benign_torch.onnx"))
    assert props["node_count"] == len(model.graph.node)


def test_external_data_beside_the_model_is_info_only(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, ONNX / "ext_ok" / "model.onnx")
    art = only_artifact(doc)
    assert code == 0
    (info,) = with_rule(art, "AS-ONX-006")
    assert info["severity"] == "info"
    assert "'weights.bin'" in info["detail"]


def test_external_paths_in_initializer_constant_and_sparse(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, ONNX / "external_paths.onnx")
    art = only_artifact(doc)
    assert code == 1
    (absolute,) = with_rule(art, "AS-ONX-001")
    assert absolute["severity"] == "high"
    assert absolute["evidence"] == "/etc/passwd"
    assert "graph initializer tensor 'W'" in absolute["detail"]
    traversal = {f["evidence"]: f for f in with_rule(art, "AS-ONX-002")}
    assert set(traversal) == {"../../../etc/shadow", "sub/../../outside.bin"}
    # The Constant node inside the If's then branch, and the sparse initializer's values.
    assert "If.then_branch/Constant attribute 'value' tensor 'c'" in traversal["../../../etc/shadow"]["detail"]
    assert "sparse_initializer values tensor 'sp'" in traversal["sub/../../outside.bin"]["detail"]
    assert "normalises to '../outside.bin'" in traversal["sub/../../outside.bin"]["detail"]
    assert all(f["severity"] == "high" for f in traversal.values())


def test_external_paths_in_loop_and_scan_bodies(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, ONNX / "loop_scan_external.onnx")
    art = only_artifact(doc)
    assert code == 1
    (home,) = with_rule(art, "AS-ONX-001")
    assert home["evidence"] == "~/.ssh/id_rsa"
    assert "Loop(loop).body/Constant" in home["detail"]
    (up,) = with_rule(art, "AS-ONX-002")
    assert up["evidence"] == "../secrets/bias.bin"
    assert "Scan(scan).body initializer tensor 'bias'" in up["detail"]


def test_external_path_through_symlink_leaves_directory(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "w.bin").write_bytes(b"\0" * 16)
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    os.symlink(outside, model_dir / "data")
    t = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[4], data_location=TensorProto.EXTERNAL)
    t.external_data.add(key="location", value="data/w.bin")
    graph = helper.make_graph(
        [helper.make_node("Identity", ["W"], ["y"])],
        "g",
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        initializer=[t],
    )
    path = model_dir / "model.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString())
    code, doc = scan(run_cli, path)
    (f,) = with_rule(only_artifact(doc), "AS-ONX-002")
    assert code == 1
    assert f["evidence"] == "data/w.bin"
    assert "through a symlink" in f["detail"]


@pytest.mark.parametrize(
    ("location", "rule"),
    [
        ("C:\\Windows\\win.ini", "AS-ONX-001"),
        ("\\\\server\\share\\w.bin", "AS-ONX-001"),
        ("file:///etc/passwd", "AS-ONX-001"),
        ("a\\..\\..\\w.bin", "AS-ONX-002"),
        ("weights/part-0.bin", None),
        ("w..bin", None),
    ],
)
def test_external_path_rules(location: str, rule: str | None) -> None:
    problem = external_path_problem(location, None)
    assert (problem[0] if problem else None) == rule


def test_python_ops_are_critical_and_domains_low(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, ONNX / "python_op.onnx")
    art = only_artifact(doc)
    assert code == 1
    (py,) = with_rule(art, "AS-ONX-004")
    assert py["severity"] == "critical"
    assert py["evidence"] == "com.microsoft::PythonOp"
    assert py["detail"] == (
        "node graph/PythonOp(py) is operator com.microsoft::PythonOp, which runs Python code "
        "(func_name='evil.Function', input_convention='d')"
    )
    assert py["extra"]["attributes"] == {"func_name": "evil.Function", "input_convention": "d"}
    domains = {f["evidence"]: f for f in with_rule(art, "AS-ONX-003")}
    assert set(domains) == {"com.microsoft", "com.example.ops"}
    assert all(f["severity"] == "low" for f in domains.values())
    assert "FastGelu" in domains["com.example.ops"]["detail"]


def test_onnxruntime_extensions_pyop(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, doc = scan(run_cli, ONNX / "pyop_contrib.onnx")
    (py,) = with_rule(only_artifact(doc), "AS-ONX-004")
    assert py["evidence"] == "ai.onnx.contrib::PyReverseMatrix"
    assert py["severity"] == "critical"


def test_custom_domain_alone_passes_a_default_scan(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, ONNX / "custom_domain.onnx")
    art = only_artifact(doc)
    assert code == 0
    (f,) = with_rule(art, "AS-ONX-003")
    assert f["severity"] == "low" and "'com.example.ops' (opset 1)" in f["detail"]


def test_secrets_in_metadata_doc_string_and_string_tensor(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, ONNX / "secrets.onnx")
    art = only_artifact(doc)
    assert code == 1
    found = {f["extra"]["secret_type"]: f for f in with_rule(art, "AS-SEC-001")}
    assert set(found) == {"aws-access-key-id", "github-token", "huggingface-token"}
    assert "model metadata_props['aws_key']" in found["aws-access-key-id"]["detail"]
    assert "graph doc_string" in found["github-token"]["detail"]
    assert "string tensor graph initializer tensor 'labels'" in found["huggingface-token"]["detail"]
    raw = (ONNX / "secrets.onnx").read_bytes()
    for f in found.values():
        assert f["severity"] == "high"
        assert f["evidence"].startswith("[REDACTED ")
    # No output carries the raw token.
    r_text = str(doc)
    for token in (b"AKIAZ7QXTESTFAKE0KEY", b"ghp_FakeGithubTokenForTests0123456789abc"):
        assert token in raw
        assert token.decode() not in r_text


def test_truncated_protobuf_is_malformed(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, ONNX / "truncated.onnx")
    art = only_artifact(doc)
    (f,) = with_rule(art, "AS-ONX-005")
    assert code == 1 and f["severity"] == "medium"
    assert "field 7 claims" in f["detail"]
    assert art["errors"] == []


def test_huge_claimed_length_is_malformed_not_read(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, doc = scan(run_cli, ONNX / "huge_claim.onnx")
    art = only_artifact(doc)
    (f,) = with_rule(art, "AS-ONX-005")
    assert "claims 3221225519 bytes" in f["detail"]
    assert art["errors"] == []


def test_deeply_nested_subgraphs_stop_at_the_limit(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, ONNX / "deep_if.onnx")
    art = only_artifact(doc)
    (f,) = with_rule(art, "AS-GEN-004")
    assert code == 1 and f["severity"] == "medium"
    assert "subgraphs nested deeper than 64" in f["detail"]
    assert art["errors"] == []
    assert any("ONNX walk stopped" in n["reason"] for n in art["coverage"]["not_analyzed"])


def test_walk_skips_payload_of_a_3_gib_sparse_model(tmp_path: Path) -> None:
    """A model whose initializer really holds 3 GiB (a sparse file) is walked without reading it."""
    payload = 3 << 30
    tensor = TensorProto(name="W", data_type=TensorProto.FLOAT, dims=[payload // 4]).SerializeToString()
    # raw_data (field 9) is appended by hand with its 3 GiB length; the bytes are a hole in the file.
    tensor += bytes([9 << 3 | 2]) + _varint(payload)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["W"], ["y"])],
        "big",
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [payload // 4])],
    ).SerializeToString()
    graph += bytes([5 << 3 | 2]) + _varint(len(tensor) + payload) + tensor
    head = b"\x08\x08" + bytes([7 << 3 | 2]) + _varint(len(graph) + payload) + graph
    path = tmp_path / "big.onnx"
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(len(head) + payload)
    size = path.stat().st_size
    assert looks_like_onnx(head, size)

    class CountingReader(io.FileIO):
        bytes_read = 0

        def read(self, n: int = -1) -> bytes:  # type: ignore[override]
            data = super().read(n)
            CountingReader.bytes_read += len(data)
            return data

    with CountingReader(str(path), "rb") as stream:
        walk = _Walk(WireSource(stream, size), str(tmp_path))
        walk.model()
    assert walk.findings == []
    assert walk.stats.tensors == 1
    assert walk.stats.parameters == payload // 4
    assert CountingReader.bytes_read < 1 << 20


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _external_model(model_dir: Path, entries: list[tuple[str, str | None, str | None]]) -> Path:
    """A model with one float32[4] tensor per (location, offset, length) entry."""
    tensors = []
    for i, (location, offset, length) in enumerate(entries):
        t = TensorProto(name=f"W{i}", data_type=TensorProto.FLOAT, dims=[4], data_location=TensorProto.EXTERNAL)
        t.external_data.add(key="location", value=location)
        if offset is not None:
            t.external_data.add(key="offset", value=offset)
        if length is not None:
            t.external_data.add(key="length", value=length)
        tensors.append(t)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["W0"], ["y"])],
        "g",
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])],
        initializer=tensors,
    )
    path = model_dir / "model.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString())
    return path


def test_external_data_beyond_2_gib_is_range_checked(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """A >2 GB model keeps its tensors in an external file (sparse here): offsets past 2**31 work."""
    big = 3 << 30
    with open(tmp_path / "weights.bin", "wb") as f:
        f.truncate(big)
    last = str(big - 16)
    path = _external_model(tmp_path, [("weights.bin", last, "16"), ("weights.bin", str(big), "16")])
    code, doc = scan(run_cli, path)
    art = only_artifact(doc)
    assert code == 1
    (f,) = with_rule(art, "AS-ONX-007")
    assert f["severity"] == "medium"
    assert f["detail"] == (
        f"graph initializer tensor 'W1': external data bytes {big}..{big + 16} lie beyond the end of "
        f"'weights.bin' ({big} bytes)"
    )
    assert art["properties"]["external_data_bytes"] == 32


def test_external_data_whole_range_inside_passes(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "weights.bin").write_bytes(bytes(32))
    path = _external_model(tmp_path, [("weights.bin", "0", "16"), ("weights.bin", "16", None)])
    code, doc = scan(run_cli, path)
    art = only_artifact(doc)
    assert code == 0 and with_rule(art, "AS-ONX-007") == []


@pytest.mark.parametrize(
    ("offset", "length", "detail"),
    [
        ("-16", "16", "external data offset '-16' is not a byte count"),
        ("0", "0x10", "external data length '0x10' is not a byte count"),
        ("0", "12", "external data length 12 differs from the 16 bytes its shape and type need"),
    ],
)
def test_external_data_bad_ranges(run_cli, tmp_path: Path, offset: str, length: str, detail: str) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "weights.bin").write_bytes(bytes(16))
    code, doc = scan(run_cli, _external_model(tmp_path, [("weights.bin", offset, length)]))
    (f,) = with_rule(only_artifact(doc), "AS-ONX-007")
    assert code == 1
    assert f["detail"] == f"graph initializer tensor 'W0': {detail}"


def test_missing_external_file_is_noted(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, _external_model(tmp_path, [("gone.bin", "0", "16")]))
    (f,) = with_rule(only_artifact(doc), "AS-ONX-006")
    assert code == 0
    assert f["detail"] == "1 tensor(s) read from external file 'gone.bin' (not found beside the model)"


@pytest.mark.parametrize(
    "name",
    ["benign_torch.onnx", "benign_if.onnx", "python_op.onnx", "secrets.onnx", "external_paths.onnx"],
)
def test_walk_agrees_with_the_onnx_package(name: str) -> None:
    path = ONNX / name
    model = onnx.load_model(str(path), load_external_data=False)
    with open(path, "rb") as stream:
        walk = _Walk(WireSource(stream, path.stat().st_size), None)
        walk.model()
    top = len(model.graph.initializer) + len(model.graph.sparse_initializer)
    assert walk.stats.tensors == top
    assert walk.stats.opsets == {o.domain: o.version for o in model.opset_import}

    def count_nodes(graph: onnx.GraphProto) -> int:
        total = 0
        for node in graph.node:
            total += 1
            for attr in node.attribute:
                if attr.type == onnx.AttributeProto.GRAPH:
                    total += count_nodes(attr.g)
        return total

    assert walk.stats.nodes == count_nodes(model.graph)
    assert walk.producer == (model.producer_name, model.producer_version)


def test_local_function_domain_is_not_foreign_but_its_body_is_walked(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    body = [
        helper.make_node("Relu", ["a"], ["b"]),
        helper.make_node("PythonOp", ["b"], ["c"], domain="com.microsoft"),
    ]
    fn = helper.make_function("acme.fn", "Block", ["a"], ["c"], body, [helper.make_opsetid("", 17)])
    graph = helper.make_graph(
        [helper.make_node("Block", ["x"], ["y"], domain="acme.fn")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(
        graph,
        functions=[fn],
        opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("acme.fn", 1)],
    )
    path = tmp_path / "fn.onnx"
    path.write_bytes(model.SerializeToString())
    code, doc = scan(run_cli, path)
    art = only_artifact(doc)
    assert code == 1
    (py,) = with_rule(art, "AS-ONX-004")
    assert "function acme.fn.Block/PythonOp" in py["detail"]
    # acme.fn::Block is defined in the model itself: only com.microsoft is a foreign domain.
    assert {f["evidence"] for f in with_rule(art, "AS-ONX-003")} == {"com.microsoft"}


def test_secret_in_a_string_attribute(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    token = "ghp_" + "AttrSecretForTests0123456789abcdefgh"
    node = helper.make_node("Identity", ["x"], ["y"], name="id", note=f"pushed with {token}")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    path = tmp_path / "attr.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString())
    code, doc = scan(run_cli, path)
    (f,) = with_rule(only_artifact(doc), "AS-SEC-001")
    assert code == 1
    assert f["detail"] == "github-token in graph/Identity(id) attribute 'note'"
    assert token not in str(doc)


def _python_op_model() -> onnx.ModelProto:
    graph = helper.make_graph(
        [helper.make_node("PythonOp", ["x"], ["y"], domain="com.microsoft", name="py")],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    return helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)]
    )


@pytest.mark.parametrize("first", ["doc_string", "metadata_props", "functions"])
def test_large_first_field_does_not_hide_the_model(run_cli, tmp_path: Path, first: str) -> None:  # type: ignore[no-untyped-def]
    """Protobuf fields may come in any order: a 100 KB field before ir_version must not evade detection."""
    filler = onnx.ModelProto()
    if first == "doc_string":
        filler.doc_string = "model card. " * 10_000
    elif first == "metadata_props":
        filler.metadata_props.add(key="notes", value="x" * 100_000)
    else:
        body = [helper.make_node("Relu", ["a"], ["b"], doc_string="y" * 100_000)]
        filler.functions.append(helper.make_function("acme", "F", ["a"], ["b"], body, []))
    data = filler.SerializeToString() + _python_op_model().SerializeToString()
    # onnx (like the runtimes) parses the reordered bytes as one model.
    parsed = onnx.load_model_from_string(data)
    assert parsed.ir_version and parsed.graph.node[0].op_type == "PythonOp"
    path = tmp_path / "reordered.bin"
    path.write_bytes(data)
    code, doc = scan(run_cli, path)
    art = only_artifact(doc)
    assert art["format"] == "onnx"
    (f,) = with_rule(art, "AS-ONX-004")
    assert code == 1 and f["evidence"] == "com.microsoft::PythonOp"


def test_large_text_file_is_not_taken_for_onnx(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "notes.txt"
    path.write_text("2" + "é" * 60_000 + "\\n")
    _, doc = scan(run_cli, path)
    assert only_artifact(doc)["format"] != "onnx"


def test_onnx_saved_external_data_passes(run_cli) -> None:  # type: ignore[no-untyped-def]
    """onnx.save_model(save_as_external_data=True) output: ranges and paths all check out."""
    code, doc = scan(run_cli, ONNX / "ext_real")
    assert code == 0
    model = next(a for a in doc["artifacts"] if a["path"].endswith("model.onnx"))
    (info,) = with_rule(model, "AS-ONX-006")
    assert info["detail"] == "4 tensor(s) read from external file 'model.onnx.data'"
    assert above_low(model) == []
    data = (ONNX / "ext_real" / "model.onnx.data").stat().st_size
    assert model["properties"]["external_data_bytes"] == data
