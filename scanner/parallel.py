"""Scanning many files at once: threads, or worker processes. Workers are forked from the parent when it
runs a single thread on Linux (they start in a few milliseconds with the engine already loaded and warm);
otherwise (hashing threads, a progress bar, a caller's threads: a forked child would inherit their locks
in whatever state they were) they come from a ``forkserver`` (``spawn`` where that is missing).

Threads suit a few large files (hashing releases the GIL, so they overlap well); analysis of many small
files is Python code that holds the GIL, so ``auto`` switches to processes when there are enough files
(:data:`PROCESS_THRESHOLD`). In process mode the parent takes part: the files are cut into batches, the
``n - 1`` workers take batches from the front while the parent scans batches from the back itself, so
the parent is busy while the pool starts and a short scan never waits for it. Results are put back in
input order, so the output is identical to a serial run.

A program calling :func:`scanner.engine.scan_paths` on many files while other threads run (or off Linux)
must guard its entry point with ``if __name__ == "__main__":`` (the usual rule for ``forkserver``/``spawn``),
or pass ``workers="threads"``.

Memory stays bounded: each process holds at most one small file's bytes (up to one hashing chunk) or one
ring of hashing buffers, and results are small.
"""

from __future__ import annotations

import math
import os
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING

from scanner.hashing import CHUNK_SIZE
from scanner.model import Artifact, ScanResult

if TYPE_CHECKING:  # multiprocessing and concurrent.futures cost ~25 ms to import: only when used
    import multiprocessing.context
    from concurrent.futures import Future, ProcessPoolExecutor

    from scanner.engine import ScanOptions

POOL_START_SECONDS = 0.4
"""Measured time from asking for a worker pool to its first result (forkserver, preloaded modules). A
forked pool starts faster, but the plan must not depend on the threads running when it is made, so one
threshold serves both."""
FILE_SECONDS = 0.0004
"""Measured mean serial cost of one small file (hash, sniff, analyze) on the development machine."""


PROCESS_THRESHOLD = math.ceil(2 * POOL_START_SECONDS / FILE_SECONDS)
"""Fewest files for which ``auto`` starts worker processes beside the parent (2,000). The parent scans
from the start, so processes cost nothing until the pool is up and then share what is left: they pay
when the serial work, ``files * FILE_SECONDS``, is at least twice the pool's start-up, however many
cores share it (the core count changes the gain, not the break-even point)."""


WORKER_KINDS = ("auto", "threads", "processes")
"""Accepted values of ``ScanOptions.workers``."""
MAX_BATCH = 32
"""Most files sent to a worker process at once."""
QUEUED_PER_WORKER = 3
"""Batches handed to each worker ahead of time (the parent tops them up between its own batches)."""

ProgressCallback = Callable[[int], None]


def usable_cores() -> int:
    """Cores this process may run on (CPU affinity and cgroup-restricted sets included)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def plan(files: int, jobs: int | None, workers: str, large_files: int = 0) -> tuple[str, int]:
    """``(mode, n)``: ``serial``, ``threads`` or ``processes`` with ``n`` files scanned at once (in process
    mode: the parent and ``n - 1`` workers) for ``files`` files, of which ``large_files`` are bigger than
    one hashing chunk.

    ``auto`` picks processes when there are enough files to pay for them, threads when at least two large
    files can be hashed side by side (hashing releases the GIL), and otherwise one thread: threads only
    contend for the GIL over small files."""
    if workers not in WORKER_KINDS:
        raise ValueError(f"workers must be one of {', '.join(WORKER_KINDS)}, not {workers!r}")
    n = min(jobs if jobs else usable_cores(), files)
    if n <= 1:
        return "serial", 1
    if workers == "auto":
        if files >= PROCESS_THRESHOLD:
            return "processes", n
        if large_files < 2:
            return "serial", 1
        return "threads", n
    return workers, n


def plan_for(artifacts: Sequence[Artifact], jobs: int | None, workers: str) -> tuple[str, int]:
    """:func:`plan` for these files (those larger than one hashing chunk counted as large)."""
    large = sum(1 for a in artifacts if a.size > CHUNK_SIZE)
    return plan(len(artifacts), jobs, workers, large)


def start_workers_early(artifacts: Sequence[Artifact], jobs: int | None, workers: str) -> None:
    """Start the forkserver now when a scan of ``artifacts`` will use worker processes: it preloads the
    engine (a few tenths of a second) while the caller does the same, instead of after."""
    if workers not in WORKER_KINDS:
        return  # the scan reports the bad value
    if plan_for(artifacts, jobs, workers)[0] != "processes" or can_fork():
        return  # no workers, or forked ones: nothing to start ahead
    if _context(fork=False).get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def can_fork() -> bool:
    """Whether worker processes may be forked from this process: on Linux, while it runs one thread only
    (native ones included, as listed in ``/proc/self/task``)."""
    if sys.platform != "linux":
        return False
    try:
        return len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def _context(fork: bool) -> multiprocessing.context.BaseContext:
    import multiprocessing

    methods = multiprocessing.get_all_start_methods()
    if fork and "fork" in methods:
        return multiprocessing.get_context("fork")
    if "forkserver" in methods:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["scanner._worker_preload"])
        return ctx
    return multiprocessing.get_context("spawn")


def _worker_init() -> None:
    """Workers leave Ctrl-C to the parent, which stops the pool (no traceback from every worker)."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


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

    mode, n = plan_for(artifacts, options.jobs, options.workers)
    if mode == "serial":
        return [scan_artifact(a, options, progress) for a in artifacts]
    if mode == "threads":
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(max_workers=n) as pool:
            return list(pool.map(lambda a: scan_artifact(a, options, progress), artifacts))
    return _scan_with_processes(artifacts, options, progress, n)


class _Split:
    """Batches shared by the parent (taking from the back) and the thread feeding the workers (taking
    from the front): ``batches[front:back]`` are not handed out yet."""

    def __init__(self, count: int) -> None:
        self.lock = threading.Lock()
        self.front = 0
        self.back = count
        self.stop = False

    def take_front(self) -> int | None:
        with self.lock:
            if self.stop or self.front >= self.back:
                return None
            self.front += 1
            return self.front - 1

    def take_back(self) -> int | None:
        with self.lock:
            if self.front >= self.back:
                return None
            self.back -= 1
            return self.back


def _feed(
    pool: ProcessPoolExecutor,
    batches: list[list[Artifact]],
    options: ScanOptions,
    split: _Split,
    futures: dict[int, Future[list[ScanResult]]],
    queued: int,
) -> None:
    """Hand batches to the workers, ``queued`` at a time. It runs in its own thread: the first submit
    waits for the forkserver to start and preload (a few tenths of a second), and the parent scans
    meanwhile. A pool that breaks stops the feeding; the parent then takes everything left."""
    from concurrent.futures import FIRST_COMPLETED, wait

    waiting = set(futures.values())  # a batch handed over before the thread started
    while True:
        if len(waiting) >= queued:
            _, pending = wait(waiting, return_when=FIRST_COMPLETED)
            waiting = set(pending)
            continue
        index = split.take_front()
        if index is None:
            return
        try:
            future = pool.submit(_scan_batch, batches[index], options)
        except Exception:  # BrokenProcessPool, or a pool shut down by Ctrl-C: the parent takes over
            with split.lock:  # the batch was taken from the front and not handed out: give it back
                if split.front == index + 1:
                    split.front = index
                split.stop = True
            return
        futures[index] = future
        waiting.add(future)


def _scan_with_processes(
    artifacts: list[Artifact], options: ScanOptions, progress: ProgressCallback | None, n: int
) -> list[ScanResult]:
    """The parent and ``n - 1`` workers: workers get batches from the front, the parent scans from the
    back, until they meet."""
    from concurrent.futures.process import BrokenProcessPool

    from scanner.engine import scan_artifact

    size = max(1, min(MAX_BATCH, len(artifacts) // (n * 4)))
    batches = list(_batches(artifacts, size))
    done: list[list[ScanResult] | None] = [None] * len(batches)
    split = _Split(len(batches))
    futures: dict[int, Future[list[ScanResult]]] = {}
    first = split.take_front() if can_fork() else None
    if first is not None:
        processes, futures[first] = _forked_pool(n - 1, batches[first], options)
    else:
        processes = _pool(n - 1, fork=False)
    feeder = threading.Thread(
        target=_feed,
        args=(processes, batches, options, split, futures, QUEUED_PER_WORKER * (n - 1)),
        name="artifact-scanner-feeder",
        daemon=True,
    )
    feeder.start()
    try:
        while (index := split.take_back()) is not None:
            done[index] = [scan_artifact(a, options, progress) for a in batches[index]]
        feeder.join()
        # A batch the feeder gave back after a broken submit lies between the two ends: scan it here.
        for index in range(len(batches)):
            if done[index] is None and index not in futures:
                done[index] = [scan_artifact(a, options, progress) for a in batches[index]]
        for index, future in sorted(futures.items()):
            batch = future.result()
            _report(batch, progress)
            done[index] = batch
    except BrokenProcessPool:
        # A worker died (a native parser crash, the OOM killer): the batches it took down are scanned
        # again one file at a time, so that only the file that kills a worker is left unscanned.
        processes.shutdown(wait=True, cancel_futures=True)
        left = [a for batch, result in zip(batches, done, strict=True) if result is None for a in batch]
        rescued = iter(_isolate(left, options, progress))
        done = [
            result if result is not None else [next(rescued) for _ in batch]
            for batch, result in zip(batches, done, strict=True)
        ]
        return [r for batch in done if batch is not None for r in batch]
    except BaseException:
        # Ctrl-C or a failure: drop the queued batches instead of scanning them before giving up.
        with split.lock:
            split.stop = True
        processes.shutdown(wait=True, cancel_futures=True)
        feeder.join()
        raise
    processes.shutdown(wait=True)
    return [r for batch in done if batch is not None for r in batch]


def _pool(n: int, fork: bool) -> ProcessPoolExecutor:
    """``n`` workers, forked (by the first submit, which must come from this process's only thread) or
    from the forkserver. Before forking, buffered output is flushed, or each child would write it again
    when it exits."""
    from concurrent.futures import ProcessPoolExecutor

    if fork:
        sys.stdout.flush()
        sys.stderr.flush()
    return ProcessPoolExecutor(max_workers=n, mp_context=_context(fork), initializer=_worker_init)


def _forked_pool(
    n: int, first: list[Artifact], options: ScanOptions
) -> tuple[ProcessPoolExecutor, Future[list[ScanResult]]]:
    """``n`` workers forked now with the engine loaded and warm, and the future of their first batch.
    The workers are forked by that first submit (a ``fork`` pool starts them all at once, before its own
    threads), so it must come from the caller's only thread."""
    from scanner._warm_up import warm_up

    warm_up()
    pool = _pool(n, fork=True)
    return pool, pool.submit(_scan_batch, first, options)


def _report(batch: list[ScanResult], progress: ProgressCallback | None) -> None:
    if progress is not None:
        for result in batch:
            progress(result.digests.size if result.digests else 0)


def _crashed(artifact: Artifact) -> ScanResult:
    from scanner.model import AnalyzerError

    message = f"{artifact.path}: the worker process scanning this file died (crash or kill); not analyzed"
    return ScanResult(artifact, None, "unknown", errors=(AnalyzerError("engine", message),))


def _isolate(
    artifacts: list[Artifact], options: ScanOptions, progress: ProgressCallback | None
) -> list[ScanResult]:
    """Scan each file as its own task on one fresh worker at a time. A file is blamed only when it kills
    the worker as the first task that worker ran; it then gets an error result and the rest go on."""
    from concurrent.futures.process import BrokenProcessPool

    results: list[ScanResult] = []
    while len(results) < len(artifacts):
        pending = artifacts[len(results) :]
        processes = _pool(1, can_fork())
        try:
            futures = [processes.submit(_scan_batch, [a], options) for a in pending]
            for position, (artifact, future) in enumerate(zip(pending, futures, strict=True)):
                try:
                    batch = future.result()
                except BrokenProcessPool:
                    if position == 0:
                        results.append(_crashed(artifact))
                    break
                _report(batch, progress)
                results.extend(batch)
        finally:
            processes.shutdown(wait=True, cancel_futures=True)
    return results
