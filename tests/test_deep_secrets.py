"""``scan --deep``: high-confidence secrets found in raw binary bytes, exactly once whatever the blocks."""

from __future__ import annotations

import io
import json
import random

import pytest

from fixtures.fake_secrets import TOKENS
from scanner.secret_deep import OVERLAP, search_stream
from tests.conftest import FIXTURES

MODEL = FIXTURES / "secrets" / "model"
OFFSETS = json.loads((FIXTURES / "secrets" / "weights_offsets.json").read_text())


def test_deep_finds_buried_tokens_with_offsets(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("scan", str(MODEL / "weights.bin"), "--deep", "--json", "-")
    assert r.code == 1
    (art,) = r.json()["artifacts"]
    assert "deep-secrets:." in art["coverage"]["analyzed"]
    got = {
        f["extra"]["secret_type"]: (
            f["rule_id"],
            f["severity"],
            f["location"]["offset"],
            f["extra"]["length"],
        )
        for f in art["findings"]
    }
    expected = {}
    for kind, offset in OFFSETS.items():
        raw = TOKENS[kind][1]
        length = len("-----BEGIN RSA PRIVATE KEY-----") if kind == "private-key" else len(raw)
        expected[kind] = ("AS-SEC-003", "high", offset, length)
    assert got == expected


def test_without_deep_binary_bytes_are_not_searched(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("scan", str(MODEL / "weights.bin"), "--json", "-")
    (art,) = r.json()["artifacts"]
    assert [f["rule_id"] for f in art["findings"]] == ["AS-GEN-002"]
    assert not any(a.startswith("deep-secrets") for a in art["coverage"]["analyzed"])


@pytest.mark.parametrize("block", [OVERLAP + 1, 5000, 8192, 65536])
def test_block_boundaries_report_each_secret_once(block: int) -> None:
    rnd = random.Random(block)
    data = bytearray(rnd.randbytes(200_000))
    placed = {}
    pos = 50
    names = ["aws-access-key-id", "github-token", "huggingface-token", "google-api-key", "stripe-key"]
    while pos < len(data) - 200:
        kind = names[len(placed) % len(names)]
        raw = TOKENS[kind][1].encode()
        data[pos - 1] = 0
        data[pos : pos + len(raw)] = raw
        data[pos + len(raw)] = 0
        placed[pos] = kind
        pos += 997 + rnd.randrange(3000)
    found = [(m.offset, m.pattern.name) for m in search_stream(io.BytesIO(bytes(data)), block=block)]
    assert sorted(found) == sorted(placed.items())


def test_secret_at_the_very_end_of_the_stream() -> None:
    raw = TOKENS["github-token"][1].encode()
    data = bytes(10_000) + raw
    found = [(m.offset, m.length) for m in search_stream(io.BytesIO(data), block=OVERLAP + 100)]
    assert found == [(10_000, len(raw))]


def test_placeholder_in_binary_is_ignored() -> None:
    data = bytes(100) + b"AKIAIOSFODNN7EXAMPLE" + bytes(100)
    assert list(search_stream(io.BytesIO(data))) == []


def test_deep_does_not_report_again_a_secret_a_format_analyzer_reported(run_cli) -> None:  # type: ignore[no-untyped-def]
    """Tokens in safetensors metadata: the header analyzer reports each with its key; the raw-byte
    search finds the same bytes, and that second finding is dropped (one secret, one finding)."""
    path = FIXTURES / "safetensors" / "metadata_secrets.safetensors"
    plain = run_cli("scan", str(path), "--json", "-").json()["artifacts"][0]["findings"]
    deep = run_cli("scan", str(path), "--deep", "--json", "-").json()["artifacts"][0]["findings"]
    assert {f["extra"]["secret_type"] for f in plain} >= {"aws-access-key-id", "huggingface-token"}
    assert [(f["rule_id"], f["evidence"]) for f in deep] == [(f["rule_id"], f["evidence"]) for f in plain]
    assert not [f for f in deep if f["rule_id"] == "AS-SEC-003"]
