"""Parallel scanning gives the same bytes as a serial run, in threads and in forked or forkserver processes."""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from scanner.engine import ScanOptions, scan_paths
from scanner.model import ScanReport
from scanner.parallel import PROCESS_THRESHOLD, _context, can_fork, plan, usable_cores
from tests.conftest import FIXTURES


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The committed fixtures of several areas, copied twice under different names."""
    root = tmp_path_factory.mktemp("corpus")
    for copy in ("a", "b"):
        for sub in ("foundation", "demo", "formats_b", "pickle", "archives"):
            shutil.copytree(FIXTURES / sub, root / copy / sub)
    return root


_FORKED_SCAN = """
import sys
import scanner.parallel as parallel
forked = []
original = parallel._forked_pool
def counted(*args):
    forked.append(args[0])
    return original(*args)
parallel._forked_pool = counted
print("printed before the scan")  # not flushed: stdout is a pipe
from scanner.cli import main
code = main(sys.argv[1:])
print("forked pools:", forked, file=sys.stderr)
sys.exit(code)
"""


def test_serial_threads_and_processes_are_byte_identical(run_cli, corpus: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    outputs = {}
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)  # a second thread: workers come from the forkserver here
    other.start()
    try:
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
    finally:
        stop.set()
        other.join()
    assert outputs["threads"] == outputs["serial"]
    assert outputs["processes"] == outputs["serial"]
    if sys.platform == "linux":  # a fresh CLI process runs one thread, so it forks its workers
        forked = tmp_path / "forked.json"
        args = ["scan", str(corpus), "--jobs", "3", "--workers", "processes", "--reproducible", "--json", str(forked)]
        r = subprocess.run([sys.executable, "-c", _FORKED_SCAN, *args], capture_output=True, text=True, timeout=300)
        assert r.returncode == 1, r.stderr
        assert "forked pools: [2]" in r.stderr  # two workers beside the parent, forked from it
        assert r.stdout.count("printed before the scan") == 1  # flushed before the fork, not again by a child
        assert forked.read_bytes() == outputs["serial"][0]
    assert outputs["auto"] == outputs["serial"]
    assert outputs["serial"][0].count(b'"relpath": "a/') == outputs["serial"][0].count(b'"relpath": "b/') > 30


def test_plan_uses_every_core() -> None:
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


def test_workers_are_forked_only_while_one_thread_runs() -> None:
    method = _context(fork=False).get_start_method()
    assert method in {"forkserver", "spawn"} and method in multiprocessing.get_all_start_methods()
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        assert not can_fork()  # a forked child would inherit this thread's locks in whatever state
    finally:
        stop.set()
        other.join()
    fresh = subprocess.run(
        [sys.executable, "-c", "from scanner.parallel import can_fork; print(can_fork())"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert fresh.stdout.strip() == str(sys.platform == "linux")






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


def _culprit_tree(root: Path) -> None:
    (root / "a").mkdir(parents=True)
    with open(root / "a" / "culprit.raw", "wb") as f:
        f.truncate(1 << 30)  # sparse: slow enough to hash that the watcher sees it open
    for i in range(12):
        shutil.copy(FIXTURES / "foundation" / ("leaky.safetensors" if i % 3 == 0 else "tiny.safetensors"), root / f"m{i:02d}.safetensors")


def _kill_workers_holding_culprit(parent: int) -> int:
    """Kill every worker of ``parent`` (forked from it, or from its forkserver) that has the culprit open."""
    kills = 0
    for child in _children(parent):
        for pid in [child, *_children(child)]:
            if pid != parent and _has_open(pid, "culprit.raw"):
                os.kill(pid, signal.SIGKILL)
                kills += 1
    return kills


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc to find the workers")
def test_a_file_that_kills_its_forked_worker_is_isolated(tmp_path: Path) -> None:
    """The CLI forks its workers (one thread); every one that opens the culprit is killed: the culprit
    alone is reported as not analyzed."""
    _culprit_tree(tmp_path / "tree")
    out = tmp_path / "out.json"
    args = ["scan", str(tmp_path / "tree"), "--jobs", "2", "--workers", "processes", "--reproducible", "--json", str(out)]
    scan = subprocess.Popen([sys.executable, "-m", "scanner", *args], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    kills = 0
    while scan.poll() is None:
        kills += _kill_workers_holding_culprit(scan.pid)
        time.sleep(0.02)
    assert scan.returncode == 1, scan.stderr.read() if scan.stderr else ""
    assert kills >= 2  # the culprit is the first batch, handed to the pool; then it runs alone
    artifacts = {a["relpath"]: a for a in json.loads(out.read_text())["artifacts"]}
    errors = artifacts["a/culprit.raw"]["errors"]
    assert len(errors) == 1 and "worker process scanning this file died" in errors[0]["message"]
    scanned = [a for name, a in artifacts.items() if name != "a/culprit.raw"]
    assert len(scanned) == 12 and all(a["digests"] and not a["errors"] for a in scanned)


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc to find the workers")
def test_a_file_that_kills_its_worker_is_isolated(tmp_path: Path) -> None:
    """Every worker process that opens the culprit is killed from outside (as a native crash or the OOM
    killer would end it): the culprit is reported as not analyzed, every other file is scanned, and the
    scan is incomplete rather than a traceback."""
    _culprit_tree(tmp_path)
    out: dict[str, ScanReport] = {}
    options = ScanOptions(jobs=2, workers="processes", reproducible=True)
    worker = threading.Thread(target=lambda: out.setdefault("r", scan_paths([str(tmp_path)], options)))
    worker.start()
    kills = 0
    while worker.is_alive():  # the scan runs in a thread, so its workers come from a forkserver
        kills += _kill_workers_holding_culprit(os.getpid())
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
