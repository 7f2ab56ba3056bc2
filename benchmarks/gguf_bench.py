"""GGUF header reading and chat template judging: time and peak RSS on a realistic tokenizer.

Usage: python benchmarks/gguf_bench.py [--vocab N] [--compare-gguf]

Writes (with the gguf package) a GGUF holding an N-token vocabulary, N scores, N token types and N merges
(what llama.cpp conversions of Llama 3 / Qwen carry: N is about 128k-150k) plus the Qwen2.5 tool-use chat
template, then measures in fresh processes: our bounded reader alone, the whole `artifact-scanner scan`, and
with --compare-gguf the gguf package's GGUFReader (which maps the file and builds numpy views of every
field). Prints seconds and peak RSS of each.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "fixtures" / "formats_b" / "templates" / "real" / "qwen25_tools.jinja"

RSS = """
import atexit, resource, sys
def _rss(): print(f"RSS_KIB={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
atexit.register(_rss)
"""
WRITE = """
import sys
import numpy as np, gguf
n = int(sys.argv[2])
w = gguf.GGUFWriter(sys.argv[1], "llama")
w.add_name("bench")
w.add_token_list([f"tok{i:06d}" for i in range(n)])
w.add_token_scores([float(-i) for i in range(n)])
w.add_token_types([1] * n)
w.add_array("tokenizer.ggml.merges", [f"t{i} k{i}" for i in range(n)])
w.add_chat_template(open(sys.argv[3]).read())
w.add_tensor("token_embd.weight", np.zeros((4, 64), np.float32))
w.write_header_to_file()
w.write_kv_data_to_file()
w.write_tensors_to_file()
w.close()
"""
OURS = """
import os, sys
from scanner.formats.gguf_reader import GgufReader
with open(sys.argv[1], "rb") as f:
    h = GgufReader(f, os.path.getsize(sys.argv[1])).read()
print(f"keys={len(h.metadata)} tensors={len(h.tensors)}")
"""
SCAN = """
import sys
from scanner.cli import main
sys.exit(main(["scan", sys.argv[1], "--json", "/dev/null"]))
"""
THEIRS = """
import sys, gguf
r = gguf.GGUFReader(sys.argv[1])
print(f"keys={len(r.fields)} tensors={len(r.tensors)}")
"""


def run(code: str, *args: str) -> tuple[float, float, str]:
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", RSS + code, *args], cwd=ROOT, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    rss = [line for line in proc.stderr.splitlines() if line.startswith("RSS_KIB=")]
    peak = int(rss[-1].split("=")[1]) / 1024 if rss else float("nan")
    first = proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else "-"
    return elapsed, peak, first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocab", type=int, default=150_000)
    parser.add_argument("--compare-gguf", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "vocab.gguf"
        run(WRITE, str(path), str(args.vocab), str(TEMPLATE))
        print(f"{path.stat().st_size:,} bytes, {args.vocab:,} tokens and merges")
        rows = [("our reader", OURS), ("scan (hash + read + judge template)", SCAN)]
        if args.compare_gguf:
            rows.append(("gguf.GGUFReader (reference)", THEIRS))
        for label, code in rows:
            seconds, peak, out = run(code, str(path))
            print(f"{label:<40} {seconds:7.2f} s   peak RSS {peak:7.1f} MiB   {out[:60]}")


if __name__ == "__main__":
    main()
