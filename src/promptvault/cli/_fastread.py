"""``promptvault render`` and ``show`` of a local SQLite prompt without Typer, pydantic or
SQLAlchemy.

A render or show reads one row; the full path imports a few hundred milliseconds of libraries first.
:func:`render_fast` answers the common case with the standard library's ``sqlite3``
(:mod:`promptvault.storage.sqlite_reads`) and the template engine, and says False for
anything it does not cover: other arguments or options, remote mode, settings that change
rendering, a schema that is not current, a missing prompt or label, chat prompts, partials,
and every error. The caller then runs the full command, which gives the answer or the
error message, so both paths print the same (``tests/cli/test_cli_fast_read.py``).
"""

from __future__ import annotations

import os
import re
from typing import Any

__all__ = ["render_fast", "show_fast"]

# A conservative subset of registry.refs.parse_ref (which needs pydantic): a name of
# '/'-separated segments, then a label or an ASCII version. Anything else: full path.
_REF = re.compile(
    r"(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*(?:/[A-Za-z0-9][A-Za-z0-9._-]*)*)"
    r"(?:@(?:(?P<label>[a-z][a-z0-9_-]{0,63})|(?P<version>[1-9][0-9]{0,8})))?"
)
_NAME_MAX = 200
# Settings that change what a render of a local prompt gives, or send it to a server.
_UNCOVERED = frozenset(
    {
        "PROMPTVAULT_URL",
        "PROMPTVAULT_TIMEZONE",
        "PROMPTVAULT_MAX_SOURCE_BYTES",
        "PROMPTVAULT_MAX_OUTPUT_BYTES",
        "PROMPTVAULT_MAX_PARTIAL_DEPTH",
    }
)


class _FullPath(Exception):
    """Internal: the case is not covered here."""


def _arguments(args: list[str]) -> tuple[str, list[str], bool]:
    """``REF [--var K=V | -v K=V | --var=K=V]... [--json]``, else _FullPath."""
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
                raise _FullPath
            pairs.append(value)
        elif arg.startswith("--var="):
            pairs.append(arg[len("--var=") :])
        elif arg.startswith("-") or ref is not None:
            raise _FullPath
        else:
            ref = arg
    if ref is None:
        raise _FullPath
    return ref, pairs, as_json


def _database_path() -> str:
    """The SQLite file the settings name, as ``cli._context.settings`` would find it."""
    env = {k: v for k, v in os.environ.items() if k.upper().startswith("PROMPTVAULT_")}
    # pydantic-settings matches names case-insensitively; only the plain spelling here.
    if any(k != k.upper() or not v for k, v in env.items()) or _UNCOVERED & env.keys():
        raise _FullPath
    from promptvault.cli._context import find_project

    project = find_project()
    if project is not None and project.url:
        raise _FullPath  # remote mode
    url = env.get("PROMPTVAULT_DATABASE_URL")
    if url is None and project is not None and project.database_url:
        url = project.database_url
    if url is None:
        from pathlib import Path

        from promptvault._home import default_home

        home = Path(env["PROMPTVAULT_HOME"]) if "PROMPTVAULT_HOME" in env else default_home()
        url = f"sqlite:///{home / 'promptvault.db'}"
    prefix = "sqlite:///"
    path = url[len(prefix) :] if url.startswith(prefix) else ""
    if not path or path.startswith(":memory:") or any(c in path for c in "?%#"):
        raise _FullPath
    return path


def _refuse_partial(ref: str) -> str:
    raise _FullPath


def _lookup(ref: str) -> Any:
    """The stored version ``ref`` points at, or _FullPath."""
    match = _REF.fullmatch(ref)
    if match is None or len(match["name"]) > _NAME_MAX:
        raise _FullPath
    version = int(match["version"]) if match["version"] else None
    from promptvault.storage.sqlite_reads import read_version

    found = read_version(_database_path(), match["name"], match["label"], version)
    if found is None:
        raise _FullPath
    return found


def _render(ref: str, pairs: list[str]) -> tuple[Any, Any]:
    """(the stored version, the rendered text) or _FullPath."""
    found = _lookup(ref)
    if found.type != "text" or not isinstance(found.template, str):
        raise _FullPath
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


def render_fast(args: list[str]) -> bool:
    """Run ``promptvault render ARGS`` here; False when the full command must run instead."""
    try:
        ref, pairs, as_json = _arguments(args)
        found, rendered = _render(ref, pairs)
    except Exception:  # anything uncovered or failing: the full path answers, errors included
        return False
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
    return True


def show_fast(args: list[str]) -> bool:
    """Run ``promptvault show REF`` here (text output); False for the full command."""
    try:
        if len(args) != 1 or args[0].startswith("-"):
            raise _FullPath
        found = _lookup(args[0])
        from datetime import UTC, datetime

        # Stored naive UTC, read back aware as the full path's column type does.
        created = datetime.fromisoformat(found.created_at).replace(tzinfo=UTC)
    except Exception:  # anything uncovered or failing: the full path answers
        return False
    from types import SimpleNamespace

    from promptvault.cli._show import print_version

    print_version(SimpleNamespace(**{**found.__dict__, "created_at": created}))
    return True
