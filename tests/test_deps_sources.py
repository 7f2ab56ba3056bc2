"""Dependency sources: requirements files, pyproject.toml, lock files, installed environments, config.json."""

from __future__ import annotations

from pathlib import Path

import pytest

from scanner.deps.interface import DependencySourceError, canonical_name
from scanner.deps.sources.installed import InstalledSource
from scanner.deps.sources.locks import PipfileLockSource, PoetryLockSource, PyLockSource, UvLockSource
from scanner.deps.sources.pyproject import PyProjectSource
from scanner.deps.sources.recorded import ConfigJsonSource, RecordedLibrariesSource
from scanner.deps.sources.requirements import RequirementsLimits, RequirementsSource, logical_lines
from scanner.deps.sources.select import kind_of

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "deps"


def test_pep503_names() -> None:
    assert canonical_name("Pillow") == canonical_name("pillow") == "pillow"
    assert canonical_name("Demo_Package") == canonical_name("demo.package") == canonical_name("demo--package")


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("requirements.txt", "requirements"),
        ("requirements-dev.txt", "requirements"),
        ("dev-requirements.in", "requirements"),
        ("constraints.txt", "constraints"),
        ("pyproject.toml", "pyproject"),
        ("pylock.toml", "pylock"),
        ("pylock.gpu.toml", "pylock"),
        ("poetry.lock", "poetry.lock"),
        ("uv.lock", "uv.lock"),
        ("Pipfile.lock", "Pipfile.lock"),
        ("model.safetensors", None),
        ("config.json", None),
        ("notes.txt", None),
    ],
)
def test_dependency_file_names(name: str, kind: str | None) -> None:
    assert kind_of(name) == kind


def test_logical_lines_join_continuations_and_drop_comments() -> None:
    text = "# head\na==1 \\\n  --hash=sha256:00\nb>=2  # why\nurl#frag==1\n"
    assert logical_lines(text) == [(2, "a==1   --hash=sha256:00"), (4, "b>=2"), (5, "url#frag==1")]


def test_requirements_with_hashes_markers_includes_and_editables() -> None:
    result = RequirementsSource.from_path(
        FIXTURES / "mixed" / "requirements.txt", "mixed/requirements.txt"
    ).collect()
    by_name = {d.canonical: d for d in result.dependencies}
    assert set(by_name) == {"requests", "urllib3", "torch", "transformers", "tokenizer-tools"}
    torch = by_name["torch"]
    assert torch.version == "2.5.1" and torch.line == 3
    assert torch.marker == 'python_version >= "3.9"'
    assert len(torch.hashes) == 1 and torch.hashes[0].startswith("sha256:")
    assert by_name["requests"].source == "mixed/base.txt" and by_name["requests"].line == 2
    assert by_name["urllib3"].origin == "constraints" and by_name["urllib3"].version is None
    assert by_name["transformers"].version is None and by_name["transformers"].specifier == ">=4.30"
    assert by_name["tokenizer-tools"].direct_reference is not None
    assert result.files == ("mixed/requirements.txt", "mixed/base.txt", "mixed/constraints.txt")
    assert result.problems == ()


def test_malformed_lines_are_named_and_the_rest_is_kept() -> None:
    result = RequirementsSource.from_path(FIXTURES / "malformed" / "requirements.txt", "req.txt").collect()
    assert [d.canonical for d in result.dependencies] == ["numpy", "pillow"]
    messages = [p.message for p in result.problems]
    assert len(messages) == 2
    assert messages[0].startswith("req.txt:3: cannot parse requirement line 'torch=>2.0'")
    assert messages[1].startswith("req.txt:5: ") and "--bogus-option" in messages[1]
    assert all(p.kind == "malformed" for p in result.problems)


def test_include_cycle_is_read_once() -> None:
    result = RequirementsSource.from_path(
        FIXTURES / "cycle" / "requirements.txt", "cycle/requirements.txt"
    ).collect()
    assert sorted(d.canonical for d in result.dependencies) == ["numpy", "pillow"]
    assert result.problems == ()


def test_include_depth_is_bounded(tmp_path: Path) -> None:
    for i in range(12):
        (tmp_path / f"r{i}.txt").write_text(f"-r r{i + 1}.txt\npkg{i}==1.0\n")
    (tmp_path / "r12.txt").write_text("last==1.0\n")
    source = RequirementsSource.from_path(tmp_path / "r0.txt", "r0.txt")
    source.limits = RequirementsLimits(max_depth=4)
    result = source.collect()
    assert len(result.dependencies) == 5
    assert [p.kind for p in result.problems] == ["limit"]
    assert "r4.txt:1: include 'r5.txt' not read" in result.problems[0].message


def test_line_count_is_bounded() -> None:
    source = RequirementsSource(
        "".join(f"p{i}==1\n" for i in range(50)), "big.txt", limits=RequirementsLimits(max_lines=10)
    )
    result = source.collect()
    assert len(result.dependencies) == 10
    assert result.problems[0].kind == "limit"


def test_includes_are_not_followed_without_a_file_system_or_over_urls() -> None:
    result = RequirementsSource("-r other.txt\n-r https://example.com/r.txt\na==1\n", "member.txt").collect()
    assert [p.kind for p in result.problems] == ["skipped", "skipped"]
    assert [d.name for d in result.dependencies] == ["a"]


def test_missing_include_is_malformed(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("-r nowhere.txt\n")
    result = RequirementsSource.from_path(tmp_path / "requirements.txt", "requirements.txt").collect()
    assert result.problems[0].kind == "malformed"
    assert result.problems[0].message.startswith("requirements.txt:1: ")
    assert "'nowhere.txt' not found" in result.problems[0].message


def test_pyproject_dependencies_extras_and_groups() -> None:
    result = PyProjectSource.from_path(FIXTURES / "pyproject" / "pyproject.toml").collect()
    pins = {(d.canonical, d.version) for d in result.dependencies}
    assert pins == {
        ("torch", None),
        ("pillow", "9.0.0"),
        ("numpy", "1.26.4"),
        ("werkzeug", "3.0.0"),
        ("pytest", None),
        ("ruff", "0.15.12"),
    }
    assert all(not d.hashable for d in result.dependencies)


def test_pyproject_invalid_toml_names_the_file() -> None:
    with pytest.raises(DependencySourceError, match=r"pyproject\.toml: invalid TOML"):
        PyProjectSource("[project\n", "pyproject.toml").collect()


def test_poetry_lock() -> None:
    result = PoetryLockSource.from_path(FIXTURES / "locks" / "poetry.lock").collect()
    assert [(d.canonical, d.version) for d in result.dependencies] == [
        ("pillow", "9.0.0"),
        ("torch", "2.5.1"),
    ]
    assert result.dependencies[0].hashes and result.dependencies[0].hashes[0].startswith("sha256:")


def test_uv_lock_skips_the_project_itself() -> None:
    result = UvLockSource.from_path(FIXTURES / "locks" / "uv.lock").collect()
    assert [(d.canonical, d.version) for d in result.dependencies] == [
        ("numpy", "1.16.0"),
        ("torch", "2.6.0"),
    ]


def test_pipfile_lock_sections() -> None:
    result = PipfileLockSource.from_path(FIXTURES / "locks" / "Pipfile.lock").collect()
    pins = [(d.canonical, d.version, d.source.rsplit(" ", 1)[-1]) for d in result.dependencies]
    assert pins == [
        ("pillow", "9.0.0", "(default)"),
        ("torch", "2.6.0", "(default)"),
        ("werkzeug", "3.0.0", "(develop)"),
    ]


def test_pylock_with_vcs_entry() -> None:
    result = PyLockSource.from_path(FIXTURES / "locks" / "pylock.toml").collect()
    torch, tools = result.dependencies
    assert (torch.canonical, torch.version) == ("torch", "1.13.0")
    assert torch.hashes and torch.hashes[0].startswith("sha256:")
    assert (
        tools.version is None and tools.direct_reference == "https://github.com/example/tokenizer-tools.git"
    )


def test_installed_environment_reads_metadata_only() -> None:
    marker_files = [Path("/tmp/artifact-scanner-pth-ran"), Path("/tmp/artifact-scanner-sitecustomize-ran")]
    for marker in marker_files:
        marker.unlink(missing_ok=True)
    result = InstalledSource(FIXTURES / "env", "env").collect()
    assert [(d.name, d.version) for d in result.dependencies] == [
        ("numpy", "2.1.0"),
        ("Pillow", "9.0.0"),
        ("torch", "2.5.1"),
    ]
    assert result.dependencies[1].source == "env/lib/python3.11/site-packages/pillow-9.0.0.dist-info/METADATA"
    assert not any(marker.exists() for marker in marker_files)


def test_installed_environment_errors(tmp_path: Path) -> None:
    with pytest.raises(DependencySourceError, match="no site-packages"):
        InstalledSource(tmp_path).collect()
    bad = tmp_path / "lib" / "python3.11" / "site-packages" / "x-1.dist-info"
    bad.mkdir(parents=True)
    (bad / "METADATA").write_text("Metadata-Version: 2.1\nSummary: no name\n")
    result = InstalledSource(tmp_path, "venv").collect()
    assert result.dependencies == () and "no Name or Version" in result.problems[0].message


def test_recorded_versions() -> None:
    config = ConfigJsonSource((FIXTURES / "model" / "config.json").read_text(), "model/config.json").collect()
    assert [(d.name, d.version, d.origin) for d in config.dependencies] == [
        ("transformers", "4.30.0", "artifact")
    ]
    recorded = RecordedLibrariesSource({"torch": "2.4.0", "sklearn": ""}, "model.pt").collect()
    assert [(d.name, d.version) for d in recorded.dependencies] == [("torch", "2.4.0")]


def test_includes_stay_inside_the_root(tmp_path: Path) -> None:
    outside = tmp_path / "secret.txt"
    outside.write_text("machine example.com login me password hunter2\n")
    model = tmp_path / "model"
    model.mkdir()
    (model / "requirements.txt").write_text("-r ../secret.txt\n-r /etc/hostname\nnumpy==1.26.4\n")
    result = RequirementsSource.from_path(model / "requirements.txt", "requirements.txt").collect()
    assert [d.canonical for d in result.dependencies] == ["numpy"]
    assert [p.kind for p in result.problems] == ["skipped", "skipped"]
    assert all("leaves" in p.message for p in result.problems)
    assert not any("hunter2" in p.message for p in result.problems)
    widened = RequirementsSource.from_path(
        model / "requirements.txt", "requirements.txt", root=tmp_path
    ).collect()
    assert [p.kind for p in widened.problems] == ["malformed", "skipped"]  # secret.txt read, not PEP 508


def test_hostile_nesting_is_an_error_not_a_crash() -> None:
    with pytest.raises(DependencySourceError, match="nested too deeply"):
        PipfileLockSource("[" * 100_000 + "]" * 100_000, "Pipfile.lock").collect()
    with pytest.raises(DependencySourceError, match="nested too deeply"):
        PoetryLockSource("a = " + "[" * 100_000 + "]" * 100_000, "poetry.lock").collect()
