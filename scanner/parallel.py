"""Scanning many files at once: threads, or worker processes started by ``forkserver`` (``spawn`` where
that is missing), never ``fork``: the parent has live hashing threads, and a forked child would inherit
their locks in whatever state they were.

Threads suit a few files (hashing releases the GIL, so large files overlap well); analysis of many small
files is Python code that holds the GIL, so ``auto`` switches to processes when there are enough files
to amortise their start-up. Each worker process scans a batch of files and sends back the frozen
results; the caller receives them in input order, so the output is identical to a serial run.

Memory stays bounded: each worker holds at most one small file's bytes (up to one hashing chunk) or one
ring of hashing buffers, and results are small.
"""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from typing import TYPE_CHECKING

from scanner.model import Artifact, ScanResult

if TYPE_CHECKING:
    from scanner.engine import ScanOptions

PROCESS_MIN_FILES = 1000
"""``auto`` uses processes from this many files on: starting warm workers costs about half a second, the
analysis of a small file about a millisecond, so below this threads (or one core) finish first."""
MAX_BATCH = 32
"""Most files sent to a worker process at once."""

ProgressCallback = Callable[[int], None]


def usable_cores() -> int:
    """Cores this process may run on (CPU affinity and cgroup-restricted sets included)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def plan(files: int, jobs: int | None, workers: str) -> tuple[str, int]:
    """``(mode, n)``: ``serial``, ``threads`` or ``processes`` with ``n`` workers for ``files`` files."""
    n = min(jobs if jobs else usable_cores(), files)
    if n <= 1:
        return "serial", 1
    if workers == "auto":
        workers = "processes" if files >= PROCESS_MIN_FILES else "threads"
    return workers, n


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["scanner._worker_preload"])
        return ctx
    return multiprocessing.get_context("spawn")


def _scan_batch(batch: list[Artifact], options: ScanOptions) -> list[ScanResult]:
    """Worker-process entry point: scan a batch of files in order."""
    from scanner.engine import scan_artifact

    return [scan_artifact(artifact, options) for artifact in batch]


def _batches(items: list[Artifact], size: int) -> Iterator[list[Artifact]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def scan_all(
    artifacts: list[Artifact], options: ScanOptions, progress: ProgressCallback | None = None
) -> list[ScanResult]:
    """Scan ``artifacts``; the results are in the same order whatever the parallelism."""
    from scanner.engine import scan_artifact

    mode, n = plan(len(artifacts), options.jobs, options.workers)
    if mode == "serial":
        return [scan_artifact(a, options, progress) for a in artifacts]
    if mode == "threads":
        with ThreadPoolExecutor(max_workers=n) as pool:
            return list(pool.map(lambda a: scan_artifact(a, options, progress), artifacts))
    size = max(1, min(MAX_BATCH, len(artifacts) // (n * 4)))
    results: list[ScanResult] = []
    with ProcessPoolExecutor(max_workers=n, mp_context=_context()) as pool:
        batches: Iterable[list[ScanResult]] = pool.map(
            _scan_batch, _batches(artifacts, size), [options] * ((len(artifacts) + size - 1) // size)
        )
        for batch in batches:
            for result in batch:
                if progress is not None:
                    progress(result.digests.size if result.digests else 0)
                results.append(result)
    return results
