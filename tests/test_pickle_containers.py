"""End to end with the archive analyzers: pickles inside torch zips, TorchScript, .npz and gzip/bz2/xz
reach the pickle engine by content, whatever their member names."""

from __future__ import annotations

import pytest

from tests.conftest import FIXTURES
from tests.pickle_helpers import BENIGN, HOSTILE, find, findings, scan_json


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("torch_mlp_state.pt", "pytorch-zip"),
        ("torch_mlp_module.pt", "pytorch-zip"),
        ("torch_checkpoint.ckpt", "pytorch-zip"),
        ("arrays.npz", "npz"),
        ("sklearn_pipeline.joblib.gzip", "gzip"),
        ("sklearn_pipeline.joblib.bz2", "bzip2"),
        ("sklearn_pipeline.joblib.xz", "xz"),
    ],
)
def test_benign_containers_pass_and_their_pickles_are_analyzed(run_cli, name: str, fmt: str) -> None:  # type: ignore[no-untyped-def]
    data = scan_json(run_cli, str(BENIGN / name), expect=0)
    artifact = data["artifacts"][0]
    assert artifact["format"] == fmt
    assert any(a.split(":", 1)[0] in ("pickle", "joblib", "npy") for a in artifact["coverage"]["analyzed"])


def test_torchscript_classes_are_low_and_pass(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = scan_json(run_cli, str(BENIGN / "torchscript_mlp.pt"), expect=0)
    f = find(data, "AS-PKL-010", "__torch__.torch.nn.modules.linear.Linear")
    assert f["severity"] == "low" and f["location"]["member"].endswith("data.pkl")
    assert {x["severity"] for x in findings(data)} <= {"info", "low"}


@pytest.mark.parametrize(
    ("name", "member_end", "dotted"),
    [
        ("torch_zip_evil.pt", "data.pkl", "posix.system"),
        ("object_member_evil.npz", "evil.npy", "posix.system"),
        ("gzip_evil.pkl.gz", "gzip_evil.pkl", "os.system"),
        ("bz2_evil.pkl.bz2", "bz2_evil.pkl", "os.system"),
    ],
)
def test_hostile_pickle_inside_a_container(run_cli, name: str, member_end: str, dotted: str) -> None:  # type: ignore[no-untyped-def]
    data = scan_json(run_cli, str(HOSTILE / name), expect=1)
    f = find(data, "AS-PKL-001", dotted)
    assert f["severity"] == "critical" and f["location"]["member"].endswith(member_end)
    assert f["extra"]["call_chain"] == [f"{dotted}('true')"]


def test_demo_malicious_model(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = scan_json(run_cli, str(FIXTURES / "demo" / "malicious-model"), expect=1)
    f = find(data, "AS-PKL-001", "posix.system")
    assert f["severity"] == "critical" and f["location"]["member"] == "model/data.pkl"
    assert "system('true')" in f["extra"]["decompiled"]


def test_pickled_tensor_loader_is_low_when_its_payload_is_clean(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = scan_json(run_cli, str(BENIGN / "torch_tensor_pickled.pkl"), expect=0)
    f = find(data, "AS-PKL-001", "torch.storage._load_from_bytes")
    assert f["severity"] == "low" and "nothing found" in f["detail"]
    data = scan_json(run_cli, str(HOSTILE / "torch_load_from_bytes_evil.pkl"), expect=1)
    assert find(data, "AS-PKL-001", "torch.storage._load_from_bytes")["severity"] == "critical"
    inner = find(data, "AS-PKL-001", "posix.system")
    assert inner["severity"] == "critical" and inner["location"]["member"].endswith("data.pkl")


def test_a_malformed_npy_header_is_reported_the_same_every_time(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """literal_eval's message names the offending node by its repr, memory address included."""
    header = b"{'descr': numpy_float, 'fortran_order': False, 'shape': (2,), }"
    header += b" " * (63 - len(header) % 64) + b"\n"
    path = tmp_path / "bad_header.npy"
    path.write_bytes(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header + bytes(16))
    details = []
    for _ in range(2):
        f = find(scan_json(run_cli, str(path), expect=1), "AS-GEN-005")
        assert f["detail"].startswith("header is not a literal: malformed node or string")
        details.append(f["detail"])
    assert " at 0x" not in details[0] and details[0] == details[1]
