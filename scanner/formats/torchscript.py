"""TorchScript code members (``code/**/*.py`` of a ``torch.jit.save`` archive), judged on their AST.

``torch.jit.load`` compiles these files with the TorchScript frontend, which resolves names only
against ``torch``, ``ops`` (TorchScript builtins and ``aten::``/``prim::`` operators), ``__torch__``
(the archive's own classes), its constants table and a small set of Python builtins. The code is parsed
with Python's :mod:`ast` (never compiled or run). A free name outside that set, an import, or a dunder
attribute that reaches interpreter internals means the code was written or edited by hand: a call into
``os``, ``subprocess``, ``builtins.eval``/``exec`` and the like is critical, any other non-torch
reference high, each with the call shown.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from typing import BinaryIO

from scanner.formats.interface import AnalysisContext
from scanner.model import Finding
from scanner.rulebook import finding

MAX_REPORTED = 50
"""References reported one by one per code member."""

TORCH_ROOTS = frozenset({"torch", "ops", "__torch__", "CONSTANTS", "math"})
"""Roots of dotted names TorchScript resolves (``math`` holds its scalar builtins)."""
SCRIPT_BUILTINS = frozenset(
    {
        "annotate", "uninitialized", "unchecked_cast", "fork", "wait", "isinstance", "int", "float",
        "bool", "str", "complex", "len", "range", "print", "list", "dict", "tuple", "min", "max", "abs",
        "round", "zip", "enumerate", "divmod", "ord", "chr", "hash", "hex", "oct", "bin", "all", "any",
        "sorted", "sum", "getattr", "hasattr", "id", "iter", "next", "reversed", "pow",
        "Tensor", "Optional", "List", "Dict", "Tuple", "Final", "NoneType", "Any", "Union", "Future",
        "Await", "Module", "Device", "Stream", "Storage", "Generator", "Layout", "ScalarType",
        "MemoryFormat", "QScheme", "RRef", "Capsule", "Enum", "Exception", "inf", "nan",
        "True", "False", "None", "__annotations__", "NamedTuple",
    }
)  # fmt: skip
"""Bare names the TorchScript frontend knows (builtins and type annotations)."""
DANGEROUS_ROOTS = frozenset(
    {
        "os", "posix", "nt", "subprocess", "sys", "builtins", "__builtins__", "importlib", "imp",
        "runpy", "pty", "shutil", "socket", "ctypes", "pickle", "_pickle", "marshal", "shelve",
        "code", "codeop", "pdb", "bdb", "webbrowser", "urllib", "http", "requests", "ftplib",
        "smtplib", "telnetlib", "multiprocessing", "threading", "asyncio", "signal", "tempfile",
        "pathlib", "io", "_io", "glob", "commands", "platform", "types", "inspect", "gc",
    }
)  # fmt: skip
"""Modules whose use means file, process, network or interpreter access."""
DANGEROUS_NAMES = frozenset(
    {"eval", "exec", "compile", "open", "__import__", "globals", "locals", "vars", "input",
     "breakpoint", "setattr", "delattr", "memoryview", "exit", "quit", "help"}
)  # fmt: skip
"""Builtins that run code, read input or reach arbitrary attributes."""
TORCH_FILE_OPS = frozenset(
    {"torch.from_file", "ops.aten.from_file", "torch.ops.aten.from_file", "torch.load", "torch.save",
     "torch.jit.load", "torch.jit.save", "torch.ops.load_library", "torch.classes.load_library"}
)  # fmt: skip
"""TorchScript-compilable torch calls that read or write files of the machine running the model
(``torch.from_file`` maps any file into a tensor, so its bytes can leave through the outputs)."""
DANGEROUS_DUNDERS = frozenset(
    {"__globals__", "__builtins__", "__subclasses__", "__import__", "__code__", "__class__",
     "__bases__", "__base__", "__mro__", "__dict__", "__getattribute__", "__reduce__",
     "__reduce_ex__", "__loader__", "__spec__", "__closure__", "__func__", "__self__", "__module__"}
)  # fmt: skip
"""Attributes that walk from a value to the interpreter's internals."""


def _dotted(node: ast.expr) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def _root(node: ast.expr) -> ast.expr:
    while isinstance(node, ast.Attribute):
        node = node.value
    return node


def _bound_names(tree: ast.AST) -> set[str]:
    """Names the code binds itself: parameters, assignment targets, definitions, loop variables."""
    bound: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
    return bound


def _judge_tree(tree: ast.AST) -> Iterator[tuple[str, str, int]]:
    """``(severity kind, description, line)`` for every non-TorchScript reference in ``tree``."""
    bound = _bound_names(tree)
    reported: set[int] = set()
    for node in ast.walk(tree):
        line = getattr(node, "lineno", 0)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or "."]
            for module in modules:
                root = module.split(".")[0]
                kind = "critical" if root in DANGEROUS_ROOTS else "high"
                yield kind, f"import {module}", line
        elif isinstance(node, ast.Attribute) and node.attr in DANGEROUS_DUNDERS:
            yield "critical", f"attribute {node.attr} ({ast.unparse(node)[:200]})", line
        elif isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name is None:
                continue
            root = name.split(".")[0]
            if root in TORCH_ROOTS and name in TORCH_FILE_OPS:
                yield "critical", f"file access {ast.unparse(node)[:300]}", line
                continue
            if root in bound or root in TORCH_ROOTS:
                continue
            reported.add(id(_root(node.func)))
            call = ast.unparse(node)[:300]
            if root in DANGEROUS_ROOTS or name in DANGEROUS_NAMES:
                yield "critical", f"call {call}", line
            elif name == "getattr" and not _constant_getattr(node):
                yield "critical", f"dynamic attribute access {call}", line
            elif root not in SCRIPT_BUILTINS:
                yield "high", f"call {call}", line
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load):
            if node.id in bound or node.id in TORCH_ROOTS or node.id in SCRIPT_BUILTINS:
                continue
            if id(node) in reported:
                continue
            kind = "critical" if node.id in DANGEROUS_ROOTS or node.id in DANGEROUS_NAMES else "high"
            yield kind, f"name {node.id}", getattr(node, "lineno", 0)


def _constant_getattr(node: ast.Call) -> bool:
    """``getattr(x, "name")`` with a constant, non-dunder name (TorchScript writes it for submodules)."""
    if len(node.args) < 2:
        return False
    arg = node.args[1]
    return isinstance(arg, ast.Constant) and isinstance(arg.value, str) and not arg.value.startswith("__")


MAX_CLASSES = 1000
"""Class names listed per archive."""


def module_of(name: str) -> str:
    """The TorchScript module a code member defines: ``x/code/__torch__/a/b.py`` -> ``__torch__.a.b``."""
    path = name.split("code/", 1)[-1]
    return path[: -len(".py")].replace("/", ".") if path.endswith(".py") else path


_BRACKETED = re.compile(r"<([A-Za-z0-9_]+)>")


def _parse(text: str, name: str) -> ast.Module:
    """Parse TorchScript code; qualified names of classes from modules such as ``<run_path>`` or
    ``<locals>`` are legal for TorchScript but not for Python, so they are renamed and parsed again."""
    try:
        return ast.parse(text, filename=name)
    except SyntaxError:
        renamed = _BRACKETED.sub(r"_\1_", text)
        if renamed == text:
            raise
        return ast.parse(renamed, filename=name)


def judge_code(
    ctx: AnalysisContext,
    analyzer: str,
    name: str,
    data: BinaryIO,
    size: int,
    classes: list[str] | None = None,
) -> Iterator[Finding]:
    """Findings for one TorchScript code member (``data`` holds its ``size`` bytes).

    The qualified names of the classes it defines are appended to ``classes`` (bounded).
    """
    member = ctx.child_member(name)
    cap = ctx.limits.max_structure_bytes
    if size > cap:
        ctx.not_analyzed(member, "TorchScript code larger than the structure limit")
        yield finding("AS-GEN-004", analyzer=analyzer, member=member, detail=f"{size} bytes of code")
        return
    text = data.read(size).decode("utf-8", "replace")
    try:
        tree = _parse(text, name)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        yield finding("AS-TS-003", analyzer=analyzer, member=member, detail=f"{name}: {exc}")
        return
    if classes is not None:
        module = module_of(name)
        for node in tree.body:
            if isinstance(node, ast.ClassDef) and len(classes) < MAX_CLASSES:
                classes.append(f"{module}.{node.name}")
    seen: set[tuple[str, str]] = set()
    count = 0
    for kind, description, line in _judge_tree(tree):
        if (kind, description) in seen:
            continue
        seen.add((kind, description))
        count += 1
        if count > MAX_REPORTED:
            continue
        yield finding(
            "AS-TS-001" if kind == "critical" else "AS-TS-002",
            analyzer=analyzer,
            member=member,
            evidence=description,
            detail=f"{name}:{line}: {description}",
            extra={"reference": description, "line": line},
        )
    if count > MAX_REPORTED:
        yield finding(
            "AS-TS-002",
            analyzer=analyzer,
            member=member,
            detail=f"{count - MAX_REPORTED} more non-TorchScript references not listed",
        )
