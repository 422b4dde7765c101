"""Render speed of the Mustache engine next to its peers, in one run.

Usage::

    python bench/render.py            # full run (a few seconds per workload)
    python bench/render.py --quick    # smoke mode: fewer, shorter batches

For each workload it prints nanoseconds per render (the median over repeated batches, CPU
time by default, batches interleaved across renderers so load changes hit all alike) and
the ratio to the *floor*: the cheapest render CPython can do, i.e. hand-generated code that
joins the literal pieces and the looked-up values (the faster of a ``"".join`` and an
f-string version). Peers: the naive sequential ``str.replace`` renderer, chevron, pystache,
Jinja2 compiled once (plain ``Environment`` and ``ImmutableSandboxedEnvironment``),
``str.format_map`` and ``string.Template`` (where the workload can be expressed).

Workloads: (a) the customer-support prompt, (b) a ~2 KB template with 50 variables each
used once, (c) a section over 100 few-shot examples; each table includes
``render(source, data)`` through the cache next to the precompiled render. Then compile
times (including a 1 MiB template with 10,000 tags), and the issue's targets with the
measured figure next to each.
"""

from __future__ import annotations

import argparse
import statistics
import string
import sys
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import chevron
import jinja2
import pystache
from jinja2.sandbox import ImmutableSandboxedEnvironment

from promptvault.errors import TemplateLimitError
from promptvault.templating import compile_template, render
from promptvault.templating.mustache import MustacheTemplate

Render = Callable[[], object]
# CPU time of this process: other load on a shared machine distorts it far less than
# wall-clock time (``--wall`` switches back).
TIMER: Callable[[], float] = time.process_time


@dataclass
class Workload:
    name: str
    mustache: str
    data: dict[str, Any]
    jinja: str
    floor_join: Callable[[dict[str, Any]], str]
    floor_fstring: Callable[[dict[str, Any]], str]
    format_source: str | None = None  # str.format_map / string.Template versions
    template_source: str | None = None
    flat: bool = True  # expressible with the naive str.replace renderer


def _exec(source: str, name: str) -> Callable[[dict[str, Any]], str]:
    namespace: dict[str, Any] = {}
    exec(compile(source, f"<floor {name}>", "exec"), namespace)
    fn: Callable[[dict[str, Any]], str] = namespace[name]
    return fn


def _floor_flat(pieces: list[tuple[bool, str]]) -> tuple[Callable[..., str], Callable[..., str]]:
    """Hand-generated code for a flat template: (is_var, text) pieces."""
    args = ", ".join(f"d[{text!r}]" if var else repr(text) for var, text in pieces)
    join = _exec(f"def floor(d):\n    return ''.join(({args}))\n", "floor")
    body = "".join(
        "{d[" + repr(text) + "]}" if var else text.replace("{", "{{").replace("}", "}}")
        for var, text in pieces
    )
    fstring = _exec(f"def floor(d):\n    return f'''{body}'''\n", "floor")
    return join, fstring


def _pieces(source: str) -> list[tuple[bool, str]]:
    out: list[tuple[bool, str]] = []
    rest = source
    while "{{" in rest:
        head, _, tail = rest.partition("{{")
        name, _, rest = tail.partition("}}")
        out += [(False, head), (True, name.strip())]
    out.append((False, rest))
    return [p for p in out if p[1] or p[0]]


def naive_replace(source: str, data: dict[str, Any]) -> str:
    """The sequential str.replace renderer (re-substitutes values: unsafe, for scale only)."""
    out = source
    for key, value in data.items():
        out = out.replace("{{" + key + "}}", str(value))
    return out


def workload_a() -> Workload:
    source = (
        "You are a helpful customer support agent for {{company_name}}.\n\n"
        "Your tone should be {{tone}}.\n\nCustomer's question: {{question}}\n\n"
        "Provide a helpful, accurate response."
    )
    data = {
        "company_name": "Acme Corp",
        "tone": "friendly and concise",
        "question": "Where is my order #12345? It was due on Monday.",
    }
    join, fstring = _floor_flat(_pieces(source))
    fmt = source.replace("{{", "{").replace("}}", "}")
    tmpl = source.replace("{{", "$").replace("}}", "")
    return Workload("(a) customer support", source, data, source, join, fstring, fmt, tmpl)


def workload_b() -> Workload:
    parts = []
    data = {}
    for i in range(50):
        parts.append(f"Point {i:02d} of the policy is {{{{var_{i:02d}}}}}.\n")
        data[f"var_{i:02d}"] = f"value number {i}"
    source = "".join(parts)
    source += "Answer using only these points." + "." * max(0, 2017 - len(source))
    join, fstring = _floor_flat(_pieces(source))
    fmt = source.replace("{{", "{").replace("}}", "}")
    tmpl = source.replace("{{", "${").replace("}}", "}")
    return Workload("(b) 2 KB, 50 vars", source, data, source, join, fstring, fmt, tmpl)


def workload_c() -> Workload:
    source = (
        "Classify the sentiment of the last input.\n\n"
        "{{#examples}}Input: {{input}}\nOutput: {{output}}\n\n{{/examples}}"
        "Input: {{question}}\nOutput:"
    )
    jinja_source = (
        "Classify the sentiment of the last input.\n\n"
        "{% for e in examples %}Input: {{ e.input }}\nOutput: {{ e.output }}\n\n{% endfor %}"
        "Input: {{ question }}\nOutput:"
    )
    data = {
        "examples": [
            {"input": f"Example text number {i}, fairly short.", "output": "positive"}
            for i in range(100)
        ],
        "question": "Is this any good?",
    }
    join = _exec(
        "def floor(d):\n"
        "    out = ['Classify the sentiment of the last input.\\n\\n']\n"
        "    add = out.extend\n"
        "    for e in d['examples']:\n"
        "        add(('Input: ', e['input'], '\\nOutput: ', e['output'], '\\n\\n'))\n"
        "    out += ('Input: ', d['question'], '\\nOutput:')\n"
        "    return ''.join(out)\n",
        "floor",
    )
    fstring = _exec(
        "def floor(d):\n"
        "    body = ''.join([f'Input: {e[\"input\"]}\\nOutput: {e[\"output\"]}\\n\\n'"
        " for e in d['examples']])\n"
        "    return f'Classify the sentiment of the last input.\\n\\n{body}Input: "
        '{d["question"]}\\nOutput:\'\n',
        "floor",
    )
    return Workload("(c) 100 few-shot", source, data, jinja_source, join, fstring, flat=False)


def _per_batch(fn: Render, target: float) -> int:
    number, elapsed = timeit.Timer(fn, timer=TIMER).autorange()
    return max(1, int(number * target / max(elapsed, 1e-9)))


def measure_all(candidates: dict[str, Render], *, batches: int, target: float) -> dict[str, float]:
    """Median ns per call for each candidate; batches are interleaved round-robin so that a
    change in machine load hits every candidate alike."""
    sizes = {name: _per_batch(fn, target) for name, fn in candidates.items()}
    samples: dict[str, list[float]] = {name: [] for name in candidates}
    for _ in range(batches):
        for name, fn in candidates.items():
            per = sizes[name]
            samples[name].append(timeit.Timer(fn, timer=TIMER).timeit(per) / per * 1e9)
    return {name: statistics.median(values) for name, values in samples.items()}


def run_workload(w: Workload, *, batches: int, target: float) -> dict[str, float]:
    d = w.data
    compiled = compile_template(w.mustache)
    expected = w.floor_join(d)
    assert compiled.render(d) == expected, "engine output differs from the floor"
    assert w.floor_fstring(d) == expected
    assert chevron.render(w.mustache, d) == expected
    env = jinja2.Environment(autoescape=False)
    sandbox = ImmutableSandboxedEnvironment(autoescape=False)
    plain_t = env.from_string(w.jinja)
    sand_t = sandbox.from_string(w.jinja)
    parsed = pystache.parse(w.mustache)
    renderer = pystache.Renderer(escape=lambda s: s, missing_tags="strict")
    assert renderer.render(parsed, d) == expected

    candidates: dict[str, Render] = {
        "floor (join)": lambda: w.floor_join(d),
        "floor (f-string)": lambda: w.floor_fstring(d),
        "promptvault compiled": lambda: compiled.render(d),
        "promptvault render() + LRU": lambda: render(w.mustache, d),
    }
    if w.flat:
        assert naive_replace(w.mustache, d) == expected
        candidates["naive str.replace"] = lambda: naive_replace(w.mustache, d)
    candidates["chevron"] = lambda: chevron.render(w.mustache, d)
    candidates["pystache (parsed)"] = lambda: renderer.render(parsed, d)
    candidates["jinja2 compiled"] = lambda: plain_t.render(d)
    candidates["jinja2 sandboxed"] = lambda: sand_t.render(d)
    if w.format_source is not None:
        fmt = w.format_source
        assert fmt.format_map(d) == expected
        candidates["str.format_map"] = lambda: fmt.format_map(d)
    if w.template_source is not None:
        st = string.Template(w.template_source)
        assert st.substitute(d) == expected
        candidates["string.Template"] = lambda: st.substitute(d)
    return measure_all(candidates, batches=batches, target=target)


def report(w: Workload, results: dict[str, float]) -> None:
    floor = min(results["floor (join)"], results["floor (f-string)"])
    ours = results["promptvault compiled"]
    print(f"\n{w.name}  (floor = {floor:,.0f} ns)")
    print(f"  {'renderer':30} {'ns/render':>12} {'x floor':>8} {'x ours':>8}")
    for name, ns in results.items():
        print(f"  {name:30} {ns:12,.0f} {ns / floor:8.2f} {ns / ours:8.1f}")


def compile_cost(source: str, *, batches: int) -> float:
    counter = iter(range(10**9))

    def once() -> None:
        # A fresh source each time so nothing is cached; same length and shape.
        MustacheTemplate(f"{next(counter):08d}" + source)

    return measure_all({"compile": once}, batches=batches, target=0.05)["compile"]


def big_template(tags: int = 10_000, size: int = 1 << 20) -> str:
    """A ``size``-byte template with ``tags`` tags: sections, inverted sections, names."""
    unit = "{{#items}}%s{{name}}{{/items}}{{^flag}}%s{{/flag}}{{other}}"
    per_unit = 6
    filler = "x" * ((size // (tags // per_unit)) // 2 - 40)
    source = (unit % (filler, filler)) * (tags // per_unit)
    return source + "y" * (size - len(source))


def big_compile(*, batches: int) -> tuple[float, float]:
    """Seconds to compile and to render the 1 MiB, 10,000-tag template (issue target)."""
    source = big_template()
    data = {"items": [{"name": "n"}], "flag": False, "other": "o"}
    compile_s = render_s = float("inf")
    for n in range(batches):
        start = TIMER()
        template = MustacheTemplate(source + str(n))
        compile_s = min(compile_s, TIMER() - start)
        start = TIMER()
        template.render(data)
        render_s = min(render_s, TIMER() - start)
    return compile_s, render_s


def big_jinja_template(tags: int = 9_999, size: int = (1 << 20) - 64) -> str:
    """A ``size``-byte Jinja template with ``tags`` tags (loops, conditions, names)."""
    unit = "{%% for i in items %%}%s{{ i.name }}{%% endfor %%}{%% if flag %%}%s{%% endif %%}{{ o }}"
    per_unit = 6
    count = tags // per_unit
    filler = "x" * ((size // count) // 2 - 50)
    source = (unit % (filler, filler)) * count + "{{ o }}" * (tags - count * per_unit)
    return source + "y" * (size - len(source))


def big_jinja_compile(*, batches: int) -> tuple[float, float]:
    """Seconds to compile the largest Jinja template within ``max_tags``, and to refuse one
    tag past it (best of ``batches``, fresh sources: nothing cached)."""
    under = big_jinja_template()
    over = under + "{{ o }}" * 2
    compile_s = refuse_s = float("inf")
    for n in range(batches):
        start = TIMER()
        compile_template(under + str(n), syntax="jinja")
        compile_s = min(compile_s, TIMER() - start)
        start = TIMER()
        try:
            compile_template(over + str(n), syntax="jinja")
        except TemplateLimitError:
            refuse_s = min(refuse_s, TIMER() - start)
        else:
            raise AssertionError("a Jinja template over max_tags compiled")
    return compile_s, refuse_s


def calibration(*, batches: int) -> float:
    """A fixed pure-Python loop: compare machines (and load) with this figure."""
    return measure_all(
        {"loop": lambda: [i * 2 for i in range(1000)]}, batches=batches, target=0.05
    )["loop"]


def targets(results: dict[str, dict[str, float]], compile_us: float, big_compile_s: float) -> None:
    """Each target with its measured figure (informational: nothing here fails)."""

    def row(text: str, value: float, goal: str, ok: bool) -> None:
        print(f"  {'ok ' if ok else 'MISS'} {text:52} {value:8.2f}  (target {goal})")

    print("\ntargets (compiled once, strict mode):")
    for key, floor_max, jinja_min, others in (
        ("a", 2.0, 10.0, (("naive str.replace", 1.0), ("chevron", 20.0))),
        ("b", 2.0, 2.0, (("naive str.replace", 10.0),)),
        ("c", 3.0, 3.0, ()),
    ):
        r = results[key]
        ours = r["promptvault compiled"]
        floor = min(r["floor (join)"], r["floor (f-string)"])
        row(f"({key}) x floor", ours / floor, f"<= {floor_max}", ours / floor <= floor_max)
        speedup = r["jinja2 compiled"] / ours
        row(
            f"({key}) times faster than jinja2 compiled",
            speedup,
            f">= {jinja_min}",
            speedup >= jinja_min,
        )
        for peer, minimum in others:
            speedup = r[peer] / ours
            goal = "> 1" if minimum == 1.0 else f">= {minimum}"
            row(
                f"({key}) times faster than {peer}",
                speedup,
                goal,
                speedup > minimum if minimum == 1.0 else speedup >= minimum,
            )
        cached = r["promptvault render() + LRU"] / ours
        row(f"({key}) render(source, data) / precompiled", cached, "<= 1.5", cached <= 1.5)
    row("compile (b) in µs", compile_us, "< 200", compile_us < 200)
    row("compile 1 MiB, 10,000 tags, in s", big_compile_s, "< 1", big_compile_s < 1)


def main(argv: list[str] | None = None) -> int:
    global TIMER  # noqa: PLW0603 - set once, before anything is measured
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smoke mode: short batches")
    parser.add_argument("--wall", action="store_true", help="wall-clock instead of CPU time")
    args = parser.parse_args(argv)
    TIMER = time.perf_counter if args.wall else time.process_time
    batches, target = (3, 0.02) if args.quick else (11, 0.1)
    clock = "wall-clock" if args.wall else "CPU"
    print(f"Python {sys.version.split()[0]}; {clock} time, median of {batches} interleaved batches")
    loop = calibration(batches=batches) / 1000
    print(f"calibration: a 1000-step list comprehension takes {loop:,.1f} µs")
    results: dict[str, dict[str, float]] = {}
    for key, w in (("a", workload_a()), ("b", workload_b()), ("c", workload_c())):
        results[key] = run_workload(w, batches=batches, target=target)
        report(w, results[key])
    b = workload_b()
    print("\ncompile (fresh source each time; no cache):")
    compile_us: dict[str, float] = {}
    for label, source in (
        (f"(b) {len(b.mustache)} chars, 50 plain variables", b.mustache),
        ("(a) customer support", workload_a().mustache),
        ("(c) 100 few-shot (a section)", workload_c().mustache),
        ("(b) with its variables inside a section", "{{#on}}" + b.mustache[:-15] + "{{/on}}"),
    ):
        ns = compile_cost(source, batches=batches)
        compile_us.setdefault("b", ns / 1000)
        print(f"  {label:45} {ns / 1000:8,.1f} µs")
    big_source = big_template()
    big_s, big_render_s = big_compile(batches=batches)
    print(
        f"  {len(big_source):,} bytes, 10,000 tags (best of {batches})      "
        f"{big_s * 1e6:8,.1f} µs  (render {big_render_s * 1e3:,.1f} ms)"
    )
    jinja_s, jinja_refuse_s = big_jinja_compile(batches=min(batches, 3))
    print(
        f"  jinja {len(big_jinja_template()):,} bytes, 9,999 tags (best of {min(batches, 3)})"
        f"   {jinja_s * 1e6:8,.1f} µs  (one tag over max_tags: refused in "
        f"{jinja_refuse_s * 1e3:,.1f} ms)"
    )
    targets(results, compile_us["b"], big_s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
