"""Backup commands: ``backup`` and ``restore`` (the whole database); ``export``, ``import``
and ``import-seed`` (prompts only, portable JSON)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from promptvault.cli import _context as ctx
from promptvault.cli import _output as output

__all__ = ["backup", "export", "import_", "import_seed", "restore"]


def _local(command: str) -> None:
    if ctx.is_remote():
        from promptvault.errors import InvalidInputError

        raise InvalidInputError(
            f"{command} works on a database, not a server: use --db or unset PROMPTVAULT_URL",
            details={"field": "--server"},
        )


def backup(
    file: Annotated[Path, typer.Argument(help="File to write (SQLite file, or JSON lines).")],
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Back up the whole database to FILE, online: servers keep writing meanwhile.

    \b
    Everything is in it: prompts, versions, labels and their history, the audit log and
    its checkpoints, API keys (digests), experiments with events and statistics,
    collections with examples and embeddings. SQLite: a SQLite file made with the backup
    API. PostgreSQL: a consistent export in one transaction (gzip if FILE ends in .gz).

    \b
    Example:
      promptvault backup backups/promptvault-$(date +%F).db
    """
    _local("backup")
    result = ctx.backend().backup(file)
    if ctx.want_json(json_):
        output.print_json(
            {
                "path": str(result.path),
                "kind": result.kind,
                "revision": result.revision,
                "rows": result.rows,
                "audit_entries": result.audit_entries,
                "bytes": result.bytes,
            }
        )
        return
    total = sum(result.rows.values())
    output.out(
        f"backed up {total} rows ({result.audit_entries} audit entries) to {file} "
        f"({result.bytes:,} bytes, schema {result.revision})"
    )


def restore(
    file: Annotated[Path, typer.Argument(help="A file written by backup.", exists=True)],
    force: Annotated[
        bool, typer.Option("--force", help="Replace what the database holds.")
    ] = False,
    resign: Annotated[
        bool,
        typer.Option(
            "--resign-audit",
            help="The backed-up database's audit key is lost: sign its checkpoints with "
            "this one (the chain must still verify; recorded in the audit log).",
        ),
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Restore a backup into the database (empty, unless --force), all or nothing.

    \b
    The restored audit log and its signed checkpoints are verified before anything is
    committed (the audit key must be the backed-up database's: PROMPTVAULT_AUDIT_KEY or
    home/audit.key). Stop servers on the database first.

    \b
    Example:
      promptvault --db sqlite:///restored.db restore backups/promptvault-2025-05-01.db
    """
    _local("restore")
    from promptvault.vault import Vault

    result = Vault.restore(
        file, settings=ctx.settings(), force=force, actor=ctx.actor(), resign=resign
    )
    if ctx.want_json(json_):
        output.print_json(
            {
                "path": str(result.path),
                "revision": result.revision,
                "rows": result.rows,
                "audit": result.audit.model_dump(mode="json"),
            }
        )
        return
    output.out(
        f"restored {sum(result.rows.values())} rows from {file}; audit chain ok: "
        f"{result.audit.checked} entries verified"
    )


def export(
    file: Annotated[Path, typer.Argument(help="JSON file to write.")],
) -> None:
    """Export the prompts (versions, labels, label history, tags) as portable JSON.

    \b
    Not a backup: collections, experiments, API keys and the audit log are not in it;
    use `promptvault backup`. Import it into another vault with `promptvault import`.

    \b
    Example:
      promptvault export prompts.json
    """
    count = ctx.backend().export(file)
    output.out(f"exported {count} prompt{'s' if count != 1 else ''} to {file}")


def import_(
    file: Annotated[
        Path | None,
        typer.Argument(help="A file written by export, or the file/folder to import --from."),
    ] = None,
    *,
    from_: Annotated[
        str | None,
        typer.Option(
            "--from",
            metavar="FORMAT",
            help="Import from another tool: langfuse, humanloop, langchain or seed-json.",
        ),
    ] = None,
    host: Annotated[
        str | None,
        typer.Option("--host", envvar="LANGFUSE_HOST", help="Langfuse server address."),
    ] = None,
    public_key: Annotated[
        str | None,
        typer.Option("--public-key", envvar="LANGFUSE_PUBLIC_KEY", help="Langfuse public key."),
    ] = None,
    secret_key: Annotated[
        str | None,
        typer.Option(
            "--secret-key",
            envvar="LANGFUSE_SECRET_KEY",
            help="Langfuse secret key.",
            show_default=False,
        ),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Add the prompts of a file written by export (all or nothing; names must be new),
    or import from another tool with --from (all or nothing; a second run creates nothing).

    \b
    Examples:
      promptvault --db sqlite:///other.db import prompts.json
      promptvault import --from humanloop prompts/
      promptvault import --from langchain hub/rag-prompt.json
      promptvault import --from seed-json prompts.json
      promptvault import --from langfuse --host https://cloud.langfuse.com
    """
    if from_ is not None:
        _import_from(from_, file, host, public_key, secret_key, json_=json_)
        return
    if file is None or not file.exists():
        from promptvault.errors import InvalidInputError

        raise InvalidInputError(
            f"no export file at {file}" if file else "name the file to import",
            details={"field": "file"},
        )
    count = ctx.backend().import_(file, actor=ctx.actor())
    output.out(f"imported {count} prompt{'s' if count != 1 else ''} from {file}")


def _import_from(
    format: str,
    file: Path | None,
    host: str | None,
    public_key: str | None,
    secret_key: str | None,
    *,
    json_: bool,
) -> None:
    _local("import --from")
    report = ctx.backend().import_from(
        format,
        file,
        actor=ctx.actor(),
        host=host,
        public_key=public_key,
        secret_key=secret_key,
    )
    if ctx.want_json(json_):
        from dataclasses import asdict

        output.print_json(asdict(report))
        return
    made = len(report.created)
    output.out(
        f"imported {made} prompt{'s' if made != 1 else ''} ({report.versions} versions) "
        f"from {format}; {len(report.unchanged)} already here, unchanged"
    )
    for line in report.not_carried:
        output.note(f"not carried over: {line}")


def import_seed(
    file: Annotated[Path, typer.Argument(help="A single-JSON-file registry.", exists=True)],
) -> None:
    """Import the single-JSON-file registry format (active_version becomes production).

    \b
    Example:
      promptvault import-seed prompts.json
    """
    count = ctx.backend().import_seed_registry(file, actor=ctx.actor())
    output.out(f"imported {count} prompt{'s' if count != 1 else ''} from {file}")
