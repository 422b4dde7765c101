"""The SDK's cache: typed keys, entries with an expiry, and the on-disk last-known-good store.

Keys are values (:class:`CacheKey`: server, name, label or version), never string prefixes,
so invalidation removes exactly the keys a write affects. Every entry expires after the
client's ``cache_ttl``: a label pointer may move, and a version pinned by number, though
immutable, belongs to a prompt that may be archived (its refresh is a cheap 304 otherwise).

The hot path (``PromptVaultClient.get``) is a dict hit on the caller's reference string and
one clock comparison: ``_Entry`` objects are shared between the typed map and that memo, and
an evicted entry is marked expired so a memo pointing at it falls through to the slow path.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import quote

from promptvault._fileio import atomic_write
from promptvault.entities import PromptVersion
from promptvault.registry.refs import parse_ref as parse_registry_ref
from promptvault.templating.builtins import BUILTIN_NAMES

__all__ = ["NEVER", "CacheKey", "DiskStore", "parse_ref"]

NEVER = float("inf")
_GONE = float("-inf")


class CacheKey(NamedTuple):
    """What a reference resolves to on one server: a label pointer or a pinned version."""

    server: str
    name: str
    label: str | None
    version: int | None

    @property
    def pinned(self) -> bool:
        """True for ``name@7``: immutable, cached for the life of the process."""
        return self.version is not None

    def ref(self) -> str:
        """The reference string this key stands for (``name@label`` or ``name@7``)."""
        return f"{self.name}@{self.version if self.version is not None else self.label}"


def parse_ref(server: str, ref: str, *, default_label: str = "production") -> CacheKey:
    """Split ``name``, ``name@label`` or ``name@7`` into a typed key (no server round trip).

    The registry's own parser decides, so the SDK accepts exactly the references the
    server accepts (ASCII version digits, label shape and length, name segments).
    """
    parsed = parse_registry_ref(ref)
    if parsed.version is not None:
        return CacheKey(server, parsed.name, None, parsed.version)
    return CacheKey(server, parsed.name, parsed.label or default_label, None)


class _Entry:
    """A cached resolution: the version, when it expires, and its compiled template."""

    __slots__ = ("compiled", "expires", "fast", "is_chat", "key", "partial_refs", "prep", "value")

    def __init__(
        self,
        key: CacheKey,
        value: PromptVersion,
        expires: float,
        compiled: Any,
        prep: Any = None,
    ) -> None:
        self.key = key
        self.value = value
        self.expires = expires
        self.compiled = compiled
        self.is_chat = False
        self.fast: Any = None
        self.prep: Any = None
        self.partial_refs: set[str] | None = None
        self.set_compiled(value, compiled, prep=prep)

    def set_compiled(
        self,
        value: PromptVersion,
        compiled: Any,
        partial_refs: set[str] | None = None,
        *,
        prep: Any = None,
    ) -> None:
        """Record the compiled template; ``fast`` renders a text prompt in one positional
        call (text, strict, variables given). ``prep`` is the version's
        :class:`~promptvault.client._core.DataPrep` (None: no schema to apply), folded into
        ``fast``. ``partial_refs`` (None: no partials) are the other prompts it includes."""
        self.compiled = compiled
        self.partial_refs = partial_refs
        self.is_chat = value.type == "chat"
        self.prep = prep
        if compiled is None or self.is_chat or _may_read_builtins(value, partial_refs):
            self.fast = None  # render_entry adds the built-ins (now, today) first
        elif prep is None:
            self.fast = compiled.render
        else:
            self.fast = prep.bind(compiled.render)

    def evict(self) -> None:
        """Make every alias of this entry miss from now on."""
        self.expires = _GONE


class DiskStore:
    """Last-known-good copies of resolved versions, one JSON file per key, written atomically.

    Files live under ``root/<server digest>/<quoted name>/<label or v<n>>.json`` so one
    directory can serve several servers and names with slashes stay one path component;
    few-shot collections under ``root/collections/<server digest>/<quoted name>.json``.
    """

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)

    def path_for(self, key: CacheKey) -> Path:
        """Where ``key``'s copy lives."""
        server = hashlib.sha256(key.server.encode()).hexdigest()[:16]
        leaf = f"v{key.version}" if key.version is not None else f"label-{key.label}"
        return self.root / server / quote(key.name, safe="") / f"{leaf}.json"

    def save(self, key: CacheKey, value: PromptVersion) -> None:
        """Write ``value`` for ``key``: temp file in the same directory, fsync, then rename."""
        # Owner-only: the copies serve this user's processes, not others on the machine.
        atomic_write(self.path_for(key), value.model_dump_json(), mode=0o600)

    def load(self, key: CacheKey) -> PromptVersion | None:
        """The stored copy, or None when absent or unreadable (a torn file never surfaces)."""
        try:
            text = self.path_for(key).read_text(encoding="utf-8")
            return PromptVersion.model_validate(json.loads(text))
        except (OSError, ValueError):
            return None

    def collection_path(self, server: str, name: str) -> Path:
        """Where the copy of one few-shot collection (examples and vectors) lives."""
        digest = hashlib.sha256(server.encode()).hexdigest()[:16]
        # Beside the prompts' tree, not in it: a prompt may have any name.
        return self.root / "collections" / digest / f"{quote(name, safe='')}.json"

    def save_collection(self, server: str, name: str, payload: dict[str, Any]) -> None:
        """Write a collection's copy atomically (temp file, fsync, rename), owner-only."""
        atomic_write(self.collection_path(server, name), json.dumps(payload), mode=0o600)

    def load_collection(self, server: str, name: str) -> dict[str, Any] | None:
        """The stored copy, or None when absent or unreadable."""
        try:
            data = json.loads(self.collection_path(server, name).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def delete(self, key: CacheKey) -> None:
        """Forget ``key`` (the server said it no longer exists)."""
        with contextlib.suppress(OSError):
            self.path_for(key).unlink()


def _may_read_builtins(value: PromptVersion, partial_refs: Any) -> bool:
    """Whether rendering may read ``now``/``today`` (then the warm path adds them too)."""
    if partial_refs:
        return True  # an included prompt may read them
    text = value.template if isinstance(value.template, str) else ""
    return any(name in text for name in BUILTIN_NAMES)
