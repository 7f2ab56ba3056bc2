"""Parallel scanning gives the same bytes as a serial run, in threads and in forkserver/spawn processes."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import signal
import threading
from pathlib import Path

import pytest

from scanner.engine import ScanOptions, scan_paths
from scanner.model import ScanReport
from scanner.parallel import PROCESS_THRESHOLD, _context, plan, usable_cores
from tests.conftest import FIXTURES


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed fixtures of several areas, copied twice under different names."""
    root = tmp_path_factory.mktemp("corpus")
    for copy in ("a", "b"):
        for sub in ("foundation", "demo", "formats_b", "pickle", "archives"):
            shutil.copytree(FIXTURES / sub, root / copy / sub)
    return root


def test_serial_threads_and_processes_are_byte_identical(run_cli, corpus: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outputs = {}
    for name, flags in {
        "serial": ["--jobs", "1"],
        "threads": ["--jobs", "2", "--workers", "threads"],
        "processes": ["--jobs", "2", "--workers", "processes"],
        "auto": [],
    }.items():
        json_out, sarif_out = tmp_path / f"{name}.json", tmp_path / f"{name}.sarif"
        r = run_cli("scan", str(corpus), *flags, "--reproducible", "--json", str(json_out), "--sarif", str(sarif_out))
        assert r.code == 1
        outputs[name] = (json_out.read_bytes(), sarif_out.read_bytes())
    assert outputs["threads"] == outputs["serial"]
    assert outputs["processes"] == outputs["serial"]
    assert outputs["auto"] == outputs["serial"]
    assert outputs["serial"][0].count(b'"relpath": "a/') == outputs["serial"][0].count(b'"relpath": "b/') > 30


def test_plan_uses_every_core_and_never_fork() -> None:
    assert plan(1, None, "auto") == ("serial", 1)
    assert plan(10, 1, "processes") == ("serial", 1)
    assert plan(3, 8, "threads") == ("threads", 3)
    threshold = PROCESS_THRESHOLD
    assert 1000 <= threshold <= 4000
    assert plan(threshold, 2, "auto") == ("processes", 2)
    assert plan(threshold, 8, "auto") == ("processes", 8)  # the break-even point is the same on 8 cores
    assert plan(threshold - 1, 8, "auto") == ("serial", 1)
    assert plan(threshold - 1, 2, "auto", large_files=2) == ("threads", 2)
    assert plan(threshold - 1, 2, "auto", large_files=1) == ("serial", 1)
    assert plan(10_000, None, "processes") == ("processes", usable_cores())
    with pytest.raises(ValueError, match="workers must be one of auto, threads, processes"):
        plan(10, 2, "fork")
    method = _context().get_start_method()
    assert method in {"forkserver", "spawn"} and method in multiprocessing.get_all_start_methods()


def _children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry))
    return found


def _has_open(pid: int, name: str) -> bool:
    try:
        return any(os.readlink(f"/proc/{pid}/fd/{fd}").endswith(name) for fd in os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return False


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc to find the workers")
def test_a_file_that_kills_its_worker_is_isolated(tmp_path: Path) -> None:
    """Every worker process that opens the culprit is killed from outside (as a native crash or the OOM
    killer would end it): the culprit is reported as not analyzed, every other file is scanned, and the
    scan is incomplete rather than a traceback."""
    (tmp_path / "a").mkdir()
    with open(tmp_path / "a" / "culprit.raw", "wb") as f:
        f.truncate(1 << 30)  # sparse: slow enough to hash that the watcher sees it open
    for i in range(12):
        shutil.copy(FIXTURES / "foundation" / ("leaky.safetensors" if i % 3 == 0 else "tiny.safetensors"), tmp_path / f"m{i:02d}.safetensors")
    out: dict[str, ScanReport] = {}
    options = ScanOptions(jobs=2, workers="processes", reproducible=True)
    worker = threading.Thread(target=lambda: out.setdefault("r", scan_paths([str(tmp_path)], options)))
    worker.start()
    kills = 0
    while worker.is_alive():
        for server in _children(os.getpid()):
            for pid in _children(server):
                if _has_open(pid, "culprit.raw"):
                    os.kill(pid, signal.SIGKILL)
                    kills += 1
        worker.join(0.02)
    report = out["r"]
    assert kills >= 2  # once in the shared pool, once when it ran alone
    by_name = {r.artifact.relpath: r for r in report.results}
    (error,) = by_name["a/culprit.raw"].errors
    assert error.analyzer == "engine" and "worker process scanning this file died" in error.message
    assert by_name["a/culprit.raw"].digests is None
    scanned = [r for name, r in by_name.items() if name != "a/culprit.raw"]
    assert len(scanned) == 12 and all(r.digests is not None and not r.errors for r in scanned)
    assert sum(1 for r in scanned if r.findings) == 4
    assert report.verdict.value == "fail"  # the leaked tokens still fail the scan; a finding outranks an error
