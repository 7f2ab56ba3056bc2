"""The analyzer registry: every ``Analyzer`` subclass defined in a module of ``scanner.formats``.

Modules are discovered, not listed, so adding a format touches one new file. Heavy third-party libraries
must be imported inside the analyzer's methods, never at module level, to keep start-up fast.
"""

from __future__ import annotations

import functools
import importlib

import scanner.formats as formats_pkg
from scanner._modules import package_modules
from scanner.formats.interface import Analyzer, Probe

_NOT_ANALYZERS = {"interface", "registry", "gguf_reader", "keras_config", "zipread"}
"""Modules of the package that define no analyzer (helpers are imported by the analyzers that use them,
so a scan without GGUF files never loads the GGUF reader); a test checks that they define none."""


@functools.cache
def all_analyzers() -> tuple[Analyzer, ...]:
    """One instance of every analyzer, primary ones by priority (highest first), then by name."""
    found: dict[str, Analyzer] = {}
    for name in package_modules(formats_pkg.__path__):
        if name in _NOT_ANALYZERS or name.startswith("_"):
            continue
        module = importlib.import_module(f"{formats_pkg.__name__}.{name}")
        for cls in list(vars(module).values()):
            if (
                isinstance(cls, type)
                and issubclass(cls, Analyzer)
                and not getattr(cls, "__abstractmethods__", None)
                and cls.__module__ == module.__name__
            ):
                if cls.name in found:
                    raise RuntimeError(f"two analyzers named {cls.name!r}")
                found[cls.name] = cls()
    return tuple(sorted(found.values(), key=lambda a: (-a.priority, a.name)))


_dispatch: list[tuple[tuple[Analyzer, ...], tuple[tuple[Analyzer, ...], ...]]] = []


def _by_first_byte() -> tuple[tuple[Analyzer, ...], ...]:
    """For each first byte (and, last, for empty content) the analyzers that may claim it, in order;
    rebuilt when :func:`all_analyzers` gives another set (tests add analyzers)."""
    analyzers = all_analyzers()
    if not _dispatch or _dispatch[0][0] is not analyzers:
        table = [
            tuple(a for a in analyzers if a.first_bytes is None or b in a.first_bytes) for b in range(256)
        ]
        _dispatch[:] = [(analyzers, (*table, analyzers))]
    return _dispatch[0][1]


def select_analyzers(probe: Probe) -> tuple[Analyzer | None, tuple[Analyzer, ...]]:
    """The primary analyzer claiming ``probe`` (or ``None``) and the supplementary ones claiming it."""
    primary: Analyzer | None = None
    extra: list[Analyzer] = []
    head = probe.head
    for analyzer in _by_first_byte()[head[0] if head else 256]:
        if analyzer.supplementary:
            if analyzer.detect(probe):
                extra.append(analyzer)
        elif primary is None and analyzer.detect(probe):
            primary = analyzer
    return primary, tuple(extra)
