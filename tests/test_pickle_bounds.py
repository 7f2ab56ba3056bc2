"""Hostile bounds: huge claimed lengths, a million MARKs, deep nesting, memo indices near 2**32, bombs.

Each is a finding (a limit or malformed data), never a traceback, and reading stays bounded.
"""

from __future__ import annotations

import io
import random
import struct
import zlib
from pathlib import Path

from scanner.pickles.reader import INLINE_CAP, Blob, PickleReader
from tests.pickle_helpers import find, findings, scan_json


def test_huge_claimed_binbytes8_is_truncation_not_allocation(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pkl = tmp_path / "huge.pkl"
    pkl.write_bytes(b"\x80\x04\x8e" + struct.pack("<Q", 1 << 42) + b"tiny")
    data = scan_json(run_cli, str(pkl), expect=1)
    f = find(data, "AS-PKL-005")
    assert f["severity"] == "medium" and f"{1 << 42}-byte payload" in f["detail"]


def test_large_payload_is_skipped_with_a_prefix(tmp_path: Path) -> None:
    size = INLINE_CAP * 3
    raw = tmp_path / "big.pkl"
    with raw.open("wb") as out:
        out.write(b"\x80\x04\x8e" + struct.pack("<Q", size))
        out.truncate(11 + size)  # sparse: no bytes written
    with raw.open("ab") as out:
        out.write(b".")
    with raw.open("rb") as f:
        reader = PickleReader(f, 0, 12 + size)
        reader.next_op()
        op = reader.next_op()
        assert isinstance(op.arg, Blob) and op.arg.length == size and len(op.arg.head) == 4096
        assert reader.next_op().name == "STOP"


def test_a_million_marks_hits_the_limit(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pkl = tmp_path / "marks.pkl"
    pkl.write_bytes(b"\x80\x04" + b"(" * 1_000_000 + b".")
    data = scan_json(run_cli, str(pkl), expect=1)
    f = find(data, "AS-GEN-004")
    assert f["severity"] == "medium" and "nested MARKs" in f["detail"]


def test_deep_nesting_is_read_without_recursion(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    depth = 200_000
    pkl = tmp_path / "deep.pkl"
    pkl.write_bytes(b"\x80\x04" + b"]" * depth + b"a" * (depth - 1) + b"\x8c\x02os\x8c\x06system\x93" + b"0.")
    data = scan_json(run_cli, str(pkl), expect=1)
    assert find(data, "AS-PKL-001", "os.system")["severity"] == "critical"
    assert data["artifacts"][0]["errors"] == []


def test_memo_index_near_2_32(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pkl = tmp_path / "memo.pkl"
    body = b"\x8c\x02os\x8c\x06system\x93" + b"r\xff\xff\xff\xff" + b"0" + b"j\xff\xff\xff\xff" + b"j\xfe\xff\xff\xff"
    pkl.write_bytes(b"\x80\x04" + body + b".")
    data = scan_json(run_cli, str(pkl), expect=1)
    assert find(data, "AS-PKL-001", "os.system")["severity"] == "critical"
    assert "memo key 4294967294" in find(data, "AS-PKL-005")["detail"]


def test_zlib_bomb_hits_the_ratio_limit(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    content = b"\x80\x04\x8e" + struct.pack("<Q", 64 << 20) + bytes(64 << 20) + b"."
    bomb = tmp_path / "bomb.joblib"
    bomb.write_bytes(zlib.compress(content, 9))
    data = scan_json(run_cli, str(bomb), expect=1)
    f = find(data, "AS-GEN-004")
    assert f["severity"] == "medium" and "ratio" in f["detail"]


def test_truncated_zlib_is_malformed(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    noise = random.Random(0).randbytes(20000)
    body = b"\x8c\x02os\x8c\x06system\x93" + b"B" + struct.pack("<I", len(noise)) + noise
    whole = zlib.compress(b"\x80\x04" + body + b".")
    cut = tmp_path / "cut.joblib"
    cut.write_bytes(whole[: len(whole) // 2])
    data = scan_json(run_cli, str(cut), expect=1)
    assert find(data, "AS-GEN-005")["severity"] == "medium"
    assert find(data, "AS-PKL-001", "os.system")["location"]["member"] == "<zlib>"


def test_reader_straddle_offsets() -> None:
    body = b"\x8e\x02\x00"
    data = b"\x80\x04\x95" + struct.pack("<Q", len(body)) + body + bytes(8) + b"N."
    reader = PickleReader(io.BytesIO(data), 0, len(data), framed=True)
    names = []
    while not reader.at_end:
        names.append(reader.next_op().name)
    assert names == ["PROTO", "FRAME", "BINBYTES8", "NONE", "STOP"] and reader.straddles == [12]


def test_mutated_pickles_never_crash_the_analyzers(tmp_path: Path) -> None:
    """Deterministic mutations of the committed pickles: findings or nothing, never an analyzer error."""
    from scanner.engine import ScanOptions, scan_artifact
    from scanner.model import Artifact
    from tests.pickle_helpers import PICKLE

    seeds = [p.read_bytes() for p in sorted(PICKLE.rglob("*")) if p.is_file() and p.stat().st_size < 20000]
    rng = random.Random(7)
    for i in range(300):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 6)):
            pos = rng.randrange(len(data)) if data else 0
            roll = rng.random()
            if roll < 0.5 and data:
                data[pos] = rng.randrange(256)
            elif roll < 0.7:
                data[pos:pos] = rng.randbytes(rng.randint(1, 9))
            elif roll < 0.85:
                del data[pos : pos + rng.randint(1, 20)]
            else:
                del data[pos:]
        path = tmp_path / f"m{i}.bin"
        path.write_bytes(bytes(data))
        result = scan_artifact(Artifact(str(path), str(path), str(tmp_path), path.name, len(data)), ScanOptions())
        assert result.errors == (), (i, result.errors)


def test_large_protocol0_pickle_with_a_late_import_is_claimed(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    filler = b"S'padding padding padding'\n0" * 4000  # ~108 KiB of strings popped right away
    pkl = tmp_path / "late.pkl"
    pkl.write_bytes(filler + b"cos\nsystem\n(S'true'\ntR.")
    data = scan_json(run_cli, str(pkl), expect=1)
    assert data["artifacts"][0]["format"] == "pickle"
    assert find(data, "AS-PKL-001", "os.system")["location"]["offset"] == len(filler)


def test_millions_of_containers_hit_the_value_limit(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    pkl = tmp_path / "dicts.pkl"
    pkl.write_bytes(b"\x80\x04]\x94(" + b"}" * 3_500_000 + b"e.")
    data = scan_json(run_cli, str(pkl), expect=1)
    f = find(data, "AS-GEN-004")
    assert f["severity"] == "medium" and "values built by one pickle" in f["detail"]
    assert not [x for x in findings(data) if x["rule_id"] == "AS-PKL-008"]  # no junk reported past a limit
