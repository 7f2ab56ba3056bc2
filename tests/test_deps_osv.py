"""OSV records, range matching, CVSS scoring and the offline index (hand-written records in a zip)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from packaging.version import Version

from scanner.deps.cvss import score_v2, score_v3, severity_of_score
from scanner.deps.interface import Dependency
from scanner.deps.osv_records import AffectedEntry, RecordError, match_entry, match_range, parse_record
from scanner.deps.osv_store import OsvStore, VulnDbError, import_records, open_store
from scanner.deps.services.offline import OfflineOsvService
from scanner.model import Severity

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "deps"


@pytest.mark.parametrize(
    ("vector", "score"),
    [
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", 9.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", 7.5),
        ("CVSS:3.1/AV:L/AC:L/PR:L/UI:R/S:U/C:L/I:N/A:N", 2.8),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N", 6.1),
        ("CVSS:3.1/AV:N/AC:L/PR:L/UI:N/S:C/C:H/I:H/A:H", 9.9),
        ("CVSS:3.0/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N", 5.9),
        ("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:N", 0.0),
    ],
)
def test_cvss_v3_base_scores(vector: str, score: float) -> None:
    assert score_v3(vector) == score


def test_cvss_v2_and_invalid_vectors() -> None:
    assert score_v2("AV:N/AC:L/Au:N/C:P/I:P/A:P") == 7.5
    assert score_v2("AV:N/AC:M/Au:N/C:N/I:P/A:N") == 4.3
    assert score_v3("CVSS:3.1/AV:N/AC:L") is None
    assert score_v3("CVSS:3.1/AV:X/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H") is None


@pytest.mark.parametrize(
    ("score", "severity"),
    [
        (0.0, Severity.INFO),
        (2.8, Severity.LOW),
        (4.0, Severity.MEDIUM),
        (7.5, Severity.HIGH),
        (9.0, Severity.CRITICAL),
    ],
)
def test_score_to_severity(score: float, severity: Severity) -> None:
    assert severity_of_score(score) is severity


def test_range_events_in_pep440_order() -> None:
    events = (("introduced", "0"), ("fixed", "2.3.8"), ("introduced", "3.0.0"), ("fixed", "3.0.1"))
    assert match_range(Version("2.3.7"), events) == "<2.3.8"
    assert match_range(Version("2.3.8"), events) is None
    assert match_range(Version("2.10"), events) is None  # 2.10 > 2.3.8 in PEP 440, not as strings
    assert match_range(Version("3.0.0"), events) == ">=3.0.0,<3.0.1"
    assert match_range(Version("3.0.0rc1"), events) is None
    assert match_range(Version("1.0"), (("introduced", "1.0"), ("last_affected", "1.4.2"))) == ">=1.0,<=1.4.2"
    assert match_range(Version("1.4.3"), (("introduced", "1.0"), ("last_affected", "1.4.2"))) is None
    assert match_range(Version("5"), (("introduced", "0"),)) == ">=0"
    assert match_range(Version("1"), (("introduced", "0"), ("fixed", "abc123"))) is None  # not PEP 440


def test_versions_list_match_normalises() -> None:
    entry = AffectedEntry("demo", (), ("1.0", "2.0.0"))
    assert match_entry("1.0.0", entry) is not None  # 1.0 == 1.0.0 under PEP 440
    assert match_entry("2.0", entry) is not None
    assert match_entry("2.0.1", entry) is None


def test_parse_record_rejects_non_records_and_skips_withdrawn() -> None:
    with pytest.raises(RecordError):
        parse_record({"summary": "no id"}, "x.json")
    assert parse_record({"id": "X", "withdrawn": "2020-01-01", "affected": []}, "x.json") is None
    assert (
        parse_record({"id": "X", "affected": [{"package": {"ecosystem": "npm", "name": "a"}}]}, "x") is None
    )


@pytest.fixture(scope="module")
def zip_store(tmp_path_factory: pytest.TempPathFactory) -> OsvStore:
    index = tmp_path_factory.mktemp("osv") / "index.sqlite"
    summary = import_records(FIXTURES / "osv-records.zip", index)
    assert (summary.records, summary.skipped, summary.error_count) == (2, 2, 0)
    return OsvStore(index)


def _ids(store: OsvStore, name: str, version: str) -> list[tuple[str, str | None, float | None, str | None]]:
    answer = OfflineOsvService(store).query(Dependency(name=name, version=version))
    return [(a.id, a.affected_range, a.cvss_score, a.qualitative_severity) for a in answer.advisories]


def test_zip_of_json_records(zip_store: OsvStore) -> None:
    # PEP 503: records name Demo_Package and demo.package; the query asks for demo-package
    assert _ids(zip_store, "demo-package", "1.2.0") == [
        ("GHSA-fake-qual-0001", ">=1.0,<=1.4.2", None, "MODERATE")
    ]
    assert _ids(zip_store, "DEMO.PACKAGE", "2.0.0") == [("GHSA-fake-list-0003", None, 7.5, None)]
    assert _ids(zip_store, "demo-package", "1.5") == []


def test_store_is_opened_read_only(zip_store: OsvStore) -> None:
    with pytest.raises(sqlite3.OperationalError):
        zip_store._conn.execute("DELETE FROM advisory")


def test_open_store_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    with pytest.raises(VulnDbError, match="no vulnerability database imported"):
        open_store(None)
    with pytest.raises(VulnDbError, match="no such file"):
        open_store(tmp_path / "missing")
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(VulnDbError, match="not a directory, a zip"):
        open_store(tmp_path / "notes.txt")


def test_records_source_is_indexed_once_and_reindexed_when_changed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    records = tmp_path / "records"
    records.mkdir()
    (records / "A-1.json").write_text(
        '{"id": "A-1", "affected": [{"package": {"ecosystem": "PyPI", "name": "a"}, "versions": ["1"]}]}'
    )
    store = open_store(records)
    assert store.index.parent == tmp_path / "cache" / "artifact-scanner"
    assert store.meta["records"] == "1"
    (records / "A-2.json").write_text(
        '{"id": "A-2", "affected": [{"package": {"ecosystem": "PyPI", "name": "a"}, "versions": ["1"]}]}'
    )
    assert open_store(records).meta["records"] == "2"  # fingerprint changed: re-indexed


def test_unreadable_records_are_counted_not_fatal(tmp_path: Path) -> None:
    records = tmp_path / "records"
    records.mkdir()
    (records / "bad.yaml").write_text("id: [unclosed\n")
    (records / "ok.json").write_text(
        '{"id": "OK-1", "affected": [{"package": {"ecosystem": "PyPI", "name": "a"}, "versions": ["1"]}]}'
    )
    summary = import_records(records, tmp_path / "i.sqlite")
    assert (summary.records, summary.error_count) == (1, 1)
    assert summary.errors[0].startswith("bad.yaml: invalid YAML")


def test_yaml_alias_bomb_in_a_record_stays_cheap(tmp_path: Path) -> None:
    records = tmp_path / "records"
    records.mkdir()
    layers = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    layers += [f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 9)]
    (records / "BOMB-1.yaml").write_text(
        "\n".join(layers) + "\nid: BOMB-1\naffected:\n- package: {ecosystem: PyPI, name: bomb}\n"
        "  versions: *a8\n  ranges:\n  - type: ECOSYSTEM\n    events:\n    - introduced: *a8\n"
    )
    summary = import_records(records, tmp_path / "i.sqlite")
    assert summary.records == 1 and summary.seconds < 5
    answer = OfflineOsvService(OsvStore(tmp_path / "i.sqlite")).query(Dependency(name="bomb", version="1"))
    assert answer.advisories == ()
