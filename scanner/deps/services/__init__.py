"""Vulnerability services, each a :class:`~scanner.deps.interface.VulnerabilityService`."""
