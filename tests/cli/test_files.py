"""The prompt file format: parsing, positions of problems, writing and reading back."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from promptvault.cli._checks import check_files
from promptvault.cli.files import default_name, dump_prompt, parse_text


def parse(text: str, name: str = "prompts/p.yaml"):
    return parse_text(textwrap.dedent(text).lstrip("\n"), path=Path(name))


def test_yaml_file_with_every_field() -> None:
    pf, problems = parse(
        """
        description: Answers questions
        tags: [support, faq]
        syntax: mustache
        config:
          model: gpt-4
          temperature: 0.7
          max_tokens: 500
          extra: {top_p: 0.9}
          seed: 7
        variables:
          company_name: {type: string, description: shown to users}
          tone: {type: string, default: calm}
        examples: support_examples
        template: |
          Hello from {{company_name}}.
          Tone: {{tone}}
        """
    )
    assert problems == []
    assert pf is not None
    assert pf.name == "p"
    assert pf.type == "text"
    assert pf.template == "Hello from {{company_name}}.\nTone: {{tone}}\n"
    assert pf.config == {
        "model": "gpt-4",
        "temperature": 0.7,
        "max_tokens": 500,
        "top_p": 0.9,
        "seed": 7,
    }
    assert pf.tags == ("support", "faq")
    assert pf.examples == "support_examples"
    assert pf.variables_schema is not None
    props = pf.variables_schema["properties"]
    assert set(props) == {"company_name", "tone"}
    assert props["tone"]["default"] == "calm"


def test_every_shape_problem_is_listed_with_its_position() -> None:
    pf, problems = parse(
        """
        syntax: handlebars
        colour: blue
        config:
          temperature: 3
          max_tokens: 0
        tags: 5
        template: hi
        """
    )
    got = [(p.line, p.column, p.message) for p in problems]
    assert got == [
        (
            2,
            9,
            "unknown key 'colour' (known: name, description, type, syntax, tags, config, "
            "variables, template, messages, examples)",
        ),
        (1, 9, "syntax must be mustache, jinja or langfuse, not 'handlebars'"),
        (4, 16, "config.temperature must be a number from 0 to 2, got 3"),
        (5, 15, "config.max_tokens must be an integer >= 1, got 0"),
        (6, 7, "tags must be a list of strings"),
    ]
    assert pf is not None  # still returned, so its template can be checked too


def test_block_template_syntax_error_points_into_the_file() -> None:
    pf, problems = parse(
        """
        syntax: jinja
        template: |
          line one
          value {{ name }} and {% if x %} unclosed
        """
    )
    assert problems == []
    assert pf is not None
    [problem] = check_files([pf])
    assert problem.file == "prompts/p.yaml"
    assert problem.line == 4  # the template's line 2 sits on the file's line 4
    assert problem.excerpt is not None
    assert problem.excerpt.splitlines()[0] == "  value {{ name }} and {% if x %} unclosed"


def test_json_string_with_escapes_maps_template_lines_to_columns() -> None:
    text = '{\n  "syntax": "jinja",\n  "template": "a\\nb {{ x }}\\n{{ y }"\n}\n'
    pf, problems = parse_text(text, path=Path("prompts/j.json"))
    assert problems == []
    assert pf is not None
    assert pf.template == "a\nb {{ x }}\n{{ y }"
    # Template line 3, column 1 is the "{" after the second \n escape.
    line, col = pf.spans["template"].locate(3, 1)
    assert (line, col) == (3, text.splitlines()[2].index("{{ y") + 1)


def test_invalid_yaml_reports_the_parser_position() -> None:
    pf, problems = parse("template: [unclosed\nname: x\n")
    assert pf is None
    [problem] = problems
    assert problem.line == 2
    assert problem.message.startswith("invalid YAML:")


def test_invalid_json_file_is_reported_as_json_with_its_position() -> None:
    text = '{"template": "hi \\ud800"}'
    pf, problems = parse_text(text, path=Path("prompts/j.json"))
    assert pf is None
    [problem] = problems
    assert problem.message.startswith("invalid JSON:"), problem.message
    assert (problem.line, problem.column) == (1, 20)


def test_chat_messages_and_placeholders() -> None:
    pf, problems = parse(
        """
        messages:
          - role: system
            content: You help {{company}}.
          - type: placeholder
            name: history
            optional: true
          - role: robot
            content: "{{question}}"
        """
    )
    assert [p.message for p in problems] == [
        "messages[2].role must be one of assistant, system, tool, user, not 'robot'"
    ]
    assert problems[0].line == 7
    assert pf is not None
    assert pf.type == "chat"
    assert pf.template[1] == {"type": "placeholder", "name": "history", "optional": True}


def test_dump_then_parse_gives_the_same_content() -> None:
    content = {
        "type": "chat",
        "syntax": "mustache",
        "template": [
            {"role": "system", "content": "Line one\nline two\n"},
            {"type": "placeholder", "name": "history"},
            {"role": "user", "content": "  leading spaces and trailing  "},
        ],
        "config": {"model": "gpt-4o", "temperature": 0, "max_tokens": 10, "stop": ["\n"]},
        "variables_schema": {"type": "object", "properties": {"q": {"type": "string"}}},
    }
    for fmt, suffix in (("yaml", ".yaml"), ("json", ".json")):
        text = dump_prompt(content, fmt=fmt, description="d", tags=("a",))
        pf, problems = parse_text(text, path=Path(f"prompts/x{suffix}"))
        assert problems == []
        assert pf is not None
        assert pf.content() == content
        assert (pf.description, pf.tags) == ("d", ("a",))
    text = dump_prompt({**content, "type": "text", "template": "a\n\nb"}, fmt="yaml")
    assert "template: |-\n  a\n\n  b\n" in text


def test_prompty_front_matter_and_body() -> None:
    pf, problems = parse(
        """
        ---
        name: Support Agent
        description: Grounded answers
        model:
          api: chat
          configuration:
            type: azure_openai
            azure_endpoint: ${env:AZURE_OPENAI_ENDPOINT}
            azure_deployment: gpt-4o
          parameters:
            max_tokens: 300
            temperature: 0.2
        inputs:
          question:
            type: string
            description: what the user asks
          firstName:
            type: string
            default: friend
        ---
        system:
        You answer questions for {{firstName}}.

        user:
        {{question}}
        """,
        name="prompts/agents/support.prompty",
    )
    assert problems == []
    assert pf is not None
    assert pf.name == "agents/support"
    assert pf.syntax == "jinja"
    assert pf.template == [
        {"role": "system", "content": "You answer questions for {{firstName}}."},
        {"role": "user", "content": "{{question}}"},
    ]
    assert pf.config == {
        "model": "gpt-4o",
        "provider": "azure_openai",
        "max_tokens": 300,
        "temperature": 0.2,
    }
    assert pf.variables_schema is not None
    assert set(pf.variables_schema["properties"]) == {"question", "firstName"}
    # The user message body sits on the file's line 25.
    assert pf.spans["messages[1].content"].locate(1, 3) == (25, 3)


@pytest.mark.parametrize(
    ("path", "root", "expected"),
    [
        ("repo/prompts/support/agent.yaml", None, "support/agent"),
        ("repo/other/agent.json", "repo", "other/agent"),
        ("agent.prompty", None, "agent"),
    ],
)
def test_default_name(tmp_path: Path, path: str, root: str | None, expected: str) -> None:
    file = tmp_path / path
    assert default_name(file, tmp_path / root if root else None) == expected
