"""Format analyzers, one module per format (discovered by :mod:`scanner.formats.registry`)."""
