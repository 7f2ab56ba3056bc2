"""An installed environment: the ``Name``/``Version`` headers of every ``*.dist-info/METADATA``.

The environment's interpreter is never started (its ``.pth`` files and ``sitecustomize`` would run), and
nothing in it is imported: only the metadata headers are read, each bounded.
"""

from __future__ import annotations

import email.parser
import os
from pathlib import Path

from scanner.deps.interface import (
    Dependency,
    DependencySource,
    DependencySourceError,
    SourceProblem,
    SourceResult,
)

MAX_METADATA_HEADER = 64 * 1024
"""Bytes of a METADATA file read (the headers come first; the long description is not needed)."""
MAX_DISTRIBUTIONS = 20_000
"""Distributions read from one environment."""


def site_packages_dirs(root: Path) -> list[Path]:
    """The site-packages directories of a venv/prefix, or ``root`` itself when it holds dist-info."""
    found: list[Path] = []
    for pattern in ("lib/python*/site-packages", "lib64/python*/site-packages", "Lib/site-packages"):
        found.extend(p for p in sorted(root.glob(pattern)) if p.is_dir() and not p.is_symlink())
    if not found and any(root.glob("*.dist-info")):
        found.append(root)
    return found


def _read_headers(path: Path) -> tuple[str | None, str | None]:
    with path.open("rb") as f:
        head = f.read(MAX_METADATA_HEADER)
    text = head.decode("utf-8", "replace").split("\n\n", 1)[0]
    message = email.parser.HeaderParser().parsestr(text)
    return message.get("Name"), message.get("Version")


class InstalledSource(DependencySource):
    """The distributions installed in a virtual environment or a site-packages directory."""

    name = "installed"

    def __init__(self, root: Path, display: str | None = None) -> None:
        self.root = root
        self.display = display or str(root)

    def collect(self) -> SourceResult:
        if not self.root.is_dir():
            raise DependencySourceError(f"{self.display}: not a directory")
        dirs = site_packages_dirs(self.root)
        if not dirs:
            raise DependencySourceError(
                f"{self.display}: no site-packages with *.dist-info found "
                "(give a venv or a site-packages dir)"
            )
        deps: list[Dependency] = []
        problems: list[SourceProblem] = []
        files: list[str] = []
        for site in dirs:
            names = sorted(n for n in os.listdir(site) if n.endswith(".dist-info"))
            for name in names:
                if len(deps) >= MAX_DISTRIBUTIONS:
                    problems.append(
                        SourceProblem("limit", f"{self.display}: more than {MAX_DISTRIBUTIONS} distributions")
                    )
                    return SourceResult(tuple(deps), tuple(problems), tuple(files))
                metadata = site / name / "METADATA"
                shown = str(metadata.relative_to(self.root)) if site != self.root else f"{name}/METADATA"
                shown = f"{self.display.rstrip('/')}/{shown}"
                if not metadata.is_file():
                    problems.append(SourceProblem("malformed", f"{shown}: missing", self.display))
                    continue
                try:
                    dist, version = _read_headers(metadata)
                except OSError as exc:
                    problems.append(
                        SourceProblem("malformed", f"{shown}: {exc.strerror or exc}", self.display)
                    )
                    continue
                if not dist or not version:
                    problems.append(
                        SourceProblem("malformed", f"{shown}: no Name or Version header", self.display)
                    )
                    continue
                files.append(shown)
                deps.append(
                    Dependency(
                        name=dist.strip(),
                        version=version.strip(),
                        specifier=f"=={version.strip()}",
                        source=shown,
                        origin="installed",
                        hashable=False,
                    )
                )
        return SourceResult(tuple(deps), tuple(problems), tuple(files))
