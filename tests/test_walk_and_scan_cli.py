"""The scan and hash commands end to end: exit codes, error cases, symlinks, JSON shape."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import blake3
import pytest

from tests.conftest import FIXTURES, ROOT

TINY = FIXTURES / "foundation" / "tiny.safetensors"
LEAKY = FIXTURES / "foundation" / "leaky.safetensors"


def test_scan_benign_safetensors_passes(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("scan", str(TINY), "--json", "-")
    assert r.code == 0
    doc = r.json()
    assert doc["schema_version"] == 1
    assert doc["verdict"] == "pass" and doc["exit_code"] == 0
    (art,) = doc["artifacts"]
    data = TINY.read_bytes()
    assert art["format"] == "safetensors"
    assert art["digests"]["sha256"] == hashlib.sha256(data).hexdigest()
    assert art["digests"]["blake3"] == blake3.blake3(data).hexdigest()
    assert art["findings"] == []
    assert art["coverage"]["analyzed"] == ["safetensors:."]
    assert art["properties"]["tensor_count"] == 3
    # With --json -, the human report goes to stderr and only JSON to stdout.
    assert "verdict: PASS" in r.err


def test_json_shape(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "r.json"
    r = run_cli("scan", str(LEAKY), "--json", str(out))
    assert r.code == 1
    doc = json.loads(out.read_text())
    assert set(doc) == {
        "schema_version",
        "tool",
        "generated_at",
        "fail_on",
        "verdict",
        "exit_code",
        "summary",
        "artifacts",
        "errors",
        "extras",
    }
    assert doc["summary"]["findings"]["high"] == 1
    (art,) = doc["artifacts"]
    assert set(art) >= {
        "path",
        "root",
        "relpath",
        "size",
        "format",
        "digests",
        "worst_severity",
        "findings",
        "errors",
        "coverage",
        "properties",
    }
    (f,) = art["findings"]
    assert f["rule_id"] == "AS-SEC-001" and f["severity"] == "high"
    assert set(f["location"]) == {"member", "offset"}
    # The fake token never appears, only its redacted form.
    raw = "hf_" + "FakeTokenForTests0123456789abcdefGH"
    assert raw not in out.read_text() and raw not in r.out
    assert "[REDACTED huggingface-token: hf_F…" in f["evidence"]


def test_secret_fails_and_fail_on_override(run_cli) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("scan", str(LEAKY)).code == 1
    assert run_cli("scan", str(LEAKY), "--fail-on", "critical").code == 0


def test_empty_file_is_info_not_error(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "empty.bin").write_bytes(b"")
    r = run_cli("scan", str(tmp_path), "--json", "-")
    assert r.code == 0
    (art,) = r.json()["artifacts"]
    assert [(f["rule_id"], f["severity"]) for f in art["findings"]] == [("AS-GEN-001", "info")]


def test_unknown_content_listed_as_not_analyzed(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "blob").write_bytes(bytes(range(256)) * 4)
    r = run_cli("scan", str(tmp_path / "blob"), "--json", "-")
    assert r.code == 0
    (art,) = r.json()["artifacts"]
    assert art["format"] == "unknown"
    assert art["coverage"]["not_analyzed"] == [
        {"member": None, "reason": "no analyzer recognises this content"}
    ]
    assert [f["rule_id"] for f in art["findings"]] == ["AS-GEN-002"]


def test_missing_path_exit_3_and_others_still_scanned(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("scan", str(tmp_path / "nope"), str(TINY), "--json", "-")
    assert r.code == 3
    doc = r.json()
    assert doc["verdict"] == "incomplete"
    assert len(doc["artifacts"]) == 1
    assert "nope" in doc["errors"][0]["message"] and "No such file" in doc["errors"][0]["message"]


def test_finding_outranks_error(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("scan", str(tmp_path / "nope"), str(LEAKY)).code == 1


def test_fifo_refused_exit_3(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "m"
    d.mkdir()
    os.mkfifo(d / "pipe")
    shutil.copy(TINY, d / "w.safetensors")
    r = run_cli("scan", str(d), "--json", "-")
    assert r.code == 3
    doc = r.json()
    assert "pipe" in doc["errors"][0]["message"] and "refused" in doc["errors"][0]["message"]
    assert [a["relpath"] for a in doc["artifacts"]] == ["w.safetensors"]
    assert run_cli("scan", str(d / "pipe")).code == 3


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads any file")
def test_unreadable_file_exit_3(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "secret.bin"
    f.write_bytes(b"x")
    f.chmod(0)
    assert run_cli("scan", str(f)).code == 3


def test_unreadable_file_as_root_via_directory(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # A dangling symlink inside the root cannot be read by anyone: a clear error naming the path, exit 3.
    d = tmp_path / "m"
    d.mkdir()
    (d / "dangling").symlink_to(d / "missing-target")
    r = run_cli("scan", str(d), "--json", "-")
    assert r.code == 3
    assert "dangling" in r.json()["errors"][0]["message"]


def test_symlinks_inside_followed_once_outside_reported(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    # Hugging Face cache layout: snapshots/<rev>/file -> ../../blobs/<hash>
    root = tmp_path / "models--org--tiny"
    (root / "blobs").mkdir(parents=True)
    (root / "snapshots" / "abc").mkdir(parents=True)
    blob = root / "blobs" / hashlib.sha256(TINY.read_bytes()).hexdigest()
    shutil.copy(TINY, blob)
    (root / "snapshots" / "abc" / "model.safetensors").symlink_to(Path("../../blobs") / blob.name)
    outside = tmp_path / "outside.txt"
    outside.write_text("hello")
    (root / "snapshots" / "abc" / "notes.txt").symlink_to(outside)
    r = run_cli("scan", str(root), "--json", "-")
    assert r.code == 0
    arts = {a["relpath"]: a for a in r.json()["artifacts"]}
    linked = arts["snapshots/abc/model.safetensors"]
    assert linked["format"] == "safetensors"
    assert linked["digests"]["sha256"] == arts[f"blobs/{blob.name}"]["digests"]["sha256"]
    out = arts["snapshots/abc/notes.txt"]
    assert out["format"] == "symlink" and out["digests"] is None
    assert [(f["rule_id"], f["severity"]) for f in out["findings"]] == [("AS-GEN-003", "low")]


def test_directory_loop_is_an_error(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "m"
    (d / "sub").mkdir(parents=True)
    shutil.copy(TINY, d / "sub" / "w.safetensors")
    (d / "sub" / "loop").symlink_to(d)
    r = run_cli("scan", str(d), "--json", "-")
    assert r.code == 3
    assert any("directory loop" in e["message"] for e in r.json()["errors"])
    assert [a["relpath"] for a in r.json()["artifacts"]] == ["sub/w.safetensors"]


def test_bad_flags_exit_2(run_cli) -> None:  # type: ignore[no-untyped-def]
    assert run_cli("scan", str(TINY), "--fail-on", "severe").code == 2
    assert run_cli("scan").code == 2
    assert run_cli("frobnicate").code == 2


def test_policy_typo_exit_2(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    policy = tmp_path / "p.yaml"
    policy.write_text("fail_onn: high\n")
    r = run_cli("scan", str(TINY), "--policy", str(policy))
    assert r.code == 2
    assert "fail_onn" in r.err


def test_policy_override_changes_severity(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    policy = tmp_path / "p.yaml"
    policy.write_text("overrides:\n  AS-SEC-001: {severity: low}\n")
    r = run_cli("scan", str(LEAKY), "--policy", str(policy), "--json", "-")
    assert r.code == 0
    assert r.json()["artifacts"][0]["findings"][0]["severity"] == "low"
    policy.write_text("overrides:\n  AS-SEC-001: {disabled: true}\n")
    assert (
        run_cli("scan", str(LEAKY), "--policy", str(policy), "--json", "-").json()["artifacts"][0]["findings"]
        == []
    )


def test_hash_formats_match_coreutils_and_b3sum(run_cli) -> None:  # type: ignore[no-untyped-def]
    data = TINY.read_bytes()
    r = run_cli("hash", str(TINY), "--format", "sha256sum")
    assert r.code == 0 and r.out == f"{hashlib.sha256(data).hexdigest()}  {TINY}\n"
    r = run_cli("hash", str(TINY), "--format", "b3sum")
    assert r.out == f"{blake3.blake3(data).hexdigest()}  {TINY}\n"
    if shutil.which("sha256sum"):
        coreutils = subprocess.run(
            ["sha256sum", str(TINY)], capture_output=True, text=True, check=True
        ).stdout
        assert run_cli("hash", str(TINY), "--format", "sha256sum").out == coreutils


def test_hash_escapes_odd_names_like_coreutils(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    odd = tmp_path / "a\\b\nc"
    odd.write_bytes(b"x")
    r = run_cli("hash", str(odd), "--format", "sha256sum")
    if shutil.which("sha256sum"):
        assert r.out == subprocess.run(["sha256sum", str(odd)], capture_output=True, text=True).stdout
    assert r.out.startswith("\\")


def test_hash_json_directory_and_shards(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "m"
    d.mkdir()
    (d / "a.bin").write_bytes(b"a" * 2500)
    (d / "b.bin").write_bytes(b"b")
    r = run_cli("hash", str(d), "--format", "json", "--shard-size", "1000")
    assert r.code == 0
    doc = r.json()
    assert [f["path"] for f in doc["files"]] == [f"{d}/a.bin", f"{d}/b.bin"]
    assert [s["length"] for s in doc["files"][0]["shards"]] == [1000, 1000, 500]
    (directory,) = doc["directories"]
    assert directory["files"] == 2 and directory["serialization"] == "artifact-scanner-dirdigest-v1"
    # Independent of creation order: a copy made in the other order has the same digest.
    d2 = tmp_path / "m2"
    d2.mkdir()
    (d2 / "b.bin").write_bytes(b"b")
    (d2 / "a.bin").write_bytes(b"a" * 2500)
    assert (
        run_cli("hash", str(d2), "--format", "json").json()["directories"][0]["sha256"] == directory["sha256"]
    )


def test_hash_check_ok_mismatch_and_missing(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    f = tmp_path / "w.bin"
    f.write_bytes(b"weights")
    manifest = tmp_path / "SHA256SUMS"
    manifest.write_text(run_cli("hash", str(f), "--format", "sha256sum").out)
    assert run_cli("hash", "--check", str(manifest)).code == 0
    b3 = tmp_path / "B3SUMS"
    b3.write_text(run_cli("hash", str(f), "--format", "b3sum").out)
    assert run_cli("hash", "--check", str(b3)).code == 0
    js = tmp_path / "d.json"
    js.write_text(run_cli("hash", str(f), "--format", "json").out)
    assert run_cli("hash", "--check", str(js)).code == 0
    f.write_bytes(b"weightz")
    r = run_cli("hash", "--check", str(manifest))
    assert r.code == 1 and "FAILED" in r.out
    assert run_cli("hash", "--check", str(js)).code == 1
    f.unlink()
    assert run_cli("hash", "--check", str(manifest)).code == 1
    (tmp_path / "bad").write_text("not a manifest line\n")
    assert run_cli("hash", "--check", str(tmp_path / "bad")).code == 3


def test_hash_missing_path_exit_3(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("hash", str(tmp_path / "nope"), str(TINY))
    assert r.code == 3
    assert "nope" in r.err
    assert str(TINY) in r.out


def test_installed_cli_runs_from_any_directory(tmp_path: Path) -> None:
    exe = Path(sys.executable).parent / "artifact-scanner"
    assert exe.exists(), "the console script is installed by `pip install -e .`"
    proc = subprocess.run(
        [str(exe), "scan", str(LEAKY), "--json", "-"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 1, proc.stderr
    assert json.loads(proc.stdout)["artifacts"][0]["findings"][0]["rule_id"] == "AS-SEC-001"
    mod = subprocess.run(
        [sys.executable, "-m", "scanner", "--version"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert mod.returncode == 0 and "artifact-scanner" in mod.stdout


def test_wheel_ships_rules_inside_the_package(tmp_path: Path) -> None:
    pytest.importorskip("hatchling")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    import zipfile

    (wheel,) = tmp_path.glob("artifact_scanner-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    rules = sorted(p.name for p in (ROOT / "rules").glob("*.yaml"))
    assert rules and all(f"scanner/rules/{name}" in names for name in rules)


def test_rules_are_cached_as_json_by_content_and_a_corrupt_cache_is_ignored(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from scanner import resources

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    results = []
    for state in ("parsed", "cached", "corrupt cache"):
        resources.load_rules_file.cache_clear()
        if state == "corrupt cache":
            for cached in (tmp_path / "artifact-scanner").glob("rules-*.json"):
                cached.write_text("{not json", encoding="utf-8")
        results.append(resources.load_rules_file("general.yaml"))
        assert len(list((tmp_path / "artifact-scanner").glob("rules-*.json"))) == 1, state
    resources.load_rules_file.cache_clear()
    assert results[0]["rules"][0]["id"] == "AS-GEN-001"
    assert results[0] == results[1] == results[2]
