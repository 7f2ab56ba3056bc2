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
    for flag in FILE_FLAGS:
        if flag in _scan_flags() and flag not in known:
            formats.append((flag.lstrip("-"), [flag, "{out}"]))
    return formats


def _pieces(raw: str) -> list[str]:
    return [raw] + [raw[i : i + 12] for i in range(4, max(5, len(raw) - 11))]


@pytest.mark.parametrize(("name", "args"), _formats(), ids=[n for n, _ in _formats()])
def test_no_raw_secret_in_any_output(run_cli, tmp_path: Path, name: str, args: list[str]) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / f"out.{name}"
    argv = [a.replace("{out}", str(out)) for a in args]
    r = run_cli("scan", "--deep", *map(str, SOURCES), *argv)
    assert r.code == 1
    produced = r.out + r.err
    if out.exists():
        produced += out.read_text(encoding="utf-8", errors="replace")
    assert "REDACTED" in produced  # the secrets were found, and shown redacted
    for variant, (_, raw) in TOKENS.items():
        leaked = [p for p in _pieces(raw) if p in produced]
        assert leaked == [], f"{name}: {variant} leaked"
