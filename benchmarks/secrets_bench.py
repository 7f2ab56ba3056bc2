"""Secret search speed: `scan --deep` over raw binary bytes (hyperscan), and text scanning.

Usage: python benchmarks/secrets_bench.py [--size-gib N] [--repeat R] [--dir DIR]

Writes a binary file of N GiB (default 1) of random bytes with fake tokens buried every 64 MiB, warms
the page cache, then measures in-process the throughput of the deep search alone (target >= 1 GB/s) and
checks it finds every buried token; then the whole `scan --deep` command against `scan` in child
processes (best of R, peak RSS). Last, the text path: find_secrets over 64 MiB of config-like text.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fixtures.fake_secrets import TOKENS  # noqa: E402
from scanner.secret_deep import search_stream  # noqa: E402
from scanner.secret_fast import find_secrets_bytes  # noqa: E402
from scanner.secret_scan import find_secrets  # noqa: E402

KINDS = ("aws-access-key-id", "github-token", "huggingface-token", "openai-api-key", "private-key")


def build(path: Path, size: int) -> int:
    """Random bytes with a token every 64 MiB; returns how many tokens were buried."""
    block = bytearray(os.urandom(1 << 20))
    buried = 0
    with open(path, "wb") as f:
        for i in range(size >> 20):
            chunk = bytearray(block[i % 251 :] + block[: i % 251])
            if i % 64 == 32:
                raw = TOKENS[KINDS[buried % len(KINDS)]][1].encode()
                chunk[1000 - 1] = 0
                chunk[1000 : 1000 + len(raw)] = raw
                chunk[1000 + len(raw)] = 0
                buried += 1
            f.write(chunk)
    return buried


def timed(cmd: list[str], repeat: int) -> tuple[float, int]:
    best, peak = float("inf"), 0
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        best = min(best, time.perf_counter() - start)
        if os.waitstatus_to_exitcode(status) not in (0, 1):
            raise SystemExit(f"{cmd} failed")
        peak = max(peak, usage.ru_maxrss)
    return best, peak


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-gib", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/artifact-scanner-bench"))
    args = parser.parse_args()
    args.dir.mkdir(parents=True, exist_ok=True)
    path = args.dir / f"noise-{args.size_gib:g}g.bin"
    buried = build(path, int(args.size_gib * (1 << 30)))
    size = path.stat().st_size
    subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)

    best = best_cpu = float("inf")
    found = 0
    for _ in range(args.repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        with open(path, "rb", buffering=0) as f:
            found = sum(1 for _ in search_stream(f))  # type: ignore[arg-type]
        best = min(best, time.perf_counter() - start)
        best_cpu = min(best_cpu, time.process_time() - start_cpu)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(f"file: {path} ({size / (1 << 30):.2f} GiB random bytes, {buried} buried tokens)")
    print(
        f"deep search alone: {best:.2f} s wall ({size / 1e9 / best:.2f} GB/s), {best_cpu:.2f} s CPU "
        f"({size / 1e9 / best_cpu:.2f} GB/s per CPU second; target >= 1); found {found}/{buried}; "
        f"process peak RSS {rss / 1024:.1f} MiB"
    )

    cli = [sys.executable, "-m", "scanner", "scan"]
    plain, plain_rss = timed([*cli, str(path)], args.repeat)
    deep, deep_rss = timed([*cli, "--deep", str(path)], args.repeat)
    print(f"scan:        {plain:6.2f} s  peak RSS {plain_rss / 1024:6.1f} MiB")
    extra = deep - plain
    print(f"scan --deep: {deep:6.2f} s  peak RSS {deep_rss / 1024:6.1f} MiB  (+{extra:.2f} s for the search)")

    lines = [f"learning_rate = {i * 1e-5:.6f}\nmodel_name = 'org/model-{i}'\n" for i in range(20000)]
    text = "".join(lines)
    text = (text * (64 * (1 << 20) // len(text) + 1))[: 64 << 20] + "\n" + TOKENS["github-token"][0]
    data = text.encode()
    find_secrets_bytes(b"x" * 5000)  # compile the text database outside the timing
    took = float("inf")
    for _ in range(args.repeat):
        start = time.perf_counter()
        hits = find_secrets_bytes(data)  # what the text analyzer runs on each block
        took = min(took, time.perf_counter() - start)
    assert [m.pattern.name for m in find_secrets(text[-200:])] == ["github-token"]
    print(
        f"text secrets, every pattern in one hyperscan pass: 64 MiB in {took:.2f} s "
        f"({len(data) / 1e6 / took:.0f} MB/s), {len(hits)} found"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
