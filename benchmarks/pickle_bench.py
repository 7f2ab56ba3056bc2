"""Pickle engine benchmark: files/s and MB/s over many small and a few large pickles, beside peers.

    .venv/bin/python benchmarks/pickle_bench.py [--small N] [--large-mb M] [--peers /tmp/peers/bin]

Builds a corpus in a temporary directory with the real libraries (scikit-learn estimators, dicts of
numpy arrays, a long list of Python objects), then times:

- ``engine``: the pickle engine alone (scanner.pickles.stream.read_pickles + findings) per file;
- ``scan``: the whole ``artifact-scanner scan`` pipeline (hashing, detection, analysis), in process;
- ``picklescan`` and ``modelscan`` command lines, when installed in a throwaway venv given by --peers
  (``python -m venv /tmp/peers && /tmp/peers/bin/pip install picklescan modelscan``).

Peak RSS of this process is printed after the in-process runs. Peers are timed as whole processes, so
their start-up is included: the in-process ``scan`` figure plus our own start-up is given for comparison.
"""

from __future__ import annotations

import argparse
import os
import pickle
import random
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def build_corpus(root: Path, small: int, large_mb: int) -> tuple[Path, Path]:
    """Write ``small`` small pickles and three large ones; return the two directories."""
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    x, y = make_classification(n_samples=40, n_features=5, random_state=0)
    models = [
        LogisticRegression().fit(x, y),
        StandardScaler().fit(x),
        {"w": np.ones(16), "meta": {"epoch": 1}},
    ]
    small_dir, large_dir = root / "small", root / "large"
    small_dir.mkdir()
    large_dir.mkdir()
    for i in range(small):
        (small_dir / f"m{i:05d}.pkl").write_bytes(pickle.dumps(models[i % len(models)], protocol=4))
    rng = np.random.default_rng(0)
    n = large_mb * (1 << 20) // 8
    arrays = {"a": rng.random(n), "b": rng.random(n // 4)}
    (large_dir / "arrays.pkl").write_bytes(pickle.dumps(arrays, protocol=4))
    objects = [{"id": i, "name": f"item{i}", "score": i / 7} for i in range(large_mb * 6000)]
    (large_dir / "objects.pkl").write_bytes(pickle.dumps(objects, protocol=4))
    (large_dir / "arrays_p2.pkl").write_bytes(pickle.dumps(rng.random(n // 2), protocol=2))
    return small_dir, large_dir


def corpus_size(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def report(label: str, files: int, size: int, seconds: float) -> None:
    rate = f"{files / seconds:10.1f} files/s  {size / seconds / 1e6:9.1f} MB/s"
    print(f"  {label:<24} {seconds:8.3f} s  {rate}")


def time_engine(path: Path) -> float:
    from scanner.engine import ScanOptions
    from scanner.formats.interface import AnalysisContext, ScanBudget, make_probe
    from scanner.pickles.joblib_arrays import joblib_build_hook
    from scanner.pickles.report import PickleFindings
    from scanner.pickles.stream import read_pickles

    options = ScanOptions()
    start = time.perf_counter()
    for p in sorted(path.rglob("*")):
        with p.open("rb") as f:
            size = p.stat().st_size
            ctx = AnalysisContext(
                artifact_path=str(p), member=None, probe=make_probe(f, size, p.name), opener=lambda: f,
                depth=0, budget=ScanBudget(options.limits), options=options,
                _member_scanner=lambda *a: iter(()),
            )  # fmt: skip
            result = read_pickles(f, 0, size, build_hook=joblib_build_hook)
            list(PickleFindings("pickle", ctx).stream(result))
    return time.perf_counter() - start


def time_scan(path: Path) -> float:
    from scanner.engine import ScanOptions, scan_paths

    start = time.perf_counter()
    report_ = scan_paths([str(path)], ScanOptions())
    elapsed = time.perf_counter() - start
    bad = [r.artifact.relpath for r in report_.results if r.worst is not None and r.worst >= 2]
    assert not bad, f"benign corpus produced findings: {bad[:5]}"
    return elapsed


def time_command(cmd: list[str]) -> float | None:
    # byte-code caching on, as for any installed package (some sandboxes set PYTHONDONTWRITEBYTECODE)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    start = time.perf_counter()
    try:
        subprocess.run(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False, timeout=3600, env=env
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        print(f"  {cmd[0]}: {exc}")
        return None
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--small", type=int, default=2000, help="small pickles (default 2000)")
    parser.add_argument("--large-mb", type=int, default=64, help="size of the large array pickle in MiB")
    parser.add_argument(
        "--peers", default="/tmp/peers/bin", help="bin directory of a venv with picklescan/modelscan"
    )
    parser.add_argument("--repeat", type=int, default=5, help="CLI runs over the many small (median)")
    args = parser.parse_args()
    # An installed package runs from compiled bytecode (pip compiles it); a checkout under
    # PYTHONDONTWRITEBYTECODE would recompile every changed module in every process.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    package = Path(__file__).resolve().parents[1] / "scanner"
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(package)], check=True, env=env)
    root = Path(tempfile.mkdtemp(prefix="pickle-bench-"))
    try:
        dirs = build_corpus(root, args.small, args.large_mb)
        one = root / "one.pkl"
        one.write_bytes(pickle.dumps({"w": [1.0, 2.0]}, protocol=4))
        peers = Path(args.peers)
        commands = {"artifact-scanner CLI": [sys.executable, "-m", "scanner", "scan"]}
        if (peers / "picklescan").exists():
            commands["picklescan CLI"] = [str(peers / "picklescan"), "--path"]
        if (peers / "modelscan").exists():
            commands["modelscan CLI"] = [str(peers / "modelscan"), "-p"]
        startup: dict[str, float] = {}
        print("start-up (one tiny pickle, best of 3):")
        for label, cmd in commands.items():
            runs = [t for t in (time_command([*cmd, str(one)]) for _ in range(3)) if t is not None]
            if runs:
                startup[label] = min(runs)
                print(f"  {label:<24} {startup[label]:8.3f} s")
        for name, path in zip(("many small", "few large"), dirs, strict=True):
            files, size = corpus_size(path)
            print(f"{name}: {files} files, {size / 1e6:.1f} MB")
            report("engine (in process)", files, size, time_engine(path))
            report("scan (in process)", files, size, time_scan(path))
            # Each command ``--repeat`` times, interleaved (a noisy moment hits every tool alike): median.
            # The order is shuffled each round: the first run of a round is slower (measured: ~10%).
            runs: dict[str, list[float]] = {label: [] for label in commands}
            order = random.Random(0)
            for _ in range(args.repeat if name == "many small" else 1):
                labels = list(commands)
                order.shuffle(labels)
                for label in labels:
                    t = time_command([*commands[label], str(path)])
                    if t is not None:
                        runs[label].append(t)
            for label, times in runs.items():
                if times:
                    t = statistics.median(times)
                    report(label, files, size, t)
                    if label in startup and t > startup[label]:
                        report("  minus start-up", files, size, t - startup[label])
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of the in-process runs: {peak:.0f} MiB")
    finally:
        shutil.rmtree(root, ignore_errors=True)
        os.sync()


if __name__ == "__main__":
    main()
