"""What ``check`` and ``push`` do with a folder of prompt files, and what they print.

Shared by the commands and their quick paths (``cli/_fastfiles.py``), which must print the
same bytes; nothing here imports Typer, pydantic or the database layer.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from promptvault.cli import _output as output

__all__ = [
    "check_status",
    "included_first",
    "load_checked",
    "print_push",
    "push_row",
    "report_problems",
    "same_meta",
]


def load_checked(
    paths: list[Path] | None, *, root: Path, known_partials: bool
) -> tuple[list[Any], list[Any], int]:
    """(files, problems sorted by place, number of files found) under ``paths`` (default:
    ``root``, the prompts folder). ``known_partials``: a partial must name a prompt among
    the files or under ``root``."""
    from promptvault.cli._checks import check_files
    from promptvault.cli._sync import load_files
    from promptvault.cli.files import default_name, discover

    targets = list(paths or [root])
    files, problems, count = load_files(targets)
    known: set[str] | None = None
    if known_partials:
        known = {pf.name for pf in files}
        if root.is_dir():
            extra, _ = discover([root])
            known |= {default_name(p, root) for p in extra}
    problems.extend(check_files(files, known=known))
    problems.sort(key=lambda p: (p.file, p.line or 0, p.column or 0))
    return files, problems, count


def report_problems(problems: list[Any]) -> int:
    """Print problems on stderr; the number of errors (warnings do not fail)."""
    errors = 0
    for problem in problems:
        sys.stderr.write(problem.format() + "\n")
        errors += problem.severity == "error"
    return errors


def check_status(problems: list[Any], count: int, *, as_json: bool) -> int:
    """Print what ``check`` found in ``count`` files; its exit status (1 for any error)."""
    errors = sum(p.severity == "error" for p in problems)
    if as_json:
        output.print_json(
            {"files": count, "errors": errors, "problems": [p.to_dict() for p in problems]}
        )
    else:
        report_problems(problems)
        warnings = len(problems) - errors
        summary = f"checked {count} file{'s' if count != 1 else ''}"
        if errors:
            output.err(f"{summary}: {errors} error(s), {warnings} warning(s)")
        elif warnings:
            output.warn(f"{summary}: {warnings} warning(s)")
        else:
            output.out(f"{summary}: ok")
    return 1 if errors else 0


def included_first(files: list[Any]) -> list[Any]:
    """Files ordered so a prompt another file includes is pushed before it.

    The registry refuses a push whose partial names no prompt yet; pushing a folder of new
    prompts that include each other must therefore start with the included ones. Cycles were
    refused by ``check_files`` already.
    """
    from promptvault.cli._checks import partial_refs

    by_name = {pf.name: pf for pf in files}
    ordered: list[Any] = []
    done: set[str] = set()

    def visit(pf: Any) -> None:
        done.add(pf.name)
        for ref, _field, _line, _col in partial_refs(pf):
            target = by_name.get(ref.partition("@")[0].strip())
            if target is not None and target.name not in done:
                visit(target)
        ordered.append(pf)

    for pf in files:
        if pf.name not in done:
            visit(pf)
    return ordered


def same_meta(pf: Any, summary: Any) -> bool:
    """Whether a file's description and tags are the prompt's."""
    return (pf.description or "") == (summary.description or "") and sorted(pf.tags) == sorted(
        summary.tags
    )


def push_row(pf: Any, status: str, version: int, labels: list[str]) -> dict[str, Any]:
    """One file's line of ``push`` output (a JSON object with ``--json``)."""
    return {
        "name": pf.name,
        "status": status,
        "version": version,
        "labels": labels,
        "file": str(pf.path),
    }


def print_push(
    rows: list[dict[str, Any]], labels: list[str], *, dry_run: bool, as_json: bool
) -> None:
    """What ``push`` prints: a line per file, then how many were created."""
    if as_json:
        output.print_json(rows)
        return
    output.table(
        ["prompt", "result", "file"],
        [
            (
                r["name"],
                f"{r['status']} v{r['version']}" + (f" ({', '.join(labels)})" if labels else ""),
                r["file"],
            )
            for r in rows
        ],
        empty="no prompt files found",
    )
    created = sum(r["status"] != "unchanged" for r in rows)
    verb = "would create" if dry_run else "created"
    output.out(f"{created} {verb}, {len(rows) - created} unchanged")
