"""The library example runs end to end in a real subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_customer_support_example_runs(tmp_path: Path) -> None:
    env = {**os.environ, "PROMPTVAULT_HOME": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "customer_support.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "imported 2 prompts" in out
    assert "Customer question: Where is my refund?" in out
    assert "pushed version 3 (created: True) to staging" in out
    assert "Greet Ada by name" in out
    assert "config.model: 'gpt-4' -> 'gpt-4o'" in out
    assert "rolled back: production 3 -> 1" in out
    assert "chain intact: True" in out
    assert (tmp_path / "promptvault.db").exists()
