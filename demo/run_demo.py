"""The main job on the bundled demo artifacts, checking the verdicts it expects.

Writes everything under ``build/demo/`` (ignored by git). Exit 0 when every step gave the expected
outcome, 1 otherwise.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from scanner.cli import main as cli

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "fixtures" / "demo"
OUT = ROOT / "build" / "demo"


def step(title: str, argv: list[str], expected: int) -> bool:
    print(f"\n=== {title}\n$ artifact-scanner {' '.join(argv)}", flush=True)
    code = cli(argv)
    ok = code == expected
    print(f"--> exit {code} (expected {expected}): {'ok' if ok else 'UNEXPECTED'}", flush=True)
    return ok


def critical_calls(result_json: Path) -> list[str]:
    """``module.qualname`` of every critical pickle call finding in a stored JSON result."""
    data = json.loads(result_json.read_text(encoding="utf-8"))
    return [
        f"{f['extra'].get('module')}.{f['extra'].get('qualname')}"
        for artifact in data["artifacts"]
        for f in artifact["findings"]
        if f["rule_id"] == "AS-PKL-001" and f["severity"] == "critical"
    ]


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    vendor = str(DEMO / "vendor-model")
    leaky = str(DEMO / "leaky-model")
    malicious = str(DEMO / "malicious-model")
    results = [
        step("hash the vendor model", ["hash", vendor, "--format", "json"], 0),
        step(
            "scan the benign vendor model (expect pass)",
            ["scan", vendor, "--reproducible", "--json", str(OUT / "vendor-model.json")],
            0,
        ),
        step(
            "scan a model that leaks a credential (expect fail)",
            ["scan", leaky, "--reproducible", "--json", str(OUT / "leaky-model.json")],
            1,
        ),
        step(
            "scan a PyTorch checkpoint whose pickle runs a command (expect fail)",
            ["scan", malicious, "--reproducible", "--json", str(OUT / "malicious-model.json")],
            1,
        ),
    ]
    calls = critical_calls(OUT / "malicious-model.json")
    print(f"--> critical calls found in the malicious model: {', '.join(calls) or 'NONE'}")
    results.append(bool(calls))
    # --- BOM, attestations and model signature (issue 6) ---
    key = OUT / "demo-signing"
    for suffix in (".key", ".pub"):
        Path(f"{key}{suffix}").unlink(missing_ok=True)
    results += [
        step("make a throwaway signing key pair under build/", ["keygen", "--output", str(key)], 0),
        step(
            "scan with a CycloneDX ML-BOM and signed attestations",
            [
                "scan",
                vendor,
                "--reproducible",
                "--bom",
                str(OUT / "vendor-model.cdx.json"),
                "--attest",
                str(OUT / "vendor-model.intoto.jsonl"),
                "--key",
                f"{key}.key",
            ],
            0,
        ),
        step(
            "verify the attestations against the files",
            ["verify", vendor, "--bundle", str(OUT / "vendor-model.intoto.jsonl"), "--key", f"{key}.pub"],
            0,
        ),
        step(
            "sign the model (OpenSSF model signing format)",
            ["sign", vendor, "--key", f"{key}.key", "--output", str(OUT / "vendor-model.sig")],
            0,
        ),
        step(
            "the leaky model does not match the vendor model's signature (expect failure)",
            ["verify", leaky, "--bundle", str(OUT / "vendor-model.sig"), "--key", f"{key}.pub"],
            1,
        ),
    ]
    # --- end BOM, attestations and model signature ---
    # --- reports (issue 5): the intake review of the whole demo drop, for people and code scanning ---
    results.append(
        step(
            "review report of the whole drop: HTML for people, SARIF for code scanning (expect fail)",
            [
                "scan",
                vendor,
                leaky,
                malicious,
                "--reproducible",
                "--html",
                str(OUT / "report.html"),
                "--sarif",
                str(OUT / "scan.sarif"),
            ],
            1,
        )
    )
    # --- end reports ---
    passed = sum(results)
    print(f"\ndemo: {passed} of {len(results)} checks as expected; outputs in {OUT.relative_to(ROOT)}/")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
