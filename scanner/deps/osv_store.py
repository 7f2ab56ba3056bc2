"""The offline OSV index: records from a directory or zip imported into SQLite, looked up by package.

``artifact-scanner db import PATH`` writes the default index under ``$XDG_CACHE_HOME/artifact-scanner/``;
``--vuln-db PATH`` names an index file, or a directory/zip of records that is indexed on first use into a
cache file keyed by the source's path and fingerprint (re-indexed when the source changes).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from scanner.deps.osv_records import (
    AffectedEntry,
    OsvRecord,
    RecordError,
    decode_record,
    iter_raw_records,
    parse_record,
)
from scanner.resources import cache_dir

SCHEMA_VERSION = "1"
"""Bumped when the index layout changes (an old index is then rebuilt or refused)."""
DEFAULT_INDEX_NAME = "osv-index.sqlite"
_SQLITE_MAGIC = b"SQLite format 3\x00"
_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE advisory (
    id TEXT PRIMARY KEY, aliases TEXT NOT NULL, summary TEXT NOT NULL, cvss_score REAL,
    cvss_vector TEXT, qualitative TEXT, reference TEXT
);
CREATE TABLE affected (advisory_id TEXT NOT NULL, package TEXT NOT NULL, ranges TEXT NOT NULL,
    versions TEXT NOT NULL);
CREATE INDEX affected_package ON affected (package);
"""


class VulnDbError(Exception):
    """The vulnerability database cannot be built or opened; the message names the path."""


@dataclass(frozen=True)
class ImportSummary:
    """What an import did."""

    index: str
    """Path of the index written."""
    source: str
    """The directory or zip imported."""
    records: int
    """Records indexed (PyPI records that are not withdrawn)."""
    skipped: int
    """Records left out: withdrawn, or naming no PyPI package."""
    errors: tuple[str, ...]
    """Records that could not be read (first 20)."""
    error_count: int
    """How many records could not be read."""
    seconds: float
    """Wall time of the import."""


def default_index() -> Path:
    """Where ``db import`` writes and where ``audit`` looks when no ``--vuln-db`` is given."""
    return cache_dir() / DEFAULT_INDEX_NAME


def is_index(path: Path) -> bool:
    """Whether ``path`` is a SQLite file (an index) rather than a source of records."""
    try:
        with path.open("rb") as f:
            return f.read(len(_SQLITE_MAGIC)) == _SQLITE_MAGIC
    except OSError:
        return False


def fingerprint(source: Path) -> str:
    """A cheap identity of a record source: file count, total size and newest mtime (or the zip's stat)."""
    if source.is_dir():
        count = size = newest = 0
        for root, _dirs, files in os.walk(source):
            for name in files:
                st = os.stat(os.path.join(root, name))
                count, size, newest = count + 1, size + st.st_size, max(newest, st.st_mtime_ns)
        return f"dir:{count}:{size}:{newest}"
    st = source.stat()
    return f"file:{st.st_size}:{st.st_mtime_ns}"


def import_records(source: Path, index: Path) -> ImportSummary:
    """Index every record of ``source`` into a new SQLite file at ``index`` (replaced atomically)."""
    started = time.monotonic()
    source = source.resolve()
    if not source.exists():
        raise VulnDbError(f"{source}: no such file or directory")
    index.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(prefix=".osv-import-", suffix=".sqlite", dir=index.parent)
    os.close(handle)
    records = skipped = 0
    errors: list[str] = []
    error_count = 0
    try:
        conn = sqlite3.connect(temp)
        try:
            conn.executescript(_SCHEMA)
            try:
                for name, raw in iter_raw_records(source):
                    try:
                        record = parse_record(decode_record(raw, name), name)
                    except RecordError as exc:
                        error_count += 1
                        if len(errors) < 20:
                            errors.append(str(exc))
                        continue
                    if record is None:
                        skipped += 1
                        continue
                    _insert(conn, record)
                    records += 1
            except (RecordError, OSError) as exc:
                raise VulnDbError(str(exc)) from None
            meta = {
                "schema": SCHEMA_VERSION,
                "source": str(source),
                "fingerprint": fingerprint(source),
                "records": str(records),
            }
            conn.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
            conn.commit()
        finally:
            conn.close()
        os.replace(temp, index)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return ImportSummary(
        str(index), str(source), records, skipped, tuple(errors), error_count, time.monotonic() - started
    )


def _insert(conn: sqlite3.Connection, record: OsvRecord) -> None:
    conn.execute("DELETE FROM affected WHERE advisory_id = ?", (record.id,))
    conn.execute(
        "INSERT OR REPLACE INTO advisory VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            record.id,
            json.dumps(record.aliases),
            record.summary,
            record.cvss_score,
            record.cvss_vector,
            record.qualitative,
            record.reference,
        ),
    )
    conn.executemany(
        "INSERT INTO affected VALUES (?, ?, ?, ?)",
        [(record.id, e.package, json.dumps(e.ranges), json.dumps(e.versions)) for e in record.affected],
    )


@dataclass(frozen=True)
class StoredAdvisory:
    """One advisory row with the affected entry of the package asked about."""

    record: OsvRecord
    """The advisory (its ``affected`` holds only the entry for the package asked about)."""
    entry: AffectedEntry
    """That entry."""


class OsvStore:
    """A read-only, thread-safe view of an index."""

    def __init__(self, index: Path) -> None:
        if not is_index(index):
            raise VulnDbError(f"{index}: not a vulnerability index (expected a SQLite file)")
        try:
            self._conn = sqlite3.connect(f"file:{index}?mode=ro", uri=True, check_same_thread=False)
            meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.Error as exc:
            raise VulnDbError(f"{index}: cannot open the index: {exc}") from None
        if meta.get("schema") != SCHEMA_VERSION:
            raise VulnDbError(
                f"{index}: index schema {meta.get('schema')!r}; re-run 'artifact-scanner db import'"
            )
        self.index = index
        """The SQLite file."""
        self.meta = meta
        """``schema``, ``source``, ``fingerprint``, ``records``."""
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[StoredAdvisory, ...]] = {}

    def advisories_for(self, package: str) -> tuple[StoredAdvisory, ...]:
        """Every advisory naming the PEP 503 ``package``, sorted by id."""
        with self._lock:
            cached = self._cache.get(package)
            if cached is not None:
                return cached
            rows = self._conn.execute(
                "SELECT a.id, a.aliases, a.summary, a.cvss_score, a.cvss_vector, a.qualitative, a.reference, "
                "f.ranges, f.versions FROM affected f JOIN advisory a ON a.id = f.advisory_id "
                "WHERE f.package = ? ORDER BY a.id",
                (package,),
            ).fetchall()
            found = tuple(self._row(package, row) for row in rows)
            self._cache[package] = found
            return found

    @staticmethod
    def _row(package: str, row: tuple[object, ...]) -> StoredAdvisory:
        ident, aliases, summary, score, vector, qualitative, reference, ranges, versions = row
        entry = AffectedEntry(
            package,
            tuple(tuple((str(k), str(v)) for k, v in events) for events in json.loads(str(ranges))),
            tuple(str(v) for v in json.loads(str(versions))),
        )
        record = OsvRecord(
            id=str(ident),
            aliases=tuple(json.loads(str(aliases))),
            summary=str(summary),
            affected=(entry,),
            cvss_score=float(score) if isinstance(score, (int, float)) else None,
            cvss_vector=str(vector) if vector is not None else None,
            qualitative=str(qualitative) if qualitative is not None else None,
            reference=str(reference) if reference is not None else None,
        )
        return StoredAdvisory(record, entry)

    def packages(self) -> Iterator[str]:
        """Every package name in the index, sorted (for benchmarks and diagnostics)."""
        with self._lock:
            rows = self._conn.execute("SELECT DISTINCT package FROM affected ORDER BY package").fetchall()
        for (name,) in rows:
            yield str(name)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


_OPEN: dict[tuple[str, int, int], OsvStore] = {}
"""Open stores by index path and identity (a re-imported index is a new file, so a new store)."""
_OPEN_LOCK = threading.Lock()


def _cached_index_for(source: Path) -> Path:
    key = hashlib.sha256(str(source).encode("utf-8", "surrogateescape")).hexdigest()[:16]
    return cache_dir() / f"osv-{key}.sqlite"


def open_store(path: str | os.PathLike[str] | None) -> OsvStore:
    """The store for ``--vuln-db PATH`` (an index, or records indexed on first use), or the default index.

    Raises :class:`VulnDbError` when there is nothing usable; callers turn "no default index" into the
    coverage note "audit did not run".
    """
    with _OPEN_LOCK:
        if path is None:
            target = default_index()
            if not target.is_file():
                raise VulnDbError(f"no vulnerability database imported ({target} does not exist)")
        else:
            source = Path(path).expanduser().resolve()
            if not source.exists():
                raise VulnDbError(f"{path}: no such file or directory")
            if is_index(source):
                target = source
            else:
                target = _cached_index_for(source)
                if not target.is_file() or not _fresh(target, source):
                    import_records(source, target)
        st = target.stat()
        key = (str(target), st.st_ino, st.st_mtime_ns)
        store = _OPEN.get(key)
        if store is None:
            store = OsvStore(target)
            _OPEN[key] = store
        return store


def _fresh(index: Path, source: Path) -> bool:
    try:
        conn = sqlite3.connect(f"file:{index}?mode=ro", uri=True)
        try:
            meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        finally:
            conn.close()
    except sqlite3.Error:
        return False
    return meta.get("schema") == SCHEMA_VERSION and meta.get("fingerprint") == fingerprint(source)
