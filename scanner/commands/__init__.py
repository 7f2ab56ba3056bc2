"""CLI commands, one module each, discovered by :mod:`scanner.cli`."""
