"""``artifact-scanner keygen --output PREFIX``: an ECDSA P-256 key pair for offline signing."""

from __future__ import annotations

import argparse
import sys

from scanner.attest import PASSWORD_ENV
from scanner.attest.errors import AttestError


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "keygen",
        help="make an ECDSA P-256 key pair: PREFIX.key (mode 0600) and PREFIX.pub",
        description=f"Write PREFIX.key (PKCS#8 PEM, mode 0600, encrypted with ${PASSWORD_ENV} when set) "
        "and PREFIX.pub. Existing files are not overwritten (exit 2).",
    )
    p.add_argument("--output", required=True, metavar="PREFIX", help="path prefix of the two files")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scanner.attest.keys import generate_key_pair

    try:
        key_path, pub_path = generate_key_pair(args.output)
    except (AttestError, OSError) as exc:
        print(f"artifact-scanner: keygen: {exc}", file=sys.stderr)
        return 2
    print(f"private key: {key_path}\npublic key:  {pub_path}")
    return 0
