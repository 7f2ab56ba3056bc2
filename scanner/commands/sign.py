"""``artifact-scanner sign MODEL_PATH``: an OpenSSF model signature (OMS) over a model file or directory."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from scanner.attest import oms
from scanner.attest.errors import AttestError
from scanner.commands._common import add_signing_flags, positive_int


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "sign",
        help="sign a model (OMS format, verifiable with model_signing)",
        description="Write an OpenSSF model signature (one Sigstore bundle) over MODEL_PATH. The signature "
        "file and .git, .gitattributes, .github, .gitignore inside MODEL_PATH are not signed.",
    )
    p.add_argument("model_path", metavar="MODEL_PATH")
    p.add_argument(
        "--output", default="model.sig", metavar="FILE", help="signature file (default ./model.sig)"
    )
    add_signing_flags(p)
    p.add_argument(
        "--hash", choices=("sha256", "blake3"), default="sha256", help="per-file digest (default sha256)"
    )
    p.add_argument(
        "--shard-size", type=positive_int, metavar="N", help="sign SHA-256 shards of N bytes, not files"
    )
    p.add_argument(
        "--ignore", action="append", default=[], metavar="PATH", help="also leave out this relative path"
    )
    p.add_argument("--allow-symlinks", action="store_true", help="follow symlinks instead of refusing them")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from scanner.attest.signers import make_signer

    model = Path(args.model_path)
    output = Path(args.output)
    try:
        signer = make_signer(args.key, args.cert, args.cert_chain, args.keyless)
        if not model.exists():
            raise AttestError(f"{model}: no such file or directory")
        serialization = oms.Serialization(
            method="shards" if args.shard_size and args.hash == "sha256" else "files",
            hash_type=args.hash,
            shard_size=args.shard_size or 1_000_000_000,
            allow_symlinks=args.allow_symlinks,
            ignore_paths=oms.default_ignore(model, output, args.ignore),
        )
        manifest = oms.compute_manifest(model, serialization)
        bundle = signer.sign_statement(oms.statement_bytes(manifest))
    except AttestError as exc:
        print(f"artifact-scanner: sign: {exc}", file=sys.stderr)
        return 2
    except oms.ModelReadError as exc:  # I/O error, refused symlink or special file
        print(f"artifact-scanner: sign: {exc}", file=sys.stderr)
        return 3
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(bundle + "\n", encoding="utf-8")
    print(f"signed {len(manifest.resources)} resource(s) of {model} -> {output}")
    return 0
