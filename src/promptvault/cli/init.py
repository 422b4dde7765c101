"""``promptvault init``: a ``prompts/`` folder with an example and a ``promptvault.toml``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from promptvault.cli import _output as output
from promptvault.cli._context import PROJECT_FILE

__all__ = ["EXAMPLE_PROMPT", "init", "project_file"]

EXAMPLE_PROMPT = """\
# A prompt file: push it with `promptvault push`, render it with
# `promptvault render customer_support --var company_name=Acme --var question="..."`.
description: Answers customer questions politely
tags: [support]
syntax: mustache
config:
  model: gpt-4
  temperature: 0.7
  max_tokens: 500
variables:
  company_name: {type: string, description: "Your company, as customers know it"}
  question: {type: string, description: The customer's message}
template: |
  You are a helpful customer support agent for {{company_name}}.
  Answer the customer's question accurately and politely. If you do not know the answer,
  say so and offer to escalate.

  Customer question: {{question}}
"""


def project_file(*, database_url: str | None, server: str | None) -> str:
    """The text of a new ``promptvault.toml``."""
    db_line = f'database_url = "{database_url or "sqlite:///.promptvault/promptvault.db"}"'
    server_line = f'url = "{server}"' if server else '# url = "http://127.0.0.1:8600"'
    if server:
        db_line = "# " + db_line
    return f"""\
# promptvault project settings. Flags (--db, --server) and PROMPTVAULT_* variables win.
[promptvault]
# Where prompt files live; push, pull and check default to this folder.
prompts_dir = "prompts"
# The registry database: a SQLite file (relative to this file) or a PostgreSQL URL
# such as "postgresql+psycopg://user@host:5432/prompts".
{db_line}
# Or talk to a promptvault server (the API key comes from PROMPTVAULT_API_KEY):
{server_line}
"""


def init(
    directory: Annotated[
        Path, typer.Argument(metavar="[DIR]", help="Project folder (default: here).")
    ] = Path("."),
    db: Annotated[
        str | None, typer.Option("--db", metavar="URL", help="Database URL to write.")
    ] = None,
    server: Annotated[
        str | None, typer.Option("--server", metavar="URL", help="Server URL to write.")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing files.")] = False,
) -> None:
    """Create prompts/ with an example prompt file, and promptvault.toml.

    \b
    Example:
      promptvault init my-prompts && cd my-prompts && promptvault push
    """
    from promptvault.cli._paths import write_inside
    from promptvault.errors import ConflictError

    targets = {
        directory / PROJECT_FILE: project_file(database_url=db, server=server),
        directory / "prompts" / "customer_support.yaml": EXAMPLE_PROMPT,
    }
    clash = [str(p) for p in targets if p.exists()]
    if clash and not force:
        raise ConflictError(
            f"{', '.join(clash)} already exist{'s' if len(clash) == 1 else ''} "
            "(use --force to overwrite)",
            details={"file": clash[0]},
        )
    for path, text in targets.items():
        write_inside(directory, path, text)
        output.out(f"created {path}")
    output.out()
    cd = "" if directory == Path(".") else f"cd {directory} && "
    output.out(f"Next: {cd}promptvault push")
