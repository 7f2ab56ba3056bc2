"""``artifact-scanner hash PATH...``: streaming SHA-256 + BLAKE3 per file and per directory, and --check."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from typing import Any

from scanner.commands._common import positive_int, progress_bar
from scanner.hashing import DirectoryEntry, HashError, directory_digest, hash_file
from scanner.model import Digests
from scanner.report.json_report import digests_to_dict
from scanner.walk import list_artifacts

FORMATS = ("text", "json", "sha256sum", "b3sum")


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    p = sub.add_parser(
        "hash",
        help="compute SHA-256 and BLAKE3 of files and directories, or check a manifest",
        description="Digests per file and per directory (directory serialization v1, see the "
        "README). Exit 0 ok, 1 mismatch with --check, 3 I/O error.",
    )
    p.add_argument("paths", nargs="*", metavar="PATH")
    p.add_argument("--format", choices=FORMATS, default="text", help="output format (default text)")
    p.add_argument("--shard-size", type=positive_int, metavar="N", help="also print a SHA-256 shard manifest")
    p.add_argument(
        "--check", metavar="MANIFEST", help="verify files against a sha256sum/b3sum file or our JSON output"
    )
    p.set_defaults(func=run)


@dataclass(frozen=True)
class _FileDigest:
    path: str
    digests: Digests


def _escape(path: str) -> tuple[str, str]:
    """coreutils-style escaping: a leading backslash marks names with backslash or newline."""
    if "\\" in path or "\n" in path or "\r" in path:
        return "\\", path.replace("\\", "\\\\").replace("\n", "\\n").replace("\r", "\\r")
    return "", path


def _unescape(path: str) -> str:
    out, i = [], 0
    while i < len(path):
        if path[i] == "\\" and i + 1 < len(path):
            out.append({"\\": "\\", "n": "\n", "r": "\r"}.get(path[i + 1], path[i + 1]))
            i += 2
        else:
            out.append(path[i])
            i += 1
    return "".join(out)


def run(args: argparse.Namespace) -> int:
    if args.check:
        return _check(args.check, args.shard_size)
    if not args.paths:
        print("artifact-scanner hash: error: give at least one PATH, or --check MANIFEST", file=sys.stderr)
        return 2
    listing = list_artifacts(args.paths)
    errors = [e.message for e in listing.errors]
    files: list[_FileDigest] = []
    per_root: dict[str, list[DirectoryEntry]] = {}
    with progress_bar(sum(a.size for a in listing.artifacts), "hashing") as progress:
        for artifact in listing.artifacts:
            try:
                digests = hash_file(artifact.fs_path, shard_size=args.shard_size, progress=progress)
            except HashError as exc:
                errors.append(str(exc))
                continue
            files.append(_FileDigest(artifact.path, digests))
            if artifact.root != artifact.path:
                per_root.setdefault(artifact.root, []).append(DirectoryEntry(artifact.relpath, digests))
    for link in listing.external_links:
        print(
            f"artifact-scanner: {link.path}: symlink leaving the directory, not followed (-> {link.target})",
            file=sys.stderr,
        )
    directories = [(root, directory_digest(entries), len(entries)) for root, entries in per_root.items()]
    sys.stdout.write(_render(args.format, files, directories, errors))
    for message in errors:
        print(f"artifact-scanner: {message}", file=sys.stderr)
    return 3 if errors else 0


def _render(
    fmt: str, files: list[_FileDigest], directories: list[tuple[str, Digests, int]], errors: list[str]
) -> str:
    if fmt == "json":
        doc: dict[str, Any] = {
            "schema_version": 1,
            "files": [{"path": f.path, **digests_to_dict(f.digests)} for f in files],
            "directories": [
                {
                    "path": p,
                    "serialization": "artifact-scanner-dirdigest-v1",
                    "files": n,
                    **digests_to_dict(d),
                }
                for p, d, n in directories
            ],
            "errors": errors,
        }
        return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
    lines = []
    for f in files:
        if fmt in ("sha256sum", "b3sum"):
            prefix, name = _escape(f.path)
            value = f.digests.sha256 if fmt == "sha256sum" else f.digests.blake3
            lines.append(f"{prefix}{value}  {name}")
        else:
            lines.append(f"{f.digests.sha256}  {f.digests.blake3}  {f.digests.size:>12}  {f.path}")
            for s in f.digests.shards:
                lines.append(f"  shard {s.index} offset={s.offset} length={s.length} sha256={s.sha256}")
    if fmt == "text":
        for path, d, n in directories:
            lines.append(f"{d.sha256}  {d.blake3}  {d.size:>12}  {path}/ (directory, {n} files)")
    return "".join(line + "\n" for line in lines)


def _parse_manifest(path: str) -> list[tuple[str, set[str]]]:
    """Entries ``(file path, accepted hex digests)`` from a sha256sum/b3sum file or our JSON."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    if text.lstrip().startswith("{"):
        doc = json.loads(text)
        return [(e["path"], {e["sha256"], e["blake3"]}) for e in doc.get("files", [])]
    entries = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        escaped = line.startswith("\\")
        body = line[1:] if escaped else line
        value, sep, name = body.partition(" ")
        if not sep or len(value) != 64 or any(c not in "0123456789abcdefABCDEF" for c in value):
            raise ValueError(f"{path}:{number}: not a sha256sum/b3sum line")
        name = name[1:] if name.startswith((" ", "*")) else name
        entries.append((_unescape(name) if escaped else name, {value.lower()}))
    return entries


def _check(manifest: str, shard_size: int | None) -> int:
    try:
        entries = _parse_manifest(manifest)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"artifact-scanner: cannot read manifest {manifest}: {exc}", file=sys.stderr)
        return 3
    failed = 0
    for name, accepted in entries:
        try:
            digests = hash_file(name, shard_size=shard_size)
        except HashError as exc:
            print(f"{name}: FAILED ({exc})")
            failed += 1
            continue
        if digests.sha256 in accepted or digests.blake3 in accepted:
            print(f"{name}: OK")
        else:
            print(f"{name}: FAILED")
            failed += 1
    if failed:
        print(
            f"artifact-scanner: WARNING: {failed} of {len(entries)} computed checksums did NOT match",
            file=sys.stderr,
        )
        return 1
    return 0
