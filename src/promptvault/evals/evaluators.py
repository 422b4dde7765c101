"""Evaluators: turn one output (and its case) into a :class:`Score`.

A stored evaluator is a JSON spec, ``{"type": ..., "name"?: ..., ...}``:

==============  ===============================================================================
type            passes when
==============  ===============================================================================
exact           the output equals ``expected`` (``strip``, ``case_sensitive`` options)
contains        the output contains ``value`` (a string or list; default ``expected``)
not_contains    the output contains none of ``value``
regex           ``pattern`` matches somewhere in the output (``flags``: ``i``, ``m``, ``s``)
json            the output parses as JSON (a surrounding Markdown code fence is allowed)
json_schema     the output parses and is valid against ``schema``
numeric         the first number in the output is within ``tolerance`` of ``expected``
                (``relative: true`` makes it a fraction of ``expected``)
embedding       cosine similarity to ``expected`` >= ``threshold`` (``embedder``: a
                collections embedder, ``hashing`` by default); the score is the similarity
judge           a promptvault prompt (``prompt``: the rubric, e.g. ``judge/tone@production``)
                answers ``{"score", "reason"}``; passes when score / ``scale`` >= ``threshold``
==============  ===============================================================================

In the library any Python callable ``fn(output, case)`` is an evaluator too: it may return
a bool, a number in [0, 1], ``(score, reason)`` or a :class:`Score`, and may be async.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from promptvault.errors import InvalidInputError
from promptvault.evals.models import Case, Score

__all__ = [
    "EVALUATOR_TYPES",
    "Evaluator",
    "EvaluatorDeps",
    "build_evaluators",
    "check_specs",
    "extract_json",
]

EVALUATOR_TYPES = (
    "exact",
    "contains",
    "not_contains",
    "regex",
    "json",
    "json_schema",
    "numeric",
    "embedding",
    "judge",
)
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,99}$")
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
_FENCE = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n(.*?)\n?```\s*$", re.DOTALL)

EvaluatorFn = Callable[[str, Case], Any]


EmbedFn = Callable[[str, list[str]], list[list[float]]]


@dataclass(frozen=True)
class EvaluatorDeps:
    """What the model-backed evaluators need, handed in by the runner: ``embed`` (a
    collections embedder by name) and ``judge`` (build the rubric prompt and call a model;
    returns the model's text)."""

    embed: EmbedFn | None = None
    judge: Callable[[Mapping[str, Any], Mapping[str, Any]], Awaitable[str]] | None = None


@dataclass(frozen=True)
class Evaluator:
    """A named scoring function (``fn`` may be sync or async)."""

    name: str
    fn: Callable[[str, Case], Any]

    async def score(self, output: str, case: Case) -> Score:
        """The function's verdict as a :class:`Score`; an exception is a failed score."""
        try:
            value = self.fn(output, case)
            if inspect.isawaitable(value):
                value = await value
        except Exception as exc:  # an evaluator's own bug is that case's failure
            return Score(name=self.name, score=0.0, passed=False, reason=f"evaluator error: {exc}")
        return _as_score(self.name, value)


def _as_score(name: str, value: Any) -> Score:
    if isinstance(value, Score):
        return value.model_copy(update={"name": name})
    reason = None
    if isinstance(value, tuple) and len(value) == 2:
        value, reason = value
    if isinstance(value, bool):
        return Score(name=name, score=float(value), passed=value, reason=reason)
    number = float(value)
    if not math.isfinite(number):
        number = 0.0
    number = min(max(number, 0.0), 1.0)
    return Score(name=name, score=number, passed=number >= 0.5, reason=reason)


# --- specs -----------------------------------------------------------------------------


def _bad(index: int, message: str, field: str = "") -> InvalidInputError:
    where = f"evaluators[{index}]" + (f".{field}" if field else "")
    return InvalidInputError(f"{where}: {message}", details={"field": where})


def check_specs(specs: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Validated copies of evaluator specs, each with its ``name`` (default: its type)."""
    out: list[dict[str, Any]] = []
    names: set[str] = set()
    if not isinstance(specs, list | tuple):
        raise InvalidInputError("evaluators must be a list", details={"field": "evaluators"})
    for i, raw in enumerate(specs):
        if not isinstance(raw, Mapping):
            raise _bad(i, "must be an object with a 'type'")
        spec = dict(raw)
        kind = spec.get("type")
        if kind not in EVALUATOR_TYPES:
            raise _bad(i, f"type must be one of {', '.join(EVALUATOR_TYPES)}", "type")
        spec.setdefault("name", kind)
        if not isinstance(spec["name"], str) or not _NAME.match(spec["name"]):
            raise _bad(i, "name must be a letter then letters, digits, '_', '.', '-'", "name")
        if spec["name"] in names:
            raise _bad(i, f"a second evaluator named {spec['name']!r}", "name")
        names.add(spec["name"])
        _check_one(i, spec)
        out.append(spec)
    return out


def _check_one(i: int, spec: dict[str, Any]) -> None:
    kind = spec["type"]
    if kind == "regex":
        pattern = spec.get("pattern")
        if not isinstance(pattern, str):
            raise _bad(i, "needs a 'pattern' string", "pattern")
        try:
            re.compile(pattern, _flags(spec.get("flags", "")))
        except (re.error, ValueError) as exc:
            raise _bad(i, f"invalid pattern: {exc}", "pattern") from None
    elif kind in ("contains", "not_contains"):
        value = spec.get("value")
        ok = (
            value is None
            or isinstance(value, str)
            or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        )
        if not ok or (kind == "not_contains" and value is None):
            raise _bad(i, "'value' must be a string or a list of strings", "value")
    elif kind == "json_schema":
        schema = spec.get("schema")
        if not isinstance(schema, Mapping):
            raise _bad(i, "needs a 'schema' object", "schema")
        from jsonschema import Draft202012Validator
        from jsonschema.exceptions import SchemaError

        try:
            Draft202012Validator.check_schema(schema)
        except SchemaError as exc:
            raise _bad(i, f"invalid JSON Schema: {exc.message}", "schema") from None
    elif kind == "numeric":
        tol = spec.setdefault("tolerance", 0.0)
        if isinstance(tol, bool) or not isinstance(tol, int | float) or tol < 0:
            raise _bad(i, "tolerance must be a number >= 0", "tolerance")
    elif kind == "embedding":
        spec.setdefault("embedder", "hashing")
        spec.setdefault("threshold", 0.8)
        _unit(i, spec, "threshold")
    elif kind == "judge":
        if not isinstance(spec.get("prompt"), str) or not spec["prompt"]:
            raise _bad(i, "needs 'prompt': the rubric prompt's reference", "prompt")
        spec.setdefault("threshold", 0.5)
        spec.setdefault("scale", 1)
        _unit(i, spec, "threshold")
        scale = spec["scale"]
        if isinstance(scale, bool) or not isinstance(scale, int | float) or scale <= 0:
            raise _bad(i, "scale must be a number > 0", "scale")


def _unit(i: int, spec: Mapping[str, Any], field: str) -> None:
    value = spec[field]
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        raise _bad(i, f"{field} must be a number from 0 to 1", field)


def _flags(text: Any) -> int:
    table = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL}
    if not isinstance(text, str) or any(c not in table for c in text):
        raise ValueError("flags are a string of i, m, s")
    out = 0
    for c in text:
        out |= table[c]
    return out


# --- building --------------------------------------------------------------------------


def build_evaluators(
    items: Sequence[Mapping[str, Any] | EvaluatorFn], deps: EvaluatorDeps
) -> list[Evaluator]:
    """Evaluators for specs (checked here) and Python callables, in order."""
    specs = check_specs([s for s in items if isinstance(s, Mapping)])
    by_position = iter(specs)
    out: list[Evaluator] = []
    for item in items:
        if isinstance(item, Mapping):
            spec = next(by_position)
            out.append(Evaluator(spec["name"], _from_spec(spec, deps)))
        elif callable(item):
            out.append(Evaluator(getattr(item, "__name__", "custom"), item))
        else:
            raise InvalidInputError(
                "an evaluator is a spec object or a callable", details={"field": "evaluators"}
            )
    names = [e.name for e in out]
    if len(set(names)) != len(names):
        dup = next(n for n in names if names.count(n) > 1)
        raise InvalidInputError(
            f"two evaluators are named {dup!r}", details={"field": "evaluators"}
        )
    return out


def _expected_text(case: Case) -> str:
    if case.expected is None:
        return ""
    if isinstance(case.expected, str):
        return case.expected
    return json.dumps(case.expected, ensure_ascii=False, sort_keys=True)


def extract_json(output: str) -> Any:
    """The JSON value in ``output`` (a Markdown code fence around it is allowed)."""
    fenced = _FENCE.match(output)
    return json.loads(fenced.group(1) if fenced else output)


def _from_spec(spec: Mapping[str, Any], deps: EvaluatorDeps) -> EvaluatorFn:
    kind = spec["type"]
    if kind == "exact":
        strip = bool(spec.get("strip", True))
        sensitive = bool(spec.get("case_sensitive", True))

        def exact(output: str, case: Case) -> Any:
            a, b = output, _expected_text(case)
            if strip:
                a, b = a.strip(), b.strip()
            if not sensitive:
                a, b = a.casefold(), b.casefold()
            return a == b

        return exact
    if kind in ("contains", "not_contains"):
        sensitive = bool(spec.get("case_sensitive", True))
        wanted = spec.get("value")
        negate = kind == "not_contains"

        def contains(output: str, case: Case) -> Any:
            raw = wanted if wanted is not None else _expected_text(case)
            needles = [raw] if isinstance(raw, str) else list(raw)
            hay = output if sensitive else output.casefold()
            found = [n for n in needles if (n if sensitive else n.casefold()) in hay]
            if negate:
                return (not found, f"contains {found[0]!r}" if found else None)
            missing = [n for n in needles if n not in found]
            return (not missing, f"missing {missing[0]!r}" if missing else None)

        return contains
    if kind == "regex":
        compiled = re.compile(spec["pattern"], _flags(spec.get("flags", "")))
        return lambda output, case: compiled.search(output) is not None
    if kind == "json":

        def valid_json(output: str, case: Case) -> Any:
            try:
                extract_json(output)
            except ValueError as exc:
                return (False, f"not JSON: {exc}")
            return True

        return valid_json
    if kind == "json_schema":
        from jsonschema import Draft202012Validator

        validator = Draft202012Validator(spec["schema"])

        def schema(output: str, case: Case) -> Any:
            try:
                value = extract_json(output)
            except ValueError as exc:
                return (False, f"not JSON: {exc}")
            error = next(iter(validator.iter_errors(value)), None)
            if error is None:
                return True
            where = "/".join(str(p) for p in error.absolute_path) or "(root)"
            return (False, f"{where}: {error.message}"[:300])

        return schema
    if kind == "numeric":
        tolerance = float(spec["tolerance"])
        relative = bool(spec.get("relative", False))

        def numeric(output: str, case: Case) -> Any:
            match = _NUMBER.search(output.replace(",", ""))
            if match is None:
                return (False, "no number in the output")
            try:
                want = float(case.expected)
            except (TypeError, ValueError):
                return (False, f"expected {case.expected!r} is not a number")
            got = float(match.group())
            allowed = tolerance * abs(want) if relative else tolerance
            return (abs(got - want) <= allowed, f"{got:g} vs {want:g}")

        return numeric
    if kind == "embedding":
        embedder = str(spec["embedder"])
        threshold = float(spec["threshold"])

        def similar(output: str, case: Case) -> Any:
            if deps.embed is None:
                raise RuntimeError("no embedder is available here")
            a, b = deps.embed(embedder, [output, _expected_text(case)])
            dot = sum(x * y for x, y in zip(a, b, strict=True))
            norm = math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b))
            sim = max(0.0, min(1.0, dot / norm)) if norm else 0.0
            return Score(name="", score=sim, passed=sim >= threshold, reason=f"cosine {sim:.3f}")

        return similar
    # judge
    threshold = float(spec["threshold"])
    scale = float(spec["scale"])

    async def judge(output: str, case: Case) -> Any:
        if deps.judge is None:
            raise RuntimeError("no judge model is available here")
        variables = {
            **case.variables,
            "output": output,
            "expected": _expected_text(case),
            "variables": json.dumps(case.variables, ensure_ascii=False, sort_keys=True),
        }
        answer = await deps.judge(spec, variables)
        try:
            verdict = extract_json(answer.strip())
            raw = float(verdict["score"])
            reason = str(verdict.get("reason", ""))
        except (ValueError, KeyError, TypeError) as exc:
            return Score(name="", score=0.0, passed=False, reason=f"judge answer unusable: {exc}")
        value = min(max(raw / scale, 0.0), 1.0)
        return Score(name="", score=value, passed=value >= threshold, reason=reason[:2000])

    return judge
