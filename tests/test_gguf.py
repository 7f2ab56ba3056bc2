"""GGUF: our bounded reader agrees with the gguf package on real files; hostile headers are findings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from scanner.formats.gguf_reader import ARRAY, STRING, GgufHeader, GgufReader
from tests.formats_util import FORMATS, above_low, only_artifact, scan, with_rule

GGUF = FORMATS / "gguf"
PARSEABLE = ["benign_chatml.gguf", "benign_llama3_types.gguf", "secret_metadata.gguf", "evil_template.gguf"]


def read_ours(path: Path) -> GgufHeader:
    with open(path, "rb") as f:
        return GgufReader(f, os.path.getsize(path)).read()


@pytest.mark.parametrize("name", PARSEABLE)
def test_reader_agrees_with_the_gguf_package(name: str) -> None:
    gguf = pytest.importorskip("gguf")
    path = GGUF / name
    ours = read_ours(path)
    theirs = gguf.GGUFReader(str(path))
    fields = {k: f for k, f in theirs.fields.items() if not k.startswith("GGUF.")}
    assert [m.key for m in ours.metadata] == list(fields)
    for item in ours.metadata:
        field = fields[item.key]
        assert item.type_id == int(field.types[0]), item.key
        if item.type_id == ARRAY:
            assert item.element_type == int(field.types[1]), item.key
            # parts: key length, key, value type, element type, element count, items...
            assert item.count == int(field.parts[4][0]), item.key
            if item.element_type == STRING:
                assert item.value == field.contents(), item.key
        else:
            assert item.value == field.contents(), item.key
    assert ours.version == theirs.fields["GGUF.version"].contents()
    assert ours.data_start == theirs.data_offset
    assert [(t.name, t.dims, t.type_id) for t in ours.tensors] == [
        (t.name, tuple(int(d) for d in t.shape), int(t.tensor_type)) for t in theirs.tensors
    ]
    assert [ours.data_start + t.offset for t in ours.tensors] == [int(t.data_offset) for t in theirs.tensors]


def test_every_scalar_type_and_nested_array_is_read() -> None:
    header = read_ours(GGUF / "benign_llama3_types.gguf")
    values = {m.key: m for m in header.metadata}
    assert values["t.u8"].value == 200 and values["t.i8"].value == -100
    assert values["t.u16"].value == 60000 and values["t.i16"].value == -30000
    assert values["t.u32"].value == 4_000_000_000 and values["t.i32"].value == -2_000_000_000
    assert values["t.u64"].value == 1 << 60 and values["t.i64"].value == -(1 << 60)
    assert values["t.f32"].value == 0.5 and values["t.f64"].value == 2.25
    assert values["t.bool"].value is True
    assert values["t.strings"].value == ["alpha", "beta", "gamma"]
    nested = values["t.nested"]
    assert (nested.type_id, nested.element_type, nested.count) == (ARRAY, ARRAY, 2)


@pytest.mark.parametrize("name", ["benign_chatml.gguf", "benign_llama3_types.gguf"])
def test_benign_gguf_passes(run_cli, name: str) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, GGUF / name)
    art = only_artifact(doc)
    assert code == 0, art["findings"]
    assert art["format"] == "gguf"
    assert above_low(art) == [] and art["errors"] == []
    props = art["properties"]
    assert props["architecture"] == "llama"
    assert props["chat_template"] is True
    assert props["tensor_count"] == 2 and props["parameter_count"] == 64
    assert props["dtypes"] == ["F16", "F32"]


def test_template_injection_in_metadata_is_critical(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, GGUF / "evil_template.gguf")
    art = only_artifact(doc)
    assert code == 1
    crit = {f["evidence"]: f for f in with_rule(art, "AS-TPL-001")}
    # '__glo' ~ 'bals__' is folded through the {% set %} variable before |attr judges it.
    assert crit["__globals__"]["severity"] == "critical"
    assert "GGUF metadata 'tokenizer.chat_template'" in crit["__globals__"]["detail"]
    assert "attr() reaches the dunder attribute '__globals__'" in crit["__globals__"]["detail"]


def test_secret_in_metadata_is_redacted(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, GGUF / "secret_metadata.gguf")
    (f,) = with_rule(only_artifact(doc), "AS-SEC-001")
    assert code == 1 and f["severity"] == "high"
    assert f["detail"] == "huggingface-token in GGUF metadata 'general.source.url'"
    assert f["evidence"].startswith("[REDACTED huggingface-token: hf_F")
    assert "hf_FakeTokenForTests" not in str(doc)


@pytest.mark.parametrize(
    ("name", "rule", "detail"),
    [
        ("huge_kv_count.gguf", "AS-GGF-001", "metadata count claims 1099511627776 entries"),
        ("array_count_2_63.gguf", "AS-GGF-001", "array 'evil.array' claims 9223372036854775808 entries"),
        ("string_len_huge.gguf", "AS-GGF-001", "string claims 4611686018427387904 bytes"),
        ("truncated.gguf", "AS-GGF-001", "array 'tokenizer.ggml.scores' claims 4 entries"),
        ("nested_arrays.gguf", "AS-GEN-004", "arrays nested deeper than 4"),
        ("duplicate_key.gguf", "AS-GGF-002", "key 'general.name' appears again"),
        ("tensor_out_of_file.gguf", "AS-GGF-003", "tensor 'token_embd.weight': bytes 1048704..1049216 lie beyond"),
    ],
)
def test_hostile_headers_are_findings(run_cli, name: str, rule: str, detail: str) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, GGUF / name)
    art = only_artifact(doc)
    assert code == 1
    assert art["errors"] == []
    (f,) = with_rule(art, rule)
    assert f["severity"] == "medium"
    assert detail in f["detail"]


def test_gguf_v1_counts_are_32_bit(tmp_path: Path) -> None:
    import struct

    key = b"general.name"
    value = b"v1-model"
    body = b"GGUF" + struct.pack("<III", 1, 0, 1)
    body += struct.pack("<I", len(key)) + key + struct.pack("<I", 8) + struct.pack("<I", len(value)) + value
    path = tmp_path / "v1.gguf"
    path.write_bytes(body)
    header = read_ours(path)
    assert header.version == 1
    assert header.get("general.name") == "v1-model"


def test_named_templates_and_jinja_in_other_keys(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, GGUF / "evil_named_template.gguf")
    art = only_artifact(doc)
    assert code == 1
    by_key: dict[str, set[str]] = {}
    for f in with_rule(art, "AS-TPL-001"):
        key = f["detail"].split("'")[1]
        by_key.setdefault(key, set()).add(f["evidence"])
    # The tool_use template folds '_'*2 ~ 'class' ~ '_'*2; the default (Llama 3) template passes.
    assert by_key["tokenizer.chat_template.tool_use"] == {"__class__"}
    assert {"__globals__", "__builtins__", "__import__", "system"} <= by_key["general.description"]
    assert "tokenizer.chat_template" not in by_key


@pytest.mark.parametrize(
    "name", ["huge_kv_count.gguf", "array_count_2_63.gguf", "string_len_huge.gguf", "nested_arrays.gguf"]
)
def test_hostile_claims_allocate_nothing_large(name: str) -> None:
    import tracemalloc

    from scanner.formats.gguf_reader import GgufError

    path = GGUF / name
    tracemalloc.start()
    try:
        with pytest.raises(GgufError):
            read_ours(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # The read window is 1 MiB at most; the claims (2**40 keys, 2**63 elements, 2**62 bytes) are refused.
    assert peak < 2 << 20
