"""``artifact-scanner scan PATH...``: hash, inspect and judge files and directories."""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING

from scanner.commands._common import positive_int, progress_bar, severity_arg, show_and_write, write_output
from scanner.walk import list_artifacts

if TYPE_CHECKING:
    from scanner.attest.signers import Signer


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "scan",
        help="scan files and directories for code execution, secrets and malformed structure",
        description="Scan files and directories. Exit 0: nothing at or above --fail-on; 1: findings "
        "at or above it; 2: usage or policy error; 3: incomplete (I/O error or analyzer "
        "crash, nothing at the threshold).",
    )
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument(
        "--json", metavar="FILE", help="write the JSON result (schema v1) to FILE, or '-' for stdout"
    )
    p.add_argument(
        "--fail-on",
        type=severity_arg,
        metavar="SEVERITY",
        help="fail at this severity or above (default: the policy's, medium)",
    )
    p.add_argument("--policy", metavar="FILE", help="policy file (default: the shipped rules/policy.yaml)")
    p.add_argument(
        "--shard-size", type=positive_int, metavar="N", help="also compute a SHA-256 shard manifest"
    )
    p.add_argument(
        "--jobs",
        type=positive_int,
        default=None,
        metavar="N",
        help="files scanned at once (default: every usable core)",
    )
    p.add_argument(
        "--deep", action="store_true", help="also search raw binary bytes for high-confidence secrets"
    )
    p.add_argument(
        "--reproducible",
        action="store_true",
        help="pin timestamps (SOURCE_DATE_EPOCH or the epoch) for byte-identical output",
    )
    # --- dependency audit (issue 7) ---
    p.add_argument(
        "--vuln-db",
        metavar="PATH",
        help="audit dependency files and recorded library versions against these OSV records or index",
    )
    # --- end dependency audit ---
    # --- reports, baseline, parallel scanning (issue 5) ---
    p.add_argument("--sarif", metavar="FILE", help="write SARIF 2.1.0 for code scanning to FILE, or '-'")
    p.add_argument("--html", metavar="FILE", help="write a self-contained HTML review report to FILE, or '-'")
    p.add_argument(
        "--baseline",
        metavar="FILE",
        help="a previous --json result: report only findings it does not have (matched by fingerprint)",
    )
    p.add_argument(
        "--workers",
        choices=("auto", "threads", "processes"),
        default="auto",
        help="how files are scanned in parallel (default auto: processes for many files, else threads)",
    )
    # --- end reports ---
    # --- BOM and attestations (issue 6) ---
    from scanner.commands._common import add_signing_flags

    p.add_argument("--bom", metavar="FILE", help="write the CycloneDX 1.6 ML-BOM to FILE ('-' for stdout)")
    p.add_argument(
        "--attest", metavar="FILE", help="write signed scan and BOM attestations to FILE (JSON Lines)"
    )
    add_signing_flags(p)
    # --- end BOM and attestations ---
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Listing is cheap; knowing the files first lets worker processes start up while this process
    # imports the engine and the analyzers.
    listing = list_artifacts(args.paths)
    from scanner.parallel import start_workers_early

    start_workers_early(listing.artifacts, args.jobs, args.workers)

    from scanner.engine import ScanOptions, scan_paths
    from scanner.policy import PolicyError, load_policy

    try:
        policy = load_policy(args.policy)
    except PolicyError as exc:
        print(f"artifact-scanner: policy error: {exc}", file=sys.stderr)
        return 2
    # --- reports: baseline (issue 5) ---
    from scanner.baseline import BaselineError, load_baseline

    if [args.json, args.sarif, args.html, args.bom].count("-") > 1:
        print(
            "artifact-scanner: error: only one of --json, --sarif, --html, --bom may be '-'", file=sys.stderr
        )
        return 2

    baseline = None
    if args.baseline is not None:
        try:
            baseline = load_baseline(args.baseline)
        except BaselineError as exc:
            print(f"artifact-scanner: baseline error: {exc}", file=sys.stderr)
            return 2
    # --- end reports ---
    options = ScanOptions(
        policy=policy,
        fail_on=args.fail_on,
        shard_size=args.shard_size,
        jobs=args.jobs,
        deep_secrets=args.deep,
        reproducible=args.reproducible,
        vuln_db=args.vuln_db,
        workers=args.workers,
    )
    # --- dependency audit (issue 7): check the database first, audit recorded versions after ---
    if args.vuln_db is not None:
        from scanner.deps.osv_store import VulnDbError, open_store

        try:
            open_store(args.vuln_db)
        except VulnDbError as exc:
            print(f"artifact-scanner: vulnerability database error: {exc}", file=sys.stderr)
            return 2
    # --- end dependency audit ---
    # --- BOM and attestations (issue 6): a signing mode is checked before scanning ---
    from scanner.attest.errors import AttestError

    signer: Signer | None = None
    try:
        if args.attest:
            from scanner.attest.signers import make_signer  # cryptography only when signing

            signer = make_signer(args.key, args.cert, args.cert_chain, args.keyless)
        elif args.key or args.cert or args.cert_chain or args.keyless:
            raise AttestError(
                "--key, --cert, --cert-chain and --keyless sign attestations: add --attest FILE"
            )
    except AttestError as exc:
        print(f"artifact-scanner: error: {exc}", file=sys.stderr)
        return 2
    # --- end BOM and attestations ---
    total = sum(a.size for a in listing.artifacts) if sys.stderr.isatty() else 0
    with progress_bar(total, "scanning") as progress:
        report = scan_paths(args.paths, options, progress, listing=listing)
    # --- dependency audit (issue 7) ---
    from scanner.deps.scan_step import audit_recorded_libraries

    report = audit_recorded_libraries(report, args.vuln_db, policy)
    # --- end dependency audit ---
    # --- model signatures (issue 6): present when required, and matching the files ---
    from scanner.attest.scan_step import check_model_signatures

    report = check_model_signatures(report, policy)
    # --- end model signatures ---
    # --- reports: suppressions, baseline, outputs (issue 5) ---
    from scanner.baseline import apply_baseline
    from scanner.suppressions import apply_suppressions, today

    report = apply_suppressions(report, policy.suppressions, policy.source, today(), policy.apply)
    if baseline is not None:
        report = apply_baseline(report, baseline)
    # --- end reports ---
    show_and_write(
        report, json_file=args.json, sarif=args.sarif, html=args.html, stdout_taken=args.bom == "-"
    )
    # --- BOM and attestations (issue 6) ---
    if args.bom or signer is not None:
        from scanner.attest.statement import attestation_lines
        from scanner.bom import build_bom

        bom = build_bom(report, reproducible=args.reproducible)
        if args.bom:
            write_output(args.bom, bom)
        if signer is not None:
            try:
                write_output(args.attest, attestation_lines(report, bom, signer))
            except AttestError as exc:
                print(f"artifact-scanner: attest: {exc}", file=sys.stderr)
                return 1 if report.verdict.exit_code == 1 else 3
    # --- end BOM and attestations ---
    return report.verdict.exit_code
