"""The customer_support prompt through the library API, from first push to rollback.

    python examples/customer_support.py                 # uses a throwaway home directory
    PROMPTVAULT_HOME=~/pv python examples/customer_support.py   # or keep the database

It imports the JSON-file registry in ``seed_registry.json``, ships a new version to staging,
promotes it, rolls production back, and shows the diff and the audit trail.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from promptvault import Vault
from promptvault.config import Settings

HERE = Path(__file__).parent
VARIABLES = {
    "company_name": "Acme",
    "customer_name": "Ada",
    "question": "Where is my refund?",
}


def main() -> None:
    """Walk through the life of one prompt."""
    home = os.environ.get("PROMPTVAULT_HOME") or tempfile.mkdtemp(prefix="promptvault-")
    with Vault(Settings(home=Path(home))) as vault:
        if not vault.list_prompts(search="customer_support"):
            imported = vault.import_seed_registry(HERE / "seed_registry.json", actor="setup")
            print(f"imported {imported} prompts from the JSON-file registry")

        print("\nproduction renders:")
        print(vault.render("customer_support", VARIABLES))

        result = vault.push(
            "customer_support",
            template=(
                "You are a friendly customer support agent for {{company_name}}. "
                "Greet {{customer_name}} by name, answer in at most three sentences, "
                "and offer to escalate when unsure.\n\nCustomer question: {{question}}"
            ),
            config={"model": "gpt-4o", "temperature": 0.4, "max_tokens": 400},
            message="shorter answers, newer model",
            author="dana",
            labels=["staging"],
        )
        new = result.version.version
        print(f"\npushed version {new} (created: {result.created}) to staging")
        print(vault.render("customer_support@staging", VARIABLES))

        print("\nwhat changed from production to staging:")
        print(vault.diff("customer_support", "customer_support@staging").unified)

        vault.set_label("customer_support", "production", new, actor="dana")
        print(f"production -> {vault.get('customer_support').version}")
        event = vault.rollback("customer_support", actor="erin")
        print(f"rolled back: production {event.from_version} -> {event.to_version}")

        print("\nlabel history:")
        for e in vault.label_history("customer_support", "production"):
            print(
                f"  {e.at:%Y-%m-%d %H:%M:%S} {e.action:<8} {e.from_version} -> "
                f"{e.to_version} by {e.actor or '-'}"
            )

        report = vault.audit.verify()
        print(f"\naudit log: {report.checked} entries, chain intact: {report.ok}")
        print(f"database: {vault.settings.resolved_database_url()}")


if __name__ == "__main__":
    main()
