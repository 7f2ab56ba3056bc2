"""Command-line entry point: parses arguments, calls the library, renders. Nothing else lives here.

Each command is a module in ``scanner.commands`` with ``register(subparsers)``, which adds its parser
and sets ``func`` (``args -> exit code``). Commands are discovered, so a new one is one new module.

Exit codes (every command): 0 ok; 1 findings at the threshold (scan, audit), mismatch (hash --check),
failed verification (verify); 2 bad flags or policy; 3 I/O error or analyzer crash (incomplete).
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import scanner.commands as commands_pkg
from scanner import __version__

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_USAGE = 2
EXIT_INCOMPLETE = 3


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors raise instead of exiting, so ``main`` returns 2."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: error: {message}")


class UsageError(Exception):
    """Bad command-line usage (exit 2)."""


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every discovered command."""
    parser = _Parser(
        prog="artifact-scanner",
        description="Decide whether an ML artifact is safe to release, "
        "accept or keep: hash, inspect, audit, attest, verify.",
    )
    parser.add_argument("--version", action="version", version=f"artifact-scanner {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for info in sorted(pkgutil.iter_modules(commands_pkg.__path__), key=lambda i: i.name):
        if info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{commands_pkg.__name__}.{info.name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (never raises for user errors)."""
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv) if argv is not None else None)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_USAGE
    except SystemExit as exc:  # --help and --version
        return int(exc.code or 0)
    try:
        code: int = args.func(args)
    except UsageError as exc:
        print(f"artifact-scanner: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("artifact-scanner: interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    raise SystemExit(main())
