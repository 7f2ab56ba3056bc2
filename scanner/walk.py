"""Turn the paths a user names into the list of files to scan.

Directories are walked recursively in sorted order. A symlink whose target stays inside the scanned root
(as in the Hugging Face cache, where ``snapshots/<rev>/*`` point into ``../../blobs/``) is followed once;
one leaving the root is recorded and not followed. FIFOs, devices and sockets are refused, and a
directory met twice (a loop) is an error, so every path is listed at most once and nothing can hang.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from scanner.model import Artifact, PathError


@dataclass(frozen=True)
class ExternalLink:
    """A symlink inside a scanned directory whose target leaves the scanned root."""

    path: str
    """Display path of the link."""
    root: str
    """The scanned root."""
    relpath: str
    """Link path relative to the root."""
    target: str
    """What the link points to, as written in the link."""


@dataclass(frozen=True)
class Listing:
    """The files found under the named paths, and what could not be listed."""

    artifacts: tuple[Artifact, ...]
    """Regular files to scan, in order."""
    external_links: tuple[ExternalLink, ...]
    """Links not followed."""
    errors: tuple[PathError, ...]
    """Paths refused or unreadable."""


def _display(root: str, relpath: str) -> str:
    return relpath if root in (".", "") else f"{root.rstrip('/')}/{relpath}"


def _inside(real: str, real_root: str) -> bool:
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def list_artifacts(paths: list[str]) -> Listing:
    """List the regular files under ``paths`` (each a file or a directory)."""
    artifacts: list[Artifact] = []
    links: list[ExternalLink] = []
    errors: list[PathError] = []
    for given in paths:
        try:
            st = os.stat(given)
        except OSError as exc:
            errors.append(PathError(given, f"{given}: {exc.strerror or exc}"))
            continue
        if stat.S_ISREG(st.st_mode):
            name = Path(given).name
            artifacts.append(Artifact(path=given, fs_path=given, root=given, relpath=name, size=st.st_size))
        elif stat.S_ISDIR(st.st_mode):
            _walk_dir(given, artifacts, links, errors)
        else:
            errors.append(
                PathError(
                    given, f"{given}: not a regular file or directory (FIFO, device or socket): refused"
                )
            )
    return Listing(tuple(artifacts), tuple(links), tuple(errors))


def _walk_dir(
    root: str, artifacts: list[Artifact], links: list[ExternalLink], errors: list[PathError]
) -> None:
    real_root = os.path.realpath(root)
    visited: set[tuple[int, int]] = set()

    def visit(fs_dir: str, rel_dir: str) -> None:
        try:
            dst = os.stat(fs_dir)
        except OSError as exc:
            errors.append(PathError(_display(root, rel_dir or "."), f"{fs_dir}: {exc.strerror or exc}"))
            return
        key = (dst.st_dev, dst.st_ino)
        if key in visited:
            shown = _display(root, rel_dir) if rel_dir else root
            errors.append(PathError(shown, f"{shown}: directory loop (already visited): not followed"))
            return
        visited.add(key)
        try:
            names = sorted(os.listdir(fs_dir), key=lambda n: n.encode("utf-8", "surrogateescape"))
        except OSError as exc:
            shown = _display(root, rel_dir) if rel_dir else root
            errors.append(PathError(shown, f"{shown}: {exc.strerror or exc}"))
            return
        for name in names:
            fs_path = os.path.join(fs_dir, name)
            rel = f"{rel_dir}/{name}" if rel_dir else name
            shown = _display(root, rel)
            try:
                lst = os.lstat(fs_path)
            except OSError as exc:
                errors.append(PathError(shown, f"{shown}: {exc.strerror or exc}"))
                continue
            target_path = fs_path
            if stat.S_ISLNK(lst.st_mode):
                real = os.path.realpath(fs_path)
                if not _inside(real, real_root):
                    links.append(ExternalLink(shown, root, rel, os.readlink(fs_path)))
                    continue
                try:
                    st = os.stat(real)
                except OSError as exc:
                    errors.append(PathError(shown, f"{shown}: broken symlink: {exc.strerror or exc}"))
                    continue
                target_path = real
            else:
                st = lst
            if stat.S_ISDIR(st.st_mode):
                visit(target_path, rel)
            elif stat.S_ISREG(st.st_mode):
                artifacts.append(
                    Artifact(path=shown, fs_path=target_path, root=root, relpath=rel, size=st.st_size)
                )
            else:
                errors.append(
                    PathError(shown, f"{shown}: not a regular file (FIFO, device or socket): refused")
                )

    visit(root, "")
