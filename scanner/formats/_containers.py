"""Pieces every container analyzer shares: member path and link checks, size/ratio limits, and
bounded decompression into a spool file.

This is the one place where the recursion limits of archives and compressed streams are applied;
zip, tar, 7z and the compressed-stream analyzers all go through it before handing a member to
:meth:`~scanner.formats.interface.AnalysisContext.scan_member`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO, BinaryIO, Protocol

from scanner.formats.interface import AnalysisContext
from scanner.formats.zipread import link_escapes, unsafe_member_name
from scanner.model import Finding
from scanner.rulebook import finding

READ_CHUNK = 1 << 20


class Readable(Protocol):
    """Anything with ``read(n)``."""

    def read(self, size: int = -1, /) -> bytes: ...


def scan_member(
    ctx: AnalysisContext, analyzer: str, name: str, stream: BinaryIO, size: int
) -> Iterator[Finding]:
    """:meth:`AnalysisContext.scan_member`, with a failure inside the member (a detector raising, say)
    recorded as an error of that member so the container's other members are still analyzed."""
    try:
        yield from ctx.scan_member(name, stream, size)
    except Exception as exc:  # recorded, never dropped: the result is then incomplete
        ctx.error(analyzer, f"{type(exc).__name__}: {exc}", ctx.child_member(name))


def check_name(ctx: AnalysisContext, analyzer: str, name: str) -> Iterator[Finding]:
    """AS-ARC-001 when ``name`` is absolute or climbs with ``..``."""
    why = unsafe_member_name(name)
    if why:
        yield finding(
            "AS-ARC-001",
            analyzer=analyzer,
            member=ctx.child_member(name),
            evidence=name,
            detail=f"member name {name!r} ({why}): extracting it writes outside the target directory",
        )


def check_link(
    ctx: AnalysisContext, analyzer: str, name: str, target: str, kind: str = "symlink"
) -> Iterator[Finding]:
    """AS-ARC-002 when a link member at ``name`` resolves outside the archive.

    A symlink's target is relative to the link's directory; a hard link's to the archive root.
    """
    if link_escapes("" if kind == "hard link" else name, target):
        yield finding(
            "AS-ARC-002",
            analyzer=analyzer,
            member=ctx.child_member(name),
            evidence=f"{name} -> {target}",
            detail=f"{kind} {name!r} points to {target!r}, outside the archive",
            extra={"link_type": kind, "target": target},
        )


def over_limits(
    ctx: AnalysisContext, analyzer: str, name: str, size: int, compressed: int | None
) -> Finding | None:
    """AS-GEN-004 (and a coverage note) when a member's declared size or ratio exceeds the limits.

    For members that must be decompressed or extracted; ``compressed`` is ``None`` when the compressed
    size is unknown (no ratio check then).
    """
    limits = ctx.limits
    member = ctx.child_member(name)
    reason = None
    if size > limits.max_member_bytes:
        reason = f"{size} bytes exceed the member limit of {limits.max_member_bytes}"
    elif compressed is not None:
        ratio = size / max(compressed, 1)
        if ratio > limits.max_ratio and size > (1 << 16):
            reason = f"{size} bytes from {compressed} (ratio {ratio:.0f}) exceed the limit {limits.max_ratio}"
        elif ctx.budget.expanded_bytes + size > limits.max_total_bytes:
            reason = f"expanding {size} more bytes would exceed {limits.max_total_bytes} for the artifact"
    if reason is None:
        return None
    ctx.not_analyzed(member, "member over a size or ratio limit")
    return finding("AS-GEN-004", analyzer=analyzer, member=member, detail=reason)


@dataclass
class Spooled:
    """A decompressed member in a spool file."""

    file: IO[bytes]
    """Seekable spool (memory, then disk); the caller closes it."""
    size: int
    """Bytes written."""
    error: str | None
    """Decompression error that stopped the copy early, if any."""


def spool_bounded(ctx: AnalysisContext, source: Readable, cap: int) -> Spooled:
    """Copy at most ``cap`` bytes of ``source`` into a spool file, counting them in the budget.

    A read error (corrupt compressed data) stops the copy and is returned, keeping what came before.
    """
    import tempfile  # imports random and shutil: only when spooling

    out: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=ctx.limits.spool_memory_bytes)  # noqa: SIM115
    copied = 0
    error = None
    try:
        while copied < cap:
            data = source.read(min(READ_CHUNK, cap - copied))
            if not data:
                break
            out.write(data)
            copied += len(data)
    except Exception as exc:  # decompressors raise their own types (zlib.error, LZMAError, EOFError ...)
        error = f"{type(exc).__name__}: {exc}"
    ctx.budget.expanded_bytes += copied
    out.seek(0)
    return Spooled(out, copied, error)
