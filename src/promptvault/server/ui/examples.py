"""Few-shot example pages: the collections, and one collection's examples with search.

Every signed-in role may browse; writers also get the forms of
:mod:`~promptvault.server.ui.example_edit`. The page says which embedder a collection uses
and offers ``minilm`` in place of ``hashing`` where it is installed. Search has two modes:

* ``meaning`` (the default): the collection's own embedder ranks examples by similarity to
  the query (``vault.examples.search``), the way semantic selection would pick them;
* ``text``: examples whose input or output contains the query, case-insensitively.

When the embedder cannot run (a remote endpoint down, a model not installed), a meaning
search falls back to text matching and says so.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import APIRouter, Request, Response

from promptvault.entities import Example
from promptvault.errors import (
    CollectionNotFound,
    InvalidInputError,
    NotFoundError,
    PromptVaultError,
)
from promptvault.fewshot.embedders import (
    EMBEDDER_NOTES,
    better_embedder,
    installed_embedders,
)
from promptvault.fewshot.models import STRATEGIES
from promptvault.server.deps import VaultDep
from promptvault.server.ui.views import UIRoute, UserDep, page
from promptvault.vault import Vault

__all__ = ["PAGE_SIZE", "SEARCH_K", "collection_url", "marked", "router", "text_matches"]

router = APIRouter(route_class=UIRoute, include_in_schema=False)
PAGE_SIZE = 50
SEARCH_K = 25
MAX_QUERY = 500
_SEARCH_MODES = ("meaning", "text")


def collection_url(name: str) -> str:
    """The URL of a collection's page."""
    return f"/examples/{quote(name, safe='')}"


def marked(text: str, query: str) -> list[tuple[str, bool]]:
    """``text`` split into parts, ``True`` where it matches ``query`` (case-insensitive)."""
    if not query:
        return [(text, False)]
    parts: list[tuple[str, bool]] = []
    lower, needle = text.lower(), query.lower()
    start = 0
    while True:
        # lower() keeps lengths for nearly all text; where it would not, show no marks.
        if len(lower) != len(text):
            return [(text, False)]
        found = lower.find(needle, start)
        if found < 0:
            break
        if found > start:
            parts.append((text[start:found], False))
        parts.append((text[found : found + len(needle)], True))
        start = found + len(needle)
    if start < len(text):
        parts.append((text[start:], False))
    return parts or [(text, False)]


def text_matches(
    vault: Vault,
    name: str,
    query: str,
    *,
    category: str | None = None,
    after: int | None = None,
    limit: int = PAGE_SIZE,
) -> list[Example]:
    """Examples of collection ``name`` whose input or output contains ``query``, by id."""
    try:
        return vault.examples.examples(
            name, category=category or None, after=after, limit=limit, contains=query
        )
    except CollectionNotFound:
        return []


def _score(value: float) -> str:
    """A cosine similarity with two decimals (a real minus sign; never "-0.00")."""
    text = f"{abs(value):.2f}"
    return f"\u2212{text}" if value < 0 and text != "0.00" else text


def _categories(vault: Vault, name: str) -> list[str]:
    try:
        return vault.examples.categories(name)
    except CollectionNotFound:
        return []


@router.get("/examples")
def collection_list(*, request: Request, vault: VaultDep, user: UserDep) -> Response:
    """Every collection: embedder, size, attached prompt, selection defaults."""
    installed = installed_embedders()
    return page(
        request,
        "examples.html",
        {
            "collections": vault.examples.list(),
            "collection_url": collection_url,
            "embedders": installed,
            "default_embedder": installed[-1],  # the best one installed
            "embedder_notes": EMBEDDER_NOTES,
            "strategies": STRATEGIES,
        },
    )


@router.get("/examples/{name}")
def collection_page(
    *,
    request: Request,
    name: str,
    vault: VaultDep,
    user: UserDep,
    q: str = "",
    mode: str = "meaning",
    category: str = "",
    after: int | None = None,
) -> Response:
    """A collection's examples, ``PAGE_SIZE`` per page, or the results of a search."""
    if mode not in _SEARCH_MODES:
        raise InvalidInputError(
            f"mode must be one of {', '.join(_SEARCH_MODES)}",
            details={"field": "mode", "value": mode},
        )
    query = q.strip()
    if len(query) > MAX_QUERY:
        raise InvalidInputError(
            f"the search text is longer than {MAX_QUERY} characters", details={"field": "q"}
        )
    collection = vault.examples.get(name)
    chosen = category.strip() or None
    notice = ""
    scores: dict[int, str] = {}
    used = mode
    more = False
    if query and mode == "meaning":
        try:
            found = vault.examples.search(name, query, k=SEARCH_K, category=chosen)
        except NotFoundError:
            raise
        except PromptVaultError as error:
            notice = (
                f"Search by meaning is unavailable for this collection ({error.message}); "
                "showing examples that contain the text instead."
            )
            used = "text"
        else:
            rows = [e for e, _ in found]
            scores = {e.id: _score(s) for e, s in found}
    if query and used == "text":
        rows = text_matches(vault, name, query, category=chosen, after=after, limit=PAGE_SIZE + 1)
        more = len(rows) > PAGE_SIZE
    elif not query:
        rows = vault.examples.examples(name, category=chosen, limit=PAGE_SIZE + 1, after=after)
        more = len(rows) > PAGE_SIZE
    rows = rows[:PAGE_SIZE]
    return page(
        request,
        "collection.html",
        {
            "c": collection,
            "rows": rows,
            "scores": scores,
            "query": query,
            "mode": mode,
            "used": used,
            "notice": notice,
            "category": chosen or "",
            "categories": _categories(vault, name),
            "after": after,
            "next_after": rows[-1].id if more and rows else None,
            "marked": marked if used == "text" else (lambda text, _q: [(text, False)]),
            "collection_url": collection_url,
            "search_k": SEARCH_K,
            "embedder_note": EMBEDDER_NOTES.get(collection.embedder, ""),
            "better": better_embedder(collection.embedder),
        },
    )
