"""``promptvault import --from FORMAT PATH``: a report, notes on losses, idempotent."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DATA = Path(__file__).resolve().parents[1] / "data"


def test_import_from_humanloop_twice(cli: Any) -> None:
    first = cli("import", "--from", "humanloop", str(DATA / "humanloop"))
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == (
        "imported 2 prompts (2 versions) from humanloop; 0 already here, unchanged"
    )
    assert "not carried over: summarize: .prompt files hold no author" in first.stderr
    second = cli("import", "--from", "humanloop", str(DATA / "humanloop"), "--json")
    report = json.loads(second.stdout)
    assert report["created"] == [] and report["unchanged"] == ["summarize", "support/reply"]
    rendered = cli("render", "summarize", "--var", "sentences=3", "--var", "text=T")
    assert rendered.stdout.startswith("Summarize the following text in 3 sentences.")


def test_import_from_unknown_format(cli: Any) -> None:
    bad = cli("import", "--from", "nope", str(DATA / "seed" / "registry.json"))
    assert bad.exit_code != 0 and "unknown import format 'nope'" in bad.output
    missing = cli("import")
    assert missing.exit_code != 0 and "name the file to import" in missing.output
