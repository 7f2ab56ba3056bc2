"""Chat templates: real models' templates pass; injection is judged on the AST after constant folding."""

from __future__ import annotations

import pytest

from scanner.jinja_check import check_template
from tests.formats_util import FORMATS, only_artifact, scan, with_rule

TPL = FORMATS / "templates"
REAL = sorted((TPL / "real").glob("*.jinja"))
ATTACKS = TPL / "attacks"


def test_real_templates_are_all_there() -> None:
    names = {p.stem for p in REAL}
    assert {"llama3", "llama31_tools", "llama2", "mistral", "qwen2", "qwen25_tools", "gemma", "phi3"} <= names
    assert {"zephyr", "deepseek_r1", "chatml_generation"} <= names


@pytest.mark.parametrize("path", REAL, ids=lambda p: p.stem)
def test_real_model_templates_pass(run_cli, path) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, path)
    art = only_artifact(doc)
    assert code == 0, art["findings"]
    assert art["findings"] == [] and art["errors"] == []
    assert "jinja-file:." in art["coverage"]["analyzed"]
    assert art["properties"]["chat_template"] is True


def test_real_tokenizer_config_with_named_templates_passes(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, TPL / "real" / "tokenizer_config.json")
    art = only_artifact(doc)
    assert code == 0 and art["findings"] == []
    assert "chat-template-json:." in art["coverage"]["analyzed"]
    assert art["properties"]["chat_template"] is True


def test_benign_chatml_tokenizer_config_passes(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, TPL / "benign" / "tokenizer_config.json")
    assert code == 0 and only_artifact(doc)["findings"] == []


def _attack(run_cli, name: str) -> dict:  # type: ignore[no-untyped-def, type-arg]
    code, doc = scan(run_cli, ATTACKS / f"{name}.jinja")
    assert code == 1
    art = only_artifact(doc)
    assert art["errors"] == []
    return art


@pytest.mark.parametrize(
    ("name", "evidence", "how"),
    [
        ("tilde", "__subclasses__", "attr() reaches the dunder attribute '__subclasses__'"),
        ("plus", "__class__", "attr() reaches the dunder attribute '__class__'"),
        ("join", "__class__", "attr() reaches the dunder attribute '__class__'"),
        ("join_method", "__init__", "attr() reaches the dunder attribute '__init__'"),
        ("format_filter", "__globals__", "attr() reaches the dunder attribute '__globals__'"),
        ("format_method", "__builtins__", "attr() reaches the dunder attribute '__builtins__'"),
        ("replace", "__class__", "attr() reaches the dunder attribute '__class__'"),
        ("reverse", "__class__", "attr() reaches the dunder attribute '__class__'"),
        ("map_attribute", "__mro__", "map(attribute=) reaches the dunder attribute '__mro__'"),
    ],
)
def test_obfuscated_attribute_names_are_folded_and_critical(run_cli, name: str, evidence: str, how: str) -> None:  # type: ignore[no-untyped-def]
    art = _attack(run_cli, name)
    crit = {f["evidence"]: f for f in with_rule(art, "AS-TPL-001")}
    assert evidence in crit, art["findings"]
    assert crit[evidence]["severity"] == "critical"
    assert crit[evidence]["detail"] == f"template file line 1: {how}"


def test_direct_globals_chain(run_cli) -> None:  # type: ignore[no-untyped-def]
    art = _attack(run_cli, "direct_globals")
    evidence = {f["evidence"] for f in with_rule(art, "AS-TPL-001")}
    assert {"__init__", "__globals__", "os", "popen"} <= evidence


def test_attribute_name_computed_at_render_time(run_cli) -> None:  # type: ignore[no-untyped-def]
    art = _attack(run_cli, "runtime_attr")
    (f,) = with_rule(art, "AS-TPL-002")
    assert f["severity"] == "high"
    assert f["detail"] == "template file line 1: attr() with a name computed at render time"


def test_include_of_another_template(run_cli) -> None:  # type: ignore[no-untyped-def]
    (f,) = with_rule(_attack(run_cli, "include"), "AS-TPL-003")
    assert f["severity"] == "high" and f["evidence"] == "Include"


def test_syntax_error(run_cli) -> None:  # type: ignore[no-untyped-def]
    (f,) = with_rule(_attack(run_cli, "syntax_error"), "AS-TPL-004")
    assert f["severity"] == "medium"
    assert "syntax error: unexpected '}'" in f["detail"]


def test_literal_naming_internals_without_use(run_cli) -> None:  # type: ignore[no-untyped-def]
    art = _attack(run_cli, "literal_only")
    assert with_rule(art, "AS-TPL-001") == []
    (f,) = with_rule(art, "AS-TPL-005")
    assert f["severity"] == "high" and f["evidence"] == "__subclasses__"


def test_obfuscated_template_in_tokenizer_config(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, TPL / "evil" / "tokenizer_config.json")
    art = only_artifact(doc)
    assert code == 1
    crit = {f["evidence"]: f["detail"] for f in with_rule(art, "AS-TPL-001")}
    # ['__', 'cla', 'ss', '__']|join, '%sbase__'|format('__') and '__subc' ~ 'lasses__', in the 'tool_use' entry.
    assert set(crit) == {"__class__", "__base__", "__subclasses__"}
    assert all(d.startswith("chat_template 'tool_use' line 1: attr() reaches") for d in crit.values())


def test_jinja_file_beside_the_tokenizer(run_cli) -> None:  # type: ignore[no-untyped-def]
    code, doc = scan(run_cli, TPL / "evil" / "chat_template.jinja")
    crit = {f["evidence"] for f in with_rule(only_artifact(doc), "AS-TPL-001")}
    assert code == 1 and {"__globals__", "popen"} <= crit


@pytest.mark.parametrize(
    ("source", "evidence"),
    [
        ("{{ x|attr('__cl' ~ 'ass__') }}", "__class__"),
        ("{% set a = '__gl' %}{% set b = a ~ 'obals__' %}{{ x|attr(b) }}", "__globals__"),
        ("{{ x|attr('xx__class__'[2:]) }}", "__class__"),
        ("{{ x|attr('_' * 2 ~ 'class' ~ '_' * 2) }}", "__class__"),
        ("{{ x[('__cla', 'ss__')|join] }}", "__class__"),
        ("{{ x|attr(dict(__class__=1)|first) }}", "__class__"),
        ("{{ x|attr('%s'|format('__dict__')|lower) }}", "__dict__"),
    ],
)
def test_constant_folding(source: str, evidence: str) -> None:
    issues = check_template(source)
    assert any(i.rule_id == "AS-TPL-001" and i.evidence == evidence for i in issues), issues


@pytest.mark.parametrize(
    "source",
    [
        "{{ messages|selectattr('role', 'equalto', 'system')|list|length }}",
        "{{ (messages|first).content|tojson }}",
        "{% for k, v in tool.parameters.properties|items %}{{ k }}: {{ v.type }}{% endfor %}",
        "{{ message.content.split('</think>')[-1].strip() }}",
    ],
)
def test_ordinary_constructs_do_not_fire(source: str) -> None:
    assert check_template(source) == []


def test_deep_nesting_is_a_limit_not_a_crash() -> None:
    issues = check_template("{{" + "(" * 5000 + "1" + ")" * 5000 + "}}")
    assert [i.rule_id for i in issues] == ["AS-GEN-004"]


def test_template_in_the_middle_of_a_large_json(run_cli, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import json

    evil = (ATTACKS / "reverse.jinja").read_text()
    doc = {"a_padding": "p" * 200_000, "chat_template": evil, "z_padding": "q" * 200_000}
    path = tmp_path / "tokenizer_config.json"
    path.write_text(json.dumps(doc))
    code, result = scan(run_cli, path)
    (f,) = with_rule(only_artifact(result), "AS-TPL-001")
    assert code == 1 and f["evidence"] == "__class__"
    assert f["detail"].startswith("chat_template 'default' line 1: attr() reaches")
