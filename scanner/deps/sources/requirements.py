"""pip requirements files: PEP 508 lines, ``--hash`` pins, markers, ``-r``/``-c`` includes, ``-e`` editables.

The parser is our own (pip's is not a library) and bounded: include depth, files, lines and bytes are
capped, includes are read only from the local file system (never from a URL), and every line that does
not parse becomes a problem naming the file and line, never an exception.
"""

from __future__ import annotations

import os
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

from scanner.deps.interface import (
    Dependency,
    DependencySource,
    DependencySourceError,
    IndexOption,
    SourceProblem,
    SourceResult,
)
from scanner.deps.redaction import redact_dependency_text
from scanner.deps.sources._common import InvalidRequirement, excerpt, from_pep508, read_text

_COMMENT = re.compile(r"(^|\s+)#.*$")
_EGG = re.compile(r"[#&]egg=([A-Za-z0-9][A-Za-z0-9._-]*)")
_WHEEL = re.compile(r"/?([A-Za-z0-9][A-Za-z0-9._]*?)-(\d[^-/]*?)(-\d[^-/]*)?-[^-/]+-[^-/]+-[^-/]+\.whl$")

_INCLUDE = {
    "-r": "requirements",
    "--requirement": "requirements",
    "-c": "constraints",
    "--constraint": "constraints",
}
_EDITABLE = {"-e", "--editable"}
# Options pip accepts in a requirements file that apply to the whole install; values are ignored here.
_GLOBAL_WITH_VALUE = {
    "-i", "--index-url", "--extra-index-url", "-f", "--find-links", "--trusted-host", "--only-binary",
    "--no-binary", "--use-feature", "--config-settings", "--global-option", "--hash",
}  # fmt: skip
_INDEX_OPTIONS = {
    "-i": "--index-url",
    "--index-url": "--index-url",
    "--extra-index-url": "--extra-index-url",
    "-f": "--find-links",
    "--find-links": "--find-links",
    "--trusted-host": "--trusted-host",
}
_GLOBAL_FLAGS = {"--no-index", "--pre", "--prefer-binary", "--require-hashes", "-Z", "--always-unzip"}
_PER_REQUIREMENT = {"--hash", "--config-settings", "--global-option", "--install-option"}


@dataclass(frozen=True)
class RequirementsLimits:
    """Bounds on one requirements tree (the file and everything it includes)."""

    max_depth: int = 8
    """Nesting of ``-r``/``-c`` includes."""
    max_files: int = 64
    """Files read in all."""
    max_lines: int = 100_000
    """Logical lines parsed in all."""


@dataclass
class _State:
    """Mutable bookkeeping of one parse."""

    dependencies: list[Dependency]
    problems: list[SourceProblem]
    files: list[str]
    visited: set[str]
    index_options: list[IndexOption] = field(default_factory=list)
    lines: int = 0
    limit_reported: bool = False


def logical_lines(text: str) -> list[tuple[int, str]]:
    """``(first physical line number, text)`` with comments removed and ``\\`` continuations joined."""
    out: list[tuple[int, str]] = []
    pending: list[str] = []
    start = 0
    for number, raw in enumerate(text.splitlines(), 1):
        if not pending:
            start = number
        stripped = raw.rstrip()
        trailing = len(stripped) - len(stripped.rstrip("\\"))
        if trailing % 2 == 1:
            pending.append(stripped[:-1])
            continue
        pending.append(raw)
        joined = _COMMENT.sub("", "".join(pending)).strip()
        pending = []
        if joined:
            out.append((start, joined))
    if pending:
        joined = _COMMENT.sub("", "".join(pending)).strip()
        if joined:
            out.append((start, joined))
    return out


def _split_option(tokens: list[str], index: int) -> tuple[str, str | None, int]:
    """``(option, value, next index)`` for ``--opt=value``, ``--opt value``, ``-rvalue`` forms."""
    token = tokens[index]
    if token.startswith("--") and "=" in token:
        name, value = token.split("=", 1)
        return name, value, index + 1
    if not token.startswith("--") and len(token) > 2:
        return token[:2], token[2:], index + 1
    if index + 1 < len(tokens):
        return token, tokens[index + 1], index + 2
    return token, None, index + 1


def _looks_like_reference(spec: str) -> bool:
    lowered = spec.lower()
    return (
        "://" in spec
        or spec.startswith((".", "/", "~"))
        or lowered.startswith(("git+", "hg+", "svn+", "bzr+", "file:"))
        or lowered.endswith((".whl", ".tar.gz", ".zip", ".tar.bz2", ".tgz"))
    )


def _reference_name(spec: str) -> str:
    egg = _EGG.search(spec)
    if egg:
        return egg.group(1)
    wheel = _WHEEL.search(spec.split("#", 1)[0])
    if wheel:
        return wheel.group(1)
    base = spec.split("#", 1)[0].rstrip("/")
    return posixpath.basename(base) or spec


class RequirementsSource(DependencySource):
    """A pip requirements file (and the files it includes)."""

    name = "requirements"

    def __init__(
        self,
        text: str,
        display: str,
        base_dir: Path | None = None,
        origin: str = "requirements",
        limits: RequirementsLimits | None = None,
        path: Path | None = None,
        root: Path | None = None,
    ) -> None:
        """``base_dir`` is where relative includes are looked up (``None``: includes are not followed);
        ``path`` is the file itself when it is on disk (an include cycle back to it is then cut); includes
        must resolve inside ``root`` (default ``base_dir``), so a hostile ``-r ../../home/u/.netrc`` cannot
        pull a file of the scanning machine into the report."""
        self.text = text
        self.display = display
        self.base_dir = base_dir
        self.origin = origin
        self.limits = limits or RequirementsLimits()
        self.path = path.resolve() if path is not None else None
        confine = root if root is not None else base_dir
        self.root = confine.resolve() if confine is not None else None

    @classmethod
    def from_path(
        cls, path: Path, display: str | None = None, origin: str = "requirements", root: Path | None = None
    ) -> RequirementsSource:
        """Read a requirements file from disk; includes are resolved beside it, inside ``root``."""
        shown = display or str(path)
        return cls(read_text(path, shown), shown, path.resolve().parent, origin, path=path, root=root)

    def collect(self) -> SourceResult:
        state = _State([], [], [self.display], {str(self.path)} if self.path else set())
        self._parse(self.text, self.display, self.base_dir, self.origin, 0, state)
        return SourceResult(
            tuple(state.dependencies),
            tuple(state.problems),
            tuple(state.files),
            tuple(state.index_options),
        )

    def _parse(
        self, text: str, display: str, base_dir: Path | None, origin: str, depth: int, state: _State
    ) -> None:
        for number, line in logical_lines(text):
            state.lines += 1
            if state.lines > self.limits.max_lines:
                if not state.limit_reported:
                    state.limit_reported = True
                    state.problems.append(
                        SourceProblem(
                            "limit",
                            f"{display}:{number}: more than {self.limits.max_lines} requirement lines; "
                            "the rest were not read",
                            display,
                            number,
                        )
                    )
                return
            self._line(line, number, display, base_dir, origin, depth, state)

    def _line(
        self,
        line: str,
        number: int,
        display: str,
        base_dir: Path | None,
        origin: str,
        depth: int,
        state: _State,
    ) -> None:
        tokens = line.split()
        first = tokens[0]
        if first.startswith("-"):
            option, value, after = _split_option(tokens, 0)
            if option in _INCLUDE:
                if value is None or after != len(tokens):
                    self._malformed(display, number, line, f"{option} takes exactly one file", state)
                    return
                self._include(value, number, display, base_dir, _INCLUDE[option], depth, state)
                return
            if option in _EDITABLE:
                if value is None:
                    self._malformed(display, number, line, f"{option} needs a path or URL", state)
                    return
                state.dependencies.append(
                    Dependency(
                        name=_reference_name(value),
                        version=None,
                        source=display,
                        line=number,
                        direct_reference=redact_dependency_text(value),
                        origin=origin,
                        hashable=False,
                    )
                )
                return
            if option in _GLOBAL_FLAGS and first == option:
                return
            if option in _GLOBAL_WITH_VALUE and value is not None:
                if option in _INDEX_OPTIONS:
                    state.index_options.append(
                        IndexOption(_INDEX_OPTIONS[option], redact_dependency_text(value), display, number)
                    )
                return
            self._malformed(display, number, line, f"unknown or incomplete option {option!r}", state)
            return
        split = next((i for i, t in enumerate(tokens) if t.startswith("-")), len(tokens))
        spec = " ".join(tokens[:split])
        hashes: list[str] = []
        index = split
        while index < len(tokens):
            option, value, index = _split_option(tokens, index)
            if option not in _PER_REQUIREMENT or value is None:
                self._malformed(
                    display, number, line, f"unknown option {option!r} after a requirement", state
                )
                return
            if option == "--hash":
                algorithm, sep, digest = value.partition(":")
                if not sep or not digest or not algorithm.isalnum():
                    self._malformed(display, number, line, f"bad --hash value {value!r}", state)
                    return
                hashes.append(f"{algorithm.lower()}:{digest.lower()}")
        if _looks_like_reference(spec) and "@" not in spec.split("://", 1)[0].split("/", 1)[0]:
            state.dependencies.append(
                Dependency(
                    name=_reference_name(spec),
                    version=None,
                    source=display,
                    line=number,
                    hashes=tuple(hashes),
                    direct_reference=redact_dependency_text(spec),
                    origin=origin,
                    hashable=True,
                )
            )
            return
        try:
            dep = from_pep508(
                spec, source=display, origin=origin, line=number, hashes=tuple(hashes), hashable=True
            )
        except InvalidRequirement as exc:
            reason = redact_dependency_text(str(exc).splitlines()[0]) if str(exc) else "invalid requirement"
            self._malformed(display, number, line, reason, state)
            return
        state.dependencies.append(dep)

    def _include(
        self,
        target: str,
        number: int,
        display: str,
        base_dir: Path | None,
        origin: str,
        depth: int,
        state: _State,
    ) -> None:
        where = f"{display}:{number}"
        shown_target = redact_dependency_text(target)
        if "://" in target:
            state.problems.append(
                SourceProblem(
                    "skipped", f"{where}: include {shown_target!r} is a URL; not fetched", display, number
                )
            )
            return
        if base_dir is None:
            state.problems.append(
                SourceProblem(
                    "skipped",
                    f"{where}: include {shown_target!r} not followed (no file system here)",
                    display,
                    number,
                )
            )
            return
        if depth + 1 > self.limits.max_depth or len(state.files) >= self.limits.max_files:
            state.problems.append(
                SourceProblem(
                    "limit",
                    f"{where}: include {shown_target!r} not read: more than {self.limits.max_depth} "
                    f"levels or {self.limits.max_files} files",
                    display,
                    number,
                )
            )
            return
        path = (base_dir / os.path.expanduser(target)).resolve()
        if self.root is not None and not path.is_relative_to(self.root):
            state.problems.append(
                SourceProblem(
                    "skipped",
                    f"{where}: include {shown_target!r} leaves {self.root}; not read",
                    display,
                    number,
                )
            )
            return
        key = str(path)
        if key in state.visited:
            return
        state.visited.add(key)
        shown = posixpath.normpath(posixpath.join(posixpath.dirname(display), target.replace(os.sep, "/")))
        if not path.is_file():
            self._malformed(
                display, number, f"-r {shown_target}", f"included file {shown_target!r} not found", state
            )
            return
        try:
            text = read_text(path, shown)
        except DependencySourceError as exc:
            self._malformed(display, number, f"-r {shown_target}", str(exc), state)
            return
        state.files.append(shown)
        self._parse(text, shown, path.parent, origin, depth + 1, state)

    @staticmethod
    def _malformed(display: str, number: int, line: str, reason: str, state: _State) -> None:
        state.problems.append(
            SourceProblem(
                "malformed",
                f"{display}:{number}: cannot parse requirement line {excerpt(line)!r}: "
                f"{redact_dependency_text(reason)}",
                display,
                number,
                excerpt(line),
            )
        )
