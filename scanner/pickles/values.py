"""The symbolic values a pickle builds: constants stay Python constants, everything else is a node.

Nodes record what the unpickler would have made (an imported global, the result of a call, a persistent
reference) without making it, and :func:`describe` renders them as bounded Python-like text.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(eq=False, slots=True)
class Global:
    """An object imported by GLOBAL, STACK_GLOBAL, INST or EXT: ``module.name`` (name may be dotted)."""

    module: str
    name: str
    offset: int

    @property
    def dotted(self) -> str:
        """``module.qualname``."""
        return f"{self.module}.{self.name}"


@dataclass(eq=False, slots=True)
class Call:
    """The result of calling ``func`` with ``args`` (REDUCE, NEWOBJ, NEWOBJ_EX, OBJ, INST)."""

    func: Any
    args: Any
    kind: str
    offset: int
    kwargs: Any = None
    state: Any = None
    """State given by BUILD, if any."""


@dataclass(eq=False, slots=True)
class Unknown:
    """A value the machine cannot know (after an error, a limit, an out-of-band buffer)."""

    reason: str


@dataclass(eq=False, slots=True)
class Persistent:
    """An object resolved by the loader's ``persistent_load`` (torch storages)."""

    pid: Any


@dataclass(eq=False, slots=True)
class SymDict:
    """A dict, kept as its keys and values in one list, each key before its value (keys may be
    unhashable nodes). One flat list instead of a tuple per entry: a pickle of millions of small dicts
    holds a quarter less memory."""

    flat: list[Any] = field(default_factory=list)

    def add(self, items: list[Any]) -> None:
        """Add alternating keys and values (a trailing key without its value is dropped, as by zip)."""
        self.flat.extend(items[:-1] if len(items) & 1 else items)

    def pairs(self, limit: int | None = None) -> Iterator[tuple[Any, Any]]:
        """The (key, value) pairs in order, the first ``limit`` of them when given."""
        flat = self.flat if limit is None else self.flat[: 2 * limit]
        return zip(flat[::2], flat[1::2], strict=True)

    def __len__(self) -> int:
        return len(self.flat) // 2

    def get(self, key: str) -> Any:
        """The last value stored under the constant ``key``, or ``None``."""
        flat = self.flat
        for i in range(len(flat) - 2, -1, -2):
            k = flat[i]
            if isinstance(k, str) and k == key:
                return flat[i + 1]
        return None


@dataclass(eq=False, slots=True)
class SymSet:
    """A set or frozenset, kept as its items."""

    items: list[Any] = field(default_factory=list)
    frozen: bool = False


_METHODS = {
    "BUILD": ".__setstate__",
    "APPEND": ".append",
    "APPENDS": ".extend",
    "SETITEM": ".__setitem__",
    "SETITEMS": ".update",
    "ADDITEMS": ".add",
}
"""How calls made by filling or building an object are shown."""


def root_global(value: Any) -> Global | None:
    """The global at the root of a call chain (``g(...)(...)`` -> ``g``), if any."""
    seen = 0
    while isinstance(value, Call) and seen < 64:
        value = value.func
        seen += 1
    return value if isinstance(value, Global) else None


def describe(value: Any, limit: int = 240) -> str:
    """Bounded Python-like text for a value (never longer than ``limit`` plus an ellipsis)."""
    out: list[str] = []
    _describe(value, out, limit, 0)
    text = "".join(out)
    return text if len(text) <= limit else text[:limit] + "…"


def _describe(value: Any, out: list[str], limit: int, depth: int) -> None:
    if sum(len(p) for p in out) > limit:
        return
    if depth > 8:
        out.append("…")
        return
    if isinstance(value, Global):
        out.append(value.dotted)
    elif isinstance(value, Call):
        _describe(value.func, out, limit, depth + 1)
        out.append(_METHODS.get(value.kind, "") + "(")
        args = value.args if isinstance(value.args, tuple) else (value.args,)
        for i, arg in enumerate(args):
            if i:
                out.append(", ")
            _describe(arg, out, limit, depth + 1)
        out.append(")")
    elif isinstance(value, (tuple, list)):
        out.append("(" if isinstance(value, tuple) else "[")
        for i, item in enumerate(value[:8]):
            if i:
                out.append(", ")
            _describe(item, out, limit, depth + 1)
        if len(value) > 8:
            out.append(", …")
        out.append(
            ",)"
            if isinstance(value, tuple) and len(value) == 1
            else (")" if isinstance(value, tuple) else "]")
        )
    elif isinstance(value, SymDict):
        out.append("{")
        for i, (k, v) in enumerate(value.pairs(8)):
            if i:
                out.append(", ")
            _describe(k, out, limit, depth + 1)
            out.append(": ")
            _describe(v, out, limit, depth + 1)
        out.append(", …}" if len(value) > 8 else "}")
    elif isinstance(value, SymSet):
        out.append("{" + ", ".join(describe(v, 40) for v in value.items[:8]) + "}")
    elif isinstance(value, Persistent):
        out.append("persistent_load(")
        _describe(value.pid, out, limit, depth + 1)
        out.append(")")
    elif isinstance(value, Unknown):
        out.append(f"<{value.reason}>")
    elif isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        out.append(f"<int of {value.bit_length()} bits>")
    elif isinstance(value, (str, bytes)):
        out.append(repr(value[:120]) + ("…" if len(value) > 120 else ""))
    else:
        out.append(repr(value)[:120])
