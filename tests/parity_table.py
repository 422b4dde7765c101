"""One table of render calls and what each must give, whatever answers them.

The same prompts are pushed once (:data:`PROMPTS`), then every :class:`Case` is run through
each face of promptvault (``Vault``, the HTTP server, the sync and the async SDK) by
``tests/test_parity.py``; every face must give the expected output or raise the expected
error class. Add a case here and it runs everywhere.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from promptvault.demo.prompts import DEMO_PROMPTS
from promptvault.errors import (
    InvalidInputError,
    LabelNotFound,
    MissingVariablesError,
    PromptNotFound,
    PromptVaultError,
    VersionNotFound,
)

CHAT = [
    {"role": "system", "content": "You help {{company}} customers. Be {{tone}}."},
    {"type": "placeholder", "name": "history", "optional": True},
    {"role": "user", "content": "{{question}}"},
]

# Flags declared but neither required nor given a default each (tier itself defaults to {}).
FLAGS_SCHEMA = {
    "type": "object",
    "properties": {
        "tier": {
            "type": "object",
            "default": {},
            "properties": {
                "free": {"type": "boolean"},
                "pro": {"type": "boolean"},
                "enterprise": {"type": "boolean"},
            },
        },
        "nick": {"type": "string"},
    },
}

SUPPORT = next(p for p in DEMO_PROMPTS if p["name"] == "customer_support")

# (name, push keyword arguments) in order; the first version of a prompt takes production.
PROMPTS: list[tuple[str, dict[str, Any]]] = [
    ("greet", {"template": "Hello {{name}}!"}),
    ("greet", {"template": "Hi {{name}}, welcome back.", "labels": ["staging"]}),
    ("footer", {"template": "-- the {{team}} team"}),
    ("signed", {"template": "Dear {{name}},\n{{> footer}}"}),
    ("shout", {"template": "Hello {{ name | upper }}!", "syntax": "jinja"}),
    (
        "jinja_loop",
        {
            "template": "{% for i in items %}[{{ i }}]{% endfor %} {{ who | default('you') }}",
            "syntax": "jinja",
        },
    ),
    (
        "toned",
        {
            "template": "Be {{tone}}: {{question}}",
            "variables_schema": {
                "type": "object",
                "properties": {
                    "tone": {"type": "string", "default": "kind"},
                    "question": {"type": "string"},
                },
                "required": ["question"],
            },
        },
    ),
    (
        "coded",
        {
            "template": "code {{code}}",
            "variables_schema": {
                "type": "object",
                "properties": {"code": {"type": "string", "minLength": 5}},
            },
        },
    ),
    (
        "chat",
        {
            "template": CHAT,
            "variables_schema": {
                "type": "object",
                "properties": {
                    "company": {"type": "string"},
                    "tone": {"type": "string", "default": "brief"},
                    "question": {"type": "string"},
                },
                "required": ["question"],  # declared and optional would read as empty
            },
        },
    ),
    ("dated", {"template": "Today is {{today}} (now {{now}})."}),
    (
        "flags",
        {
            "template": "{{#tier.enterprise}}E{{/tier.enterprise}}{{#tier.free}}F{{/tier.free}}"
            "{{^tier.pro}}-notpro{{/tier.pro}} {{nick}}|{{#tier.gold}}G{{/tier.gold}}",
            "variables_schema": FLAGS_SCHEMA,
        },
    ),
    (
        "flags_jinja",
        {
            "template": "{% if tier.enterprise %}E{% endif %}{% if tier.free %}F{% endif %}"
            "{{ tier.pro | default('-np') }} {{ nick }}|{% if tier.gold %}G{% endif %}",
            "syntax": "jinja",
            "variables_schema": FLAGS_SCHEMA,
        },
    ),
    (
        "dated_closed",
        {
            "template": "As of {{today}}: {{topic}}",
            "variables_schema": {
                "type": "object",
                "properties": {"topic": {"type": "string"}},
                "required": ["topic"],
                "additionalProperties": False,
            },
        },
    ),
    *[
        ("customer_support", {**kwargs, "message": message, "labels": labels})
        for (kwargs, message), labels in zip(SUPPORT["versions"], ([], ["staging"]), strict=True)
    ],
]


@dataclass(frozen=True)
class Raises:
    """The call fails with this error class (and, when given, this field / these names)."""

    error: type[PromptVaultError]
    field: str | None = None
    names: tuple[str, ...] | None = None


@dataclass(frozen=True)
class Contains:
    """The output is text containing each of these and none of ``absent``."""

    parts: tuple[str, ...]
    absent: tuple[str, ...] = ()


@dataclass(frozen=True)
class Case:
    """One render call and what it must give."""

    id: str
    ref: str
    variables: dict[str, Any] | None = None
    expect: Any = None  # the exact output, Contains(...) or Raises(...)
    placeholders: dict[str, list[dict[str, Any]]] | None = None
    strict: bool = True
    tags: tuple[str, ...] = field(default=())


README_VARIABLES = {"company_name": "Acme", "tone": "friendly", "question": "Where is my order?"}

CASES: list[Case] = [
    Case("text", "greet@1", {"name": "Ada"}, "Hello Ada!"),
    Case("default label is production", "greet", {"name": "Ada"}, "Hello Ada!"),
    Case("label", "greet@staging", {"name": "Ada"}, "Hi Ada, welcome back."),
    Case("latest", "greet@latest", {"name": "Ada"}, "Hi Ada, welcome back."),
    Case("pinned version", "greet@2", {"name": "Ada"}, "Hi Ada, welcome back."),
    Case("extra variables are ignored", "greet@1", {"name": "Ada", "x": 1}, "Hello Ada!"),
    Case("missing variable", "greet", {}, Raises(MissingVariablesError, names=("name",))),
    Case("no variables at all", "greet", None, Raises(MissingVariablesError, names=("name",))),
    Case("lenient render", "greet", {}, "Hello !", strict=False),
    Case("partial", "signed", {"name": "Ada", "team": "Acme"}, "Dear Ada,\n-- the Acme team"),
    Case(
        "partial's variable missing",
        "signed",
        {"name": "Ada"},
        Raises(MissingVariablesError, names=("team",)),
    ),
    Case("jinja", "shout", {"name": "ada"}, "Hello ADA!"),
    Case("jinja loop and default", "jinja_loop", {"items": [1, 2]}, "[1][2] you"),
    Case("schema default", "toned", {"question": "Why?"}, "Be kind: Why?"),
    Case(
        "given value beats default", "toned", {"question": "Why?", "tone": "curt"}, "Be curt: Why?"
    ),
    Case(
        "required but missing",
        "toned",
        {},
        Raises(MissingVariablesError, names=("question",)),
    ),
    Case(
        "schema refuses a value",
        "coded",
        {"code": "ab"},
        Raises(InvalidInputError, "variables.code"),
    ),
    Case("schema accepts a value", "coded", {"code": "abcdef"}, "code abcdef"),
    Case(
        "schema refuses a type",
        "toned",
        {"question": 42},
        Raises(InvalidInputError, "variables.question"),
    ),
    Case(
        "chat with default and placeholder",
        "chat",
        {"company": "Acme", "question": "Hi?"},
        [
            {"role": "system", "content": "You help Acme customers. Be brief."},
            {"role": "user", "content": "earlier"},
            {"role": "assistant", "content": "noted"},
            {"role": "user", "content": "Hi?"},
        ],
        placeholders={
            "history": [
                {"role": "user", "content": "earlier"},
                {"role": "assistant", "content": "noted"},
            ]
        },
    ),
    Case(
        "chat, optional placeholder left out",
        "chat",
        {"company": "Acme", "question": "Hi?", "tone": "warm"},
        [
            {"role": "system", "content": "You help Acme customers. Be warm."},
            {"role": "user", "content": "Hi?"},
        ],
    ),
    Case(
        "chat missing variable",
        "chat",
        {"company": "Acme"},
        Raises(MissingVariablesError, names=("question",)),
    ),
    Case(
        "placeholders on a text prompt",
        "greet",
        {"name": "Ada"},
        Raises(InvalidInputError, "placeholders"),
        placeholders={"history": [{"role": "user", "content": "x"}]},
    ),
    Case(
        "README SDK example on the demo prompt",
        "customer_support",
        README_VARIABLES,
        Contains(
            ("support agent for Acme", "Customer question: Where is my order?"),
            absent=("Enterprise customer", "addressing them"),
        ),
    ),
    Case(
        "demo prompt, nested default next to a given key",
        "customer_support@staging",
        {**README_VARIABLES, "tier": {"pro": True}, "customer_name": "Ada"},
        Contains(
            ("priority queue", "addressing them as Ada", "warm, friendly tone"),
            absent=("Free plan",),
        ),
    ),
    Case(
        "demo prompt, schema refuses a flag",
        "customer_support",
        {**README_VARIABLES, "tier": {"pro": "yes"}},
        Raises(InvalidInputError, "variables.tier.pro"),
    ),
    Case("built-ins today and now", "dated", {}, Contains(("Today is 20", "(now 20", "T"))),
    Case(
        "caller's today wins over the built-in",
        "dated",
        {"today": "1999-12-31", "now": "then"},
        "Today is 1999-12-31 (now then).",
    ),
    Case(
        "built-ins under a closed schema", "dated_closed", {"topic": "x"}, Contains(("As of 20",))
    ),
    Case(
        "optional flags read as false when left out",
        "flags",
        {"tier": {"enterprise": True, "gold": False}},
        "E-notpro |",
    ),
    Case(
        "a name the schema does not declare is still missing",
        "flags",
        {"tier": {"enterprise": True}},
        Raises(MissingVariablesError, names=("tier.gold",)),
    ),
    Case("optional flags, no data at all", "flags", {"tier": {"gold": True}}, "-notpro |G"),
    Case(
        "optional flags in jinja",
        "flags_jinja",
        {"tier": {"free": True, "gold": 1}},
        "F-np |G",
    ),
    Case(
        "jinja: an undeclared name is still missing",
        "flags_jinja",
        {"tier": {"free": True}},
        Raises(MissingVariablesError),
    ),
    Case("unknown prompt", "nope", {}, Raises(PromptNotFound)),
    Case("unknown version", "greet@9", {"name": "Ada"}, Raises(VersionNotFound)),
    Case("unknown label", "greet@canary", {"name": "Ada"}, Raises(LabelNotFound)),
]
