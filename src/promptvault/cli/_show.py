"""Printing listings, versions, diffs and rendered output for people; parsing ``--var``
values."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from promptvault.cli import _output as output
from promptvault.errors import InvalidInputError

__all__ = [
    "parse_vars",
    "print_diff",
    "print_listing",
    "print_rendered",
    "print_resolved",
    "print_version",
    "resolve_side",
    "resolved_json",
]


def print_listing(prompts: list[Any]) -> None:
    """The table ``list`` prints: name, latest version, labels, tags, last update."""
    output.table(
        ["name", "latest", "labels", "tags", "updated"],
        [
            (
                p.name,
                f"v{p.latest_version}" if p.latest_version else "",
                " ".join(f"{k}=v{v}" for k, v in sorted(p.labels.items())),
                ", ".join(p.tags),
                output.format_time(p.updated_at),
            )
            for p in prompts
        ],
        empty="no prompts",
    )


def print_version(version: Any) -> None:
    """The header fields, then the template (chat: one block per message)."""
    rows: list[tuple[str, str]] = []
    _print_title(version)
    rows.append(("type", f"{version.type} ({version.syntax})"))
    if version.config:
        rows.append(("config", _config(version.config)))
    schema = version.variables_schema
    if schema:
        rows.append(("variables", _variables(schema)))
    rows.append(("hash", version.hash))
    rows.append(("author", version.author or "-"))
    rows.append(("created", output.format_time(version.created_at)))
    rows.append(("message", version.message or "-"))
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        output.out(f"{key.ljust(width)}  {value}")
    output.out()
    _print_template(version.template)


def print_resolved(version: Any) -> None:
    """What ``get`` prints: the title and config lines of :func:`print_version`, then the
    template as it prints it."""
    _print_title(version)
    if version.config:
        output.out(f"config  {_config(version.config)}")
    output.out()
    _print_template(version.template)


def resolved_json(version: Any) -> dict[str, Any]:
    """What ``get --json`` prints: the version's identity, template and model config."""
    return {
        "name": version.name,
        "version": version.version,
        "labels": list(version.labels),
        "type": version.type,
        "syntax": version.syntax,
        "config": version.config,
        "template": version.template,
    }


def _print_title(version: Any) -> None:
    label = f"  ({', '.join(version.labels)})" if version.labels else ""
    output.out(f"{version.name} v{version.version}{label}")


def _print_template(template: Any) -> None:
    if isinstance(template, str):
        sys.stdout.write(template if template.endswith("\n") else template + "\n")
        return
    for message in template:
        _print_message(message)


def _config(config: dict[str, Any]) -> str:
    return "  ".join(f"{k}={v if isinstance(v, str) else json.dumps(v)}" for k, v in config.items())


def _variables(schema: dict[str, Any]) -> str:
    props = schema.get("properties") or {}
    required = set(schema.get("required") or [])
    parts = []
    for name, spec in props.items():
        kind = spec.get("type", "any") if isinstance(spec, dict) else "any"
        flag = "" if name in required else "?"
        parts.append(f"{name}{flag}: {kind}")
    return ", ".join(parts) or json.dumps(schema)


def _print_message(message: dict[str, Any]) -> None:
    if message.get("type") == "placeholder":
        optional = ", optional" if message.get("optional") else ""
        output.out(f"[placeholder: {message.get('name')}{optional}]")
        output.out()
        return
    output.out(f"[{message.get('role')}]")
    content = message.get("content")
    output.out(content if isinstance(content, str) else json.dumps(content))
    output.out()


def print_rendered(rendered: Any) -> None:
    """A rendered text as is; rendered chat messages as ``[role]`` blocks."""
    if isinstance(rendered, str):
        sys.stdout.write(rendered if rendered.endswith("\n") else rendered + "\n")
        return
    for index, message in enumerate(rendered):
        if index:
            output.out()
        output.out(f"[{message.get('role')}]")
        content = message.get("content")
        output.out(content if isinstance(content, str) else json.dumps(content))


def print_diff(diff: Any) -> None:
    """Unified diffs (coloured on a terminal), then config, schema, syntax and type changes."""
    from rich.text import Text

    colour = output.colour_enabled(sys.stdout)
    chat = len(diff.messages) > 1 or any(m.role_before or m.role_after for m in diff.messages)
    if diff.identical:
        output.out(f"{diff.a_ref} and {diff.b_ref} are identical")
        return
    for message in diff.messages:
        if not message.diff:
            continue
        if chat:
            role = message.role_after or message.role_before
            output.out(f"messages[{message.index}] ({role})", style="bold" if colour else None)
        for line in message.diff.splitlines():
            style = None
            if line.startswith(("+++", "---")):
                style = "bold"
            elif line.startswith("+"):
                style = "green"
            elif line.startswith("-"):
                style = "red"
            elif line.startswith("@@"):
                style = "cyan"
            if colour and style:
                output.out(Text(line, style=style))
            else:
                output.out(line)
    for change in diff.config_changes:
        text = f"config.{change.key}: {_show(change.before)} -> {_show(change.after)}"
        output.out(Text(text, style="yellow") if colour else text)
    if diff.schema_changed:
        output.out("variables changed:")
        import difflib

        before = json.dumps(diff.schema_before, indent=2, sort_keys=True).splitlines()
        after = json.dumps(diff.schema_after, indent=2, sort_keys=True).splitlines()
        for line in difflib.unified_diff(before, after, "before", "after", lineterm="", n=1):
            output.out(f"  {line}")
    if diff.syntax_changed:
        output.out("syntax changed")
    if diff.type_changed:
        output.out("type changed")


def _show(value: Any) -> str:
    return "(unset)" if value is None else json.dumps(value)


def resolve_side(ref_or_file: str) -> Any:
    """A version from a reference, or a version standing for a prompt file."""
    path = Path(ref_or_file)
    if path.suffix in (".yaml", ".yml", ".json", ".prompty") and path.is_file():
        from promptvault.cli._sync import as_version
        from promptvault.cli.files import parse_file

        pf, problems = parse_file(path)
        if pf is None:
            first = problems[0]
            raise InvalidInputError(
                first.format(),
                details={"file": first.file, "line": first.line, "column": first.column},
            )
        return as_version(pf)
    from promptvault.cli import _context

    return _context.backend().get(ref_or_file)


def parse_vars(pairs: list[str], vars_file: Path | None) -> dict[str, Any]:
    """Variables from ``--vars-file`` (JSON or YAML), then ``--var K=V`` / ``K:=JSON``."""
    variables: dict[str, Any] = {}
    if vars_file is not None:
        text = vars_file.read_text(encoding="utf-8")
        try:
            if vars_file.suffix == ".json":
                loaded = json.loads(text)
            else:
                import yaml

                loaded = yaml.safe_load(text)
        except (ValueError, Exception) as exc:
            raise InvalidInputError(
                f"{vars_file}: cannot read variables: {exc}",
                details={"file": str(vars_file), "field": "--vars-file"},
            ) from exc
        if not isinstance(loaded, dict):
            raise InvalidInputError(
                f"{vars_file}: variables must be a mapping of names to values",
                details={"file": str(vars_file), "field": "--vars-file"},
            )
        variables.update(loaded)
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.rstrip(":"):
            raise InvalidInputError(
                f"--var {pair!r}: expected NAME=VALUE or NAME:=JSON",
                details={"field": "--var", "value": pair},
            )
        if key.endswith(":"):
            try:
                variables[key[:-1]] = json.loads(value)
            except ValueError as exc:
                raise InvalidInputError(
                    f"--var {pair!r}: the value after := must be JSON ({exc})",
                    details={"field": "--var", "value": pair},
                ) from exc
        else:
            variables[key] = value
    return variables
