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


# Top-level packages and promptvault modules the SDK must not load at import or on a render.
HEAVY = (
    "numpy",
    "sqlalchemy",
    "alembic",
    "fastapi",
    "starlette",
    "uvicorn",
    "typer",
    "promptvault.server",
    "promptvault.storage",
    "promptvault.vault",
    "promptvault.cli",
    "promptvault.registry.service",
    "promptvault.experiments.service",
    "promptvault.fewshot.service",
    "promptvault.fewshot.embedders",
    "promptvault.fewshot.index",
)

LOADED_SCRIPT = textwrap.dedent(
    """
    import sys
    HEAVY = {heavy!r}

    def heavy_loaded():
        return sorted(
            m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in HEAVY)
        )

    import httpx
    import promptvault.client
    from promptvault.client import AsyncPromptVaultClient, PromptVaultClient
    print("import", heavy_loaded())

    VERSION = {{
        "name": "support", "version": 1, "type": "text", "syntax": "mustache",
        "template": "Hello {{{{name}}}}", "config": {{}}, "created_at": "2024-01-01T00:00:00Z",
        "hash": "abc", "labels": ["production"], "resolved_label": "production",
    }}
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=VERSION))
    pv = PromptVaultClient("http://pv.test", transport=transport)
    pv.render("support", {{"name": "Ada"}})
    pv.build("support", {{"name": "Ada"}})
    print("render", heavy_loaded())

    import promptvault.fewshot
    promptvault.fewshot.top_k  # a selection strategy is what needs numpy
    print("numpy", "numpy" in sys.modules)
    """
)


def test_sdk_loads_no_numpy_and_nothing_of_the_server() -> None:
    script = LOADED_SCRIPT.format(heavy=HEAVY)
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == ["import []", "render []", "numpy True"]
