"""SDK hot path: warm ``pv.get()`` / ``pv.render()`` in ns per call, next to their floors.

Peers in the same run: a bare dict lookup (the floor of any cache hit) and the compiled
template's own ``render`` (the floor of any render). The network is a MockTransport: after
the first call a warm client never touches it.

    python bench/sdk.py [--number 200000] [--repeat 7]

Figures are the calling thread's CPU time per call (``time.thread_time``), so that time the
thread spends descheduled on a busy machine does not count; the load is printed beside.
Targets: warm get under 1 us; warm render within 1.3x of the compiled render alone (medians
of rounds). The
``[schema]`` case declares its variables (types, a default): the SDK checks the values with
jsonschema and fills the default before rendering, as the server does.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
import timeit

import httpx

from promptvault.client import PromptVaultClient
from promptvault.templating import compile_template

TEMPLATE = (
    "You are a helpful customer support agent for {{company_name}}.\n\n"
    "Your tone should be {{tone}}.\n\nCustomer's question: {{question}}\n\n"
    "Provide a helpful, accurate response."
)
VARIABLES = {"company_name": "Acme", "tone": "friendly", "question": "Where is my order?"}
# A ~2 KB template with 50 variables: where the render itself dominates.
BIG_TEMPLATE = "".join(
    f"Section {i}: {{{{v{i}}}}} and some fixed prose around it.\n" for i in range(50)
)
BIG_VARIABLES = {f"v{i}": f"value {i}" for i in range(50)}
SCHEMA = {
    "type": "object",
    "properties": {
        "company_name": {"type": "string", "minLength": 1},
        "tone": {"type": "string", "default": "friendly"},
        "question": {"type": "string"},
    },
    "required": ["company_name", "question"],
}
VERSION = {
    "name": "customer_support",
    "version": 3,
    "type": "text",
    "syntax": "mustache",
    "template": TEMPLATE,
    "config": {"model": "gpt-4o", "temperature": 0.7, "max_tokens": 500},
    "created_at": "2024-01-01T00:00:00Z",
    "hash": "0" * 64,
    "labels": ["production"],
    "resolved_label": "production",
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--number", type=int, default=100_000, help="calls per case per round")
    parser.add_argument("--repeat", type=int, default=9, help="rounds")
    parser.add_argument("--quick", action="store_true", help="smoke run: 3 rounds x 2,000")
    args = parser.parse_args(argv)
    if args.quick:
        args.number, args.repeat = 2_000, 3

    big_version = {**VERSION, "name": "big", "template": BIG_TEMPLATE, "hash": "1" * 64}
    typed_version = {**VERSION, "name": "typed", "hash": "2" * 64, "variables_schema": SCHEMA}
    by_name = {"big": big_version, "typed": typed_version}

    def answer(request: httpx.Request) -> httpx.Response:
        name = request.url.path.split("/")[3]
        return httpx.Response(200, json=by_name.get(name, VERSION))

    transport = httpx.MockTransport(answer)
    pv = PromptVaultClient("http://bench.invalid", "pv_x", transport=transport, cache_ttl=3600)
    pv.get("customer_support")
    pv.get("customer_support@3")
    assert pv.render("customer_support", VARIABLES) == compile_template(TEMPLATE).render(VARIABLES)
    compiled = compile_template(TEMPLATE)
    big = compile_template(BIG_TEMPLATE)
    assert pv.render("big", BIG_VARIABLES) == big.render(BIG_VARIABLES)
    assert pv.render("typed", VARIABLES) == pv.render("customer_support", VARIABLES)
    without_tone = {k: v for k, v in VARIABLES.items() if k != "tone"}
    table = {"customer_support": object()}

    get = pv.get
    render = pv.render
    rows = [
        ("bare dict lookup", lambda: table.get("customer_support")),
        ("pv.get('customer_support')  [label]", lambda: get("customer_support")),
        ("pv.get('customer_support@3') [pinned]", lambda: get("customer_support@3")),
        ("compiled.render(vars) alone", lambda: compiled.render(VARIABLES)),
        ("pv.render('customer_support', vars)", lambda: render("customer_support", VARIABLES)),
        ("compiled.render(vars) alone [2 KB, 50 vars]", lambda: big.render(BIG_VARIABLES)),
        ("pv.render('big', vars)      [2 KB, 50 vars]", lambda: render("big", BIG_VARIABLES)),
        ("pv.render('typed', vars)    [schema]", lambda: render("typed", VARIABLES)),
        ("pv.render('typed', vars)    [schema, default]", lambda: render("typed", without_tone)),
    ]
    # Rounds interleave the cases so that background load on the machine hits all of them
    # alike; the median over rounds is the figure, the minimum is printed beside it.
    samples: dict[str, list[float]] = {label: [] for label, _ in rows}
    load_before = os.getloadavg()[0]
    for _ in range(args.repeat):
        for label, stmt in rows:
            timer = timeit.Timer(stmt, timer=time.thread_time)
            samples[label].append(timer.timeit(number=args.number) / args.number * 1e9)
    results = {label: (min(v), statistics.median(v)) for label, v in samples.items()}
    print(
        f"python {sys.version.split()[0]}; {args.repeat} rounds x {args.number} calls; "
        f"thread CPU time; load {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    # With opentelemetry-api installed the client's get/render/build are wrapped in a
    # tracing check (promptvault.integrations.otel): say which variant was measured.
    traced = getattr(pv.render, "__wrapped__", None) is not None
    print(f"OpenTelemetry wrapper on get/render/build: {'yes' if traced else 'no'}")
    print(f"{'case':<46}{'min ns':>10}{'median ns':>12}")
    for label, _ in rows:
        lo, med = results[label]
        print(f"{label:<46}{lo:>10.0f}{med:>12.0f}")

    get_ns = results["pv.get('customer_support')  [label]"][1]
    render_ratio = (
        results["pv.render('customer_support', vars)"][1]
        / results["compiled.render(vars) alone"][1]
    )
    big_ratio = (
        results["pv.render('big', vars)      [2 KB, 50 vars]"][1]
        / results["compiled.render(vars) alone [2 KB, 50 vars]"][1]
    )
    ok_get = get_ns < 1000
    ok_render = render_ratio <= 1.3
    print()
    print(f"warm get (median): {get_ns:.0f} ns (target < 1000 ns): {'OK' if ok_get else 'MISSED'}")
    print(
        f"warm render / compiled render (median): {render_ratio:.2f}x (target <= 1.3x): "
        f"{'OK' if ok_render else 'MISSED'}"
    )
    print(f"warm render / compiled render, 2 KB template (median): {big_ratio:.2f}x")
    alone = results["compiled.render(vars) alone"][1]
    typed_ratio = results["pv.render('typed', vars)    [schema]"][1] / alone
    print(f"warm render / compiled render, schema checked (median): {typed_ratio:.2f}x")
    pv.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
