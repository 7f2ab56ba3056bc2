"""The one interface every format analyzer implements, and the context it works in.

An analyzer says whether it claims a file from a :class:`Probe` (the first and last bytes, never the name
alone), then yields findings from :meth:`Analyzer.analyze`. It reads only the structural bytes it needs
through :meth:`AnalysisContext.open`, hands members of containers back to the engine with
:meth:`AnalysisContext.scan_member` (which detects and analyzes them like files, depth- and count-bounded),
and records facts for reports and the BOM with :meth:`AnalysisContext.set_property`.

Adding a format is adding one module under ``scanner/formats/`` that defines an ``Analyzer`` subclass.
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any, BinaryIO, ClassVar, TypeVar

from scanner.model import Finding

HEAD_SIZE = 64 * 1024
"""Bytes of the start of each file given to detectors."""
TAIL_SIZE = 64 * 1024 + 22
"""Bytes of the end given to detectors (room for a ZIP end-of-central-directory with a full comment)."""


@dataclass(frozen=True)
class Limits:
    """Bounds that hold whatever an input claims. Hitting one is a finding, never a crash."""

    max_depth: int = 6
    """Nesting of containers (archive in archive in pickle ...)."""
    max_members: int = 10_000
    """Members analyzed inside one top-level artifact."""
    max_member_bytes: int = 2 << 30
    """Decompressed size of one member."""
    max_total_bytes: int = 8 << 30
    """Decompressed bytes across one top-level artifact."""
    max_ratio: int = 200
    """Decompressed/compressed ratio of one member (bombs)."""
    max_structure_bytes: int = 256 << 20
    """Largest structural blob (header, pickle stream, config) an analyzer may hold in memory."""
    spool_memory_bytes: int = 8 << 20
    """Members larger than this are spooled to a temporary file instead of memory."""


@dataclass(frozen=True)
class Probe:
    """What detectors see of a file or member."""

    head: bytes
    """The first :data:`HEAD_SIZE` bytes (all of it when smaller)."""
    tail: bytes
    """The last :data:`TAIL_SIZE` bytes (empty when the whole content fits in ``head``)."""
    size: int
    """Total size in bytes."""
    name: str
    """File or member name: a hint for ambiguous content, never decisive alone."""
    _memo: dict[Callable[[Probe], Any], Any] = field(default_factory=dict, compare=False, repr=False)

    def cached(self, test: Callable[[Probe], _T]) -> _T:
        """``test(self)``, computed once per probe: several detectors share one content test (text,
        pickle start, zip end record, tar header), and every file meets every detector."""
        memo = self._memo
        if test in memo:
            return memo[test]  # type: ignore[no-any-return]
        value = memo[test] = test(self)
        return value

    def is_text(self) -> bool:
        """UTF-8 without NUL bytes in the head (a multi-byte character cut at the end is allowed)."""
        return self.cached(_is_text)

    def is_json_object(self) -> bool:
        """Text whose first non-blank character opens a JSON object."""
        return self.cached(_is_json_object)


_T = TypeVar("_T")


def _is_json_object(probe: Probe) -> bool:
    return probe.head.lstrip()[:1] == b"{" and probe.is_text()


TEXT_FIRST_BYTES = frozenset(range(0x01, 0x80)) | frozenset(range(0xC2, 0xF5))
"""The bytes a head :meth:`Probe.is_text` accepts can start with: no NUL, and a byte UTF-8 lets begin a
character (not a continuation byte, not 0xC0/0xC1 or 0xF5-0xFF)."""
JSON_FIRST_BYTES = frozenset(b" \t\n\r\x0b\x0c{")
"""The bytes a head :meth:`Probe.is_json_object` accepts can start with: ASCII blanks or the brace."""


def _is_text(probe: Probe) -> bool:
    head = probe.head
    if b"\0" in head:
        return False
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        return exc.start >= len(head) - 3 and len(head) == HEAD_SIZE
    return True


def make_probe(stream: BinaryIO, size: int, name: str) -> Probe:
    """Read the head and tail of a seekable stream (its position is left at 0)."""
    stream.seek(0)
    head = stream.read(HEAD_SIZE)
    tail = b""
    if size > len(head):
        stream.seek(max(size - TAIL_SIZE, len(head)))
        tail = stream.read(TAIL_SIZE)
    stream.seek(0)
    return Probe(head=head, tail=tail, size=size, name=name)


@dataclass
class ScanBudget:
    """Counters shared by every member of one top-level artifact."""

    limits: Limits
    members: int = 0
    expanded_bytes: int = 0


@dataclass
class AnalysisContext:
    """What an analyzer may use while analyzing one file or member."""

    artifact_path: str
    """Display path of the top-level artifact."""
    member: str | None
    """Member path inside the artifact (``None`` for the file itself); nested with ``!``."""
    probe: Probe
    """The detection probe."""
    opener: Callable[[], BinaryIO]
    """Opens the content as a new seekable binary stream."""
    depth: int
    """Container nesting level (0 for the file itself)."""
    budget: ScanBudget
    """Shared limits and counters."""
    options: Any
    """The :class:`scanner.engine.ScanOptions` of this scan."""
    _member_scanner: Callable[[AnalysisContext, str, BinaryIO, int], Iterator[Finding]] = field(repr=False)
    _properties: dict[str, Any] = field(default_factory=dict, repr=False)
    _not_analyzed: list[tuple[str | None, str]] = field(default_factory=list, repr=False)
    _errors: list[tuple[str, str, str | None]] = field(default_factory=list, repr=False)
    _analyzed: list[str] = field(default_factory=list, repr=False)

    @property
    def limits(self) -> Limits:
        """The scan's limits."""
        return self.budget.limits

    def open(self) -> BinaryIO:
        """A new seekable binary stream over this file or member (close it when done)."""
        return self.opener()

    def child_member(self, name: str) -> str:
        """The member path of ``name`` inside this context."""
        return f"{self.member}!{name}" if self.member else name

    def scan_member(self, name: str, stream: BinaryIO, size: int) -> Iterator[Finding]:
        """Detect and analyze a member (seekable ``stream`` of ``size`` bytes) like a file.

        Yields the member's findings (their locations name the member). Depth and count limits are
        enforced here and reported as findings. The caller keeps ownership of ``stream``.
        """
        return self._member_scanner(self, name, stream, size)

    def set_property(self, key: str, value: Any) -> None:
        """Record a fact for reports and the BOM (JSON-serialisable value)."""
        self._properties[key] = value

    def not_analyzed(self, member: str | None, reason: str) -> None:
        """Record a part left out of analysis, with the reason."""
        self._not_analyzed.append((member, reason))

    def error(self, analyzer: str, message: str, member: str | None = None) -> None:
        """Record a failure that makes the result incomplete without stopping the analyzer."""
        self._errors.append((analyzer, message, member if member is not None else self.member))


class Analyzer(abc.ABC):
    """A format analyzer. Subclasses set the class attributes and implement both methods."""

    name: ClassVar[str]
    """Short unique name, used in coverage and errors."""
    format: ClassVar[str]
    """Format label reported when this analyzer is the primary one."""
    priority: ClassVar[int] = 100
    """Primary analyzers are tried highest first; the first to claim a file is its primary analyzer."""
    supplementary: ClassVar[bool] = False
    """Supplementary analyzers (e.g. text secrets) run on every file they claim, beside the primary."""
    first_bytes: ClassVar[frozenset[int] | None] = None
    """Every content this analyzer claims starts with one of these bytes (``None``: any). A necessary
    condition only: the registry skips ``detect`` for other first bytes (most files meet a few of the
    ~35 detectors instead of all), and ``detect`` still decides."""

    def enabled(self, options: Any) -> bool:
        """Whether this analyzer runs at all under these scan options (e.g. ``--deep`` only)."""
        return True

    @abc.abstractmethod
    def detect(self, probe: Probe) -> bool:
        """Whether this analyzer claims the content (by content; the name is only a hint)."""

    @abc.abstractmethod
    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        """Yield findings. Raising records an analyzer error; findings already yielded are kept."""


def spool(
    source: IO[bytes], limits: Limits, max_bytes: int | None = None, chunk: int = 1 << 20
) -> tuple[IO[bytes], int, bool]:
    """Copy ``source`` into a seekable spooled file, stopping at ``max_bytes``.

    Returns ``(file, bytes copied, truncated)``; the file stays in memory up to
    ``limits.spool_memory_bytes`` and moves to disk beyond that, so memory stays bounded.
    """
    cap = limits.max_member_bytes if max_bytes is None else max_bytes
    import tempfile  # only when a member is spooled (tempfile imports random, shutil: ~8 ms)

    out: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=limits.spool_memory_bytes)  # noqa: SIM115
    copied = 0
    while copied < cap:
        data = source.read(min(chunk, cap - copied))
        if not data:
            out.seek(0)
            return out, copied, False
        out.write(data)
        copied += len(data)
    truncated = bool(source.read(1))
    out.seek(0)
    return out, copied, truncated


def copy_stream(source: IO[bytes], target: IO[bytes]) -> None:
    """Copy a whole stream (for callers that checked its size already)."""
    import shutil

    shutil.copyfileobj(source, target, 1 << 20)
