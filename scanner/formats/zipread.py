"""A lenient, bounded zip reader: the central directory, local headers and member streams.

It reads archives the way PyTorch's reader (miniz, built without CRC checks) does: the central
directory is authoritative for names and sizes, data descriptors and ZIP64 records are followed, and a
bad CRC, odd flag bits or a local header that disagrees with the directory do not stop reading. Each such
irregularity is recorded as a :class:`ZipProblem` for the analyzer to report, because a stricter reader
(Python's ``zipfile``, most scanners) refuses or skips the member that a loader still reads.

Nothing is held in memory beyond the central directory (bounded by the caller) and one chunk at a time.
Stored members are exposed as windows over the archive; compressed ones as bounded decompressing readers.
"""

from __future__ import annotations

import bz2
import io
import lzma
import stat
import struct
import zlib
from dataclasses import dataclass, field
from typing import Any, BinaryIO

EOCD_SIG = b"PK\x05\x06"
ZIP64_LOCATOR_SIG = b"PK\x06\x07"
ZIP64_EOCD_SIG = b"PK\x06\x06"
CENTRAL_SIG = b"PK\x01\x02"
LOCAL_SIG = b"PK\x03\x04"

_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_CENTRAL = struct.Struct("<4s6H3L5H2L")
_LOCAL = struct.Struct("<4s5H3L2H")

MAX_COMMENT = 0xFFFF
STORED, DEFLATED, BZIP2, LZMA = 0, 8, 12, 14
METHOD_NAMES = {STORED: "stored", DEFLATED: "deflate", BZIP2: "bzip2", LZMA: "lzma"}

FLAG_ENCRYPTED = 0x0001
FLAG_DESCRIPTOR = 0x0008
FLAG_UTF8 = 0x0800
_FLAG_COMPRESSION_OPTIONS = 0x0006
_FLAG_LZMA_EOS = 0x0002
_ORDINARY_FLAGS = FLAG_DESCRIPTOR | FLAG_UTF8 | _FLAG_COMPRESSION_OPTIONS
"""Flag bits ordinary writers set: data descriptor, UTF-8 names, deflate/LZMA options."""

_UNIX = 3


class ZipFormatError(Exception):
    """The archive's directory cannot be found or read at all."""


@dataclass(frozen=True)
class ZipProblem:
    """An irregularity met while reading; the analyzer maps ``kind`` to a rule."""

    kind: str
    """``malformed``, ``limit``, ``prepended``, ``count``, ``name_mismatch``, ``header_mismatch``, ``flags``,
    ``overlap`` or ``duplicate``."""
    detail: str
    """Human explanation."""
    name: str | None = None
    """The member concerned (central directory name), if any."""


@dataclass(frozen=True)
class ZipEntry:
    """One central directory record, with ZIP64 sizes resolved."""

    index: int
    """Position in the central directory."""
    name: str
    """Name from the central directory (UTF-8 when flagged, else code page 437)."""
    flags: int
    """General purpose bit flags."""
    method: int
    """Compression method."""
    crc: int
    """CRC-32 the directory claims for the uncompressed data."""
    compressed_size: int
    """Bytes of (possibly compressed) data."""
    size: int
    """Uncompressed bytes."""
    header_offset: int
    """Absolute offset of the local header (prepended bytes accounted for)."""
    create_system: int
    """Host system that wrote the entry (3 is Unix)."""
    external_attr: int
    """External attributes (Unix mode in the high 16 bits)."""

    @property
    def is_dir(self) -> bool:
        """Directory entry (name ending with a slash)."""
        return self.name.endswith("/")

    @property
    def is_symlink(self) -> bool:
        """Unix symbolic link: the content is the link target."""
        return self.create_system == _UNIX and stat.S_ISLNK(self.external_attr >> 16)


@dataclass(frozen=True)
class LocalHeader:
    """A member's local header, as far as the reader needs it."""

    name: str
    """Name in the local header."""
    flags: int
    """Flag bits in the local header."""
    method: int
    """Compression method in the local header."""
    crc: int
    """CRC-32 in the local header (0 with a data descriptor)."""
    compressed_size: int
    """Compressed size in the local header (0 with a data descriptor)."""
    size: int
    """Uncompressed size in the local header (0 with a data descriptor)."""
    data_offset: int
    """Absolute offset of the member's data."""


@dataclass
class ZipDirectory:
    """The archive as its central directory describes it."""

    entries: list[ZipEntry]
    """Entries in directory order (at most the reader's entry limit)."""
    problems: list[ZipProblem] = field(default_factory=list)
    """Irregularities found in the directory itself."""
    base_offset: int = 0
    """Bytes before the archive proper (a prepended file); offsets in entries already include them."""
    zip64: bool = False
    """Whether ZIP64 end records were used."""
    declared_entries: int = 0
    """Entry count the end record claims."""


def _decode_name(raw: bytes, flags: int) -> str:
    if flags & FLAG_UTF8:
        return raw.decode("utf-8", "replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp437")


def _zip64_extra(extra: bytes, want: list[str]) -> dict[str, int]:
    """Values of the ZIP64 extended information field for the fields set to their maximum."""
    out: dict[str, int] = {}
    pos = 0
    while pos + 4 <= len(extra):
        tag, length = struct.unpack_from("<2H", extra, pos)
        body = extra[pos + 4 : pos + 4 + length]
        if tag == 1:
            offset = 0
            for key in want:
                size = 4 if key == "disk" else 8
                if offset + size > len(body):
                    break
                out[key] = int.from_bytes(body[offset : offset + size], "little")
                offset += size
            return out
        pos += 4 + length
    return out


def _read_at(stream: BinaryIO, offset: int, length: int) -> bytes:
    stream.seek(offset)
    return stream.read(length)


def _find_eocd(stream: BinaryIO, size: int) -> tuple[int, tuple[Any, ...]]:
    start = max(0, size - (_EOCD.size + MAX_COMMENT))
    tail = _read_at(stream, start, size - start)
    pos = tail.rfind(EOCD_SIG)
    while pos >= 0:
        if pos + _EOCD.size <= len(tail):
            return start + pos, _EOCD.unpack_from(tail, pos)
        pos = tail.rfind(EOCD_SIG, 0, pos)
    raise ZipFormatError("no end of central directory record")


def read_directory(stream: BinaryIO, size: int, max_entries: int, max_directory_bytes: int) -> ZipDirectory:
    """Read the central directory of the archive in ``stream`` (``size`` bytes).

    At most ``max_entries`` entries and ``max_directory_bytes`` bytes of directory are read; going over
    is recorded as a ``limit`` problem. Raises :class:`ZipFormatError` when no directory can be read.
    """
    eocd_pos, eocd = _find_eocd(stream, size)
    _, _disk, _cd_disk, _n_disk, n_total, cd_size, cd_offset, _comment_len = eocd
    directory = ZipDirectory(entries=[])
    cd_end = eocd_pos
    locator_pos = eocd_pos - _ZIP64_LOCATOR.size
    if locator_pos >= 0:
        raw = _read_at(stream, locator_pos, _ZIP64_LOCATOR.size)
        if raw[:4] == ZIP64_LOCATOR_SIG:
            _, _, record_offset, _ = _ZIP64_LOCATOR.unpack(raw)
            # The locator's offset ignores prepended bytes; the record sits just before the locator.
            record_pos = locator_pos - _ZIP64_EOCD.size
            record = _read_at(stream, record_pos, _ZIP64_EOCD.size) if record_pos >= 0 else b""
            if record[:4] != ZIP64_EOCD_SIG and 0 <= record_offset < size:
                record_pos = record_offset
                record = _read_at(stream, record_pos, _ZIP64_EOCD.size)
            if len(record) == _ZIP64_EOCD.size and record[:4] == ZIP64_EOCD_SIG:
                fields = _ZIP64_EOCD.unpack(record)
                n_total, cd_size, cd_offset = fields[7], fields[8], fields[9]
                cd_end = record_pos
                directory.zip64 = True
            else:
                directory.problems.append(
                    ZipProblem("malformed", "ZIP64 locator present but its end record is missing")
                )
    directory.declared_entries = n_total
    # Where the directory really starts: stated offset, else shifted by bytes prepended to the archive.
    base = 0
    if _read_at(stream, cd_offset, 4) != CENTRAL_SIG or cd_offset + cd_size > cd_end:
        shifted = cd_end - cd_size
        if shifted >= 0 and (_read_at(stream, shifted, 4) == CENTRAL_SIG or cd_size == 0):
            base = shifted - cd_offset
        elif n_total:
            raise ZipFormatError(f"central directory not found at offset {cd_offset} or {shifted}")
    if base < 0:
        raise ZipFormatError("central directory offset points past its own position")
    if base:
        directory.base_offset = base
        directory.problems.append(
            ZipProblem("prepended", f"{base} bytes precede the archive (offsets are shifted by them)")
        )
    if cd_size > max_directory_bytes:
        directory.problems.append(
            ZipProblem("limit", f"central directory of {cd_size} bytes exceeds {max_directory_bytes}")
        )
        cd_size = max_directory_bytes
    data = _read_at(stream, cd_offset + base, cd_size)
    _parse_entries(data, directory, base, max_entries)
    if len(directory.entries) < max_entries and len(directory.entries) != n_total:
        directory.problems.append(
            ZipProblem(
                "count",
                f"end record declares {n_total} entries, the directory holds {len(directory.entries)}",
            )
        )
    return directory


def _parse_entries(data: bytes, directory: ZipDirectory, base: int, max_entries: int) -> None:
    pos = 0
    while pos + _CENTRAL.size <= len(data) and data[pos : pos + 4] == CENTRAL_SIG:
        if len(directory.entries) >= max_entries:
            directory.problems.append(
                ZipProblem("limit", f"more than {max_entries} entries; the rest were not read")
            )
            return
        (_, made_by, _needed, flags, method, _time, _date, crc, csize, usize, n_len, e_len, c_len,
         _disk, _iattr, eattr, offset) = _CENTRAL.unpack_from(data, pos)  # fmt: skip
        start = pos + _CENTRAL.size
        raw_name = data[start : start + n_len]
        extra = data[start + n_len : start + n_len + e_len]
        if start + n_len + e_len + c_len > len(data):
            directory.problems.append(ZipProblem("malformed", "central directory record is truncated"))
            return
        want = [k for k, v in (("size", usize), ("csize", csize), ("offset", offset)) if v == 0xFFFFFFFF]
        if want:
            big = _zip64_extra(extra, want)
            usize, csize, offset = big.get("size", usize), big.get("csize", csize), big.get("offset", offset)
        directory.entries.append(
            ZipEntry(
                index=len(directory.entries),
                name=_decode_name(raw_name, flags),
                flags=flags,
                method=method,
                crc=crc,
                compressed_size=csize,
                size=usize,
                header_offset=offset + base,
                create_system=made_by >> 8,
                external_attr=eattr,
            )
        )
        pos = start + n_len + e_len + c_len
    if pos < len(data):
        directory.problems.append(
            ZipProblem("malformed", f"central directory has {len(data) - pos} unreadable bytes at the end")
        )


def read_local_header(stream: BinaryIO, entry: ZipEntry) -> LocalHeader:
    """The local header of ``entry``; raises :class:`ZipFormatError` when it is missing."""
    raw = _read_at(stream, entry.header_offset, _LOCAL.size)
    if len(raw) < _LOCAL.size or raw[:4] != LOCAL_SIG:
        raise ZipFormatError(f"no local header at offset {entry.header_offset}")
    _, _version, flags, method, _time, _date, crc, csize, usize, n_len, e_len = _LOCAL.unpack(raw)
    names = _read_at(stream, entry.header_offset + _LOCAL.size, n_len + e_len)
    if csize == 0xFFFFFFFF or usize == 0xFFFFFFFF:
        big = _zip64_extra(names[n_len:], ["size", "csize"])
        usize, csize = big.get("size", usize), big.get("csize", csize)
    return LocalHeader(
        name=_decode_name(names[:n_len], flags),
        flags=flags,
        method=method,
        crc=crc,
        compressed_size=csize,
        size=usize,
        data_offset=entry.header_offset + _LOCAL.size + n_len + e_len,
    )


def compare_headers(entry: ZipEntry, local: LocalHeader) -> list[ZipProblem]:
    """Disagreements between the central directory and the local header, and unusual flag bits."""
    problems: list[ZipProblem] = []
    if local.name != entry.name:
        problems.append(
            ZipProblem(
                "name_mismatch",
                f"local header names {local.name!r}, central directory {entry.name!r}",
                entry.name,
            )
        )
    differing = []
    if local.method != entry.method:
        differing.append(f"method {local.method} vs {entry.method}")
    if local.flags != entry.flags:
        differing.append(f"flags {local.flags:#06x} vs {entry.flags:#06x}")
    if not (local.flags & FLAG_DESCRIPTOR):
        for label, mine, theirs in (
            ("crc", local.crc, entry.crc),
            ("compressed size", local.compressed_size, entry.compressed_size),
            ("size", local.size, entry.size),
        ):
            if mine != theirs:
                differing.append(f"{label} {mine} vs {theirs}")
    if differing:
        problems.append(
            ZipProblem(
                "header_mismatch", "local header vs central directory: " + "; ".join(differing), entry.name
            )
        )
    if "\0" in entry.name:
        problems.append(
            ZipProblem(
                "name_mismatch",
                f"name {entry.name!r} holds a NUL byte: Python's zipfile reads it as "
                f"{entry.name.split(chr(0))[0]!r}, C readers (miniz, PyTorch) as the whole name",
                entry.name,
            )
        )
    odd = (entry.flags | local.flags) & ~_ORDINARY_FLAGS
    if odd:
        what = "encryption" if odd & FLAG_ENCRYPTED else "unusual"
        problems.append(
            ZipProblem("flags", f"{what} flag bits {odd:#06x} set (read as if unset)", entry.name)
        )
    return problems


def unsafe_member_name(name: str) -> str | None:
    """Why a member name would escape an extraction directory (absolute, drive, ``..``), or ``None``."""
    norm = name.replace("\\", "/")
    if norm.startswith("/"):
        return "absolute path"
    if len(norm) > 1 and norm[1] == ":" and norm[0].isalpha():
        return "drive-letter path"
    if ".." in norm.split("/"):
        return "'..' component"
    return None


def link_escapes(member: str, target: str) -> bool:
    """Whether a link at ``member`` pointing to ``target`` resolves outside the archive root."""
    norm = target.replace("\\", "/")
    if norm.startswith("/") or (len(norm) > 1 and norm[1] == ":" and norm[0].isalpha()):
        return True
    depth = len([p for p in member.replace("\\", "/").split("/")[:-1] if p not in ("", ".")])
    for part in norm.split("/"):
        if part == "..":
            depth -= 1
            if depth < 0:
                return True
        elif part not in ("", "."):
            depth += 1
    return False


class _ZipLzma:
    """The zip flavour of LZMA: a 4-byte version/properties-size header, properties, then raw LZMA1."""

    def __init__(self) -> None:
        self._pending = b""
        self._inner: Any = None
        self.eof = False

    def decompress(self, data: bytes, max_length: int = -1) -> bytes:
        if self._inner is None:
            self._pending += data
            if len(self._pending) < 4:
                return b""
            (psize,) = struct.unpack_from("<H", self._pending, 2)
            if len(self._pending) < 4 + psize:
                return b""
            props = self._pending[4 : 4 + psize]
            filters = [lzma._decode_filter_properties(lzma.FILTER_LZMA1, props)]  # type: ignore[attr-defined]
            self._inner = lzma.LZMADecompressor(lzma.FORMAT_RAW, filters=filters)
            data = self._pending[4 + psize :]
            self._pending = b""
        out: bytes = self._inner.decompress(data, max_length)
        self.eof = bool(self._inner.eof)
        return out

    @property
    def needs_input(self) -> bool:
        return self._inner is None or bool(self._inner.needs_input)


class Inflater(io.RawIOBase):
    """Decompresses a member's data (from a window) chunk by chunk, computing the CRC as it goes.

    Raises :class:`ZipFormatError` on corrupt data; ``overflow`` tells whether output went on past
    ``limit`` (reading stops there), ``eof`` whether the compressed stream ended properly.
    """

    def __init__(self, source: BinaryIO, method: int, limit: int) -> None:
        self._source = source
        self._limit = limit
        self._produced = 0
        self._buffer = b""
        self.crc = 0
        self.overflow = False
        self.eof = False
        self._d: Any
        self._zlib = method == DEFLATED
        if method == DEFLATED:
            self._d = zlib.decompressobj(-15)
        elif method == BZIP2:
            self._d = bz2.BZ2Decompressor()
        elif method == LZMA:
            self._d = _ZipLzma()
        else:
            raise ZipFormatError(f"unsupported compression method {method}")

    def readable(self) -> bool:
        return True

    def _fill(self, want: int) -> None:
        try:
            while len(self._buffer) < want and not self.eof:
                room = want - len(self._buffer)
                if self._zlib:
                    data = self._d.unconsumed_tail or self._source.read(1 << 16)
                    if not data:
                        raise ZipFormatError("compressed data ends early")
                    out = self._d.decompress(data, room)
                else:
                    data = self._source.read(1 << 16) if self._d.needs_input else b""
                    if not data and self._d.needs_input:
                        raise ZipFormatError("compressed data ends early")
                    out = self._d.decompress(data, room)
                self.eof = bool(self._d.eof)
                self._buffer += out
        except (zlib.error, OSError, EOFError, lzma.LZMAError, ValueError) as exc:
            raise ZipFormatError(f"corrupt compressed data: {exc}") from None

    def readinto(self, buffer: Any) -> int:
        room = self._limit - self._produced
        if room <= 0:
            if not self.overflow:
                self._fill(1)
                self.overflow = bool(self._buffer)
            return 0
        want = min(len(buffer), room)
        self._fill(want)
        chunk, self._buffer = self._buffer[:want], self._buffer[want:]
        n = len(chunk)
        buffer[:n] = chunk
        self._produced += n
        self.crc = zlib.crc32(chunk, self.crc)
        return n


def crc_of(stream: BinaryIO, length: int, chunk: int = 1 << 20) -> int:
    """CRC-32 of the next ``length`` bytes of ``stream``."""
    crc = 0
    left = length
    while left > 0:
        data = stream.read(min(chunk, left))
        if not data:
            break
        crc = zlib.crc32(data, crc)
        left -= len(data)
    return crc
