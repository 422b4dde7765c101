"""A small, realistic set of prompts to explore promptvault with (``promptvault demo``).

:func:`load_demo` takes anything with the Vault's ``push``/``set_label``/``get_prompt``
methods (a :class:`~promptvault.Vault` or the SDK client), so the CLI and the server share it
without this package importing either.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from promptvault.errors import PromptNotFound

__all__ = ["DEMO_PROMPTS", "DemoTarget", "load_demo"]


class DemoTarget(Protocol):
    """The part of the Vault API the demo loader needs."""

    def push(
        self,
        name: str,
        *,
        template: str | list[dict[str, Any]],
        syntax: str = ...,
        type: str | None = ...,
        config: Mapping[str, Any] | None = ...,
        variables_schema: Mapping[str, Any] | None = ...,
        message: str = ...,
        author: str = ...,
        tags: Sequence[str] | None = ...,
        labels: Sequence[str] | None = ...,
        description: str | None = ...,
    ) -> Any:
        """Store a version."""

    def set_label(self, name: str, label: str, version: int, *, actor: str = ...) -> Any:
        """Point a label at a version."""

    def get_prompt(self, name: str) -> Any:
        """A prompt's summary (raises PromptNotFound)."""


_SUPPORT_V1 = """\
You are a helpful customer support agent for {{company_name}}.
Answer the customer's question accurately and politely{{#customer_name}}, addressing them \
as {{customer_name}}{{/customer_name}}. If you do not know the answer, say so and offer to \
escalate.
{{#tier.enterprise}}

This is an Enterprise customer: offer a call with their dedicated account manager and \
treat any outage as urgent.
{{/tier.enterprise}}
{{#tier.pro}}

This is a Pro customer: promise a reply from the priority queue within 4 hours.
{{/tier.pro}}
{{#tier.free}}

This customer is on the Free plan: point them to the help center and community forum, and \
mention that Pro includes priority support.
{{/tier.free}}

Customer question: {{question}}
"""

_SUPPORT_V2 = _SUPPORT_V1.replace(
    "Answer the customer's question accurately and politely",
    "Answer the customer's question in a warm, friendly tone, in at most three short paragraphs",
)

_SUPPORT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "company_name": {"type": "string", "description": "Your company, as customers know it"},
        "question": {"type": "string", "description": "The customer's message"},
        "customer_name": {
            "type": "string",
            "description": "How to address the customer",
            "default": "",
        },
        "tier": {
            "type": "object",
            "description": "The customer's plan: set one of free, pro, enterprise to true",
            "properties": {
                "free": {"type": "boolean", "default": False},
                "pro": {"type": "boolean", "default": False},
                "enterprise": {"type": "boolean", "default": False},
            },
            "default": {},
        },
    },
    "required": ["company_name", "question"],
}

_SENTIMENT = """\
Classify the sentiment of the customer message below as exactly one word: positive, \
neutral or negative.

Message: {{text}}
Sentiment:"""

_CHAT: list[dict[str, Any]] = [
    {
        "role": "system",
        "content": "You are the support assistant of {{company_name}}. Be concise and kind; "
        "never invent order numbers or policies.",
    },
    {"type": "placeholder", "name": "history", "optional": True},
    {"role": "user", "content": "{{question}}"},
]

# (name, description, tags, versions: [(push kwargs, message)], labels to set afterwards)
DEMO_PROMPTS: list[dict[str, Any]] = [
    {
        "name": "customer_support",
        "description": "Answers customer questions, with instructions per plan tier",
        "tags": ["support"],
        "versions": [
            (
                {
                    "template": _SUPPORT_V1,
                    "config": {"model": "gpt-4", "temperature": 0.7, "max_tokens": 500},
                    "variables_schema": _SUPPORT_SCHEMA,
                },
                "first version",
            ),
            (
                {
                    "template": _SUPPORT_V2,
                    "config": {"model": "gpt-4", "temperature": 0.5, "max_tokens": 400},
                    "variables_schema": _SUPPORT_SCHEMA,
                },
                "friendlier tone, shorter answers",
            ),
        ],
        "labels": {"staging": 2},
    },
    {
        "name": "sentiment_classifier",
        "description": "One-word sentiment of a customer message",
        "tags": ["classification"],
        "versions": [
            (
                {
                    "template": _SENTIMENT,
                    "config": {"model": "gpt-4o-mini", "temperature": 0, "max_tokens": 10},
                },
                "first version",
            )
        ],
        "labels": {},
    },
    {
        "name": "support_chat",
        "description": "Multi-turn support chat; the conversation so far fills 'history'",
        "tags": ["support", "chat"],
        "versions": [
            (
                {
                    "template": _CHAT,
                    "type": "chat",
                    "config": {"model": "gpt-4o", "temperature": 0.3, "max_tokens": 300},
                },
                "first version",
            )
        ],
        "labels": {},
    },
]


def load_demo(target: DemoTarget, *, actor: str = "demo") -> list[tuple[str, str]]:
    """Load the demo prompts; returns ``(name, what happened)`` for each.

    Prompts that already exist are left alone, so running it twice changes nothing.
    """
    done: list[tuple[str, str]] = []
    for spec in DEMO_PROMPTS:
        name = spec["name"]
        try:
            target.get_prompt(name)
        except PromptNotFound:
            pass
        else:
            done.append((name, "already present"))
            continue
        for kwargs, message in spec["versions"]:
            target.push(
                name,
                **kwargs,
                message=message,
                author=actor,
                tags=spec["tags"],
                description=spec["description"],
            )
        for label, version in spec["labels"].items():
            target.set_label(name, label, version, actor=actor)
        count = len(spec["versions"])
        labels = ", ".join(["production=v1", *(f"{k}=v{v}" for k, v in spec["labels"].items())])
        done.append((name, f"{count} version{'s' if count > 1 else ''} ({labels})"))
    return done
