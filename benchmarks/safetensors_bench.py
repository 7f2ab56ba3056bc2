"""Scanning a large safetensors file against hashing it, and peak memory.

Usage: python benchmarks/safetensors_bench.py [--size-gib N] [--sparse] [--repeat R] [--dir DIR]

Writes a safetensors file of N GiB (default 2): a real header (bf16/f32 tensors of a transformer-like shape
mix, written by our own builder in the layout the safetensors writer uses) and a data area of random bytes,
or a sparse data area with --sparse. Then, each in its own process with the file warm in the page cache,
times `artifact-scanner hash FILE` and `artifact-scanner scan FILE` (interleaved, best of R) and reports
the ratio (target <= 1.2: the analyzer reads only the header) and each one's peak RSS (target: flat, tens
of MiB); last, the safetensors analyzer alone, in process (the whole cost a scan adds to hashing).
"""

from __future__ import annotations

import argparse
import json
import os
import struct
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def build(path: Path, size: int, sparse: bool) -> None:
    tensors: dict[str, object] = {"__metadata__": {"format": "pt"}}
    offset = 0
    layer = 0
    # Layers of 4 bf16 matrices 4096x4096 (32 MiB each) plus norms, until the size is reached.
    while True:
        for name, shape, dtype, width in (
            ("q_proj.weight", [4096, 4096], "BF16", 2),
            ("k_proj.weight", [4096, 4096], "BF16", 2),
            ("v_proj.weight", [4096, 4096], "BF16", 2),
            ("o_proj.weight", [4096, 4096], "BF16", 2),
            ("input_layernorm.weight", [4096], "F32", 4),
        ):
            nbytes = width * shape[0] * (shape[1] if len(shape) > 1 else 1)
            if offset + nbytes > size:
                break
            tensors[f"model.layers.{layer}.self_attn.{name}"] = {
                "dtype": dtype,
                "shape": shape,
                "data_offsets": [offset, offset + nbytes],
            }
            offset += nbytes
        else:
            layer += 1
            continue
        break
    header = json.dumps(tensors, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    if path.exists() and path.stat().st_size == 8 + len(header) + offset:
        return
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        if sparse:
            f.truncate(8 + len(header) + offset)
            return
        block = os.urandom(1 << 20)
        written = 0
        i = 0
        while written < offset:
            chunk = (block[i % 251 :] + block[: i % 251])[: offset - written]
            f.write(chunk)
            written += len(chunk)
            i += 1


def analyzer_only(path: Path, repeat: int) -> float:
    """Best time (ms) of the safetensors analyzer by itself on the file, without hashing."""
    sys.path.insert(0, str(ROOT))
    from scanner.engine import ScanOptions
    from scanner.formats.interface import AnalysisContext, Limits, ScanBudget, make_probe
    from scanner.formats.safetensors import SafetensorsAnalyzer

    size = path.stat().st_size
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        with open(path, "rb") as f:
            probe = make_probe(f, size, path.name)
        ctx = AnalysisContext(
            artifact_path=str(path),
            member=None,
            probe=probe,
            opener=lambda: open(path, "rb"),  # noqa: SIM115 - the analyzer closes what it opens
            depth=0,
            budget=ScanBudget(Limits()),
            options=ScanOptions(),
            _member_scanner=lambda *a: iter(()),
        )
        findings = list(SafetensorsAnalyzer().analyze(ctx))
        best = min(best, time.perf_counter() - start)
        assert not findings, findings
    return best * 1000


def timed(cmd: list[str]) -> tuple[float, float, int]:
    """Wall time, CPU time (user + system) and peak RSS (KiB) of one run of ``cmd``."""
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    if os.waitstatus_to_exitcode(status) not in (0, 1):
        raise SystemExit(f"{cmd} failed")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-gib", type=float, default=2.0)
    parser.add_argument("--sparse", action="store_true", help="sparse data area (faster to make)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/artifact-scanner-bench"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    path = args.dir / f"model-{args.size_gib:g}g{'-sparse' if args.sparse else ''}.safetensors"
    build(path, int(args.size_gib * (1 << 30)), args.sparse)
    size = path.stat().st_size
    cli = [sys.executable, "-m", "scanner"]
    best = {"hash": (float("inf"), float("inf"), 0), "scan": (float("inf"), float("inf"), 0)}
    for _ in range(args.repeat):  # interleaved, each after re-warming the page cache
        for command in ("hash", "scan"):
            subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)
            wall, cpu, rss = timed([*cli, command, str(path)])
            old = best[command]
            best[command] = (min(old[0], wall), min(old[1], cpu), max(old[2], rss))
    (hash_time, hash_cpu, hash_rss), (scan_time, scan_cpu, scan_rss) = best["hash"], best["scan"]
    analyzer_ms = analyzer_only(path, args.repeat)
    gb = size / 1e9
    print(f"file: {path} ({size / (1 << 30):.2f} GiB{', sparse' if args.sparse else ''})")
    for name, wall, cpu, rss in (
        ("hash", hash_time, hash_cpu, hash_rss),
        ("scan", scan_time, scan_cpu, scan_rss),
    ):
        print(
            f"{name}: {wall:6.2f} s wall ({gb / wall:5.2f} GB/s), {cpu:6.2f} s CPU, "
            f"peak RSS {rss / 1024:6.1f} MiB"
        )
    print(f"scan / hash: {scan_time / hash_time:.3f} wall, {scan_cpu / hash_cpu:.3f} CPU (target <= 1.2)")
    print(f"safetensors analyzer alone (header only, in process): {analyzer_ms:.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
