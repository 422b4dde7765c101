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


def _report(problems: list[Any]) -> int:
    """Print problems on stderr; the number of errors (warnings do not fail)."""
    import sys

    errors = 0
    for problem in problems:
        sys.stderr.write(problem.format() + "\n")
        errors += problem.severity == "error"
    return errors


def _load(paths: list[Path] | None, *, known_partials: bool) -> tuple[list[Any], list[Any], int]:
    from promptvault.cli._checks import check_files
    from promptvault.cli._sync import load_files
    from promptvault.cli.files import default_name, discover

    targets = list(paths or [ctx.prompts_dir()])
    files, problems, count = load_files(targets)
    known: set[str] | None = None
    if known_partials:
        known = {pf.name for pf in files}
        root = ctx.prompts_dir()
        if root.is_dir():
            extra, _ = discover([root])
            known |= {default_name(p, root) for p in extra}
    problems.extend(check_files(files, known=known))
    problems.sort(key=lambda p: (p.file, p.line or 0, p.column or 0))
    return files, problems, count


def check_command(paths: Paths = None, json_: JsonFlag = False) -> None:
    """Validate prompt files without a database.

    Checks the file shape, template syntax (file:line:col with a caret under the spot),
    variables against the declared ones, and partial references. Lists every problem;
    exits 1 if any is an error.

    \b
    Example:
      promptvault check prompts/
    """
    _files, problems, count = _load(paths, known_partials=True)
    errors = sum(p.severity == "error" for p in problems)
    if ctx.want_json(json_):
        output.print_json(
            {"files": count, "errors": errors, "problems": [p.to_dict() for p in problems]}
        )
    else:
        _report(problems)
        warnings = len(problems) - errors
        summary = f"checked {count} file{'s' if count != 1 else ''}"
        if errors:
            output.err(f"{summary}: {errors} error(s), {warnings} warning(s)")
        elif warnings:
            output.warn(f"{summary}: {warnings} warning(s)")
        else:
            output.out(f"{summary}: ok")
    if errors:
        raise typer.Exit(1)


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
    from promptvault.cli._sync import all_prompts, same_content
    from promptvault.errors import PromptNotFound
    from promptvault.registry.validation import content_hash

    files, problems, _count = _load(paths, known_partials=False)
    if _report(problems):
        output.err("nothing pushed")
        raise typer.Exit(1)
    files = _included_first(files)
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
        if (
            not labels
            and summary is not None
            and summary.latest_version
            and _same_meta(pf, summary)
        ):
            if summary.latest_hash is not None and content_hash(**pf.content()) == (
                summary.latest_hash
            ):
                rows.append(_row(pf, "unchanged", summary.latest_version, labels))
                continue
            # An archived prompt does not resolve: its push below says why it is refused.
            latest = None if summary.archived else vault.get(f"{pf.name}@{summary.latest_version}")
            if latest is not None and same_content(pf, latest):
                rows.append(_row(pf, "unchanged", latest.version, labels))
                continue
        if dry_run:
            try:
                latest = vault.get(f"{pf.name}@latest")
            except PromptNotFound:
                rows.append(_row(pf, "would create", 1, labels))
                continue
            if same_content(pf, latest):
                rows.append(_row(pf, "unchanged", latest.version, labels))
            else:
                rows.append(_row(pf, "would create", latest.version + 1, labels))
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
        rows.append(_row(pf, status, result.version.version, labels))
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
            rows[index] = _row(pf, status, result.version.version, labels)
    if ctx.want_json(json_):
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


def _included_first(files: list[Any]) -> list[Any]:
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


def _row(pf: Any, status: str, version: int, labels: list[str]) -> dict[str, Any]:
    return {
        "name": pf.name,
        "status": status,
        "version": version,
        "labels": labels,
        "file": str(pf.path),
    }


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
        if pf is not None and same(pf, version) and _same_meta(pf, summary):
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


def _same_meta(pf: Any, summary: Any) -> bool:
    return (pf.description or "") == (summary.description or "") and sorted(pf.tags) == sorted(
        summary.tags
    )


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
