"""``artifact-scanner verify PATH --bundle FILE``: check a signature or attestations against the files."""

from __future__ import annotations

import argparse
import sys

from scanner.attest.errors import AttestError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "verify",
        help="verify an OMS model signature, our attestations (JSON Lines) or any Sigstore bundle",
        description="Re-hash PATH and check every signed digest and the signature. Exit 0: verified; "
        "1: verification failed (the reasons are printed); 2: usage error.",
    )
    p.add_argument("path", metavar="PATH")
    p.add_argument(
        "--bundle", required=True, metavar="FILE", help="signature, bundle, or JSON Lines of bundles"
    )
    p.add_argument("--key", metavar="PUB.pem", help="public key the bundle was signed with")
    p.add_argument("--cert-chain", metavar="PEM", help="trusted certificates (private PKI)")
    p.add_argument("--identity", metavar="ID", help="Sigstore signer identity (e-mail or workflow URI)")
    p.add_argument("--issuer", metavar="URL", help="Sigstore OIDC issuer of --identity")
    p.add_argument(
        "--trusted-root", metavar="FILE", help="Sigstore trusted_root.json (default: embedded production)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scanner.attest.verify import Trust, verify_bundle_file

    trust = Trust(args.key, args.cert_chain, args.identity, args.issuer, args.trusted_root)
    try:
        outcome = verify_bundle_file(args.path, args.bundle, trust)
    except AttestError as exc:
        print(f"artifact-scanner: verify: {exc}", file=sys.stderr)
        return 2
    if outcome.ok:
        kinds = ", ".join(dict.fromkeys(outcome.statements))
        print(f"verified: {args.path} ({outcome.files_checked} signed item(s); {kinds})")
        return 0
    print(f"verification FAILED: {args.path}", file=sys.stderr)
    for problem in outcome.problems or ["nothing verified"]:
        print(f"  {problem}", file=sys.stderr)
    return 1
