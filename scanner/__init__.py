"""artifact-scanner: decide whether an ML artifact is safe to release, accept or keep."""

__version__ = "0.1.0"
