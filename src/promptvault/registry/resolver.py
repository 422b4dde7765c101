"""Resolve references and render them, with caches that keep the hot path off the database.

- Versions are immutable: cached by ``(name, version)`` for the life of the Vault.
- Label pointers (and ``latest``) are cached per prompt for ``label_ttl`` seconds; a write
  made through the same Vault drops them at once (:meth:`Resolver.invalidate`).
- Compiled templates are cached per version, and the last compiled template of each
  reference string is kept in a "hot" map, so a warm ``render("name", vars)`` costs one dict
  lookup, one clock read and the template's own render.

Templates that include partials (``{{> other@label}}``) depend on other prompts' labels;
their compiled form is only trusted for one TTL and until the next write.

An archived prompt does not resolve (``PromptNotFound``, with ``details['archived']``): an
application that missed the ``prompt.archived`` event learns it at its next fetch, as the
SDK does from the event itself. Only the registry's own reads (the web UI's view of an
archived prompt, checks on label moves) pass ``include_archived``; their answers are never kept
in the hot maps that ordinary resolves read.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from promptvault.entities import PromptVersion, text_output
from promptvault.errors import (
    InvalidInputError,
    LabelNotFound,
    PromptNotFound,
    TemplateLimitError,
    VersionNotFound,
    did_you_mean,
    suggest,
)
from promptvault.registry.refs import LATEST, Ref, parse_ref
from promptvault.registry.validation import compile_content
from promptvault.storage.database import Database
from promptvault.templating.base import Limits
from promptvault.templating.builtins import Builtins
from promptvault.templating.variables import (
    DataChecker,
    DefaultsFiller,
    data_checker,
    defaults_filler,
    integer_too_long_error,
)

__all__ = ["Resolver", "archived_prompt", "not_found_prompt"]

_HOT_MAX = 10_000
_VERSIONS_MAX = 50_000
_INF = math.inf


def not_found_prompt(db: Database, name: str) -> PromptNotFound:
    """A PromptNotFound with "did you mean" suggestions from the existing names."""
    with db.read_work() as work:
        names = work.prompts.near_names(name)
    near = suggest(name, names)
    return PromptNotFound(
        f"no prompt named {name!r}{did_you_mean(near)}", details={"name": name, "suggestions": near}
    )


def archived_prompt(name: str) -> PromptNotFound:
    """The error a resolve of an archived prompt answers."""
    return PromptNotFound(
        f"prompt {name!r} is archived; unarchive it to resolve it again",
        details={"name": name, "archived": True},
    )


class _State:
    """Where one prompt's labels point, as read at ``loaded`` (valid until ``expires``)."""

    __slots__ = ("archived", "expires", "latest", "name", "pointers", "prompt_id", "resolved")

    def __init__(
        self, name: str, prompt_id: int, latest: int, pointers: dict[str, int], expires: float
    ) -> None:
        self.name = name
        self.prompt_id = prompt_id
        self.latest = latest
        self.pointers = pointers
        self.expires = expires
        self.archived = False
        self.resolved: dict[tuple[int, str | None], PromptVersion] = {}

    def labels_for(self, version: int) -> tuple[str, ...]:
        return tuple(sorted(lab for lab, v in self.pointers.items() if v == version))


class _Compiled:
    __slots__ = (
        "check",
        "defaults",
        "expires",
        "gen",
        "is_chat",
        "partial_sources",
        "partials",
        "template",
    )

    def __init__(
        self,
        template: Any,
        is_chat: bool,
        expires: float,
        gen: int,
        *,
        defaults: DefaultsFiller | None = None,
        check: DataChecker | None = None,
        partials: dict[str, str] | None = None,
    ) -> None:
        self.template = template
        self.is_chat = is_chat
        self.expires = expires
        self.gen = gen
        self.defaults = defaults
        self.check = check
        # Sources of the partials the template included, by reference as written; filled
        # as the engine asks for them (compile, render or reading ``variables``).
        self.partials = partials if partials is not None else {}
        # What ``Resolver.partial_sources`` answers for this compilation (computed once:
        # a label move behind a partial makes a new compilation).
        self.partial_sources: dict[str, str] | bool | None = False


class Resolver:
    """Reference resolution and rendering over a Database, cached."""

    def __init__(
        self,
        db: Database,
        *,
        ttl: float,
        clock: Callable[[], float] | None = None,
        limits: Limits | None = None,
        timezone: str = "UTC",
    ) -> None:
        self.db = db
        self.ttl = ttl
        self.limits = limits
        self.builtins = Builtins(timezone)
        self.clock = clock or time.monotonic
        self._gen = 0
        self._states: dict[str, _State] = {}
        self._versions: dict[tuple[str, int], PromptVersion] = {}
        self._compiled: dict[tuple[str, int], _Compiled] = {}
        # ref string -> (expires, compiled, generation)
        self._hot: dict[str, tuple[float, _Compiled, int]] = {}
        # ref string, or (ref, label, version) when those are given apart -> (expires,
        # version, generation): the same memo for ``get``, so a build (which resolves, then
        # renders) costs what a render costs on the warm path, and so does a resolve that
        # names its label as a parameter (what the SDK sends the server).
        self._hot_versions: dict[
            str | tuple[str, str | None, int | None], tuple[float, PromptVersion, int]
        ] = {}

    # --- invalidation ---------------------------------------------------------------

    @property
    def generation(self) -> int:
        """Advances with every :meth:`invalidate` (a write here, or a change event heard):
        caches kept beside the resolver compare it to know they are still right."""
        return self._gen

    def invalidate(self, name: str | None = None) -> None:
        """Forget label pointers (of ``name``, or all) and every hot entry."""
        if name is None:
            self._states.clear()
        else:
            self._states.pop(name, None)
        self._gen += 1
        self._hot.clear()
        self._hot_versions.clear()

    # --- state and versions ---------------------------------------------------------

    def _load_state(self, name: str) -> _State:
        with self.db.read_work() as work:
            found = work.prompts.state(name)
        if found is None:
            self._states.pop(name, None)
            raise not_found_prompt(self.db, name)
        expires = self.clock() + self.ttl
        state = _State(name, found.id, found.latest_version, found.labels, expires)
        state.archived = found.archived
        self._states[name] = state
        return state

    def state(self, name: str) -> _State:
        """The cached pointers of ``name``, reloaded when older than the TTL."""
        state = self._states.get(name)
        if state is None or self.clock() >= state.expires:
            state = self._load_state(name)
        return state

    def pick(self, ref: Ref, *, include_archived: bool = False) -> tuple[_State, int, str | None]:
        """The state, version number and resolved label of a reference."""
        state = self.state(ref.name)
        if state.archived and not include_archived:
            raise archived_prompt(ref.name)
        for attempt in (0, 1):
            if ref.version is not None:
                if 1 <= ref.version <= state.latest:
                    return state, ref.version, None
            else:
                label = ref.label or "production"
                vno = state.latest if label == LATEST else state.pointers.get(label)
                if vno:
                    return state, vno, label
            if attempt == 0:  # maybe written by another process since we cached: look again
                state = self._load_state(ref.name)
                if state.archived and not include_archived:
                    raise archived_prompt(ref.name)
        if ref.version is not None:
            raise VersionNotFound(
                f"prompt {ref.name!r} has no version {ref.version} (latest is {state.latest})",
                details={"name": ref.name, "version": ref.version, "latest": state.latest},
            )
        label = ref.label or "production"
        if label == LATEST:
            raise VersionNotFound(
                f"prompt {ref.name!r} has no versions yet", details={"name": ref.name}
            )
        near = suggest(label, state.pointers)
        raise LabelNotFound(
            f"prompt {ref.name!r} has no label {label!r}{did_you_mean(near)}",
            details={
                "name": ref.name,
                "label": label,
                "labels": sorted(state.pointers),
                "suggestions": near,
            },
        )

    def version(self, name: str, prompt_id: int, number: int) -> PromptVersion:
        """One version's content (labels empty), cached forever."""
        key = (name, number)
        found = self._versions.get(key)
        if found is None:
            with self.db.read_work() as work:
                found = work.prompts.version(name, prompt_id, number)
            if found is None:
                raise VersionNotFound(
                    f"prompt {name!r} has no version {number}",
                    details={"name": name, "version": number},
                )
            if len(self._versions) >= _VERSIONS_MAX:
                self._versions.clear()
            self._versions[key] = found
        return found

    def remember(self, version: PromptVersion) -> None:
        """Seed the version cache with a version just written."""
        self._versions[(version.name, version.version)] = version.model_copy(
            update={"labels": (), "resolved_label": None}
        )

    def get(
        self,
        ref: str,
        *,
        label: str | None = None,
        version: int | None = None,
        include_archived: bool = False,
    ) -> Any:
        """The PromptVersion a reference points at now, with its labels."""
        memo = ref if label is None and version is None else (ref, label, version)
        hot = self._hot_versions.get(memo)
        if hot is not None and hot[0] > self.clock() and hot[2] == self._gen:
            return hot[1]
        parsed = parse_ref(ref, label=label, version=version)
        state, number, resolved = self.pick(parsed, include_archived=include_archived)
        key = (number, resolved)
        found = state.resolved.get(key)
        if found is None:
            base = self.version(parsed.name, state.prompt_id, number)
            found = base.model_copy(
                update={"labels": state.labels_for(number), "resolved_label": resolved}
            )
            state.resolved[key] = found
        if not state.archived:
            # Until the pointers are re-read: even name@7 carries its labels, which move.
            if len(self._hot_versions) >= _HOT_MAX:
                self._hot_versions.clear()
            self._hot_versions[memo] = (state.expires, found, self._gen)
        return found

    # --- compile and render ---------------------------------------------------------

    def _partials(self, used: list[str], root: tuple[str, int]) -> Callable[[str], str | None]:
        def source(ref: str) -> str | None:
            parsed = parse_ref(ref.strip())
            state, number, _ = self.pick(parsed)
            if (parsed.name, number) == root:
                chain = " -> ".join([f"{root[0]}@{root[1]}", *used, ref.strip()])
                raise TemplateLimitError(
                    f"partial cycle: {root[0]}@{root[1]} includes itself ({chain})",
                    details={"limit": "partial_cycle", "name": root[0], "cycle": True},
                )
            used.append(ref.strip())
            found = self.version(parsed.name, state.prompt_id, number)
            if not isinstance(found.template, str):
                raise InvalidInputError(
                    f"partial {ref!r} is a chat prompt; only text prompts can be included",
                    details={"field": "template", "partial": ref},
                )
            return found.template

        return source

    def compiled(self, ref: str, *, include_archived: bool = False) -> _Compiled:
        """The compiled template of a reference (from the hot map when still valid)."""
        now = self.clock()
        hot = self._hot.get(ref)
        if hot is not None and hot[0] > now and hot[2] == self._gen:
            return hot[1]
        parsed = parse_ref(ref)
        state, number, _ = self.pick(parsed, include_archived=include_archived)
        key = (parsed.name, number)
        entry = self._compiled.get(key)
        if entry is None or entry.expires <= now or entry.gen != self._gen:
            found = self.version(parsed.name, state.prompt_id, number)
            used: list[str] = []
            sources: dict[str, str] = {}
            resolve = self._partials(used, key)

            def recording(ref: str) -> str | None:
                text = resolve(ref)
                if text is not None:
                    sources[ref] = text
                return text

            try:
                template = compile_content(
                    found.template,
                    type=found.type,
                    syntax=found.syntax,
                    partials=recording,
                    limits=self.limits,
                )
            except TemplateLimitError as err:
                if err.details.get("limit") == "max_depth":
                    raise _cycle_hint(parsed.name, err) from err
                raise
            expires = (now + self.ttl) if used else _INF
            entry = _Compiled(
                template,
                found.type == "chat",
                expires,
                self._gen,
                defaults=defaults_filler(found.variables_schema, syntax=found.syntax),
                check=data_checker(found.variables_schema),
                partials=sources,
            )
            self._compiled[key] = entry
        if state.archived:
            return entry
        # A label reference may move within one TTL; a version reference does not, but its
        # prompt may be archived meanwhile: both are trusted until the pointers are re-read.
        if len(self._hot) >= _HOT_MAX:
            self._hot.clear()
        self._hot[ref] = (min(state.expires, entry.expires), entry, self._gen)
        return entry

    def partial_sources(self, version: PromptVersion) -> dict[str, str] | None:
        """The partials ``version`` includes, resolved now (None when it includes none).

        The builder compiles a version itself; this hands it the same partial sources the
        resolver uses, so a built request and ``render`` agree, label moves included.
        """
        entry = self.compiled(f"{version.name}@{version.version}")
        found = entry.partial_sources
        if found is False:
            _ = entry.template.variables  # makes the engine resolve every partial it includes
            found = entry.partial_sources = dict(entry.partials) if entry.partials else None
        return None if found is None else dict(found)  # type: ignore[arg-type]

    def render(
        self,
        ref: str,
        variables: Mapping[str, Any] | None = None,
        *,
        placeholders: Mapping[str, Sequence[Mapping[str, Any]]] | None = None,
        strict: bool = True,
    ) -> Any:
        """Render a reference: a string, or a list of messages for a chat prompt."""
        # The warm path, inlined: one dict lookup, one clock read, two comparisons.
        hot = self._hot.get(ref)
        if hot is not None and hot[0] > self.clock() and hot[2] == self._gen:
            entry = hot[1]
        else:
            entry = self.compiled(ref)
        data = variables if variables is not None else {}
        if entry.check is not None:  # the caller's values against the declared schema
            entry.check(data)
        data = self.builtins.add(data)  # now and today, as every render path has them
        if entry.defaults is not None:  # declared defaults fill what the caller left out
            data = entry.defaults(data)
        try:
            if entry.is_chat:
                out = entry.template.render(data, placeholders=placeholders, strict=strict)
                return text_output(out, variables, placeholders)
            if placeholders:
                raise InvalidInputError(
                    "placeholders only apply to chat prompts", details={"field": "placeholders"}
                )
            out = entry.template.render(data, strict=strict)
            # Text only, as the server's answers: O(1) for an ASCII output.
            return out if out.isascii() else text_output(out, variables)
        except TemplateLimitError as err:
            if err.details.get("limit") != "max_depth":
                raise
            raise _cycle_hint(ref, err) from err
        except ValueError as err:  # str() refused an integer of more than 4,300 digits
            raise integer_too_long_error(data) or err from None


def _cycle_hint(name: str, err: TemplateLimitError) -> TemplateLimitError:
    return TemplateLimitError(
        f"partials of {name!r} nest too deep: is there a cycle (prompts including each "
        f"other)? {err.message}",
        details={**err.details, "name": name, "cycle": True},
    )
