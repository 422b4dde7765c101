"""The SDK imports and works with the database and server stack blocked from import."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys
    BLOCKED = ("sqlalchemy", "fastapi", "alembic", "starlette", "uvicorn",
               "promptvault.storage", "promptvault.vault", "promptvault.server")

    class Block:
        def find_spec(self, name, path=None, target=None):
            if any(name == b or name.startswith(b + ".") for b in BLOCKED):
                raise ImportError(f"blocked: {name}")
            return None

    sys.meta_path.insert(0, Block())

    import httpx
    from promptvault.client import PromptVaultClient

    VERSION = {
        "name": "support", "version": 1, "type": "text", "syntax": "mustache",
        "template": "Hello {{name}}", "config": {}, "created_at": "2024-01-01T00:00:00Z",
        "hash": "abc", "labels": ["production"], "resolved_label": "production",
    }
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=VERSION))
    pv = PromptVaultClient("http://pv.test", transport=transport)
    print(pv.render("support", {"name": "Ada"}))
    heavy = {"sqlalchemy", "fastapi", "alembic"}
    loaded = sorted(m for m in sys.modules if m.split(".")[0] in heavy)
    print(loaded)
    """
)


def test_client_works_without_server_dependencies() -> None:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["Hello Ada", "[]"]
