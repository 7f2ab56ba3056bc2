"""Damaged copies of every format fixture: findings or a pass, never an analyzer error or a traceback."""

from __future__ import annotations

import random
import zipfile
from pathlib import Path

from tests.formats_util import FORMATS, only_artifact, scan, with_rule

MUTANTS_PER_FILE = 4


def test_mutated_fixtures_never_crash_an_analyzer(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    rng = random.Random(20261130)
    sources = sorted(p for p in FORMATS.rglob("*") if p.is_file() and p.stat().st_size <= 64 * 1024)
    assert len(sources) > 50
    for index, source in enumerate(sources):
        data = source.read_bytes()
        for k in range(MUTANTS_PER_FILE):
            damaged = bytearray(data)
            if k == 0:
                damaged = damaged[: rng.randrange(1, len(damaged))]
            else:
                for _ in range(rng.randrange(1, 8)):
                    damaged[rng.randrange(len(damaged))] = rng.randrange(256)
            (tmp_path / f"{index:03d}_{k}_{source.name}").write_bytes(bytes(damaged))
    r = run_cli("scan", str(tmp_path), "--json", "-")
    assert "Traceback" not in r.err
    doc = r.json()
    assert len(doc["artifacts"]) == len(sources) * MUTANTS_PER_FILE
    errors = [(a["path"], e["message"]) for a in doc["artifacts"] for e in a["errors"]]
    assert errors == []
    assert r.code in (0, 1)


def test_keras_member_with_broken_deflate_stream(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = FORMATS / "keras" / "benign.keras"
    data = bytearray(source.read_bytes())
    with zipfile.ZipFile(source) as z:
        info = z.getinfo("config.json")
    # The member's data starts after its local header (30 bytes + name + extra).
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    for i in range(start + 10, start + 40):
        data[i] ^= 0xFF
    path = tmp_path / "broken.keras"
    path.write_bytes(bytes(data))
    code, doc = scan(run_cli, path)
    art = only_artifact(doc)
    assert code == 1 and art["errors"] == []
    details = [f["detail"] for f in with_rule(art, "AS-GEN-005") if f["location"]["member"] == "config.json"]
    assert details and details[0].startswith("member unreadable: ")


def test_truncated_hdf5(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = (FORMATS / "keras" / "benign_legacy.h5").read_bytes()
    path = tmp_path / "cut.h5"
    path.write_bytes(data[: len(data) // 2])
    code, doc = scan(run_cli, path)
    art = only_artifact(doc)
    (f,) = with_rule(art, "AS-GEN-005")
    assert code == 1 and art["errors"] == []
    assert f["detail"].startswith("HDF5")
