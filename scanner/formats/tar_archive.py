"""Tar archives (any header flavour) and the legacy PyTorch tar checkpoint format.

Compressed tars are first decompressed by :mod:`scanner.formats.compressed` and reach this analyzer as
a member, so one code path serves every compression. Headers are read with :mod:`tarfile` one at a
time (its member list is not kept, so memory stays flat); extended headers larger than the structure
limit are refused before ``tarfile`` would read them into memory. Regular members are handed on as
windows over the archive (no copy). Names leaving the archive, symbolic and hard links pointing out of
it, duplicate names, unreadable headers and non-zero data after the end marker are reported.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

from scanner.formats._byte_range import byte_range
from scanner.formats._containers import check_link, check_name, scan_member
from scanner.formats.interface import AnalysisContext, Analyzer, Probe
from scanner.model import Finding
from scanner.rulebook import finding

if TYPE_CHECKING:
    import tarfile

NAME = "tar"
BLOCK = 512
TRAILER_CHECK = 1 << 20
"""Bytes after the end marker checked for hidden content."""
LEGACY_TORCH_MEMBERS = frozenset({b"sys_info", b"pickle", b"tensors", b"storages"})
"""Members of the tar format ``torch.save`` wrote before PyTorch 0.4 (``torch.load`` still reads it)."""
_EXTENDED = frozenset(b"xgLK")


def header_ok(block: bytes) -> bool:
    """A tar header block with a valid checksum (unsigned or the historical signed sum)."""
    if len(block) < BLOCK or block[:BLOCK] == bytes(BLOCK):
        return False
    field = block[148:156].split(b"\0", 1)[0].strip()
    if not field or field.translate(None, b"01234567"):
        return False  # the checksum is octal digits: most non-tar content fails here, cheaply
    try:
        stored = int(field, 8)
    except ValueError:
        return False
    rest = block[:148] + b" " * 8 + block[156:BLOCK]
    unsigned = sum(rest)
    signed = sum(b - 256 if b > 127 else b for b in rest)
    return stored in (unsigned, signed)


def _octal(field: bytes) -> int:
    if field[:1] in (b"\x80", b"\xff"):  # base-256 (GNU) for large sizes
        value = int.from_bytes(field[1:], "big")
        return -value if field[:1] == b"\xff" else value
    text = field.split(b"\0", 1)[0].strip()
    return int(text, 8) if text else 0


def _header_ok(probe: Probe) -> bool:
    return header_ok(probe.head)


class TarAnalyzer(Analyzer):
    """Tar archives by header checksum."""

    name = NAME
    format = "tar"
    priority = 200

    def detect(self, probe: Probe) -> bool:
        return probe.cached(_header_ok)

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        import tarfile  # ~4 ms to import: only when a tar archive is met

        with ctx.open() as stream:
            try:
                archive = tarfile.open(fileobj=stream, mode="r:")  # noqa: SIM115 - closed below
            except (tarfile.TarError, OSError, ValueError) as exc:
                yield finding("AS-GEN-005", analyzer=self.name, detail=f"tar header unreadable: {exc}")
                return
            try:
                yield from self._members(ctx, stream, archive)
            finally:
                archive.close()

    def _guard_extended(self, ctx: AnalysisContext, stream: BinaryIO, offset: int) -> Finding | None:
        """Refuse an extended (pax/GNU long name) header too large to hold before tarfile reads it."""
        stream.seek(offset)
        block = stream.read(BLOCK)
        if len(block) < BLOCK or block[156] not in _EXTENDED:
            return None
        try:
            size = _octal(block[124:136])
        except ValueError:
            return None
        if size <= ctx.limits.max_structure_bytes:
            return None
        return finding(
            "AS-GEN-004",
            analyzer=self.name,
            offset=offset,
            detail=f"extended header at {offset} claims {size} bytes; the rest of the archive was not read",
        )

    def _members(self, ctx: AnalysisContext, stream: BinaryIO, archive: tarfile.TarFile) -> Iterator[Finding]:
        import tarfile

        limits = ctx.limits
        seen: set[str] = set()
        count = 0
        while True:
            guard = self._guard_extended(ctx, stream, archive.offset)
            if guard:
                yield guard
                return
            try:
                info = archive.next()
            except (tarfile.TarError, OSError, ValueError, UnicodeError) as exc:
                yield finding(
                    "AS-GEN-005",
                    analyzer=self.name,
                    offset=archive.offset,
                    detail=f"tar header at {archive.offset} unreadable: {exc}",
                )
                return
            if info is None:
                break
            kept = getattr(archive, "members", None)
            if isinstance(kept, list):
                kept.clear()  # tarfile keeps every header otherwise
            count += 1
            if count > limits.max_members:
                yield finding(
                    "AS-GEN-004",
                    analyzer=self.name,
                    detail=f"more than {limits.max_members} tar members; the rest were not read",
                )
                return
            yield from self._member(ctx, stream, info, seen)
        yield from self._trailer(ctx, stream, archive.offset)

    def _member(
        self, ctx: AnalysisContext, stream: BinaryIO, info: tarfile.TarInfo, seen: set[str]
    ) -> Iterator[Finding]:
        name = info.name
        member = ctx.child_member(name)
        yield from check_name(ctx, self.name, name)
        if name in seen and not info.isdir():
            yield finding(
                "AS-ARC-007",
                analyzer=self.name,
                member=member,
                detail=f"member {name!r} appears more than once; extraction keeps the last copy",
            )
        seen.add(name)
        if info.issym():
            ctx.not_analyzed(member, f"symlink to {info.linkname!r}")
            yield from check_link(ctx, self.name, name, info.linkname, "symlink")
            return
        if info.islnk():
            ctx.not_analyzed(member, f"hard link to {info.linkname!r}")
            yield from check_link(ctx, self.name, name, info.linkname, "hard link")
            return
        if not info.isreg():
            if not info.isdir():
                ctx.not_analyzed(member, "special file (device, FIFO or unknown type)")
            return
        if info.sparse is not None:
            ctx.not_analyzed(member, "GNU sparse member")
            return
        # No size limit: the member is a window over the archive, nothing is expanded or copied.
        size = info.size
        available = ctx.probe.size - info.offset_data
        if size > available:
            yield finding(
                "AS-GEN-005",
                analyzer=self.name,
                member=member,
                detail=f"member claims {size} bytes but the archive ends after {max(available, 0)}",
            )
            size = max(available, 0)
        if size == 0 and info.size:
            return
        yield from self._hand_on(ctx, stream, name, info.offset_data, size)

    def _hand_on(
        self, ctx: AnalysisContext, stream: BinaryIO, name: str, offset: int, size: int
    ) -> Iterator[Finding]:
        """Give a regular member's bytes to the engine."""
        with byte_range(stream, offset, size) as view:
            yield from scan_member(ctx, self.name, name, view, size)

    def _trailer(self, ctx: AnalysisContext, stream: BinaryIO, offset: int) -> Iterator[Finding]:
        stream.seek(offset)
        rest = stream.read(TRAILER_CHECK)
        stripped = rest.strip(b"\0")
        if stripped:
            start = offset + (len(rest) - len(rest.lstrip(b"\0")))
            yield finding(
                "AS-GEN-005",
                analyzer=self.name,
                offset=start,
                detail=f"non-zero data at {start}, after the tar end marker: hidden from tar readers",
            )


class PyTorchTarAnalyzer(TarAnalyzer):
    """The legacy PyTorch tar checkpoint (``sys_info``, ``pickle``, ``tensors``, ``storages``)."""

    name = "pytorch-tar"
    format = "pytorch-tar"
    priority = 210

    def detect(self, probe: Probe) -> bool:
        return probe.cached(_header_ok) and probe.head[:100].split(b"\0", 1)[0] in LEGACY_TORCH_MEMBERS

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        ctx.set_property("framework", "pytorch")
        return super().analyze(ctx)

    def _hand_on(
        self, ctx: AnalysisContext, stream: BinaryIO, name: str, offset: int, size: int
    ) -> Iterator[Finding]:
        """``storages`` and ``tensors`` go on split into their pickles and raw storages when they
        follow torch's layout (see :mod:`scanner.formats._torch_tar`), whole otherwise."""
        pieces = None
        if name in ("storages", "tensors"):
            from scanner.formats._torch_tar import split_member

            with byte_range(stream, offset, size) as view:
                try:
                    pieces = split_member(view, size, tensors=name == "tensors")
                except Exception:  # an unexpected layout: the member is handed on whole below
                    pieces = None
        if pieces is None:
            yield from super()._hand_on(ctx, stream, name, offset, size)
            return
        count = 0
        for piece in pieces:
            if not piece.length:
                continue
            label = f"{name}#{count}" if piece.kind == "pickle" else f"{name}/data/{count}"
            count += 1
            with byte_range(stream, offset + piece.offset, piece.length) as view:
                yield from scan_member(ctx, self.name, label, view, piece.length)
