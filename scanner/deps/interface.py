"""The two interfaces of the dependency audit and the values that pass between them.

A :class:`DependencySource` turns one input (a requirements file, a lock file, an environment ...) into
:class:`Dependency` values and :class:`SourceProblem` notes; a :class:`VulnerabilityService` answers which
:class:`Advisory` records affect one pinned dependency. Adding an input format or a service is one new
module implementing one of these classes.
"""

from __future__ import annotations

import abc
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import ClassVar

_NAME_SEPARATORS = re.compile(r"[-_.]+")


def canonical_name(name: str) -> str:
    """The PEP 503 normalised form of a project name (``Pillow`` and ``pillow`` are one package)."""
    return _NAME_SEPARATORS.sub("-", name).lower()


@dataclass(frozen=True)
class Dependency:
    """One package a model needs, as one source declared, locked, installed or recorded it."""

    name: str
    """The name as written (use :attr:`canonical` to compare)."""
    version: str | None
    """The exact version when pinned (``==``/``===``, a lock entry, an installed or recorded version)."""
    specifier: str = ""
    """The version specifier as written (``>=1.2,<2``); empty when there is none."""
    source: str = ""
    """Display path of the file (or environment) it came from."""
    line: int | None = None
    """Line number in a requirements file, where known."""
    hashes: tuple[str, ...] = ()
    """``algorithm:hexdigest`` pins given with it."""
    marker: str | None = None
    """The environment marker as written (not evaluated: the target environment is unknown)."""
    direct_reference: str | None = None
    """URL, VCS or path the package is installed from instead of the index."""
    origin: str = "requirements"
    """Kind of source: requirements, constraints, pyproject, pylock, poetry.lock, uv.lock, Pipfile.lock,
    installed, artifact."""
    hashable: bool = True
    """Whether the source can carry hashes (a missing hash is reported only for those)."""

    @property
    def canonical(self) -> str:
        """PEP 503 normalised name."""
        return canonical_name(self.name)

    @property
    def where(self) -> str:
        """``file:line`` (or the file alone)."""
        return f"{self.source}:{self.line}" if self.line is not None else self.source


@dataclass(frozen=True)
class SourceProblem:
    """Something in an input that could not be read as a dependency, or a bound that was hit."""

    kind: str
    """``malformed`` (a line or entry that does not parse), ``limit`` (a bound was hit) or ``skipped``
    (left out on purpose, e.g. an include pointing to a URL)."""
    message: str
    """One-line diagnostic naming the file and line."""
    source: str = ""
    """Display path of the file."""
    line: int | None = None
    """Line number, where known."""
    text: str | None = None
    """The offending text, bounded (redacted when rendered)."""


@dataclass(frozen=True)
class IndexOption:
    """A requirements-file option that changes where packages come from."""

    option: str
    """``--index-url``, ``--extra-index-url``, ``--find-links`` or ``--trusted-host`` (long form)."""
    value: str
    """Its value (URL credentials redacted)."""
    source: str
    """Display path of the file."""
    line: int
    """Line number."""


@dataclass(frozen=True)
class SourceResult:
    """What one dependency source found."""

    dependencies: tuple[Dependency, ...]
    """Dependencies in source order."""
    problems: tuple[SourceProblem, ...] = ()
    """Lines or entries that could not be used, and bounds hit."""
    files: tuple[str, ...] = ()
    """Every file read (the top one and its includes)."""
    index_options: tuple[IndexOption, ...] = ()
    """Index options met in requirements files, in order."""


class DependencySourceError(Exception):
    """An input cannot be read at all (missing, not text, not TOML/JSON); the message names it."""


class DependencySource(abc.ABC):
    """An input that lists packages."""

    name: ClassVar[str]
    """Short name of the kind of input (``requirements``, ``poetry.lock`` ...)."""

    @abc.abstractmethod
    def collect(self) -> SourceResult:
        """Read the input; raises :class:`DependencySourceError` when it cannot be read at all."""


@dataclass(frozen=True)
class Advisory:
    """A published vulnerability affecting one version of one package."""

    id: str
    """The advisory id (``PYSEC-...``, ``GHSA-...``, ``CVE-...``)."""
    aliases: tuple[str, ...] = ()
    """Other ids of the same vulnerability, sorted."""
    summary: str = ""
    """One paragraph, bounded."""
    fixed_in: tuple[str, ...] = ()
    """Versions that fix it, in PEP 440 order."""
    affected_range: str | None = None
    """The range that matched, as a PEP 440 specifier (``>=1.9.0,<1.10.0``), or ``None`` when the
    version matched the advisory's explicit ``versions`` list only."""
    cvss_score: float | None = None
    """CVSS base score (computed from the vector when only a vector is given)."""
    cvss_vector: str | None = None
    """The CVSS vector it came from, if any."""
    qualitative_severity: str | None = None
    """A qualitative severity given by the record (``HIGH``, ``MODERATE`` ...) when no score is."""
    reference: str | None = None
    """A URL describing it."""
    service: str = ""
    """Which service reported it (``osv-offline``, ``pypi``, ``osv``, ``ml-rules``)."""


@dataclass(frozen=True)
class ServiceAnswer:
    """A service's answer for one dependency."""

    dependency: Dependency
    """The dependency asked about."""
    advisories: tuple[Advisory, ...] = ()
    """Advisories affecting it, sorted by id."""
    skipped: str | None = None
    """Why it could not be checked (no exact version, unparseable version ...), or ``None``."""


class ServiceError(Exception):
    """A vulnerability service failed (unreadable database, network error); the message says why."""


class VulnerabilityService(abc.ABC):
    """A source of vulnerability data for pinned packages."""

    name: ClassVar[str]
    """Short name used in findings and coverage notes."""

    @abc.abstractmethod
    def query(self, dependency: Dependency) -> ServiceAnswer:
        """Advisories affecting ``dependency`` (which must have a version; otherwise it is skipped)."""

    def query_all(self, dependencies: Sequence[Dependency]) -> Iterator[ServiceAnswer]:
        """Answers for several dependencies; services with bulk lookups override this."""
        for dependency in dependencies:
            yield self.query(dependency)

    def describe(self) -> str:
        """What data the service uses, for coverage notes (e.g. the database path and record count)."""
        return self.name
