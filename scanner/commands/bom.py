"""``artifact-scanner bom PATH...``: scan, then write the CycloneDX 1.6 ML-BOM."""

from __future__ import annotations

import argparse
import sys

from scanner.commands._common import write_output
from scanner.engine import ScanOptions, scan_paths
from scanner.model import ScanReport
from scanner.policy import PolicyError, load_policy


def add_scan_flags(p: argparse.ArgumentParser) -> None:
    """The scan settings that change what a BOM or an attestation records."""
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--policy", metavar="FILE", help="policy file (default: the shipped rules/policy.yaml)")
    p.add_argument("--vuln-db", metavar="PATH", help="OSV records or index for dependency vulnerabilities")
    p.add_argument(
        "--reproducible",
        action="store_true",
        help="pinned timestamp, content-derived serial number: byte-identical output",
    )


def run_scan(args: argparse.Namespace) -> ScanReport | None:
    """Scan as ``scan`` would (dependency and signature steps, suppressions); ``None`` after printing a
    usage error."""
    try:
        policy = load_policy(args.policy)
    except PolicyError as exc:
        print(f"artifact-scanner: policy error: {exc}", file=sys.stderr)
        return None
    if args.vuln_db is not None:
        from scanner.deps.osv_store import VulnDbError, open_store

        try:
            open_store(args.vuln_db)
        except VulnDbError as exc:
            print(f"artifact-scanner: vulnerability database error: {exc}", file=sys.stderr)
            return None
    from scanner.attest.scan_step import check_model_signatures
    from scanner.deps.scan_step import audit_recorded_libraries
    from scanner.suppressions import apply_suppressions, today

    options = ScanOptions(policy=policy, reproducible=args.reproducible, vuln_db=args.vuln_db)
    report = audit_recorded_libraries(scan_paths(args.paths, options), args.vuln_db, policy)
    report = check_model_signatures(report, policy)
    return apply_suppressions(report, policy.suppressions, policy.source, today(), policy.apply)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "bom",
        help="write a CycloneDX 1.6 ML-BOM of models, files, libraries and vulnerabilities",
        description="Scan PATH... and write the CycloneDX 1.6 JSON ML-BOM. Exit 0 when written (the "
        "verdict is recorded inside; gate on `scan`), 2 on usage errors, 3 when nothing could be read.",
    )
    add_scan_flags(p)
    p.add_argument("--output", default="-", metavar="FILE", help="BOM file, or '-' for stdout (default)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scanner.bom import build_bom

    report = run_scan(args)
    if report is None:
        return 2
    if not report.results:
        for error in report.errors:
            print(f"artifact-scanner: {error.message}", file=sys.stderr)
        return 3
    write_output(args.output, build_bom(report, reproducible=args.reproducible))
    return 0
