"""Helpers shared by commands: output files, progress display, argument types."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from scanner.model import ScanReport, Severity


def severity_arg(value: str) -> Severity:
    """argparse type for a severity name."""
    try:
        return Severity.parse(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def positive_int(value: str) -> int:
    """argparse type for a positive integer, with K/M/G suffixes (powers of 1024)."""
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    text = value.strip().lower().removesuffix("ib").removesuffix("b")
    factor = units.get(text[-1:], 1)
    digits = text[:-1] if text[-1:] in units else text
    try:
        number = int(digits) * factor
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {value!r}") from None
    if number <= 0:
        raise argparse.ArgumentTypeError(f"must be positive: {value!r}")
    return number


def show_and_write(
    report: ScanReport,
    *,
    json_file: str | None = None,
    sarif: str | None = None,
    html: str | None = None,
    stdout_taken: bool = False,
) -> None:
    """The terminal summary (on stderr when an output goes to stdout: ``stdout_taken``, or a ``-`` here),
    then the JSON, SARIF and HTML reports asked for."""
    import os

    from scanner.report.text import TextRenderer

    to_stdout = stdout_taken or "-" in (json_file, sarif, html)
    human_stream = sys.stderr if to_stdout else sys.stdout
    color = human_stream.isatty() and "NO_COLOR" not in os.environ
    human_stream.write(TextRenderer(color=color).render(report))
    human_stream.flush()
    if json_file:
        from scanner.report.json_report import JsonRenderer

        write_output(json_file, JsonRenderer().render(report))
    if sarif:
        from scanner.report.sarif import SarifRenderer

        write_output(sarif, SarifRenderer().render(report))
    if html:
        from scanner.report.html import HtmlRenderer

        write_output(html, HtmlRenderer().render(report))


def write_output(target: str, text: str) -> None:
    """Write ``text`` to a file, or to stdout for ``-``."""
    if target == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        path = Path(target)
        try:
            if path.parent and not path.parent.exists():
                path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        except OSError as exc:  # an unwritable output is a usage error (exit 2), not a traceback
            from scanner.cli import UsageError

            raise UsageError(f"cannot write {target}: {exc.strerror or exc}") from None


@contextmanager
def progress_bar(total_bytes: int, description: str) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on stderr when it is a terminal and the work is large; else nothing."""
    if not sys.stderr.isatty() or total_bytes < (256 << 20):
        yield None
        return
    from rich.progress import BarColumn, DownloadColumn, Progress, TransferSpeedColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        transient=True,
    ) as progress:
        task = progress.add_task(description, total=total_bytes)
        yield lambda n: progress.advance(task, n)


def add_signing_flags(p: argparse.ArgumentParser) -> None:
    """``--key``, ``--cert``, ``--cert-chain``, ``--keyless``: exactly one signing mode."""
    p.add_argument(
        "--key", metavar="KEY.pem", help="ECDSA private key (passphrase: $ARTIFACT_SCANNER_KEY_PASSWORD)"
    )
    p.add_argument("--cert", metavar="CERT.pem", help="signing certificate of --key (private PKI)")
    p.add_argument("--cert-chain", metavar="CHAIN.pem", help="intermediate and root certificates for --cert")
    p.add_argument(
        "--keyless",
        action="store_true",
        help="Sigstore keyless signing (ambient CI identity or browser login)",
    )
