"""The UI's pure parts: highlighting, word diffs, the editor draft, session signing."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import FormData

from promptvault import Vault
from promptvault.config import Settings
from promptvault.errors import InvalidInputError
from promptvault.server.ui.draft import draft_from_version, parse_draft
from promptvault.server.ui.highlight import highlight
from promptvault.server.ui.session import SECRET_FILE, SessionCodec, load_secret
from promptvault.server.ui.worddiff import diff_rows, word_parts


def test_mustache_tokens() -> None:
    tokens = highlight("Hi {{name}}{{#vip}}!{{/vip}} {{> footer}}{{! note }}{{{raw}}}")
    assert tokens == [
        ("text", "Hi "),
        ("var", "{{name}}"),
        ("section", "{{#vip}}"),
        ("text", "!"),
        ("section", "{{/vip}}"),
        ("text", " "),
        ("partial", "{{> footer}}"),
        ("comment", "{{! note }}"),
        ("var", "{{{raw}}}"),
    ]


def test_mustache_delimiter_change_and_unclosed_tags() -> None:
    tokens = highlight("{{=<% %>=}}<% name %> {{not}}")
    assert ("var", "<% name %>") in tokens and ("text", " {{not}}") in tokens
    assert highlight("oops {{name") == [("text", "oops {{name")]


def test_jinja_tokens() -> None:
    tokens = highlight("{% if a %}{{ a }}{% endif %}{# c #}{% include 'x' %}", "jinja")
    kinds = [k for k, _ in tokens]
    assert kinds == ["section", "var", "section", "comment", "partial"]


@given(st.text(alphabet="{}#/>!^=&ab \n", max_size=60))
def test_highlight_never_loses_text(source: str) -> None:
    for syntax in ("mustache", "jinja"):
        assert "".join(text for _, text in highlight(source, syntax)) == source


def test_word_parts_mark_only_changed_words() -> None:
    left, right = word_parts("Hello there world", "Hello dear there world")
    assert [p.text.strip() for p in right if p.changed] == ["dear"]
    assert not any(p.changed for p in left)
    assert "".join(p.text for p in left) == "Hello there world"


def test_diff_rows_pair_replacements_and_fold_context() -> None:
    before = "\n".join(f"line {i}" for i in range(20))
    after = before.replace("line 10", "line ten") + "\nextra"
    rows = diff_rows(before, after)
    kinds = [r.kind for r in rows]
    assert kinds.count("replace") == 1 and kinds.count("insert") == 1
    assert kinds[0] == "skip" and "skip" in kinds[1:]
    replaced = next(r for r in rows if r.kind == "replace")
    assert (replaced.left_no, replaced.right_no) == (11, 11)
    shown = sum(1 for r in rows if r.kind == "equal") + sum(r.skipped for r in rows)
    assert shown == 19  # every unchanged line is either shown or counted in a fold


@given(
    st.lists(st.sampled_from(["a", "b", "c d", ""]), max_size=8),
    st.lists(st.sampled_from(["a", "b", "c e", ""]), max_size=8),
)
def test_diff_rows_cover_both_sides(a: list[str], b: list[str]) -> None:
    rows = diff_rows("\n".join(a), "\n".join(b), context=1)
    left = [r.left_no for r in rows if r.left_no is not None]
    right = [r.right_no for r in rows if r.right_no is not None]
    folded = sum(r.skipped for r in rows)
    # Every line appears once, in order, or is counted in a fold of unchanged lines.
    assert len(left) + folded == len("\n".join(a).splitlines())
    assert len(right) + folded == len("\n".join(b).splitlines())
    assert left == sorted(set(left)) and right == sorted(set(right))


@pytest.mark.parametrize(
    ("template", "config", "schema"),
    [
        ("Hi {{name}}\n\n", {"model": "m", "temperature": 1, "max_tokens": 5}, None),
        ("x", {"temperature": 0.7, "top_p": 0.9, "stop": ["\n"]}, {"type": "object"}),
        (
            [
                {"role": "system", "content": "S {{a}}", "name": "bot"},
                {"type": "placeholder", "name": "history", "optional": True},
                {"role": "user", "content": "{{q}}"},
            ],
            {},
            None,
        ),
    ],
)
def test_an_untouched_draft_saves_to_the_same_content(
    tmp_path: Path, template: Any, config: dict[str, Any], schema: dict[str, Any] | None
) -> None:
    with Vault(Settings(database_url=f"sqlite:///{tmp_path / 'v.db'}")) as vault:
        first = vault.push("p", template=template, config=config, variables_schema=schema)
        draft = draft_from_version(first.version)
        fields: list[tuple[str, str]] = [
            ("type", draft.type),
            ("syntax", draft.syntax),
            ("template", draft.template.replace("\n", "\r\n")),  # as browsers send it
            ("model", draft.model),
            ("temperature", draft.temperature),
            ("max_tokens", draft.max_tokens),
            ("params", draft.params),
            ("variables_schema", draft.schema),
        ]
        for row in draft.rows:
            fields += [
                ("m_kind", row.kind),
                ("m_role", row.role),
                ("m_content", row.content),
                ("m_optional", "1" if row.optional else "0"),
                ("m_extra", row.extra),
            ]
        parsed = parse_draft(FormData(fields))
        again = vault.push(
            "p",
            template=parsed.template_value(),
            config=parsed.config_value(),
            variables_schema=parsed.schema_value(),
        )
        assert again.created is False
        assert again.version.hash == first.version.hash


def test_draft_errors_name_the_field() -> None:
    draft = parse_draft(FormData([("params", '{"a": }'), ("temperature", "warm")]))
    with pytest.raises(InvalidInputError) as err:
        draft.config_value()
    assert err.value.details["field"] == "params" and err.value.details["line"] == 1
    draft.params = '{"temperature": 1}'
    with pytest.raises(InvalidInputError, match="its own field"):
        draft.config_value()
    draft.params = ""
    with pytest.raises(InvalidInputError) as err:
        draft.config_value()
    assert err.value.details["field"] == "temperature"


def test_session_codec_signs_expires_and_binds_csrf() -> None:
    now = [1_000_000.0]
    codec = SessionCodec(b"k" * 32, max_age=3600, clock=lambda: now[0])
    value, session = codec.issue("abc123")
    read = codec.read(value)
    assert read is not None and read.key_id == "abc123" and read.csrf == session.csrf
    assert SessionCodec(b"x" * 32, max_age=3600, clock=lambda: now[0]).read(value) is None
    assert codec.read(value + "x") is None and codec.read("garbage") is None
    _other, second = codec.issue("abc123")
    assert second.csrf != session.csrf  # a token is bound to one session
    now[0] += 3601
    assert codec.read(value) is None
    assert SessionCodec.csrf_matches(session.csrf, session.csrf)
    assert not SessionCodec.csrf_matches(session.csrf, None)


def test_session_secret_file_is_private_and_stable(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    first = load_secret(settings)
    path = tmp_path / "home" / SECRET_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert load_secret(settings) == first and len(first) == 32
    assert load_secret(settings.model_copy(update={"session_secret": "s3cret"})) != first
    assert [p.name for p in path.parent.iterdir()] == [SECRET_FILE]  # no temp files left
