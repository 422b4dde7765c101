"""The demo's few-shot collection: ``support_examples``, attached to ``customer_support``.

Loaded by ``promptvault demo`` and ``promptvault serve --demo`` after the demo prompts, so
``promptvault build customer_support --examples support_examples ...`` shows semantic
selection at once. Takes anything with the collection service's ``get``/``create``/
``add_many`` (``vault.examples``), without importing the Vault.
"""

from __future__ import annotations

from typing import Any, Protocol

from promptvault.errors import NotFoundError

__all__ = ["DEMO_COLLECTION", "SUPPORT_EXAMPLES", "ExamplesTarget", "load_demo_examples"]

DEMO_COLLECTION = "support_examples"


class ExamplesTarget(Protocol):
    """The part of ``vault.examples`` the demo loader needs."""

    def get(self, name: str) -> Any:
        """A collection (raises CollectionNotFound)."""

    def create(
        self,
        name: str,
        *,
        description: str = ...,
        prompt: str | None = ...,
        query_template: str | None = ...,
        k: int = ...,
        actor: str = ...,
    ) -> Any:
        """Create a collection."""

    def add_many(self, name: str, rows: Any, *, actor: str = ...) -> Any:
        """Add examples."""


def _row(category: str, quality: float, question: str, answer: str) -> dict[str, Any]:
    return {"input": question, "output": answer, "category": category, "quality": quality}


SUPPORT_EXAMPLES: list[dict[str, Any]] = [
    _row("billing", 0.95, "How do I get a refund for my order?",
         "I'm sorry it didn't work out! Refunds go back to your original payment method within "
         "5 business days of us receiving the item. Start one from Orders > Return an item."),
    _row("billing", 0.9, "I was charged twice this month.",
         "Sorry about that! A duplicate charge is usually a pending authorisation that drops "
         "off within 3 days. If both still show after that, reply here and we'll refund one."),
    _row("billing", 0.8, "Can I pay by invoice instead of card?",
         "Yes: invoices are available on annual Pro and Enterprise plans. Switch under "
         "Settings > Billing > Payment method."),
    _row("billing", 0.7, "Why did my subscription price go up?",
         "Prices changed on the 1st for new billing periods; you received an email 30 days "
         "before. You can switch to annual billing to keep a lower rate."),
    _row("shipping", 0.95, "Where is my parcel? It has not arrived yet.",
         "Let me help! Your tracking link is in the shipping confirmation email. If it shows "
         "no movement for 5 days, tell us the order number and we'll open a trace."),
    _row("shipping", 0.85, "Can I change the delivery address after ordering?",
         "If the order has not shipped yet, yes: go to Orders > Change address. Once shipped, "
         "the carrier can redirect it from the tracking page."),
    _row("shipping", 0.8, "Do you ship internationally?",
         "We ship to 40 countries; duties are shown at checkout so there are no surprises."),
    _row("shipping", 0.6, "My package arrived damaged.",
         "I'm so sorry! Please send a photo of the damage and we'll ship a replacement right "
         "away, no need to return the broken item."),
    _row("account", 0.95, "I forgot my password and cannot log in.",
         "No problem: use 'Forgot password' on the sign-in page and we'll email a reset link "
         "valid for one hour. Check your spam folder if it doesn't arrive."),
    _row("account", 0.85, "How do I enable two-factor authentication?",
         "Go to Settings > Security > Two-factor authentication and scan the QR code with an "
         "authenticator app. Save the backup codes somewhere safe."),
    _row("account", 0.75, "How can I delete my account?",
         "You can delete it under Settings > Account > Delete account. This removes your data "
         "within 30 days; export anything you want to keep first."),
    _row("account", 0.7, "Can I change the email address on my account?",
         "Yes, under Settings > Account > Email. We'll send a confirmation link to the new "
         "address before the change takes effect."),
    _row("product", 0.9, "The app crashes when I upload a photo.",
         "Thanks for reporting this! Please update to the latest version; if it still "
         "crashes, send us the device model and app version so we can reproduce it."),
    _row("product", 0.8, "Is there a dark mode?",
         "Yes! Settings > Appearance > Theme lets you pick light, dark or follow the system."),
    _row("product", 0.65, "Can I export my data to CSV?",
         "Yes: Reports > Export > CSV exports everything in the current view."),
    _row("plans", 0.9, "What is the difference between Free and Pro?",
         "Pro adds unlimited projects, priority support within 4 hours and team sharing. "
         "You can try Pro free for 14 days from Settings > Plan."),
    _row("plans", 0.85, "How do I upgrade to Enterprise?",
         "Enterprise includes a dedicated account manager and SSO. Book a call from the "
         "Pricing page and we'll set it up with you."),
    _row("plans", 0.7, "How do I cancel my subscription?",
         "Sorry to see you go! Cancel under Settings > Plan > Cancel; you keep Pro until the "
         "end of the period you paid for."),
]  # fmt: skip


def load_demo_examples(target: ExamplesTarget, *, actor: str = "demo") -> list[tuple[str, str]]:
    """Create and fill ``support_examples`` unless it exists; ``(name, what happened)``."""
    try:
        target.get(DEMO_COLLECTION)
    except NotFoundError:
        pass
    else:
        return [(DEMO_COLLECTION, "already present")]
    target.create(
        DEMO_COLLECTION,
        description="Answered support questions, picked per request by similarity",
        prompt="customer_support",
        query_template="{{question}}",
        k=3,
        actor=actor,
    )
    target.add_many(DEMO_COLLECTION, SUPPORT_EXAMPLES, actor=actor)
    return [(DEMO_COLLECTION, f"{len(SUPPORT_EXAMPLES)} examples (attached to customer_support)")]
