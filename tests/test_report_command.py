"""``artifact-scanner report``: a stored JSON result renders to the same SARIF, HTML and text as the scan."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import FIXTURES

ROOTS = [FIXTURES / "demo", FIXTURES / "pickle" / "hostile", FIXTURES / "formats_b" / "keras", FIXTURES / "deps" / "vulnerable"]


def test_rerendering_a_stored_result_matches_the_scan(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    scan = run_cli(
        "scan", *map(str, ROOTS), "--reproducible", "--json", str(tmp_path / "r.json"),
        "--sarif", str(tmp_path / "scan.sarif"), "--html", str(tmp_path / "scan.html"),
    )  # fmt: skip
    assert scan.code == 1
    again = run_cli("report", str(tmp_path / "r.json"), "--sarif", str(tmp_path / "again.sarif"), "--html", str(tmp_path / "again.html"))
    assert again.code == 1
    assert again.out == scan.out
    assert (tmp_path / "again.sarif").read_bytes() == (tmp_path / "scan.sarif").read_bytes()
    assert (tmp_path / "again.html").read_bytes() == (tmp_path / "scan.html").read_bytes()
    sarif = json.loads((tmp_path / "again.sarif").read_text())
    assert any(r["ruleId"] == "AS-PKL-001" for r in sarif["runs"][0]["results"])


def test_report_of_a_passing_result_exits_0_and_bad_input_exits_2(run_cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "pass.json"
    assert run_cli("scan", str(FIXTURES / "demo" / "vendor-model"), "--json", str(good)).code == 0
    r = run_cli("report", str(good), "--sarif", "-")
    assert r.code == 0 and json.loads(r.out)["version"] == "2.1.0" and "verdict: PASS" in r.err
    broken = json.loads(good.read_text())
    del broken["artifacts"][0]["findings"]
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    for path, message in [
        (tmp_path / "broken.json", "malformed scan result: KeyError: 'findings'"),
        (tmp_path / "missing.json", "cannot read"),
        (FIXTURES / "demo" / "vendor-model" / "config.json", "not a scan result with schema_version 1"),
    ]:
        r = run_cli("report", str(path))
        assert r.code == 2 and message in r.err, r.err
