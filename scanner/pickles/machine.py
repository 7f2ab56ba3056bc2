"""The symbolic machine: runs a pickle's opcodes over symbolic values, recording every import and call.

Stack, memo (PUT/BINPUT/LONG_BINPUT/MEMOIZE/GET...), MARK, DUP and POP behave as in the unpickler, so a
global's module and name are known whatever path they took (memo, DUP, STRING vs. unicode operands), and
every call is attributed to the value it really calls. Nothing is imported, called or evaluated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from scanner.pickles.reader import Blob, Op, PickleFormatError, PickleReader, Truncated
from scanner.pickles.values import Call, Global, Persistent, SymDict, SymSet, Unknown, root_global

MAX_OPS = 10_000_000
"""Opcodes interpreted per pickle."""
MAX_MARKS = 100_000
"""Open MARKs at once."""
MAX_MEMO = 2_000_000
"""Memo entries per pickle."""
MAX_STRING_CHARS = 4 << 20
"""Characters of string constants kept for the secret scan."""
MAX_EVENTS = 10_000
"""Imports or calls recorded per pickle (the rest are counted, not kept)."""


@dataclass
class Trace:
    """What one pickle (from a PROTO or its first opcode to STOP) would do when loaded."""

    start: int
    """Offset of its first opcode."""
    end: int = 0
    """Offset after its last byte read."""
    protocol: int = 0
    """Highest PROTO seen (0 when none)."""
    stopped: bool = False
    """It reached STOP."""
    ops: int = 0
    """Opcodes read."""
    imports: list[Global] = field(default_factory=list)
    """Every global imported (GLOBAL, STACK_GLOBAL, INST, resolved EXT), in order."""
    calls: list[Call] = field(default_factory=list)
    """Every call made (REDUCE, NEWOBJ, NEWOBJ_EX, OBJ, INST; BUILD as ``__setstate__``)."""
    dynamic: list[tuple[int, str]] = field(default_factory=list)
    """STACK_GLOBAL with non-constant operands: (offset, description of the operands)."""
    mutations: list[tuple[int, str, Global]] = field(default_factory=list)
    """BUILD/SETITEM/APPEND applied to an imported object: (offset, opcode, the global)."""
    extensions: list[tuple[int, int, Global | None]] = field(default_factory=list)
    """EXT opcodes: (offset, code, the global it resolved to through copyreg.add_extension, if any)."""
    strings: list[tuple[int, str]] = field(default_factory=list)
    """String constants (bounded), for the secret scan."""
    errors: list[tuple[int, str]] = field(default_factory=list)
    """Malformed data met: (offset, message)."""
    limits: list[tuple[int, str]] = field(default_factory=list)
    """Limits hit: (offset, message)."""
    persistent_ids: list[Any] = field(default_factory=list)
    """Persistent ids (bounded), e.g. torch storage descriptors."""
    result: Any = None
    """The value STOP returned."""
    skipped_events: int = 0
    """Imports and calls past :data:`MAX_EVENTS`, counted only."""


BuildHook = Callable[["Machine", Call], None]
"""Called after BUILD on a call result (joblib reads raw array bytes there)."""


class Machine:
    """Interprets one pickle from ``reader``'s position to its STOP."""

    def __init__(
        self,
        reader: PickleReader,
        *,
        extensions: dict[int, Global] | None = None,
        build_hook: BuildHook | None = None,
    ) -> None:
        self.reader = reader
        self.stack: list[Any] = []
        self.marks: list[list[Any]] = []
        self.memo: dict[int, Any] = {}
        self.registry = extensions if extensions is not None else {}
        self.build_hook = build_hook
        self.trace = Trace(start=reader.offset)
        self._string_chars = 0

    # -------------------------------------------------------------------------------------- helpers
    def _error(self, offset: int, message: str) -> None:
        if len(self.trace.errors) < 50:
            self.trace.errors.append((offset, message))

    def _pop(self, op: Op) -> Any:
        if self.stack:
            return self.stack.pop()
        self._error(op.offset, f"{op.name} on an empty stack")
        return Unknown("stack underflow")

    def _top(self, op: Op) -> Any:
        if self.stack:
            return self.stack[-1]
        self._error(op.offset, f"{op.name} on an empty stack")
        self.stack.append(Unknown("stack underflow"))
        return self.stack[-1]

    def _pop_mark(self, op: Op) -> list[Any]:
        items = self.stack
        if self.marks:
            self.stack = self.marks.pop()
        else:
            self._error(op.offset, f"{op.name} without a MARK")
            self.stack = []
        return items

    def _import(self, module: str, name: str, offset: int) -> Global:
        value = Global(module, name, offset)
        if len(self.trace.imports) < MAX_EVENTS:
            self.trace.imports.append(value)
        else:
            self.trace.skipped_events += 1
        return value

    def _call(self, func: Any, args: Any, kind: str, offset: int, kwargs: Any = None) -> Call:
        value = Call(func, args, kind, offset, kwargs)
        if len(self.trace.calls) < MAX_EVENTS:
            self.trace.calls.append(value)
        else:
            self.trace.skipped_events += 1
        if (
            isinstance(func, Global)
            and func.module in ("copyreg", "copy_reg")
            and func.name == "add_extension"
        ):
            self._register_extension(args)
        return value

    def _register_extension(self, args: Any) -> None:
        if isinstance(args, tuple) and len(args) == 3:
            module, name, code = args
            if isinstance(module, str) and isinstance(name, str) and isinstance(code, int):
                self.registry[code] = Global(module, name, -1)

    def _const(self, op: Op, value: Any) -> None:
        if isinstance(value, str) and len(value) >= 8 and self._string_chars < MAX_STRING_CHARS:
            self._string_chars += len(value)
            self.trace.strings.append((op.offset, value))
        self.stack.append(value)

    def _mutated(self, op: Op, target: Any) -> None:
        if isinstance(target, Global):
            self.trace.mutations.append((op.offset, op.name, target))

    # ------------------------------------------------------------------------------------------ run
    def run(self) -> Trace:
        """Read opcodes up to STOP, the end of the data, an error or a limit."""
        trace = self.trace
        reader = self.reader
        try:
            while not reader.at_end:
                op = reader.next_op()
                trace.ops += 1
                if trace.ops > MAX_OPS:
                    trace.limits.append((op.offset, f"more than {MAX_OPS} opcodes in one pickle"))
                    break
                if op.name == "STOP":
                    trace.result = self._pop(op)
                    trace.stopped = True
                    break
                self.step(op)
                if len(self.marks) > MAX_MARKS:
                    trace.limits.append((op.offset, f"more than {MAX_MARKS} nested MARKs"))
                    break
                if len(self.memo) > MAX_MEMO:
                    trace.limits.append((op.offset, f"more than {MAX_MEMO} memo entries"))
                    break
            else:
                self._error(reader.offset, "data ends before STOP")
        except Truncated as exc:
            self._error(exc.offset, exc.message)
        except PickleFormatError as exc:
            self._error(exc.offset, exc.message)
        trace.end = reader.offset
        return trace

    def step(self, op: Op) -> None:
        """Apply one opcode."""
        name = op.name
        stack = self.stack
        arg = op.arg
        if name in _CONSTANTS:
            self._const(op, _CONSTANTS[name] if arg is None else arg)
        elif name in _DIRECT_ARGS:
            if isinstance(arg, Blob) and not arg.text and name in ("BINBYTES", "BINBYTES8", "SHORT_BINBYTES"):
                stack.append(arg)
            else:
                self._const(op, arg)
        elif name == "PROTO":
            self.trace.protocol = max(self.trace.protocol, int(arg))  # type: ignore[call-overload]
        elif name == "FRAME" or name == "READONLY_BUFFER":
            pass
        elif name == "NEXT_BUFFER":
            stack.append(Unknown("out-of-band buffer"))
        elif name == "MARK":
            self.marks.append(stack)
            self.stack = []
        elif name == "POP":
            if stack:
                stack.pop()
            else:
                self._pop_mark(op)  # the C unpickler pops a MARK when the stack above it is empty
        elif name == "POP_MARK":
            self._pop_mark(op)
        elif name == "DUP":
            stack.append(self._top(op))
        elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
            self.memo[int(arg)] = self._top(op)  # type: ignore[call-overload]
        elif name == "MEMOIZE":
            self.memo[len(self.memo)] = self._top(op)
        elif name in ("GET", "BINGET", "LONG_BINGET"):
            key = int(arg)  # type: ignore[call-overload]
            if key in self.memo:
                stack.append(self.memo[key])
            else:
                self._error(op.offset, f"{name} of memo key {key} that was never stored")
                stack.append(Unknown(f"missing memo key {key}"))
        elif name == "EMPTY_LIST":
            stack.append([])
        elif name == "EMPTY_TUPLE":
            stack.append(())
        elif name == "EMPTY_DICT":
            stack.append(SymDict())
        elif name == "EMPTY_SET":
            stack.append(SymSet())
        elif name == "LIST":
            stack_items = self._pop_mark(op)
            self.stack.append(stack_items)
        elif name == "TUPLE":
            items = self._pop_mark(op)
            self.stack.append(tuple(items))
        elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
            n = int(name[-1])
            items = [self._pop(op) for _ in range(n)]
            stack.append(tuple(reversed(items)))
        elif name == "DICT":
            items = self._pop_mark(op)
            self.stack.append(SymDict(list(zip(items[::2], items[1::2], strict=False))))
        elif name == "FROZENSET":
            items = self._pop_mark(op)
            self.stack.append(SymSet(items, frozen=True))
        elif name in ("APPEND", "APPENDS", "SETITEM", "SETITEMS", "ADDITEMS"):
            self._fill(op)
        elif name == "GLOBAL" or name == "INST":
            module, _, qualname = str(arg).partition(" ")
            value = self._import(module, qualname, op.offset)
            if name == "GLOBAL":
                stack.append(value)
            else:
                args = tuple(self._pop_mark(op))
                self.stack.append(self._call(value, args, "INST", op.offset))
        elif name == "STACK_GLOBAL":
            qual = self._pop(op)
            module = self._pop(op)
            if isinstance(module, str) and isinstance(qual, str):
                stack.append(self._import(module, qual, op.offset))
            else:
                from scanner.pickles.values import describe

                self.trace.dynamic.append(
                    (op.offset, f"module={describe(module, 100)}, name={describe(qual, 100)}")
                )
                stack.append(Unknown("dynamic import"))
        elif name in ("EXT1", "EXT2", "EXT4"):
            code = int(arg)  # type: ignore[call-overload]
            target = self.registry.get(code)
            resolved = self._import(target.module, target.name, op.offset) if target else None
            self.trace.extensions.append((op.offset, code, resolved))
            stack.append(resolved if resolved else Unknown(f"extension code {code}"))
        elif name == "REDUCE":
            args = self._pop(op)
            func = self._pop(op)
            stack.append(self._call(func, args, "REDUCE", op.offset))
        elif name == "NEWOBJ":
            args = self._pop(op)
            cls = self._pop(op)
            stack.append(self._call(cls, args, "NEWOBJ", op.offset))
        elif name == "NEWOBJ_EX":
            kwargs = self._pop(op)
            args = self._pop(op)
            cls = self._pop(op)
            stack.append(self._call(cls, args, "NEWOBJ_EX", op.offset, kwargs))
        elif name == "OBJ":
            items = self._pop_mark(op)
            cls = items[0] if items else Unknown("OBJ without a class")
            self.stack.append(self._call(cls, tuple(items[1:]), "OBJ", op.offset))
        elif name == "BUILD":
            state = self._pop(op)
            target = self._top(op)
            self._mutated(op, target)
            if isinstance(target, Call):
                target.state = state
                if self.build_hook is not None:
                    self.build_hook(self, target)
        elif name == "PERSID" or name == "BINPERSID":
            pid = arg if name == "PERSID" else self._pop(op)
            if len(self.trace.persistent_ids) < MAX_EVENTS:
                self.trace.persistent_ids.append(pid)
            stack.append(Persistent(pid))
        else:  # pragma: no cover - every opcode in pickletools is handled above
            self._error(op.offset, f"unhandled opcode {name}")

    def _fill(self, op: Op) -> None:
        name = op.name
        if name in ("APPENDS", "SETITEMS", "ADDITEMS"):
            items = self._pop_mark(op)
        elif name == "APPEND":
            items = [self._pop(op)]
        else:
            value = self._pop(op)
            key = self._pop(op)
            items = [key, value]
        target = self._top(op)
        self._mutated(op, target)
        if isinstance(target, list):
            target.extend(items)
        elif isinstance(target, SymDict):
            target.items.extend(zip(items[::2], items[1::2], strict=False))
        elif isinstance(target, SymSet):
            target.items.extend(items)
        elif isinstance(target, Call) and root_global(target) is not None:
            method = {"APPEND": "append", "APPENDS": "extend", "ADDITEMS": "add"}.get(name, "__setitem__")
            self._call(Global("<method>", method, op.offset), (target, *items[:2]), name, op.offset)


_CONSTANTS: dict[str, Any] = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_DIRECT_ARGS = frozenset(
    {
        "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "STRING", "BINSTRING",
        "SHORT_BINSTRING", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8", "BYTEARRAY8", "UNICODE",
        "SHORT_BINUNICODE", "BINUNICODE", "BINUNICODE8", "FLOAT", "BINFLOAT",
    }
)  # fmt: skip
