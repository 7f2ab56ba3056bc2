"""Dependency audit: the Python packages a model needs, checked against known vulnerabilities.

Two interfaces (in :mod:`scanner.deps.interface`), in the style of pip-audit:

- a :class:`~scanner.deps.interface.DependencySource` lists declared, locked or installed packages
  (requirements files, pyproject.toml, pylock.toml, poetry.lock, uv.lock, Pipfile.lock, an installed
  environment's ``*.dist-info/METADATA``, versions recorded by the artifacts themselves);
- a :class:`~scanner.deps.interface.VulnerabilityService` answers which advisories affect a pinned package
  (our offline OSV store, pip-audit's online PyPI/OSV services, the ML-specific advisories in rules/).

:mod:`scanner.deps.audit` wires them together and turns the answers into findings.
"""
