"""``promptvault events tail --follow`` prints changes as they are committed."""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

from promptvault import Vault
from promptvault.config import Settings


def test_follow_prints_new_events_as_they_commit(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'vault.db'}"
    with Vault(Settings(database_url=url)) as vault:
        vault.push("greet", template="one", author="alice")
        cmd = [sys.executable, "-m", "promptvault", "--db", url, "events", "tail"]
        after = str(vault.events.last_id())  # a fixed start: no race with the push below
        cmd += ["--follow", "--interval", "0.1", "--json", "--after", after]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, env=dict(os.environ))
        lines: queue.Queue[str] = queue.Queue()
        stdout = proc.stdout
        assert stdout is not None

        def read() -> None:
            for line in stdout:
                lines.put(line)

        threading.Thread(target=read, daemon=True).start()
        try:
            # Nothing from before --after; then each change as it commits.
            vault.push("greet", template="two", author="bob")
            pushed = json.loads(lines.get(timeout=60))
            assert (pushed["type"], pushed["actor"]) == ("version.pushed", "bob")
            assert pushed["payload"]["version"] == 2
            vault.set_label("greet", "production", 2, actor="carol")
            moved = json.loads(lines.get(timeout=60))
            assert moved["type"] == "label.moved" and moved["id"] > pushed["id"]
        finally:
            proc.terminate()
            proc.wait(30)
