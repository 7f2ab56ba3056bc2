"""HDF5 files (legacy Keras ``.h5`` models and Keras v3 ``model.weights.h5``), read with h5py.

Only attributes and dataset metadata are read (``model_config``, ``training_config``, versions, shapes
and dtypes); no dataset values are loaded. Attributes larger than the structure limit are refused.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from scanner.formats.interface import AnalysisContext, Analyzer, Probe
from scanner.formats.keras_config import judge_config
from scanner.model import Finding
from scanner.rulebook import finding
from scanner.secret_scan import find_secrets

NAME = "keras-h5"
SIGNATURE = b"\x89HDF\r\n\x1a\n"
MAX_OBJECTS = 100_000
_CONFIG_ATTRS = ("model_config", "training_config")
_H5_ERRORS = (OSError, RuntimeError, ValueError, KeyError, OverflowError)
"""What h5py raises for HDF5 library errors on damaged structure."""


def _attr_text(attrs: Any, key: str, cap: int) -> str | None:
    """An attribute as text, refused (``None``) when its stored size exceeds ``cap``."""
    if key not in attrs:
        return None
    if attrs.get_id(key).get_storage_size() > cap:
        raise OverflowError(f"attribute {key!r} larger than {cap} bytes")
    value = attrs[key]
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else str(value)


class KerasH5Analyzer(Analyzer):
    """HDF5 by signature (at 0 or after a user block of 512, 1024 or 2048 bytes)."""

    name = NAME
    format = "hdf5"
    priority = 200

    def detect(self, probe: Probe) -> bool:
        return any(probe.head[o : o + 8] == SIGNATURE for o in (0, 512, 1024, 2048))

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        import h5py

        cap = ctx.limits.max_structure_bytes
        with ctx.open() as stream:
            try:
                handle = h5py.File(stream, "r")
            except _H5_ERRORS as exc:
                yield finding("AS-GEN-005", analyzer=NAME, detail=f"HDF5 does not open: {exc}")
                return
            with handle:
                try:
                    yield from self._attributes(ctx, handle, cap)
                    self._datasets(ctx, handle)
                except _H5_ERRORS as exc:
                    ctx.not_analyzed(ctx.member, "HDF5 structure partly unreadable")
                    yield finding("AS-GEN-005", analyzer=NAME, detail=f"HDF5 structure unreadable: {exc}")

    def _attributes(self, ctx: AnalysisContext, handle: Any, cap: int) -> Iterator[Finding]:
        attrs = handle.attrs
        for key in ("keras_version", "backend"):
            text = _attr_text(attrs, key, 4096) if key in attrs else None
            if text and key == "keras_version" and ctx.depth == 0:
                ctx.set_property("libraries", {"keras": text[:50]})
        for key in _CONFIG_ATTRS:
            try:
                text = _attr_text(attrs, key, cap)
            except OverflowError as exc:
                yield finding("AS-GEN-004", analyzer=NAME, detail=str(exc))
                continue
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

    def _datasets(self, ctx: AnalysisContext, handle: Any) -> None:
        import h5py

        count = 0
        datasets = 0
        params = 0
        dtypes: set[str] = set()
        shapes: dict[str, list[int]] = {}

        def visit(name: str, obj: Any) -> Any:
            nonlocal count, datasets, params
            count += 1
            if count > MAX_OBJECTS:
                return True  # stop visiting
            if isinstance(obj, h5py.Dataset):
                datasets += 1
                size = 1
                for d in obj.shape or ():
                    size *= int(d)
                params += size
                dtypes.add(str(obj.dtype))
                if len(shapes) < 50:
                    shapes[name] = [int(d) for d in obj.shape or ()]
            return None

        handle.visititems(visit)
        if count > MAX_OBJECTS:
            ctx.not_analyzed(ctx.member, f"more than {MAX_OBJECTS} HDF5 objects; rest not listed")
        if ctx.depth == 0:
            ctx.set_property("tensor_count", datasets)
            ctx.set_property("parameter_count", params)
            ctx.set_property("dtypes", sorted(dtypes))
            ctx.set_property("shapes", shapes)
