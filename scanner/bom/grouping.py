"""Group scanned files into models: a directory holding at least one model-format file is one model,
owning every file below it that no deeper model directory owns; a model file named on its own is a
model by itself. Other files stay outside any model."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from scanner.model import ScanResult

MODEL_FORMATS = frozenset(
    {
        "safetensors",
        "pickle",
        "compressed-pickle",
        "pytorch",
        "pytorch-zip",
        "pytorch-legacy",
        "pytorch-tar",
        "torchscript",
        "torch",
        "numpy",
        "npy",
        "npz",
        "joblib",
        "onnx",
        "gguf",
        "keras",
        "hdf5",
        "tensorflow",
    }
)
"""Formats whose files hold a model (weights or graph)."""
_HF_SNAPSHOT = re.compile(r"(?:^|.*/)(models--([^/]+)--([^/]+))/snapshots/([^/]+)$")
"""A Hugging Face cache snapshot directory: ``models--ORG--NAME/snapshots/REVISION``."""
_HF_BLOB = re.compile(r"(?:^|.*/)(models--[^/]+--[^/]+)/blobs/[^/]+$")


def is_model_file(result: ScanResult) -> bool:
    """Whether a scanned file holds a model: a model format, or tensors recorded by its analyzer.

    A ``config.json`` naming its framework is not a model by itself: it describes one."""
    return result.format in MODEL_FORMATS or "tensor_count" in result.properties


@dataclass
class ModelGroup:
    """One model: its directory (relative to the scanned root) and its files."""

    root: str
    """The scanned root it came from."""
    directory: str
    """POSIX directory relative to the root (``""`` for the root itself)."""
    standalone: bool
    """A model file named directly on the command line (not a directory)."""
    files: list[ScanResult] = field(default_factory=list)
    """Its files, in scan order."""

    @property
    def name(self) -> str:
        """The model's name: its directory's (or file's) name; ``ORG/NAME`` for a Hugging Face cache
        snapshot."""
        if self.standalone:
            return self.files[0].artifact.relpath
        snapshot = _HF_SNAPSHOT.match(self.directory)
        if snapshot:
            return f"{snapshot.group(2)}/{snapshot.group(3)}"
        if self.directory:
            return posixpath.basename(self.directory)
        return posixpath.basename(self.root.rstrip("/")) or self.root

    @property
    def version(self) -> str | None:
        """The revision of a Hugging Face cache snapshot."""
        snapshot = _HF_SNAPSHOT.match(self.directory) if not self.standalone else None
        return snapshot.group(4) if snapshot else None

    def file(self, name: str) -> ScanResult | None:
        """The file of this model directly in its directory with this name, if scanned."""
        wanted = posixpath.join(self.directory, name) if self.directory else name
        return next((r for r in self.files if r.artifact.relpath == wanted), None)


def _cache_duplicates(results: tuple[ScanResult, ...]) -> set[int]:
    """Hugging Face cache blobs that a snapshot of the same repository already lists (same bytes)."""
    in_snapshots = set()
    for r in results:
        snapshot = _HF_SNAPSHOT.match(posixpath.dirname(r.artifact.relpath))
        if snapshot and r.digests is not None:
            in_snapshots.add((r.artifact.root, snapshot.group(1), r.digests.sha256))
    duplicates = set()
    for r in results:
        blob = _HF_BLOB.match(r.artifact.relpath)
        if (
            blob
            and r.digests is not None
            and (r.artifact.root, blob.group(1), r.digests.sha256) in in_snapshots
        ):
            duplicates.add(id(r))
    return duplicates


def group_models(results: tuple[ScanResult, ...]) -> tuple[list[ModelGroup], list[ScanResult]]:
    """The models, and the files that belong to none. In a Hugging Face cache, a blob that a snapshot
    lists under its real name is left out (it is the same file)."""
    duplicates = _cache_duplicates(results)
    results = tuple(r for r in results if id(r) not in duplicates)
    groups: dict[tuple[str, str], ModelGroup] = {}
    for result in results:
        if result.digests is None or not is_model_file(result):
            continue
        art = result.artifact
        standalone = art.root == art.path
        directory = "" if standalone else posixpath.dirname(art.relpath)
        key = (art.root, art.relpath if standalone else directory)
        groups.setdefault(key, ModelGroup(art.root, directory, standalone))
    loose: list[ScanResult] = []
    for result in results:
        art = result.artifact
        owner = _owner(groups, art.root, art.relpath, art.root == art.path)
        if owner is None or result.digests is None:
            loose.append(result)
        else:
            owner.files.append(result)
    return [g for g in groups.values() if g.files], loose


def _owner(
    groups: dict[tuple[str, str], ModelGroup], root: str, relpath: str, standalone: bool
) -> ModelGroup | None:
    if standalone:
        return groups.get((root, relpath))
    directory = posixpath.dirname(relpath)
    while True:
        group = groups.get((root, directory))
        if group is not None and not group.standalone:
            return group
        if not directory:
            return None
        directory = posixpath.dirname(directory)
