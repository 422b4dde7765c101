"""The sandboxed Jinja environment behind ``syntax="jinja"``.

Jinja's :class:`~jinja2.sandbox.ImmutableSandboxedEnvironment` already refuses private
attributes and mutation. This module closes what it leaves open for templates written by
people who should not be able to take the process down or read its memory:

* no globals but a bounded ``range`` and ``dict`` (no ``cycler``/``joiner``/``lipsum``, whose
  ``__init__.__globals__`` are classic escape hatches);
* any attribute starting with ``_`` and a list of frame/code/function internals is refused,
  and an unsafe access raises at once instead of yielding an undefined value that a lenient
  render would print as an empty string;
* size checks *before* anything is allocated for ``*``, ``**``, ``+``, ``%``, ``~``, printing
  a container, the amplifying ``str`` methods and filters (``center``, ``indent``,
  ``replace``, ``join``, ``format``, ``string``, ``tojson``, ``forceescape``...), in
  :mod:`promptvault.templating.jinja_limits`;
* a per-render step budget (loop iterations and calls) and a partial nesting depth.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, MutableMapping
from contextvars import ContextVar
from types import BuiltinMethodType, MethodDescriptorType
from typing import Any

from jinja2 import (
    BaseLoader,
    ChainableUndefined,
    StrictUndefined,
    TemplateNotFound,
    Undefined,
    nodes,
    pass_eval_context,
)
from jinja2 import Template as JinjaCompiled
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.idtracking import VAR_LOAD_RESOLVE
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, Macro, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment

from promptvault.templating.base import Escape, Limits, PartialSource
from promptvault.templating.jinja_analysis import GADGET_ATTRIBUTES, check_security, instrument
from promptvault.templating.jinja_limits import (
    check_format_spec,
    check_mul,
    check_pow,
    check_printed,
    check_printf,
    check_str_method,
    check_tag_count,
    guarded_filters,
    limit_error,
    over_limit,
    printed_size,
)

__all__ = [
    "STATE",
    "UNDECLARED",
    "PartialLoader",
    "RenderState",
    "SandboxEnvironment",
    "lookup_partial",
]

_MACRO_STEPS = 10


# Set by JinjaTemplate around its compile: the code generator adds every name the template
# resolves from the context (what jinja2.meta.find_undeclared_variables reports).
UNDECLARED: ContextVar[set[str] | None] = ContextVar("promptvault_jinja_names", default=None)


class _TrackingGenerator(CodeGenerator):
    def enter_frame(self, frame: Frame) -> None:
        super().enter_frame(frame)
        names = UNDECLARED.get()
        if names is None:
            return
        for action, param in frame.symbols.loads.values():
            if action == VAR_LOAD_RESOLVE and param not in self.environment.globals:
                names.add(param)


class RenderState:
    """Work done by the render in progress: steps taken and current partial depth."""

    __slots__ = ("depth", "steps")

    def __init__(self) -> None:
        self.steps = 0
        self.depth = 0


# Set by JinjaTemplate.render around the consumption of the output generator.
STATE: ContextVar[RenderState | None] = ContextVar("promptvault_jinja_state", default=None)


def lookup_partial(partials: PartialSource | None, name: str) -> str | None:
    """The source of partial ``name``, or None when unknown."""
    if partials is None:
        return None
    value = partials.get(name) if isinstance(partials, Mapping) else partials(name)
    return value if isinstance(value, str) else None


class PartialLoader(BaseLoader):
    """Resolves ``{% include %}``/``{% extends %}``/``{% import %}`` names through partials."""

    def __init__(self, partials: PartialSource | None, limits: Limits) -> None:
        self._partials = partials
        self._limits = limits

    def get_source(
        self, environment: Any, template: str
    ) -> tuple[str, str | None, Callable[[], bool] | None]:
        source = lookup_partial(self._partials, template)
        if source is None:
            raise TemplateNotFound(template)
        size = len(source.encode("utf-8", "surrogatepass"))
        if size > self._limits.max_source_bytes:
            raise limit_error(
                f"partial {template!r} is {size} bytes, over the "
                f"{self._limits.max_source_bytes}-byte limit",
                "max_source_bytes",
                size,
                self._limits.max_source_bytes,
            )
        check_tag_count(source, self._limits.max_tags, template)
        # The filename is the partial's name so tracebacks point into the right template.
        return source, template, lambda: True


class _DepthTemplate(JinjaCompiled):
    """A compiled template whose body counts partial nesting (include, extends, import)."""

    @classmethod
    def _from_namespace(
        cls,
        environment: Any,
        namespace: MutableMapping[str, Any],
        globals: MutableMapping[str, Any],
    ) -> JinjaCompiled:
        compiled = super()._from_namespace(environment, namespace, globals)
        root = compiled.root_render_func
        max_depth = environment.limits.max_depth

        def guarded(context: Context) -> Iterator[str]:
            state = STATE.get()
            if state is None:
                yield from root(context)
                return
            state.depth += 1
            try:
                if state.depth > max_depth + 1:  # the top template itself is depth 1
                    raise limit_error(
                        f"partials nest deeper than {max_depth} levels",
                        "max_depth",
                        state.depth - 1,
                        max_depth,
                    )
                yield from root(context)
            finally:
                state.depth -= 1

        compiled.root_render_func = guarded
        compiled.unguarded_root = root  # type: ignore[attr-defined]
        return compiled


def _finalizer(cap: int) -> Callable[[Any], Any]:
    def finalize(value: Any) -> Any:
        # Prompt mode: None prints nothing and containers print as JSON, not as Python
        # reprs; a container is measured before its JSON is built ([a, a, a...] of a long a).
        if value.__class__ is str:  # the common case, first and cheapest
            return value
        if value is None:
            return ""
        if isinstance(value, (dict, list, tuple)):
            check_printed(value, cap, "a printed value")
            return json.dumps(value, ensure_ascii=False, default=str)
        return value

    return finalize


class SandboxEnvironment(ImmutableSandboxedEnvironment):
    """ImmutableSandboxedEnvironment with bounded sizes and work and no dangerous globals."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    code_generator_class = _TrackingGenerator

    def __init__(
        self, *, limits: Limits, escape: Escape, strict: bool, partials: PartialSource | None
    ) -> None:
        super().__init__(
            undefined=StrictUndefined if strict else ChainableUndefined,
            autoescape=escape == "html",
            keep_trailing_newline=True,
            loader=PartialLoader(partials, limits),
            finalize=_finalizer(limits.max_output_bytes),
            auto_reload=False,
        )
        self.limits = limits
        self.template_class = _DepthTemplate
        self.globals.clear()
        self.globals.update(range=self._range, dict=dict)
        self.filters.update(guarded_filters(limits))
        # Macros and call blocks join their output with environment.concat.
        self.concat = self._concat  # type: ignore[method-assign]

    def _generate(
        self,
        source: nodes.Template,
        name: str | None,
        filename: str | None,
        defer_init: bool = False,
    ) -> str:
        # Jinja's documented hook between parse and code generation: every template this
        # environment compiles (the main one and each partial) is checked and instrumented.
        check_security(source, name)
        instrument(source)
        return super()._generate(source, name, filename, defer_init=defer_init)

    # --- attribute and call policy ------------------------------------------------------

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """Refuse private names and frame/code gadgets on top of the sandbox's own rules."""
        if attr.startswith("_") or attr in GADGET_ATTRIBUTES:
            return False
        return super().is_safe_attribute(obj, attr, value)

    def is_safe_callable(self, obj: Any) -> bool:
        """Also refuse the unbound ``str.format``/``format_map``, which would bypass the
        sandbox's formatter if a ``str`` type ever reached a template through data."""
        if isinstance(obj, MethodDescriptorType) and obj.__name__ in ("format", "format_map"):
            return False
        return bool(super().is_safe_callable(obj))

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        """Raise at once: an undefined placeholder would print as '' in a lenient render."""
        raise SecurityError(
            f"access to attribute {attribute!r} of {type(obj).__name__!r} object is unsafe"
        )

    def call(
        __self,
        __context: Context,
        __obj: Any,
        *args: Any,
        **kwargs: Any,
    ) -> Any:
        """Count the call against the step budget and size-check amplifying str methods."""
        # A macro call costs far more than a loop step (argument binding, a nested output
        # buffer), so it is charged accordingly: recursive macro bombs stop early.
        __self.tick(_MACRO_STEPS if isinstance(__obj, Macro) else 1)
        owner = getattr(__obj, "__self__", None)
        if isinstance(__obj, BuiltinMethodType) and isinstance(owner, str):
            args = check_str_method(__obj.__name__, owner, args, kwargs, __self.limits)
        return super().call(__context, __obj, *args, **kwargs)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """The sandbox's safe ``str.format``, plus a check on field widths."""
        fmt = super().wrap_str_format(value)
        if fmt is None:
            return None
        text: str = value.__self__
        is_map = value.__name__ == "format_map"
        limits = self.limits

        def checked(*args: Any, **kwargs: Any) -> str:
            values = list(args[0].values()) if is_map and args else [*args, *kwargs.values()]
            check_format_spec(text, values, limits)
            return fmt(*args, **kwargs)

        return checked

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        """Refuse ``*``, ``**``, ``+`` and ``%`` whose result would be too big to hold."""
        self.tick()
        cap = self.limits.max_output_bytes
        if operator == "*":
            check_mul(left, right, cap)
        elif operator == "**":
            check_pow(left, right)
        elif operator == "+":
            if isinstance(left, (str, list, tuple)) and isinstance(right, (str, list, tuple)):
                total = len(left) + len(right)
                if total > cap:
                    raise over_limit("max_output_bytes", "a concatenation", total, cap)
        elif operator == "%" and isinstance(left, str):
            check_printf(left, right, cap)
        return super().call_binop(context, operator, left, right)

    # --- budgets ------------------------------------------------------------------------

    def tick(self, steps: int = 1) -> None:
        """Charge ``steps`` to the render in progress; too many is a TemplateLimitError."""
        state = STATE.get()
        if state is None:
            return
        state.steps += steps
        if state.steps > self.limits.max_steps:
            raise limit_error(
                f"the template did more than {self.limits.max_steps} loop iterations and calls",
                "max_steps",
                state.steps,
                self.limits.max_steps,
            )

    def guard_iter(self, iterable: Any) -> Any:
        """Wrapped around every ``for`` loop's iterable: each item costs one step."""
        if isinstance(iterable, Undefined):
            return iterable  # strict undefined raises on iteration, lenient yields nothing
        try:
            size = len(iterable)
        except TypeError:
            return self._counted(iterable)
        self.tick(size)
        return iterable

    def _counted(self, iterable: Iterable[Any]) -> Iterator[Any]:
        for item in iterable:
            self.tick()
            yield item

    @pass_eval_context
    def concat_checked(self, eval_ctx: EvalContext, values: tuple[Any, ...]) -> str:
        """``a ~ b ~ ...``: every operand is measured before anything is joined or printed."""
        cap = self.limits.max_output_bytes
        total = 0
        for value in values:
            total += len(value) if isinstance(value, str) else printed_size(value, cap)
            if total > cap:
                raise over_limit("max_output_bytes", "a concatenation", total, cap)
        joined: str = (markup_join if eval_ctx.autoescape else str_join)(values)
        return joined

    def _range(self, *args: Any) -> range:
        result = range(*args)
        try:
            size = len(result)
        except OverflowError:
            size = self.limits.max_range + 1
        if size > self.limits.max_range:
            raise limit_error(
                f"range() of {size} items is over the {self.limits.max_range}-item limit",
                "max_range",
                size,
                self.limits.max_range,
            )
        return result

    def _concat(self, parts: Iterable[str]) -> str:
        pieces = parts if isinstance(parts, list) else list(parts)
        total = sum(map(len, pieces))
        if total > self.limits.max_output_bytes:
            raise over_limit(
                "max_output_bytes", "a block's output", total, self.limits.max_output_bytes
            )
        return "".join(pieces)
