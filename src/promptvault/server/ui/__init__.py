"""The web UI: server-rendered pages for people who edit prompts without deploying.

``mount(app)`` (called by :func:`promptvault.server.app.create_app`) adds the pages and the
static files to the FastAPI app:

==========================  ==========================================================
``/login``, ``/logout``     sign in with an API key (signed session cookie), sign out
``/``                       prompt list: search, tag and folder filters, paginated
``/prompts/{name}``         production template highlighted, config, labels, history
``/new``, ``/edit/{name}``  editor with live syntax check and preview; save = new version
``/diff/{name}?a=&b=``      side by side or inline diff, word-level, config table
``/play/{name}``            playground: variables form -> messages and provider requests
``/promote/...``,           label moves with a confirmation showing what will change
``/rollback/...``
``/audit``                  the audit log, filters, chain verification
``/experiments[/{name}]``   experiments: create, start, ramp, report with charts, stop, conclude
``/examples[/{name}]``      few-shot collections: browse, search by meaning or text
``/examples/...`` (POST)    writers: create collections, add, edit, delete, import a file,
                            switch the embedder
``/evals[/...]``             evaluation datasets, runs (per-case table, failures filter,
                            live progress) and comparisons of two runs
``/evals/...`` (POST)       writers: create datasets, add, edit, delete cases (checked
                            against a prompt), import a file, start a run
``/requests[/{id}]``        four-eyes approval: the queue, one request, approve / reject,
                            comments (and ``/comments/{name}`` on a version)
``/keys``                   API keys (admins): create (secret shown once), rotate, revoke
``/archive/{name}``         archive a prompt, or undo it
``/webhooks[/{id}]``        webhooks (admins): add, disable/enable, delivery log
==========================  ==========================================================

Pages are Jinja2 templates with autoescaping; the only scripts are the package's own static
files (the Content-Security-Policy forbids any other). The routes stay out of the OpenAPI
schema, which describes the REST API only.
"""

from __future__ import annotations

from importlib import resources

from fastapi import FastAPI
from starlette.staticfiles import StaticFiles

from promptvault.config import Settings
from promptvault.registry.keys import KeyService
from promptvault.registry.sessions import SessionStore
from promptvault.server.ui import (
    audit,
    compare,
    editor,
    eval_edit,
    evals,
    example_edit,
    examples,
    experiment_edit,
    experiments,
    key_admin,
    playground,
    prompts,
    requests,
    signin,
    webhooks,
)
from promptvault.server.ui.session import SessionCodec, load_secret
from promptvault.server.ui.views import UIState, session_key

__all__ = ["mount"]

STATIC_PATH = "/static/ui"


class _CachedStatic(StaticFiles):
    """Static files with a long cache lifetime (URLs carry the release for busting)."""

    def file_response(self, *args: object, **kwargs: object) -> object:  # type: ignore[override]
        response = super().file_response(*args, **kwargs)  # type: ignore[arg-type]
        response.headers["Cache-Control"] = "public, max-age=86400"
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response


def mount(app: FastAPI) -> None:
    """Add the UI's pages and static files to ``app`` (whose state holds vault and keys)."""
    settings: Settings = app.state.settings
    keys: KeyService = app.state.keys
    codec = SessionCodec(load_secret(settings), max_age=settings.session_max_age)
    sessions = SessionStore(
        app.state.vault.db, max_age=settings.session_max_age, cache_ttl=settings.label_ttl
    )
    app.state.ui = UIState(codec, keys, sessions, key_ttl=settings.label_ttl)
    app.state.cookie_auth = session_key  # /v1/stream: live pages through the session
    for module in (
        signin,
        prompts,
        compare,
        editor,
        playground,
        audit,
        experiment_edit,  # before experiments: /experiments/+new is not an experiment
        experiments,
        examples,
        example_edit,
        eval_edit,  # before evals: /evals/datasets/{name}/new-case is not a case page
        evals,
        key_admin,
        webhooks,
        requests,
    ):
        app.include_router(module.router)
    folder = resources.files("promptvault.server.ui") / "static"
    app.mount(STATIC_PATH, _CachedStatic(directory=str(folder)), name="ui-static")
