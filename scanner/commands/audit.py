"""``artifact-scanner audit PATH...``: the Python packages a model needs, checked against advisories."""

from __future__ import annotations

import argparse
import os
import sys

from scanner.commands._common import severity_arg, write_output
from scanner.policy import PolicyError, load_policy
from scanner.report.json_report import JsonRenderer
from scanner.report.text import TextRenderer


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "audit",
        help="audit requirements, lock files, model directories and environments for vulnerable packages",
        description="Audit the Python packages a model needs: requirements files, pyproject.toml, "
        "pylock.toml, poetry.lock, uv.lock, Pipfile.lock, config.json in model directories, and installed "
        "environments (--env). Offline by default (the imported database, or --vuln-db). Exit codes as "
        "for scan: 0 nothing at or above --fail-on; 1 findings at or above it; 2 usage, policy or "
        "database error; 3 incomplete.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument(
        "--vuln-db",
        metavar="PATH",
        help="OSV records (directory or zip of JSON/YAML) or an index made by 'db import' "
        "(default: the imported index under $XDG_CACHE_HOME/artifact-scanner/)",
    )
    p.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="PATH",
        help="audit an installed environment (venv or site-packages; its interpreter is never run)",
    )
    p.add_argument(
        "--online",
        nargs="?",
        const="osv",
        choices=("osv", "pypi"),
        help="also ask pip-audit's online service (osv by default, or pypi); "
        "this sends package names and versions",
    )
    p.add_argument(
        "--artifacts",
        action="store_true",
        help="also scan the model files in directories for the library versions they record "
        "(e.g. an ONNX producer version); as slow as a scan",
    )
    p.add_argument(
        "--json", metavar="FILE", help="write the JSON result (schema v1) to FILE, or '-' for stdout"
    )
    p.add_argument(
        "--fail-on",
        type=severity_arg,
        metavar="SEVERITY",
        help="fail at this severity or above (default medium)",
    )
    p.add_argument("--policy", metavar="FILE", help="policy file (default: the shipped rules/policy.yaml)")
    p.add_argument("--reproducible", action="store_true", help="pin timestamps for byte-identical output")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scanner.deps.audit import setup_services
    from scanner.deps.osv_store import VulnDbError
    from scanner.deps.runner import AuditOptions, audit_paths

    if not args.paths and not args.env:
        print("artifact-scanner audit: error: give at least one PATH or --env PATH", file=sys.stderr)
        return 2
    try:
        policy = load_policy(args.policy)
    except PolicyError as exc:
        print(f"artifact-scanner: policy error: {exc}", file=sys.stderr)
        return 2
    try:
        setup = setup_services(args.vuln_db, online=args.online)
    except VulnDbError as exc:
        print(f"artifact-scanner: vulnerability database error: {exc}", file=sys.stderr)
        return 2
    options = AuditOptions(
        setup=setup,
        policy=policy,
        fail_on=args.fail_on,
        reproducible=args.reproducible,
        artifacts=args.artifacts,
    )
    report = audit_paths(list(args.paths), list(args.env), options)
    human_stream = sys.stderr if args.json == "-" else sys.stdout
    color = human_stream.isatty() and "NO_COLOR" not in os.environ
    for note in setup.notes:
        human_stream.write(f"note: {note}\n")
    if not report.results and not report.errors:
        human_stream.write("note: no dependency files found in the given paths\n")
    human_stream.write(TextRenderer(color=color).render(report))
    human_stream.flush()
    if args.json:
        write_output(args.json, JsonRenderer().render(report))
    return report.verdict.exit_code
