"""Zip archives, PyTorch zip checkpoints, TorchScript archives and NumPy ``.npz`` files.

The archive is read with the lenient reader of :mod:`scanner.formats.zipread`, as PyTorch reads it:
tampering that makes strict readers give up (bad CRC, odd flag bits, a local header naming another
member) is reported and the member is analyzed anyway. Every member is handed back to the engine,
whatever its name, so content detection decides what it is (every pickle of a checkpoint is scanned).
Stored members are passed as windows over the archive (no copy); compressed ones are inflated into a
spool bounded by the declared size and the limits. TorchScript code members are also judged by
:mod:`scanner.formats.torchscript`.

The format label comes from the first bytes and the directory visible in the detection probe; the full
directory read during analysis is recorded in the ``archive`` property.
"""

from __future__ import annotations

import pickletools
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

from scanner.formats._byte_range import byte_range
from scanner.formats._containers import check_link, check_name, over_limits, scan_member, spool_bounded
from scanner.formats.interface import AnalysisContext, Analyzer, Probe
from scanner.formats.zipread import (
    _EOCD,
    CENTRAL_SIG,
    EOCD_SIG,
    LOCAL_SIG,
    METHOD_NAMES,
    STORED,
    Inflater,
    LocalHeader,
    ZipDirectory,
    ZipEntry,
    ZipFormatError,
    ZipProblem,
    compare_headers,
    crc_of,
    read_directory,
    read_local_header,
)
from scanner.model import Finding
from scanner.rulebook import finding

NAME = "zip"
CRC_CHECK_MAX = 16 << 20
"""Stored members up to this size have their CRC verified (larger ones are payloads where a CRC pass
would cost as much as hashing them again; compressed members are always verified). Tensor storages of
PyTorch archives (``<prefix>/data/<n>``) are raw weights, read by PyTorch without any CRC check, and are
not verified either: on a checkpoint of small tensors that would double the cost of a scan."""
LINK_TARGET_MAX = 4096
"""Longest symlink target read."""

_PROBLEM_RULES = {
    "malformed": "AS-GEN-005",
    "count": "AS-GEN-005",
    "limit": "AS-GEN-004",
    "prepended": "AS-ARC-009",
    "name_mismatch": "AS-ARC-004",
    "header_mismatch": "AS-ARC-005",
    "flags": "AS-ARC-006",
}
_STORAGE_NAME = re.compile(r"(?:^|/)data/\d+$")
_NOT_RAW = (
    b"PK\x03\x04", b"PK\x05\x06", b"\x1f\x8b", b"BZh", b"\xfd7zXZ\x00", b"7z\xbc\xaf\x27\x1c", b"\x93NUMPY"
)  # fmt: skip
"""Signatures of containers that are never raw tensor bytes."""
_PICKLE_OPCODES = bytes(sorted({ord(op.code) for op in pickletools.opcodes}))
"""Every pickle opcode byte (from ``pickletools``' metadata)."""
_DATA_PKL = re.compile(rb"PK\x01\x02.{42}(?:[^\x00-\x1f]*/)?data\.pkl", re.DOTALL)
_LOCAL_NAME = re.compile(rb"PK\x03\x04.{22}(..)..", re.DOTALL)


def _first_local_name(head: bytes) -> bytes:
    m = _LOCAL_NAME.match(head)
    if not m:
        return b""
    length = int.from_bytes(m.group(1), "little")
    return head[30 : 30 + length]


def _eocd_in_probe(probe: Probe) -> bool:
    """A zip end record in the tail whose central directory starts with its signature (prefixed zips)."""
    data, start = (probe.tail, probe.size - len(probe.tail)) if probe.tail else (probe.head, 0)
    pos = data.rfind(EOCD_SIG)
    if pos < 0 or pos + _EOCD.size > len(data):
        return False
    cd_size = _EOCD.unpack_from(data, pos)[5]
    cd_start = start + pos - cd_size
    if cd_start < 0:
        return False
    if start <= cd_start < start + len(data):
        return data[cd_start - start : cd_start - start + 4] == CENTRAL_SIG
    return probe.head[cd_start : cd_start + 4] == CENTRAL_SIG


def is_zip(probe: Probe) -> bool:
    """Zip by content: a local header first, an empty archive, or an end record pointing at a directory."""
    return probe.cached(_is_zip)


def _is_zip(probe: Probe) -> bool:
    if probe.head[:4] == LOCAL_SIG or (probe.head[:4] == EOCD_SIG and probe.size >= _EOCD.size):
        return True
    return _eocd_in_probe(probe)


def zip_kind(names: list[str]) -> str:
    """``torchscript``, ``pytorch-zip``, ``npz`` or ``zip`` from the member names."""
    has = set(names)
    if any(n.endswith("constants.pkl") for n in has) and any(
        n.startswith("code/") or "/code/" in n for n in has
    ):
        return "torchscript"
    if any(n == "data.pkl" or n.endswith("/data.pkl") for n in has) and any(
        n.endswith(("/version", "/.data/version")) or n == "version" for n in has
    ):
        return "pytorch-zip"
    files = [n for n in names if not n.endswith("/")]
    if files and all(n.endswith(".npy") for n in files):
        return "npz"
    return "zip"


@dataclass
class _CodeListing:
    """The code of a TorchScript archive, gathered while its members are read."""

    members: list[str] = field(default_factory=list)
    """Code member names."""
    classes: list[str] = field(default_factory=list)
    """Qualified names of the classes they define."""


def _span_overlaps(spans: list[tuple[int, int, str]]) -> list[tuple[str, str]]:
    pairs = []
    spans = sorted(spans)
    reach, owner = -1, ""
    for start, end, name in spans:
        if start < reach:
            pairs.append((owner, name))
        if end > reach:
            reach, owner = end, name
    return pairs


class ZipAnalyzer(Analyzer):
    """Any zip archive: directory checks, tampering findings, every member scanned by content."""

    name = NAME
    format = "zip"
    priority = 150

    def detect(self, probe: Probe) -> bool:
        return is_zip(probe)

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        with ctx.open() as stream:
            try:
                directory = read_directory(
                    stream, ctx.probe.size, ctx.limits.max_members, ctx.limits.max_structure_bytes
                )
            except ZipFormatError as exc:
                yield finding("AS-GEN-005", analyzer=self.name, detail=f"zip directory unreadable: {exc}")
                return
            yield from self._archive(ctx, stream, directory)

    def _problem(self, ctx: AnalysisContext, problem: ZipProblem) -> Finding:
        return finding(
            _PROBLEM_RULES[problem.kind],
            analyzer=self.name,
            member=ctx.child_member(problem.name) if problem.name is not None else ctx.member,
            detail=problem.detail,
        )

    def _archive(self, ctx: AnalysisContext, stream: BinaryIO, directory: ZipDirectory) -> Iterator[Finding]:
        names = [e.name for e in directory.entries]
        kind = zip_kind(names)
        ctx.set_property(
            "archive",
            {"type": "zip", "kind": kind, "entries": len(names), "zip64": directory.zip64},
        )
        if kind in ("pytorch-zip", "torchscript"):
            ctx.set_property("framework", "pytorch")
        for problem in directory.problems:
            yield self._problem(ctx, problem)
        if directory.base_offset:
            prefix = "<prefix>"
            with byte_range(stream, 0, directory.base_offset) as view:
                yield from scan_member(ctx, self.name, prefix, view, directory.base_offset)
        seen: set[str] = set()
        for dup in sorted({n for n in names if n in seen or seen.add(n)}):  # type: ignore[func-returns-value]
            yield finding(
                "AS-ARC-007",
                analyzer=self.name,
                member=ctx.child_member(dup),
                detail=f"member {dup!r} appears {names.count(dup)} times; readers may pick different copies",
            )
        spans: list[tuple[int, int, str]] = []
        storages = kind in ("pytorch-zip", "torchscript")
        listing = _CodeListing() if kind == "torchscript" else None
        for entry in directory.entries:
            yield from self._entry(ctx, stream, entry, spans, listing, storages)
        for first, second in _span_overlaps(spans):
            yield finding(
                "AS-ARC-008",
                analyzer=self.name,
                member=ctx.child_member(second),
                detail=f"member {second!r} shares archive bytes with {first!r}",
            )
        if listing is not None and listing.members:
            ctx.set_property("torchscript_code", listing.members)
            ctx.set_property("torchscript_classes", listing.classes)

    def _entry(
        self,
        ctx: AnalysisContext,
        stream: BinaryIO,
        entry: ZipEntry,
        spans: list[tuple[int, int, str]],
        code: _CodeListing | None,
        storages: bool,
    ) -> Iterator[Finding]:
        member = ctx.child_member(entry.name)
        yield from check_name(ctx, self.name, entry.name)
        if entry.is_dir and entry.size == 0:
            return
        try:
            local = read_local_header(stream, entry)
        except ZipFormatError as exc:
            ctx.not_analyzed(member, "local header missing")
            yield finding("AS-GEN-005", analyzer=self.name, member=member, detail=str(exc))
            return
        for problem in compare_headers(entry, local):
            yield self._problem(ctx, problem)
        end = local.data_offset + entry.compressed_size
        if end > ctx.probe.size:
            ctx.not_analyzed(member, "member data runs past the end of the archive")
            yield finding(
                "AS-GEN-005",
                analyzer=self.name,
                member=member,
                detail=f"data of {entry.compressed_size} bytes at {local.data_offset} runs past the end "
                f"of the {ctx.probe.size}-byte archive",
            )
            return
        spans.append((entry.header_offset, end, entry.name))
        if entry.is_symlink:
            yield from self._symlink(ctx, stream, entry, local)
            return
        if entry.method == STORED:
            skip_crc = storages and _STORAGE_NAME.search(entry.name) is not None
            yield from self._stored(ctx, stream, entry, local, code, skip_crc)
        else:
            yield from self._compressed(ctx, stream, entry, local, code)

    def _symlink(
        self, ctx: AnalysisContext, stream: BinaryIO, entry: ZipEntry, local: LocalHeader
    ) -> Iterator[Finding]:
        if entry.method != STORED or entry.compressed_size > LINK_TARGET_MAX:
            ctx.not_analyzed(ctx.child_member(entry.name), "symlink target not readable")
            return
        stream.seek(local.data_offset)
        target = stream.read(entry.compressed_size).decode("utf-8", "replace")
        ctx.not_analyzed(ctx.child_member(entry.name), f"symlink to {target!r}")
        yield from check_link(ctx, self.name, entry.name, target)

    def _stored(
        self,
        ctx: AnalysisContext,
        stream: BinaryIO,
        entry: ZipEntry,
        local: LocalHeader,
        code: _CodeListing | None,
        skip_crc: bool,
    ) -> Iterator[Finding]:
        member = ctx.child_member(entry.name)
        size = entry.compressed_size
        if entry.size != size:
            yield finding(
                "AS-ARC-010",
                analyzer=self.name,
                member=member,
                detail=f"stored member declares {entry.size} bytes but holds {size}",
            )
        # No size limit here: a stored member is a window over the archive (nothing is expanded or
        # copied), and real checkpoints hold single tensors of several GiB.
        with byte_range(stream, local.data_offset, size) as view:
            if size <= CRC_CHECK_MAX and entry.size == size and not skip_crc:
                crc = crc_of(view, size)
                if crc != entry.crc:
                    yield self._crc(member, entry, crc)
                view.seek(0)
            yield from self._member(ctx, entry, view, size, code)

    def _compressed(
        self,
        ctx: AnalysisContext,
        stream: BinaryIO,
        entry: ZipEntry,
        local: LocalHeader,
        code: _CodeListing | None,
    ) -> Iterator[Finding]:
        member = ctx.child_member(entry.name)
        method = METHOD_NAMES.get(entry.method, str(entry.method))
        if entry.method not in METHOD_NAMES:
            ctx.not_analyzed(member, f"compression method {method} not supported")
            yield finding(
                "AS-ARC-011",
                analyzer=self.name,
                member=member,
                detail=f"compression method {method} is not supported; content not analyzed",
            )
            return
        limit = over_limits(ctx, self.name, entry.name, entry.size, entry.compressed_size)
        if limit:
            yield limit
            return
        with byte_range(stream, local.data_offset, entry.compressed_size) as raw:
            inflater = Inflater(raw, entry.method, entry.size)
            spooled = spool_bounded(ctx, inflater, entry.size)
            # One more read tells whether the data goes on past the declared size.
            if spooled.error is None and spooled.size == entry.size:
                try:
                    inflater.read(1)
                except ZipFormatError as exc:
                    spooled.error = str(exc)
        with spooled.file as data:
            if spooled.error is not None:
                yield finding(
                    "AS-ARC-011",
                    analyzer=self.name,
                    member=member,
                    detail=f"{method} data unreadable after {spooled.size} bytes: {spooled.error}",
                )
            elif inflater.overflow or spooled.size != entry.size:
                how = "inflates past" if inflater.overflow else f"inflates to {spooled.size} bytes, short of"
                yield finding(
                    "AS-ARC-010",
                    analyzer=self.name,
                    member=member,
                    detail=f"{method} data {how} the declared {entry.size} bytes",
                )
            elif inflater.crc != entry.crc:
                yield self._crc(member, entry, inflater.crc)
            if spooled.size:
                yield from self._member(ctx, entry, data, spooled.size, code)  # type: ignore[arg-type]

    def _crc(self, member: str, entry: ZipEntry, actual: int) -> Finding:
        return finding(
            "AS-ARC-003",
            analyzer=self.name,
            member=member,
            detail=f"CRC-32 of the content is {actual:#010x}, the directory claims {entry.crc:#010x}",
        )

    def _member(
        self, ctx: AnalysisContext, entry: ZipEntry, data: BinaryIO, size: int, code: _CodeListing | None
    ) -> Iterator[Finding]:
        if code is not None and _is_code(entry.name):
            from scanner.formats.torchscript import judge_code

            code.members.append(entry.name)
            data.seek(0)
            yield from judge_code(ctx, self.name, entry.name, data, size, code.classes)
            data.seek(0)
        yield from scan_member(ctx, self.name, entry.name, data, size)


def _is_code(name: str) -> bool:
    return name.endswith(".py") and (name.startswith("code/") or "/code/" in name)


class PyTorchZipAnalyzer(ZipAnalyzer):
    """PyTorch zip checkpoints (``torch.save``): ``<prefix>/data.pkl`` first, ``version`` at the end."""

    first_bytes = frozenset(LOCAL_SIG[:1])
    name = "pytorch-zip"
    format = "pytorch-zip"
    priority = 260

    def detect(self, probe: Probe) -> bool:
        if probe.head[:4] != LOCAL_SIG:
            return False
        first = _first_local_name(probe.head)
        listing = probe.tail or probe.head
        if first == b"data.pkl" or first.endswith(b"/data.pkl"):
            return b"version" in listing
        # Written by another tool: the directory in the tail lists data.pkl and version.
        return _DATA_PKL.search(listing) is not None and b"version" in listing


class TorchScriptAnalyzer(ZipAnalyzer):
    """TorchScript archives (``torch.jit.save``): ``code/`` members and ``constants.pkl``."""

    name = "torchscript"
    format = "torchscript"
    priority = 270

    def detect(self, probe: Probe) -> bool:
        listing = probe.tail or probe.head
        return (
            is_zip(probe)
            and b"constants.pkl" in listing
            and re.search(rb"(?:^|/)code/\S*\.py", listing) is not None
        )


class NpzAnalyzer(ZipAnalyzer):
    """NumPy ``.npz`` archives (``np.savez``): every member a ``.npy`` array."""

    first_bytes = frozenset(LOCAL_SIG[:1])
    name = "npz"
    format = "npz"
    priority = 240

    def detect(self, probe: Probe) -> bool:
        return probe.head[:4] == LOCAL_SIG and _first_local_name(probe.head).endswith(b".npy")


class TensorStorageAnalyzer(Analyzer):
    """Raw tensor storages of a PyTorch archive (members named ``<prefix>/data/<n>``).

    PyTorch reads these as raw bytes and never interprets them. Detectors of other formats that look
    at a few bytes (a ``{`` at offset 8, a protobuf-like start) claim about one random storage in 300,
    which would turn every large benign checkpoint into a malformed-file finding; so storages are
    claimed first, by name and content together. Content that could be anything but raw numbers (a
    pickle protocol marker, a zip/gzip/bzip2/xz/7z/NumPy signature, text) is left to content detection.
    """

    name = "tensor-storage"
    format = "tensor-data"
    priority = 290

    def detect(self, probe: Probe) -> bool:
        if _STORAGE_NAME.search(probe.name) is None or probe.is_text():
            return False
        head = probe.head
        if head[:1] == b"\x80" and head[1:2] in b"\x02\x03\x04\x05" and head[2:3] in _PICKLE_OPCODES:
            return False  # PROTO n then an opcode: possibly a pickle, content detection decides
        return not head.startswith(_NOT_RAW)

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        return iter(())
