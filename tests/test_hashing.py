"""Streaming digests against independently computed hashlib/blake3 values."""

from __future__ import annotations

import hashlib
import io
import os
import threading
from pathlib import Path

import blake3
import pytest

from scanner.hashing import (
    DIRDIGEST_HEADER,
    DirectoryEntry,
    HashError,
    directory_digest,
    hash_file,
    hash_stream,
)

CHUNK = 4096  # small chunks so multi-chunk cases stay tiny


def _data(n: int) -> bytes:
    return bytes((i * 131 + (i >> 8) * 7) & 0xFF for i in range(n))


@pytest.mark.parametrize("size", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 3 * CHUNK + 17, 40 * CHUNK])
def test_digests_match_hashlib_and_blake3(tmp_path: Path, size: int) -> None:
    data = _data(size)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    d = hash_file(path, chunk_size=CHUNK)
    assert d.sha256 == hashlib.sha256(data).hexdigest()
    assert d.blake3 == blake3.blake3(data).hexdigest()
    assert d.size == size


def test_default_chunk_multi_megabyte(tmp_path: Path) -> None:
    data = os.urandom(3 * (1 << 20) + 5)
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    d = hash_file(path)
    assert (d.sha256, d.blake3) == (hashlib.sha256(data).hexdigest(), blake3.blake3(data).hexdigest())


def test_shard_manifest(tmp_path: Path) -> None:
    data = _data(10 * 1000 + 3)
    path = tmp_path / "f.bin"
    path.write_bytes(data)
    d = hash_file(path, shard_size=1000, chunk_size=CHUNK)
    assert d.shard_size == 1000
    assert len(d.shards) == 11
    for shard in d.shards:
        piece = data[shard.offset : shard.offset + shard.length]
        assert shard.sha256 == hashlib.sha256(piece).hexdigest()
    assert d.shards[-1].length == 3
    assert sum(s.length for s in d.shards) == len(data)
    assert d.sha256 == hashlib.sha256(data).hexdigest()


def test_shards_larger_than_file_and_empty(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(b"abc")
    d = hash_file(path, shard_size=1 << 20)
    assert [(s.offset, s.length) for s in d.shards] == [(0, 3)]
    empty = hash_stream(io.BytesIO(b""), shard_size=10)
    assert empty.shards[0].sha256 == hashlib.sha256(b"").hexdigest()


def test_workers_are_persistent_across_files(tmp_path: Path) -> None:
    path = tmp_path / "f.bin"
    path.write_bytes(_data(5 * CHUNK))
    hash_file(path, chunk_size=CHUNK)
    before = threading.active_count()
    for _ in range(20):
        hash_file(path, chunk_size=CHUNK)
    assert threading.active_count() == before


def test_refuses_fifo(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    with pytest.raises(HashError, match="not a regular file"):
        hash_file(fifo)


def test_file_growing_while_read_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "grow.bin"
    path.write_bytes(_data(8 * CHUNK))

    def grow(_: int) -> None:  # the progress callback runs between reads: another writer appends
        with open(path, "ab") as extra:
            extra.write(b"x" * 10)

    with pytest.raises(HashError, match="changed while being read"):
        hash_file(path, chunk_size=CHUNK, progress=grow)


def test_file_truncated_while_read_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "shrink.bin"
    path.write_bytes(_data(8 * CHUNK))
    os.truncate(path, 8 * CHUNK)

    def shrink(_: int) -> None:
        os.truncate(path, 2 * CHUNK)

    with pytest.raises(HashError, match="changed while being read"):
        hash_file(path, chunk_size=CHUNK, progress=shrink)


def _entries(files: dict[str, bytes]) -> list[DirectoryEntry]:
    return [DirectoryEntry(name, hash_stream(io.BytesIO(data))) for name, data in files.items()]


def test_directory_digest_serialization_and_stability() -> None:
    files = {"b/w.bin": b"weights", "a.json": b"{}", "c": b""}
    d1 = directory_digest(_entries(files))
    d2 = directory_digest(reversed(_entries(files)))
    assert d1 == d2
    expected = bytearray(DIRDIGEST_HEADER)
    for name in sorted(files):
        data = files[name]
        expected += f"{name}\0{len(data)}\0{hashlib.sha256(data).hexdigest()}\0".encode()
        expected += f"{blake3.blake3(data).hexdigest()}\n".encode()
    assert d1.sha256 == hashlib.sha256(expected).hexdigest()
    assert d1.blake3 == blake3.blake3(bytes(expected)).hexdigest()
    assert d1.size == 9


@pytest.mark.parametrize(
    "change",
    [
        {"b/w.bin": b"weightS", "a.json": b"{}"},  # one byte
        {"b/w2.bin": b"weights", "a.json": b"{}"},  # rename
        {"b/w.bin": b"weights", "a.json": b"{}", "new": b""},  # added file
        {"b/w.bin": b"weights"},  # removed file
    ],
)
def test_directory_digest_changes(change: dict[str, bytes]) -> None:
    base = directory_digest(_entries({"b/w.bin": b"weights", "a.json": b"{}"}))
    assert directory_digest(_entries(change)).sha256 != base.sha256
