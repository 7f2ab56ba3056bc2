"""Turns what the machine read into findings: judged imports with their call chains, dynamic imports,
mutated globals, unresolved extensions, malformed data, junk, frame disagreements, secrets in string
constants, and nested payloads handed back to the engine.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import contextlib
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from typing import Any

from scanner.formats.interface import AnalysisContext
from scanner.model import Finding, Severity
from scanner.pickles.explain import decompile
from scanner.pickles.machine import Trace
from scanner.pickles.policy import Judgement, judge
from scanner.pickles.stream import StreamResult
from scanner.pickles.values import Call, Global, describe, root_global
from scanner.rulebook import finding
from scanner.secret_scan import find_secrets

MAX_CHAIN = 10
"""Calls listed per finding."""
MAX_NESTED = 16
"""Nested payloads scanned per stream."""
MAX_NESTED_BYTES = 64 << 20
MAX_LISTED = 500
"""Distinct imports listed in the ``pickle_imports`` property."""


@dataclass
class _Hit:
    glob: Global
    judgement: Judgement
    trace: Trace
    count: int = 1


def _call_chain(glob: Global, calls: list[Call]) -> list[str]:
    chain: list[str] = []
    for call in calls:
        args = call.args if isinstance(call.args, tuple) else ()
        if root_global(call.func) is glob or any(a is glob for a in args):
            chain.append(describe(call, 300))
            if len(chain) >= MAX_CHAIN:
                break
    return chain


def _payload_candidates(value: Any) -> Iterator[bytes]:
    """Bytes a loader argument may stand for: raw, latin-1 of a str, base64 and hex decodings."""
    # _codecs.encode(text, 'latin1') (how protocols 0-2 write bytes), base64.b64decode(text), ...
    if (
        isinstance(value, Call)
        and isinstance(value.args, tuple)
        and value.args
        and isinstance(value.args[0], (str, bytes))
    ):
        value = value.args[0]
    if isinstance(value, str):
        try:
            value = value.encode("latin-1")
        except UnicodeEncodeError:
            value = value.encode("utf-8", "surrogatepass")
    if not isinstance(value, (bytes, bytearray)) or len(value) < 2:
        return
    raw = bytes(value)
    yield raw
    compact = raw.strip()
    with contextlib.suppress(binascii.Error, ValueError):
        yield base64.b64decode(compact, validate=True)
    with contextlib.suppress(ValueError, UnicodeDecodeError):
        yield bytes.fromhex(compact.decode("ascii"))


def _looks_nested(data: bytes) -> bool:
    if len(data) >= 2 and data[0] == 0x80 and 2 <= data[1] <= 5:
        return True
    return data[:4] == b"PK\x03\x04" or (
        len(data) > 1 and data.rstrip()[-1:] == b"." and data[:1] in b"(cil]}"
    )


class PickleFindings:
    """Builds the findings of one analyzed stream."""

    def __init__(
        self,
        analyzer: str,
        ctx: AnalysisContext,
        read_bytes: Callable[[int, int], bytes] | None = None,
    ) -> None:
        self.analyzer = analyzer
        self.ctx = ctx
        self.read_bytes = read_bytes
        policy = getattr(ctx.options, "policy", None)
        self.extra_allowed: frozenset[tuple[str, str]] = getattr(policy, "allowed_globals", frozenset())
        self.nested = 0
        self.imports: set[str] = set()
        """Every global imported (module.qualname), for the report and the BOM."""

    def _f(self, rule_id: str, **kwargs: Any) -> Finding:
        return finding(rule_id, analyzer=self.analyzer, member=self.ctx.member, **kwargs)

    def stream(self, result: StreamResult, label: str = "") -> Iterator[Finding]:
        """All findings for ``result`` (``label`` names the part of the file, e.g. ``pickle 3 of 5``)."""
        where = f" ({label})" if label else ""
        seen: set[tuple[str, str | None, int | None, str | None, str]] = set()
        for trace in result.traces:  # a straddled frame gives two readings: report what they share once
            for item in self.trace(trace, where):
                key = (item.rule_id, item.location.member, item.location.offset, item.evidence, item.detail)
                if key not in seen:
                    seen.add(key)
                    yield item
        for offset, length in result.junk[:20]:
            yield self._f(
                "AS-PKL-008",
                offset=offset,
                detail=f"{length} bytes at offset {offset} belong to no pickle{where}",
            )
        if result.straddles:
            yield self._f(
                "AS-PKL-009",
                offset=result.straddles[0],
                detail=f"{len(result.straddles)} opcode(s) cross a FRAME boundary, first at offset "
                f"{result.straddles[0]}{where}; both readings were analyzed",
            )
        for offset, message in result.limits:
            yield self._f("AS-GEN-004", offset=offset, detail=f"{message}{where}")
        self.ctx.set_property("pickle_imports", sorted(self.imports))
        if result.pickles > 1:
            yield self._f("AS-PKL-011", detail=f"{result.pickles} pickles read{where}")

    def trace(self, trace: Trace, where: str = "") -> Iterator[Finding]:
        """Findings of one pickle."""
        hits: dict[tuple[str, str], _Hit] = {}
        for glob in trace.imports:
            if len(self.imports) < MAX_LISTED:
                self.imports.add(glob.dotted)
            key = (glob.module, glob.name)
            if key in hits:
                hits[key].count += 1
                continue
            judgement = judge(glob.module, glob.name, self.extra_allowed)
            if not judgement.allowed:
                hits[key] = _Hit(glob, judgement, trace)
        nested, unscanned = self._nested(trace)
        worst_nested = max((f.severity for f in nested), default=Severity.INFO)
        for hit in hits.values():
            entry = hit.judgement.entry
            clean = worst_nested < Severity.MEDIUM and hit.glob.dotted not in unscanned
            if entry is not None and entry.clean_nested is not None and clean:
                reason = f"{hit.judgement.reason}; every payload was scanned: nothing found"
                hit.judgement = replace(hit.judgement, severity=entry.clean_nested, reason=reason)
        decompiled: str | None = None
        if (
            any(h.judgement.severity >= Severity.HIGH for h in hits.values())
            or trace.dynamic
            or trace.mutations
        ):
            decompiled = self._decompile(trace)
        ext_codes = {offset: code for offset, code, _ in trace.extensions}
        for hit in hits.values():
            yield self._import_finding(hit, ext_codes, decompiled, where)
        for offset, text in trace.dynamic[:20]:
            yield self._f(
                "AS-PKL-002",
                offset=offset,
                detail=f"STACK_GLOBAL at offset {offset} imports a computed name: {text}{where}",
                evidence=text,
                extra=_extra("", "", [], decompiled),
            )
        for offset, opcode, glob in trace.mutations[:20]:
            yield self._f(
                "AS-PKL-006",
                offset=offset,
                detail=f"{opcode} at offset {offset} modifies the imported object {glob.dotted}{where}",
                evidence=glob.dotted,
                extra=_extra(glob.module, glob.name, [f"{opcode} on {glob.dotted}"], decompiled),
            )
        for offset, code, resolved in trace.extensions[:20]:
            if resolved is None:
                yield self._f(
                    "AS-PKL-007",
                    offset=offset,
                    detail=f"EXT code {code} at offset {offset} was not registered by this pickle{where}",
                )
        if trace.errors:
            offset, message = trace.errors[0]
            more = f" (and {len(trace.errors) - 1} more problems)" if len(trace.errors) > 1 else ""
            yield self._f("AS-PKL-005", offset=offset, detail=f"{message}{more}{where}")
        for offset, message in trace.limits:
            yield self._f("AS-GEN-004", offset=offset, detail=f"{message}{where}")
        yield from self._secrets(trace, where)
        yield from nested

    def _import_finding(
        self, hit: _Hit, ext_codes: dict[int, int], decompiled: str | None, where: str
    ) -> Finding:
        glob, judgement = hit.glob, hit.judgement
        chain = _call_chain(glob, hit.trace.calls)
        via = f" through EXT code {ext_codes[glob.offset]}" if glob.offset in ext_codes else ""
        times = f", {hit.count} times" if hit.count > 1 else ""
        called = f"; called as {chain[0]}" if chain else "; imported, not called"
        extra = _extra(
            glob.module, glob.name, chain, decompiled if judgement.severity >= Severity.HIGH else None
        )
        if judgement.entry is not None:
            extra["family"] = judgement.entry.family
            if judgement.entry.reference:
                extra["technique_reference"] = judgement.entry.reference
        return self._f(
            judgement.rule_id or "AS-PKL-004",
            severity=judgement.severity,
            offset=glob.offset,
            evidence=glob.dotted,
            detail=f"{glob.dotted} imported at offset {glob.offset}{via}{times}: "
            f"{judgement.reason}{called}{where}",
            extra=extra,
        )

    def _decompile(self, trace: Trace) -> str | None:
        if self.read_bytes is None or trace.end - trace.start > (1 << 20):
            return None
        return decompile(self.read_bytes(trace.start, trace.end))

    def _secrets(self, trace: Trace, where: str) -> Iterator[Finding]:
        if not trace.strings:
            return
        starts: list[int] = []
        pos = 0
        for _, text in trace.strings:
            starts.append(pos)
            pos += len(text) + 1
        joined = "\n".join(text for _, text in trace.strings)  # one pass of the patterns per pickle
        for reported, match in enumerate(find_secrets(joined)):
            if reported >= 50:
                return
            offset = trace.strings[bisect.bisect_right(starts, match.start) - 1][0]
            yield self._f(
                match.pattern.rule_id,
                offset=offset,
                detail=f"{match.pattern.name} in a string constant at offset {offset}{where}",
                evidence=match.redacted,
            )

    def _nested(self, trace: Trace) -> tuple[list[Finding], set[str]]:
        """Findings of the payloads passed to loaders, and the loaders with a payload left unscanned."""
        found: list[Finding] = []
        unscanned: set[str] = set()
        for call in trace.calls:
            glob = root_global(call.func)
            if glob is None or call.func is not glob:
                continue
            entry = judge(glob.module, glob.name, self.extra_allowed).entry
            if entry is None or not entry.loader:
                continue
            first = call.args[0] if isinstance(call.args, tuple) and call.args else None
            candidates = (
                d for d in _payload_candidates(first) if _looks_nested(d) and len(d) <= MAX_NESTED_BYTES
            )
            payload = next(candidates, None)
            self.nested += 1
            if payload is None or self.nested > MAX_NESTED:
                unscanned.add(glob.dotted)
                continue
            name = f"<payload of {glob.dotted} @ {call.offset}>"
            found.extend(self.ctx.scan_member(name, io.BytesIO(payload), len(payload)))
        return found, unscanned


def _extra(module: str, qualname: str, chain: list[str], decompiled: str | None) -> dict[str, Any]:
    extra: dict[str, Any] = {"module": module, "qualname": qualname, "call_chain": chain}
    if decompiled:
        extra["decompiled"] = decompiled
    return extra
