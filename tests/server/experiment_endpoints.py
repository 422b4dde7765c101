"""The experiment endpoints for the endpoint x role matrix in ``test_server_auth.py``.

Each entry is ``(id, method, path(world), permission needed, body(world))``; a path function
sets up the fresh prompt or experiment its call needs through ``world.vault``. Every
experiment here is on ``production``, a protected label: each change to it needs the right
to move protected labels (``test_authz_experiments_labels.py`` has the unprotected cases).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from promptvault.server.auth import Permission

Spec = tuple[str, str, Callable[[Any], str], Permission, Callable[[Any], Any]]


def _fresh(
    w: Any, *, start: bool = False, label: str = "production", allocation: str = "fixed"
) -> str:
    """A fresh prompt with an experiment of its own (running when ``start``)."""
    tag = uuid.uuid4().hex[:8]
    prompt = f"exp/{tag}"
    w.vault.push(prompt, template="A {{name}}", author="setup")
    w.vault.push(prompt, template="B {{name}}", author="setup")
    name = f"exp-{tag}"
    w.vault.experiments.create(
        name,
        prompt=prompt,
        label=label,
        variants=[{"name": "a", "version": 1}, {"name": "b", "version": 2}],
        primary_metric={"name": "ok"},
        allocation=allocation,
    )
    if start:
        w.vault.experiments.start(name)
    return name


def _none(w: Any) -> Any:
    return None


def _create_body(w: Any) -> Any:
    tag = uuid.uuid4().hex[:8]
    w.vault.push(f"exp/{tag}", template="x", author="setup")
    return {
        "name": f"new-{tag}",
        "prompt": f"exp/{tag}",
        "variants": [{"name": "a", "version": 1}, {"name": "b", "version": "latest"}],
        "primary_metric": {"name": "ok", "kind": "binary"},
    }


EXPERIMENT_ENDPOINTS: list[Spec] = [
    ("exp-create", "POST", lambda w: "/v1/experiments", Permission.PROTECTED, _create_body),
    ("exp-list", "GET", lambda w: "/v1/experiments", Permission.READ, _none),
    (
        "exp-running",
        "GET",
        lambda w: f"/v1/experiments/running?prompt=exp/{uuid.uuid4().hex[:6]}",
        Permission.RESOLVE,
        _none,
    ),
    ("exp-get", "GET", lambda w: f"/v1/experiments/{_fresh(w)}", Permission.READ, _none),
    (
        "exp-start",
        "POST",
        lambda w: f"/v1/experiments/{_fresh(w)}/start",
        Permission.PROTECTED,
        _none,
    ),
    (
        "exp-ramp",
        "POST",
        lambda w: f"/v1/experiments/{_fresh(w, start=True)}/ramp",
        Permission.PROTECTED,
        lambda w: {"weights": {"b": 3}},
    ),
    (
        "exp-stop",
        "POST",
        lambda w: f"/v1/experiments/{_fresh(w, start=True)}/stop",
        Permission.PROTECTED,
        lambda w: {"reason": "test"},
    ),
    (
        "exp-conclude-production",
        "POST",
        lambda w: f"/v1/experiments/{_fresh(w, start=True)}/conclude",
        Permission.PROTECTED,
        lambda w: {"winner": "b"},
    ),
    (
        "exp-reallocate",
        "POST",
        lambda w: f"/v1/experiments/{_fresh(w, start=True, allocation='bandit')}/reallocate",
        Permission.PROTECTED,
        _none,
    ),
    ("exp-phases", "GET", lambda w: f"/v1/experiments/{_fresh(w)}/phases", Permission.READ, _none),
    ("exp-report", "GET", lambda w: f"/v1/experiments/{_fresh(w)}/report", Permission.READ, _none),
    (
        "exp-check",
        "POST",
        lambda w: f"/v1/experiments/{_fresh(w, start=True)}/check",
        Permission.PROTECTED,
        _none,
    ),
    (
        "events",
        "POST",
        lambda w: "/v1/events",
        Permission.EVENTS,
        lambda w: {"events": [{"type": "exposure", "experiment": "nope", "unit_id": "u1"}]},
    ),
]
