"""Render speed of the Mustache engine next to its peers, in one run.

Usage::

    python bench/render.py            # full run (a few seconds per workload)
    python bench/render.py --quick    # smoke mode: fewer, shorter batches

For each workload it prints nanoseconds per render (the median over repeated batches, CPU
time by default, batches interleaved across renderers so load changes hit all alike), the
machine's load average, and the ratio to the *floor*: the fastest known hand-written code
for that template and that data (the fastest of a ``"".join``, an f-string and an
``itemgetter`` + slot-join version, each converting exactly the values that are not
strings, the fastest known way for their type: a table for small ints, a literal for
bools, ``repr`` for floats). Peers: the naive sequential ``str.replace`` renderer, chevron
(parsing per call, and pre-tokenised), pystache, Jinja2 compiled once (plain
``Environment`` and ``ImmutableSandboxedEnvironment``), ``str.format_map`` and
``string.Template`` (where the workload can be expressed). A peer whose output differs
from ours for some data (pystache and Jinja2 print ``None`` as ``None``) is listed as
differing and not timed.

Workloads: (a) the customer-support prompt, (b) a ~2 KB template with 50 variables each
used once, (c) a section over 100 few-shot examples; each runs with all-string data and
with mixed types (ints, floats, bools and None), and each table includes
``render(source, data)`` through the cache next to the precompiled render. Then compile
times (including a 1 MiB template with 10,000 tags, Mustache and Jinja), and the issue's
targets with the measured figure next to each.
"""

from __future__ import annotations

import argparse
import os
import statistics
import string
import sys
import time
import timeit
from collections.abc import Callable
from dataclasses import dataclass
from operator import itemgetter
from typing import Any

import chevron
import jinja2
import pystache
from jinja2.sandbox import ImmutableSandboxedEnvironment

from promptvault.errors import TemplateLimitError
from promptvault.templating import compile_template, render
from promptvault.templating.mustache import MustacheTemplate
from promptvault.templating.mustache_runtime import SMALL_INTS

Render = Callable[[], object]
# CPU time of this process: other load on a shared machine distorts it far less than
# wall-clock time (``--wall`` switches back).
TIMER: Callable[[], float] = time.process_time


@dataclass
class Workload:
    name: str
    mustache: str
    data: dict[str, Any]  # all strings
    mixed: dict[str, Any]  # the same names with ints, floats, bools and None
    jinja: str
    floors: Callable[[dict[str, Any]], dict[str, Callable[[dict[str, Any]], str]]]
    format_source: str | None = None  # str.format_map / string.Template versions
    template_source: str | None = None
    flat: bool = True  # expressible with the naive str.replace renderer


def _exec(source: str, name: str) -> Callable[[dict[str, Any]], str]:
    namespace: dict[str, Any] = {"itemgetter": itemgetter, "N": SMALL_INTS}
    exec(compile(source, f"<floor {name}>", "exec"), namespace)
    fn: Callable[[dict[str, Any]], str] = namespace[name]
    return fn


def _convert(expr: str, value: Any) -> str:
    """The fastest known text of ``expr`` for a value of ``value``'s type: a table for the
    small ints, a literal for bools, ``repr`` for floats, ``str`` otherwise."""
    kind = type(value)
    if kind is int:
        return f"(N[{expr}] if 0 <= {expr} < 1024 else str({expr}))"
    if kind is bool:
        return f"('True' if {expr} else 'False')"
    return f"repr({expr})" if kind is float else f"str({expr})"


def _as_join(expr: str, value: Any) -> str:
    """``expr`` as a join piece, written by someone who knows the value's type."""
    if value is None:
        return "''"
    return expr if type(value) is str else _convert(expr, value)


def _as_field(expr: str, value: Any) -> str:
    """``expr`` as an f-string field (str and int format natively, bool and float are
    cheaper converted first)."""
    if value is None:
        return ""
    return "{" + (_convert(expr, value) if type(value) in {bool, float} else expr) + "}"


def _literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("{", "{{").replace("}", "}}")


def _flat_floors(
    pieces: list[tuple[bool, str]],
) -> Callable[[dict[str, Any]], dict[str, Callable[[dict[str, Any]], str]]]:
    """Hand-written code for a flat template, (is_var, text) pieces, typed for ``data``."""

    def floors(data: dict[str, Any]) -> dict[str, Callable[[dict[str, Any]], str]]:
        args = ", ".join(
            _as_join(f"d[{text!r}]", data[text]) if var else repr(text) for var, text in pieces
        )
        out = {"floor (join)": _exec(f"def floor(d):\n    return ''.join(({args}))\n", "floor")}
        body = "".join(
            _as_field(f"d[{text!r}]", data[text]) if var else _literal(text) for var, text in pieces
        )
        out["floor (f-string)"] = _exec(f"def floor(d):\n    return f'''{body}'''\n", "floor")
        names = [text for var, text in pieces if var]
        if all(type(data[name]) is str for name in names):
            base: list[str | None] = [""]
            for var, text in pieces:
                if var:
                    base += [None, ""]
                else:
                    base[-1] += text
            source = (
                f"get = itemgetter(*{names!r})\n"
                f"BASE = {base!r}\n"
                "def floor(d):\n"
                "    pieces = BASE.copy()\n"
                "    pieces[1::2] = get(d)\n"
                "    return ''.join(pieces)\n"
            )
            out["floor (itemgetter)"] = _exec(source, "floor")
        return out

    return floors


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
        out = out.replace("{{" + key + "}}", "" if value is None else str(value))
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
    mixed = {"company_name": "Acme Corp", "tone": 3, "question": None}
    fmt = source.replace("{{", "{").replace("}}", "}")
    tmpl = source.replace("{{", "$").replace("}}", "")
    floors = _flat_floors(_pieces(source))
    return Workload("(a) customer support", source, data, mixed, source, floors, fmt, tmpl)


def workload_b() -> Workload:
    parts = []
    data: dict[str, Any] = {}
    mixed: dict[str, Any] = {}
    for i in range(50):
        parts.append(f"Point {i:02d} of the policy is {{{{var_{i:02d}}}}}.\n")
        data[f"var_{i:02d}"] = f"value number {i}"
        mixed[f"var_{i:02d}"] = [f"value number {i}", i, i + 0.25, i % 2 == 0, None][i % 5]
    source = "".join(parts)
    source += "Answer using only these points." + "." * max(0, 2017 - len(source))
    fmt = source.replace("{{", "{").replace("}}", "}")
    tmpl = source.replace("{{", "${").replace("}}", "}")
    floors = _flat_floors(_pieces(source))
    return Workload("(b) 2 KB, 50 vars", source, data, mixed, source, floors, fmt, tmpl)


def _loop_floors(data: dict[str, Any]) -> dict[str, Callable[[dict[str, Any]], str]]:
    """Hand-written code for (c), typed for ``data`` (each example has the same types)."""
    first = data["examples"][0]
    number = _as_join("e['i']", first["i"])
    label = _as_join("e['output']", first["output"])
    join = _exec(
        "def floor(d):\n"
        "    out = ['Classify the sentiment of the last input.\\n\\n']\n"
        "    add = out.extend\n"
        "    for e in d['examples']:\n"
        f"        add(('Input ', {number}, ': ', e['input'], "
        f"'\\nOutput: ', {label}, '\\n\\n'))\n"
        "    out += ('Input: ', d['question'], '\\nOutput:')\n"
        "    return ''.join(out)\n",
        "floor",
    )
    fstring = _exec(
        "def floor(d):\n"
        '    body = \'\'.join([f\'Input {e["i"]}: {e["input"]}\\nOutput: {e["output"]}\\n\\n\''
        " for e in d['examples']])\n"
        "    return f'Classify the sentiment of the last input.\\n\\n{body}Input: "
        '{d["question"]}\\nOutput:\'\n',
        "floor",
    )
    return {"floor (join)": join, "floor (f-string)": fstring}


def workload_c() -> Workload:
    source = (
        "Classify the sentiment of the last input.\n\n"
        "{{#examples}}Input {{i}}: {{input}}\nOutput: {{output}}\n\n{{/examples}}"
        "Input: {{question}}\nOutput:"
    )
    jinja_source = (
        "Classify the sentiment of the last input.\n\n"
        "{% for e in examples %}Input {{ e.i }}: {{ e.input }}\nOutput: {{ e.output }}\n\n"
        "{% endfor %}Input: {{ question }}\nOutput:"
    )
    data = {
        "examples": [
            {"i": str(i), "input": f"Example text number {i}, fairly short.", "output": "positive"}
            for i in range(100)
        ],
        "question": "Is this any good?",
    }
    # The case: an int field in every example (and a bool for the label).
    mixed = {
        "examples": [{**e, "i": i, "output": i % 3 != 0} for i, e in enumerate(data["examples"])],
        "question": "Is this any good?",
    }
    return Workload("(c) 100 few-shot", source, data, mixed, jinja_source, _loop_floors, flat=False)


def _per_batch(fn: Render, target: float) -> int:
    """Calls per batch so that one batch takes about ``target`` seconds."""
    timer, number = timeit.Timer(fn, timer=TIMER), 1
    while (elapsed := timer.timeit(number)) < target / 10:
        number *= 4
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


def run_workload(
    w: Workload, d: dict[str, Any], *, batches: int, target: float
) -> dict[str, float]:
    """Time every renderer on ``d``; outputs are checked against ours first."""
    compiled = compile_template(w.mustache)
    expected = compiled.render(d)
    floors = w.floors(d)
    for name, floor in floors.items():
        assert floor(d) == expected, f"{name} output differs from the engine's"
    env = jinja2.Environment(autoescape=False)
    sandbox = ImmutableSandboxedEnvironment(autoescape=False)
    plain_t = env.from_string(w.jinja)
    sand_t = sandbox.from_string(w.jinja)
    parsed = pystache.parse(w.mustache)
    renderer = pystache.Renderer(escape=lambda s: s, missing_tags="strict")
    tokens = list(chevron.tokenizer.tokenize(w.mustache))

    candidates: dict[str, Render] = {name: (lambda f=f: f(d)) for name, f in floors.items()}
    candidates["promptvault compiled"] = lambda: compiled.render(d)
    candidates["promptvault render() + LRU"] = lambda: render(w.mustache, d)
    peers: dict[str, tuple[Callable[[], str], Render]] = {}
    if w.flat:
        peers["naive str.replace"] = (lambda: naive_replace(w.mustache, d),) * 2
    peers["chevron (parse per call)"] = (lambda: chevron.render(w.mustache, d),) * 2
    peers["chevron (pre-tokenised)"] = (lambda: chevron.render(tokens, d),) * 2
    peers["pystache (parsed)"] = (lambda: renderer.render(parsed, d),) * 2
    peers["jinja2 compiled"] = (lambda: plain_t.render(d),) * 2
    peers["jinja2 sandboxed"] = (lambda: sand_t.render(d),) * 2
    if w.format_source is not None:
        fmt = w.format_source
        peers["str.format_map"] = (lambda: fmt.format_map(d),) * 2
    if w.template_source is not None:
        st = string.Template(w.template_source)
        peers["string.Template"] = (lambda: st.substitute(d),) * 2
    differing = []
    for name, (produce, timed) in peers.items():
        if produce() == expected:
            candidates[name] = timed
        else:
            differing.append(name)
    results = measure_all(candidates, batches=batches, target=target)
    for name in differing:
        results[name] = float("nan")  # output differs for this data: not comparable
    return results


def report(title: str, results: dict[str, float]) -> None:
    floor_name = min((n for n in results if n.startswith("floor")), key=results.__getitem__)
    floor = results[floor_name]
    ours = results["promptvault compiled"]
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\n{title}  (floor = {floor:,.0f} ns, {floor_name}; load average {load})")
    print(f"  {'renderer':30} {'ns/render':>12} {'x floor':>8} {'x ours':>8}")
    for name, ns in results.items():
        if ns != ns:  # NaN
            print(f"  {name:30} {'output differs: not timed':>30}")
            continue
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

    def row(text: str, value: float, goal: str, ok: bool | None) -> None:
        mark = "info" if ok is None else "ok  " if ok else "MISS"
        print(f"  {mark} {text:52} {value:8.2f}  (target {goal})")

    def floor_of(r: dict[str, float]) -> float:
        return min(ns for name, ns in r.items() if name.startswith("floor"))

    print("\ntargets (compiled once, strict mode):")
    for key, floor_max, jinja_min, others in (
        ("a", 2.0, 10.0, (("naive str.replace", 1.0), ("chevron (parse per call)", 20.0))),
        ("b", 2.0, 2.0, (("naive str.replace", 10.0),)),
        ("c", 3.0, 3.0, ()),
    ):
        r = results[key]
        ours = r["promptvault compiled"]
        floor = floor_of(r)
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
        m = results[key + " mixed"]
        mixed = m["promptvault compiled"]
        row(f"({key}) mixed types / all strings", mixed / ours, "<= 1.3", mixed / ours <= 1.3)
        mixed_floor = floor_of(m)
        # The floor itself pays for converting numbers (str(float) alone is ~130 ns), so
        # "mixed within 1.3x of all strings" cannot hold where the floor's own ratio is over.
        floor_ratio = mixed_floor / floor
        row(f"({key}) floor: mixed types / all strings", floor_ratio, "none", None)
        row(f"({key}) mixed types x their floor", mixed / mixed_floor, "none", None)
    m = results["c mixed"]
    ratio = m["promptvault compiled"] / floor_of(m)
    row("(c) with ints x floor", ratio, "<= 3", ratio <= 3)
    speedup = m["jinja2 compiled"] / m["promptvault compiled"]
    row("(c) with ints, times faster than jinja2", speedup, ">= 3", speedup >= 3)
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
    print(f"load average (1, 5, 15 min): {os.getloadavg()} on {os.cpu_count()} CPUs")
    results: dict[str, dict[str, float]] = {}
    for key, w in (("a", workload_a()), ("b", workload_b()), ("c", workload_c())):
        results[key] = run_workload(w, w.data, batches=batches, target=target)
        report(f"{w.name}, all strings", results[key])
        results[key + " mixed"] = run_workload(w, w.mixed, batches=batches, target=target)
        report(f"{w.name}, mixed types", results[key + " mixed"])
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
    jinja_batches = 1 if args.quick else 3
    jinja_s, jinja_refuse_s = big_jinja_compile(batches=jinja_batches)
    print(
        f"  jinja {len(big_jinja_template()):,} bytes, 9,999 tags (best of {jinja_batches})"
        f"   {jinja_s * 1e6:8,.1f} µs  (one tag over max_tags: refused in "
        f"{jinja_refuse_s * 1e3:,.1f} ms)"
    )
    targets(results, compile_us["b"], big_s)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
