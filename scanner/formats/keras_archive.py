"""Keras v3 ``.keras`` archives: a zip holding ``config.json``, ``metadata.json`` and the weights.

Claims the zip before the generic archive analyzer (higher priority), judges the model configuration,
and hands every member back to the engine (weights ``.h5``, assets) so nothing inside goes unscanned.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Iterator
from typing import TYPE_CHECKING, BinaryIO

from scanner.formats.interface import (
    HEAD_SIZE,
    TAIL_SIZE,
    AnalysisContext,
    Analyzer,
    Limits,
    Probe,
    spool,
)
from scanner.model import Finding
from scanner.rulebook import finding

if TYPE_CHECKING:  # zipfile and the Keras rules load when a .keras archive is analyzed
    import zipfile

NAME = "keras"


def _member_errors() -> tuple[type[Exception], ...]:
    """What reading a damaged member raises (bad CRC, broken deflate stream, unsupported method); an
    ``except`` clause evaluates it only when something was raised."""
    import zipfile

    return (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError)


def _open_zip(stream: BinaryIO) -> zipfile.ZipFile:
    import zipfile

    return zipfile.ZipFile(stream)


def directory_claims(probe: Probe) -> tuple[int, int] | None:
    """``(entries, bytes)`` the zip's end-of-central-directory records claim (ZIP64 too), if in the probe.

    Read before :mod:`zipfile` builds an entry object per member, so a directory claiming millions of
    members is refused instead of parsed.
    """
    data = probe.tail or probe.head
    at = data.rfind(b"PK\x05\x06")
    if at < 0 or at + 22 > len(data):
        return None
    entries, size = struct.unpack_from("<HI", data, at + 10)
    if entries == 0xFFFF or size == 0xFFFFFFFF:
        at64 = data.rfind(b"PK\x06\x06", 0, at)
        if at64 >= 0 and at64 + 56 <= len(data):
            entries, size = struct.unpack_from("<QQ", data, at64 + 32)
    return entries, size


def _directory_too_large(probe: Probe, limits: Limits) -> str | None:
    claims = directory_claims(probe)
    if claims is None:
        return None
    entries, size = claims
    if entries > limits.max_members or size > limits.max_structure_bytes:
        return f"zip directory claims {entries} members in {size} bytes"
    return None


def _unsafe_name(name: str) -> bool:
    parts = name.replace("\\", "/").split("/")
    return name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":") or ".." in parts


class KerasArchiveAnalyzer(Analyzer):
    """Zip archives whose directory lists ``config.json`` and ``metadata.json`` or ``model.weights.h5``."""

    first_bytes = frozenset(b"P")  # a local file header first
    name = NAME
    format = "keras"
    priority = 300

    def detect(self, probe: Probe) -> bool:
        if probe.head[:4] != b"PK\x03\x04":
            return False
        listing = probe.head + probe.tail
        return b"config.json" in listing and (b"metadata.json" in listing or b"model.weights.h5" in listing)

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        ctx.set_property("framework", "keras")
        too_large = _directory_too_large(ctx.probe, ctx.limits)
        if too_large:
            ctx.not_analyzed(ctx.member, too_large)
            yield finding("AS-GEN-004", analyzer=NAME, detail=f"{too_large}: not opened")
            return
        with ctx.open() as stream:
            try:
                archive = _open_zip(stream)
            except _member_errors() as exc:
                yield finding("AS-GEN-005", analyzer=NAME, detail=f"not a readable zip: {exc}")
                return
            with archive:
                yield from self._members(ctx, archive)

    def _read_small(
        self, ctx: AnalysisContext, archive: zipfile.ZipFile, info: zipfile.ZipInfo
    ) -> bytes | None:
        cap = ctx.limits.max_structure_bytes
        if info.file_size > cap:
            return None
        with archive.open(info) as member:
            data = member.read(cap + 1)
        return data if len(data) <= cap else None

    def _members(self, ctx: AnalysisContext, archive: zipfile.ZipFile) -> Iterator[Finding]:
        limits = ctx.limits
        infos = archive.infolist()
        names = [i.filename for i in infos]
        for dup in sorted({n for n in names if names.count(n) > 1}):
            yield finding(
                "AS-GEN-005",
                analyzer=NAME,
                member=ctx.child_member(dup),
                detail=f"member {dup!r} appears more than once; loaders may read either copy",
            )
        for info in infos:
            member = ctx.child_member(info.filename)
            if _unsafe_name(info.filename):
                yield finding(
                    "AS-KER-005",
                    analyzer=NAME,
                    member=member,
                    evidence=info.filename,
                    detail=f"member name {info.filename!r} is absolute or climbs with '..'",
                )
            if info.is_dir():
                continue
            ratio = info.file_size / info.compress_size if info.compress_size else 0
            if info.file_size > limits.max_member_bytes or ratio > limits.max_ratio:
                ctx.not_analyzed(member, "member over the size or ratio limit")
                yield finding(
                    "AS-GEN-004",
                    analyzer=NAME,
                    member=member,
                    detail=f"{info.file_size} bytes (ratio {ratio:.0f}) exceed the member limits",
                )
                continue
            if info.filename in ("config.json", "metadata.json"):
                yield from self._json(ctx, archive, info, member)
            try:
                with archive.open(info) as source:
                    spooled, size, truncated = spool(source, limits, info.file_size)
            except _member_errors() as exc:
                yield finding("AS-GEN-005", analyzer=NAME, member=member, detail=f"member unreadable: {exc}")
                continue
            with spooled:
                if truncated:
                    yield finding(
                        "AS-GEN-005",
                        analyzer=NAME,
                        member=member,
                        detail="member inflates beyond its declared size",
                    )
                yield from ctx.scan_member(info.filename, spooled, size)  # type: ignore[arg-type]

    def _json(
        self, ctx: AnalysisContext, archive: zipfile.ZipFile, info: zipfile.ZipInfo, member: str
    ) -> Iterator[Finding]:
        try:
            raw = self._read_small(ctx, archive, info)
        except _member_errors() as exc:
            yield finding("AS-GEN-005", analyzer=NAME, member=member, detail=f"member unreadable: {exc}")
            return
        if raw is None:
            yield finding(
                "AS-GEN-004", analyzer=NAME, member=member, detail="configuration too large to judge"
            )
            return
        try:
            document = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            yield finding("AS-KER-004", analyzer=NAME, member=member, detail=f"{info.filename}: {exc}")
            return
        except RecursionError:
            yield finding(
                "AS-GEN-004", analyzer=NAME, member=member, detail=f"{info.filename}: JSON nested too deeply"
            )
            return
        if info.filename == "metadata.json":
            if isinstance(document, dict) and isinstance(document.get("keras_version"), str):
                ctx.set_property("libraries", {"keras": document["keras_version"][:50]})
            return
        from scanner.formats.keras_config import judge_config

        yield from judge_config(document, NAME, "config.json", member)


class KerasConfigInZipAnalyzer(Analyzer):
    """Any other zip whose directory holds a Keras ``config.json``: the listing was not in the probe.

    The Keras loader finds ``config.json`` by name wherever it sits in the archive, so a ``.keras`` file
    padded with members until its names leave the first and last 64 KiB must still have its configuration
    judged. Runs beside whatever analyzer owns the zip; only ``config.json`` is read (members are the zip
    analyzer's business).
    """

    first_bytes = frozenset(b"P")  # a local file header first
    name = "keras-config-in-zip"
    format = "zip"
    supplementary = True

    def detect(self, probe: Probe) -> bool:
        # A zip that fits in head + tail shows its whole listing: the archive analyzer decided already.
        return (
            probe.head[:4] == b"PK\x03\x04"
            and probe.size > HEAD_SIZE + TAIL_SIZE
            and not KerasArchiveAnalyzer().detect(probe)
        )

    def analyze(self, ctx: AnalysisContext) -> Iterator[Finding]:
        if _directory_too_large(ctx.probe, ctx.limits):
            return  # the zip analyzer reports the limit
        with ctx.open() as stream:
            try:
                archive = _open_zip(stream)
            except _member_errors():
                return  # not a readable zip: the zip analyzer reports it
            with archive:
                names = archive.namelist()
                if len(names) > ctx.limits.max_members or "config.json" not in names:
                    return
                if not any(n in names for n in ("metadata.json", "model.weights.h5")):
                    return
                ctx.set_property("framework", "keras")
                yield from KerasArchiveAnalyzer()._json(
                    ctx, archive, archive.getinfo("config.json"), ctx.child_member("config.json")
                )
