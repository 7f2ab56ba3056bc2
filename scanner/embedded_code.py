"""Code and links hidden in metadata strings: pickles (raw or base64), Python source, shell commands, URLs.

Used by analyzers whose formats carry free-form string metadata (safetensors ``__metadata__``). Nothing
is ever run: Python is parsed with :mod:`ast`, pickles are only recognised (and handed to the engine as
members, so the pickle analyzer judges them).
"""

from __future__ import annotations

import ast
import base64
import binascii
import re
from collections.abc import Iterator
from dataclasses import dataclass

MAX_CODE_TEXT = 1 << 20
"""Longest string parsed as Python."""

_URL = re.compile(r"\b(?:https?|ftp|s3|gs|hf|file)://[^\s\"'<>`]{3,2048}", re.IGNORECASE)
_BASE64 = re.compile(r"[A-Za-z0-9+/\r\n]{16,}={0,2}")
_PICKLE_PROTO0 = re.compile(rb"^\(?c[A-Za-z_][\w.]*\n[A-Za-z_][\w.]*\n", re.ASCII)
_SHELL = re.compile(
    r"(?:^|[;&|`\n]|\$\()\s*(?:sudo\s+)?(?:curl|wget|bash|sh|zsh|dash|nc|ncat|netcat|chmod|chown|rm\s+-[rf]+"
    r"|python[0-9.]*\s+-c|perl\s+-e|ruby\s+-e|powershell|certutil|base64\s+(?:-d|--decode)|mkfifo|eval)\b"
    r"|\|\s*(?:ba|z|da)?sh\b|/dev/tcp/",
)
_SUSPECT_BUILTINS = frozenset(
    {"exec", "eval", "compile", "__import__", "open", "getattr", "setattr", "globals", "breakpoint"}
)
_CODE_NODES = (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)


@dataclass(frozen=True)
class EmbeddedCode:
    """A piece of code recognised in a string."""

    kind: str
    """``pickle``, ``python`` or ``shell``."""
    summary: str
    """What was recognised (e.g. the pickle's encoding, the shell command word)."""
    payload: bytes | None = None
    """The decoded bytes, for pickles (to analyze as a member)."""


def urls(text: str) -> list[str]:
    """The URLs in ``text``, in order (each at most 2 KiB)."""
    return [m.group() for m in _URL.finditer(text)]


def _pickle_bytes(data: bytes) -> bool:
    if len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return data.rstrip(b"\n").endswith(b".")
    return bool(_PICKLE_PROTO0.match(data)) and data.rstrip(b"\n").endswith(b".")


def _as_pickle(text: str) -> tuple[str, bytes] | None:
    try:
        raw = text.encode("latin-1")
    except UnicodeEncodeError:
        raw = b""
    if raw and _pickle_bytes(raw):
        return "raw pickle", raw
    stripped = text.strip()
    if len(stripped) >= 16 and _BASE64.fullmatch(stripped):
        try:
            decoded = base64.b64decode(stripped, validate=False)
        except (binascii.Error, ValueError):
            return None
        if _pickle_bytes(decoded):
            return "base64-encoded pickle", decoded
    return None


def _python(text: str) -> str | None:
    if len(text) > MAX_CODE_TEXT or len(text) < 8:
        return None
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, _CODE_NODES):
            return type(node).__name__.lower()
        if isinstance(node, ast.Call) and (
            isinstance(node.func, ast.Attribute)
            or (isinstance(node.func, ast.Name) and node.func.id in _SUSPECT_BUILTINS)
        ):
            return "call"
    return None


def embedded_code(text: str) -> Iterator[EmbeddedCode]:
    """The code recognised in ``text`` (a pickle, Python source, a shell command), most specific first."""
    pickled = _as_pickle(text)
    if pickled is not None:
        yield EmbeddedCode("pickle", pickled[0], pickled[1])
        return
    shell = _SHELL.search(text)
    if shell is not None:
        yield EmbeddedCode("shell", f"shell command {shell.group().strip()[:40]!r}")
    python = _python(text)
    if python is not None:
        yield EmbeddedCode("python", f"Python source ({python})")
