"""Dependency sources: one module per kind of input, each a :class:`~scanner.deps.interface.DependencySource`.

:func:`scanner.deps.sources.select.source_for` picks the source for a file from its name.
"""
