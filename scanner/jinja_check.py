"""Static judgement of Jinja templates (chat templates): parsed with Jinja's own parser, never rendered.

The syntax tree is walked once. Names used to reach attributes (dotted access, subscripts with constant
keys, ``attr()``, ``map(attribute=...)``) are constant-folded first (``~``, ``+``, ``%``, ``*``, ``join``,
``format``, ``replace``, ``reverse``, slicing, ``dict(k=...)`` keys, ``{% set %}`` variables), so names
assembled from pieces are judged like literal ones. Rules and name lists live in ``rules/template.yaml``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from scanner.model import Finding
from scanner.resources import load_rules_file

MAX_TEMPLATE_CHARS = 1 << 20
"""Longest template judged; longer ones are a limit finding."""
MAX_NODES = 200_000
"""Syntax tree nodes visited at most."""
_FOLD_DEPTH = 60
_FOLD_MAX_LEN = 10_000
_UNKNOWN = object()


@dataclass(frozen=True)
class TemplateIssue:
    """One problem found in a template."""

    rule_id: str
    """``AS-TPL-*`` or ``AS-GEN-004``."""
    message: str
    """What was found, in words."""
    evidence: str
    """The name, literal or construct (bounded)."""
    line: int | None
    """Line in the template, when known."""


@dataclass(frozen=True)
class TemplateRules:
    """Name lists from ``rules/template.yaml``."""

    attributes: frozenset[str]
    """Attribute names that reach internals or dangerous callables."""
    names: frozenset[str]
    """Variable names that only serve to reach code."""
    literals: tuple[str, ...]
    """Substrings marking a string constant as naming internals."""
    attribute_filters: frozenset[str]
    """Filters taking an ``attribute=`` keyword."""


@functools.cache
def template_rules() -> TemplateRules:
    """The template data of the rule book."""
    data = load_rules_file("template.yaml")
    return TemplateRules(
        attributes=frozenset(map(str, data["dangerous_attributes"])),
        names=frozenset(map(str, data["dangerous_names"])),
        literals=tuple(map(str, data["dangerous_literals"])),
        attribute_filters=frozenset(map(str, data["attribute_filters"])),
    )


def _environment() -> Any:
    """A parse-only environment knowing the tags Hugging Face chat templates use."""
    import jinja2
    from jinja2 import nodes
    from jinja2.ext import Extension

    class GenerationTag(Extension):
        """``{% generation %}...{% endgeneration %}`` (transformers' assistant mask marker)."""

        tags = {"generation"}  # noqa: RUF012 - the Extension API expects a plain set

        def parse(self, parser: Any) -> Any:
            lineno = next(parser.stream).lineno
            body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
            return nodes.Scope(body, lineno=lineno)

    return jinja2.Environment(  # noqa: S701 - parse only, never rendered
        extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do", GenerationTag]
    )


def _sfmt(fmt: str, args: list[Any]) -> Any:
    """``%s``-style formatting of folded values, without Python's % (no width tricks)."""
    out: list[str] = []
    i = 0
    k = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            spec = fmt[i + 1]
            if spec == "%":
                out.append("%")
            elif spec in "sdr" and k < len(args):
                out.append(str(args[k]))
                k += 1
            else:
                return _UNKNOWN
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


def _bformat(fmt: str, args: list[Any]) -> Any:
    """``str.format`` with ``{}`` and ``{N}`` fields only; anything else is unknown."""
    out: list[str] = []
    i = 0
    auto = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "{":
            if fmt.startswith("{{", i):
                out.append("{")
                i += 2
                continue
            close = fmt.find("}", i)
            if close < 0:
                return _UNKNOWN
            key = fmt[i + 1 : close]
            if key == "":
                index = auto
                auto += 1
            elif key.isdigit():
                index = int(key)
            else:
                return _UNKNOWN
            if index >= len(args):
                return _UNKNOWN
            out.append(str(args[index]))
            i = close + 1
            continue
        if fmt.startswith("}}", i):
            out.append("}")
            i += 2
            continue
        out.append(ch)
        i += 1
    return "".join(out)


class _Judge:
    def __init__(self) -> None:
        from jinja2 import nodes

        self.nodes = nodes
        self.rules = template_rules()
        self.env: dict[str, Any] = {}
        self.issues: list[TemplateIssue] = []
        self._seen: set[tuple[str, str]] = set()

    def add(self, rule_id: str, message: str, evidence: str, node: Any) -> None:
        key = (rule_id, evidence)
        if key in self._seen:
            return
        self._seen.add(key)
        self.issues.append(TemplateIssue(rule_id, message, evidence[:200], getattr(node, "lineno", None)))

    # -- constant folding ---------------------------------------------------------------------------
    def fold(self, node: Any, depth: int = 0) -> Any:
        """The constant value of ``node``, or ``_UNKNOWN``."""
        n = self.nodes
        if depth > _FOLD_DEPTH:
            return _UNKNOWN
        value = self._fold(node, depth + 1, n)
        if isinstance(value, (str, list)) and len(value) > _FOLD_MAX_LEN:
            return _UNKNOWN
        return value

    def _fold(self, node: Any, depth: int, n: Any) -> Any:
        if isinstance(node, n.Const):
            return node.value
        if isinstance(node, n.TemplateData):
            return node.data
        if isinstance(node, n.Name):
            return self.env.get(node.name, _UNKNOWN)
        if isinstance(node, (n.List, n.Tuple)):
            items = [self.fold(i, depth) for i in node.items]
            return _UNKNOWN if any(i is _UNKNOWN for i in items) else items
        if isinstance(node, n.Concat):
            parts = [self.fold(i, depth) for i in node.nodes]
            return _UNKNOWN if any(p is _UNKNOWN for p in parts) else "".join(map(str, parts))
        if isinstance(node, n.Add):
            left, right = self.fold(node.left, depth), self.fold(node.right, depth)
            if isinstance(left, str) and isinstance(right, str):
                return left + right
            if isinstance(left, list) and isinstance(right, list):
                return left + right
            return _UNKNOWN
        if isinstance(node, n.Mul):
            left, right = self.fold(node.left, depth), self.fold(node.right, depth)
            if (
                isinstance(left, str)
                and isinstance(right, int)
                and right >= 0
                and len(left) * right <= 10_000
            ):
                return left * right
            return _UNKNOWN
        if isinstance(node, n.Mod):
            left, right = self.fold(node.left, depth), self.fold(node.right, depth)
            if isinstance(left, str) and right is not _UNKNOWN:
                return _sfmt(left, right if isinstance(right, list) else [right])
            return _UNKNOWN
        if isinstance(node, n.Neg):
            inner = self.fold(node.node, depth)
            return -inner if isinstance(inner, int) else _UNKNOWN
        if isinstance(node, n.Getitem):
            return self._fold_getitem(node, depth)
        if isinstance(node, n.Filter):
            return self._fold_filter(node, depth)
        if isinstance(node, n.Call):
            return self._fold_call(node, depth)
        return _UNKNOWN

    def _fold_getitem(self, node: Any, depth: int) -> Any:
        n = self.nodes
        base = self.fold(node.node, depth)
        if not isinstance(base, (str, list)):
            return _UNKNOWN
        if isinstance(node.arg, n.Slice):
            bounds = [None if b is None else self.fold(b, depth) for b in (node.arg.start, node.arg.stop,
                                                                          node.arg.step)]  # fmt: skip
            if any(b is _UNKNOWN or (b is not None and not isinstance(b, int)) for b in bounds):
                return _UNKNOWN
            if bounds[2] == 0:
                return _UNKNOWN
            return base[slice(*bounds)]
        index = self.fold(node.arg, depth)
        if isinstance(index, int) and -len(base) <= index < len(base):
            return base[index]
        return _UNKNOWN

    def _fold_filter(self, node: Any, depth: int) -> Any:
        value = self.fold(node.node, depth) if node.node is not None else _UNKNOWN
        args = [self.fold(a, depth) for a in node.args]
        if value is _UNKNOWN or any(a is _UNKNOWN for a in args):
            return _UNKNOWN
        return _apply(node.name, value, args)

    def _fold_call(self, node: Any, depth: int) -> Any:
        n = self.nodes
        if isinstance(node.node, n.Name) and node.node.name == "dict" and not node.args:
            return {kw.key: self.fold(kw.value, depth) for kw in node.kwargs}
        if isinstance(node.node, n.Getattr):
            base = self.fold(node.node.node, depth)
            args = [self.fold(a, depth) for a in node.args]
            if base is _UNKNOWN or any(a is _UNKNOWN for a in args):
                return _UNKNOWN
            method = node.node.attr
            if isinstance(base, str) and method == "format":
                return _bformat(base, args)
            if isinstance(base, str) and method == "join" and args and isinstance(args[0], list):
                return base.join(map(str, args[0]))
            return _apply(method, base, args)
        return _UNKNOWN

    # -- judging --------------------------------------------------------------------------------------
    def judge_name(self, name: str, how: str, node: Any, strict: bool = True, dotted: bool = False) -> None:
        rules = self.rules
        for part in name.split(".") if dotted else [name]:
            if part.startswith("_"):
                kind = "dunder" if part.startswith("__") and part.endswith("__") else "private"
                self.add("AS-TPL-001", f"{how} reaches the {kind} attribute {part!r}", part, node)
            elif strict and part in rules.attributes:
                self.add("AS-TPL-001", f"{how} reaches {part!r}", part, node)

    def judge_literal(self, value: Any, node: Any) -> None:
        if not isinstance(value, str):
            return
        for marker in self.rules.literals:
            if marker in value:
                self.add("AS-TPL-005", f"string constant contains {marker!r}", value[:120], node)
                return

    def walk(self, root: Any) -> None:
        n = self.nodes
        stack = [root]
        visited = 0
        while stack:
            node = stack.pop()
            visited += 1
            if visited > MAX_NODES:
                self.add("AS-GEN-004", f"template has more than {MAX_NODES} syntax nodes", "nodes", node)
                return
            self.visit(node, n)
            stack.extend(reversed(list(node.iter_child_nodes())))

    def visit(self, node: Any, n: Any) -> None:
        if isinstance(node, n.Assign) and isinstance(node.target, n.Name):
            self.env[node.target.name] = self.fold(node.node)
        elif isinstance(node, n.Getattr):
            self.judge_name(node.attr, "attribute access", node)
        elif isinstance(node, n.Getitem):
            key = self.fold(node.arg)
            if isinstance(key, str):
                self.judge_name(key, "subscript", node, strict=False)
        elif isinstance(node, n.Name):
            if node.ctx == "load" and node.name in self.rules.names and node.name not in self.env:
                self.add("AS-TPL-001", f"uses the name {node.name!r}", node.name, node)
        elif isinstance(node, (n.Filter, n.Test)):
            self.visit_filter(node, n)
        elif isinstance(node, (n.Include, n.Import, n.FromImport, n.Extends)):
            self.add(
                "AS-TPL-003", f"{type(node).__name__.lower()} of another template", type(node).__name__, node
            )
        elif isinstance(node, n.Const):
            self.judge_literal(node.value, node)
        elif isinstance(node, (n.Concat, n.Add, n.Mod, n.Call)):
            value = self.fold(node)
            if value is not _UNKNOWN:
                self.judge_literal(value if isinstance(value, str) else str(value), node)

    def visit_filter(self, node: Any, n: Any) -> None:
        name = node.name
        kwargs = {kw.key: kw.value for kw in node.kwargs}
        if isinstance(node, n.Filter):
            value = self.fold(node)
            if isinstance(value, str):
                self.judge_literal(value, node)
        if name == "attr" and node.args:
            self._attr_arg(node.args[0], "attr()", node)
        if name in ("map", "select", "reject", "selectattr", "rejectattr") and node.args:
            first = self.fold(node.args[0])
            if first == "attr" and len(node.args) > 1:
                self._attr_arg(node.args[1], f"{name}('attr', ...)", node)
        if name in self.rules.attribute_filters and "attribute" in kwargs:
            self._attr_arg(kwargs["attribute"], f"{name}(attribute=)", node)
        if name in ("selectattr", "rejectattr") and node.args:
            self._attr_arg(node.args[0], f"{name}()", node)

    def _attr_arg(self, arg: Any, how: str, node: Any) -> None:
        value = self.fold(arg)
        if isinstance(value, str):
            self.judge_name(value, how, node, dotted=how.endswith("attribute=)"))
        elif isinstance(value, int):
            return
        else:
            self.add("AS-TPL-002", f"{how} with a name computed at render time", how, node)


def _apply(name: str, value: Any, args: list[Any]) -> Any:
    """Fold a filter or string method applied to a constant ``value``."""
    if name == "join" and isinstance(value, (list, dict)):
        sep = args[0] if args and isinstance(args[0], str) else ""
        return sep.join(map(str, value))
    if name == "reverse" and isinstance(value, (str, list)):
        return value[::-1]
    if name == "replace" and isinstance(value, str) and len(args) >= 2:
        old, new = args[0], args[1]
        if isinstance(old, str) and isinstance(new, str):
            return value.replace(old, new) if len(args) < 3 else value.replace(old, new, int(args[2]))
        return _UNKNOWN
    if name == "format" and isinstance(value, str):
        return _sfmt(value, args)
    if name in ("list",) and isinstance(value, (str, list, dict)):
        return list(value)
    if name in ("first", "last") and isinstance(value, (str, list, dict)) and value:
        items = list(value)
        return items[0] if name == "first" else items[-1]
    simple: Mapping[str, Any] = {
        "lower": str.lower, "upper": str.upper, "trim": str.strip, "strip": str.strip, "title": str.title,
        "capitalize": str.capitalize, "string": str, "lstrip": str.lstrip, "rstrip": str.rstrip,
    }  # fmt: skip
    if name in simple and isinstance(value, str) and not args:
        return simple[name](value)
    return _UNKNOWN


def check_template(source: str) -> list[TemplateIssue]:
    """Judge one template; an unparsable or oversized template is itself an issue."""
    if len(source) > MAX_TEMPLATE_CHARS:
        return [TemplateIssue("AS-GEN-004", f"template of {len(source)} characters not judged "
                              f"(limit {MAX_TEMPLATE_CHARS})", "size", None)]  # fmt: skip
    import jinja2

    try:
        tree = _environment().parse(source)
    except jinja2.TemplateSyntaxError as exc:
        return [
            TemplateIssue("AS-TPL-004", f"syntax error: {exc.message}", str(exc.message)[:200], exc.lineno)
        ]
    except RecursionError:
        return [TemplateIssue("AS-GEN-004", "template nested too deeply to parse", "nesting", None)]
    judge = _Judge()
    try:
        judge.walk(tree)
    except RecursionError:
        judge.add("AS-GEN-004", "template nested too deeply to judge", "nesting", None)
    return judge.issues


def iter_issue_lines(issues: list[TemplateIssue]) -> Iterator[str]:
    """Human lines for a list of issues (used in details)."""
    for issue in issues:
        where = f"line {issue.line}: " if issue.line else ""
        yield f"{where}{issue.message}"


def template_findings(
    source: str, *, analyzer: str, where: str, offset: int | None = None, member: str | None = None
) -> list[Finding]:
    """Findings for the template ``source`` found at ``where`` (a key or file description)."""
    from scanner.rulebook import finding

    out = []
    for issue in check_template(source):
        line = f" line {issue.line}" if issue.line else ""
        out.append(
            finding(
                issue.rule_id,
                analyzer=analyzer,
                member=member,
                offset=offset,
                detail=f"{where}{line}: {issue.message}",
                evidence=issue.evidence,
                extra={"template_line": issue.line} if issue.line else None,
            )
        )
    return out
