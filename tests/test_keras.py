"""Keras: real .keras/.h5 files pass; Lambda layers anywhere, foreign and dangerous references are flagged."""

from __future__ import annotations

import marshal

import pytest

from scanner.formats.keras_config import marshal_strings
from tests.formats_util import FORMATS, above_low, only_artifact, scan, with_rule

KERAS = FORMATS / "keras"


@pytest.mark.parametrize(
    ("name", "fmt"),
    [("benign.keras", "keras"), ("benign_wrappers.keras", "keras"), ("benign_legacy.h5", "hdf5")],
)
def test_benign_models_pass(run_cli, name: str, fmt: str) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, KERAS / name)
    art = only_artifact(doc)
    assert code == 0, art["findings"]
    assert art["format"] == fmt
    assert above_low(art) == [] and art["errors"] == []
    assert art["properties"]["framework"] == "keras"
    assert art["properties"]["libraries"]["keras"].startswith("3.")


def test_legacy_h5_weights_are_listed_not_loaded(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, doc = scan(run_cli, KERAS / "benign_legacy.h5")
    props = only_artifact(doc)["properties"]
    # Dense(4->8) and Dense(8->2): two kernels and two biases, from dataset shapes only.
    assert props["tensor_count"] == 4
    assert props["parameter_count"] == 4 * 8 + 8 + 8 * 2 + 2


def test_keras_archive_members_are_scanned(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, doc = scan(run_cli, KERAS / "benign.keras")
    analyzed = only_artifact(doc)["coverage"]["analyzed"]
    assert "keras:." in analyzed
    assert "keras-h5:model.weights.h5" in analyzed


def test_lambda_inside_wrapper_inside_nested_model(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, KERAS / "lambda_nested.keras")
    art = only_artifact(doc)
    assert code == 1
    (f,) = with_rule(art, "AS-KER-001")
    assert f["severity"] == "critical"
    # Functional -> Sequential 'inner' -> TimeDistributed 'wrapped' -> Lambda 'payload'.
    assert "config.layers[1].config.layers[1].config.layer (Lambda 'payload')" in f["detail"]
    assert "dangerous names: __import__, os, system" in f["detail"]
    assert set(f["extra"]["call_chain"]) == {"__import__", "os", "system"}
    assert "id" in f["extra"]["decompiled"].splitlines()


def test_lambda_in_keras3_legacy_h5(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, KERAS / "lambda_legacy.h5")
    (f,) = with_rule(only_artifact(doc), "AS-KER-001")
    assert code == 1 and f["severity"] == "critical"
    assert "attribute model_config config.layers[1] (Lambda 'plus_one')" in f["detail"]
    assert "marshalled bytecode" in f["detail"]


def test_lambda_in_keras2_h5_shows_decoded_function(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, KERAS / "lambda_keras2.h5")
    art = only_artifact(doc)
    (f,) = with_rule(art, "AS-KER-001")
    assert code == 1 and f["severity"] == "critical"
    assert "names and strings: subprocess, id, __import__, check_output" in f["detail"]
    assert set(f["extra"]["call_chain"]) == {"__import__", "subprocess", "check_output"}
    assert art["properties"]["libraries"] == {"keras": "2.15.0"}


def test_marshal_strings_recovers_code_names() -> None:
    code = compile("lambda t: __import__('os').popen('uname -a').read() + t", "m.py", "eval")
    lam = next(c for c in code.co_consts if hasattr(c, "co_code"))
    strings = marshal_strings(marshal.dumps(lam))
    assert set(lam.co_names) <= set(strings)
    assert "uname -a" in strings and "os" in strings


def test_registered_custom_object_is_medium(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, KERAS / "custom_object.keras")
    (f,) = with_rule(only_artifact(doc), "AS-KER-002")
    assert code == 1 and f["severity"] == "medium"
    assert f["evidence"] == "acme_layers>Scale"
    assert "(Scale 'scale')" in f["detail"]


def test_module_outside_keras_is_medium(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, KERAS / "foreign_module.keras")
    (f,) = with_rule(only_artifact(doc), "AS-KER-002")
    assert code == 1 and f["severity"] == "medium"
    assert f["evidence"] == "acme_models.layers.Dense"
    assert "comes from module 'acme_models.layers'" in f["detail"]


@pytest.mark.parametrize(
    ("name", "qualname", "where"),
    [
        ("os_system.keras", "os.system", "config.layers[1].config.kernel_initializer"),
        ("get_file_function.keras", "keras.utils.get_file", "config.layers[1].config.activation"),
    ],
)
def test_dangerous_function_reference_is_critical(run_cli, name: str, qualname: str, where: str) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, KERAS / name)
    (f,) = with_rule(only_artifact(doc), "AS-KER-003")
    assert code == 1 and f["severity"] == "critical"
    assert f["evidence"] == qualname
    assert where in f["detail"]


def test_member_leaving_the_archive_is_high(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, KERAS / "zip_slip.keras")
    (f,) = with_rule(only_artifact(doc), "AS-KER-005")
    assert code == 1 and f["severity"] == "high"
    assert f["evidence"] == "../../evil.py"


def test_deeply_nested_config_is_a_limit_finding(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, KERAS / "deep_config.keras")
    art = only_artifact(doc)
    assert code == 1
    assert art["errors"] == []
    details = [f["detail"] for f in with_rule(art, "AS-GEN-004")]
    assert "config.json: JSON nested too deeply" in details


def test_registered_names_of_keras_packages_are_not_custom() -> None:
    from scanner.formats.keras_config import judge_config

    config = {
        "class_name": "Functional",
        "config": {
            "layers": [
                {"class_name": "GemmaBackbone", "registered_name": "keras_hub>GemmaBackbone", "config": {}},
                {"class_name": "Scale", "registered_name": "acme>Scale", "config": {}},
            ]
        },
    }
    findings = list(judge_config(config, "keras", "config.json"))
    assert [(f.rule_id, f.evidence) for f in findings] == [("AS-KER-002", "acme>Scale")]


def test_keras_listing_outside_the_probe_is_still_judged(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Padding members push config.json out of the first and last 64 KiB; Keras still loads it."""
    import zipfile

    source = KERAS / "lambda_nested.keras"
    path = tmp_path / "padded.keras"
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zout:
        for i in range(3000):
            zout.writestr(f"assets/pad/{i:05d}_{'x' * 20}.txt", b"")
        for info in zin.infolist():
            zout.writestr(info.filename, zin.read(info))
        for i in range(3000):
            zout.writestr(f"assets/tail/{i:05d}_{'y' * 20}.txt", b"")
    head = path.read_bytes()[: 64 * 1024]
    tail = path.read_bytes()[-(64 * 1024 + 22) :]
    assert b"config.json" not in head + tail
    code, doc = scan(run_cli, path)
    art = only_artifact(doc)
    (f,) = with_rule(art, "AS-KER-001")
    assert code == 1 and f["severity"] == "critical"
    assert f["location"]["member"] == "config.json"
    assert "(Lambda 'payload')" in f["detail"]


def test_zip_directory_claiming_too_many_members_is_not_opened(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import struct

    data = bytearray((KERAS / "benign.keras").read_bytes())
    eocd = data.rfind(b"PK\x05\x06")
    struct.pack_into("<HH", data, eocd + 8, 60_000, 60_000)  # entries on this disk, total entries
    path = tmp_path / "claims.keras"
    path.write_bytes(bytes(data))
    code, doc = scan(run_cli, path)
    art = only_artifact(doc)
    details = [f["detail"] for f in with_rule(art, "AS-GEN-004") if f["analyzer"] == "keras"]
    assert code == 1 and art["errors"] == []
    assert details == [f"zip directory claims 60000 members in {struct.unpack_from('<I', data, eocd + 12)[0]} bytes: not opened"]
