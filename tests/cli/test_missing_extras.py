"""A command that needs an extra that is not installed says which one, exit 1, no traceback.

Each case runs the CLI in a fresh interpreter whose import system refuses the extra's
modules, as on an install without that extra.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")

RUNNER = textwrap.dedent(
    """
    import sys

    BLOCKED = set(sys.argv[1].split(","))

    class Uninstalled:
        # Finds the blocked modules first and refuses them, as if they were not installed.
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Uninstalled())
    from promptvault.cli import main

    main(sys.argv[2:])
    """
)


def run_without(blocked: str, *args: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "PROMPTVAULT_HOME": str(home)}
    for var in ("PROMPTVAULT_DATABASE_URL", "PROMPTVAULT_URL", "PROMPTVAULT_API_KEY"):
        env.pop(var, None)
    return subprocess.run(
        [sys.executable, "-c", RUNNER, blocked, *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("blocked", "args", "extra"),
    [
        ("psycopg", ["--db", "postgresql+psycopg://pv@127.0.0.1:1/pv", "list"], "postgres"),
        ("sqlalchemy", ["list"], "server"),
        ("sqlalchemy,alembic,fastapi,uvicorn", ["render", "greet", "--var", "a=b"], "server"),
        ("fastapi,uvicorn,starlette", ["serve", "--port", "0"], "server"),
    ],
)
def test_missing_extra_names_the_install_command(
    blocked: str, args: list[str], extra: str, home: Path
) -> None:
    done = run_without(blocked, *args, home=home)
    assert done.returncode == 1, done.stderr
    assert f"pip install 'promptvault[{extra}]'" in done.stderr
    assert "Traceback" not in done.stderr
    assert "internal error" not in done.stderr


def test_missing_extra_in_json_mode(home: Path) -> None:
    done = run_without("sqlalchemy", "--json", "list", home=home)
    assert done.returncode == 1
    error = json.loads(done.stderr.strip().splitlines()[-1])["error"]
    assert error["code"] == "missing_dependency"
    assert error["details"] == {"module": "sqlalchemy", "extra": "server"}


def test_an_unrelated_missing_module_is_still_an_internal_error(home: Path) -> None:
    # Only the extras' modules get the hint; anything else is a bug to report as one.
    done = run_without("yaml", "list", home=home)
    assert done.returncode == 1
    assert "pip install 'promptvault[" not in done.stderr


LIBRARY = textwrap.dedent(
    """
    import sys

    BLOCKED = set(sys.argv[1].split(","))

    class Uninstalled:
        def find_spec(self, name, path=None, target=None):
            if name.partition(".")[0] in BLOCKED:
                raise ModuleNotFoundError(f"No module named {name!r}", name=name)
            return None

    sys.meta_path.insert(0, Uninstalled())
    try:
        exec(sys.argv[2])
    except ModuleNotFoundError as exc:
        print(f"{exc.name}|{exc}")
    """
)


@pytest.mark.parametrize(
    ("blocked", "code", "module", "extra"),
    [
        ("sqlalchemy", "from promptvault import Vault", "sqlalchemy", "server"),
        (
            "psycopg",
            "from promptvault import Vault\n"
            "from promptvault.config import Settings\n"
            "Vault(Settings(database_url='postgresql+psycopg://pv@127.0.0.1:1/pv'))",
            "psycopg",
            "postgres",
        ),
    ],
)
def test_library_names_the_extra_too(
    blocked: str, code: str, module: str, extra: str, home: Path
) -> None:
    env = {**os.environ, "PYTHONPATH": SRC, "PROMPTVAULT_HOME": str(home)}
    done = subprocess.run(
        [sys.executable, "-c", LIBRARY, blocked, code],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    name, _, message = done.stdout.strip().partition("|")
    assert name == module, done.stderr
    assert f"pip install 'promptvault[{extra}]'" in message
