"""Signing, verification and BOM figures against model_signing, on a generated model directory.

Run from the project root: ``.venv/bin/python benchmarks/attest_bench.py [--size-mib N] [--files N]``.
Prints wall-clock seconds for: the OMS manifest (hashing), ``sign`` and ``verify`` with a local key,
the same with the ``model_signing`` library, and ``bom``/``attest`` of the directory, plus peak RSS.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scanner.cli import main


def _timed(label: str, fn: Callable[[], object], runs: int = 3) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    print(f"{label:<48} {best:8.3f} s")
    return best


def _make_model(root: Path, size_mib: int, files: int) -> None:
    root.mkdir()
    chunk = os.urandom(1 << 20)
    with open(root / "model.safetensors", "wb") as f:
        for _ in range(size_mib):
            f.write(chunk)
    for i in range(files):
        (root / f"shard-{i:04d}.json").write_text(f'{{"index": {i}}}\n')


def _quiet(argv: list[str]) -> None:
    devnull = open(os.devnull, "w")  # noqa: SIM115
    old = sys.stdout
    sys.stdout = devnull
    try:
        code = main(argv)
    finally:
        sys.stdout = old
        devnull.close()
    if code != 0:
        raise SystemExit(f"{argv[0]} exited {code}")


def run(size_mib: int, files: int) -> None:
    from model_signing import signing, verifying

    from scanner.attest import oms

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        model = base / "model"
        _make_model(model, size_mib, files)
        print(f"model: one {size_mib} MiB file + {files} small files")
        _quiet(["keygen", "--output", str(base / "k")])
        key, pub, sig, ms_sig = base / "k.key", base / "k.pub", base / "ours.sig", base / "ms.sig"
        serialization = oms.Serialization(ignore_paths=oms.GIT_PATHS)
        _timed("manifest, ours (SHA-256 files)", lambda: oms.compute_manifest(model, serialization))
        _timed("sign, ours", lambda: _quiet(["sign", str(model), "--key", str(key), "--output", str(sig)]))
        _timed(
            "sign, model_signing",
            lambda: signing.Config().use_elliptic_key_signer(private_key=key).sign(model, ms_sig),
        )
        _timed(
            "verify, ours", lambda: _quiet(["verify", str(model), "--bundle", str(sig), "--key", str(pub)])
        )
        _timed(
            "verify ours with model_signing",
            lambda: verifying.Config().use_elliptic_key_verifier(public_key=pub).verify(model, sig),
        )
        _timed(
            "verify model_signing's with ours",
            lambda: _quiet(["verify", str(model), "--bundle", str(ms_sig), "--key", str(pub)]),
        )
        _timed("bom (scan + BOM)", lambda: _quiet(["bom", str(model), "--output", str(base / "bom.json")]), 1)
        _timed(
            "attest (scan + BOM + 2 signed statements)",
            lambda: _quiet(["attest", str(model), "--key", str(key), "--output", str(base / "a.jsonl")]),
            1,
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:.0f} MiB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size-mib", type=int, default=512)
    parser.add_argument("--files", type=int, default=500)
    options = parser.parse_args()
    run(options.size_mib, options.files)
