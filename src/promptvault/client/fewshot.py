"""``pv.build``: build requests in the application's process, like ``vault.build``.

The version comes from the client's cache (``pv.get``), rendering and assembly use the same
:class:`~promptvault.builder.PromptBuilder` as the server, and examples are selected by the
same code (:func:`promptvault.fewshot.examples_for_build.choose`) over a copy of the
collection fetched once from ``GET /v1/collections/{name}/vectors``. So a warm ``pv.build``
makes no network call.

The copy is refreshed in the background once ``cache_ttl`` has passed (a conditional
request: 304 when the revision is unchanged) while the old copy keeps serving. The query is
embedded locally only with the built-in ``hashing`` embedder (deterministic, no model);
collections embedded otherwise, builds that name no collection (the server knows which one
is attached to the prompt) and builds whose collection cannot be fetched go to
``POST /v1/prompts/{name}/build`` instead. With ``fallback_dir`` each fetched copy is also
written there (atomically), so a build while the server is down, in this process or a new
one, selects from the last copy like ``render`` falls back to the last known prompt. Usage
counts of locally selected examples are not reported to the server.

The build itself is written once for both clients (``_client_async.py``); this module is
the sync client's example selection (the async client leaves it to the server).
"""

from __future__ import annotations

import base64
import contextlib
import threading
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from promptvault.builder import BuiltRequest, PromptBuilder
from promptvault.client._api import Call, prompt_path
from promptvault.client._core import RETRY_AFTER, ClientCore, Unavailable
from promptvault.entities import Example, PromptVersion
from promptvault.errors import NotFoundError, PromptVaultError
from promptvault.fewshot.models import Collection, parse_examples_spec

if TYPE_CHECKING:
    from promptvault.client.client import PromptVaultClient
    from promptvault.fewshot.embedders import HashingEmbedder
    from promptvault.fewshot.examples_for_build import Selection
    from promptvault.fewshot.index import CollectionIndex

# numpy, the index and the embedder load on the first local build that selects examples
# (imports inside the functions below), so ``import promptvault.client`` stays light.

__all__ = ["LocalBuilds", "Snapshot", "build_call", "keep_resolution"]

_QUERY_CACHE_MAX = 4096


class Snapshot:
    """A fetched copy of one collection and when to look for a newer one."""

    __slots__ = ("collection", "etag", "expires", "index", "local")

    def __init__(
        self, collection: Collection, index: CollectionIndex, etag: str, expires: float
    ) -> None:
        self.collection = collection
        self.index = index
        self.etag = etag
        self.expires = expires
        # Only the built-in hashing embedder can embed the query here.
        self.local = collection.embedder_spec == _hashing_spec()


def _hashing_spec() -> str:
    from promptvault.fewshot.embedders import HashingEmbedder

    return HashingEmbedder().spec


def _snapshot(data: Any, etag: str, expires: float) -> Snapshot:
    import numpy as np

    from promptvault.fewshot.index import CollectionIndex

    collection = Collection.model_validate(data["collection"])
    examples = [Example.model_validate(e) for e in data["examples"]]
    dim = int(data["dim"])
    flat = np.frombuffer(base64.b64decode(data["vectors"]), dtype="<f4")
    vectors = np.ascontiguousarray(flat.reshape(len(examples), dim), dtype=np.float32)
    index = CollectionIndex.build(int(data["revision"]), dim, examples, vectors)
    return Snapshot(collection, index, etag, expires)


class LocalBuilds:
    """The example side of the sync client's builds: collection copies, query vectors."""

    def __init__(self, client: PromptVaultClient, core: ClientCore, builder: PromptBuilder) -> None:
        self.client = client
        self.core = core
        self.builder = builder
        self._embedder: HashingEmbedder | None = None
        self.snapshots: dict[str, Snapshot] = {}
        self._queries: dict[str, Any] = {}
        self._refreshing: set[str] = set()
        self._lock = threading.Lock()
        self.remote_builds = 0  # builds that went to the server (for tests and monitoring)

    def after_fork(self) -> None:
        """In a forked child: a new lock and no collection fetches in flight."""
        self._lock = threading.Lock()
        self._refreshing = set()

    def select(
        self, version: PromptVersion, variables: Any, examples: str | Mapping[str, Any]
    ) -> Selection | None:
        """Examples selected here from a copy of the collection, or None when the server
        is to select (and count) them: no collection named, or one embedded otherwise, or
        none to be had."""
        spec = parse_examples_spec(examples)
        snap = self._snapshot(spec.collection) if spec.collection is not None else None
        if snap is None or not snap.local:
            self.remote_builds += 1
            return None
        from promptvault.fewshot.examples_for_build import choose

        return choose(
            snap.collection,
            snap.index,
            self._query_vector,
            spec,
            variables,
            as_messages=not self.builder.reads_examples(version),
        )

    @property
    def embedder(self) -> HashingEmbedder:
        """The embedder of query texts, created on the first local selection."""
        if self._embedder is None:
            from promptvault.fewshot.embedders import HashingEmbedder

            self._embedder = HashingEmbedder()
        return self._embedder

    def _query_vector(self, text: str) -> Any:
        found = self._queries.get(text)
        if found is None:
            found = self.embedder.embed([text])[0]
            if len(self._queries) >= _QUERY_CACHE_MAX:
                self._queries.clear()
            self._queries[text] = found
        return found

    # --- collection copies ------------------------------------------------------------------

    def _snapshot(self, name: str) -> Snapshot | None:
        snap = self.snapshots.get(name)
        if snap is not None:
            if snap.expires <= self.core.now():
                self._refresh_in_background(name)
            return snap
        try:
            return self._fetch(name)
        except NotFoundError:
            return None  # the server build reports what is wrong
        except Unavailable:
            return self._from_disk(name)  # None: the server build reports that it is down

    def _from_disk(self, name: str) -> Snapshot | None:
        """The last copy written to ``fallback_dir``, served while the server is down."""
        disk = self.core.disk
        stored = disk.load_collection(self.core.server, name) if disk is not None else None
        if stored is None:
            return None
        try:
            # Soon stale, so the next build past it tries the server again in the background.
            expires = self.core.now() + min(self.core.cache_ttl, RETRY_AFTER)
            snap = _snapshot(stored["data"], str(stored.get("etag", "")), expires)
        except (KeyError, TypeError, ValueError):
            return None  # an unreadable copy is no copy
        if self.core.enabled:
            self.snapshots[name] = snap
        return snap

    def _fetch(self, name: str) -> Snapshot | None:
        old = self.snapshots.get(name)
        path = f"/v1/collections/{quote(name, safe='')}/vectors"
        call: Call[Any] = Call("GET", path, lambda d: d)
        headers = {"If-None-Match": old.etag} if old is not None else None
        response = self.client._send(call, headers)
        expires = self.core.now() + max(self.core.cache_ttl, 0.0)
        if response.status_code == 304 and old is not None:
            old.expires = expires
            return old
        data = ClientCore.decode(call, response)
        etag = response.headers.get("etag", "")
        snap = _snapshot(data, etag, expires)
        if self.core.disk is not None:
            # Last known good for builds while the server is down, in this process or the
            # next; a full or read-only disk must not break a successful fetch.
            with contextlib.suppress(OSError):
                self.core.disk.save_collection(self.core.server, name, {"etag": etag, "data": data})
        if self.core.enabled:
            self.snapshots[name] = snap
        return snap

    def _refresh_in_background(self, name: str) -> None:
        with self._lock:
            if name in self._refreshing:
                return
            self._refreshing.add(name)

        def run() -> None:
            try:
                self._fetch(name)
            except NotFoundError:
                self.snapshots.pop(name, None)
            except (Unavailable, PromptVaultError):
                snap = self.snapshots.get(name)
                if snap is not None:  # keep serving it; try again after a short pause
                    snap.expires = self.core.now() + min(self.core.cache_ttl, 1.0)
            finally:
                with self._lock:
                    self._refreshing.discard(name)

        threading.Thread(target=run, name=f"promptvault-collection-{name}", daemon=True).start()


def build_call(
    name: str,
    version: int,
    variables: Mapping[str, Any] | None,
    *,
    examples: Any,
    history: Sequence[Mapping[str, Any]] | None,
    placeholders: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
    now: datetime | None,
    strict: bool,
) -> Call[BuiltRequest]:
    """``POST /v1/prompts/{name}/build`` of one version (never retried: usage is counted)."""
    body: dict[str, Any] = {
        "version": version,
        "variables": dict(variables or {}),
        "examples": examples if isinstance(examples, str) else dict(examples),
        "strict": strict,
    }
    if history is not None:
        body["history"] = [dict(m) for m in history]
    if placeholders is not None:
        body["placeholders"] = {k: [dict(m) for m in v] for k, v in placeholders.items()}
    if now is not None:
        body["now"] = now.isoformat()
    return Call("POST", prompt_path(name, "build"), BuiltRequest.from_dict, json=body)


def keep_resolution(built: BuiltRequest, version: PromptVersion) -> BuiltRequest:
    """A server-built request labelled with the label and experiment resolved here."""
    meta = built.metadata._replace(
        label=version.resolved_label, experiment=version.experiment, variant=version.variant
    )
    return built._replace(metadata=meta)
