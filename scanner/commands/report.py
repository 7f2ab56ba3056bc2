"""``artifact-scanner report RESULT.json``: render a stored JSON result again (terminal, SARIF, HTML)
without rescanning. The exit code is the stored verdict's, so a pipeline can gate on a stored result."""

from __future__ import annotations

import argparse
import sys

from scanner.commands._common import show_and_write


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
    from scanner.report.load import ResultError, load_result

    if args.sarif == "-" and args.html == "-":
        print("artifact-scanner: error: only one of --sarif, --html may be '-'", file=sys.stderr)
        return 2
    try:
        report = load_result(args.result)
    except ResultError as exc:
        print(f"artifact-scanner: result error: {exc}", file=sys.stderr)
        return 2
    show_and_write(report, sarif=args.sarif, html=args.html)
    return report.verdict.exit_code
