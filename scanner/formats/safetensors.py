"""safetensors: an 8-byte little-endian header length, a JSON header, then the raw tensor data.

Only the header is read; tensor bytes are never loaded (they were read once, for hashing). Every
violation of the format is its own finding: header bounds, UTF-8 JSON object, duplicate keys, dtypes,
tensor entries, size against byte range, ranges inside the data area, overlaps, holes, trailing bytes and
a string-to-string ``__metadata__``. Metadata (and tensor names) are scanned for secrets, URLs and code;
pickles found there, and bytes after the data area, are handed to the engine as members.
"""

from __future__ import annotations

import functools
import io
import json
import struct
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from scanner.formats._byte_range import byte_range
from scanner.formats.interface import AnalysisContext, Analyzer, Probe
from scanner.model import Finding
from scanner.resources import load_rules_file
from scanner.rulebook import finding
from scanner.secret_scan import find_secrets, redact, redact_tree

NAME = "safetensors"
MAX_HEADER = 100_000_000
"""The reference implementation refuses headers over 100 MB."""
MAX_PARSED_HEADER = 64 << 20
"""Largest header parsed here (a JSON tree costs many times its text in memory)."""
MAX_REPORTED = 20
"""Findings of one rule reported one by one before the rest are counted in a summary."""
METADATA = "__metadata__"
TRAILING_MEMBER = "<trailing bytes>"


@dataclass(frozen=True)
class _Data:
    dtype_bits: dict[str, int]
    frameworks: dict[str, str]


@functools.cache
def _data() -> _Data:
    data = load_rules_file("safetensors.yaml")
    return _Data(
        dtype_bits={str(k): int(v) for k, v in data["dtype_bits"].items()},
        frameworks={str(k): str(v) for k, v in data["frameworks"].items()},
    )


@dataclass(frozen=True)
class _Tensor:
    name: str
    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def elements(self) -> int:
        count = 1
        for d in self.shape:
            count *= d
        return count


class _Reporter:
    """Caps the findings of each rule, counting the rest for one summary finding."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()

    def add(self, rule_id: str, **kwargs: Any) -> Iterator[Finding]:
        self.counts[rule_id] += 1
        if self.counts[rule_id] <= MAX_REPORTED:
            yield finding(rule_id, analyzer=NAME, **kwargs)

    def summaries(self) -> Iterator[Finding]:
        for rule_id, count in sorted(self.counts.items()):
            if count > MAX_REPORTED:
                yield finding(
                    rule_id,
                    analyzer=NAME,
                    detail=f"{count - MAX_REPORTED} more occurrences (the first {MAX_REPORTED} are listed)",
                )


def _parse_header(raw: bytes) -> tuple[Any, list[str]]:
    """The JSON document, and the dotted paths of keys that appeared more than once (first value kept)."""
    duplicates: list[str] = []

    def pairs_hook(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, value in pairs:
            if key in out:
                duplicates.append(key)
                continue
            out[key] = value
        return out

    return json.loads(raw.decode("utf-8"), object_pairs_hook=pairs_hook), duplicates


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    return "an array" if isinstance(value, list) else "an object"


def _int_list(value: Any) -> list[int] | None:
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
        return None
    return value


def _tensor_entry(name: str, entry: Any) -> tuple[_Tensor | None, str | None]:
    """The tensor, or the reason its entry is malformed."""
    if not isinstance(entry, dict):
        return None, f"tensor {name!r} is {_json_type(entry)}, not an object"
    keys = set(entry)
    expected = {"dtype", "shape", "data_offsets"}
    if keys != expected:
        missing, unknown = sorted(expected - keys), sorted(keys - expected)
        return None, f"tensor {name!r}: missing {missing}, unexpected {unknown}"
    dtype, shape, offsets = entry["dtype"], _int_list(entry["shape"]), _int_list(entry["data_offsets"])
    if not isinstance(dtype, str):
        return None, f"tensor {name!r}: dtype is not a string"
    if shape is None:
        return None, f"tensor {name!r}: shape is not a list of non-negative integers"
    if offsets is None or len(offsets) != 2:
        return None, f"tensor {name!r}: data_offsets is not two non-negative integers"
    if offsets[0] > offsets[1]:
        return None, f"tensor {name!r}: data_offsets begin {offsets[0]} is after end {offsets[1]}"
    return _Tensor(name, dtype, tuple(shape), offsets[0], offsets[1]), None


def _secrets(report: _Reporter, text: str, where: str) -> Iterator[Finding]:
    """A finding (in the header, at offset 8) for each secret in ``text``, found ``where``."""
    for match in find_secrets(text):
        yield from report.add(
            match.pattern.rule_id,
            offset=8,
            detail=f"{match.pattern.name} in {where}",
            evidence=match.redacted,
            extra={"secret_type": match.pattern.name},
        )


class SafetensorsAnalyzer(Analyzer):
    """Validates the whole header against the format; scans metadata for secrets, URLs and code."""

    name = NAME
    format = "safetensors"
    priority = 200

    def detect(self, probe: Probe) -> bool:
        if probe.size < 10 or len(probe.head) < 10:
            return False
        (length,) = struct.unpack_from("<Q", probe.head)
        # A JSON object whose first key (or end) follows the brace, behind a length a file could have:
        # random tensor bytes that happen to hold a '{' at offset 8 are not claimed.
        if probe.head[8:9] != b"{" or not 2 <= length < 1 << 48:
            return False
        return probe.head[9:73].lstrip(b" \t\r\n")[:1] in (b'"', b"}")

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        size = ctx.probe.size
        (length,) = struct.unpack_from("<Q", ctx.probe.head)
        ctx.set_property("header_bytes", length)
        bad_length = False
        if length > MAX_HEADER:
            bad_length = True
            yield finding(
                "AS-SFT-001",
                analyzer=NAME,
                offset=0,
                detail=f"header length {length} is over the format's {MAX_HEADER}-byte limit",
            )
        if 8 + length > size:
            bad_length = True
            yield finding(
                "AS-SFT-001",
                analyzer=NAME,
                offset=0,
                detail=f"header length {length} runs past the end of the file ({size - 8} bytes follow it)",
            )
        if bad_length:
            ctx.not_analyzed(ctx.member, "safetensors header length out of bounds; header not parsed")
            return
        limit = min(MAX_PARSED_HEADER, ctx.limits.max_structure_bytes)
        if length > limit:
            ctx.not_analyzed(ctx.member, f"safetensors header over {limit} bytes not parsed")
            yield finding(
                "AS-GEN-004",
                analyzer=NAME,
                offset=8,
                detail=f"header of {length} bytes is over the {limit}-byte cap",
            )
            return
        with ctx.open() as stream:
            stream.seek(8)
            raw = stream.read(length)
        try:
            header, duplicates = _parse_header(raw)
        except UnicodeDecodeError as exc:
            yield finding(
                "AS-SFT-002", analyzer=NAME, offset=8 + exc.start, detail=f"header is not UTF-8: {exc}"
            )
            return
        except RecursionError:
            yield finding("AS-SFT-002", analyzer=NAME, offset=8, detail="header JSON is nested too deeply")
            return
        except ValueError as exc:
            yield finding("AS-SFT-002", analyzer=NAME, offset=8, detail=f"header is not valid JSON: {exc}")
            return
        if not isinstance(header, dict):
            yield finding("AS-SFT-002", analyzer=NAME, offset=8, detail="header is not a JSON object")
            return
        report = _Reporter()
        for key in duplicates:
            yield from report.add("AS-SFT-003", offset=8, detail=f"key {key!r} appears more than once")
        yield from self._metadata(ctx, header.get(METADATA), report)
        tensors: list[_Tensor] = []
        for name, entry in header.items():
            if name == METADATA:
                continue
            tensor, problem = _tensor_entry(name, entry)
            if tensor is None:
                yield from report.add("AS-SFT-005", offset=8, detail=problem or name)
            else:
                tensors.append(tensor)
        yield from _secrets(report, "\n".join(t.name for t in tensors), "a tensor name")
        yield from self._tensors(ctx, tensors, 8 + length, size, report)
        trailing = self._trailing_start(tensors, 8 + length)
        if trailing < size and not any(t.end + 8 + length > size for t in tensors):
            yield from self._trailing(ctx, trailing, size, report)
        yield from report.summaries()

    def _metadata(self, ctx: AnalysisContext, metadata: Any, report: _Reporter) -> Iterator[Finding]:
        if metadata is None:
            return
        if not isinstance(metadata, dict):
            yield from report.add(
                "AS-SFT-011", offset=8, detail=f"{METADATA} is {_json_type(metadata)}, not an object"
            )
            return
        from scanner.embedded_code import embedded_code, urls  # loaded for files with metadata only

        keys: list[str] = []
        for key, value in metadata.items():
            keys.append(key)
            where = f"{METADATA}[{key!r}]"
            if not isinstance(value, str):
                yield from report.add(
                    "AS-SFT-011", offset=8, detail=f"{where} is {_json_type(value)}, not a string"
                )
                value = json.dumps(value)  # still scanned below
            yield from _secrets(report, f"{key}={value}", where)
            for url in urls(value):
                yield from report.add("AS-SFT-013", offset=8, detail=f"URL in {where}", evidence=url)
            for code in embedded_code(value):
                shown = ascii(value[:200]) if code.kind == "pickle" else value[:400]
                yield from report.add(
                    "AS-SFT-012", offset=8, detail=f"{code.summary} in {where}", evidence=shown
                )
                if code.payload is not None:
                    yield from ctx.scan_member(where, io.BytesIO(code.payload), len(code.payload))
        framework = metadata.get("format")
        if isinstance(framework, str):
            ctx.set_property("framework", _data().frameworks.get(framework, redact(framework[:40])))
        ctx.set_property("metadata_keys", redact_tree(keys[:100]))

    def _tensors(
        self, ctx: AnalysisContext, tensors: list[_Tensor], data_start: int, size: int, report: _Reporter
    ) -> Iterator[Finding]:
        """Dtypes, sizes and ranges; offsets of range findings are file offsets (data area + begin)."""
        data_size = size - data_start
        bits_of = _data().dtype_bits
        dtypes: Counter[str] = Counter()
        ranks: Counter[int] = Counter()
        parameters = 0
        placed: list[_Tensor] = []
        for t in tensors:
            parameters += t.elements
            ranks[len(t.shape)] += 1
            bits = bits_of.get(t.dtype)
            if bits is None:
                yield from report.add(
                    "AS-SFT-004", offset=8, detail=f"tensor {t.name!r} has dtype {t.dtype!r}"
                )
            else:
                dtypes[t.dtype] += 1
                total_bits = t.elements * bits
                expected = total_bits // 8
                if total_bits % 8 or expected != t.end - t.begin:
                    yield from report.add(
                        "AS-SFT-006",
                        offset=8,
                        detail=f"tensor {t.name!r}: shape {list(t.shape)} of {t.dtype} needs "
                        f"{total_bits / 8:g} bytes, its range [{t.begin}, {t.end}) holds {t.end - t.begin}",
                    )
            if t.end > data_size:
                yield from report.add(
                    "AS-SFT-007",
                    offset=data_start + t.begin,
                    detail=f"tensor {t.name!r} range [{t.begin}, {t.end}) ends past the data area "
                    f"of {data_size} bytes",
                )
            placed.append(t)
        placed.sort(key=lambda t: (t.begin, t.end))
        covered = 0
        previous: _Tensor | None = None
        for t in placed:
            if t.begin > covered:
                yield from report.add(
                    "AS-SFT-009",
                    offset=data_start + covered,
                    detail=f"data-area bytes [{covered}, {t.begin}) belong to no tensor",
                )
            elif t.begin < covered and t.end > t.begin and previous is not None:
                yield from report.add(
                    "AS-SFT-008",
                    offset=data_start + t.begin,
                    detail=f"tensor {t.name!r} [{t.begin}, {t.end}) overlaps {previous.name!r} "
                    f"[{previous.begin}, {previous.end})",
                )
            if t.end >= covered:
                covered, previous = t.end, t
        ctx.set_property("tensor_count", len(tensors))
        ctx.set_property("parameter_count", parameters)
        ctx.set_property("dtypes", dict(sorted(dtypes.items())))
        largest = sorted(tensors, key=lambda t: (-t.elements, t.name))[:5]
        ctx.set_property(
            "shapes",
            redact_tree(
                {
                    "ranks": {str(k): v for k, v in sorted(ranks.items())},
                    "largest": [
                        {"name": t.name[:200], "dtype": t.dtype[:20], "shape": list(t.shape)} for t in largest
                    ],
                }
            ),
        )
        ctx.set_property("data_bytes", data_size)

    @staticmethod
    def _trailing_start(tensors: list[_Tensor], data_start: int) -> int:
        return data_start + max((t.end for t in tensors), default=0)

    def _trailing(self, ctx: AnalysisContext, start: int, size: int, report: _Reporter) -> Iterator[Finding]:
        extra = size - start
        yield from report.add(
            "AS-SFT-010",
            offset=start,
            detail=f"{extra} bytes follow the last tensor (offset {start:#x}); analyzed as a member",
        )
        with ctx.open() as stream:
            yield from ctx.scan_member(TRAILING_MEMBER, byte_range(stream, start, extra), extra)
