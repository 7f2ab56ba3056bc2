"""No output of ``scan`` carries a raw secret: every fixture holding a fake token is scanned and every
output format is searched for every raw token (and every 12-character piece of it).

``OUTPUT_FORMATS`` lists the formats checked: (name, extra ``scan`` arguments, where ``{out}`` is replaced
by a fresh output file). Extend it when a renderer lands; output flags that take one FILE and that the
scan command already has (``FILE_FLAGS``) are added automatically.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from fixtures.fake_secrets import TOKENS
from scanner.cli import build_parser
from tests.conftest import FIXTURES

OUTPUT_FORMATS: list[tuple[str, list[str]]] = [
    ("text", []),
    ("json", ["--json", "{out}"]),
]
FILE_FLAGS = ("--sarif", "--html", "--bom")
"""One-file output flags checked whenever ``scan`` has them."""
ATTEST = ("attest", ["--attest", "{out}", "--key", "{key}"])
"""Signed attestations (with a fresh ECDSA key), checked whenever ``scan`` has ``--attest`` and ``--key``;
DSSE payloads are decoded before the search."""

SOURCES = [
    FIXTURES / "secrets" / "all_tokens.txt",
    FIXTURES / "secrets" / "model",
]
for extra in ("safetensors", "hf"):
    if (FIXTURES / extra).is_dir():
        SOURCES.append(FIXTURES / extra)


def _scan_flags() -> set[str]:
    parser = build_parser()
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return set(action.choices["scan"]._option_string_actions)
    return set()


def _formats() -> list[tuple[str, list[str]]]:
    formats = list(OUTPUT_FORMATS)
    known = {arg for _, args in formats for arg in args}
    flags = _scan_flags()
    for flag in FILE_FLAGS:
        if flag in flags and flag not in known:
            formats.append((flag.lstrip("-"), [flag, "{out}"]))
    if {"--attest", "--key"} <= flags and "--attest" not in known:
        formats.append(ATTEST)
    return formats


def _key(tmp_path: Path) -> Path:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "key.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return path


def _decoded_payloads(text: str) -> str:
    """The base64 ``payload`` strings of any JSON (lines) in ``text``, decoded."""
    import base64
    import binascii
    import contextlib
    import json

    out: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "payload" and isinstance(v, str):
                    with contextlib.suppress(binascii.Error, ValueError):
                        out.append(base64.b64decode(v).decode("utf-8", "replace"))
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    for line in text.splitlines():
        try:
            walk(json.loads(line))
        except ValueError:
            continue
    return "\n".join(out)


def _pieces(raw: str) -> list[str]:
    return [raw] + [raw[i : i + 12] for i in range(4, max(5, len(raw) - 11))]


@pytest.mark.parametrize(("name", "args"), _formats(), ids=[n for n, _ in _formats()])
def test_no_raw_secret_in_any_output(run_cli, tmp_path: Path, name: str, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / f"out.{name}"
    key = _key(tmp_path) if "{key}" in args else None
    argv = [a.replace("{out}", str(out)).replace("{key}", str(key)) for a in args]
    r = run_cli("scan", "--deep", *map(str, SOURCES), *argv)
    assert r.code == 1
    produced = r.out + r.err
    if out.exists():
        produced += out.read_text(encoding="utf-8", errors="replace")
        produced += _decoded_payloads(produced)
    assert "REDACTED" in produced  # the secrets were found, and shown redacted
    for variant, (_, raw) in TOKENS.items():
        leaked = [p for p in _pieces(raw) if p in produced]
        assert leaked == [], f"{name}: {variant} leaked"
