"""joblib's in-stream numpy arrays: after the BUILD of a ``NumpyArrayWrapper``, joblib's unpickler reads
the array's raw bytes (or, for object arrays, a nested pickle) straight from the file.

:func:`joblib_build_hook` does the same over the symbolic state: it skips the raw bytes so that opcodes
(and any payload) placed after them are still read, and interprets a nested object-array pickle in
place, merging what it does into the enclosing trace.
"""

from __future__ import annotations

import re
from typing import Any

from scanner.pickles.machine import Machine
from scanner.pickles.reader import PickleFormatError
from scanner.pickles.values import Call, Global, SymDict, root_global

_WRAPPERS = {
    ("joblib.numpy_pickle", "NumpyArrayWrapper"),
    ("sklearn.externals.joblib.numpy_pickle", "NumpyArrayWrapper"),
}
_NUM = re.compile(r"^[<>|=]?[A-Za-z](\d+)")
MAX_NESTING = 8


def _dtype_info(dtype: Any) -> tuple[int, bool] | None:
    """(itemsize, has objects) of a symbolic ``numpy.dtype(str, ...)`` with its BUILD state."""
    if not isinstance(dtype, Call) or not isinstance(dtype.args, tuple) or not dtype.args:
        return None
    spec = dtype.args[0]
    if not isinstance(spec, str):
        return None
    state = dtype.state if isinstance(dtype.state, tuple) else ()
    has_object = spec.lstrip("<>|=").startswith("O")
    if len(state) > 7 and isinstance(state[7], int):
        has_object = has_object or bool(state[7] & 1)
    if len(state) > 5 and isinstance(state[5], int) and state[5] > 0:
        return state[5], has_object
    m = _NUM.match(spec)
    return (int(m.group(1)), has_object) if m else None


def _count(shape: Any) -> int | None:
    if not isinstance(shape, tuple) or not all(isinstance(n, int) and n >= 0 for n in shape):
        return None
    count = 1
    for n in shape:
        count *= n
    return count


def joblib_build_hook(machine: Machine, target: Call) -> None:
    """Skip (or interpret) the array data joblib stores after a ``NumpyArrayWrapper``'s BUILD."""
    func = root_global(target)
    if not isinstance(func, Global) or (func.module, func.name) not in _WRAPPERS or target.func is not func:
        return
    state = target.state
    offset = machine.reader.offset
    if not isinstance(state, SymDict):
        machine.trace.errors.append((offset, "joblib array wrapper without a constant state"))
        return
    info = _dtype_info(state.get("dtype"))
    count = _count(state.get("shape"))
    if info is None or count is None:
        machine.trace.errors.append((offset, "joblib array wrapper with a non-constant dtype or shape"))
        return
    itemsize, has_object = info
    reader = machine.reader
    if has_object:
        depth = getattr(machine, "joblib_depth", 0)
        if depth >= MAX_NESTING:
            machine.trace.limits.append((offset, f"joblib object arrays nested deeper than {MAX_NESTING}"))
            return
        inner = Machine(reader, extensions=machine.registry, build_hook=joblib_build_hook)
        inner.joblib_depth = depth + 1  # type: ignore[attr-defined]
        sub = inner.run()
        trace = machine.trace
        trace.imports.extend(sub.imports)
        trace.calls.extend(sub.calls)
        trace.dynamic.extend(sub.dynamic)
        trace.mutations.extend(sub.mutations)
        trace.extensions.extend(sub.extensions)
        trace.strings.extend(sub.strings)
        trace.errors.extend(sub.errors)
        trace.limits.extend(sub.limits)
        return
    try:
        if state.get("numpy_array_alignment_bytes") is not None:
            padding = reader.read(1)[0]
            reader.skip(padding)
        reader.skip(count * itemsize)
    except PickleFormatError as exc:
        machine.trace.errors.append((exc.offset, f"joblib array data: {exc.message}"))
