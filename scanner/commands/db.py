"""``artifact-scanner db import PATH``: index OSV/PyPA advisory records for offline audits."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "db",
        help="manage the offline vulnerability database",
        description="Manage the offline vulnerability database used by 'audit' and 'scan --vuln-db'.",
    )
    actions = p.add_subparsers(dest="db_command", metavar="ACTION", parser_class=type(p))
    actions.required = True
    imp = actions.add_parser(
        "import",
        help="index a directory or zip of OSV records (JSON, or the PyPA advisory database's YAML)",
        description="Index OSV records into $XDG_CACHE_HOME/artifact-scanner/osv-index.sqlite (or --output). "
        "Withdrawn records and records naming no PyPI package are skipped. Exit 0 ok, 2 unusable source, "
        "3 some records could not be read.",
    )
    imp.add_argument("source", metavar="PATH")
    imp.add_argument("--output", metavar="FILE", help="write the index here instead of the default location")
    imp.set_defaults(func=run_import)
    info = actions.add_parser("info", help="show the imported index (records, source)")
    info.add_argument(
        "--vuln-db", metavar="PATH", help="an index or record source (default: the imported index)"
    )
    info.set_defaults(func=run_info)


def run_import(args: argparse.Namespace) -> int:
    from scanner.deps.osv_store import VulnDbError, default_index, import_records

    target = Path(args.output) if args.output else default_index()
    try:
        summary = import_records(Path(args.source), target)
    except VulnDbError as exc:
        print(f"artifact-scanner: db import: {exc}", file=sys.stderr)
        return 2
    print(
        f"indexed {summary.records} advisories from {summary.source} into {summary.index} "
        f"({summary.skipped} withdrawn or not PyPI, {summary.error_count} unreadable) "
        f"in {summary.seconds:.1f} s"
    )
    for message in summary.errors:
        print(f"artifact-scanner: db import: skipped {message}", file=sys.stderr)
    return 3 if summary.error_count else 0


def run_info(args: argparse.Namespace) -> int:
    from scanner.deps.osv_store import VulnDbError, open_store

    try:
        store = open_store(args.vuln_db)
    except VulnDbError as exc:
        print(f"artifact-scanner: db: {exc}", file=sys.stderr)
        return 2
    print(f"index: {store.index}")
    for key in sorted(store.meta):
        print(f"{key}: {store.meta[key]}")
    return 0
