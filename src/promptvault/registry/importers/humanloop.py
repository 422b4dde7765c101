"""``humanloop``: ``.prompt`` files, as Humanloop writes them.

A file is YAML front matter (``model``, ``temperature``, ``max_tokens``, ``provider``,
``endpoint``, ``tools``, ...) between ``---`` lines, then the template: chat messages each
in a ``<system>``, ``<user>`` or ``<assistant>`` tag, or plain text for a completion
prompt. Inputs are ``{{ name }}``; everything else is literal, so the template becomes
Mustache whose other text renders as written. The front matter becomes the version's
config. A folder is imported file by file, each named by its path without ``.prompt``.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import yaml

from promptvault.errors import InvalidInputError
from promptvault.registry.importers import Source
from promptvault.registry.importers._build import ForeignVersion, prompt_item
from promptvault.registry.importers._files import files_named, read_text
from promptvault.registry.importers._text import Piece, to_mustache

__all__ = ["read_humanloop"]

_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)
_MESSAGE = re.compile(r"<(system|user|assistant)>(.*?)</\1>", re.S)
_INPUT = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


def humanloop_to_mustache(text: str) -> str:
    """Each ``{{ input }}`` a variable, the rest literal."""
    pieces: list[Piece] = []
    at = 0
    for match in _INPUT.finditer(text):
        pieces.extend([text[at : match.start()], ("var", match.group(1))])
        at = match.end()
    pieces.append(text[at:])
    return to_mustache([p for p in pieces if p != ""])


def _content(raw: str) -> str:
    return textwrap.dedent(raw.strip("\r\n")).strip()


def parse_prompt_file(text: str, where: str) -> tuple[dict[str, Any], str | list[dict[str, Any]]]:
    """``(front matter, template)`` of one ``.prompt`` file."""
    match = _FRONT.match(text)
    if match is None:
        raise InvalidInputError(
            f"{where}: a .prompt file starts with YAML front matter between --- lines",
            details={"field": "path", "path": where, "line": 1},
        )
    try:
        front = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 2 if mark is not None else 1
        raise InvalidInputError(
            f"{where}: front matter is not valid YAML (line {line})",
            details={"field": "path", "path": where, "line": line},
        ) from None
    if not isinstance(front, dict):
        raise InvalidInputError(
            f"{where}: front matter must be a mapping of settings",
            details={"field": "path", "path": where},
        )
    body = text[match.end() :]
    messages = [
        {"role": role, "content": humanloop_to_mustache(_content(content))}
        for role, content in _MESSAGE.findall(body)
    ]
    if messages:
        leftover = _MESSAGE.sub("", body).strip()
        if leftover:
            raise InvalidInputError(
                f"{where}: text outside a <system>/<user>/<assistant> tag: {leftover[:40]!r}",
                details={"field": "path", "path": where},
            )
        return front, messages
    return front, humanloop_to_mustache(body.strip())


def read_humanloop(path: Path) -> Source:
    """The ``.prompt`` file at ``path``, or every one under it."""
    source = Source(prompts=[])
    for name, file in files_named(path, ".prompt"):
        front, template = parse_prompt_file(read_text(file), str(file))
        config = {k: v for k, v in front.items() if v is not None}
        if config.get("max_tokens") == -1:  # Humanloop's "no limit": promptvault's is no key
            del config["max_tokens"]
        version = ForeignVersion(version=1, template=template, config=config)
        source.prompts.append(
            prompt_item(
                name,
                [version],
                tags=[],
                actor="",
                where=name,
                notes=source.not_carried,
                default_production=True,
            )
        )
        source.not_carried.append(
            f"{name}: .prompt files hold no author, time or history (imported as version 1)"
        )
    return source
