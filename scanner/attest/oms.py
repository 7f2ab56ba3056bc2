"""The OpenSSF model signature (OMS): predicate ``https://model_signing/signature/v1.0``.

Byte-compatible with ``model_signing`` 1.1: the statement has one subject named after the model (the
final path component) whose SHA-256 is computed over the raw bytes of every resource digest in manifest
order; the predicate holds ``serialization`` (``method`` ``files`` or ``shards``, ``hash_type``,
``allow_symlinks``, ``shard_size`` for shards, ``ignore_paths``) and ``resources`` (``name``,
``algorithm``, ``digest`` hex). Resource names are POSIX paths relative to the model directory (``.``
for a single-file model); a shard is ``path:start:end``. Manifest order is ``pathlib`` order (path
components compared as strings), then shard start. Every digest comes from :mod:`scanner.hashing`.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from scanner.attest.errors import AttestError, VerificationError
from scanner.hashing import HashError, hash_file
from scanner.model import Digests

PREDICATE_TYPE = "https://model_signing/signature/v1.0"
PREDICATE_TYPE_COMPAT = "https://model_signing/Digests/v0.1"
STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
GIT_PATHS = (".git", ".gitattributes", ".github", ".gitignore")
"""Ignored by default, as ``model_signing`` does."""
MAX_FILES = 1_000_000


class ModelReadError(Exception):
    """A model file could not be listed or read (I/O error, refused symlink, special file)."""


@dataclass(frozen=True)
class Serialization:
    """How a model is turned into a manifest."""

    method: str = "files"
    """``files`` (one digest per file) or ``shards`` (one per ``shard_size`` bytes of each file)."""
    hash_type: str = "sha256"
    """``sha256`` or ``blake3`` (BLAKE3 is never sharded, as in ``model_signing``)."""
    shard_size: int = 1_000_000_000
    """Shard size for ``shards``."""
    allow_symlinks: bool = False
    """Follow symlinks instead of refusing them."""
    ignore_paths: tuple[str, ...] = ()
    """POSIX paths relative to the model directory; a directory ignores everything under it."""

    def parameters(self) -> dict[str, Any]:
        """The ``serialization`` object of the predicate."""
        out: dict[str, Any] = {"method": self.method, "hash_type": self.hash_type}
        if self.method == "shards":
            out["shard_size"] = self.shard_size
        out["allow_symlinks"] = self.allow_symlinks
        if self.ignore_paths:
            out["ignore_paths"] = list(self.ignore_paths)
        return out

    @classmethod
    def from_parameters(cls, args: Any) -> Serialization:
        """Read a predicate's ``serialization``; raises :class:`VerificationError` on unknown settings."""
        if not isinstance(args, dict):
            raise VerificationError("model signature: serialization is not an object")
        method = args.get("method")
        hash_type = args.get("hash_type")
        if method not in ("files", "shards") or hash_type not in ("sha256", "blake3"):
            raise VerificationError(f"model signature: unsupported serialization {method}/{hash_type}")
        ignore = args.get("ignore_paths") or []
        if not isinstance(ignore, list) or not all(isinstance(p, str) for p in ignore):
            raise VerificationError("model signature: ignore_paths is not a list of strings")
        shard = args.get("shard_size", 1_000_000_000)
        # model_signing writes protobuf JSON, where integers come out as floats (64.0)
        if isinstance(shard, float) and shard.is_integer():
            shard = int(shard)
        if method == "shards" and (not isinstance(shard, int) or shard <= 0):
            raise VerificationError("model signature: bad shard_size")
        return cls(method, hash_type, int(shard), bool(args.get("allow_symlinks", False)), tuple(ignore))


@dataclass(frozen=True)
class Manifest:
    """Resource name -> (algorithm, hex digest), plus the model name and serialization."""

    model_name: str
    """Final component of the model path (informative only)."""
    serialization: Serialization
    """The settings used."""
    resources: dict[str, tuple[str, str]] = field(default_factory=dict)
    """In manifest order."""

    def root_digest(self) -> str:
        """SHA-256 over the raw digests in manifest order: the subject's digest."""
        h = hashlib.sha256()
        for _, digest in self.resources.values():
            h.update(bytes.fromhex(digest))
        return h.hexdigest()


def resource_key(name: str, shards: bool) -> tuple[tuple[str, ...], int, int]:
    """Manifest order of a resource name: path components, then shard start and end."""
    if shards:
        path, _, rest = name.rpartition(":")
        path, _, start = path.rpartition(":")
        if start.isdigit() and rest.isdigit():
            return PurePosixPath(path).parts, int(start), int(rest)
    return PurePosixPath(name).parts, -1, -1


def resource_file(name: str, shards: bool) -> str:
    """The file a resource belongs to (a shard's file, or the name itself)."""
    parts, start, _ = resource_key(name, shards)
    return "/".join(parts) if start >= 0 else name


def is_ignored(rel: str, ignore: Iterable[str]) -> bool:
    """Whether a relative POSIX path is an ignored path or lies under one."""
    for path in ignore:
        p = path.strip("/")
        if p in ("", "."):
            continue
        if rel == p or rel.startswith(p + "/"):
            return True
    return False


def list_model_files(model: Path, serialization: Serialization) -> Iterator[tuple[str, Path]]:
    """``(relative POSIX name, path)`` of every file of the model, ignored paths left out.

    A single file is named ``.``. Symlinks are refused unless allowed (then followed); special files
    are refused; at most :data:`MAX_FILES` files.
    """
    try:
        st = os.lstat(model)
    except OSError as exc:
        raise AttestError(f"{model}: {exc.strerror or exc}") from None
    if stat.S_ISLNK(st.st_mode) and not serialization.allow_symlinks:
        raise ModelReadError(f"{model} is a symlink (use --allow-symlinks to follow it)")
    if not model.is_dir():
        if not model.is_file():
            raise ModelReadError(f"{model}: not a regular file or directory (FIFO, device, socket): refused")
        yield ".", model
        return
    count = 0
    stack = [(model, "")]
    while stack:
        directory, rel_dir = stack.pop()
        try:
            names = sorted(os.listdir(directory))
        except OSError as exc:
            raise ModelReadError(f"{directory}: {exc.strerror or exc}") from None
        for name in reversed(names):
            path = directory / name
            rel = f"{rel_dir}/{name}" if rel_dir else name
            if is_ignored(rel, serialization.ignore_paths):
                continue
            try:
                lst = os.lstat(path)
            except OSError as exc:
                raise ModelReadError(f"{rel}: {exc.strerror or exc}") from None
            if stat.S_ISLNK(lst.st_mode) and not serialization.allow_symlinks:
                raise ModelReadError(f"{rel} is a symlink (use --allow-symlinks to follow it)")
            if path.is_dir():
                stack.append((path, rel))
            elif path.is_file():
                count += 1
                if count > MAX_FILES:
                    raise ModelReadError(f"{model}: more than {MAX_FILES} files")
                yield rel, path
            else:
                raise ModelReadError(f"{rel} is not a regular file (FIFO, device or socket): refused")


def _hash_one(path: Path, shard_size: int | None) -> Digests:
    try:
        return hash_file(path, shard_size=shard_size)
    except HashError as exc:
        raise ModelReadError(str(exc)) from None


def compute_manifest(model: Path, serialization: Serialization, jobs: int | None = None) -> Manifest:
    """Hash every file of the model as the serialization says (streaming, one pass per file; ``jobs``
    files at once, by default as many as there are cores, at most 4)."""
    items: list[tuple[str, tuple[str, str]]] = []
    shards = serialization.method == "shards" and serialization.hash_type == "sha256"
    shard_size = serialization.shard_size if shards else None
    files = list(list_model_files(model, serialization))
    workers = jobs or min(4, os.cpu_count() or 1)
    if workers > 1 and len(files) > 1:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            hashed = list(pool.map(lambda item: _hash_one(item[1], shard_size), files))
    else:
        hashed = [_hash_one(path, shard_size) for _, path in files]
    for (rel, _), digests in zip(files, hashed, strict=True):
        if shards:
            for shard in digests.shards:
                if shard.length:
                    name = f"{rel}:{shard.offset}:{shard.offset + shard.length}"
                    items.append((name, (f"sha256-sharded-{serialization.shard_size}", shard.sha256)))
        else:
            value = digests.blake3 if serialization.hash_type == "blake3" else digests.sha256
            items.append((rel, (serialization.hash_type, value)))
    items.sort(key=lambda item: resource_key(item[0], shards))
    name = model.name or model.resolve().name
    return Manifest(name, serialization, dict(items))


def statement(manifest: Manifest) -> dict[str, Any]:
    """The in-toto statement ``model_signing`` signs for this manifest."""
    return {
        "_type": STATEMENT_TYPE,
        "subject": [{"name": manifest.model_name, "digest": {"sha256": manifest.root_digest()}}],
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "serialization": manifest.serialization.parameters(),
            "resources": [
                {"name": name, "algorithm": algorithm, "digest": digest}
                for name, (algorithm, digest) in manifest.resources.items()
            ],
        },
    }


def statement_bytes(manifest: Manifest) -> bytes:
    """The statement as the signed JSON payload."""
    return json.dumps(statement(manifest), indent=2).encode("utf-8")


def manifest_from_statement(data: dict[str, Any]) -> Manifest:
    """The signed manifest; checks that the subject digest matches the resources."""
    kind = data.get("predicateType")
    predicate = data.get("predicate")
    subjects = data.get("subject")
    if not isinstance(subjects, list):
        raise VerificationError("model signature: statement has no subject list")
    if kind == PREDICATE_TYPE_COMPAT:
        resources = {}
        for s in subjects:
            digest = s.get("digest") if isinstance(s, dict) else None
            if not isinstance(digest, dict) or not isinstance(digest.get("sha256"), str):
                raise VerificationError("model signature: a subject lacks a sha256 digest")
            resources[str(s.get("name"))] = ("sha256", digest["sha256"].lower())
        return Manifest("compat", Serialization(), resources)
    if kind != PREDICATE_TYPE or not isinstance(predicate, dict):
        raise VerificationError(f"not a model signature (predicate type {kind!r})")
    if len(subjects) != 1 or not isinstance(subjects[0], dict):
        raise VerificationError(f"model signature: expected one subject, got {len(subjects)}")
    serialization = Serialization.from_parameters(predicate.get("serialization"))
    items: dict[str, tuple[str, str]] = {}
    listed = predicate.get("resources") or []
    if not isinstance(listed, list):
        raise VerificationError("model signature: resources is not a list")
    for resource in listed:
        if not isinstance(resource, dict):
            raise VerificationError("model signature: a resource is not an object")
        name, algorithm, digest = resource.get("name"), resource.get("algorithm"), resource.get("digest")
        if not (isinstance(name, str) and isinstance(algorithm, str) and isinstance(digest, str)):
            raise VerificationError("model signature: a resource lacks name, algorithm or digest")
        try:
            bytes.fromhex(digest)
        except ValueError:
            raise VerificationError(f"model signature: digest of {name} is not hex") from None
        items[name] = (algorithm, digest.lower())
    manifest = Manifest(str(subjects[0].get("name", "")), serialization, items)
    subject_digest = subjects[0].get("digest")
    expected = str(subject_digest.get("sha256", "")) if isinstance(subject_digest, dict) else ""
    if manifest.root_digest() != expected.lower():
        raise VerificationError(
            "model signature is inconsistent: the resources do not hash to the subject digest"
        )
    return manifest


def default_ignore(model: Path, signature: Path | None, extra: Iterable[str] = ()) -> tuple[str, ...]:
    """Ignored paths for signing: the signature file when it lies in the model, git files, ``extra``."""
    paths = list(extra)
    if signature is not None and model.is_dir():
        try:
            rel = signature.resolve().relative_to(model.resolve())
        except ValueError:
            rel = None
        if rel is not None:
            paths.append(rel.as_posix())
    if model.is_dir():
        paths.extend(GIT_PATHS)
    return tuple(dict.fromkeys(paths))
