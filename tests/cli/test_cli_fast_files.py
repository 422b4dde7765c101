"""``promptvault check``, and ``push`` of unchanged files, on a local SQLite home: the quick
paths without Typer, pydantic or SQLAlchemy print exactly what the full command prints, and
leave every other case to it before printing anything."""

from __future__ import annotations

import json
import sqlite3
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from promptvault.cli._app import build_app
from promptvault.cli._fastfiles import check_fast, push_fast

from .quick_paths import HEAVY, among, edit_database, probe, run, same_as_full

FILES = {
    "prompts/support.yaml": """
        description: Answers customers
        tags: [support, cs]
        config: {model: gpt-4o, temperature: 0.2}
        variables:
          company: {type: string}
          tier:
            type: object
            default: {}
            properties:
              pro: {type: boolean, default: false}
        template: |
          Hi from {{company}}.{{#tier.pro}} Pro!{{/tier.pro}}
          {{> team/footer}}
        """,
    # Included by support: pushed before it, so listed before it.
    "prompts/team/footer.yaml": """
        template: "-- the {{team}} team"
        """,
    "prompts/chat.yaml": """
        messages:
          - {role: system, content: "Be brief."}
          - {type: placeholder, name: history}
          - {role: user, content: "{{question}}"}
        """,
    "prompts/loose.json": '{"template": "{{a}} {{b}}", "variables": {"a": "string"}}',
    "prompts/faq.prompty": """
        ---
        name: FAQ
        inputs:
          faq: {type: string}
        ---
        system:
        {{ faq }}
        """,
}
BAD = """
    variables: {name: {type: string}}
    template: |
      Hello {{#name}}
      {{name}}
    """


def _write(root: Path, files: dict[str, str]) -> None:
    for relpath, text in files.items():
        path = root / relpath
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project folder (the working directory) whose prompts/ has been pushed."""
    root = tmp_path / "project"
    root.mkdir()
    monkeypatch.setenv("PROMPTVAULT_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("PROMPTVAULT_ACTOR", "tester")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.chdir(root)
    _write(root, FILES)
    try:
        build_app()(args=["push", "-l", "staging"], prog_name="promptvault")
    except SystemExit as exc:
        assert exc.code in (0, None)
    yield root


def _versions(project: Path) -> list[tuple[str, int]]:
    database = project.parent / "home" / "promptvault.db"
    with sqlite3.connect(database) as conn:
        query = (
            "SELECT p.name, v.version FROM prompt_versions v JOIN prompts p ON p.id = v.prompt_id"
        )
        return sorted(conn.execute(query).fetchall())


CHECKED = [
    (["check"], 0),
    (["check", "prompts"], 0),
    (["check", "prompts/", "--json"], 0),
    (["check", "prompts/support.yaml"], 0),  # its partial is a file under prompts/
    (["check", "prompts/team", "prompts/chat.yaml"], 0),
    (["check", "prompts/loose.json", "--json"], 0),
    (["check", "nowhere"], 1),
    (["check", "bad"], 1),
    (["check", "bad", "--json"], 1),
]


@pytest.mark.parametrize(
    ("args", "status"), CHECKED, ids=lambda v: " ".join(v) if isinstance(v, list) else str(v)
)
def test_check_prints_what_the_full_command_prints(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str], status: int
) -> None:
    _write(project, {"bad/hello.yaml": BAD})
    _, out, err = same_as_full(check_fast, args, capsys, status=status)
    assert out or err


def test_check_reports_problems_at_their_place(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(project, {"bad/hello.yaml": BAD})
    assert check_fast(["bad"]) == 1
    err = capsys.readouterr().err
    assert "bad/hello.yaml:3:" in err and "checked 1 file: 1 error(s)" in err
    assert check_fast(["prompts"]) == 0
    out, err = capsys.readouterr()
    # loose.json uses b without declaring it: a warning, which does not fail.
    assert "loose.json" in err and "warning" in err
    assert "checked 5 files" in err and out == ""


def test_check_follows_the_project_file(project: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (project / "prompts").rename(project / "src")
    (project / "promptvault.toml").write_text('[promptvault]\nprompts_dir = "src"\n')
    args = ["check"]
    assert check_fast(args[1:]) == 0
    fast = capsys.readouterr()
    assert "checked 5 files" in fast.err
    assert run(args, capsys, fast=True) == run(args, capsys, fast=False)
    (project / "promptvault.toml").write_text("[promptvault\n")
    assert check_fast(args[1:]) is None  # the full command words the broken file
    assert capsys.readouterr().out == ""
    assert run(args, capsys, fast=True)[0] == 1


@pytest.mark.parametrize(
    "args", [["--yaml"], ["--", "prompts"], [""], ["--help"], ["-j"]], ids=" ".join
)
def test_check_leaves_other_cases_to_the_full_command(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    assert check_fast(args) is None
    assert capsys.readouterr() == ("", "")


PUSHED = [
    ["push"],
    ["push", "prompts"],
    ["push", "--json"],
    ["push", "--dry-run", "prompts/chat.yaml", "prompts/team"],
    ["push", "-m", "nothing new"],
    ["push", "--message=again", "--json", "prompts"],
]


@pytest.mark.parametrize("args", PUSHED, ids=" ".join)
def test_an_unchanged_push_prints_what_the_full_command_prints(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    before = _versions(project)
    assert "unchanged" in same_as_full(push_fast, args, capsys)[1]
    assert _versions(project) == before


def test_an_unchanged_push_lists_files_in_push_order(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert push_fast(["--json"]) == 0
    out, err = capsys.readouterr()
    rows = json.loads(out)
    names = [r["name"] for r in rows]
    assert names == ["chat", "faq", "loose", "team/footer", "support"]
    assert {(r["status"], r["version"], tuple(r["labels"])) for r in rows} == {("unchanged", 1, ())}
    assert "loose.json" in err  # its warning, as the full command prints it
    assert push_fast([]) == 0
    assert capsys.readouterr().out.endswith("0 created, 5 unchanged\n")


@pytest.mark.parametrize(
    ("args", "change"),
    [
        (["push"], {"prompts/chat.yaml": FILES["prompts/chat.yaml"].replace("brief", "short")}),
        (["push"], {"prompts/new.yaml": "template: new"}),
        (
            ["push"],
            {"prompts/team/footer.yaml": 'description: Footer\ntemplate: "-- the {{team}} team"'},
        ),
        (["push"], {"prompts/team/footer.yaml": 'tags: [x]\ntemplate: "-- the {{team}} team"'}),
        (["push"], {"prompts/bad.yaml": BAD}),
        (["push"], {"prompts/broken.yaml": "template: [unclosed"}),  # read as no prompt
        (["push", "-l", "staging"], {}),
        (["push", "--label=qa"], {}),
        (["push", "-m", ""], {}),
        (["push", "-m"], {}),
        (["push", "--force"], {}),
        (["push", "--"], {}),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else ",".join(v) or "-",
)
def test_a_push_with_anything_to_do_goes_to_the_full_command(
    project: Path, capsys: pytest.CaptureFixture[str], args: list[str], change: dict[str, str]
) -> None:
    _write(project, change)
    before = _versions(project)
    assert push_fast(args[1:]) is None
    assert capsys.readouterr() == ("", "")
    assert _versions(project) == before


def test_a_changed_file_is_pushed_by_the_full_command(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write(project, {"prompts/chat.yaml": FILES["prompts/chat.yaml"].replace("brief", "short")})
    code, out, _err = run(["push"], capsys, fast=True)
    assert code == 0 and out.splitlines()[1].split() == [
        "chat",
        "created",
        "v2",
        "prompts/chat.yaml",
    ]
    assert out.endswith("1 created, 4 unchanged\n")
    assert ("chat", 2) in _versions(project)
    assert push_fast([]) == 0  # unchanged again


def test_an_archived_prompt_with_an_unchanged_file_is_unchanged(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from promptvault import Vault
    from promptvault.config import Settings

    with Vault(Settings(home=project.parent / "home")) as vault:
        vault.archive("chat")
    assert push_fast([]) == 0
    capsys.readouterr()
    assert run(["push"], capsys, fast=True) == run(["push"], capsys, fast=False)


def test_other_registries_go_to_the_full_command(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert push_fast([]) == 0
    monkeypatch.setenv("PROMPTVAULT_HOME", str(tmp_path / "elsewhere"))
    assert push_fast([]) is None  # no database there yet
    monkeypatch.setenv("PROMPTVAULT_HOME", str(project.parent / "home"))
    monkeypatch.setenv("PROMPTVAULT_URL", "http://127.0.0.1:9")
    assert push_fast([]) is None
    monkeypatch.delenv("PROMPTVAULT_URL")
    edit_database(
        project.parent / "home", "UPDATE alembic_version SET version_num = '0007_ui_sessions'"
    )
    assert push_fast([]) is None  # to be migrated by the full command


@pytest.mark.parametrize(
    ("args", "out"),
    [
        (["push"], "0 created, 5 unchanged\n"),
        (["check", "prompts"], ""),
    ],
)
def test_check_and_an_unchanged_push_load_no_database_layer_typer_or_pydantic(
    project: Path, args: list[str], out: str
) -> None:
    code, printed, modules = probe(args)
    assert code == 0 and printed.endswith(out)
    assert among(modules, (*HEAVY, "rich")) == []
