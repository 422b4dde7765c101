"""An archived prompt or a removed label does not resolve, in this process or another.

A server process that did not make the change learns it from the change event (the
broadcaster calls ``Vault.forget_changed``) or, failing that, when its label TTL ends;
either way, it never answers the archived prompt or the removed label afterwards.
"""

from __future__ import annotations

import pytest

from promptvault import Vault
from promptvault.config import Settings
from promptvault.errors import LabelNotFound, PromptNotFound

from .conftest import FakeClock


def _archived(exc: pytest.ExceptionInfo[PromptNotFound]) -> None:
    assert exc.value.code == "prompt_not_found"
    assert exc.value.details == {"name": "p", "archived": True}


def test_an_archived_prompt_does_not_resolve_by_label_or_version(vault: Vault) -> None:
    vault.push("p", template="one {{x}}", labels=["staging"])
    vault.push("inc", template="[{{> p@1}}]")
    assert vault.render("p@1", {"x": "a"}) == "one a"  # warm in every cache
    assert vault.render("inc", {"x": "b"}) == "[one b]"
    vault.archive("p", actor="alice")
    for call in (
        lambda: vault.get("p"),
        lambda: vault.get("p@staging"),
        lambda: vault.get("p@1"),
        lambda: vault.get("p", version=1),
        lambda: vault.render("p@1", {"x": "a"}),
        lambda: vault.build("p", {"x": "a"}),
    ):
        with pytest.raises(PromptNotFound) as exc:
            call()
        _archived(exc)
    with pytest.raises(PromptNotFound):  # nor as a partial of another prompt
        vault.render("inc", {"x": "b"})
    # The registry's own views still read it; that does not let it resolve again.
    assert vault.get("p@1", include_archived=True).template == "one {{x}}"
    with pytest.raises(PromptNotFound):
        vault.get("p@1")
    vault.unarchive("p", actor="alice")
    assert vault.render("p@1", {"x": "b"}) == "one b"
    assert vault.get("p@staging").version == 1


def test_another_process_stops_resolving_on_the_event(database_url: str, clock: FakeClock) -> None:
    # The reader caches label pointers for an hour: only the change event can correct it.
    settings = Settings(database_url=database_url, label_ttl=3600)
    writer = Vault(settings)
    reader = Vault(settings, clock=clock)
    try:
        writer.push("p", template="one", labels=["staging"])
        writer.push("q", template="q")
        assert reader.render("p@1") == "one"
        assert reader.get("p@staging").version == 1
        assert reader.get("q").version == 1
        after = reader.events.last_id()
        writer.delete_label("p", "staging", actor="alice")
        writer.archive("q", actor="alice")
        reader.forget_changed(reader.events.page(after=after).items)
        with pytest.raises(LabelNotFound) as removed:
            reader.get("p@staging")
        assert removed.value.details["label"] == "staging"
        with pytest.raises(PromptNotFound) as archived:
            reader.get("q")
        assert archived.value.details == {"name": "q", "archived": True}
        assert reader.render("p@1") == "one"
    finally:
        writer.close()
        reader.close()


def test_another_process_stops_resolving_when_its_ttl_ends(
    database_url: str, clock: FakeClock
) -> None:
    # No event heard: the label TTL bounds it, pinned versions included.
    settings = Settings(database_url=database_url, label_ttl=2.0)
    writer = Vault(settings)
    reader = Vault(settings, clock=clock)
    try:
        writer.push("p", template="one {{x}}", labels=["staging"])
        assert reader.render("p@1", {"x": "a"}) == "one a"
        assert reader.get("p@staging").version == 1
        writer.archive("p", actor="alice")
        clock.advance(2.5)
        with pytest.raises(PromptNotFound):
            reader.render("p@1", {"x": "a"})
        with pytest.raises(PromptNotFound):
            reader.get("p@staging")
        writer.unarchive("p", actor="alice")
        writer.delete_label("p", "staging", actor="alice")
        clock.advance(2.5)
        assert reader.render("p@1", {"x": "a"}) == "one a"
        with pytest.raises(LabelNotFound):
            reader.get("p@staging")
    finally:
        writer.close()
        reader.close()
