"""Providers as an admin configures them: stored (secret encrypted) or from settings.

A stored provider shadows a settings provider of the same name. Listings and answers never
carry a secret, only ``has_secret``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from promptvault.errors import InvalidInputError, ProviderNotFound, suggest
from promptvault.evals.datasets import check_dataset_name
from promptvault.evals.models import Provider
from promptvault.evals.providers import ProviderConfig
from promptvault.evals.secrets import decrypt, encrypt
from promptvault.storage.unit_of_work import utcnow

if TYPE_CHECKING:
    from promptvault.config import Settings
    from promptvault.storage.database import Database
    from promptvault.storage.unit_of_work import UnitOfWork

__all__ = ["ProvidersMixin"]

KINDS = ("openai", "anthropic")
_OPTIONS = {"timeout": (int, float), "max_retries": (int,)}


def _check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in options.items():
        kinds = _OPTIONS.get(key)
        if kinds is None:
            raise InvalidInputError(
                f"unknown provider option {key!r} (known: {', '.join(_OPTIONS)})",
                details={"field": f"options.{key}"},
            )
        if isinstance(value, bool) or not isinstance(value, kinds) or value < 0:
            raise InvalidInputError(
                f"option {key} must be a number >= 0", details={"field": f"options.{key}"}
            )
        out[key] = value
    return out


class ProvidersMixin:
    """The provider half of :class:`~promptvault.evals.service.EvalService`."""

    _db: Database
    _settings: Settings

    def set_provider(
        self,
        name: str,
        *,
        kind: str,
        base_url: str | None = None,
        api_key: str | None = None,
        model: str | None = None,
        options: Mapping[str, Any] | None = None,
        keep_secret: bool = True,
        actor: str = "",
    ) -> Provider:
        """Create or replace a stored provider; ``api_key`` is encrypted before it is stored
        (refused when ``PROMPTVAULT_SECRET_KEY`` is not set). Leaving ``api_key`` out keeps
        the stored one unless ``keep_secret=False``."""
        check_dataset_name(name)
        if kind not in KINDS:
            raise InvalidInputError(
                f"kind must be one of {', '.join(KINDS)}", details={"field": "kind"}
            )
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise InvalidInputError(
                "base_url must be an http:// or https:// URL", details={"field": "base_url"}
            )
        checked = _check_options(options or {})
        token = encrypt(self._settings, api_key) if api_key else None
        actor = actor or self._db.default_actor

        def change(work: UnitOfWork) -> Provider:
            existing = work.evals.provider(name)
            secret = token
            if secret is None and keep_secret and existing is not None:
                secret = existing["secret"]
            now = utcnow()
            created = work.evals.put_provider(
                name,
                kind=kind,
                base_url=base_url,
                secret=secret,
                model=model,
                options=checked,
                created_at=now,
                created_by=actor,
                updated_at=now,
                updated_by=actor,
            )
            work.audit(
                actor=actor,
                action="provider.create" if created else "provider.update",
                target=f"provider:{name}",
                details={
                    "kind": kind,
                    "base_url": base_url,
                    "model": model,
                    "secret_changed": token is not None,
                },
            )
            row = work.evals.provider(name)
            assert row is not None
            return _public(row)

        return self._db.write_work(change)

    def delete_provider(self, name: str, *, actor: str = "") -> None:
        """Remove a stored provider (settings providers are changed in settings)."""

        def change(work: UnitOfWork) -> None:
            if not work.evals.delete_provider(name):
                raise self._not_found(work, name)
            work.audit(actor=actor, action="provider.delete", target=f"provider:{name}")

        self._db.write_work(change)

    def providers(self) -> list[Provider]:
        """Stored and settings providers by name (never a secret)."""
        with self._db.read_work() as work:
            stored = {p["name"]: _public(p) for p in work.evals.providers()}
        for name, raw in self._settings.eval_providers.items():
            if name not in stored:
                stored[name] = _from_settings(name, raw)
        return [stored[n] for n in sorted(stored)]

    def provider_config(self, name: str | None) -> ProviderConfig:
        """What a run needs to call provider ``name`` (the only one when ``None``)."""
        if name is None:
            known = self.providers()
            if len(known) != 1:
                raise InvalidInputError(
                    "name a provider (configured: "
                    + (", ".join(p.name for p in known) or "none")
                    + ")",
                    details={"field": "provider"},
                )
            name = known[0].name
        with self._db.read_work() as work:
            row = work.evals.provider(name)
            if row is None and name not in self._settings.eval_providers:
                raise self._not_found(work, name)
        settings = self._settings
        if row is None:
            raw = settings.eval_providers[name]
            public = _from_settings(name, raw)
            key = raw.get("api_key")
        else:
            public = _public(row)
            key = decrypt(settings, row["secret"], provider=name) if row["secret"] else None
        return ProviderConfig(
            name=name,
            kind=public.kind,
            base_url=public.base_url,
            api_key=str(key) if key else None,
            model=public.model,
            timeout=float(public.options.get("timeout", settings.eval_timeout)),
            max_retries=int(public.options.get("max_retries", settings.eval_max_retries)),
        )

    def _not_found(self, work: UnitOfWork, name: str) -> ProviderNotFound:
        names = [p["name"] for p in work.evals.providers()] + list(self._settings.eval_providers)
        near = suggest(name, names)
        hint = f" (did you mean {', '.join(near)}?)" if near else ""
        return ProviderNotFound(
            f"no provider named {name!r}{hint}",
            details={"field": "provider", "suggestions": near},
        )


def _public(row: Mapping[str, Any]) -> Provider:
    return Provider(
        name=row["name"],
        kind=row["kind"],
        base_url=row["base_url"],
        model=row["model"],
        options=dict(row["options"] or {}),
        has_secret=bool(row["secret"]),
        source="database",
        updated_at=row["updated_at"],
        updated_by=row["updated_by"],
    )


def _from_settings(name: str, raw: Mapping[str, Any]) -> Provider:
    kind = raw.get("kind", "openai")
    if kind not in KINDS:
        raise InvalidInputError(
            f"settings provider {name!r}: kind must be one of {', '.join(KINDS)}",
            details={"field": f"eval_providers.{name}.kind"},
        )
    options = {k: raw[k] for k in _OPTIONS if k in raw}
    return Provider(
        name=name,
        kind=kind,
        base_url=raw.get("base_url"),
        model=raw.get("model"),
        options=options,
        has_secret=bool(raw.get("api_key")),
        source="settings",
    )
