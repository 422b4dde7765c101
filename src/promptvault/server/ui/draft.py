"""The editor's form, parsed: what a person typed, and the push it amounts to.

The editor page, its live check (``/ui/api/check``) and save all read the same form fields
through :func:`parse_draft`, so what the check says is what saving does. Numbers keep their
JSON type (``1`` stays an int, ``0.7`` a float) and browser line endings (CRLF) become
``\\n``, so saving an untouched form hashes to the same content and creates nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from promptvault.entities import PromptVersion
from promptvault.errors import InvalidInputError
from promptvault.server.ui.views import form_text

__all__ = ["ChatRow", "Draft", "draft_from_version", "empty_draft", "parse_draft"]

_CONFIG_FIELDS = ("model", "temperature", "max_tokens")


@dataclass(slots=True)
class ChatRow:
    """One row of the chat editor: a message (role + content) or a placeholder (name)."""

    kind: str = "message"
    role: str = "user"
    content: str = ""
    optional: bool = False
    extra: str = ""  # other keys of the message, as JSON, kept as they were


@dataclass(slots=True)
class Draft:
    """The editor's fields as text, the way they are shown and submitted."""

    name: str = ""
    description: str = ""
    tags: str = ""
    type: str = "text"
    syntax: str = "mustache"
    template: str = ""
    rows: list[ChatRow] = field(default_factory=list)
    model: str = ""
    temperature: str = ""
    max_tokens: str = ""
    params: str = ""
    schema: str = ""
    sample: str = ""
    message: str = ""

    # --- conversion to a push ------------------------------------------------------------

    def template_value(self) -> str | list[dict[str, Any]]:
        """The template to push: the text, or the list of chat messages and placeholders."""
        if self.type != "chat":
            return self.template
        items: list[dict[str, Any]] = []
        for index, row in enumerate(self.rows):
            extra = _json_object(row.extra, f"messages[{index}]") if row.extra.strip() else {}
            if row.kind == "placeholder":
                item: dict[str, Any] = {**extra, "type": "placeholder", "name": row.content}
                if row.optional:
                    item["optional"] = True
            else:
                item = {**extra, "role": row.role, "content": row.content}
            items.append(item)
        return items

    def config_value(self) -> dict[str, Any]:
        """Model config: the named fields over the extra params object."""
        config = _json_object(self.params, "params") if self.params.strip() else {}
        for key in _CONFIG_FIELDS:
            if key in config:
                raise InvalidInputError(
                    f"set {key} in its own field, not in the extra parameters",
                    details={"field": "params", "key": key},
                )
        out: dict[str, Any] = {}
        if self.model.strip():
            out["model"] = self.model.strip()
        for key, text in (("temperature", self.temperature), ("max_tokens", self.max_tokens)):
            if text.strip():
                out[key] = _json_number(text, key)
        out.update(config)
        return out

    def schema_value(self) -> dict[str, Any] | None:
        """The variables schema, or None when the field is empty."""
        if not self.schema.strip():
            return None
        return _json_object(self.schema, "variables_schema")

    def sample_value(self) -> dict[str, Any]:
        """Sample variables for the preview."""
        if not self.sample.strip():
            return {}
        return _json_object(self.sample, "sample")

    def tag_list(self) -> list[str]:
        """Tags from the comma-separated field."""
        return [t.strip() for t in self.tags.split(",") if t.strip()]


def _json(text: str, fieldname: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidInputError(
            f"{fieldname} is not valid JSON: {exc.msg}",
            details={"field": fieldname, "line": exc.lineno, "column": exc.colno},
        ) from None


def _json_object(text: str, fieldname: str) -> dict[str, Any]:
    value = _json(text, fieldname)
    if not isinstance(value, dict):
        raise InvalidInputError(
            f"{fieldname} must be a JSON object ({{...}})", details={"field": fieldname}
        )
    return value


def _json_number(text: str, fieldname: str) -> int | float:
    value = _json(text.strip(), fieldname)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise InvalidInputError(f"{fieldname} must be a number", details={"field": fieldname})
    return value


def _texts(form: Any, key: str) -> list[str]:
    return [v.replace("\r\n", "\n") if isinstance(v, str) else "" for v in form.getlist(key)]


def parse_draft(form: Any) -> Draft:
    """The draft a submitted editor form describes (nothing validated yet but its shape)."""
    kinds = _texts(form, "m_kind")
    roles = _texts(form, "m_role")
    contents = _texts(form, "m_content")
    optionals = _texts(form, "m_optional")
    extras = _texts(form, "m_extra")
    rows = []
    for i, kind in enumerate(kinds):
        rows.append(
            ChatRow(
                kind="placeholder" if kind == "placeholder" else "message",
                role=roles[i] if i < len(roles) else "user",
                content=contents[i] if i < len(contents) else "",
                optional=(optionals[i] if i < len(optionals) else "") == "1",
                extra=extras[i] if i < len(extras) else "",
            )
        )
    kind = form_text(form, "type")
    syntax = form_text(form, "syntax")
    return Draft(
        name=form_text(form, "name").strip(),
        description=form_text(form, "description"),
        tags=form_text(form, "tags"),
        type="chat" if kind == "chat" else "text",
        syntax=syntax if syntax in ("jinja", "langfuse") else "mustache",
        template=form_text(form, "template"),
        rows=rows,
        model=form_text(form, "model"),
        temperature=form_text(form, "temperature"),
        max_tokens=form_text(form, "max_tokens"),
        params=form_text(form, "params"),
        schema=form_text(form, "variables_schema"),
        sample=form_text(form, "sample"),
        message=form_text(form, "message").strip(),
    )


def _dump(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def draft_from_version(
    version: PromptVersion, *, description: str = "", tags: tuple[str, ...] = ()
) -> Draft:
    """The editor's fields showing ``version`` exactly (so saving unchanged changes nothing)."""
    config = dict(version.config)
    named = {k: config.pop(k) for k in _CONFIG_FIELDS if k in config}
    rows: list[ChatRow] = []
    if isinstance(version.template, list):
        for item in version.template:
            if item.get("type") == "placeholder":
                extra = {k: v for k, v in item.items() if k not in ("type", "name", "optional")}
                rows.append(
                    ChatRow(
                        kind="placeholder",
                        role="",
                        content=str(item.get("name", "")),
                        optional=bool(item.get("optional", False)),
                        extra=_dump(extra) if extra else "",
                    )
                )
            else:
                extra = {k: v for k, v in item.items() if k not in ("role", "content")}
                content = item.get("content")
                rows.append(
                    ChatRow(
                        kind="message",
                        role=str(item.get("role", "user")),
                        content=content if isinstance(content, str) else _dump(content),
                        extra=_dump(extra) if extra else "",
                    )
                )
    model = named.get("model")
    return Draft(
        name=version.name,
        description=description,
        tags=", ".join(tags),
        type=version.type,
        syntax=version.syntax,
        template=version.template if isinstance(version.template, str) else "",
        rows=rows,
        model="" if model is None else str(model),
        temperature=_dump(named["temperature"]) if "temperature" in named else "",
        max_tokens=_dump(named["max_tokens"]) if "max_tokens" in named else "",
        params=json.dumps(config, indent=2, ensure_ascii=False) if config else "",
        schema=(
            json.dumps(version.variables_schema, indent=2, ensure_ascii=False)
            if version.variables_schema is not None
            else ""
        ),
    )


def empty_draft(kind: str = "text") -> Draft:
    """A new prompt's editor."""
    if kind == "chat":
        return Draft(
            type="chat",
            rows=[ChatRow("message", "system", ""), ChatRow("message", "user", "")],
        )
    return Draft()
