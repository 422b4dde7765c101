"""``promptvault audit verify`` reports a deleted tail, a rewritten chain and checkpoints."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any


def _push(cli: Any, write: Any, n: int) -> None:
    for i in range(n):
        write(
            "prompts/greet.yaml",
            f"template: 'Hello {i} {{{{name}}}}'\nvariables:\n  name: {{type: string}}\n",
        )
        assert cli("push").exit_code == 0


def test_verify_reports_a_deleted_tail(cli: Any, write: Any, home: Path) -> None:
    _push(cli, write, 3)
    assert cli("audit", "verify").exit_code == 0
    with sqlite3.connect(home / "promptvault.db") as conn:
        conn.execute("DELETE FROM audit_log WHERE seq = (SELECT MAX(seq) FROM audit_log)")
    broken = cli("audit", "verify")
    assert broken.exit_code == 1
    assert "the newest entries are missing" in broken.stderr
    data = cli("audit", "verify", "--json")
    assert '"problem": "tail_missing"' in data.stdout


def test_verify_reports_a_deleted_checkpoint(cli: Any, write: Any, home: Path) -> None:
    _push(cli, write, 2)
    with sqlite3.connect(home / "promptvault.db") as conn:
        conn.execute("DELETE FROM audit_checkpoints")
    broken = cli("audit", "verify")
    assert broken.exit_code == 1
    assert "checkpoint is missing" in broken.stderr
