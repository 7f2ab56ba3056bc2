"""safetensors: benign files from the real writers pass; each format violation is its own finding."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import FIXTURES

SFT = FIXTURES / "safetensors"


def _scan(run_cli: Any, name: str) -> dict[str, Any]:
    r = run_cli("scan", str(SFT / name), "--json", "-")
    (art,) = r.json()["artifacts"]
    assert art["format"] == "safetensors"
    assert art["errors"] == []
    return art


def _own(art: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(rule, severity, detail) of the analyzer's own findings (members aside), sorted."""
    return sorted(
        (f["rule_id"], f["severity"], f["detail"]) for f in art["findings"] if f["location"]["member"] is None
    )


def _member_seen(art: dict[str, Any], member: str) -> bool:
    cov = art["coverage"]
    return any(a.endswith(":" + member) for a in cov["analyzed"]) or any(
        n["member"] == member for n in cov["not_analyzed"]
    )


def test_benign_torch_file_passes_with_properties(run_cli) -> None:  # type: ignore[no-untyped-def]
    art = _scan(run_cli, "benign_torch.safetensors")
    assert art["findings"] == []
    props = art["properties"]
    assert props["framework"] == "pytorch"
    assert props["tensor_count"] == 8
    # Linear(16, 8) + Linear(8, 4) + bf16 10x4 + 3 bools + 5 int64 + an empty 0x3 tensor
    assert props["parameter_count"] == 16 * 8 + 8 + 8 * 4 + 4 + 40 + 3 + 5 + 0
    assert props["dtypes"] == {"BF16": 1, "BOOL": 1, "F16": 1, "F32": 4, "I64": 1}
    assert props["shapes"]["largest"][0] == {"name": "0.weight", "dtype": "F32", "shape": [8, 16]}
    assert props["shapes"]["ranks"] == {"1": 4, "2": 4}


def test_benign_numpy_file_passes(run_cli) -> None:  # type: ignore[no-untyped-def]
    art = _scan(run_cli, "benign_numpy.safetensors")
    assert art["findings"] == []
    assert art["properties"]["framework"] == "numpy"
    assert art["properties"]["metadata_keys"] == ["format"]


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        (
            "header_past_eof.safetensors",
            [
                (
                    "AS-SFT-001",
                    "medium",
                    "header length 1099511627776 is over the format's 100000000-byte limit",
                ),
                (
                    "AS-SFT-001",
                    "medium",
                    "header length 1099511627776 runs past the end of the file (81 bytes follow it)",
                ),
            ],
        ),
        (
            "header_over_limit.safetensors",
            [
                ("AS-SFT-001", "medium", "header length 150000000 is over the format's 100000000-byte limit"),
                (
                    "AS-SFT-001",
                    "medium",
                    "header length 150000000 runs past the end of the file (15 bytes follow it)",
                ),
            ],
        ),
        ("duplicate_key.safetensors", [("AS-SFT-003", "medium", "key 'a' appears more than once")]),
        ("unknown_dtype.safetensors", [("AS-SFT-004", "medium", "tensor 'a' has dtype 'F128'")]),
        (
            "bad_entry.safetensors",
            [
                ("AS-SFT-005", "medium", "tensor 'backwards': data_offsets begin 24 is after end 20"),
                ("AS-SFT-005", "medium", "tensor 'neg': shape is not a list of non-negative integers"),
                ("AS-SFT-005", "medium", "tensor 'short': missing ['data_offsets'], unexpected []"),
            ],
        ),
        (
            "size_mismatch.safetensors",
            [
                (
                    "AS-SFT-006",
                    "medium",
                    "tensor 'a': shape [2, 3] of F32 needs 24 bytes, its range [0, 20) holds 20",
                )
            ],
        ),
        (
            "out_of_range.safetensors",
            [("AS-SFT-007", "medium", "tensor 'b' range [24, 40) ends past the data area of 24 bytes")],
        ),
        ("overlap.safetensors", [("AS-SFT-008", "medium", "tensor 'b' [16, 24) overlaps 'a' [0, 24)")]),
        ("hole.safetensors", [("AS-SFT-009", "medium", "data-area bytes [8, 16) belong to no tensor")]),
        (
            "metadata_not_strings.safetensors",
            [
                ("AS-SFT-011", "medium", "__metadata__['epochs'] is a number, not a string"),
                ("AS-SFT-011", "medium", "__metadata__['nested'] is an object, not a string"),
            ],
        ),
    ],
)
def test_each_violation_is_its_own_finding(run_cli, name: str, expected: list[tuple[str, str, str]]) -> None:  # type: ignore[no-untyped-def]
    art = _scan(run_cli, name)
    assert _own(art) == sorted(expected)


def test_header_errors(run_cli) -> None:  # type: ignore[no-untyped-def]
    (rule, sev, detail) = _own(_scan(run_cli, "header_not_utf8.safetensors"))[0]
    assert (rule, sev) == ("AS-SFT-002", "medium") and detail.startswith("header is not UTF-8")
    (rule, sev, detail) = _own(_scan(run_cli, "header_bad_json.safetensors"))[0]
    assert (rule, sev) == ("AS-SFT-002", "medium") and detail.startswith("header is not valid JSON")


def test_several_violations_in_one_file_each_reported(run_cli) -> None:  # type: ignore[no-untyped-def]
    art = _scan(run_cli, "many_violations.safetensors")
    rules = [r for r, _, _ in _own(art)]
    assert rules == ["AS-SFT-004", "AS-SFT-006", "AS-SFT-008", "AS-SFT-009", "AS-SFT-010", "AS-SFT-011"]
    by_rule = {f["rule_id"]: f for f in art["findings"]}
    data_start = 8 + int.from_bytes((SFT / "many_violations.safetensors").read_bytes()[:8], "little")
    assert by_rule["AS-SFT-009"]["location"]["offset"] == data_start + 20  # hole [20, 40)
    assert by_rule["AS-SFT-010"]["location"]["offset"] == data_start + 48  # after the last tensor


def test_trailing_bytes_are_analyzed_as_a_member(run_cli) -> None:  # type: ignore[no-untyped-def]
    art = _scan(run_cli, "trailing_zip.safetensors")
    (finding,) = [f for f in art["findings"] if f["rule_id"] == "AS-SFT-010"]
    assert finding["detail"] == "200 bytes follow the last tensor (offset 0x59); analyzed as a member"
    assert _member_seen(art, "<trailing bytes>")


def test_code_and_urls_in_metadata(run_cli) -> None:  # type: ignore[no-untyped-def]
    art = _scan(run_cli, "metadata_code.safetensors")
    own = _own(art)
    assert [d for r, s, d in own if r == "AS-SFT-012" and s == "medium"] == [
        "Python source (import) in __metadata__['postprocess']",
        "base64-encoded pickle in __metadata__['b64_pickle']",
        "raw pickle in __metadata__['raw_pickle']",
        "shell command 'curl' in __metadata__['setup']",
    ]
    urls = sorted(f["evidence"] for f in art["findings"] if f["rule_id"] == "AS-SFT-013")
    assert urls == [
        "http://attacker.invalid/x",
        "https://attacker.invalid/install.sh",
        "https://example.invalid/model-card",
    ]
    assert all(f["severity"] == "info" for f in art["findings"] if f["rule_id"] == "AS-SFT-013")
    # Both pickles are handed to the engine as members, for the pickle analyzer to judge.
    assert _member_seen(art, "__metadata__['raw_pickle']")
    assert _member_seen(art, "__metadata__['b64_pickle']")


def test_secrets_in_metadata_and_tensor_names(run_cli) -> None:  # type: ignore[no-untyped-def]
    art = _scan(run_cli, "metadata_secrets.safetensors")
    assert _own(art) == [
        ("AS-SEC-001", "high", "aws-access-key-id in __metadata__['uploader']"),
        ("AS-SEC-001", "high", "database-url-password in __metadata__['db']"),
        ("AS-SEC-001", "high", "huggingface-token in __metadata__['hub_token']"),
    ]
    art = _scan(run_cli, "secret_tensor_name.safetensors")
    assert _own(art) == [("AS-SEC-001", "high", "github-token in a tensor name")]
    assert "ghp_" not in str(art["properties"]["shapes"]).replace("[REDACTED github-token: ghp_…", "")


def test_sparse_file_with_huge_tensor_is_checked_from_the_header(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json
    import struct

    n = 1 << 28  # 2**28 float32 = 1 GiB claimed; the file is sparse and shorter, so the range is out
    header = json.dumps({"big": {"dtype": "F32", "shape": [n], "data_offsets": [0, 4 * n]}}).encode()
    path = tmp_path / "big.safetensors"
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        f.truncate(8 + len(header) + 4096)
    r = run_cli("scan", str(path), "--json", "-")
    (art,) = r.json()["artifacts"]
    assert _own(art) == [
        ("AS-SFT-007", "medium", f"tensor 'big' range [0, {4 * n}) ends past the data area of 4096 bytes")
    ]
    assert art["properties"]["parameter_count"] == n


def test_pickles_in_metadata_and_trailing_archives_are_judged_as_members(run_cli) -> None:  # type: ignore[no-untyped-def]
    art = _scan(run_cli, "metadata_code.safetensors")
    judged = {
        (f["location"]["member"], f["rule_id"], f["severity"])
        for f in art["findings"]
        if f["location"]["member"]
    }
    assert ("__metadata__['raw_pickle']", "AS-PKL-001", "critical") in judged
    assert ("__metadata__['b64_pickle']", "AS-PKL-001", "critical") in judged
    art = _scan(run_cli, "trailing_zip.safetensors")
    judged = {
        (f["location"]["member"], f["rule_id"], f["severity"])
        for f in art["findings"]
        if f["location"]["member"]
    }
    assert ("<trailing bytes>!archive/data.pkl", "AS-PKL-001", "critical") in judged


def test_tensor_bytes_with_a_brace_at_offset_8_are_not_safetensors(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """Raw float data can hold '{' at offset 8 by chance; only a real JSON header start is claimed."""
    blob = tmp_path / "weights.bin"
    blob.write_bytes(bytes(range(8)) + b"{\x8f\x12\x00" + bytes(range(200)))
    run = run_cli("scan", str(blob), "--json", "-")
    art = run.json()["artifacts"][0]
    assert run.code == 0
    assert art["format"] != "safetensors"
    assert not [f for f in art["findings"] if f["rule_id"].startswith("AS-SFT")]
