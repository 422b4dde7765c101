"""``promptvault datasets``: evaluation datasets (list, create, show, import, export, add,
edit, remove). Works on the local database, or through a server (``--server``) with the
SDK's ``client.evals``, which has the same methods."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from promptvault.cli import _context as ctx
from promptvault.cli import _output as output

if TYPE_CHECKING:
    from promptvault.client._evals_sync import ClientEvals
    from promptvault.evals.service import EvalService

__all__ = ["datasets_app", "eval_service", "json_option"]

datasets_app = typer.Typer(
    help="Evaluation datasets: versioned test cases for `promptvault eval run`.",
    no_args_is_help=True,
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Name = Annotated[str, typer.Argument(help="Dataset name.")]


@contextmanager
def eval_service() -> Iterator[EvalService | ClientEvals]:
    """The evals of the backend: the local vault's service, or the SDK's ``client.evals``
    in remote mode (the same method names; the server names the API key as the actor)."""
    yield ctx.backend().evals


def json_option(text: str | None, field: str) -> Any:
    """Parse a JSON option value, naming the option when it does not parse."""
    from promptvault.errors import InvalidInputError

    if text is None:
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"--{field} is not valid JSON: {exc.msg}", details={"field": field}
        ) from None


def _change(change: Any, json_: bool) -> None:
    if ctx.want_json(json_):
        output.print_json(change.model_dump(mode="json"))
        return
    parts = [
        f"{n} {what}"
        for n, what in (
            (change.added, "added"),
            (change.updated, "updated"),
            (change.removed, "removed"),
        )
        if n
    ]
    output.out(f"{change.dataset} v{change.version}: " + (", ".join(parts) or "no change"))


@datasets_app.command("list")
def list_(json_: JsonFlag = False) -> None:
    """Every dataset with its version and case count."""
    with eval_service() as evals:
        found = evals.datasets()
    if ctx.want_json(json_):
        output.print_json([d.model_dump(mode="json") for d in found])
        return
    output.table(
        ["name", "version", "cases", "updated"],
        [[d.name, d.version, d.cases, output.format_time(d.updated_at)] for d in found],
        empty="no datasets",
    )


@datasets_app.command("create")
def create(
    name: Name,
    description: Annotated[str, typer.Option("--description", "-d")] = "",
    evaluators: Annotated[
        str | None,
        typer.Option("--evaluators", help='Default evaluators, JSON: [{"type": "exact"}]'),
    ] = None,
    json_: JsonFlag = False,
) -> None:
    """Create an empty dataset."""
    with eval_service() as evals:
        made = evals.create_dataset(
            name,
            description=description,
            evaluators=json_option(evaluators, "evaluators") or [],
            actor=ctx.actor(),
        )
    if ctx.want_json(json_):
        output.print_json(made.model_dump(mode="json"))
        return
    output.out(f"created dataset {made.name}")


@datasets_app.command("show")
def show(
    name: Name,
    version: Annotated[int | None, typer.Option("--version", "-v", help="A past version.")] = None,
    json_: JsonFlag = False,
) -> None:
    """A dataset's cases (at its current or a past version)."""
    with eval_service() as evals:
        dataset = evals.dataset(name)
        cases = evals.cases(name, version=version)
    if ctx.want_json(json_):
        output.print_json(
            {**dataset.model_dump(mode="json"), "cases": [c.model_dump() for c in cases]}
        )
        return
    output.out(f"{dataset.name} v{version or dataset.version}: {len(cases)} cases")
    output.table(
        ["key", "variables", "expected", "tags"],
        [
            [
                c.key,
                _short(json.dumps(c.variables, ensure_ascii=False)),
                _short("" if c.expected is None else json.dumps(c.expected, ensure_ascii=False)),
                ",".join(c.tags),
            ]
            for c in cases
        ],
    )


def _short(text: str, width: int = 50) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


@datasets_app.command("import")
def import_(  # noqa: PLR0917 - Typer passes every option positionally
    name: Name,
    file: Annotated[Path, typer.Argument(help="A .jsonl or .csv file.", exists=True)],
    fmt: Annotated[
        str | None, typer.Option("--format", help="jsonl | csv (default: from the extension)")
    ] = None,
    partial: Annotated[
        bool, typer.Option("--partial", help="Keep the good lines; report the bad ones.")
    ] = False,
    replace: Annotated[
        bool, typer.Option("--replace", help="Remove the cases the file does not have.")
    ] = False,
    json_: JsonFlag = False,
) -> None:
    """Import cases (all or nothing unless --partial); exit 1 when a line was refused."""
    from promptvault.errors import InvalidInputError

    if fmt not in (None, "jsonl", "csv"):
        raise InvalidInputError("--format is jsonl or csv", details={"field": "format"})
    try:
        with eval_service() as evals:
            change = evals.import_cases(
                name,
                file,
                fmt=fmt,  # type: ignore[arg-type]  # checked above
                partial=partial,
                replace=replace,
                actor=ctx.actor(),
            )
    except InvalidInputError as exc:
        for problem in exc.details.get("problems", []):
            where = f" ({problem['field']})" if problem.get("field") else ""
            output.err(f"{file}:{problem['line']}: {problem['message']}{where}")
        raise
    for problem in change.skipped:
        where = f" ({problem.field})" if problem.field else ""
        output.err(f"{file}:{problem.line}: {problem.message}{where}")
    _change(change, json_)
    if change.skipped:
        raise typer.Exit(1)


@datasets_app.command("export")
def export(
    name: Name,
    file: Annotated[Path | None, typer.Argument(help="Write here (default: stdout).")] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="jsonl | csv")] = None,
    version: Annotated[int | None, typer.Option("--version", "-v")] = None,
) -> None:
    """Write the cases as JSONL or CSV."""
    from promptvault.errors import InvalidInputError

    chosen = fmt or ("csv" if file is not None and file.suffix.lower() == ".csv" else "jsonl")
    if chosen not in ("jsonl", "csv"):
        raise InvalidInputError("--format is jsonl or csv", details={"field": "format"})
    with eval_service() as evals:
        text = evals.export_cases(name, file, fmt=chosen, version=version)  # type: ignore[arg-type]
    if file is None:
        output.out(text.rstrip("\n"))
    else:
        output.note(f"wrote {file}")


@datasets_app.command("add")
def add(  # noqa: PLR0917 - Typer passes every option positionally
    name: Name,
    variables: Annotated[str, typer.Option("--variables", "-V", help="A JSON object.")],
    expected: Annotated[str | None, typer.Option("--expected", "-e", help="Text.")] = None,
    key: Annotated[str | None, typer.Option("--key", "-k")] = None,
    tags: Annotated[list[str] | None, typer.Option("--tag", "-t")] = None,
    json_: JsonFlag = False,
) -> None:
    """Add one case."""
    case: dict[str, Any] = {
        "variables": json_option(variables, "variables"),
        "expected": expected,
        "tags": tags or [],
    }
    if key is not None:
        case["key"] = key
    with eval_service() as evals:
        change = evals.add_cases(name, [case], actor=ctx.actor())
    _change(change, json_)


@datasets_app.command("edit")
def edit(  # noqa: PLR0917 - Typer passes every option positionally
    name: Name,
    key: Annotated[str, typer.Argument(help="The case's key.")],
    variables: Annotated[str | None, typer.Option("--variables", "-V")] = None,
    expected: Annotated[str | None, typer.Option("--expected", "-e")] = None,
    tags: Annotated[list[str] | None, typer.Option("--tag", "-t")] = None,
    json_: JsonFlag = False,
) -> None:
    """Change one case (options left out keep their value)."""
    with eval_service() as evals:
        current = next((c for c in evals.cases(name) if c.key == key), None)
        data = current.model_dump() if current is not None else {"variables": {}}
        if variables is not None:
            data["variables"] = json_option(variables, "variables")
        if expected is not None:
            data["expected"] = expected
        if tags is not None:
            data["tags"] = tags
        change = evals.edit_case(name, key, data, actor=ctx.actor())
    _change(change, json_)


@datasets_app.command("remove")
def remove(
    name: Name,
    keys: Annotated[list[str], typer.Argument(help="Keys of the cases to remove.")],
    json_: JsonFlag = False,
) -> None:
    """Remove cases from the dataset's next version."""
    with eval_service() as evals:
        change = evals.delete_cases(name, keys, actor=ctx.actor())
    _change(change, json_)
