"""Secret patterns: each fake token of the right shape is found with its type and exact extent; near
misses stay silent; text files are recognised by content whatever their name."""

from __future__ import annotations

import pytest

from fixtures.fake_secrets import NEAR_MISSES, TOKENS
from scanner.secret_scan import find_secrets, redact, redacted_form
from tests.conftest import FIXTURES

SECRETS = FIXTURES / "secrets"


_VARIANTS = {"github-fine-grained-token": "github-token", "private-key-openssh": "private-key"}


def _kind(variant: str) -> str:
    return _VARIANTS.get(variant, variant)


@pytest.mark.parametrize("variant", sorted(TOKENS))
def test_each_fake_token_is_found_with_type_and_extent(variant: str) -> None:
    text, raw = TOKENS[variant]
    (match,) = find_secrets(text)
    assert match.pattern.name == _kind(variant)
    assert text[match.start : match.end] == raw
    expected_rule = "AS-SEC-002" if variant == "generic-secret-assignment" else "AS-SEC-001"
    assert match.pattern.rule_id == expected_rule
    assert match.redacted == f"[REDACTED {_kind(variant)}: {raw[:4]}… ({len(raw)} chars)]"


@pytest.mark.parametrize("text", NEAR_MISSES)
def test_near_misses_do_not_fire(text: str) -> None:
    assert [m.pattern.name for m in find_secrets(text)] == []


def test_redact_keeps_context_and_hides_every_value() -> None:
    text = "\n".join(t for t, _ in TOKENS.values())
    out = redact(text)
    for _, raw in TOKENS.values():
        assert raw not in out
        # No 12-character run of any secret survives (the redacted form shows at most 4).
        assert all(raw[i : i + 12] not in out for i in range(0, len(raw) - 12))
    assert "DATABASE_URL=postgresql://svc_model:[REDACTED database-url-password: " in out


def test_fixed_format_wins_over_generic_assignment_at_the_same_place() -> None:
    _, raw = TOKENS["huggingface-token"]
    (match,) = find_secrets(f'api_key = "{raw}"')
    assert match.pattern.name == "huggingface-token" and match.pattern.rule_id == "AS-SEC-001"


def test_generic_assignment_needs_entropy() -> None:
    assert list(find_secrets('password = "aaaaaaaaaaaaaaab"')) == []
    (match,) = find_secrets('password = "q8W#z2Lp9Xv4Rt6Y"')
    assert match.pattern.name == "generic-secret-assignment"


def test_redacted_form_shows_at_most_four_characters() -> None:
    assert redacted_form("x", "abcdefgh") == "[REDACTED x: abcd… (8 chars)]"
    assert redacted_form("x", "ab") == "[REDACTED x: ab… (2 chars)]"


def test_text_file_without_extension_is_scanned_by_content(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("scan", str(SECRETS / "model" / "run_settings"), "--json", "-")
    assert r.code == 1
    (art,) = r.json()["artifacts"]
    assert art["format"] == "text"
    found = {
        (f["rule_id"], f["severity"], f["extra"]["secret_type"], f["extra"]["line"]) for f in art["findings"]
    }
    assert found == {
        ("AS-SEC-001", "high", "huggingface-token", 3),
        ("AS-SEC-001", "high", "database-url-password", 4),
        ("AS-SEC-001", "high", "aws-access-key-id", 5),
        ("AS-SEC-001", "high", "aws-secret-access-key", 6),
    }


def test_every_token_type_in_one_file(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("scan", str(SECRETS / "all_tokens.txt"), "--json", "-")
    (art,) = r.json()["artifacts"]
    types = sorted(f["extra"]["secret_type"] for f in art["findings"])
    assert types == sorted(_kind(v) for v in TOKENS)


def test_near_miss_file_is_clean(run_cli) -> None:  # type: ignore[no-untyped-def]
    r = run_cli("scan", str(SECRETS / "near_misses.txt"), "--json", "-")
    assert r.code == 0
    (art,) = r.json()["artifacts"]
    assert art["findings"] == []


def test_secret_across_text_block_boundary_is_reported_once(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from scanner.formats import text as text_module

    _, raw = TOKENS["github-token"]
    filler = "x = 1\n" * ((text_module._BLOCK - 20) // 6)
    path = tmp_path / "notes"
    path.write_text(filler + f"token {raw}\n" + filler + f"again {raw}\n")
    r = run_cli("scan", str(path), "--json", "-")
    (art,) = r.json()["artifacts"]
    lines = filler.count("\n")
    assert [(f["extra"]["secret_type"], f["extra"]["line"]) for f in art["findings"]] == [
        ("github-token", lines + 1),
        ("github-token", 2 * lines + 2),
    ]


def test_hyperscan_path_finds_exactly_what_re_finds(monkeypatch: pytest.MonkeyPatch) -> None:
    import random

    from scanner import secret_scan

    rnd = random.Random(5)
    parts = []
    for i in range(3000):
        r = rnd.random()
        if r < 0.05:
            parts.append(rnd.choice(list(TOKENS.values()))[0])
        elif r < 0.1:
            parts.append(rnd.choice(NEAR_MISSES))
        else:
            parts.append(f"lr = {rnd.random():f} ; name = 'ünïcödé model-{i}' token_count: {i}")
    text = "\n".join(parts)
    assert len(text) >= secret_scan.FAST_MIN_CHARS
    fast = [(m.start, m.end, m.pattern.name, m.redacted) for m in find_secrets(text)]
    monkeypatch.setattr(secret_scan, "FAST_MIN_CHARS", 10**12)
    slow = [(m.start, m.end, m.pattern.name, m.redacted) for m in find_secrets(text)]
    assert len(slow) > 100
    assert fast == slow


def test_utf16_text_with_bom_is_scanned(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    text = "[settings]\r\nname = tiny\r\n" + TOKENS["huggingface-token"][0] + "\r\n"
    (tmp_path / "settings.ini").write_bytes(b"\xff\xfe" + text.encode("utf-16-le"))
    r = run_cli("scan", str(tmp_path), "--json", "-")
    (art,) = r.json()["artifacts"]
    assert [(f["rule_id"], f["severity"], f["detail"], f["location"]["offset"]) for f in art["findings"]] == [
        (
            "AS-SEC-001",
            "high",
            "huggingface-token in utf-16-le text (offsets of its UTF-8 form) at line 3",
            34,
        )
    ]


def test_compiled_pattern_database_is_cached_and_survives_a_corrupt_cache(monkeypatch, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The hyperscan database is compiled once and reloaded by later runs; a bad cache is rebuilt."""
    from scanner import secret_fast

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    line, _ = TOKENS["github-token"]
    text = ("plain words of a long model card. " * 200) + f"\n{line}\n"
    found = []
    for state in ("compiled", "from cache", "after corruption"):
        secret_fast._engine.cache_clear()
        if state == "after corruption":
            for cached in (tmp_path / "artifact-scanner").glob("hyperscan-*.db"):
                cached.write_bytes(b"not a database")
        found.append([(m.pattern.name, m.start, m.end) for m in find_secrets(text)])
        assert list((tmp_path / "artifact-scanner").glob("hyperscan-*.db")), state
    secret_fast._engine.cache_clear()
    assert [name for name, *_ in found[0]] == ["github-token"]
    assert found[0] == found[1] == found[2]


@pytest.mark.parametrize(
    "text", [t for t, _ in TOKENS.values()] + list(NEAR_MISSES) + ["x", "F32", "layer0.weight"]
)
def test_short_strings_get_the_same_answer_from_both_searches(
    text: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scanner import secret_scan

    fast = [(m.start, m.end, m.pattern.name, m.redacted) for m in find_secrets(text)]
    monkeypatch.setattr(secret_scan, "FAST_MIN_CHARS", 10**12)
    assert [(m.start, m.end, m.pattern.name, m.redacted) for m in find_secrets(text)] == fast


def test_every_shipped_pattern_compiles() -> None:
    """Patterns compile on first use; a broken one in rules/secrets.yaml must fail here, not in a scan."""
    from scanner.secret_fast import _confirmer
    from scanner.secret_scan import secret_patterns

    patterns = secret_patterns()
    assert len(patterns) >= 20
    for pattern in patterns:
        assert pattern.regex.pattern == pattern.source
        assert pattern.exclude is None or pattern.exclude.pattern == pattern.exclude_source
        regex, window = _confirmer(pattern)
        assert regex.pattern == pattern.source.encode() and window > 0


def test_no_pattern_matches_fewer_characters_than_the_cutoff() -> None:
    import warnings

    from scanner.secret_scan import MIN_SECRET_CHARS, secret_patterns

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        import sre_parse

        widths = {p.name: sre_parse.parse(p.source).getwidth()[0] for p in secret_patterns()}
    assert min(widths.values()) >= MIN_SECRET_CHARS, widths


def test_a_tree_is_redacted_as_each_of_its_strings_would_be() -> None:
    from scanner.secret_scan import _map_strings, redact, redact_tree

    def one_by_one(tree: object) -> object:
        return _map_strings(tree, redact)

    tokens = [t for t, _ in TOKENS.values()]
    benign = {
        "format": "pt",
        "layers": ["model.embed_tokens.weight", ("F32", [1, 2])],
        "note": NEAR_MISSES[0],
    }
    assert (
        redact_tree(benign)
        == one_by_one(benign)
        == {**benign, "layers": ["model.embed_tokens.weight", ["F32", [1, 2]]]}
    )
    for token in tokens:
        tree = {**benign, "meta": {"deep": [token, "x"]}}
        out = redact_tree(tree)
        assert out == one_by_one(tree) and out["meta"]["deep"][0] != token
    # A string that only looks like a secret when joined to its neighbour is left alone.
    assert redact_tree(["password", "= q8W#z2Lp9Xv4Rt6Y"]) == ["password", "= q8W#z2Lp9Xv4Rt6Y"]
