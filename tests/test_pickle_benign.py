"""Benign files written by the real libraries produce nothing above low (a default scan passes)."""

from __future__ import annotations

import zipfile

import pytest

from tests.pickle_helpers import BENIGN, findings, scan_json

FILES = sorted(p.name for p in BENIGN.iterdir())


@pytest.mark.parametrize("name", FILES)
def test_benign_file_passes(run_cli, name: str) -> None:  # type: ignore[no-untyped-def]
    data = scan_json(run_cli, str(BENIGN / name))
    worst = [(f["rule_id"], f["severity"], f["detail"]) for f in findings(data) if f["severity"] not in ("info", "low")]
    assert worst == []
    assert data["artifacts"][0]["errors"] == []


def test_benign_formats_are_recognised(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = scan_json(
        run_cli,
        str(BENIGN / "plain_p0.pkl"),
        str(BENIGN / "sklearn_logreg.joblib"),
        str(BENIGN / "torch_mlp_state_legacy.pt"),
        str(BENIGN / "array_object.npy"),
        str(BENIGN / "sklearn_pipeline.joblib.zlib"),
        expect=0,
    )
    formats = {a["relpath"]: a["format"] for a in data["artifacts"]}
    assert formats == {
        "plain_p0.pkl": "pickle",
        "sklearn_logreg.joblib": "joblib",
        "torch_mlp_state_legacy.pt": "pytorch-legacy",
        "array_object.npy": "npy",
        "sklearn_pipeline.joblib.zlib": "compressed-pickle",
    }
    legacy = next(a for a in data["artifacts"] if a["format"] == "pytorch-legacy")
    assert legacy["properties"]["storage_count"] == 4
    assert "torch._utils._rebuild_tensor_v2" in legacy["properties"]["pickle_imports"]
    joblib = next(a for a in data["artifacts"] if a["format"] == "joblib")
    assert "sklearn.linear_model._logistic.LogisticRegression" in joblib["properties"]["pickle_imports"]


@pytest.mark.parametrize("name", ["torch_mlp_state.pt", "torch_mlp_module.pt", "torch_checkpoint.ckpt"])
def test_torch_zip_pickles_pass(run_cli, tmp_path, name: str) -> None:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(BENIGN / name) as z:
        member = next(n for n in z.namelist() if n.endswith("data.pkl"))
        (tmp_path / "data.pkl").write_bytes(z.read(member))
    data = scan_json(run_cli, str(tmp_path / "data.pkl"), expect=0)
    assert data["artifacts"][0]["format"] == "pickle"


def test_torchscript_pickles_are_at_most_low(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(BENIGN / "torchscript_mlp.pt") as z:
        for n in z.namelist():
            if n.endswith(".pkl"):
                (tmp_path / n.replace("/", "_")).write_bytes(z.read(n))
    data = scan_json(run_cli, str(tmp_path), expect=0)
    torch_classes = [f for f in findings(data) if f["rule_id"] == "AS-PKL-010"]
    assert torch_classes and all(f["severity"] == "low" for f in torch_classes)
    assert any(f["extra"]["module"].startswith("__torch__.") for f in torch_classes)


def test_text_starting_with_a_paren_is_not_a_pickle(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "notes.txt").write_text("(hello) this is prose, not a pickle\n")
    (tmp_path / "pins.txt").write_text("torch==2.5.1\n")  # decodes as opcodes up to '.', pops an empty stack
    data = scan_json(run_cli, str(tmp_path), expect=0)
    assert {a["format"] for a in data["artifacts"]}.isdisjoint({"pickle"})
    assert not [f for f in findings(data) if f["rule_id"].startswith("AS-PKL")]
