"""Streaming BLAKE3 + SHA-256 in one sequential read, in constant memory.

The calling thread reads the file into a small ring of reused buffers and feeds BLAKE3; a persistent
worker thread (one per calling thread, so no thread is started per file) feeds SHA-256 and, when asked,
the shard manifest. Both hash functions release the GIL, so on two cores the cost of both digests is the
cost of SHA-256 alone. Files up to one chunk are hashed inline without touching the worker.

Directory digest (serialization v1): the UTF-8 bytes of ``artifact-scanner-dirdigest-v1\\n`` followed, for
each regular file in the tree sorted by its POSIX path relative to the directory (compared as UTF-8
bytes), by ``<relpath>\\0<size in decimal>\\0<sha256 hex>\\0<blake3 hex>\\n``. The directory's SHA-256 and
BLAKE3 are those of this byte string; its size is the sum of the file sizes. File names cannot hold NUL,
so the encoding is unambiguous.
"""

from __future__ import annotations

import functools
import hashlib
import os
import queue
import stat
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import BinaryIO

import blake3

from scanner.model import Digests, ShardDigest

CHUNK_SIZE = 1 << 20
"""Bytes read at a time."""
RING_SIZE = 8
"""Buffers in flight between the reader and the SHA-256 worker (memory: RING_SIZE * CHUNK_SIZE)."""
DIRDIGEST_HEADER = b"artifact-scanner-dirdigest-v1\n"

ProgressCallback = Callable[[int], None]


class HashError(Exception):
    """A file could not be hashed (I/O error, not a regular file, changed while read)."""


class _ShardHasher:
    """SHA-256 per fixed-size shard, fed with consecutive chunks."""

    def __init__(self, shard_size: int) -> None:
        if shard_size <= 0:
            raise ValueError("shard size must be positive")
        self.shard_size = shard_size
        self.shards: list[ShardDigest] = []
        self._current = hashlib.sha256()
        self._filled = 0
        self._offset = 0

    def update(self, data: memoryview) -> None:
        pos = 0
        while pos < len(data):
            take = min(self.shard_size - self._filled, len(data) - pos)
            self._current.update(data[pos : pos + take])
            self._filled += take
            pos += take
            if self._filled == self.shard_size:
                self._close()

    def _close(self) -> None:
        self.shards.append(
            ShardDigest(len(self.shards), self._offset, self._filled, self._current.hexdigest())
        )
        self._offset += self._filled
        self._current = hashlib.sha256()
        self._filled = 0

    def finish(self) -> tuple[ShardDigest, ...]:
        if self._filled or not self.shards:
            self._close()
        return tuple(self.shards)


class _Worker:
    """A persistent daemon thread running submitted callables in order."""

    def __init__(self) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="artifact-scanner-sha256", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job()

    def submit(self, job: Callable[[], None]) -> None:
        self._jobs.put(job)


_local = threading.local()


def _worker() -> _Worker:
    worker: _Worker | None = getattr(_local, "worker", None)
    if worker is None:
        worker = _Worker()
        _local.worker = worker
    return worker


class _BoundedReader:
    """Reads at most ``limit`` bytes, so a file that keeps growing cannot keep the hasher reading forever."""

    def __init__(self, raw: BinaryIO, limit: int) -> None:
        self._raw = raw
        self._left = limit

    def read(self, n: int) -> bytes:
        data = self._raw.read(min(n, self._left)) if self._left > 0 else b""
        self._left -= len(data)
        return data

    def readinto(self, buffer: bytearray) -> int:
        if self._left <= 0:
            return 0
        view = memoryview(buffer)[: min(len(buffer), self._left)]
        n: int = self._raw.readinto(view)  # type: ignore[attr-defined]
        self._left -= n
        return n


class _RingHasher:
    """Feeds SHA-256 (and shards) on the worker while the caller reads and feeds BLAKE3."""

    def __init__(self, shard_size: int | None, chunk_size: int) -> None:
        self.sha = hashlib.sha256()
        self.b3 = blake3.blake3()
        self.shards = _ShardHasher(shard_size) if shard_size else None
        self.buffers = [bytearray(chunk_size) for _ in range(RING_SIZE)]
        self.free = threading.Semaphore(RING_SIZE)
        self.done = threading.Event()
        self.failure: BaseException | None = None

    def _consume(self, view: memoryview) -> None:
        try:
            self.sha.update(view)
            if self.shards is not None:
                self.shards.update(view)
        except BaseException as exc:  # recorded and re-raised on the reading thread
            self.failure = exc
        finally:
            view.release()
            self.free.release()

    def run(self, stream: BinaryIO, progress: ProgressCallback | None) -> int:
        worker = _worker()
        total = 0
        seq = 0
        try:
            while True:
                self.free.acquire()
                buf = self.buffers[seq % RING_SIZE]
                n = stream.readinto(buf)  # type: ignore[attr-defined]
                if not n:
                    self.free.release()
                    break
                view = memoryview(buf)[:n]
                self.b3.update(view)
                worker.submit(functools.partial(self._consume, view))
                total += n
                seq += 1
                if progress is not None:
                    progress(n)
        finally:
            worker.submit(self.done.set)
            self.done.wait()
        if self.failure is not None:
            raise HashError(f"hashing failed: {self.failure}")
        return total


def hash_bytes(data: bytes, *, shard_size: int | None = None) -> Digests:
    """Digests of content already in memory (a small file read whole)."""
    shards = None
    if shard_size:
        sh = _ShardHasher(shard_size)
        sh.update(memoryview(data))
        shards = sh.finish()
    return Digests(
        sha256=hashlib.sha256(data).hexdigest(),
        blake3=blake3.blake3(data).hexdigest(),
        size=len(data),
        shard_size=shard_size,
        shards=shards or (),
    )


def hash_stream(
    stream: BinaryIO,
    *,
    shard_size: int | None = None,
    chunk_size: int = CHUNK_SIZE,
    progress: ProgressCallback | None = None,
) -> Digests:
    """Digest everything ``stream`` yields, reading it once in ``chunk_size`` pieces."""
    first = stream.read(chunk_size)
    rest = stream.read(1) if first else b""
    if not rest:
        # Small input: inline, no worker round trip.
        if progress is not None and first:
            progress(len(first))
        return hash_bytes(first, shard_size=shard_size)
    ring = _RingHasher(shard_size, chunk_size)
    head = memoryview(first + rest)
    ring.b3.update(head)
    ring.sha.update(head)
    if ring.shards is not None:
        ring.shards.update(head)
    if progress is not None:
        progress(len(head))
    total = len(head) + ring.run(stream, progress)
    return Digests(
        sha256=ring.sha.hexdigest(),
        blake3=ring.b3.hexdigest(),
        size=total,
        shard_size=shard_size,
        shards=ring.shards.finish() if ring.shards is not None else (),
    )


def hash_file(
    path: str | os.PathLike[str],
    *,
    shard_size: int | None = None,
    chunk_size: int = CHUNK_SIZE,
    progress: ProgressCallback | None = None,
) -> Digests:
    """Digest a regular file, refusing special files and files that change size while read."""
    try:
        st = os.stat(path)
    except OSError as exc:
        raise HashError(f"{path}: {exc.strerror or exc}") from None
    if not stat.S_ISREG(st.st_mode):
        raise HashError(f"{path}: not a regular file (FIFO, device or socket): refused")
    try:
        with open(path, "rb", buffering=0) as f:
            before = os.fstat(f.fileno())
            if not stat.S_ISREG(before.st_mode):
                raise HashError(f"{path}: not a regular file: refused")
            # One byte past the size seen at open is enough to notice growth.
            bounded = _BoundedReader(f, before.st_size + 1)
            digests = hash_stream(bounded, shard_size=shard_size, chunk_size=chunk_size, progress=progress)  # type: ignore[arg-type]
            after = os.fstat(f.fileno())
    except OSError as exc:
        raise HashError(f"{path}: {exc.strerror or exc}") from None
    if digests.size != before.st_size or after.st_size != before.st_size:
        raise HashError(
            f"{path}: file changed while being read (size {before.st_size} at open, "
            f"{digests.size} read, {after.st_size} now)"
        )
    if after.st_mtime_ns != before.st_mtime_ns:
        raise HashError(f"{path}: file modified while being read")
    return digests


@dataclass(frozen=True)
class DirectoryEntry:
    """One file of a directory digest."""

    relpath: str
    """POSIX path relative to the directory."""
    digests: Digests
    """The file's digests."""


def directory_digest(entries: Iterable[DirectoryEntry]) -> Digests:
    """The digest of a directory from its files' digests (serialization v1, see module docstring)."""
    ordered = sorted(entries, key=lambda e: e.relpath.encode("utf-8", "surrogateescape"))
    payload = bytearray(DIRDIGEST_HEADER)
    total = 0
    for entry in ordered:
        d = entry.digests
        payload += entry.relpath.encode("utf-8", "surrogateescape")
        payload += b"\0%d\0%s\0%s\n" % (d.size, d.sha256.encode(), d.blake3.encode())
        total += d.size
    return Digests(
        sha256=hashlib.sha256(payload).hexdigest(),
        blake3=blake3.blake3(bytes(payload)).hexdigest(),
        size=total,
    )
