"""Parallel scanning gives the same bytes as a serial run, in threads and in forkserver/spawn processes."""

from __future__ import annotations

import multiprocessing
import shutil
from pathlib import Path

import pytest

from scanner.parallel import PROCESS_MIN_FILES, _context, plan, usable_cores
from tests.conftest import FIXTURES


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every committed fixture, copied twice under different names (more files than PROCESS_MIN_FILES)."""
    root = tmp_path_factory.mktemp("corpus")
    for copy in ("a", "b"):
        for sub in ("foundation", "demo", "formats_b"):
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
    assert plan(PROCESS_MIN_FILES, 2, "auto") == ("processes", 2)
    assert plan(PROCESS_MIN_FILES - 1, 2, "auto") == ("threads", 2)
    assert plan(10_000, None, "processes") == ("processes", usable_cores())
    method = _context().get_start_method()
    assert method in {"forkserver", "spawn"} and method in multiprocessing.get_all_start_methods()
