"""7z archives, read with ``py7zr`` (imported lazily) under the scanner's limits.

The listing is judged first (names leaving the archive, declared sizes and the overall ratio); only
members that pass are extracted, each into a size-capped spool that is handed to the engine and
released as soon as py7zr finishes the member, so at most one member is held at a time. py7zr's own
``max_extract_size`` guards the total. Symlink targets are read (bounded) and checked for escapes.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import IO, Any

from scanner.formats._containers import check_link, check_name, over_limits, scan_member
from scanner.formats.interface import AnalysisContext, Analyzer, Probe
from scanner.formats.zipread import unsafe_member_name
from scanner.model import Finding
from scanner.rulebook import finding

NAME = "7z"
MAGIC = b"7z\xbc\xaf\x27\x1c"
LINK_TARGET_MAX = 4096


def _writer_types() -> tuple[type[Any], type[Any]]:
    """The py7zr writer classes, built on first use so py7zr is imported only for 7z files."""
    from py7zr.io import Py7zIO, WriterFactory

    class CappedSpool(Py7zIO):
        """Keeps at most ``cap`` bytes of a member; scans it when py7zr closes it."""

        def __init__(self, owner: Any, name: str, cap: int) -> None:
            self.owner = owner
            self.name = name
            self.cap = cap
            self.written = 0
            self.overflow = False
            import tempfile  # imports random and shutil: only when spooling

            self.file: IO[bytes] = tempfile.SpooledTemporaryFile(  # noqa: SIM115 - closed in close()
                max_size=owner.ctx.limits.spool_memory_bytes
            )

        def write(self, s: bytes | bytearray) -> int:
            room = self.cap - self.written
            if len(s) > room:
                self.overflow = True
            if room > 0:
                self.file.write(s[:room])
                self.written += min(len(s), room)
            return len(s)

        def read(self, size: int | None = None) -> bytes:
            return self.file.read(size if size is not None else -1)

        def seek(self, offset: int, whence: int = 0) -> int:
            return self.file.seek(offset, whence)

        def flush(self) -> None:
            self.file.flush()

        def size(self) -> int:
            return self.written

        def close(self) -> None:
            if self.file.closed:
                return
            try:
                self.owner.done(self)
            finally:
                self.file.close()

    class Factory(WriterFactory):
        def __init__(self, owner: Any) -> None:
            self.owner = owner

        def create(self, filename: str) -> Any:
            return CappedSpool(self.owner, filename, self.owner.cap_for(filename))

    return CappedSpool, Factory


class _Extraction:
    """State shared by the writers of one extraction: caps per member and the findings gathered."""

    def __init__(self, ctx: AnalysisContext, analyzer: str, sizes: dict[str, int], links: set[str]) -> None:
        self.ctx = ctx
        self.analyzer = analyzer
        self.sizes = sizes
        self.links = links
        self.findings: list[Finding] = []
        self.finished: set[str] = set()

    def cap_for(self, filename: str) -> int:
        name = self._key(filename)
        if name in self.links:
            return LINK_TARGET_MAX
        return min(self.sizes.get(name, 0), self.ctx.limits.max_member_bytes)

    def _key(self, filename: str) -> str:
        # py7zr hands a sanitized output path; map it back to the archive name.
        if filename in self.sizes:
            return filename
        for name in self.sizes:
            if filename == name or filename.endswith("/" + name):
                return name
        return filename

    def done(self, spool: Any) -> None:
        name = self._key(spool.name)
        self.finished.add(name)
        member = self.ctx.child_member(name)
        self.ctx.budget.expanded_bytes += spool.written
        spool.file.seek(0)
        if name in self.links:
            target = spool.file.read(LINK_TARGET_MAX).decode("utf-8", "replace")
            self.ctx.not_analyzed(member, f"symlink to {target!r}")
            self.findings.extend(check_link(self.ctx, self.analyzer, name, target))
            return
        if spool.overflow:
            self.findings.append(
                finding(
                    "AS-ARC-010",
                    analyzer=self.analyzer,
                    member=member,
                    detail=f"member decompresses past its declared {self.sizes.get(name)} bytes",
                )
            )
        if spool.written:
            self.findings.extend(scan_member(self.ctx, self.analyzer, name, spool.file, spool.written))


class SevenZipAnalyzer(Analyzer):
    """7z archives: listing checks, bounded extraction, every member scanned by content."""

    first_bytes = frozenset(MAGIC[:1])
    name = NAME
    format = "7z"
    priority = 200

    def detect(self, probe: Probe) -> bool:
        return probe.head[:6] == MAGIC

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        import py7zr

        limits = ctx.limits
        with ctx.open() as stream:
            try:
                archive = py7zr.SevenZipFile(stream, mode="r")
            except py7zr.PasswordRequired:
                yield finding(
                    "AS-ARC-011", analyzer=self.name, detail="7z headers are encrypted; content not analyzed"
                )
                ctx.not_analyzed(ctx.member, "encrypted 7z archive")
                return
            except Exception as exc:  # py7zr's header parsing raises many types (LZMAError, struct ...)
                yield finding(
                    "AS-GEN-005",
                    analyzer=self.name,
                    detail=f"7z archive unreadable: {type(exc).__name__}: {exc}",
                )
                return
            with archive:
                infos = archive.list()
                if archive.needs_password():
                    ctx.not_analyzed(ctx.member, "encrypted 7z members")
                    yield finding(
                        "AS-ARC-011", analyzer=self.name, detail="7z members are encrypted; not analyzed"
                    )
                    return
                ctx.set_property("archive", {"type": "7z", "entries": len(infos)})
                total = sum(i.uncompressed or 0 for i in infos if not i.is_directory)
                ratio = total / max(ctx.probe.size, 1)
                if total > (1 << 20) and ratio > limits.max_ratio:
                    ctx.not_analyzed(ctx.member, "7z archive over the ratio limit")
                    yield finding(
                        "AS-GEN-004",
                        analyzer=self.name,
                        detail=f"7z declares {total} bytes from {ctx.probe.size} (ratio {ratio:.0f}), over "
                        f"the limit {limits.max_ratio}; not extracted",
                    )
                    return
                sizes: dict[str, int] = {}
                links: set[str] = set()
                seen: set[str] = set()
                for info in infos:
                    name = info.filename
                    yield from check_name(ctx, self.name, name)
                    if name in seen:
                        yield finding(
                            "AS-ARC-007",
                            analyzer=self.name,
                            member=ctx.child_member(name),
                            detail=f"member {name!r} appears more than once",
                        )
                    seen.add(name)
                    if info.is_directory or unsafe_member_name(name):
                        if unsafe_member_name(name):
                            ctx.not_analyzed(ctx.child_member(name), "unsafe member name")
                        continue
                    limit = over_limits(ctx, self.name, name, info.uncompressed or 0, info.compressed)
                    if limit:
                        yield limit
                        continue
                    sizes[name] = info.uncompressed or 0
                    if info.is_symlink:
                        links.add(name)
                if not sizes:
                    return
                remaining = max(limits.max_total_bytes - ctx.budget.expanded_bytes, 0)
                archive.max_extract_size = min(sum(sizes.values()), remaining) + (1 << 20)
                state = _Extraction(ctx, self.name, sizes, links)
                _, factory = _writer_types()
                try:
                    archive.extract(targets=list(sizes), factory=factory(state))
                except Exception as exc:  # py7zr raises many types for corrupt data and bombs
                    yield from state.findings
                    yield finding(
                        "AS-ARC-011",
                        analyzer=self.name,
                        detail=f"7z extraction failed: {type(exc).__name__}: {exc}",
                    )
                    return
                yield from state.findings
                for name in sizes:
                    if name not in state.finished and sizes[name]:
                        ctx.not_analyzed(ctx.child_member(name), "not produced by 7z extraction")
