"""The README's Quick start, run command by command in a temporary home: it stays true."""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"


def quickstart_commands() -> list[list[str]]:
    """Each command of the Quick start block (``&&`` chains split, comments dropped)."""
    text = README.read_text(encoding="utf-8")
    match = re.search(
        r"<!-- quickstart:start -->\s*```bash\n(.*?)```\s*<!-- quickstart:end -->", text, re.S
    )
    assert match, "README.md lost its quickstart markers"
    commands: list[list[str]] = []
    for line in match.group(1).splitlines():
        words = shlex.split(line, comments=True)
        while words:
            cut = words.index("&&") if "&&" in words else len(words)
            commands.append(words[:cut])
            words = words[cut + 1 :]
    return commands


def test_readme_quickstart_runs_in_order(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    commands = quickstart_commands()
    assert commands[0][:2] == ["pip", "install"]
    outputs: list[str] = []
    for words in commands[1:]:
        if words[0] == "cd":
            monkeypatch.chdir(Path.cwd() / words[1])
            continue
        if words[0] == "promptvault":
            result = cli(*words[1:])
            assert result.exit_code == 0, (words, result.stdout, result.stderr)
            outputs.append(result.stdout)
            continue
        done = subprocess.run(words, capture_output=True, text=True, check=False)
        assert done.returncode == 0, (words, done.stderr)

    assert [w[1] for w in commands if w[0] == "promptvault"] == [
        "init", "check", "push", "render", "push", "diff", "promote", "rollback", "log", "pull",
    ]  # fmt: skip
    by_command = dict(zip([w[1] for w in commands if w[0] == "promptvault"], outputs, strict=False))
    assert "agent for Acme." in by_command["render"]
    assert "-Answer the customer's question accurately and politely." in by_command["diff"]
    assert "+Answer the customer's question warmly and briefly." in by_command["diff"]
    log = outputs[-2].splitlines()
    assert log[1].split()[:3] == ["v2", "staging", "tester"]
    assert log[2].split()[:3] == ["v1", "production", "tester"]
    project = tmp_path / "project" / "my-prompts"
    assert (project / ".promptvault" / "promptvault.db").is_file()  # promptvault.toml's database
