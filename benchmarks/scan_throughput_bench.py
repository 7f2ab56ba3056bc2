"""Whole-scan throughput on a directory of 2,000 mixed small files and a few large ones, beside the peers.

Usage: ``python benchmarks/scan_throughput_bench.py [--large-mib 128] [--peers /tmp/peers-venv]``

Generates the corpus under a temporary directory (benign pickles written with the standard library's
``pickle.dumps``, safetensors files, JSON configs, text, opaque binaries; the large files are
safetensors with a real header), then times, in fresh processes:

- ``artifact-scanner scan DIR --json FILE`` (default parallelism, and also serial and threads);
- ``picklescan --path DIR`` and ``modelscan -p DIR`` when a venv holding them is given (make one with
  ``python3 -m venv /tmp/peers-venv && /tmp/peers-venv/bin/pip install picklescan modelscan``).

Each command runs ``--repeat`` times (default 5), interleaved with the others, in a new order each round,
so that a noisy moment on a shared machine hits every tool alike; the median wall and CPU time, the
fastest run, files/s, MB/s and the largest peak RSS are printed. Nothing here is a test.
Opaque binaries are named ``.raw``: picklescan 0.0.x treats ``.bin``/``.dat`` as pickles and aborts the
whole directory scan on the first random file it cannot parse (a ``ValueError`` traceback), which would
time its crash instead of a scan.
"""

from __future__ import annotations

import argparse
import json
import os
import pickle
import random
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL_FILES = 2000


def safetensors_bytes(n_floats: int, name: str = "weight") -> bytes:
    header = json.dumps(
        {
            "__metadata__": {"format": "pt"},
            name: {"dtype": "F32", "shape": [n_floats], "data_offsets": [0, n_floats * 4]},
        }
    ).encode()
    header += b" " * (-len(header) % 8)
    return struct.pack("<Q", len(header)) + header


def make_corpus(root: Path, large_mib: int, large_count: int) -> tuple[int, int]:
    rng = random.Random(1234)
    kinds = ["pkl", "safetensors", "json", "txt", "raw"]
    for i in range(SMALL_FILES):
        kind = kinds[i % len(kinds)]
        sub = root / f"model{i % 50:02d}"
        sub.mkdir(parents=True, exist_ok=True)
        path = sub / f"file{i:04d}.{kind}"
        if kind == "pkl":
            state = {
                f"layer{j}.weight": [rng.random() for _ in range(rng.randint(10, 400))] for j in range(4)
            }
            path.write_bytes(pickle.dumps(state, protocol=rng.choice([2, 4])))
        elif kind == "safetensors":
            n = rng.randint(64, 8192)
            path.write_bytes(safetensors_bytes(n) + os.urandom(n * 4))
        elif kind == "json":
            config = {
                "model_type": "bert",
                "hidden_size": rng.choice([256, 768]),
                "vocab": list(range(rng.randint(10, 500))),
            }
            path.write_text(json.dumps(config))
        elif kind == "txt":
            path.write_text("A model card line with nothing secret in it.\n" * rng.randint(1, 200))
        else:
            path.write_bytes(b"RAWDATA\0" * 2 + os.urandom(rng.randint(256, 32768)))  # no format magic
    block = os.urandom(1 << 20)
    for k in range(large_count):
        path = root / f"large{k}" / "model.safetensors"
        path.parent.mkdir(parents=True, exist_ok=True)
        n = (large_mib << 20) // 4
        with open(path, "wb") as f:
            f.write(safetensors_bytes(n))
            for _ in range(large_mib):
                f.write(block)
    files = [p for p in root.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def timed(cmd: list[str]) -> tuple[float, int, int, float]:
    """Wall seconds, exit code, peak RSS (KiB) and CPU seconds (processes it waited for) of a command."""
    wrapper = [
        sys.executable,
        "-c",
        "import resource,subprocess,sys,time;t=time.perf_counter();"
        "c=subprocess.run(sys.argv[1:],stdout=subprocess.DEVNULL,stderr=subprocess.DEVNULL).returncode;"
        "u=resource.getrusage(resource.RUSAGE_CHILDREN);"
        "print(time.perf_counter()-t,c,u.ru_maxrss,u.ru_utime+u.ru_stime)",
        *cmd,
    ]
    out = subprocess.run(wrapper, capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), int(out[1]), int(out[2]), float(out[3])


def report(label: str, runs: list[tuple[float, int, int, float]], files: int, size: int) -> None:
    """One line per command: the median of its runs (wall, CPU), the fastest run, the largest peak."""
    walls = sorted(r[0] for r in runs)
    seconds = statistics.median(walls)
    cpu = statistics.median(r[3] for r in runs)
    rss = max(r[2] for r in runs)
    codes = sorted({r[1] for r in runs})
    print(
        f"{label:38} {seconds:6.2f} s (min {walls[0]:.2f}) {files / seconds:7.0f} files/s "
        f"{size / seconds / 1e6:7.1f} MB/s {cpu:5.2f} s CPU {rss / 1024:5.0f} MiB peak  exit {codes}",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--large-mib", type=int, default=128, help="size of each large file (MiB)")
    parser.add_argument("--large-count", type=int, default=3)
    parser.add_argument("--peers", default="/tmp/peers-venv", help="venv with picklescan and modelscan")
    parser.add_argument("--keep", action="store_true", help="keep the generated corpus")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each command (median reported)")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="as-bench-"))
    try:
        corpora = {
            "small": base / "small",
            "large": base / "large",
        }
        n_small, s_small = make_corpus(corpora["small"], 0, 0)
        # the mixed corpus holds 2,000 small files too, plus a few large ones
        n_mixed, s_mixed = make_corpus(corpora["large"], args.large_mib, args.large_count)
        print(
            f"corpus: {n_small} small files ({s_small / 1e6:.1f} MB); mixed: {n_mixed} files "
            f"({s_mixed / 1e6:.1f} MB, {args.large_count} x {args.large_mib} MiB safetensors); "
            f"{os.cpu_count()} cores",
            flush=True,
        )
        py = str(ROOT / ".venv" / "bin" / "python")
        if not Path(py).exists():
            py = sys.executable
        # An installed package runs from compiled bytecode (pip compiles it); a checkout under
        # PYTHONDONTWRITEBYTECODE would recompile every changed module in every process.
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        subprocess.run([py, "-m", "compileall", "-q", str(ROOT / "scanner")], check=True, env=env)
        out = base / "result.json"
        peers = Path(args.peers) / "bin"
        for name, directory, n, size in (
            ("2,000 small", corpora["small"], n_small, s_small),
            ("2,000 small + large", corpora["large"], n_mixed, s_mixed),
        ):
            print(f"\n== {name} (median of {args.repeat} runs, commands interleaved)")
            scan = [py, "-m", "scanner", "scan", str(directory), "--json", str(out)]
            commands = {
                "artifact-scanner (auto)": scan,
                "artifact-scanner --workers threads": [*scan, "--workers", "threads"],
                "artifact-scanner --jobs 1": [*scan, "--jobs", "1"],
                "artifact-scanner --workers processes": [*scan, "--workers", "processes"],
            }
            if (peers / "picklescan").exists():
                commands["picklescan"] = [str(peers / "picklescan"), "--path", str(directory)]
            if (peers / "modelscan").exists():
                commands["modelscan"] = [str(peers / "modelscan"), "-p", str(directory)]
            runs: dict[str, list[tuple[float, int, int, float]]] = {label: [] for label in commands}
            order = random.Random(0)
            for _ in range(args.repeat):  # interleaved: a noisy moment hits every command alike
                labels = list(commands)
                order.shuffle(labels)  # and in a new order each round: the first run of a round is slower
                for label in labels:
                    runs[label].append(timed(commands[label]))
            for label in commands:
                report(label, runs[label], n, size)
        print("\npeak RSS: the largest single process of the command (parent or one worker)")
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
