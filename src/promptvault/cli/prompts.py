"""Prompt commands: push, pull, check, list, show, get, log, diff, render."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from promptvault.cli import _context as ctx
from promptvault.cli import _output as output

__all__ = [
    "check_command",
    "diff_command",
    "get_command",
    "list_command",
    "log_command",
    "pull_command",
    "push_command",
    "render_command",
    "show_command",
]

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON.")]
Paths = Annotated[
    list[Path] | None,
    typer.Argument(
        metavar="PATH", help="Prompt files or folders (default: prompts/).", show_default=False
    ),
]


def check_command(paths: Paths = None, json_: JsonFlag = False) -> None:
    """Validate prompt files without a database.

    Checks the file shape, template syntax (file:line:col with a caret under the spot),
    variables against the declared ones, and partial references. Lists every problem;
    exits 1 if any is an error.

    \b
    Example:
      promptvault check prompts/
    """
    from promptvault.cli._filework import check_status, load_checked

    _files, problems, count = load_checked(paths, root=ctx.prompts_dir(), known_partials=True)
    status = check_status(problems, count, as_json=ctx.want_json(json_))
    if status:
        raise typer.Exit(status)


def push_command(
    paths: Paths = None,
    label: Annotated[
        list[str] | None,
        typer.Option(
            "--label",
            "-l",
            metavar="LABEL",
            help="Point this label at the pushed version (repeatable).",
        ),
    ] = None,
    message: Annotated[
        str, typer.Option("--message", "-m", metavar="TEXT", help="Commit message.")
    ] = "",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show what would change; write nothing.")
    ] = False,
    json_: JsonFlag = False,
) -> None:
    """Push prompt files (a file or a folder, recursively) as new versions.

    Unchanged files create no version. Every file is checked first; nothing is pushed if
    any file has an error. On a local database the changed files are written in one
    transaction: if one fails (or the command is interrupted), none is pushed.

    \b
    Examples:
      promptvault push
      promptvault push prompts/support --label staging -m "friendlier tone"
      promptvault push --dry-run
    """
    from promptvault.cli._filework import (
        included_first,
        load_checked,
        print_push,
        push_row,
        report_problems,
        same_meta,
    )
    from promptvault.cli._sync import all_prompts, same_content
    from promptvault.errors import PromptNotFound
    from promptvault.registry.validation import content_hash

    files, problems, _count = load_checked(paths, root=ctx.prompts_dir(), known_partials=False)
    if report_problems(problems):
        output.err("nothing pushed")
        raise typer.Exit(1)
    files = included_first(files)
    vault = ctx.backend()
    who = ctx.actor()
    labels = list(label or [])
    rows: list[dict[str, Any]] = []
    # A local registry writes the files that changed in one transaction: a failure or an
    # interruption pushes none of them. Through a server they are pushed one by one (in
    # dependency order; pushing again completes an interrupted run).
    batch = None if dry_run else getattr(vault, "push_many", None)
    queued: list[tuple[int, Any]] = []
    # One listing tells which files are unchanged: it carries each latest version's content
    # hash, so an unchanged folder (what CI pushes on every commit) costs that listing and
    # no write transaction. A file whose hash differs is compared with its latest version
    # (a different spelling of the same content is still no new version).
    summaries = {s.name: s for s in all_prompts(vault, include_archived=True)}
    for pf in files:
        summary = summaries.get(pf.name)
        if not labels and summary is not None and summary.latest_version and same_meta(pf, summary):
            if summary.latest_hash is not None and content_hash(**pf.content()) == (
                summary.latest_hash
            ):
                rows.append(push_row(pf, "unchanged", summary.latest_version, labels))
                continue
            # An archived prompt does not resolve: its push below says why it is refused.
            latest = None if summary.archived else vault.get(f"{pf.name}@{summary.latest_version}")
            if latest is not None and same_content(pf, latest):
                rows.append(push_row(pf, "unchanged", latest.version, labels))
                continue
        if dry_run:
            try:
                latest = vault.get(f"{pf.name}@latest")
            except PromptNotFound:
                rows.append(push_row(pf, "would create", 1, labels))
                continue
            if same_content(pf, latest):
                rows.append(push_row(pf, "unchanged", latest.version, labels))
            else:
                rows.append(push_row(pf, "would create", latest.version + 1, labels))
            continue
        if batch is not None:
            queued.append((len(rows), pf))
            rows.append({})  # filled in once the batch is written
            continue
        try:
            result = vault.push(
                pf.name, **pf.push_kwargs(), message=message, author=who, labels=labels or None
            )
        except Exception as exc:
            _locate(exc, pf)
            raise
        status = "created" if result.created else "unchanged"
        rows.append(push_row(pf, status, result.version.version, labels))
    if queued:
        assert batch is not None
        pushes = [
            {
                "name": pf.name,
                **pf.push_kwargs(),
                "message": message,
                "author": who,
                "labels": labels or None,
            }
            for _, pf in queued
        ]
        try:
            results = batch(pushes)
        except Exception as exc:
            failed = getattr(exc, "details", {}).get("name")
            for _, pf in queued:
                if pf.name == failed:
                    _locate(exc, pf)
            raise
        for (index, pf), result in zip(queued, results, strict=True):
            status = "created" if result.created else "unchanged"
            rows[index] = push_row(pf, status, result.version.version, labels)
    print_push(rows, labels, dry_run=dry_run, as_json=ctx.want_json(json_))


def _locate(exc: Exception, pf: Any) -> None:
    """Prefix a registry error with the file it came from."""
    from promptvault.errors import PromptVaultError

    if isinstance(exc, PromptVaultError) and str(pf.path) not in exc.message:
        exc.details.setdefault("file", str(pf.path))
        exc.message = f"{pf.path}: {exc.message}"


def pull_command(
    names: Annotated[
        list[str] | None,
        typer.Argument(metavar="NAME", help="Prompts to pull (default: all).", show_default=False),
    ] = None,
    directory: Annotated[
        Path | None,
        typer.Option("--dir", "-d", metavar="DIR", help="Folder to write (default: prompts/)."),
    ] = None,
    label: Annotated[
        str, typer.Option("--label", "-l", metavar="LABEL", help="Which version to pull.")
    ] = ("production"),
    check: Annotated[
        bool,
        typer.Option("--check", help="Write nothing; exit 1 if files differ from the registry."),
    ] = False,
    json_: JsonFlag = False,
) -> None:
    """Write prompt files from the registry (atomically: temp file, then rename).

    A file is rewritten only when its content differs from the registry's; files keep their
    place and format (YAML or JSON). New prompts become prompts/<name>.yaml.

    \b
    Examples:
      promptvault pull
      promptvault pull customer_support --label staging
      promptvault pull --check          # in CI: fail when files and registry disagree
    """
    from promptvault.cli._filework import same_meta
    from promptvault.cli._paths import write_inside
    from promptvault.cli._sync import all_prompts, load_files, render_file
    from promptvault.cli._sync import same_content as same
    from promptvault.errors import InvalidInputError, LabelNotFound, NotFoundError
    from promptvault.registry.refs import is_valid_name

    folder = directory or ctx.prompts_dir()
    existing: dict[str, Any] = {}
    if folder.is_dir():
        files, _problems, _count = load_files([folder], root=folder)
        existing = {pf.name: pf for pf in files}
    vault = ctx.backend()
    summaries = {s.name: s for s in all_prompts(vault)} if not names else {}
    wanted = list(names or summaries)
    rows: list[dict[str, Any]] = []
    for name in wanted:
        if not is_valid_name(name):
            # Only a database written around validation holds such a name: never a path.
            output.warn(f"{name!r}: refused (not a valid prompt name; nothing written)")
            rows.append({"name": name, "version": None, "status": "refused", "file": "-"})
            continue
        summary = summaries.get(name) or vault.get_prompt(name)
        try:
            version = vault.get(f"{name}@{label}")
        except (LabelNotFound, NotFoundError) as exc:
            if names:
                raise
            output.warn(f"{name}: skipped ({exc.message})")
            continue
        pf = existing.get(name)
        path = pf.path if pf is not None else folder / f"{name}.yaml"
        if pf is not None and same(pf, version) and same_meta(pf, summary):
            status = "unchanged"
        elif pf is not None and pf.format == "prompty":
            status = "differs (.prompty files are not rewritten)"
        else:
            status = "missing" if pf is None else "differs"
            if not check:
                fmt = pf.format if pf is not None else "yaml"
                try:
                    write_inside(folder, path, render_file(version, summary, fmt=fmt))
                except InvalidInputError as exc:
                    output.warn(f"{name}: refused ({exc.message})")
                    status = "refused"
                else:
                    status = "written" if pf is None else "updated"
        rows.append({"name": name, "version": version.version, "status": status, "file": str(path)})
    stale = [r for r in rows if r["status"] != "unchanged"]
    if ctx.want_json(json_):
        output.print_json(rows)
    else:
        output.table(
            ["prompt", "version", "status", "file"],
            [
                (
                    r["name"],
                    f"v{r['version']}" if r["version"] else "-",
                    r["status"],
                    r["file"] or "-",
                )
                for r in rows
            ],
            empty="no prompts to pull",
        )
    if check and stale:
        output.err(f"{len(stale)} file(s) differ from the registry ({label}); run promptvault pull")
        raise typer.Exit(1)
    if any(r["status"].startswith(("differs", "refused")) for r in rows) and not check:
        raise typer.Exit(1)


def list_command(
    tag: Annotated[
        str | None, typer.Option("--tag", "-t", metavar="TAG", help="Only prompts with this tag.")
    ] = (None),
    search: Annotated[
        str | None,
        typer.Option("--search", "-s", metavar="TEXT", help="Name or description contains."),
    ] = None,
    folder: Annotated[
        str | None, typer.Option("--folder", metavar="FOLDER", help="Names under folder/.")
    ] = None,
    archived: Annotated[bool, typer.Option("--archived", help="Include archived.")] = False,
    json_: JsonFlag = False,
) -> None:
    """List prompts with their latest version, labels and tags.

    \b
    Example:
      promptvault list --tag support
    """
    from promptvault.cli._sync import all_prompts

    prompts = list(
        all_prompts(ctx.backend(), tag=tag, search=search, folder=folder, include_archived=archived)
    )
    if ctx.want_json(json_):
        output.print_json(prompts)
        return
    from promptvault.cli._show import print_listing

    print_listing(prompts)


def show_command(
    ref: Annotated[str, typer.Argument(help="name, name@label, name@latest or name@7.")],
    json_: JsonFlag = False,
) -> None:
    """Show one version: template, config, variables, labels, hash, author, message.

    \b
    Examples:
      promptvault show customer_support            # the production version
      promptvault show customer_support@staging
    """
    version = ctx.backend().get(ref)
    if ctx.want_json(json_):
        output.print_json(version)
        return
    from promptvault.cli._show import print_version

    print_version(version)


def get_command(
    ref: Annotated[str, typer.Argument(help="name, name@label, name@latest or name@7.")],
    json_: JsonFlag = False,
) -> None:
    """Print what a reference resolves to now: its template and model config.

    The same version ``show`` prints, without the bookkeeping (hash, author, date, message):
    what an application that gets this reference receives.

    \b
    Examples:
      promptvault get customer_support             # the production version
      promptvault get customer_support@staging --json
    """
    from promptvault.cli._show import print_resolved, resolved_json

    version = ctx.backend().get(ref)
    if ctx.want_json(json_):
        output.print_json(resolved_json(version))
        return
    print_resolved(version)


def log_command(
    name: Annotated[str, typer.Argument(help="Prompt name.")],
    limit: Annotated[
        int | None, typer.Option("--limit", "-n", metavar="N", min=1, help="At most N.")
    ] = None,
    json_: JsonFlag = False,
) -> None:
    """Versions of a prompt, newest first, with labels, author, date and message.

    \b
    Example:
      promptvault log customer_support -n 5
    """
    versions = ctx.backend().versions(name, limit=limit)
    if ctx.want_json(json_):
        output.print_json(versions)
        return
    output.table(
        ["version", "labels", "author", "date", "message"],
        [
            (
                f"v{v.version}",
                ", ".join(v.labels),
                v.author,
                output.format_time(v.created_at),
                v.message,
            )
            for v in versions
        ],
    )


def diff_command(
    a: Annotated[str, typer.Argument(metavar="A", help="A reference or a prompt file.")],
    b: Annotated[str, typer.Argument(metavar="B", help="A reference or a prompt file.")],
    exit_code: Annotated[
        bool, typer.Option("--exit-code", help="Exit 1 when A and B differ (like git diff).")
    ] = False,
    json_: JsonFlag = False,
) -> None:
    """Compare two versions, or a version and a file: unified template diff, config changes.

    \b
    Examples:
      promptvault diff customer_support@1 customer_support@2
      promptvault diff customer_support@production prompts/customer_support.yaml
    """
    from promptvault.cli._show import print_diff, resolve_side
    from promptvault.registry.diff import diff_versions

    left, right = resolve_side(a), resolve_side(b)
    result = diff_versions(left, right, a_ref=a, b_ref=b)
    if ctx.want_json(json_):
        output.print_json({**result.model_dump(mode="json"), "identical": result.identical})
    else:
        print_diff(result)
    if exit_code and not result.identical:
        raise typer.Exit(1)


def render_command(
    ref: Annotated[str, typer.Argument(help="name, name@label, name@latest or name@7.")],
    var: Annotated[
        list[str] | None,
        typer.Option(
            "--var",
            "-v",
            metavar="K=V",
            help="A variable (repeatable); K:=JSON for numbers, booleans, lists, objects.",
        ),
    ] = None,
    vars_file: Annotated[
        Path | None,
        typer.Option(
            "--vars-file", "-f", metavar="FILE", help="Variables from a JSON or YAML file."
        ),
    ] = None,
    json_: JsonFlag = False,
) -> None:
    """Render a prompt with variables (chat prompts print their messages).

    Variables named like a chat placeholder fill it (a list of messages); variables left
    out take the default their schema declares.

    \b
    Examples:
      promptvault render customer_support --var company_name=Acme --var question="Hi"
      promptvault render customer_support@staging --var 'tier:={"pro": true}' ...
      promptvault render support_chat --vars-file vars.yaml --json
    """
    from promptvault.cli._show import parse_vars, print_rendered
    from promptvault.templating.variables import apply_defaults

    variables = parse_vars(var or [], vars_file)
    vault = ctx.backend()
    version = vault.get(ref)
    variables = apply_defaults(version.variables_schema, variables)
    placeholders: dict[str, Any] = {}
    if isinstance(version.template, list):
        names = {m.get("name") for m in version.template if m.get("type") == "placeholder"}
        placeholders = {k: variables.pop(k) for k in list(variables) if k in names}
    pinned = f"{version.name}@{version.version}"
    rendered = vault.render(pinned, variables, placeholders=placeholders or None)
    if ctx.want_json(json_):
        output.print_json(
            {
                "name": version.name,
                "version": version.version,
                "config": version.config,
                "rendered": rendered,
            }
        )
        return
    print_rendered(rendered)
