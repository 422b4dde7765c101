"""``promptvault backup`` / ``restore``, and ``export`` no longer claiming to be a backup."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def test_backup_and_restore_commands(cli: Any, write: Any, tmp_path: Path) -> None:
    write("prompts/greet.yaml", "template: 'Hello {{name}}'\nvariables:\n  name: {type: string}\n")
    assert cli("push").exit_code == 0
    assert cli("keys", "create", "ci").exit_code == 0
    made = cli("backup", str(tmp_path / "pv.bak"), "--json")
    assert made.exit_code == 0, made.output
    info = json.loads(made.stdout)
    assert info["kind"] == "sqlite" and info["rows"]["api_keys"] == 1

    target = f"sqlite:///{tmp_path / 'restored.db'}"
    done = cli("--db", target, "restore", str(tmp_path / "pv.bak"))
    assert done.exit_code == 0, done.output
    assert "audit chain ok" in done.stdout
    assert cli("--db", target, "audit", "verify").exit_code == 0
    shown = cli("--db", target, "show", "greet", "--json")
    assert json.loads(shown.stdout)["version"] == 1

    again = cli("--db", target, "restore", str(tmp_path / "pv.bak"))
    assert again.exit_code == 1 and "--force" in again.stderr
    assert cli("--db", target, "restore", str(tmp_path / "pv.bak"), "--force").exit_code == 0


def test_export_help_points_at_backup(cli: Any) -> None:
    text = cli("export", "--help").stdout
    assert "Not a backup" in text and "promptvault backup" in text
    assert "lossless" not in cli("--help").stdout
