"""HDF5 files (legacy Keras ``.h5`` models and Keras v3 ``model.weights.h5``), read with h5py in a child.

Only attributes and dataset metadata are read (``model_config``, ``training_config``, versions, shapes
and dtypes); no dataset values are loaded. The HDF5 C library can loop or crash on a damaged file, so the
reading runs in a child process (:mod:`scanner.formats._h5_child`) under a time and memory limit; a child
that overruns is a limit finding, one that dies a malformed-structure finding.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import scanner
from scanner.formats.interface import AnalysisContext, Analyzer, Probe
from scanner.formats.keras_config import judge_config
from scanner.model import Finding
from scanner.rulebook import finding
from scanner.secret_scan import find_secrets

NAME = "keras-h5"
SIGNATURE = b"\x89HDF\r\n\x1a\n"
MAX_OBJECTS = 100_000
TIMEOUT_SECONDS = 60
_CONFIG_ATTRS = ("model_config", "training_config")


def read_hdf5(path: str, cap: int, timeout: float = TIMEOUT_SECONDS) -> dict[str, Any]:
    """The child's summary of the HDF5 file at ``path``; ``{"timeout": True}`` or ``{"crash": ...}``."""
    import subprocess  # ~5 ms to import: only when an HDF5 file is met

    root = str(Path(scanner.__file__).resolve().parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([root, os.environ.get("PYTHONPATH", "")])}
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "scanner.formats._h5_child", path, str(cap)],
            capture_output=True,
            timeout=timeout,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return {"timeout": True}
    try:
        result: dict[str, Any] = json.loads(proc.stdout.decode("utf-8"))
    except ValueError:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        return {"crash": f"exit status {proc.returncode} {tail[0][:200]}".strip()}
    return result


class KerasH5Analyzer(Analyzer):
    """HDF5 by signature (at 0 or after a user block of 512, 1024 or 2048 bytes)."""

    name = NAME
    format = "hdf5"
    priority = 200

    def detect(self, probe: Probe) -> bool:
        return any(probe.head[o : o + 8] == SIGNATURE for o in (0, 512, 1024, 2048))

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        cap = ctx.limits.max_structure_bytes
        path = ctx.artifact_path
        if ctx.member is None and os.path.isfile(path) and os.path.getsize(path) == ctx.probe.size:
            summary = read_hdf5(path, cap, TIMEOUT_SECONDS)
        else:
            import shutil
            import tempfile

            with tempfile.NamedTemporaryFile(suffix=".h5") as copy, ctx.open() as stream:
                shutil.copyfileobj(stream, copy, 1 << 20)
                copy.flush()
                summary = read_hdf5(copy.name, cap, TIMEOUT_SECONDS)
        if summary.get("timeout"):
            ctx.not_analyzed(ctx.member, f"HDF5 reading did not finish in {TIMEOUT_SECONDS} s")
            yield finding("AS-GEN-004", analyzer=NAME,
                          detail=f"HDF5 reading did not finish in {TIMEOUT_SECONDS} s")  # fmt: skip
            return
        if "crash" in summary:
            ctx.not_analyzed(ctx.member, "HDF5 reader failed")
            yield finding("AS-GEN-005", analyzer=NAME, detail=f"HDF5 reader failed: {summary['crash']}")
            return
        if "open_error" in summary:
            yield finding("AS-GEN-005", analyzer=NAME, detail=f"HDF5 does not open: {summary['open_error']}")
            return
        yield from self._attributes(ctx, summary)
        if summary.get("error"):
            ctx.not_analyzed(ctx.member, "HDF5 structure partly unreadable")
            detail = f"HDF5 structure unreadable: {summary['error']}"
            yield finding("AS-GEN-005", analyzer=NAME, detail=detail)
        if summary.get("objects", 0) > MAX_OBJECTS:
            ctx.not_analyzed(ctx.member, f"more than {MAX_OBJECTS} HDF5 objects; rest not listed")
        if ctx.depth == 0:
            ctx.set_property("tensor_count", summary.get("datasets", 0))
            ctx.set_property("parameter_count", summary.get("parameters", 0))
            ctx.set_property("dtypes", summary.get("dtypes", []))
            ctx.set_property("shapes", summary.get("shapes", {}))

    def _attributes(self, ctx: AnalysisContext, summary: dict[str, Any]) -> Iterator[Finding]:
        attrs: dict[str, str | None] = summary.get("attrs", {})
        version = attrs.get("keras_version")
        if version and ctx.depth == 0:
            ctx.set_property("libraries", {"keras": version[:50]})
        for message in summary.get("too_large", []):
            yield finding("AS-GEN-004", analyzer=NAME, detail=str(message))
        for key in _CONFIG_ATTRS:
            text = attrs.get(key)
            if text is None:
                continue
            if ctx.depth == 0:
                ctx.set_property("framework", "keras")
            try:
                document = json.loads(text)
            except ValueError as exc:
                yield finding("AS-KER-004", analyzer=NAME, detail=f"attribute {key!r}: {exc}")
                continue
            except RecursionError:
                yield finding("AS-GEN-004", analyzer=NAME, detail=f"attribute {key!r}: JSON too deep")
                continue
            yield from judge_config(document, NAME, f"attribute {key}")
            for match in find_secrets(text):
                yield finding(
                    match.pattern.rule_id,
                    analyzer=NAME,
                    detail=f"{match.pattern.name} in {key}",
                    evidence=match.redacted,
                    extra={"secret_type": match.pattern.name},
                )
