"""``promptvault render``, ``show`` and ``get`` of a local SQLite prompt without Typer,
pydantic or SQLAlchemy.

A render or show reads one row; the full path imports a few hundred milliseconds of libraries
first. These functions answer the common case with the standard library's ``sqlite3``
(:mod:`promptvault.storage.sqlite_reads`) and the template engine, and return None for
anything they do not cover (see :mod:`promptvault.cli._fastpath`): other arguments or
options, remote mode, settings that change the answer, a schema that is not current, a
missing or archived prompt, a missing label, and for render chat prompts, partials and every
error. The caller then runs the full command, which gives the answer or the error message,
so both paths print the same (``tests/cli/test_cli_fast_read.py``).
"""

from __future__ import annotations

import re
from typing import Any

from promptvault.cli._fastpath import FullPath, database_path, options, stored_time

__all__ = ["get_fast", "render_fast", "show_fast"]

# A conservative subset of registry.refs.parse_ref (which needs pydantic): a name of
# '/'-separated segments, then a label or an ASCII version. Anything else: full path.
_REF = re.compile(
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*)"
    r"(?:@(?:(?P<label>[a-z][a-z0-9_-]{0,63})|(?P<version>[1-9][0-9]{0,8})))?"
)
_NAME_MAX = 200


def _arguments(args: list[str]) -> tuple[str, list[str], bool]:
    """``REF [--var K=V | -v K=V | --var=K=V]... [--json]``, else FullPath."""
    ref: str | None = None
    pairs: list[str] = []
    as_json = False
    rest = iter(args)
    for arg in rest:
        if arg == "--json":
            as_json = True
        elif arg in ("--var", "-v"):
            value = next(rest, None)
            if value is None or value.startswith("-"):
                raise FullPath
            pairs.append(value)
        elif arg.startswith("--var="):
            pairs.append(arg[len("--var=") :])
        elif arg.startswith("-") or ref is not None:
            raise FullPath
        else:
            ref = arg
    if ref is None:
        raise FullPath
    return ref, pairs, as_json


def _refuse_partial(ref: str) -> str:
    raise FullPath


def _lookup(ref: str) -> Any:
    """The stored version ``ref`` points at, or FullPath."""
    match = _REF.fullmatch(ref)
    if match is None or len(match["name"]) > _NAME_MAX:
        raise FullPath
    version = int(match["version"]) if match["version"] else None
    from promptvault.storage.sqlite_reads import read_version

    found = read_version(database_path(), match["name"], match["label"], version)
    if found is None:
        raise FullPath
    return found


def _render(ref: str, pairs: list[str]) -> tuple[Any, Any]:
    """(the stored version, the rendered text) or FullPath."""
    found = _lookup(ref)
    if found.type != "text" or not isinstance(found.template, str):
        raise FullPath
    from promptvault.cli._show import parse_vars
    from promptvault.templating import compile_template
    from promptvault.templating.builtins import Builtins
    from promptvault.templating.variables import apply_defaults, data_checker, defaults_filler

    # The same steps, in the same order, as render_command then Resolver.render.
    schema = found.variables_schema
    variables = apply_defaults(schema, parse_vars(pairs, None))
    check = data_checker(schema)
    if check is not None:
        check(variables)
    data = Builtins("UTC").add(variables)
    defaults = defaults_filler(schema, syntax=found.syntax)
    if defaults is not None:
        data = defaults(data)
    template = compile_template(
        found.template,
        syntax=found.syntax,
        partials=_refuse_partial,
    )
    return found, template.render(data, strict=True)


def render_fast(args: list[str]) -> int | None:
    """Run ``promptvault render ARGS`` here: its exit status, or None for the full command."""
    try:
        ref, pairs, as_json = _arguments(args)
        found, rendered = _render(ref, pairs)
    except Exception:  # anything uncovered or failing: the full path answers, errors included
        return None
    from promptvault.cli import _output
    from promptvault.cli._show import print_rendered

    if as_json:
        _output.print_json(
            {
                "name": found.name,
                "version": found.version,
                "config": found.config,
                "rendered": rendered,
            }
        )
    else:
        print_rendered(rendered)
    return 0


def _version(args: list[str]) -> tuple[Any, bool]:
    """(the version ``REF [--json]`` names, as the full path's entity has it; --json given)."""
    (ref, *more), flags, _ = options(args, flags=["--json"])
    if more:
        raise FullPath
    found = _lookup(ref)
    from types import SimpleNamespace

    created = stored_time(found.created_at)
    return SimpleNamespace(**{**found.__dict__, "created_at": created}), "--json" in flags


def show_fast(args: list[str]) -> int | None:
    """Run ``promptvault show REF`` here (text output), or None for the full command."""
    try:
        version, as_json = _version(args)
        if as_json:
            raise FullPath  # every field of the entity, as pydantic prints it
    except Exception:  # anything uncovered or failing: the full path answers
        return None
    from promptvault.cli._show import print_version

    print_version(version)
    return 0


def get_fast(args: list[str]) -> int | None:
    """Run ``promptvault get REF [--json]`` here, or None for the full command."""
    try:
        version, as_json = _version(args)
    except Exception:  # anything uncovered or failing: the full path answers
        return None
    from promptvault.cli import _output
    from promptvault.cli._show import print_resolved, resolved_json

    if as_json:
        _output.print_json(resolved_json(version))
    else:
        print_resolved(version)
    return 0
