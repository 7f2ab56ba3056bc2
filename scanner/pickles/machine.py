"""The symbolic machine: runs a pickle's opcodes over symbolic values, recording every import and call.

Stack, memo (PUT/BINPUT/LONG_BINPUT/MEMOIZE/GET...), MARK, DUP and POP behave as in the unpickler, so a
global's module and name are known whatever path they took (memo, DUP, STRING vs. unicode operands), and
every call is attributed to the value it really calls. Nothing is imported, called or evaluated.
"""

from __future__ import annotations

import contextlib
import gc
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from scanner.pickles.reader import OPCODE_KINDS, Op, PickleFormatError, PickleReader
from scanner.pickles.values import Call, Global, Persistent, SymDict, SymSet, Unknown, describe, root_global

MAX_OPS = 10_000_000
"""Opcodes interpreted per pickle."""
MAX_MARKS = 100_000
"""Open MARKs at once."""
MAX_MEMO = 2_000_000
"""Memo entries per pickle."""
MAX_STRING_CHARS = 4 << 20
"""Characters of string constants kept for the secret scan."""
MAX_VALUES = 3_000_000
"""Containers and call results created, plus values on the stack: what the machine holds in memory."""
MAX_EVENTS = 10_000
"""Imports or calls recorded per pickle (the rest are counted, not kept)."""
PAUSE_GC_FROM = 1 << 16
"""Bytes from which a pickle runs with cyclic garbage collection paused (see :func:`_cyclic_gc_paused`);
a smaller one makes too few objects for collection to matter, and the pause costs 4 us."""


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


_gc_lock = threading.Lock()
_gc_pausers = 0
_gc_was_enabled = True


@contextlib.contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a pickle runs. The machine allocates millions of small
    objects and keeps them (containers, memo) until the pickle ends; each collection re-scans all of
    them, which cost 40% of a 14 MB pickle of dicts. Memory is bounded by the value caps, and cycles a
    hostile pickle builds are collected once collection resumes. Nested and threaded runs share one pause."""
    global _gc_pausers, _gc_was_enabled
    with _gc_lock:
        if _gc_pausers == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_pausers += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_pausers -= 1
            if _gc_pausers == 0 and _gc_was_enabled:
                gc.enable()


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
        self._halt: str | None = None
        """Set by a handler when a limit is hit."""

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

    def _mutated(self, op: Op, target: Any) -> None:
        if isinstance(target, Global):
            self.trace.mutations.append((op.offset, op.name, target))

    # ------------------------------------------------------------------------------------------ run
    def run(self) -> Trace:
        """Read opcodes up to STOP, the end of the data, an error or a limit."""
        trace = self.trace
        reader = self.reader
        try:
            if reader._end - reader.offset > PAUSE_GC_FROM:
                with _cyclic_gc_paused():
                    self._loop()
            else:
                self._loop()
        except PickleFormatError as exc:  # Truncated included
            self._error(exc.offset, exc.message)
        trace.end = self.reader.offset
        return trace

    def _loop(self) -> None:
        """The interpreter loop: the commonest opcodes are decoded inline from the reader's window."""
        trace = self.trace
        reader = self.reader
        next_op = reader.next_op
        handlers = _HANDLERS
        memo = self.memo
        strings = trace.strings
        trace_calls = trace.calls
        ops = created = 0
        moved = False
        while True:
            data, p, limit, stack = reader._data, reader._p, reader._limit, self.stack
            while p < limit:
                code = data[p]
                if code == 0x94 and stack and len(memo) < MAX_MEMO:  # MEMOIZE
                    memo[len(memo)] = stack[-1]
                    p += 1
                elif code == 0x8C and p + 1 < limit and p + 2 + data[p + 1] <= limit:  # SHORT_BINUNICODE
                    n = data[p + 1]
                    try:
                        text = data[p + 2 : p + 2 + n].decode("utf-8", "surrogatepass")
                    except UnicodeDecodeError:
                        break  # the slow path reports it
                    if n >= 8 and self._string_chars < MAX_STRING_CHARS:
                        self._string_chars += n
                        strings.append((reader._base + p, text))
                    stack.append(text)
                    p += 2 + n
                elif code in _RUNS:  # BINFLOAT, BININT1, BININT2, BININT: a run of one of them at once
                    order, item, width = _RUNS[code]
                    end = p + width
                    if end > limit:
                        break  # cut off by the window: the slow path reads on or reports it
                    if end < limit and data[end] == code:
                        # A run (a list or tuple of numbers): the opcode bytes sit ``width`` apart;
                        # count them with C slicing, a bounded step at a time.
                        marks = bytes(data[p : min(limit, p + width * 16) : width])
                        k = len(marks) - len(marks.lstrip(marks[:1]))
                        if k == 16:  # a long run: count the rest of it in one bounded slice
                            marks = bytes(data[p : min(limit, p + width * _RUN_STEP) : width])
                            k = len(marks) - len(marks.lstrip(marks[:1]))
                        if p + k * width > limit:
                            k -= 1  # the last one's argument is cut off by the window
                        end = p + k * width
                        if code == 0x4B:  # BININT1: every other byte is a value
                            stack.extend(data[p + 1 : end : 2])
                        else:
                            stack.extend(struct.unpack_from(order + item * k, data, p))
                        ops += k - 1
                    else:
                        stack.append(_ONE[code](data, p)[0])
                    p = end
                elif code == 0x68 and p + 1 < limit:  # BINGET
                    value = memo.get(data[p + 1], _MISSING)
                    if value is _MISSING:
                        break
                    stack.append(value)
                    p += 2
                elif code == 0x71 and p + 1 < limit and stack:  # BINPUT
                    memo[data[p + 1]] = stack[-1]
                    p += 2
                elif code == 0x6A and p + 5 <= limit:  # LONG_BINGET
                    value = memo.get(_UINT4(data, p + 1)[0], _MISSING)
                    if value is _MISSING:
                        break
                    stack.append(value)
                    p += 5
                elif code == 0x4E:  # NONE
                    stack.append(None)
                    p += 1
                elif code == 0x7D:  # EMPTY_DICT
                    stack.append(SymDict())
                    created += 1
                    p += 1
                elif code == 0x5D:  # EMPTY_LIST
                    stack.append([])
                    created += 1
                    p += 1
                elif code == 0x29:  # EMPTY_TUPLE
                    stack.append(())
                    p += 1
                elif code == 0x28:  # MARK
                    self.marks.append(stack)
                    stack = self.stack = []
                    p += 1
                    if len(self.marks) > MAX_MARKS:
                        break
                elif 0x85 <= code <= 0x87 and len(stack) >= code - 0x84:  # TUPLE1..3
                    k = code - 0x84
                    items = tuple(stack[-k:])
                    del stack[-k:]
                    stack.append(items)
                    p += 1
                elif code == 0x75 and self.marks and self.marks[-1] and type(self.marks[-1][-1]) is SymDict:
                    batch = stack  # SETITEMS into a plain dict
                    stack = self.stack = self.marks.pop()
                    stack[-1].flat.extend(batch[:-1] if len(batch) & 1 else batch)
                    p += 1
                elif code == 0x65 and self.marks and self.marks[-1] and type(self.marks[-1][-1]) is list:
                    batch = stack  # APPENDS to a plain list
                    stack = self.stack = self.marks.pop()
                    stack[-1].extend(batch)
                    p += 1
                elif code == 0x73 and len(stack) >= 3 and type(stack[-3]) is SymDict:  # SETITEM
                    stack[-3].flat.extend(stack[-2:])
                    del stack[-2:]
                    p += 1
                elif code == 0x61 and len(stack) >= 2 and type(stack[-2]) is list:  # APPEND
                    stack[-2].append(stack.pop())
                    p += 1
                elif code == 0x88 or code == 0x89:  # NEWTRUE, NEWFALSE
                    stack.append(code == 0x88)
                    p += 1
                elif code == 0x74 and self.marks:  # TUPLE
                    items = tuple(stack)
                    stack = self.stack = self.marks.pop()
                    stack.append(items)
                    p += 1
                elif code == 0x43 and p + 1 < limit and p + 2 + data[p + 1] <= limit:  # SHORT_BINBYTES
                    n = data[p + 1]
                    stack.append(bytes(data[p + 2 : p + 2 + n]))
                    p += 2 + n
                elif code == 0x93 and len(stack) >= 2 and type(stack[-1]) is str and type(stack[-2]) is str:
                    name = stack.pop()  # STACK_GLOBAL of two constant strings
                    stack[-1] = self._import(stack[-1], name, reader._base + p)
                    p += 1
                elif (code == 0x52 or code == 0x81) and len(stack) >= 2:  # REDUCE, NEWOBJ
                    args = stack.pop()
                    kind = "REDUCE" if code == 0x52 else "NEWOBJ"
                    stack[-1] = self._call(stack[-1], args, kind, reader._base + p)
                    p += 1
                elif code == 0x62 and len(stack) >= 2:  # BUILD
                    reader._p = p + 1  # a build hook (joblib's raw arrays) reads on from here
                    state = stack.pop()
                    self._build(stack[-1], state, reader._base + p)
                    if reader._p != p + 1 or reader._data is not data:
                        moved = True  # it did: go on from where it left the reader
                        break
                    p += 1
                elif code == 0x80 and p + 1 < limit:  # PROTO
                    if data[p + 1] > trace.protocol:
                        trace.protocol = data[p + 1]
                    p += 2
                else:
                    break
                ops += 1
            if moved:
                moved = False
                ops += 1
                data, p, limit, stack = reader._data, reader._p, reader._limit, self.stack
            else:
                reader._p = p
            if created + len(stack) > MAX_VALUES or len(trace_calls) + trace.skipped_events > MAX_VALUES:
                trace.limits.append((reader.offset, f"more than {MAX_VALUES} values built by one pickle"))
                break
            if ops >= MAX_OPS:
                trace.limits.append((reader.offset, f"more than {MAX_OPS} opcodes in one pickle"))
                break
            if len(self.marks) > MAX_MARKS:
                trace.limits.append((reader.offset, f"more than {MAX_MARKS} nested MARKs"))
                break
            if reader.at_end:
                self._error(reader.offset, "data ends before STOP")
                break
            name = _ARGLESS.get(data[p]) if p < limit else None
            if name is not None:  # no argument to decode: the opcode is all there is
                op = Op(reader._base + p, name, None)
                reader._p = p + 1
            else:
                op = next_op()
            ops += 1
            name = op.name
            if name == "STOP":
                trace.result = self._pop(op)
                trace.stopped = True
                break
            handlers[name](self, op)
            if len(memo) > MAX_MEMO:
                self._halt = f"more than {MAX_MEMO} memo entries"
            if self._halt is not None or ops >= MAX_OPS:
                trace.limits.append((op.offset, self._halt or f"more than {MAX_OPS} opcodes in one pickle"))
                break
        trace.ops = ops

    def step(self, op: Op) -> None:
        """Apply one opcode (STOP excepted)."""
        _HANDLERS[op.name](self, op)

    # ------------------------------------------------------------------------------------- handlers
    def _h_constant(self, op: Op) -> None:
        self.stack.append(_CONSTANTS[op.name])

    def _h_short_text(self, op: Op) -> None:
        arg = op.arg
        if isinstance(arg, str) and len(arg) >= 8 and self._string_chars < MAX_STRING_CHARS:
            self._string_chars += len(arg)
            self.trace.strings.append((op.offset, arg))
        self.stack.append(arg)

    def _h_value(self, op: Op) -> None:
        self.stack.append(op.arg)

    def _h_nothing(self, op: Op) -> None:
        pass

    def _h_proto(self, op: Op) -> None:
        self.trace.protocol = max(self.trace.protocol, int(op.arg))  # type: ignore[call-overload]

    def _h_next_buffer(self, op: Op) -> None:
        self.stack.append(Unknown("out-of-band buffer"))

    def _h_mark(self, op: Op) -> None:
        self.marks.append(self.stack)
        self.stack = []
        if len(self.marks) > MAX_MARKS:
            self._halt = f"more than {MAX_MARKS} nested MARKs"

    def _h_pop(self, op: Op) -> None:
        if self.stack:
            self.stack.pop()
        else:
            self._pop_mark(op)  # the C unpickler pops a MARK when the stack above it is empty

    def _h_pop_mark(self, op: Op) -> None:
        self._pop_mark(op)

    def _h_dup(self, op: Op) -> None:
        self.stack.append(self._top(op))

    def _h_put(self, op: Op) -> None:
        self.memo[int(op.arg)] = self._top(op)  # type: ignore[call-overload]
        if len(self.memo) > MAX_MEMO:
            self._halt = f"more than {MAX_MEMO} memo entries"

    def _h_memoize(self, op: Op) -> None:
        self.memo[len(self.memo)] = self._top(op)
        if len(self.memo) > MAX_MEMO:
            self._halt = f"more than {MAX_MEMO} memo entries"

    def _h_get(self, op: Op) -> None:
        key = int(op.arg)  # type: ignore[call-overload]
        value = self.memo.get(key, _MISSING)
        if value is _MISSING:
            self._error(op.offset, f"{op.name} of memo key {key} that was never stored")
            value = Unknown(f"missing memo key {key}")
        self.stack.append(value)

    def _h_empty(self, op: Op) -> None:
        name = op.name
        self.stack.append(
            []
            if name == "EMPTY_LIST"
            else ()
            if name == "EMPTY_TUPLE"
            else SymDict()
            if name == "EMPTY_DICT"
            else SymSet()
        )

    def _h_list(self, op: Op) -> None:
        items = self._pop_mark(op)
        self.stack.append(items)

    def _h_tuple(self, op: Op) -> None:
        items = self._pop_mark(op)
        self.stack.append(tuple(items))

    def _h_tuple_n(self, op: Op) -> None:
        n = int(op.name[-1])
        stack = self.stack
        if len(stack) >= n:
            items = tuple(stack[-n:])
            del stack[-n:]
        else:
            items = tuple(reversed([self._pop(op) for _ in range(n)]))
        stack.append(items)

    def _h_dict(self, op: Op) -> None:
        items = self._pop_mark(op)
        self.stack.append(SymDict(items[:-1] if len(items) & 1 else items))

    def _h_frozenset(self, op: Op) -> None:
        items = self._pop_mark(op)
        self.stack.append(SymSet(items, frozen=True))

    def _h_global(self, op: Op) -> None:
        module, _, qualname = str(op.arg).partition(" ")
        value = self._import(module, qualname, op.offset)
        if op.name == "GLOBAL":
            self.stack.append(value)
        else:
            args = tuple(self._pop_mark(op))
            self.stack.append(self._call(value, args, "INST", op.offset))

    def _h_stack_global(self, op: Op) -> None:
        qual = self._pop(op)
        module = self._pop(op)
        if isinstance(module, str) and isinstance(qual, str):
            self.stack.append(self._import(module, qual, op.offset))
        else:
            text = f"module={describe(module, 100)}, name={describe(qual, 100)}"
            self.trace.dynamic.append((op.offset, text))
            self.stack.append(Unknown("dynamic import"))

    def _h_ext(self, op: Op) -> None:
        code = int(op.arg)  # type: ignore[call-overload]
        target = self.registry.get(code)
        resolved = self._import(target.module, target.name, op.offset) if target else None
        self.trace.extensions.append((op.offset, code, resolved))
        self.stack.append(resolved if resolved else Unknown(f"extension code {code}"))

    def _h_reduce(self, op: Op) -> None:
        args = self._pop(op)
        func = self._pop(op)
        self.stack.append(self._call(func, args, op.name, op.offset))

    def _h_newobj_ex(self, op: Op) -> None:
        kwargs = self._pop(op)
        args = self._pop(op)
        cls = self._pop(op)
        self.stack.append(self._call(cls, args, "NEWOBJ_EX", op.offset, kwargs))

    def _h_obj(self, op: Op) -> None:
        items = self._pop_mark(op)
        cls = items[0] if items else Unknown("OBJ without a class")
        self.stack.append(self._call(cls, tuple(items[1:]), "OBJ", op.offset))

    def _h_build(self, op: Op) -> None:
        state = self._pop(op)
        self._build(self._top(op), state, op.offset)

    def _build(self, target: Any, state: Any, offset: int) -> None:
        """BUILD ``state`` into ``target`` (the top of the stack); the build hook may read on."""
        if type(target) is Call:
            target.state = state
            if root_global(target) is not None:  # obj.__setstate__(state), or __dict__/slot updates
                self._call(target, (state,), "BUILD", offset)
            if self.build_hook is not None:
                self.build_hook(self, target)
        elif isinstance(target, Global):
            self.trace.mutations.append((offset, "BUILD", target))

    def _h_persid(self, op: Op) -> None:
        pid = op.arg if op.name == "PERSID" else self._pop(op)
        if len(self.trace.persistent_ids) < MAX_EVENTS:
            self.trace.persistent_ids.append(pid)
        self.stack.append(Persistent(pid))

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
            target.add(items)
        elif isinstance(target, SymSet):
            target.items.extend(items)
        elif isinstance(target, Call) and root_global(target) is not None:
            self._call(target, tuple(items[:2]), name, op.offset)  # the object's own append/__setitem__


_CONSTANTS: dict[str, Any] = {"NONE": None, "NEWTRUE": True, "NEWFALSE": False}
_MISSING = object()
_RUNS = {0x47: (">", "xd", 9), 0x4B: ("<", "xB", 2), 0x4D: ("<", "xH", 3), 0x4A: ("<", "xi", 5)}
"""Numeric opcodes (BINFLOAT, BININT1, BININT2, BININT) whose runs (lists and tuples of numbers) are
decoded in one step, not one per opcode: byte order, struct items and width (``x`` skips the opcode)."""
_ARGLESS = {code: name for code, (name, argkind) in OPCODE_KINDS.items() if argkind is None}
"""Opcodes without an argument, by byte: the loop builds their :class:`Op` without the reader."""
_ONE = {code: struct.Struct(order + item).unpack_from for code, (order, item, _) in _RUNS.items()}
"""Decoders of one such opcode and its argument."""
_RUN_STEP = 4096
"""Most opcodes of a run decoded in one step (bounds the slice that counts them)."""
_UINT4 = struct.Struct("<I").unpack_from
_HANDLER_NAMES: dict[str, str] = {
    "NONE": "_h_constant", "NEWTRUE": "_h_constant", "NEWFALSE": "_h_constant",
    "STRING": "_h_short_text", "BINSTRING": "_h_short_text", "SHORT_BINSTRING": "_h_short_text",
    "UNICODE": "_h_short_text", "SHORT_BINUNICODE": "_h_short_text", "BINUNICODE": "_h_short_text",
    "BINUNICODE8": "_h_short_text",
    "INT": "_h_value", "BININT": "_h_value", "BININT1": "_h_value", "BININT2": "_h_value", "LONG": "_h_value",
    "LONG1": "_h_value", "LONG4": "_h_value", "BINBYTES": "_h_value",
    "SHORT_BINBYTES": "_h_value", "BINBYTES8": "_h_value", "BYTEARRAY8": "_h_value", "FLOAT": "_h_value",
    "BINFLOAT": "_h_value",
    "PROTO": "_h_proto", "FRAME": "_h_nothing", "READONLY_BUFFER": "_h_nothing",
    "NEXT_BUFFER": "_h_next_buffer",
    "MARK": "_h_mark", "POP": "_h_pop", "POP_MARK": "_h_pop_mark", "DUP": "_h_dup",
    "PUT": "_h_put", "BINPUT": "_h_put", "LONG_BINPUT": "_h_put", "MEMOIZE": "_h_memoize",
    "GET": "_h_get", "BINGET": "_h_get", "LONG_BINGET": "_h_get",
    "EMPTY_LIST": "_h_empty", "EMPTY_TUPLE": "_h_empty", "EMPTY_DICT": "_h_empty", "EMPTY_SET": "_h_empty",
    "LIST": "_h_list", "TUPLE": "_h_tuple",
    "TUPLE1": "_h_tuple_n", "TUPLE2": "_h_tuple_n", "TUPLE3": "_h_tuple_n",
    "DICT": "_h_dict", "FROZENSET": "_h_frozenset",
    "APPEND": "_fill", "APPENDS": "_fill", "SETITEM": "_fill", "SETITEMS": "_fill", "ADDITEMS": "_fill",
    "GLOBAL": "_h_global", "INST": "_h_global", "STACK_GLOBAL": "_h_stack_global",
    "EXT1": "_h_ext", "EXT2": "_h_ext", "EXT4": "_h_ext",
    "REDUCE": "_h_reduce", "NEWOBJ": "_h_reduce", "NEWOBJ_EX": "_h_newobj_ex", "OBJ": "_h_obj",
    "BUILD": "_h_build", "PERSID": "_h_persid", "BINPERSID": "_h_persid",
}  # fmt: skip

_HANDLERS: dict[str, Callable[[Machine, Op], None]] = {
    name: getattr(Machine, method) for name, method in _HANDLER_NAMES.items()
}
"""Opcode name -> handler (STOP is handled by the loop)."""
