"""Hashing speed and memory, side by side in one run.

Usage: python benchmarks/hash_bench.py [--file PATH] [--size-gib N] [--repeat R]

Makes (or takes) a large file and measures, each in its own process, with the file warm in the page cache:
the read rate (`cat > /dev/null`), `openssl dgst -sha256` alone, the `blake3` package alone with all threads,
and artifact-scanner's dual SHA-256 + BLAKE3 hashing; prints GB/s, each time relative to openssl, and the peak
RSS of ours. Target: ours <= openssl's time; peak RSS < 64 MiB whatever the file size.
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

OURS = """
import sys
from scanner.hashing import hash_file
d = hash_file(sys.argv[1])
print(d.sha256, d.blake3)
"""
B3_ALONE = """
import sys, blake3
h = blake3.blake3(max_threads=blake3.blake3.AUTO)
h.update_mmap(sys.argv[1])
print(h.hexdigest())
"""
SHA_ALONE = """
import sys, hashlib
h = hashlib.sha256()
with open(sys.argv[1], 'rb', buffering=0) as f:
    while chunk := f.read(1 << 20):
        h.update(chunk)
print(h.hexdigest())
"""


def make_file(path: Path, size: int) -> None:
    if path.exists() and path.stat().st_size == size:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    block = os.urandom(1 << 20)
    with open(path, "wb") as f:
        for i in range(size >> 20):
            f.write(block[i % 251 :] + block[: i % 251])


def timed(cmd: list[str], repeat: int) -> tuple[float, int, str]:
    """Best wall time over ``repeat`` runs, that child's own peak RSS (KiB, from wait4) and its output."""
    best = float("inf")
    out = ""
    peak = 0
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
        assert proc.stdout is not None
        out = proc.stdout.read().strip()
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        best = min(best, time.perf_counter() - start)
        if proc.returncode != 0:
            raise SystemExit(f"{cmd[0]} failed with {proc.returncode}")
        peak = max(peak, usage.ru_maxrss)
    return best, peak, out


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--file", type=Path, help="an existing large file to hash")
    parser.add_argument("--size-gib", type=float, default=2.0, help="size of the generated file (default 2)")
    parser.add_argument("--repeat", type=int, default=3, help="runs per tool; the best is kept (default 3)")
    args = parser.parse_args()
    path = args.file or ROOT / "build" / "bench" / f"hash-{args.size_gib:g}GiB.bin"
    if not args.file:
        make_file(path, int(args.size_gib * (1 << 30)))
    size = path.stat().st_size
    subprocess.run(["cat", str(path)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache
    env_py = [sys.executable, "-c"]
    rows: list[tuple[str, float, int]] = []
    cat = ["sh", "-c", f"cat '{path}' > /dev/null"]
    rows.append(("read (cat > /dev/null)", *timed(cat, args.repeat)[:2]))
    if shutil.which("openssl"):
        openssl = ["openssl", "dgst", "-sha256", str(path)]
        rows.append(("openssl dgst -sha256", *timed(openssl, args.repeat)[:2]))
    rows.append(("hashlib sha256 alone", *timed([*env_py, SHA_ALONE, str(path)], args.repeat)[:2]))
    rows.append(("blake3 alone, all threads", *timed([*env_py, B3_ALONE, str(path)], args.repeat)[:2]))
    t, rss, out = timed([*env_py, OURS, str(path)], args.repeat)
    rows.append(("artifact-scanner sha256+blake3", t, rss))
    baseline = next((r[1] for r in rows if r[0].startswith("openssl")), rows[2][1])
    print(f"file: {path} ({size / (1 << 30):.2f} GiB), best of {args.repeat}, cores: {os.cpu_count()}")
    print(f"{'tool':34} {'s':>7} {'GB/s':>7} {'x openssl':>10} {'peak RSS':>10}")
    for name, seconds, peak in rows:
        print(
            f"{name:34} {seconds:7.3f} {size / seconds / 1e9:7.2f} {seconds / baseline:10.2f} "
            f"{peak / 1024:8.1f} MiB"
        )
    ours = rows[-1][1]
    print(
        f"\nours / openssl = {ours / baseline:.2f} (target <= 1.00); "
        f"s/GiB: ours {ours / (size / (1 << 30)):.3f}, openssl {baseline / (size / (1 << 30)):.3f}"
    )
    print(f"digests: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
