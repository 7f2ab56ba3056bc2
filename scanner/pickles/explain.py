"""The Python that unpickling would run, decompiled by fickling for the report.

Only ``fickling.fickle.Pickled.load`` (an opcode parser) and its AST are used, never ``fickling.load``
(which unpickles). Input and output are size-capped; the caller's finding redacts secrets in it.
"""

from __future__ import annotations

import ast
import contextlib
import io
import threading

MAX_INPUT = 1 << 20
"""Pickles larger than this are not decompiled."""
MAX_OUTPUT = 4000
"""Characters of decompiled code kept."""
_QUIET = threading.Lock()
"""fickling writes warnings to sys.stdout/sys.stderr; they are captured (one decompilation at a time)."""


def decompile(data: bytes) -> str | None:
    """Decompiled Python for one pickle's bytes, bounded; ``None`` when fickling cannot parse it."""
    if len(data) > MAX_INPUT:
        return None
    try:
        from fickling.fickle import Pickled

        sink = io.StringIO()
        with _QUIET, contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            pickled = Pickled.load(data, fail_on_decode_error=False)
            text = ast.unparse(pickled.ast)
    except Exception:
        return None
    if len(text) > MAX_OUTPUT:
        text = text[:MAX_OUTPUT] + f"\n# … {len(text) - MAX_OUTPUT} more characters"
    return text
