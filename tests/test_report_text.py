"""The terminal report: summary table, findings grouped by artifact worst first, fix advice, colour."""

from __future__ import annotations

import shutil
from pathlib import Path

from scanner.engine import ScanOptions, scan_paths
from scanner.report.text import TextRenderer
from scanner.rulebook import get_rule
from tests.conftest import FIXTURES


def test_summary_and_grouping(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    d = tmp_path / "drop"
    d.mkdir()
    shutil.copy(FIXTURES / "foundation" / "leaky.safetensors", d / "a_leaky.safetensors")
    shutil.copy(FIXTURES / "foundation" / "tiny.safetensors", d / "b_tiny.safetensors")
    shutil.copy(FIXTURES / "formats_b" / "keras" / "os_system.keras", d / "c_evil.keras")
    (d / "d_notes.bin").write_bytes(b"\x00\x01\x02opaque")
    r = run_cli("scan", str(d))
    assert r.code == 1
    out = r.out
    assert "\x1b[" not in out  # not a terminal: no colour
    head = out.split("\n\n", 1)[0]
    for row in ("verdict", "FAIL (fail on medium)", "artifacts", "formats", "keras 1", "safetensors 2",
                "worst severity", "critical", "suppressed", "errors"):
        assert row in head
    assert "critical 1  high 1  medium 0  low 0  info 1" in head
    # worst artifact first; the clean one is counted, not listed
    order = [line.split("  ")[0] for line in out.splitlines() if line.startswith(str(d))]
    assert order == [f"{d}/c_evil.keras", f"{d}/a_leaky.safetensors", f"{d}/d_notes.bin"]
    assert "b_tiny" not in out and "4 artifact(s), 1 without findings" in out
    assert "AS-KER-003" in out and "(config.json)" in out
    assert f"fix: {get_rule('AS-KER-003').fix}" in out
    assert f"fix: {get_rule('AS-SEC-001').fix}" in out
    why = get_rule("AS-SEC-001").rationale.split(". ")[0] + "."
    assert f"why: {why}" in out and get_rule("AS-SEC-001").rationale not in out
    assert "verdict: FAIL (fail on medium)" in out.splitlines()[-1]


def test_colour_only_when_asked_and_names_stay_literal(tmp_path: Path) -> None:
    name = tmp_path / ":thumbs_up: [bold]x[red].safetensors"
    shutil.copy(FIXTURES / "foundation" / "leaky.safetensors", name)
    report = scan_paths([str(name)], ScanOptions(jobs=1))
    coloured = TextRenderer(color=True).render(report)
    plain = TextRenderer(color=False).render(report)
    assert "\x1b[" in coloured and "\x1b[" not in plain
    for out in (coloured, plain):
        assert ":thumbs_up: [bold]x[red].safetensors" in out  # no emoji, no markup from a file name
