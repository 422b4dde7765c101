"""Audit log pages newest first, before a sequence number, with target prefixes."""

from __future__ import annotations

from promptvault import Vault
from promptvault.config import Settings


def test_entries_newest_first_with_prefix_and_before(database_url: str) -> None:
    with Vault(Settings(database_url=database_url)) as vault:
        vault.push("support/agent", template="v1", author="ada")
        vault.push("support/agent", template="v2", author="ada")
        vault.push("sales", template="v1", author="bob")
        vault.push("support_x", template="v1", author="bob")  # "_" is no wildcard

        oldest_first = vault.audit.entries(action="prompt.push")
        newest = vault.audit.entries(action="prompt.push", newest_first=True)
        assert [e.seq for e in newest] == [e.seq for e in reversed(oldest_first)]

        support = vault.audit.entries(target="prompt:support/*", newest_first=True)
        assert {e.target for e in support} == {"prompt:support/agent"}
        assert support[0].seq > support[-1].seq

        page = vault.audit.entries(newest_first=True, before_seq=newest[0].seq, limit=2)
        assert [e.seq for e in page] == [newest[0].seq - 1, newest[0].seq - 2]
