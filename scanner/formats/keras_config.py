"""Judging a Keras model configuration (the JSON tree of ``config.json`` or the ``model_config`` attribute).

The whole tree is walked, so Lambda layers inside nested models and wrappers (TimeDistributed,
Bidirectional, Sequential in Functional ...) are found wherever they sit. Marshalled Lambda bytecode is
never unmarshalled: ``marshal`` is not hardened against hostile input and is tied to one Python version,
so the reviewer is shown the names and string constants recovered from the marshal stream instead.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from scanner.model import Finding
from scanner.resources import load_rules_file
from scanner.rulebook import finding

MAX_NODES = 2_000_000
MAX_DEPTH = 400
MAX_FINDINGS = 200
_PRINTABLE = re.compile(rb"^[\x20-\x7e]+$")


@dataclass(frozen=True)
class KerasRules:
    """Data from ``rules/keras.yaml``."""

    keras_modules: tuple[str, ...]
    """Module prefixes that are Keras itself."""
    dangerous_modules: frozenset[str]
    """Module roots that only serve to run code."""
    dangerous_functions: frozenset[str]
    """Function names inside Keras that fetch, load or write files."""
    code_names: frozenset[str]
    """Names in Lambda bytecode worth pointing out."""
    tf_python_ops: frozenset[str]
    """TensorFlow ops that run Python."""
    tf_file_ops: frozenset[str]
    """TensorFlow ops that touch files."""


@functools.cache
def keras_rules() -> KerasRules:
    """The Keras data of the rule book."""
    data = load_rules_file("keras.yaml")
    return KerasRules(
        keras_modules=tuple(map(str, data["keras_modules"])),
        dangerous_modules=frozenset(map(str, data["dangerous_modules"])),
        dangerous_functions=frozenset(map(str, data["dangerous_keras_functions"])),
        code_names=frozenset(map(str, data["dangerous_code_names"])),
        tf_python_ops=frozenset(map(str, data["tf_python_ops"])),
        tf_file_ops=frozenset(map(str, data["tf_file_ops"])),
    )


def marshal_strings(code: bytes, limit: int = 200) -> list[str]:
    """Names and string constants of a marshalled code object, recovered without unmarshalling it.

    Marshal writes strings as a type byte (``z``/``Z`` short ASCII, ``a``/``A`` ASCII, ``u``/``t`` UTF-8,
    possibly with the 0x80 reference flag) and a length; printable runs framed that way are kept.
    """
    out: list[str] = []
    i, n = 0, len(code)
    while i < n and len(out) < limit:
        kind = code[i] & 0x7F
        if kind in (0x7A, 0x5A) and i + 1 < n:  # z Z: one-byte length
            length, start = code[i + 1], i + 2
        elif kind in (0x61, 0x41, 0x75, 0x74) and i + 4 < n:  # a A u t: four-byte length
            length, start = int.from_bytes(code[i + 1 : i + 5], "little"), i + 5
        else:
            i += 1
            continue
        chunk = code[start : start + length]
        if 0 < length <= 4096 and len(chunk) == length and _PRINTABLE.match(chunk):
            out.append(chunk.decode("ascii"))
            i = start + length
        else:
            i += 1
    return out


def _decode_code(value: Any) -> bytes | None:
    if not isinstance(value, str):
        return None
    try:
        return base64.b64decode(value.encode("ascii"), validate=False)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def describe_lambda(config: Any) -> tuple[str, dict[str, Any]]:
    """A human summary of a Lambda layer's function and extras for the finding."""
    function = config.get("function") if isinstance(config, dict) else None
    code_b64: Any = None
    named: str | None = None
    if isinstance(function, dict):  # Keras 3: {"class_name": "__lambda__", "config": {"code": ...}}
        inner = function.get("config")
        if function.get("class_name") == "__lambda__" and isinstance(inner, dict):
            code_b64 = inner.get("code")
        elif isinstance(inner, str):
            named = f"{function.get('module', '?')}.{inner}"
    elif isinstance(function, (list, tuple)) and function:  # Keras 2: [code, defaults, closure]
        code_b64 = function[0]
    elif isinstance(function, str):
        if config.get("function_type") == "lambda":
            code_b64 = function
        else:
            named = f"{config.get('module', '?')}.{function}"
    if named:
        return f"calls the function {named}", {"qualname": named}
    code = _decode_code(code_b64)
    if not code:
        return "function could not be decoded", {}
    strings = marshal_strings(code)
    flagged = sorted({s for s in strings if s in keras_rules().code_names})
    summary = f"marshalled bytecode ({len(code)} bytes); names and strings: {', '.join(strings[:40])}"
    if flagged:
        summary += f"; dangerous names: {', '.join(flagged)}"
    return summary, {"decompiled": "\n".join(strings[:200]), "call_chain": flagged}


def _is_keras_module(module: str, prefixes: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def judge_config(tree: Any, analyzer: str, where: str, member: str | None = None) -> Iterator[Finding]:
    """Findings for every Lambda layer and foreign or dangerous reference in a model configuration."""
    rules = keras_rules()
    stack: list[tuple[Any, str, int]] = [(tree, "", 0)]
    visited = 0
    emitted = 0
    while stack:
        node, path, depth = stack.pop()
        visited += 1
        if visited > MAX_NODES or depth > MAX_DEPTH:
            yield finding(
                "AS-GEN-004",
                analyzer=analyzer,
                member=member,
                detail=f"{where}: configuration too large or deep to judge completely",
            )
            return
        if isinstance(node, list):
            stack.extend((v, f"{path}[{i}]", depth + 1) for i, v in reversed(list(enumerate(node))))
            continue
        if not isinstance(node, dict):
            continue
        for item in _judge_object(node, path or "(root)", analyzer, where, member, rules):
            emitted += 1
            if emitted <= MAX_FINDINGS:
                yield item
        stack.extend(
            (v, f"{path}.{k}" if path else str(k), depth + 1) for k, v in reversed(list(node.items()))
        )
    if emitted > MAX_FINDINGS:
        yield finding(
            "AS-GEN-004",
            analyzer=analyzer,
            member=member,
            detail=f"{where}: {emitted - MAX_FINDINGS} more findings not listed",
        )


def _judge_object(
    node: dict[str, Any], path: str, analyzer: str, where: str, member: str | None, rules: KerasRules
) -> Iterator[Finding]:
    class_name = node.get("class_name")
    if not isinstance(class_name, str):
        return
    module = node.get("module") if isinstance(node.get("module"), str) else None
    config = node.get("config")
    layer_name = node.get("name") or (config.get("name") if isinstance(config, dict) else None)
    label = (
        f"{where} {path} ({class_name} {layer_name!r})" if layer_name else f"{where} {path} ({class_name})"
    )
    if class_name == "Lambda":
        summary, extra = describe_lambda(node.get("config") or {})
        yield finding(
            "AS-KER-001",
            analyzer=analyzer,
            member=member,
            detail=f"Lambda layer at {label}: {summary}",
            evidence=summary[:500],
            extra=extra,
        )
    if module is not None:
        root = module.split(".")[0]
        target = (
            node.get("config") if class_name == "function" and isinstance(node.get("config"), str) else None
        )
        qualname = f"{module}.{target}" if target else f"{module}.{class_name}"
        if root in rules.dangerous_modules:
            yield finding(
                "AS-KER-003",
                analyzer=analyzer,
                member=member,
                detail=f"{label} references {qualname}",
                evidence=qualname,
                extra={"module": module, "qualname": qualname},
            )
            return
        if _is_keras_module(module, rules.keras_modules):
            if target and target in rules.dangerous_functions:
                yield finding(
                    "AS-KER-003",
                    analyzer=analyzer,
                    member=member,
                    detail=f"{label} references the Keras function {qualname}",
                    evidence=qualname,
                    extra={"module": module, "qualname": qualname},
                )
            return
        yield finding(
            "AS-KER-002",
            analyzer=analyzer,
            member=member,
            detail=f"{label} comes from module {module!r}",
            evidence=qualname,
            extra={"module": module, "qualname": qualname},
        )
        return
    registered = node.get("registered_name")
    if isinstance(registered, str) and ">" in registered:
        package = registered.split(">", 1)[0]
        if package != "Keras" and not _is_keras_module(package, rules.keras_modules):
            yield finding(
                "AS-KER-002",
                analyzer=analyzer,
                member=member,
                detail=f"{label} is the registered custom object {registered!r}",
                evidence=registered,
                extra={"qualname": registered},
            )
