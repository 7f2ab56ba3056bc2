"""The HDF5 reading of :mod:`scanner.formats.keras_h5`, run in a child process.

h5py drives the HDF5 C library, which can loop or crash on a damaged file (a broken variable-length
string heap makes it spin while reading an attribute); neither a thread nor a signal stops it. The parent
runs ``python -m scanner.formats._h5_child PATH CAP`` with a time limit and an address-space limit and
reads one JSON document from stdout: the wanted attributes as text and a listing of dataset shapes.
No dataset value is read.
"""

from __future__ import annotations

import json
import sys
from typing import Any

ATTRIBUTES = ("keras_version", "backend", "model_config", "training_config")
SMALL_ATTRIBUTES = {"keras_version": 4096, "backend": 4096}
MAX_OBJECTS = 100_000
MEMORY_LIMIT = 4 << 30
H5_ERRORS = (OSError, RuntimeError, ValueError, KeyError, OverflowError, TypeError)


def _attr_text(attrs: Any, key: str, cap: int) -> str | None:
    if attrs.get_id(key).get_storage_size() > cap:
        raise OverflowError(f"attribute {key!r} larger than {cap} bytes")
    value = attrs[key]
    if hasattr(value, "tolist"):
        value = value.tolist()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value if isinstance(value, str) else str(value)


def summarize(path: str, cap: int) -> dict[str, Any]:
    """Attributes, limits hit and dataset listing of the HDF5 file at ``path``."""
    import h5py

    out: dict[str, Any] = {"attrs": {}, "too_large": [], "error": None, "objects": 0, "datasets": 0,
                           "parameters": 0, "dtypes": [], "shapes": {}}  # fmt: skip
    try:
        handle = h5py.File(path, "r")
    except H5_ERRORS as exc:
        out["open_error"] = str(exc)
        return out
    with handle:
        try:
            for key in ATTRIBUTES:
                if key not in handle.attrs:
                    continue
                try:
                    out["attrs"][key] = _attr_text(handle.attrs, key, SMALL_ATTRIBUTES.get(key, cap))
                except OverflowError as exc:
                    out["too_large"].append(str(exc))
            dtypes: set[str] = set()

            def visit(name: str, obj: Any) -> Any:
                out["objects"] += 1
                if out["objects"] > MAX_OBJECTS:
                    return True
                if isinstance(obj, h5py.Dataset):
                    out["datasets"] += 1
                    size = 1
                    for d in obj.shape or ():
                        size *= int(d)
                    out["parameters"] += size
                    dtypes.add(str(obj.dtype))
                    if len(out["shapes"]) < 50:
                        out["shapes"][name] = [int(d) for d in obj.shape or ()]
                return None

            handle.visititems(visit)
            out["dtypes"] = sorted(dtypes)
        except H5_ERRORS as exc:
            out["error"] = str(exc)
    return out


def main(argv: list[str]) -> int:
    """Entry point of the child: prints the summary as JSON."""
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    print(json.dumps(summarize(argv[0], int(argv[1]))))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
