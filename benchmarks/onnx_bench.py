"""ONNX analyzer memory and speed on models of 2 GB and more, without writing gigabytes to disk.

Usage: python benchmarks/onnx_bench.py [--size-gib N] [--tensors K] [--dir DIR] [--compare-onnx]

Builds two sparse models in DIR (default: a temporary directory): one whose K initializers hold N GiB of
raw_data inline (the payload bytes are a hole in the file, so the protobuf is real but costs no disk), and
one of the same shape that keeps its tensors in an N GiB external data file (how models over the 2 GB
protobuf limit are saved). Each is then analyzed in its own process, and the peak RSS and time are
printed: the analyzer alone (the wire walk), and the whole `artifact-scanner scan` (which also hashes
every byte). With --compare-onnx, `onnx.load_model` (which holds the payload in memory) is measured on
the inline model for reference. Target: peak RSS flat (tens of MiB) whatever N.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

WALK = """
import os, sys
from scanner.formats._protowire import WireSource
from scanner.formats.onnx_model import _Walk
path = sys.argv[1]
with open(path, 'rb') as f:
    walk = _Walk(WireSource(f, os.path.getsize(path)), os.path.dirname(path))
    walk.model()
print(f"tensors={walk.stats.tensors} params={walk.stats.parameters} findings={len(walk.findings)}")
"""
HASH = """
import sys
from scanner.hashing import hash_file
print(hash_file(sys.argv[1]).sha256[:16])
"""
# Appended to every child: its own peak RSS, on stderr.
RSS = """
import atexit, resource, sys
def _rss(): print(f"RSS_KIB={resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}", file=sys.stderr)
atexit.register(_rss)
"""
SCAN = """
import sys
from scanner.cli import main
sys.exit(main(['scan', sys.argv[1], '--json', '/dev/null']))
"""
ONNX_LOAD = """
import sys, onnx
m = onnx.load_model(sys.argv[1], load_external_data=False)
print(len(m.graph.initializer))
"""


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b, n = n & 0x7F, n >> 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number: int, payload: bytes) -> bytes:
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def make_inline(path: Path, total: int, count: int) -> None:
    """ModelProto with ``count`` float32 initializers whose raw_data holes add up to ``total`` bytes."""
    from onnx import TensorProto, helper

    each = total // count // 4 * 4
    nodes = helper.make_graph(
        [helper.make_node("Identity", ["W0"], ["y"])],
        "big",
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [each // 4])],
    ).SerializeToString()
    graph_len = len(nodes)
    heads = []
    for i in range(count):
        head = TensorProto(name=f"W{i}", data_type=TensorProto.FLOAT, dims=[each // 4]).SerializeToString()
        head += varint(9 << 3 | 2) + varint(each)
        outer = varint(5 << 3 | 2) + varint(len(head) + each)
        heads.append(outer + head)
        graph_len += len(outer) + len(head) + each
    with open(path, "wb") as f:
        f.write(b"\x08\x08" + varint(7 << 3 | 2) + varint(graph_len))
        f.write(nodes)
        for head in heads:
            f.write(head)
            f.seek(each, 1)
        f.truncate(f.tell())


def make_external(directory: Path, total: int, count: int) -> Path:
    from onnx import TensorProto, helper

    each = total // count // 4 * 4
    tensors = []
    for i in range(count):
        t = TensorProto(name=f"W{i}", data_type=TensorProto.FLOAT, dims=[each // 4])
        t.data_location = TensorProto.EXTERNAL
        for k, v in (("location", "model.onnx.data"), ("offset", str(i * each)), ("length", str(each))):
            t.external_data.add(key=k, value=v)
        tensors.append(t)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["W0"], ["y"])],
        "big_external",
        [],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [each // 4])],
        initializer=tensors,
    )
    path = directory / "model.onnx"
    path.write_bytes(helper.make_model(graph).SerializeToString())
    with open(directory / "model.onnx.data", "wb") as f:
        f.truncate(each * count)
    return path


def measure(code: str, path: Path) -> tuple[float, float, str]:
    """Seconds and peak RSS (MiB) of ``python -c code path`` in a fresh process."""
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", RSS + code, str(path)], cwd=ROOT, capture_output=True, text=True, check=False
    )
    elapsed = time.perf_counter() - start
    rss = [line for line in proc.stderr.splitlines() if line.startswith("RSS_KIB=")]
    peak = int(rss[-1].split("=")[1]) / 1024 if rss else float("nan")
    return elapsed, peak, proc.stdout.strip().splitlines()[0] if proc.stdout.strip() else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-gib", type=float, default=2.5)
    parser.add_argument("--tensors", type=int, default=2000)
    parser.add_argument("--dir", type=Path)
    parser.add_argument("--compare-onnx", action="store_true")
    args = parser.parse_args()
    total = int(args.size_gib * (1 << 30))
    with tempfile.TemporaryDirectory(dir=args.dir) as tmp:
        work = Path(tmp)
        inline = work / "inline.onnx"
        make_inline(inline, total, args.tensors)
        (work / "ext").mkdir()
        external = make_external(work / "ext", total, args.tensors)
        print(f"models: {args.tensors} tensors, {total / (1 << 30):.2f} GiB of payload (sparse files)")
        print(f"  inline:   {inline.stat().st_size:>14,} bytes")
        print(f"  external: {external.stat().st_size:>14,} bytes + {total:,} bytes of data")
        rows = [
            ("walk, inline", WALK, inline),
            ("walk, external", WALK, external),
            ("scan (hash + analyze), external model file", SCAN, external),
            ("hash only (SHA-256 + BLAKE3), inline", HASH, inline),
            ("scan (hash + analyze), inline", SCAN, inline),
        ]
        if args.compare_onnx:
            rows.append(("onnx.load_model, inline (reference)", ONNX_LOAD, inline))
        for label, code, path in rows:
            seconds, peak, out = measure(code, path)
            print(f"{label:<45} {seconds:7.2f} s   peak RSS {peak:7.1f} MiB   {out[:60]}")


if __name__ == "__main__":
    main()
