"""Making artifact-controlled strings safe to print and to encode.

File names that are not valid UTF-8 reach us as ``surrogateescape`` strings, which no UTF-8 output can
encode; names and metadata may also hold terminal control sequences (``ESC [ ...``) that would rewrite a
reviewer's screen. Renderers pass every such string through these helpers.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

_SURROGATE = re.compile(r"[\udc80-\udcff]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _byte_escape(match: re.Match[str]) -> str:
    return f"\\x{ord(match.group()) - 0xDC00:02x}"


def _char_escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def render_encodable(document: Any, render: Callable[[Any], str]) -> str:
    """``render(document)`` with every string made :func:`encodable`. The tree is cleaned and rendered
    again only when the text holds a surrogate, the one thing cleaning changes (UTF-8 encoding fails
    exactly on those, ten times faster than a regular expression); most reports have none."""
    text = render(document)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return render(encodable_tree(document))
    return text


def encodable(text: str) -> str:
    """``text`` with undecodable file-name bytes shown as ``\\xNN`` (valid Unicode for JSON, SARIF, HTML)."""
    if text.isascii():
        return text
    text = _SURROGATE.sub(_byte_escape, text)
    return text.encode("utf-8", "replace").decode("utf-8")


def printable(text: str) -> str:
    """Like :func:`encodable`, and control or bidirectional-override characters shown as escapes too
    (newline and tab excepted), so nothing from an artifact can drive a terminal."""
    return _CONTROL.sub(_char_escape, encodable(text))


def encodable_tree(value: Any, clean: Callable[[str], str] = encodable) -> Any:
    """``clean`` (default :func:`encodable`) applied to every string, keys included, inside dicts, lists
    and tuples."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {encodable_tree(k, clean): encodable_tree(v, clean) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [encodable_tree(v, clean) for v in value]
    return value
