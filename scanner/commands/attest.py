"""``artifact-scanner attest PATH...``: scan, then sign the scan-result and BOM statements (JSON Lines)."""

from __future__ import annotations

import argparse
import sys

from scanner.attest.errors import AttestError
from scanner.commands._common import add_signing_flags
from scanner.commands.bom import add_scan_flags, run_scan


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "attest",
        help="sign in-toto attestations of the scan result and the BOM (Sigstore bundles, JSON Lines)",
        description="Scan PATH... and write two signed in-toto statements (scan result, CycloneDX BOM), "
        "one Sigstore bundle per line. Signing takes exactly one of --key, --key --cert --cert-chain, "
        "or --keyless (else exit 2). Exit 0 when written; the verdict is recorded inside.",
    )
    add_scan_flags(p)
    p.add_argument(
        "--output",
        default="attestations.intoto.jsonl",
        metavar="FILE",
        help="default ./attestations.intoto.jsonl",
    )
    add_signing_flags(p)
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scanner.attest.signers import make_signer
    from scanner.attest.statement import attestation_lines
    from scanner.bom import build_bom

    try:
        signer = make_signer(args.key, args.cert, args.cert_chain, args.keyless)
    except AttestError as exc:
        print(f"artifact-scanner: attest: {exc}", file=sys.stderr)
        return 2
    report = run_scan(args)
    if report is None:
        return 2
    try:
        text = attestation_lines(report, build_bom(report, reproducible=args.reproducible), signer)
    except AttestError as exc:
        print(f"artifact-scanner: attest: {exc}", file=sys.stderr)
        return 3 if report.errors else 2
    with open(args.output, "w", encoding="utf-8") as f:
        f.write(text)
    print(f"attested {report.verdict.value} scan of {len(report.results)} file(s) -> {args.output}")
    return 0
