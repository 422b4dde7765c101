"""``promptvault datasets``: import with per-line errors, show, export, add, edit, remove."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


def test_datasets_commands(cli: Callable[..., Any], tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text('{"key": "a", "variables": {"q": "1"}, "expected": "x"}\n', encoding="utf-8")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"key": "b", "variables": {"q": "2"}}\n{"variables": 3}\n', encoding="utf-8")

    refused = cli("datasets", "import", "qa", str(bad))
    assert refused.exit_code == 1
    assert f"{bad}:2: variables must be an object (variables)" in refused.output

    assert cli("datasets", "import", "qa", str(good)).output.strip() == "qa v2: 1 added"
    partial = cli("datasets", "import", "qa", str(bad), "--partial")
    assert partial.exit_code == 1 and "qa v3: 1 added" in partial.output
    assert "qa v4: 1 added" in cli("datasets", "add", "qa", "-V", '{"q": "3"}', "-k", "c").output
    assert "1 updated" in cli("datasets", "edit", "qa", "c", "-e", "three").output
    assert "1 removed" in cli("datasets", "remove", "qa", "b").output

    shown = json.loads(cli("datasets", "show", "qa", "--json").output)
    assert shown["version"] == 6
    assert [(c["key"], c["expected"]) for c in shown["cases"]] == [("a", "x"), ("c", "three")]
    csv = cli("datasets", "export", "qa", "--format", "csv").output
    assert csv.splitlines() == ["key,q,expected,tags", "a,1,x,", "c,3,three,"]
    listed = cli("datasets", "list").output
    assert listed.splitlines()[1].split()[:3] == ["qa", "6", "2"]
