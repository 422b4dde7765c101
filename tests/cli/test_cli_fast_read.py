"""``promptvault render``, ``show`` and ``get`` on a local SQLite home: the read path without
Typer or SQLAlchemy prints exactly what the full command prints, and leaves every other case
to it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from promptvault import Vault
from promptvault.cli._fastpath import settings_fields
from promptvault.cli._fastread import get_fast, render_fast, show_fast
from promptvault.config import Settings
from promptvault.storage.migrate import head_revision as alembic_side_head
from promptvault.storage.revisions import cached_head

from .quick_paths import HEAVY, OFFSET_TIME, among, edit_database, probe, run, same_as_full

SCHEMA = {
    "type": "object",
    "properties": {
        "company": {"type": "string"},
        "tone": {"type": "string", "default": "friendly"},
        "count": {"type": "integer"},
        "tier": {
            "type": "object",
            "default": {},
            "properties": {"pro": {"type": "boolean", "default": False}},
        },
    },
    "required": ["company"],
}


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    folder = tmp_path / "home"
    monkeypatch.setenv("PROMPTVAULT_HOME", str(folder))
    monkeypatch.chdir(tmp_path)
    with Vault(Settings(home=folder)) as vault:
        vault.push(
            "support",
            template="Hi {{company}}, tone {{tone}}.{{#tier.pro}} Pro!{{/tier.pro}} n={{count}}",
            variables_schema=SCHEMA,
            config={"model": "gpt-4o", "temperature": 0.2},
        )
        vault.push("support", template="v2 {{company}} {{today}}", labels=["staging"])
        vault.push(
            "team/jinja", template="{% for i in range(n) %}{{ i }},{% endfor %}", syntax="jinja"
        )
        vault.push("chat", template=[{"role": "user", "content": "Hello {{name}}"}])
        vault.push("lf", template="Hi {{name}}", syntax="langfuse")
        vault.push("base", template="base {{x}}")
        vault.push("outer", template="outer {{> base}}")
        vault.push("old", template="archived {{x}}")
        vault.archive("old")
    yield folder


COVERED = [
    ["render", "support", "--var", "company=Acme", "--var", "count:=3"],
    ["render", "support", "-v", "company=Acme", "-v", 'tier:={"pro": true}', "--json"],
    ["render", "support@production", "--var=company=Acme", "--var", "tone=curt"],
    ["render", "support@1", "--var", "company=Acme"],
    ["render", "support@latest", "--var", "company=Acme"],
    ["render", "team/jinja", "--var", "n:=3"],
]


@pytest.mark.parametrize("args", COVERED, ids=lambda a: " ".join(a[1:3]))
def test_covered_renders_print_what_the_full_command_prints(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert same_as_full(render_fast, args, capsys)[1]


UNCOVERED = [
    ["render", "support"],  # a required variable left out: the full path words the error
    ["render", "support", "--var", "company=Acme", "--var", "count=three"],  # schema refuses
    ["render", "nope"],  # no such prompt: did-you-mean comes from the full path
    ["render", "support@qa", "--var", "company=Acme"],  # no such label
    ["render", "support@9", "--var", "company=Acme"],  # no such version
    ["render", "chat", "--var", "name=Ada"],  # chat prompts
    ["render", "lf", "--var", "name=Ada"],  # another template engine
    ["render", "outer", "--var", "x=1"],  # partials
    ["render", "Support@Prod"],  # not a reference
    ["render", "support", "--vars-file", "missing.json"],  # other options
    ["render", "support", "--var", "company=Acme", "extra"],
    ["render", "support", "--var"],
]


@pytest.mark.parametrize("args", UNCOVERED, ids=lambda a: " ".join(a[1:]))
def test_other_cases_go_to_the_full_command(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert render_fast(args[1:]) is None
    assert capsys.readouterr().out == ""  # nothing printed before handing over
    assert run(args, capsys, fast=True) == run(args, capsys, fast=False)


def test_settings_it_does_not_cover_go_to_the_full_command(
    home: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    args = ["support", "--var", "company=Acme"]
    assert render_fast(args) == 0
    monkeypatch.setenv("PROMPTVAULT_TIMEZONE", "Europe/Paris")  # changes now/today
    assert render_fast(args) is None
    monkeypatch.delenv("PROMPTVAULT_TIMEZONE")
    (tmp_path / "promptvault.toml").write_text('[promptvault]\nurl = "http://127.0.0.1:9"\n')
    assert render_fast(args) is None  # remote mode
    (tmp_path / "promptvault.toml").write_text("[promptvault]\ndatabase_url = 'sqlite:///x.db'\n")
    assert render_fast(args) is None  # that file does not exist: the full path creates it
    (tmp_path / "promptvault.toml").unlink()
    monkeypatch.setenv("PROMPTVAULT_DATABASE_URL", f"sqlite:///{home / 'promptvault.db'}")
    assert render_fast(args) == 0
    monkeypatch.setenv("PROMPTVAULT_ACTOR", "ada")  # text settings no read depends on
    monkeypatch.setenv("PROMPTVAULT_HOST", "0.0.0.0")
    monkeypatch.setenv("PROMPTVAULT_NOT_A_SETTING", "x")  # ignored by pydantic-settings too
    assert render_fast(args) == 0
    monkeypatch.setenv("PROMPTVAULT_PORT", "8601")  # validated by the full path: it answers
    assert render_fast(args) is None
    monkeypatch.delenv("PROMPTVAULT_PORT")
    monkeypatch.setenv("promptvault_actor", "ada")  # matched case-insensitively
    assert render_fast(args) is None


def test_the_settings_it_reads_from_the_source_are_the_settings() -> None:
    text = (str, Path, str | None, Path | None)
    fields = {name: field.annotation in text for name, field in Settings.model_fields.items()}
    assert settings_fields() == fields
    assert fields["home"] and not fields["port"]


def test_a_bad_setting_is_reported_by_the_full_command(
    home: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PROMPTVAULT_PORT", "not a port")
    args = ["get", "support"]
    assert get_fast(args[1:]) is None
    code, out, err = run(args, capsys, fast=True)
    assert (code, out) == (1, "") and "port" in err


def test_a_schema_that_is_not_current_goes_to_the_full_command(home: Path) -> None:
    args = ["support", "--var", "company=Acme"]
    edit_database(home, "UPDATE alembic_version SET version_num = '0007_ui_sessions'")
    assert render_fast(args) is None


def test_a_time_stored_in_another_form_goes_to_the_full_command(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    edit_database(home, f"UPDATE prompt_versions SET created_at = '{OFFSET_TIME}'")
    for args in (["show", "support@1"], ["get", "support@1"]):
        quick = show_fast if args[0] == "show" else get_fast
        assert quick(args[1:]) is None
        assert run(args, capsys, fast=True) == run(args, capsys, fast=False)
    assert "2024-05-01 10:30" in run(["show", "support@1"], capsys, fast=True)[1]


def test_the_head_it_checks_is_the_migrations_head() -> None:
    assert cached_head() == alembic_side_head()


@pytest.mark.parametrize(
    ("args", "starts"),
    [
        (["render", "support", "--var", "company=Acme"], "Hi Acme, tone friendly."),
        (["show", "support@1"], "support v1  (production)"),
        (["get", "support@staging", "--json"], '{\n  "name": "support",\n  "version": 2,'),
    ],
)
def test_a_covered_read_loads_no_database_layer_typer_or_pydantic(
    home: Path, args: list[str], starts: str
) -> None:
    code, out, modules = probe(args)
    assert code == 0 and out.startswith(starts)
    assert among(modules, (*HEAVY, "jinja2")) == []


SHOWN = [
    ["show", "support"],
    ["show", "support@1"],
    ["show", "support@staging"],
    ["show", "support@latest"],
    ["show", "team/jinja"],
    ["show", "chat"],
]


@pytest.mark.parametrize("args", SHOWN, ids=lambda a: a[1])
def test_show_prints_what_the_full_command_prints(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert same_as_full(show_fast, args, capsys)[1].startswith(args[1].split("@")[0])


@pytest.mark.parametrize(
    "args",
    [
        ["show", "nope"],
        ["show", "support", "--json"],
        ["show", "support@9"],
        ["show", "old"],  # archived: it does not resolve
        ["show", "support", "team/jinja"],
    ],
)
def test_show_leaves_other_cases_to_the_full_command(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert show_fast(args[1:]) is None
    assert run(args, capsys, fast=True) == run(args, capsys, fast=False)


GOT = [
    ["get", "support"],
    ["get", "support@1"],
    ["get", "support@staging", "--json"],
    ["get", "--json", "support@latest"],
    ["get", "team/jinja"],
    ["get", "chat"],
    ["get", "chat", "--json"],
    ["get", "base", "--json"],
]


@pytest.mark.parametrize("args", GOT, ids=" ".join)
def test_get_prints_what_the_full_command_prints(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert same_as_full(get_fast, args, capsys)[1]


@pytest.mark.parametrize(
    "args",
    [
        ["get", "nope"],  # did-you-mean comes from the full path
        ["get", "support@9"],
        ["get", "support@qa"],
        ["get", "old"],  # archived
        ["get", "old@1", "--json"],
        ["get", "support", "--yaml"],
        ["get", "support", "extra"],
        ["get"],
        ["get", "Support@Prod"],
    ],
    ids=" ".join,
)
def test_get_leaves_other_cases_to_the_full_command(
    home: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert get_fast(args[1:]) is None
    assert capsys.readouterr().out == ""
    assert run(args, capsys, fast=True) == run(args, capsys, fast=False)
