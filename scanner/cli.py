"""Command-line entry point: parses arguments, calls the library, renders. Nothing else lives here.

Each command is a module in ``scanner.commands`` with ``register(subparsers)``, which adds its parser
and sets ``func`` (``args -> exit code``). Commands are discovered, so a new one is one new module.

Exit codes (every command): 0 ok; 1 findings at the threshold (scan, audit), mismatch (hash --check),
failed verification (verify); 2 bad flags or policy; 3 I/O error or analyzer crash (incomplete).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

import scanner.commands as commands_pkg
from scanner import __version__
from scanner._modules import package_modules

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


def _command_modules() -> list[str]:
    """Names of the command modules (one command each, named as its module)."""
    return [name for name in package_modules(commands_pkg.__path__) if not name.startswith("_")]


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The parser with ``command`` only (start-up imports just what it needs), or with every command."""
    parser = _Parser(
        prog="artifact-scanner",
        description="Decide whether an ML artifact is safe to release, "
        "accept or keep: hash, inspect, audit, attest, verify.",
    )
    parser.add_argument("--version", action="version", version=f"artifact-scanner {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    names = _command_modules()
    for name in [command] if command in names else names:
        module = importlib.import_module(f"{commands_pkg.__name__}.{name}")
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; returns the exit code (never raises for user errors)."""
    arguments = list(argv) if argv is not None else sys.argv[1:]
    parser = build_parser(arguments[0] if arguments else None)
    try:
        args = parser.parse_args(arguments)
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
