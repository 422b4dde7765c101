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

Then two peers against a real promptvault server on a loopback port (SQLite, in a thread):
the Langfuse SDK's warm ``get_prompt`` + ``compile`` through promptvault's
Langfuse-compatible API next to promptvault's warm ``pv.get`` + ``pv.render`` (target:
promptvault at least 10x faster), and the server-side cost of that API: the median
round trip of ``GET /api/public/v2/prompts/{name}`` next to ``GET /v1/prompts/{name}/resolve``
(target: under 1 ms more). Last, OpenTelemetry on a warm ``pv.build()`` (``--otel`` runs
only this part): a tracer provider with no exporter, then with an in-memory exporter,
outside any trace and inside a recording one, next to an uninstrumented client (target:
under 2 us added with no exporter).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
import timeit
from typing import Any

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
    parser.add_argument("--otel", action="store_true", help="only the OpenTelemetry part")
    args = parser.parse_args(argv)
    if args.quick:
        args.number, args.repeat = 2_000, 3
    if args.otel:
        otel_overhead(args.number, args.repeat)
        return 0

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
    peers(args.number // 10 or 1, args.repeat, quick=args.quick)
    return 0


def _interleaved(rows: list[tuple[str, Any]], number: int, repeat: int) -> dict[str, float]:
    """Median thread-CPU ns per call of each row, rounds interleaved."""
    samples: dict[str, list[float]] = {label: [] for label, _ in rows}
    for _ in range(repeat):
        for label, stmt in rows:
            timer = timeit.Timer(stmt, timer=time.thread_time)
            samples[label].append(timer.timeit(number=number) / number * 1e9)
    return {label: statistics.median(v) for label, v in samples.items()}


def _serve(vault: Any) -> tuple[Any, threading.Thread, str, str]:
    import uvicorn

    from promptvault.server.app import create_app

    app = create_app(vault)
    key = app.state.keys.create("bench", "admin", actor="bench")[0]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline:
            raise SystemExit("the benchmark server did not start")
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    return server, thread, f"http://127.0.0.1:{port}", key


def peers(number: int, repeat: int, *, quick: bool) -> None:
    """Langfuse SDK peer, the compatible API's server cost, and OpenTelemetry's cost."""
    from langfuse import Langfuse

    from promptvault import Vault
    from promptvault.config import Settings
    from promptvault.registry.keys import langfuse_pair

    home = tempfile.mkdtemp(prefix="pv-bench-")
    vault = Vault(Settings(database_url=f"sqlite:///{home}/bench.db"))
    langfuse_text = TEMPLATE.replace("{{", "{{ ").replace("}}", " }}")
    vault.push("lf/support", template=langfuse_text, syntax="langfuse", author="bench")
    vault.push("pv/support", template=TEMPLATE, author="bench")  # the same text, Mustache
    server, thread, base, key = _serve(vault)
    public, secret = langfuse_pair(key)
    lf = Langfuse(public_key=public, secret_key=secret, host=base, tracing_enabled=False)
    pv = PromptVaultClient(base, key, cache_ttl=3600)
    expected = lf.get_prompt("lf/support").compile(**VARIABLES)
    assert pv.render("lf/support", VARIABLES) == expected
    assert pv.render("pv/support", VARIABLES) == expected
    get_prompt, pv_get, pv_render = lf.get_prompt, pv.get, pv.render

    def langfuse_warm() -> object:
        return get_prompt("lf/support").compile(**VARIABLES)

    def promptvault_warm() -> object:
        pv_get("lf/support")
        return pv_render("lf/support", VARIABLES)

    def promptvault_mustache() -> object:
        pv_get("pv/support")
        return pv_render("pv/support", VARIABLES)

    rows = [
        ("langfuse get_prompt + compile [warm]", langfuse_warm),
        ("pv.get + pv.render   [warm, langfuse syntax]", promptvault_warm),
        ("pv.get + pv.render   [warm, Mustache]", promptvault_mustache),
    ]
    load = os.getloadavg()[0]
    warm = _interleaved(rows, number, repeat)
    print()
    print(f"peers on a loopback server; {repeat} rounds x {number} calls; load {load:.1f}")
    for label, _ in rows:
        print(f"{label:<46}{warm[label]:>22.0f} ns")
    same = warm[rows[0][0]] / warm[rows[1][0]]
    speedup = warm[rows[0][0]] / warm[rows[2][0]]
    print(
        f"warm get + render vs Langfuse SDK warm get + compile: {speedup:.1f}x faster "
        f"(target >= 10x): {'OK' if speedup >= 10 else 'MISSED'}; "
        f"{same:.1f}x with the langfuse syntax"
    )

    # Server side: the same prompt through both APIs, round trips interleaved.
    calls = 20 if quick else 300
    auth = {"Authorization": f"Bearer {key}"}
    paths = {
        "GET /api/public/v2/prompts/{name}": "/api/public/v2/prompts/lf%2Fsupport",
        "GET /v1/prompts/{name}/resolve": "/v1/prompts/lf/support/resolve",
    }
    trips: dict[str, list[float]] = {label: [] for label in paths}
    with httpx.Client(base_url=base, headers=auth) as http:
        for path in paths.values():
            http.get(path).raise_for_status()
        for _ in range(calls):
            for label, path in paths.items():
                started = time.perf_counter()
                http.get(path)
                trips[label].append((time.perf_counter() - started) * 1e6)
    medians = {label: statistics.median(v) for label, v in trips.items()}
    for label in paths:
        print(f"{label:<46}{medians[label]:>22.0f} us round trip")
    added = medians["GET /api/public/v2/prompts/{name}"] - medians["GET /v1/prompts/{name}/resolve"]
    print(
        f"Langfuse-compatible endpoint adds {added:.0f} us per fetch (target < 1000 us): "
        f"{'OK' if added < 1000 else 'MISSED'}"
    )
    lf.shutdown()
    pv.close()
    server.should_exit = True
    thread.join(10)
    vault.close()
    otel_overhead(number, repeat)


def otel_overhead(number: int, repeat: int) -> None:
    """Warm ``pv.build()`` with OpenTelemetry off, on with no exporter, and on with an
    in-memory exporter (outside a trace, and inside a recording one), each next to an
    uninstrumented client in the same interleaved rounds."""
    from opentelemetry import trace
    from opentelemetry.context import attach, detach
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    import promptvault.integrations.otel as otel

    provider = TracerProvider()
    trace.set_tracer_provider(provider)  # tracing on, nothing exported yet
    transport = httpx.MockTransport(lambda request: httpx.Response(200, json=VERSION))
    traced = PromptVaultClient("http://bench.invalid", "pv_x", transport=transport)
    looked_up, otel._tracer = otel._tracer, None  # as if OpenTelemetry were not installed
    plain = PromptVaultClient("http://bench.invalid", "pv_x", transport=transport)
    otel._tracer = looked_up
    for client in (traced, plain):
        client.build("customer_support", VARIABLES)
    app = trace.get_tracer("bench-app")
    outer = app.start_span("request")
    inside = trace.set_span_in_context(outer)

    def in_trace() -> object:
        token = attach(inside)
        try:
            return traced.build("customer_support", VARIABLES)
        finally:
            detach(token)

    def plain_build() -> object:
        return plain.build("customer_support", VARIABLES)

    def plain_in_trace() -> object:  # the application's own cost of entering its trace
        token = attach(inside)
        try:
            return plain.build("customer_support", VARIABLES)
        finally:
            detach(token)

    def outside() -> object:
        return traced.build("customer_support", VARIABLES)

    load = os.getloadavg()[0]
    off, off_in = "pv.build [tracing off]", "pv.build [tracing off, in the app's trace]"
    quiet = _interleaved(
        [
            (off, plain_build),
            ("pv.build [on, no exporter, outside a trace]", outside),
            (off_in, plain_in_trace),
            ("pv.build [on, no exporter, in a trace]", in_trace),
        ],
        number,
        repeat,
    )
    exporter = InMemorySpanExporter()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # Every span is kept in memory: fewer calls per round, emptied between rounds.
    per_round = min(number, 20_000)

    def exported() -> object:
        if len(exporter._finished_spans) >= per_round:
            exporter.clear()
        return in_trace()

    loud = _interleaved(
        [
            (off, plain_build),
            ("pv.build [on, in-memory exporter, outside]", outside),
            (off_in, plain_in_trace),
            ("pv.build [on, in-memory exporter, in a trace]", exported),
        ],
        per_round,
        repeat,
    )
    spans = len(exporter.get_finished_spans())
    print()
    print(f"OpenTelemetry on warm build; {repeat} rounds; load {load:.1f}")

    # Each traced row against the untraced one made the same way (in or out of a trace).
    def added(results: dict[str, float], label: str) -> float:
        return results[label] - results[off_in if "in a trace" in label else off]

    for results in (quiet, loud):
        for label, value in results.items():
            extra = "" if label in (off, off_in) else f"  (+{added(results, label) / 1000:.2f} us)"
            print(f"{label:<50}{value:>12.0f} ns{extra}")
    worst = max(added(quiet, label) for label in quiet if label not in (off, off_in))
    span = added(loud, "pv.build [on, in-memory exporter, in a trace]")
    print(
        f"OpenTelemetry on, no exporter, adds {worst / 1000:.2f} us (target < 2 us): "
        f"{'OK' if worst < 2000 else 'MISSED'}; with an exporter one span costs "
        f"{span / 1000:.1f} us ({spans} spans exported in the last round)"
    )
    outer.end()
    traced.close()
    plain.close()


if __name__ == "__main__":
    raise SystemExit(main())
