"""Pickles found through containers: every member is handed to the pickle analyzers by content, with its
nested member path, and container tampering is reported beside the pickle's own findings."""

from __future__ import annotations

from typing import Any

import pytest

from tests.test_archives_zip import ARC, by_rule, scan


def pkl(art: dict[str, Any]) -> dict[str, Any]:
    (hit,) = by_rule(art, "AS-PKL-001")
    assert hit["severity"] == "critical"
    return hit


def test_edited_checkpoint_pickle_with_stale_crc(run_cli) -> None:  # type: ignore[no-untyped-def]
    """The payload PyTorch would load (it skips CRCs) is found, and the stale CRC is reported too."""
    code, art = scan(run_cli, ARC / "torch_evil_bad_crc.pt")
    assert code == 1 and art["format"] == "pytorch-zip"
    hit = pkl(art)
    assert hit["location"]["member"] == "torch_state_dict/data.pkl"
    assert hit["evidence"] == "posix.system"
    (crc,) = by_rule(art, "AS-ARC-003")
    assert crc["location"]["member"] == "torch_state_dict/data.pkl"


def test_pickle_under_a_storage_name(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, art = scan(run_cli, ARC / "torch_pickle_as_storage.pt")
    assert pkl(art)["location"]["member"] == "torch_state_dict/data/7"


@pytest.mark.parametrize(
    ("name", "member"),
    [
        ("evil_model.tar.gz", "evil_model.tar!checkpoint.pt!torch_state_dict/data.pkl"),
        ("evil.pkl.gz", "evil.pkl"),
        ("evil.pkl.bz2", "evil.pkl"),
        ("evil.pkl.xz", "evil.pkl"),
        ("evil.7z", "evil.pkl"),
    ],
)
def test_pickle_inside_wrappers(run_cli, name: str, member: str) -> None:  # type: ignore[no-untyped-def]
    code, art = scan(run_cli, ARC / name)
    assert code == 1
    hit = pkl(art)
    assert hit["location"]["member"] == member
    assert hit["evidence"] == "posix.system"


@pytest.mark.parametrize("name", ["torch_state_dict.pt", "arrays.npz", "arrays_compressed.npz"])
def test_benign_containers_pass(run_cli, name: str) -> None:  # type: ignore[no-untyped-def]
    code, art = scan(run_cli, ARC / name)
    assert code == 0, art["findings"]
    assert [f for f in art["findings"] if f["severity"] not in ("info", "low")] == []
    assert not any(n["reason"] == "no analyzer recognises this content" for n in art["coverage"]["not_analyzed"])


def test_legacy_torch_tar_split_as_torch_reads_it(run_cli) -> None:  # type: ignore[no-untyped-def]
    """storages/tensors interleave pickles and raw data: each pickle and each storage is its own member."""
    code, art = scan(run_cli, ARC / "legacy_torch.tar")
    assert art["format"] == "pytorch-tar"
    # the legacy tensor types (torch.FloatTensor ...) it names are allowlisted: a default scan passes
    assert code == 0, art["findings"]
    analyzed = art["coverage"]["analyzed"]
    assert {"pickle:storages#0", "pickle:storages#1", "tensor-storage:storages/data/2"} <= set(analyzed)
    assert {"pickle:tensors#0", "pickle:tensors#1"} <= set(analyzed)
    assert by_rule(art, "AS-PKL-008") == []  # no raw bytes mistaken for junk between pickles
    assert not [f for f in art["findings"] if f["rule_id"].startswith(("AS-ARC", "AS-GEN"))]


def test_legacy_torch_tar_hostile_storages(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import io
    import tarfile

    evil = b"\x80\x02cposix\nsystem\nq\x00X\x0b\x00\x00\x00echo pwned!q\x01\x85q\x02Rq\x03."
    storages = b"\x80\x02K\x01." + evil + (6).to_bytes(8, "little") + bytes(24) + b"\x80\x02]q\x00."
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for name, data in (("sys_info", b"\x80\x02}q\x00."), ("storages", storages)):
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    path = tmp_path / "evil_legacy.tar"
    path.write_bytes(buf.getvalue())
    code, art = scan(run_cli, path)
    assert code == 1 and art["format"] == "pytorch-tar"
    hit = pkl(art)
    assert hit["location"]["member"].startswith("storages")
    assert hit["evidence"] == "posix.system"
