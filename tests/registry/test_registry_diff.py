"""Diffs between versions."""

from __future__ import annotations

from promptvault import Vault


def test_text_diff_and_config(sqlite_vault: Vault) -> None:
    sqlite_vault.push("p", template="Hello {{name}}\nBye", config={"model": "a", "temperature": 1})
    sqlite_vault.push(
        "p",
        template="Hi {{name}}\nBye",
        config={"model": "b", "max_tokens": 10},
        variables_schema={"type": "object"},
    )
    d = sqlite_vault.diff("p@1", "p@2")
    assert (d.a_version, d.b_version) == (1, 2)
    assert "-Hello {{name}}\n+Hi {{name}}\n" in d.messages[0].diff
    assert [(c.key, c.before, c.after) for c in d.config_changes] == [
        ("max_tokens", None, 10),
        ("model", "a", "b"),
        ("temperature", 1, None),
    ]
    assert d.schema_changed and d.schema_after == {"type": "object"}
    assert "config.model: 'a' -> 'b'" in d.unified
    assert not d.identical
    assert sqlite_vault.diff("p@2", "p@latest").identical


def test_chat_diff_per_message(sqlite_vault: Vault) -> None:
    sqlite_vault.push(
        "c",
        template=[{"role": "system", "content": "Be kind"}, {"role": "user", "content": "{{q}}"}],
    )
    sqlite_vault.push(
        "c",
        template=[
            {"role": "system", "content": "Be kind and brief"},
            {"role": "user", "content": "{{q}}"},
            {"role": "assistant", "content": "Sure"},
        ],
    )
    d = sqlite_vault.diff("c@1", "c@2")
    assert len(d.messages) == 3
    assert "+Be kind and brief" in d.messages[0].diff
    assert d.messages[1].diff == ""
    assert (d.messages[2].role_before, d.messages[2].role_after) == (None, "assistant")
    assert "messages[2]" in d.unified
