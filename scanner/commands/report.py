"""``artifact-scanner report RESULT.json``: render a stored JSON result again (terminal, SARIF, HTML)
without rescanning. The exit code is the stored verdict's, so a pipeline can gate on a stored result."""

from __future__ import annotations

import argparse
import os
import sys

from scanner.commands._common import write_output


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "report",
        help="render a stored scan --json result as terminal text, SARIF or HTML",
        description="Render a JSON result written by 'scan --json' again, without rescanning. Exit code: "
        "the stored verdict's (0 pass, 1 fail, 3 incomplete); 2 when the file is not a scan result.",
    )
    p.add_argument("result", metavar="RESULT.json")
    p.add_argument("--sarif", metavar="FILE", help="write SARIF 2.1.0 to FILE, or '-'")
    p.add_argument("--html", metavar="FILE", help="write the HTML review report to FILE, or '-'")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scanner.report.html import HtmlRenderer
    from scanner.report.load import ResultError, load_result
    from scanner.report.sarif import SarifRenderer
    from scanner.report.text import TextRenderer

    if args.sarif == "-" and args.html == "-":
        print("artifact-scanner: error: only one of --sarif, --html may be '-'", file=sys.stderr)
        return 2
    try:
        report = load_result(args.result)
    except ResultError as exc:
        print(f"artifact-scanner: result error: {exc}", file=sys.stderr)
        return 2
    human_stream = sys.stderr if "-" in (args.sarif, args.html) else sys.stdout
    color = human_stream.isatty() and "NO_COLOR" not in os.environ
    human_stream.write(TextRenderer(color=color).render(report))
    human_stream.flush()
    if args.sarif:
        write_output(args.sarif, SarifRenderer().render(report))
    if args.html:
        write_output(args.html, HtmlRenderer().render(report))
    return report.verdict.exit_code
