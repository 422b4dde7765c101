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
    ConflictError,
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
        "a lone surrogate in a value",
        "greet",
        {"name": "Ada \ud800"},
        Raises(InvalidInputError, "variables.name"),
    ),
    Case(
        "a lone surrogate deep in a value",
        "jinja_loop",
        {"items": ["a", {"b": ["\udfff"]}]},
        Raises(InvalidInputError, "variables.items.1.b.0"),
    ),
    Case(
        "a lone surrogate in a placeholder message",
        "chat",
        {"company": "Acme", "question": "Hi?"},
        Raises(InvalidInputError, "placeholders.history.0.content"),
        placeholders={"history": [{"role": "user", "content": "\ud83d"}]},
    ),
    Case("a surrogate pair is text", "greet", {"name": "\U0001f600"}, "Hello \U0001f600!"),
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


# --- the rest of the store protocol: one scenario of steps, run in order on a fresh store --


@dataclass(frozen=True)
class Step:
    """One call of :class:`promptvault.store.PromptStore` and its answer, reduced.

    ``op`` is a method name (``audit.entries`` for the audit log). Answers are reduced to
    plain values by ``tests/test_parity.py`` (``reduce``): a push to ``("pushed", version,
    created)``, a version to ``(name, version, template)``, a label move to ``(label, from,
    to, action, changed)``, a summary to ``(name, latest, labels, archived)``, an audit entry
    to ``(action, target)``, a verification to ``(ok, checked)``, a diff to ``(a, b,
    unified)``. Who acted is left out: a Vault records its actor, a server the key's name.
    """

    id: str
    op: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    expect: Any  # the reduced answer, or Raises(...)


V1 = "Hello {{name}}!"
V2 = "Hi {{name}}, welcome back."

STORE_STEPS: list[Step] = [
    Step("first push", "push", ("tour",), {"template": V1}, ("pushed", 1, True)),
    Step("identical push", "push", ("tour",), {"template": V1}, ("pushed", 1, False)),
    Step(
        "push with a label",
        "push",
        ("tour",),
        {"template": V2, "labels": ["staging"], "message": "warmer"},
        ("pushed", 2, True),
    ),
    Step("labels", "labels", ("tour",), {}, {"production": 1, "staging": 2}),
    Step("versions", "versions", ("tour",), {}, [("tour", 2, V2), ("tour", 1, V1)]),
    Step("versions page", "versions", ("tour",), {"limit": 1}, [("tour", 2, V2)]),
    Step("versions before", "versions", ("tour",), {"before": 2}, [("tour", 1, V1)]),
    Step("get by label", "get", ("tour@staging",), {}, ("tour", 2, V2)),
    Step("get unknown", "get", ("nowhere",), {}, Raises(PromptNotFound)),
    Step(
        "set label",
        "set_label",
        ("tour", "production", 2),
        {},
        ("production", 1, 2, "set", True),
    ),
    Step(
        "set label again",
        "set_label",
        ("tour", "production", 2),
        {},
        ("production", 2, 2, "set", False),
    ),
    Step("set label unknown version", "set_label", ("tour", "qa", 9), {}, Raises(VersionNotFound)),
    Step(
        "render moved label",
        "render",
        ("tour@production", {"name": "Ada"}),
        {},
        V2[:3] + "Ada, welcome back.",
    ),
    Step(
        "build", "build", ("tour@1", {"name": "Bo"}), {}, [{"role": "user", "content": "Hello Bo!"}]
    ),
    Step("rollback", "rollback", ("tour",), {}, ("production", 2, 1, "rollback", True)),
    Step("get after rollback", "get", ("tour@production",), {}, ("tour", 1, V1)),
    Step(
        "history of one label",
        "label_history",
        ("tour", "production"),
        {},
        [
            ("production", 2, 1, "rollback", True),
            ("production", 1, 2, "set", True),
            ("production", None, 1, "set", True),
        ],
    ),
    Step(
        "delete label", "delete_label", ("tour", "staging"), {}, ("staging", 2, 2, "delete", True)
    ),
    Step("delete unknown label", "delete_label", ("tour", "qa"), {}, Raises(LabelNotFound)),
    Step("labels after delete", "labels", ("tour",), {}, {"production": 1}),
    Step(
        "history of every label",
        "label_history",
        ("tour",),
        {},
        [
            ("staging", 2, 2, "delete", True),
            ("production", 2, 1, "rollback", True),
            ("production", 1, 2, "set", True),
            ("staging", None, 2, "set", True),
            ("production", None, 1, "set", True),
        ],
    ),
    Step(
        "diff",
        "diff",
        ("tour@1", "tour@2"),
        {},
        (1, 2, f"--- tour@1\n+++ tour@2\n@@ -1 +1 @@\n-{V1}\n+{V2}\n"),
    ),
    Step("diff identical", "diff", ("tour@1", "tour@production"), {}, (1, 1, "")),
    Step("get prompt", "get_prompt", ("tour",), {}, ("tour", 2, {"production": 1}, False)),
    Step("list", "list_prompts", (), {}, [("tour", 2, {"production": 1}, False)]),
    Step("archive", "archive", ("tour",), {}, ("tour", 2, {"production": 1}, True)),
    Step("list hides archived", "list_prompts", (), {}, []),
    Step(
        "list archived",
        "list_prompts",
        (),
        {"include_archived": True},
        [("tour", 2, {"production": 1}, True)],
    ),
    Step("push to archived", "push", ("tour",), {"template": "x"}, Raises(ConflictError, "name")),
    Step(
        "audit entries",
        "audit.entries",
        (),
        {},
        [
            ("key.create", "key:parity"),
            *[("prompt.push", "prompt:tour"), ("label.set", "prompt:tour")] * 2,
            ("label.set", "prompt:tour"),
            ("label.rollback", "prompt:tour"),
            ("label.delete", "prompt:tour"),
            ("prompt.archive", "prompt:tour"),
        ],
    ),
    Step(
        "audit label moves",
        "audit.entries",
        (),
        {"action": "label."},
        [
            *[("label.set", "prompt:tour")] * 3,
            ("label.rollback", "prompt:tour"),
            ("label.delete", "prompt:tour"),
        ],
    ),
    Step(
        "audit page",
        "audit.entries",
        (),
        {"limit": 2, "after_seq": 1},
        [("prompt.push", "prompt:tour"), ("label.set", "prompt:tour")],
    ),
    Step(
        "audit by target",
        "audit.entries",
        (),
        {"target": "key:parity"},
        [("key.create", "key:parity")],
    ),
    Step("audit bad limit", "audit.entries", (), {"limit": 0}, Raises(InvalidInputError, "limit")),
    Step("audit verify", "audit.verify", (), {}, (True, 9)),
]
