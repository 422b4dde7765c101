"""Web UI page rendering time on a registry of 1,000 prompts x 10 versions (SQLite).

Builds the registry directly through the Vault, then times server-side rendering of the
main pages in process (httpx over the ASGI app, signed in with a session cookie like a
browser): median and p95 of ``--repeats`` requests per page after a warm-up,
next to two JSON API calls in the same run for scale.

    python bench/ui.py                          # 1,000 x 10, 30 repeats per page
    python bench/ui.py --prompts 100 --versions 3 --repeats 5   # a quick smoke run

It also seeds a running experiment (20,000 units over 14 days, three metrics), a
collection of 1,000 few-shot examples and 300 change requests with comments (four-eyes
approval), and times their pages, the queue and the forms of the editing pages included.

Target: every page under 50 ms (median); the list page paginates (50 rows per page).
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import random
import re
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from promptvault import Vault
from promptvault.config import Settings
from promptvault.server.app import create_app

TARGET_MS = 50.0


def _seed(vault: Vault, versions: int) -> None:
    """One text and one chat prompt with ``versions`` versions each, pushed for real."""
    for kind in ("text", "chat"):
        name = f"seed/{kind}"
        for v in range(1, versions + 1):
            body = (
                f"You are the assistant for {{{{company}}}}, revision {v}.\n"
                "{{#vip}}Treat this customer as a VIP.{{/vip}}\n"
                f"Answer in {{{{language}}}}. Keep it under {50 + v} words.\n"
            )
            template: str | list[dict[str, str]] = (
                [{"role": "system", "content": body}, {"role": "user", "content": "{{question}}"}]
                if kind == "chat"
                else body + "Question: {{question}}"
            )
            vault.push(
                name,
                template=template,
                config={"model": "gpt-4o", "temperature": round(0.1 * (v % 10), 1)},
                message=f"revision {v}",
                author=f"user{v % 4}",
                labels=["staging"] if v == versions - 1 else None,
            )
        vault.set_label(name, "production", max(versions - 2, 1), actor="bench")


def build(vault: Vault, tmp: Path, prompts: int, versions: int) -> list[str]:
    """``prompts`` prompts in 20 folders with ``versions`` versions each; returns the names.

    Two prompts are pushed through the Vault, exported, copied under new names in the
    backup file and imported in one transaction (pushing 10,000 versions one by one would
    measure push speed, which ``bench/registry.py`` covers).
    """
    started = time.perf_counter()
    with Vault(Settings(home=tmp, database_url=f"sqlite:///{tmp}/seed.db")) as seed:
        _seed(seed, versions)
        seed.export(tmp / "seed.json")
    data = json.loads((tmp / "seed.json").read_text())
    by_type = {item["type"]: item for item in data["prompts"]}
    items = []
    for i in range(prompts):
        item = copy.deepcopy(by_type["chat" if i % 3 == 0 else "text"])
        item["name"] = f"team{i % 20:02d}/prompt-{i:04d}"
        item["tags"] = [f"tag{i % 7}"]
        item["description"] = f"Prompt number {i} of team {i % 20}"
        items.append(item)
    data["prompts"] = items
    (tmp / "registry.json").write_text(json.dumps(data))
    vault.import_(tmp / "registry.json", actor="bench")
    elapsed = time.perf_counter() - started
    print(f"built {prompts} prompts x {versions} versions in {elapsed:.1f} s")
    return sorted(item["name"] for item in items)


def seed_insights(vault: Vault, prompt: str, *, units: int, examples: int) -> None:
    """A running 90/10 experiment on ``prompt`` with outcomes over 14 days (a primary
    metric and two guardrails), and a collection of ``examples`` few-shot examples."""
    started = time.perf_counter()
    # Control must be what the label serves when the experiment starts.
    vault.set_label(prompt, "production", 1, actor="bench")
    vault.experiments.create(
        "bench-tone",
        prompt=prompt,
        variants=[
            {"name": "control", "version": 1, "weight": 90},
            {"name": "friendly", "version": 2, "weight": 10},
        ],
        primary_metric={"name": "resolved", "kind": "binary"},
        guardrails=[
            {"name": "handle_time", "kind": "continuous", "direction": "lower"},
            {"name": "escalated", "kind": "binary", "direction": "lower"},
        ],
        actor="bench",
    )
    vault.experiments.start("bench-tone", actor="bench")
    rng = random.Random(5)
    now = datetime.now(UTC)
    batch: list[dict[str, Any]] = []
    for i in range(units):
        unit, at = f"u{i}", (now - timedelta(days=i % 14)).isoformat()
        batch.append({"type": "exposure", "experiment": "bench-tone", "unit_id": unit, "at": at})
        for metric, value in (
            ("resolved", float(rng.random() < 0.3)),
            ("handle_time", rng.gauss(240, 60)),
            ("escalated", float(rng.random() < 0.05)),
        ):
            batch.append(
                {
                    "type": "outcome",
                    "experiment": "bench-tone",
                    "unit_id": unit,
                    "metric": metric,
                    "value": value,
                    "at": at,
                }
            )
        if len(batch) >= 8000:
            vault.experiments.ingest(batch)
            batch = []
    if batch:
        vault.experiments.ingest(batch)
    vault.examples.create(
        "bench-examples", prompt=prompt, query_template="{{question}}", actor="bench"
    )
    topics = ("refund", "password", "delivery", "invoice", "account", "warranty")
    vault.examples.add_many(
        "bench-examples",
        [
            {
                "input": f"Question {n} about my {topics[n % 6]} and order {n * 7}",
                "output": f"Answer {n}: here is how {topics[n % 6]} works for your order.",
                "category": topics[n % 6],
                "quality": (n % 10) / 10,
            }
            for n in range(examples)
        ],
        actor="bench",
    )
    elapsed = time.perf_counter() - started
    print(
        f"seeded an experiment ({units} units, 14 days) and {examples} examples in {elapsed:.1f} s"
    )


def seed_requests(vault: Vault, names: list[str], count: int) -> None:
    """``count`` change requests over the first prompts (a third decided), two comments each."""
    started = time.perf_counter()
    for n in range(count):
        name = names[n % len(names[:100])]
        made = vault.requests.request(name, f"canary-{n % 7}", 2, actor=f"user{n % 5}")
        vault.requests.comment(name, f"comment {n} on the request", request=made.id, actor="a")
        vault.requests.comment(name, f"comment {n} on v2", version=2, actor="b")
        if n % 3 == 0:
            vault.requests.reject(made.id, actor="approver", comment="not now")
    print(f"seeded {count} change requests in {time.perf_counter() - started:.1f} s")


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"load {one:.2f} / {five:.2f} (1 / 5 min) on {os.cpu_count()} CPUs"


async def sign_in(client: httpx.AsyncClient, key: str) -> str:
    """Sign in like a browser; returns the session's CSRF token."""
    page = await client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token
    response = await client.post("/login", data={"api_key": key, "csrf": token.group(1)})
    assert response.status_code == 303
    home = await client.get("/")
    csrf = re.search(r'name="csrf" value="([^"]+)"', home.text)
    assert csrf
    return csrf.group(1)


async def timed(fn: Callable[[], Awaitable[None]], repeats: int) -> tuple[float, float]:
    """Median and p95 milliseconds of ``repeats`` calls after a warm-up."""
    for _ in range(3):  # warm-up: compiled templates, caches, connection pool
        await fn()
    samples = []
    for _ in range(repeats):
        started = time.perf_counter()
        await fn()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, int(len(samples) * 0.95))]
    return statistics.median(samples), p95


async def run(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        vault = Vault(Settings(home=tmp, database_url=f"sqlite:///{tmp}/bench.db"))
        names = build(vault, tmp, args.prompts, args.versions)
        seed_insights(vault, "team01/prompt-0001", units=args.units, examples=args.examples)
        seed_requests(vault, names, args.requests)
        open_request = vault.requests.list(status="open", limit=1)[0].id
        app = create_app(vault)
        key, _ = app.state.keys.create("bench", "admin", actor="bench")
        text = "team01/prompt-0001"  # i % 3 != 0: a text prompt
        chat = "team00/prompt-0000"  # i % 3 == 0: a chat prompt
        deep = names[int(len(names) * 0.9)]
        last = args.versions
        coll = "/examples/bench-examples"
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            csrf = await sign_in(client, key)

            def get(url: str, expect: str) -> Callable[[], Awaitable[None]]:
                async def call() -> None:
                    response = await client.get(url)
                    assert response.status_code == 200 and expect in response.text, url

                return call

            async def play() -> None:
                response = await client.post(
                    f"/play/{text}",
                    data={
                        "csrf": csrf,
                        "v": str(last),
                        "var_company": "Acme",
                        "var_language": "English",
                        "var_question": "Where is my order?",
                        "var_vip": "1",
                    },
                )
                assert response.status_code == 200 and "openai-json" in response.text

            api = {"Authorization": f"Bearer {key}"}

            async def api_list() -> None:
                response = await client.get("/v1/prompts?limit=50", headers=api)
                assert response.status_code == 200

            async def api_resolve() -> None:
                response = await client.get(f"/v1/prompts/{text}/resolve", headers=api)
                assert response.status_code == 200

            cases: list[tuple[str, Callable[[], Awaitable[None]]]] = [
                ("list page (first 50 of all)", get("/", "Next page")),
                ("list page, search + tag", get("/?q=prompt-00&tag=tag3", 'class="leaf"')),
                ("list page, deep page", get(f"/?after={deep}", 'class="leaf"')),
                ("prompt page (text)", get(f"/prompts/{text}", "Version history")),
                ("prompt page (chat)", get(f"/prompts/{chat}", "Version history")),
                ("diff page (v1 vs last)", get(f"/diff/{text}?a=1&b={last}", "diff-split")),
                ("diff page, inline", get(f"/diff/{text}?a=1&b={last}&view=inline", "d-ins")),
                ("editor page", get(f"/edit/{text}", "Save new version")),
                ("playground form", get(f"/play/{text}", "Render")),
                ("playground render (POST)", play),
                ("audit page", get("/audit", "chip-action")),
                ("experiments list", get("/experiments", "bench-tone")),
                ("experiment page (report, charts)", get("/experiments/bench-tone", "chart")),
                ("collections list", get("/examples", "bench-examples")),
                ("collection page (first 50)", get("/examples/bench-examples", "Next page")),
                ("collection search, meaning", get(f"{coll}?q=refund+order", "Similarity")),
                ("collection search, text", get(f"{coll}?q=warranty&mode=text", "<mark>")),
                ("example edit form", get(f"{coll}/examples/1", "Save example")),
                ("new experiment form", get("/experiments/+new", "Create experiment")),
                ("approval queue (open)", get("/requests", "/requests/")),
                ("approval queue (all)", get("/requests?status=all", "rejected")),
                ("change request page (diff)", get(f"/requests/{open_request}", "Discussion")),
                ("API keys page", get("/keys", "Create key")),
                ("peer: GET /v1/prompts?limit=50", api_list),
                ("peer: GET /v1/.../resolve", api_resolve),
            ]
            print(
                f"\n{args.prompts} prompts x {args.versions} versions, SQLite, "
                f"{args.repeats} requests per row (ASGI in process); {_load()}\n"
            )
            print(f"{'page':<34} {'median ms':>10} {'p95 ms':>8}  target")
            worst = 0.0
            for label, fn in cases:
                median, p95 = await timed(fn, args.repeats)
                peer = label.startswith("peer")
                if not peer:
                    worst = max(worst, median)
                verdict = "" if peer else ("ok" if median < TARGET_MS else "SLOW")
                print(f"{label:<34} {median:>10.2f} {p95:>8.2f}  {verdict}")
            print(f"\nslowest page median: {worst:.2f} ms (target < {TARGET_MS:.0f} ms)")
            print(_load())
        vault.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--prompts", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=30)
    parser.add_argument("--units", type=int, default=20_000, help="experiment units")
    parser.add_argument("--examples", type=int, default=1000, help="few-shot examples")
    parser.add_argument("--requests", type=int, default=300, help="change requests")
    parser.add_argument("--quick", action="store_true", help="smoke run: small data, 3 repeats")
    args = parser.parse_args()
    if args.quick:
        # more than one page (50) of prompts and of examples, so "Next page" shows
        args.prompts, args.versions, args.repeats, args.units, args.examples = 120, 3, 3, 500, 120
        args.requests = 60  # more than one page (50) of the queue
    asyncio.run(run(args))


if __name__ == "__main__":
    main()
