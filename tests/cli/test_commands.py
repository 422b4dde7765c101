"""push, pull, list, show, get, log, diff, render, labels and errors, through the real app."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest

GREET = """
description: Greets people
tags: [demo]
syntax: jinja
config: {model: gpt-4, temperature: 0.5}
variables:
  name: {type: string}
template: |
  Hello {{ name }}!
"""


def test_push_prints_what_changed_and_is_idempotent(cli: Any, write: Any) -> None:
    write("prompts/greet.yaml", GREET)
    write("prompts/team/bye.json", '{"syntax": "jinja", "template": "Bye {{ who }}"}')

    first = cli("push")
    assert first.exit_code == 0, first.stderr
    assert first.stdout == (
        "PROMPT    RESULT      FILE\n"
        "greet     created v1  prompts/greet.yaml\n"
        "team/bye  created v1  prompts/team/bye.json\n"
        "2 created, 0 unchanged\n"
    )
    again = cli("push")
    assert again.stdout == (
        "PROMPT    RESULT        FILE\n"
        "greet     unchanged v1  prompts/greet.yaml\n"
        "team/bye  unchanged v1  prompts/team/bye.json\n"
        "0 created, 2 unchanged\n"
    )

    write("prompts/greet.yaml", GREET.replace("Hello", "Hi"))
    dry = cli("push", "--dry-run", "prompts/greet.yaml")
    assert dry.stdout.splitlines()[1] == "greet   would create v2  prompts/greet.yaml"
    assert json.loads(cli("log", "greet", "--json").stdout)[0]["version"] == 1  # nothing written

    pushed = cli("push", "prompts/greet.yaml", "--label", "staging", "-m", "shorter")
    assert pushed.stdout.splitlines()[1] == "greet   created v2 (staging)  prompts/greet.yaml"
    log = json.loads(cli("log", "greet", "--json").stdout)
    assert [(v["version"], v["labels"], v["message"], v["author"]) for v in log] == [
        (2, ["staging"], "shorter", "tester"),
        (1, ["production"], "", "tester"),
    ]


def test_push_refuses_everything_when_one_file_is_bad(cli: Any, write: Any) -> None:
    write("prompts/a_good.yaml", GREET)
    write(
        "prompts/b_bad.yaml",
        """
        syntax: jinja
        template: |
          fine line
          broken {% if x %}
        """,
    )
    result = cli("push")
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith("prompts/b_bad.yaml:4:")
    assert ": error: " in lines[0]
    assert lines[1] == "      broken {% if x %}"
    assert lines[-1] == "error: nothing pushed"
    assert "Traceback" not in result.stderr
    assert json.loads(cli("list", "--json").stdout) == []


def test_list_show_and_render(cli: Any, write: Any) -> None:
    write("prompts/greet.yaml", GREET)
    cli("push")
    listing = cli("list").stdout.splitlines()
    assert listing[0].split() == ["NAME", "LATEST", "LABELS", "TAGS", "UPDATED"]
    assert listing[1].split()[:4] == ["greet", "v1", "production=v1", "demo"]

    shown = cli("show", "greet").stdout.splitlines()
    assert shown[:3] == [
        "greet v1  (production)",
        "type       text (jinja)",
        "config     model=gpt-4  temperature=0.5",
    ]
    assert shown[3] == "variables  name: string"
    assert shown[-1] == "Hello {{ name }}!"

    data = json.loads(cli("show", "greet@latest", "--json").stdout)
    assert (data["name"], data["version"], data["template"]) == ("greet", 1, "Hello {{ name }}!\n")

    assert cli("render", "greet", "--var", "name=Ada").stdout == "Hello Ada!\n"
    rendered = json.loads(cli("--json", "render", "greet@1", "-v", "name=Ada").stdout)
    assert rendered == {
        "name": "greet",
        "version": 1,
        "config": {"model": "gpt-4", "temperature": 0.5},
        "rendered": "Hello Ada!\n",
    }


def test_get_prints_the_resolved_template_and_config(cli: Any, write: Any) -> None:
    write("prompts/greet.yaml", GREET)
    cli("push")
    write("prompts/greet.yaml", GREET.replace("Hello", "Hi").replace("gpt-4", "gpt-4o"))
    cli("push", "-l", "staging")

    got = cli("get", "greet")
    assert got.exit_code == 0
    assert got.stdout == (
        "greet v1  (production)\nconfig  model=gpt-4  temperature=0.5\n\nHello {{ name }}!\n"
    )
    # The same title, config and template lines as show prints for that version.
    shown = cli("show", "greet@staging").stdout.splitlines()
    got_lines = cli("get", "greet@staging").stdout.splitlines()
    assert got_lines[0] == shown[0] == "greet v2  (staging)"
    assert got_lines[1] == "config  " + shown[2].split(None, 1)[1]
    assert got_lines[2:] == shown[shown.index("") :] == ["", "Hi {{ name }}!"]

    data = json.loads(cli("get", "greet@2", "--json").stdout)
    assert data == {
        "name": "greet",
        "version": 2,
        "labels": ["staging"],
        "type": "text",
        "syntax": "jinja",
        "config": {"model": "gpt-4o", "temperature": 0.5},
        "template": "Hi {{ name }}!\n",
    }
    assert json.loads(cli("--json", "get", "greet@latest").stdout) == data

    missing = cli("get", "greet@qa")
    assert missing.exit_code == 1
    assert missing.stdout == "" and "qa" in missing.stderr


def test_get_prints_chat_messages_as_show_does(cli: Any, write: Any) -> None:
    write(
        "prompts/chat.yaml",
        """
        messages:
          - {role: system, content: "Be brief."}
          - {type: placeholder, name: history}
          - {role: user, content: "{{question}}"}
        """,
    )
    cli("push")
    got = cli("get", "chat").stdout
    assert got == (
        "chat v1  (production)\n\n[system]\nBe brief.\n\n[placeholder: history]\n\n"
        "[user]\n{{question}}\n\n"
    )
    assert got.split("\n\n", 1)[1] == cli("show", "chat").stdout.split("\n\n", 1)[1]


def test_render_chat_with_placeholder_and_vars_file(cli: Any, write: Any) -> None:
    write(
        "prompts/chat.yaml",
        """
        syntax: jinja
        messages:
          - role: system
            content: "You help {{ company }} customers."
          - type: placeholder
            name: history
          - role: user
            content: "{{ question }}"
        """,
    )
    vars_file = write(
        "vars.yaml",
        """
        company: Acme
        history:
          - {role: user, content: "{{ not a template }}"}
          - {role: assistant, content: Hello!}
        """,
    )
    assert cli("push").exit_code == 0
    result = cli("render", "chat", "--vars-file", str(vars_file), "--var", "question=Where?")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "[system]\nYou help Acme customers.\n\n"
        "[user]\n{{ not a template }}\n\n"
        "[assistant]\nHello!\n\n"
        "[user]\nWhere?\n"
    )


def test_typed_vars_and_bad_vars(cli: Any, write: Any) -> None:
    write(
        "prompts/t.yaml",
        """
        syntax: jinja
        template: "{% if vip %}VIP {% endif %}{{ n + 1 }}"
        """,
    )
    cli("push")
    assert cli("render", "t", "--var", "vip:=true", "--var", "n:=41").stdout == "VIP 42\n"
    bad = cli("render", "t", "--var", "novalue")
    assert bad.exit_code == 1
    assert bad.stderr == "error: --var 'novalue': expected NAME=VALUE or NAME:=JSON\n"


def test_diff_refs_and_files(cli: Any, write: Any) -> None:
    path = write("prompts/greet.yaml", GREET)
    cli("push")
    write("prompts/greet.yaml", GREET.replace("Hello", "Hi").replace("0.5", "0.2"))
    result = cli("diff", "greet@production", str(path))
    assert result.exit_code == 0
    assert result.stdout == (
        "--- greet@production\n"
        f"+++ {path}\n"
        "@@ -1 +1 @@\n"
        "-Hello {{ name }}!\n"
        "+Hi {{ name }}!\n"
        "config.temperature: 0.5 -> 0.2\n"
    )
    assert cli("diff", "--exit-code", "greet@1", str(path)).exit_code == 1
    cli("push")
    same = cli("diff", "--exit-code", "greet@2", str(path))
    assert (same.exit_code, same.stdout) == (0, f"greet@2 and {path} are identical\n")


def test_labels_promote_rollback_and_history(cli: Any, write: Any) -> None:
    write("prompts/greet.yaml", GREET)
    cli("push")
    write("prompts/greet.yaml", GREET.replace("Hello", "Hi"))
    cli("push")
    assert cli("label", "set", "greet", "staging", "2").stdout == "greet: staging (unset) -> v2\n"
    assert cli("promote", "greet", "2").stdout == "greet: production v1 -> v2\n"
    assert cli("label", "list", "greet").stdout == (
        "LABEL       VERSION\nproduction  v2\nstaging     v2\n"
    )
    assert cli("rollback", "greet").stdout == "greet: production v2 -> v1\n"
    assert cli("render", "greet", "--var", "name=A").stdout == "Hello A!\n"
    history = json.loads(cli("label", "history", "greet", "production", "--json").stdout)
    assert [(e["from_version"], e["to_version"], e["action"]) for e in history] == [
        (2, 1, "rollback"),
        (1, 2, "set"),
        (None, 1, "set"),
    ]
    bad = cli("label", "set", "greet", "Bad Label", "1")
    assert bad.exit_code == 1
    assert bad.stderr.startswith("error: ")


def test_errors_are_messages_not_tracebacks(cli: Any, write: Any) -> None:
    write("prompts/greet.yaml", GREET)
    cli("push")
    missing = cli("show", "gret")
    assert missing.exit_code == 1
    assert missing.stdout == ""
    assert missing.stderr.startswith("error: ")
    assert "did you mean greet?" in missing.stderr
    assert "Traceback" not in missing.stderr

    as_json = cli("--json", "show", "gret")
    assert json.loads(as_json.stderr)["error"]["code"] == "prompt_not_found"

    usage = cli("label", "set", "greet")
    assert usage.exit_code == 2

    debug = cli("--debug", "show", "gret")
    assert debug.exit_code == 1
    assert debug.stderr.startswith("Traceback (most recent call last):")
    assert "PromptNotFound: no prompt named 'gret'" in debug.stderr


def test_pull_writes_files_and_check_detects_drift(cli: Any, write: Any, tmp_path: Path) -> None:
    write("prompts/greet.yaml", GREET)
    write("prompts/team/bye.json", '{"syntax": "jinja", "template": "Bye {{ who }}"}')
    cli("push")
    assert cli("pull", "--check").exit_code == 0

    project = tmp_path / "project"
    (project / "prompts" / "greet.yaml").unlink()
    drift = cli("pull", "--check")
    assert drift.exit_code == 1
    assert "greet     v1       missing    prompts/greet.yaml" in drift.stdout
    assert drift.stderr == (
        "error: 1 file(s) differ from the registry (production); run promptvault pull\n"
    )
    assert not (project / "prompts" / "greet.yaml").exists()

    pulled = cli("pull")
    assert pulled.exit_code == 0
    text = (project / "prompts" / "greet.yaml").read_text()
    assert "template: |\n  Hello {{ name }}!\n" in text
    assert json.loads((project / "prompts" / "team" / "bye.json").read_text())["template"] == (
        "Bye {{ who }}"
    )
    assert cli("pull", "--check").exit_code == 0
    assert cli("push").stdout.endswith("0 created, 2 unchanged\n")  # the pulled file round-trips

    cli("label", "set", "greet", "production", "1")  # no change: still in sync
    write("prompts/greet.yaml", GREET.replace("Hello", "Hey"))
    cli("push", "--label", "production")
    write("prompts/greet.yaml", GREET)  # the file is now behind production (v2)
    assert cli("pull", "--check").exit_code == 1
    assert cli("pull", "greet").stdout.splitlines()[1].split()[:3] == ["greet", "v2", "updated"]
    assert "Hey {{ name }}!" in (project / "prompts" / "greet.yaml").read_text()


def test_pull_is_atomic(
    cli: Any, write: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write("prompts/greet.yaml", GREET)
    cli("push")
    write("prompts/greet.yaml", GREET.replace("Hello", "Hey"))
    cli("push", "--label", "production")
    path.write_text("old content\n")  # not a valid file: pull must replace it whole, or not

    def broken_replace(src: str, dst: str) -> None:
        raise OSError(28, "No space left on device", dst)

    real_replace = os.replace
    monkeypatch.setattr(os, "replace", broken_replace)
    failed = cli("pull", "greet")
    assert failed.exit_code == 1
    assert "No space left on device" in failed.stderr
    assert path.read_text() == "old content\n"
    assert sorted(p.name for p in path.parent.iterdir()) == ["greet.yaml"]  # no temp left
    monkeypatch.setattr(os, "replace", real_replace)
    assert cli("pull", "greet").exit_code == 0
    assert "Hey {{ name }}!" in path.read_text()


def test_audit_log_and_verify(cli: Any, write: Any, home: Path) -> None:
    write("prompts/greet.yaml", GREET)
    cli("push")
    cli("promote", "greet", "1")
    entries = json.loads(cli("audit", "log", "--json").stdout)
    assert [(e["seq"], e["actor"], e["target"]) for e in entries][:1] == [
        (1, "tester", "prompt:greet")
    ]
    assert cli("audit", "log", "--actor", "nobody").stdout == "no audit entries\n"
    assert json.loads(cli("audit", "log", "--since", "1h", "--json").stdout) == entries
    ok = cli("audit", "verify")
    assert ok.stdout == f"audit chain ok: {len(entries)} entries verified\n"

    with sqlite3.connect(home / "promptvault.db") as conn:
        conn.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 1")
    broken = cli("audit", "verify")
    assert broken.exit_code == 1
    assert broken.stderr.startswith("error: audit chain broken at entry 1: ")


def test_export_import_and_db_commands(cli: Any, write: Any, tmp_path: Path) -> None:
    write("prompts/greet.yaml", GREET)
    cli("push")
    backup = tmp_path / "backup.json"
    assert cli("export", str(backup)).stdout == f"exported 1 prompt to {backup}\n"
    other = f"sqlite:///{tmp_path / 'other.db'}"
    assert cli("--db", other, "import", str(backup)).stdout == (
        f"imported 1 prompt from {backup}\n"
    )
    assert cli("--db", other, "render", "greet", "--var", "name=B").stdout == "Hello B!\n"
    current = json.loads(cli("--db", other, "db", "current", "--json").stdout)
    assert current["up_to_date"] is True
    assert cli("--db", other, "db", "upgrade").stdout == f"already at {current['head']}\n"
    fresh = f"sqlite:///{tmp_path / 'fresh.db'}"
    assert cli("--db", fresh, "db", "upgrade").stdout.startswith("upgraded (empty) -> ")


def test_init_creates_a_project_and_refuses_to_overwrite(cli: Any, tmp_path: Path) -> None:
    result = cli("init", "app")
    assert result.stdout == (
        "created app/promptvault.toml\n"
        "created app/prompts/customer_support.yaml\n"
        "\n"
        "Next: cd app && promptvault push\n"
    )
    again = cli("init", "app")
    assert again.exit_code == 1
    assert again.stderr.startswith("error: app/promptvault.toml, ")
    assert "--force" in again.stderr


def test_check_lists_every_problem_with_positions(cli: Any, write: Any) -> None:
    write(
        "prompts/a.yaml",
        """
        variables:
          name: {type: string}
          unused: {type: string}
        template: |
          Hi {{name}} from {{company}}.
          {{#open}}never closed
        """,
    )
    write("prompts/b.yaml", "template: 'Uses {{> missing_partial}}'\ntemperature: 1\n")
    write("prompts/c.json", '{"template": "fine {{x}}"}')
    result = cli("check")
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == (
        "prompts/a.yaml:6:3: error: unclosed section {{#open}}: add {{/open}}\n"
        "      {{#open}}never closed\n"
        "      ^\n"
        "prompts/b.yaml:1:21: error: partial 'missing_partial' names no prompt among the "
        "files checked\n"
        "    template: 'Uses {{> missing_partial}}'\n"
        "                        ^\n"
        "prompts/b.yaml:2:14: error: unknown key 'temperature' (known: name, description, "
        "type, syntax, tags, config, variables, template, messages, examples)\n"
        "    temperature: 1\n"
        "                 ^\n"
        "error: checked 3 files: 3 error(s), 0 warning(s)\n"
    )
    write("prompts/a.yaml", "variables: {name: string}\ntemplate: Hi {{name}} {{company}}\n")
    result = cli("check", "prompts/a.yaml", "--json")
    assert json.loads(result.stdout)["problems"] == [
        {
            "file": "prompts/a.yaml",
            "line": 2,
            "column": 25,
            "field": "template",
            "severity": "warning",
            "message": "variable 'company' is used but not declared in variables",
        }
    ]
    assert result.exit_code == 0


def test_demo_loads_prompts_once(cli: Any) -> None:
    first = cli("demo")
    assert first.exit_code == 0
    assert first.stdout.startswith(
        "PROMPT                RESULT\n"
        "customer_support      2 versions (production=v1, staging=v2)\n"
        "sentiment_classifier  1 version (production=v1)\n"
        "support_chat          1 version (production=v1)\n"
    )
    assert "Try next:" in first.stdout
    again = {row["name"]: row["result"] for row in json.loads(cli("demo", "--json").stdout)}
    assert again == {
        "customer_support": "already present",
        "sentiment_classifier": "already present",
        "support_chat": "already present",
        "support_examples": "already present",
        "support-tone": "experiment exists, left as it is",
    }
    config = json.loads(cli("show", "customer_support", "--json").stdout)["config"]
    assert config == {"max_tokens": 500, "model": "gpt-4", "temperature": 0.7}
    sentiment = json.loads(cli("show", "sentiment_classifier", "--json").stdout)["config"]
    assert (sentiment["temperature"], sentiment["max_tokens"]) == (0, 10)
    enterprise = cli(
        "render",
        "customer_support@staging",
        "--var",
        "company_name=Acme",
        "--var",
        'tier:={"enterprise": true}',
        "--var",
        "question=Down?",
    ).stdout
    assert "Enterprise customer" in enterprise
    assert "Pro customer" not in enterprise
    assert enterprise.startswith("You are a helpful customer support agent for Acme.\n")
    chat = json.loads(
        cli(
            "render", "support_chat", "-v", "company_name=Acme", "-v", "question=Hi", "--json"
        ).stdout
    )["rendered"]
    assert [m["role"] for m in chat] == ["system", "user"]


def test_example_prompt_files_are_valid_and_render(cli: Any) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    checked = cli("check", str(examples / "prompts"))
    assert (checked.exit_code, checked.stdout) == (0, "checked 4 files: ok\n")
    assert cli("push", str(examples / "prompts")).stdout.endswith("4 created, 0 unchanged\n")
    rendered = cli(
        "render", "customer_support", "--vars-file", str(examples / "vars/customer_support.yaml")
    ).stdout
    assert "addressing them as Ada" in rendered
    assert "This is a Pro customer" in rendered
    faq = json.loads(cli("show", "support/faq", "--json").stdout)
    assert (faq["type"], faq["syntax"], faq["config"]["model"]) == ("chat", "jinja", "gpt-4o")


def test_builtins_are_known_to_check_and_render(cli: Any, write: Any) -> None:
    write("prompts/dated.yaml", "variables: {topic: string}\ntemplate: '{{today}}: {{topic}}'\n")
    checked = cli("check", "prompts/dated.yaml")
    assert (checked.exit_code, checked.stdout, checked.stderr) == (
        0,
        "checked 1 file: ok\n",
        "",
    )
    assert cli("push", "prompts/dated.yaml").exit_code == 0
    rendered = cli("render", "dated", "--var", "topic=news")
    assert rendered.exit_code == 0, rendered.stderr
    assert rendered.stdout.startswith("20") and rendered.stdout.endswith(": news\n")
    pinned = cli("render", "dated", "--var", "topic=news", "--var", "today=2001-01-01")
    assert pinned.stdout == "2001-01-01: news\n"
