"""OSV records (JSON, and the YAML of the PyPA advisory database): reading, normalising and matching.

Only what the audit needs is kept: ids, a bounded summary, the PyPI ``affected`` entries (PEP 503 names,
ECOSYSTEM range events, explicit ``versions``), the severity and one reference. Withdrawn records are
dropped. Matching follows the OSV specification: a version is affected when it is listed in ``versions``
or lies in an ECOSYSTEM range (events ordered by PEP 440).
"""

from __future__ import annotations

import functools
import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from scanner.deps.cvss import score_vector
from scanner.deps.interface import canonical_name

MAX_RECORD_BYTES = 4 << 20
"""Largest single record read (real records are a few kilobytes)."""
MAX_RECORDS = 2_000_000
"""Records read from one source."""
MAX_ZIP_RATIO = 200
"""Largest decompressed/compressed ratio of a zip member (bombs)."""
MAX_SUMMARY = 1000
"""Characters of an advisory's text kept."""
_SUFFIXES = (".json", ".yaml", ".yml")
_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")


class RecordError(Exception):
    """A record that cannot be used; the message names it."""


@dataclass(frozen=True)
class AffectedEntry:
    """One ``affected`` entry of a record, for a PyPI package."""

    package: str
    """PEP 503 normalised name."""
    ranges: tuple[tuple[tuple[str, str], ...], ...]
    """ECOSYSTEM ranges, each a tuple of ``(event kind, version)`` as written."""
    versions: tuple[str, ...]
    """Explicitly listed affected versions."""


@dataclass(frozen=True)
class OsvRecord:
    """The parts of one OSV record the audit uses."""

    id: str
    """Record id."""
    aliases: tuple[str, ...]
    """Aliases, sorted."""
    summary: str
    """``summary`` or the first paragraph of ``details``, bounded."""
    affected: tuple[AffectedEntry, ...]
    """PyPI entries only."""
    cvss_score: float | None
    """Highest base score over the record's CVSS entries (computed from vectors)."""
    cvss_vector: str | None
    """The vector that score came from."""
    qualitative: str | None
    """A qualitative severity (``database_specific.severity``) when the record has one."""
    reference: str | None
    """An ADVISORY reference URL if any, else the first reference."""


@dataclass(frozen=True)
class RangeMatch:
    """Why a version is affected by one entry."""

    affected_range: str | None
    """The matching range as a PEP 440 specifier, or ``None`` for a ``versions`` list match."""
    fixed_in: tuple[str, ...]
    """Every fixed version named by the entry's ranges, in PEP 440 order."""


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _summary(data: dict[str, Any]) -> str:
    text = _text(data.get("summary")).strip() or _text(data.get("details")).strip().split("\n\n", 1)[0]
    text = " ".join(text.split())
    return text if len(text) <= MAX_SUMMARY else text[: MAX_SUMMARY - 1] + "…"


def _severity(data: dict[str, Any]) -> tuple[float | None, str | None, str | None]:
    best: tuple[float | None, str | None] = (None, None)
    for entry in data.get("severity") or []:
        if not isinstance(entry, dict):
            continue
        vector = entry.get("score")
        if not isinstance(vector, (str, int, float)):
            continue
        score = score_vector(_text(entry.get("type")), str(vector))
        if score is not None and (best[0] is None or score > best[0]):
            best = (score, str(vector))
    qualitative = None
    for holder in [data, *[a for a in data.get("affected") or [] if isinstance(a, dict)]]:
        for key in ("database_specific", "ecosystem_specific"):
            extra = holder.get(key)
            if isinstance(extra, dict) and isinstance(extra.get("severity"), str):
                qualitative = qualitative or extra["severity"].strip().upper()
    return best[0], best[1], qualitative


def _reference(data: dict[str, Any]) -> str | None:
    refs = [r for r in data.get("references") or [] if isinstance(r, dict) and isinstance(r.get("url"), str)]
    for ref in refs:
        if ref.get("type") == "ADVISORY":
            return str(ref["url"])
    return str(refs[0]["url"]) if refs else None


def _affected(data: dict[str, Any]) -> tuple[AffectedEntry, ...]:
    entries: list[AffectedEntry] = []
    for item in data.get("affected") or []:
        if not isinstance(item, dict):
            continue
        package = item.get("package")
        if not isinstance(package, dict) or _text(package.get("ecosystem")).lower() != "pypi":
            continue
        name = _text(package.get("name")).strip()
        if not name:
            continue
        ranges: list[tuple[tuple[str, str], ...]] = []
        for rng in item.get("ranges") or []:
            if not isinstance(rng, dict) or rng.get("type") != "ECOSYSTEM":
                continue
            events: list[tuple[str, str]] = []
            for event in rng.get("events") or []:
                if isinstance(event, dict):
                    events.extend(
                        (k, str(v))
                        for k, v in event.items()
                        if k in _EVENT_KINDS and isinstance(v, (str, int, float))
                    )
            if events:
                ranges.append(tuple(events))
        versions = tuple(str(v) for v in item.get("versions") or [] if isinstance(v, (str, int, float)))
        entries.append(AffectedEntry(canonical_name(name), tuple(ranges), versions))
    return tuple(entries)


def parse_record(data: Any, origin: str) -> OsvRecord | None:
    """A normalised record, or ``None`` when it is withdrawn or names no PyPI package.

    Raises :class:`RecordError` when ``data`` is not an OSV record at all.
    """
    if not isinstance(data, dict) or not isinstance(data.get("id"), str) or not data["id"].strip():
        raise RecordError(f"{origin}: not an OSV record (no 'id')")
    if data.get("withdrawn"):
        return None
    affected = _affected(data)
    if not affected:
        return None
    aliases = sorted({str(a) for a in data.get("aliases") or [] if isinstance(a, str)} - {data["id"]})
    score, vector, qualitative = _severity(data)
    return OsvRecord(
        id=data["id"].strip(),
        aliases=tuple(aliases),
        summary=_summary(data),
        affected=affected,
        cvss_score=score,
        cvss_vector=vector,
        qualitative=qualitative,
        reference=_reference(data),
    )


def decode_record(raw: bytes, origin: str) -> Any:
    """Parse a record's bytes as JSON or (safe) YAML by its name."""
    if origin.endswith(".json"):
        try:
            return json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RecordError(f"{origin}: invalid JSON: {exc}") from None
        except RecursionError:
            raise RecordError(f"{origin}: JSON nested too deeply") from None
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return yaml.load(raw, Loader=loader)  # noqa: S506 - a safe loader
    except yaml.YAMLError as exc:
        raise RecordError(f"{origin}: invalid YAML: {str(exc).splitlines()[0]}") from None
    except RecursionError:
        raise RecordError(f"{origin}: YAML nested too deeply") from None


def iter_raw_records(path: Path) -> Iterator[tuple[str, bytes]]:
    """``(name, bytes)`` of every ``.json``/``.yaml`` record under a directory or in a zip, sorted by name.

    Oversized records raise :class:`RecordError` naming them; more than :data:`MAX_RECORDS` is an error.
    """
    if path.is_dir():
        names = sorted(
            p for p in path.rglob("*") if p.suffix in _SUFFIXES and p.is_file() and not p.is_symlink()
        )
        if len(names) > MAX_RECORDS:
            raise RecordError(f"{path}: more than {MAX_RECORDS} records")
        for file in names:
            rel = file.relative_to(path).as_posix()
            if file.stat().st_size > MAX_RECORD_BYTES:
                raise RecordError(f"{rel}: record larger than {MAX_RECORD_BYTES} bytes")
            yield rel, file.read_bytes()
        return
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            infos = sorted(
                (i for i in archive.infolist() if not i.is_dir() and i.filename.endswith(_SUFFIXES)),
                key=lambda i: i.filename,
            )
            if len(infos) > MAX_RECORDS:
                raise RecordError(f"{path}: more than {MAX_RECORDS} records")
            for info in infos:
                if info.file_size > MAX_RECORD_BYTES or info.file_size > MAX_ZIP_RATIO * max(
                    info.compress_size, 1024
                ):
                    raise RecordError(f"{info.filename}: record too large or too compressed")
                with archive.open(info) as member:
                    data = member.read(MAX_RECORD_BYTES + 1)
                if len(data) > MAX_RECORD_BYTES:
                    raise RecordError(f"{info.filename}: record larger than {MAX_RECORD_BYTES} bytes")
                yield info.filename, data
        return
    if path.is_file() and path.suffix in _SUFFIXES:
        if path.stat().st_size > MAX_RECORD_BYTES:
            raise RecordError(f"{path}: record larger than {MAX_RECORD_BYTES} bytes")
        yield path.name, path.read_bytes()
        return
    raise RecordError(f"{path}: not a directory, a zip of OSV records or a record file")


@functools.lru_cache(maxsize=1 << 16)
def _parsed(value: str) -> Version | None:
    try:
        return Version(value)
    except InvalidVersion:
        return None


def match_range(version: Version, events: tuple[tuple[str, str], ...]) -> str | None:
    """The interval of ``events`` containing ``version`` as a specifier, or ``None`` when outside.

    A range whose events are not PEP 440 versions matches nothing (it cannot be ordered).
    """
    ordered: list[tuple[Version | None, str, str]] = []
    for kind, value in events:
        if kind == "introduced" and value == "0":
            ordered.append((None, kind, value))
            continue
        parsed = _parsed(value)
        if parsed is None:
            return None
        ordered.append((parsed, kind, value))
    ordered.sort(key=lambda e: (e[0] is not None, e[0] or Version("0")))
    affected = False
    start: str | None = None
    position = len(ordered)
    for index, (point, kind, value) in enumerate(ordered):
        if kind == "introduced":
            if point is None or version >= point:
                affected, start = True, value
                continue
        elif point is not None and (version > point if kind == "last_affected" else version >= point):
            affected = False
            continue
        position = index
        break
    if not affected:
        return None
    parts = [] if start in (None, "0") else [f">={start}"]
    for _, kind, value in ordered[position:]:
        if kind == "fixed":
            parts.append(f"<{value}")
            break
        if kind == "last_affected":
            parts.append(f"<={value}")
            break
    return ",".join(parts) if parts else ">=0"


def fixed_versions(entry: AffectedEntry) -> tuple[str, ...]:
    """Every ``fixed`` event of the entry's ranges, in PEP 440 order (unparseable ones last)."""
    fixed = {value for events in entry.ranges for kind, value in events if kind == "fixed"}
    return tuple(sorted(fixed, key=lambda v: (_parsed(v) is None, _parsed(v) or Version("0"), v)))


def match_entry(version_text: str, entry: AffectedEntry) -> RangeMatch | None:
    """How ``version_text`` is affected by ``entry``, or ``None`` when it is not."""
    version = _parsed(version_text)
    if version is not None:
        for events in entry.ranges:
            found = match_range(version, events)
            if found is not None:
                return RangeMatch(found, fixed_versions(entry))
    for listed in entry.versions:
        if listed == version_text or (version is not None and _parsed(listed) == version):
            return RangeMatch(None, fixed_versions(entry))
    return None
