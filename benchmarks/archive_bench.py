"""Scanning a large PyTorch zip checkpoint against hashing it.

Usage: python benchmarks/archive_bench.py [--file PATH] [--size-mib N] [--tensor-mib M] [--repeat R]

Makes (or takes) a ``torch.save`` checkpoint of N MiB of float32 tensors of M MiB each (stored zip
members, as torch writes them) and measures, each in its own process with the file warm in the page
cache: ``openssl dgst -sha256``, artifact-scanner's hashing alone (SHA-256 + BLAKE3) and a whole
``scan`` (hashing, zip directory, every member handed to the engine). Prints seconds, GB/s, the scan's
cost relative to hashing (target <= 1.2x) and peak RSS of each of ours.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HASH_ONLY = """
import sys, time
from scanner.hashing import hash_file
start = time.perf_counter()
hash_file(sys.argv[1])
print(f"{time.perf_counter() - start:.4f}")
"""
SCAN = """
import sys, time
from scanner.engine import ScanOptions, scan_paths
from scanner.formats.registry import all_analyzers
options = ScanOptions()  # loads the rules and policy (start-up, not per-file work)
all_analyzers()
start = time.perf_counter()
report = scan_paths([sys.argv[1]], options)
elapsed = time.perf_counter() - start
(result,) = report.results
print(f"{elapsed:.4f} {result.format} findings={len(result.findings)} members={len(result.coverage.analyzed)}"
      f" errors={len(result.errors)}")
"""
MAKE = """
import sys, torch
size_mib, tensor_mib = int(sys.argv[2]), int(sys.argv[3])
per = tensor_mib << 18  # float32 elements per tensor
state = {f"layer{i}.weight": torch.rand(per) for i in range(max(size_mib // tensor_mib, 1))}
torch.save(state, sys.argv[1])
"""


def make_checkpoint(path: Path, size_mib: int, tensor_mib: int) -> None:
    """A real ``torch.save`` file, written by a child process (so this one stays small)."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [sys.executable, "-c", MAKE, str(path), str(size_mib), str(tensor_mib)], check=True, cwd=ROOT
    )


def timed(cmd: list[str], repeat: int) -> tuple[float, int, str]:
    """Best wall time over ``repeat`` runs, that child's peak RSS (KiB) and its output."""
    best, peak, out = float("inf"), 0, ""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        assert proc.stdout is not None
        text = proc.stdout.read().decode().strip()
        if os.waitstatus_to_exitcode(status) != 0:
            raise SystemExit(f"{cmd} failed")
        if elapsed < best:
            best, peak, out = elapsed, usage.ru_maxrss, text
    return best, peak, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", type=Path, default=Path("/tmp/archive-bench/checkpoint.pt"))
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--tensor-mib", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    make_checkpoint(args.file, args.size_mib, args.tensor_mib)
    size = args.file.stat().st_size
    subprocess.run(["cat", str(args.file)], stdout=subprocess.DEVNULL, check=True)  # warm the cache
    py = sys.executable
    rows = []
    if shutil.which("openssl"):
        t, _, _ = timed(["openssl", "dgst", "-sha256", str(args.file)], args.repeat)
        rows.append(("openssl dgst -sha256", t, None, "whole process"))
    _, rss_hash, out = timed([py, "-c", HASH_ONLY, str(args.file)], args.repeat)
    t_hash = float(out)
    rows.append(("ours: hash only", t_hash, rss_hash, "in process"))
    _, rss_scan, out = timed([py, "-c", SCAN, str(args.file)], args.repeat)
    t_scan = float(out.split()[0])
    rows.append(("ours: full scan", t_scan, rss_scan, "in process, " + " ".join(out.split()[1:])))
    print(f"file: {args.file} ({size / 2**20:.0f} MiB, {args.tensor_mib} MiB tensors)")
    for label, t, rss, note in rows:
        mem = f"{rss / 1024:6.1f} MiB" if rss else "         -"
        print(f"{label:24s} {t:7.3f} s {size / t / 1e9:6.2f} GB/s  peak RSS {mem}  {note}")
    print(f"scan / hash: {t_scan / t_hash:.2f}x (target <= 1.2x; rules and imports excluded from both)")


if __name__ == "__main__":
    main()
