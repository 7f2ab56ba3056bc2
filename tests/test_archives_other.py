"""Tar (plain, compressed, legacy PyTorch), 7z and bare compressed streams, end to end on the fixtures of
``fixtures/gen_archives.py`` and on hostile variants built in the tests."""

from __future__ import annotations

import gzip
import io
import tarfile
from pathlib import Path
from typing import Any

from tests.test_archives_zip import ARC, by_rule, handed_on, scan


def test_secret_in_zip_in_tar_has_nested_path(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, art = scan(run_cli, ARC / "a.tar")
    assert code == 1
    assert art["format"] == "tar"
    (secret,) = by_rule(art, "AS-SEC-001")
    assert secret["severity"] == "high"
    assert secret["location"]["member"] == "b.zip!c.txt"
    assert secret["evidence"] == "[REDACTED huggingface-token: hf_F… (39 chars)]"
    assert by_rule(art, "AS-ARC-009") == []  # the stored zip's end record does not make the tar a zip


def test_tar_gz_traversal_and_links(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, art = scan(run_cli, ARC / "traversal.tar.gz")
    assert art["format"] == "gzip"
    (name,) = by_rule(art, "AS-ARC-001")
    assert name["location"]["member"] == "traversal.tar!../../outside.txt"
    links = {f["location"]["member"]: f for f in by_rule(art, "AS-ARC-002")}
    assert set(links) == {"traversal.tar!escape", "traversal.tar!hard"}
    assert links["traversal.tar!escape"]["extra"] == {"link_type": "symlink", "target": "/etc/passwd"}
    assert links["traversal.tar!hard"]["extra"]["link_type"] == "hard link"
    assert all(f["severity"] == "high" for f in links.values())
    assert by_rule(art, "AS-SEC-001")[0]["location"]["member"] == "traversal.tar!notes.txt"


def test_legacy_torch_tar_members_handed_on(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, art = scan(run_cli, ARC / "legacy_torch.tar")
    assert art["format"] == "pytorch-tar"
    assert art["properties"]["framework"] == "pytorch"
    for member in ("sys_info", "pickle", "tensors#0", "storages#0", "storages/data/2"):
        assert handed_on(art, member)
    # The container itself is clean (no names, links or limits to report); how the pickle family
    # judges the raw data interleaved with pickles in storages/tensors is its own concern.
    assert [f for f in art["findings"] if f["rule_id"].startswith(("AS-ARC", "AS-GEN"))] == []


def _tar(members: list[tuple[str, bytes]]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.USTAR_FORMAT) as tf:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_tar_hidden_data_after_end_marker(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = _tar([("a.txt", b"hello\n")])
    path = tmp_path / "hidden.tar"
    path.write_bytes(data + b"HIDDEN PAYLOAD" + bytes(498))
    _, art = scan(run_cli, path)
    (hit,) = by_rule(art, "AS-GEN-005")
    assert f"non-zero data at {len(data)}" in hit["detail"]


def test_tar_truncated_member_and_duplicate(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = _tar([("a.txt", b"first\n"), ("a.txt", b"x" * 4000)])
    path = tmp_path / "cut.tar"
    path.write_bytes(data[:2048])
    _, art = scan(run_cli, path)
    (dup,) = by_rule(art, "AS-ARC-007")
    assert dup["location"]["member"] == "a.txt"
    assert art["errors"] == []
    assert any("unreadable" in f["detail"] or "ends after" in f["detail"] for f in by_rule(art, "AS-GEN-005"))


def test_tar_huge_pax_header_refused(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    header = bytearray(_tar([("a.txt", b"x")])[:512])
    header[156:157] = b"x"
    header[124:136] = b"%011o\0" % (1 << 32)
    header[148:156] = b" " * 8
    header[148:156] = b"%06o\0 " % sum(header)
    first = _tar([("ok.txt", b"fine\n")])[:1024]
    path = tmp_path / "pax.tar"
    path.write_bytes(first + bytes(header) + bytes(2048))
    _, art = scan(run_cli, path)
    (hit,) = by_rule(art, "AS-GEN-004")
    assert f"claims {1 << 32} bytes" in hit["detail"]


def test_compressed_streams_recursed(run_cli) -> None:  # type: ignore[no-untyped-def]
    expected = {
        "notes.txt.gz": ("gzip", "notes.txt"),
        "notes.txt.bz2": ("bzip2", "notes.txt"),
        "notes.txt.xz": ("xz", "notes.txt"),
        "notes.txt.lzma": ("lzma", "notes.txt"),
        "notes.zlib": ("zlib", "<zlib>"),
        "gz_in_zip.zip": ("zip", "notes.txt.gz!notes.txt"),
    }
    for name, (fmt, member) in expected.items():
        _, art = scan(run_cli, ARC / name)
        assert art["format"] == fmt, name
        (secret,) = by_rule(art, "AS-SEC-001")
        assert secret["location"]["member"] == member, name


def test_gzip_trailing_garbage_keeps_content(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, art = scan(run_cli, ARC / "garbage_after.gz")
    (bad,) = by_rule(art, "AS-GEN-005")
    assert "32 bytes of non-gzip data" in bad["detail"]
    assert by_rule(art, "AS-SEC-001")


def test_gzip_concatenated_members(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "two.txt.gz"
    token = "hf_" + "SecondMemberToken0123456789abcdefgh"
    path.write_bytes(gzip.compress(b"nothing here\n") + gzip.compress(f"t={token}\n".encode()))
    r = run_cli("scan", str(path), "--json", "-")
    assert token not in r.out
    (art,) = r.json()["artifacts"]
    assert by_rule(art, "AS-GEN-005") == []
    (secret,) = by_rule(art, "AS-SEC-001")
    assert secret["location"]["member"] == "two.txt"


def test_gzip_bomb_bounded(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, art = scan(run_cli, ARC / "bomb.gz")
    (hit,) = by_rule(art, "AS-GEN-004")
    size = (ARC / "bomb.gz").stat().st_size
    assert f"expands beyond {size * 200} bytes" in hit["detail"]


def test_truncated_gzip_is_a_finding(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "cut.gz"
    path.write_bytes((ARC / "traversal.tar.gz").read_bytes()[:-40])
    _, art = scan(run_cli, path)
    assert art["errors"] == []
    assert any("ends early" in f["detail"] for f in by_rule(art, "AS-GEN-005"))


def test_7z_members_and_symlink(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, art = scan(run_cli, ARC / "sample.7z")
    assert art["format"] == "7z"
    secrets = sorted(f["location"]["member"] for f in by_rule(art, "AS-SEC-001"))
    assert secrets == ["inner.zip!c.txt", "notes.txt"]
    (link,) = by_rule(art, "AS-ARC-002")
    assert link["location"]["member"] == "escape"
    assert link["extra"]["target"] == "../../../etc/passwd"


def test_7z_bomb_not_extracted(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, art = scan(run_cli, ARC / "bomb.7z")
    (hit,) = by_rule(art, "AS-GEN-004")
    assert "7z declares 67108864 bytes" in hit["detail"]
    assert art["coverage"]["analyzed"] == ["7z:."]


def test_corrupt_7z_is_a_finding(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = bytearray((ARC / "sample.7z").read_bytes())
    data[40:80] = b"\xee" * 40
    path = tmp_path / "corrupt.7z"
    path.write_bytes(bytes(data))
    _, art = scan(run_cli, path)
    assert art["errors"] == []
    found: list[dict[str, Any]] = by_rule(art, "AS-ARC-011") + by_rule(art, "AS-GEN-005")
    assert found and all(f["severity"] == "medium" for f in found)


CONTAINER_ANALYZERS = {
    "zip", "pytorch-zip", "torchscript", "npz", "tensor-storage", "tar", "pytorch-tar", "7z",
    "gzip", "bzip2", "xz", "lzma", "zlib", "engine",
}  # fmt: skip


def test_mutated_containers_give_findings_not_errors(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """Seeded corruption of every small container fixture: never an analyzer error or traceback."""
    import random

    rng = random.Random(20261130)
    sources = [p for p in sorted(ARC.iterdir()) if p.stat().st_size < 200_000]
    assert len(sources) > 25
    for source in sources:
        original = source.read_bytes()
        for _ in range(3):
            data = bytearray(original)
            for _ in range(rng.randint(1, 6)):
                pos = rng.randrange(len(data))
                if rng.random() < 0.7:
                    data[pos] = rng.randrange(256)
                else:
                    del data[pos:]
                data = data or bytearray(b"x")
            path = tmp_path / source.name
            path.write_bytes(bytes(data))
            r = run_cli("scan", str(path), "--json", "-")
            (art,) = r.json()["artifacts"]
            mine = [e for e in art["errors"] if e["analyzer"] in CONTAINER_ANALYZERS]
            assert mine == [], (source.name, mine)


def test_encrypted_7z_is_reported_not_clean(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, art = scan(run_cli, ARC / "encrypted.7z")
    assert code == 1
    (hit,) = by_rule(art, "AS-ARC-011")
    assert hit["severity"] == "medium" and "encrypted" in hit["detail"]
    assert {"member": None, "reason": "encrypted 7z members"} in art["coverage"]["not_analyzed"]


def test_windows_style_traversal_names() -> None:
    from scanner.formats.zipread import link_escapes, unsafe_member_name

    assert unsafe_member_name("..\\..\\Windows\\evil.dll") == "'..' component"
    assert unsafe_member_name("C:\\evil.dll") == "drive-letter path"
    assert unsafe_member_name("\\\\server\\share\\x") == "absolute path"
    assert unsafe_member_name("a/..b/c") is None
    assert link_escapes("dir\\link", "..\\..\\x")


def test_gzip_member_named_from_its_header(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "upload.bin"
    raw = io.BytesIO()
    with gzip.GzipFile(filename="../../model.pkl", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(b"token " + ("hf_" + "HeaderNamedToken0123456789abcdefghij").encode() + b"\n")
    path.write_bytes(raw.getvalue())
    _, art = scan(run_cli, path)
    (secret,) = by_rule(art, "AS-SEC-001")
    assert secret["location"]["member"] == "model.pkl"
