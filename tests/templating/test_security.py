"""Server-side template injection payloads and resource bombs never run.

Each payload is compiled and rendered (strict and lenient) with data holding a function, a
generator and a canary command; it must raise a TemplateSecurityError (or, for resource
bombs, a TemplateLimitError), and the shell command it tries to run must leave no trace.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from promptvault.errors import (
    MissingVariablesError,
    TemplateError,
    TemplateLimitError,
    TemplateSecurityError,
)
from promptvault.templating import compile_template

CANARY = "CANARY_FILE"


def _payloads() -> list[str]:
    cmd = f"touch {CANARY}"
    return [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ ''.__class__.__base__.__subclasses__() }}",
        f"{{{{ cycler.__init__.__globals__.os.popen('{cmd}').read() }}}}",
        f"{{{{ joiner.__init__.__globals__.os.popen('{cmd}').read() }}}}",
        f"{{{{ namespace.__init__.__globals__.os.popen('{cmd}').read() }}}}",
        f"{{{{ lipsum.__globals__['os'].popen('{cmd}').read() }}}}",
        "{{ lipsum.__globals__ }}",
        "{{ joiner.__init__.__globals__ }}",
        "{{ namespace.__init__.__globals__ }}",
        "{{ cycler.__init__.__globals__ }}",
        "{{ request.application.__globals__ }}",
        "{{ request|attr('application')|attr('\\x5f\\x5fglobals\\x5f\\x5f') }}",
        "{{ self._TemplateReference__context }}",
        "{{ self._TemplateReference__context.cycler.__init__.__globals__.os }}",
        "{{ self.__init__.__globals__.__builtins__ }}",
        "{{ config }}",
        "{{ config.items() }}",
        "{{ config.__class__.__init__.__globals__['os'] }}",
        "{{ request }}",
        "{{ request.application.__globals__.__builtins__.__import__('os') }}",
        "{{ url_for.__globals__ }}",
        "{{ get_flashed_messages.__globals__ }}",
        "{{ [].__class__ }}",
        "{{ ().__class__.__bases__[0] }}",
        "{{ (1).__class__.__mro__ }}",
        "{{ {}.__class__.__subclasses__() }}",
        "{{ 'a'|attr('__class__') }}",
        "{{ ''|attr('\\x5f\\x5fclass\\x5f\\x5f') }}",
        "{{ ''['__class__'] }}",
        "{{ ''['__cla' ~ 'ss__'] }}",
        "{{ x['__init__']['__globals__'] }}",
        "{{ '{0.__class__}'.format(x) }}",
        "{{ '{0.__init__.__globals__}'.format(fn) }}",
        "{{ '{a.__class__}'.format_map({'a': x}) }}",
        "{{ '%s'|format(x.__class__) }}",
        "{{ '%s' % x.__class__ }}",
        "{% set c = ''.__class__ %}{{ c }}",
        "{% set c = x|attr('__class__') %}{{ c.__mro__ }}",
        "{% with c = ''.__class__ %}{{ c }}{% endwith %}",
        "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
        "{% if ''.__class__ %}yes{% endif %}",
        "{{ range.__globals__ }}",
        "{{ range.__self__ }}",
        "{{ dict.__subclasses__() }}",
        "{{ dict.mro() }}",
        "{{ fn.__globals__ }}",
        "{{ fn.__code__.co_consts }}",
        "{{ fn.func_globals }}",
        "{{ gen.gi_frame.f_globals }}",
        "{{ gen.gi_frame }}",
        "{{ loop.__class__ }}",
        "{{ ''.join.__self__ }}",
        "{{ x|map(attribute='__class__')|list }}",
        "{{ [x]|map(attribute='__class__')|list }}",
        "{{ [x]|selectattr('__class__')|list }}",
        "{{ [x]|sort(attribute='__class__') }}",
        "{{ [x]|groupby('__class__') }}",
        "{{ x|attr(dunder) }}",
        "{{ x[dunder] }}",
        "{{ fmt.format(x) }}",
        "{{ fmt_map.format_map({'a': x}) }}",
        "{{ [].append(1) }}",
        "{{ {}.update(a=1) }}",
        "{{ {}.setdefault('a', 1) }}",
        "{{ [1].pop() }}",
        "{{ str_format('{0.__class__}', x) }}",
        "{{ __builtins__ }}",
    ]


PAYLOADS = _payloads()


# Hostile data: a function (whose __globals__ lead to os), a live generator, and attribute
# names and format strings the template can use only through computed access.
def _data() -> dict[str, Any]:
    def fn() -> None:
        return None

    def gen() -> Iterator[int]:
        yield 1

    return {
        "x": 42,
        "fn": fn,
        "gen": gen(),
        "dunder": "__class__",
        "fmt": "{0.__class__.__mro__}",
        "fmt_map": "{a.__class__}",
        "str_format": str.format,
    }


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("payload", PAYLOADS)
@pytest.mark.parametrize("strict", [True, False], ids=["strict", "lenient"])
def test_ssti_payload_is_refused(payload: str, strict: bool, in_tmp: Path) -> None:
    with pytest.raises(TemplateSecurityError) as err:
        compile_template(payload, syntax="jinja").render(_data(), strict=strict)
    assert err.value.code == "template_security"
    assert isinstance(err.value, TemplateError)
    assert not (in_tmp / CANARY).exists()


def test_canary_would_be_created_by_unsandboxed_jinja(in_tmp: Path) -> None:
    # Proves the canary payload is live: plain Jinja runs it.
    import jinja2

    payload = f"{{{{ cycler.__init__.__globals__.os.popen('touch {CANARY}').read() }}}}"
    jinja2.Environment().from_string(payload).render()
    assert (in_tmp / CANARY).exists()


def test_reserved_names_work_when_the_data_supplies_them() -> None:
    t = compile_template("{{ request }} / {{ config.mode }}", syntax="jinja")
    assert t.render({"request": "refund", "config": {"mode": "fast"}}) == "refund / fast"


def test_private_keys_of_data_dicts_are_still_reachable_as_items() -> None:
    t = compile_template("{{ d._id }} {{ d['_rev'] }}", syntax="jinja")
    assert t.render({"d": {"_id": 7, "_rev": "b"}}) == "7 b"


def test_safe_attribute_and_method_use_still_works() -> None:
    t = compile_template(
        "{{ name.upper() }} {{ '{0.real}'.format(n) }} {{ '%05.1f'|format(f) }} {{ d.get('k') }}",
        syntax="jinja",
    )
    assert t.render({"name": "ada", "n": 3, "f": 2.25, "d": {"k": "v"}}) == "ADA 3 002.2 v"


# --- resource bombs -----------------------------------------------------------------------

BOMBS = [
    "{% for i in range(10**9) %}{% endfor %}",
    "{{ range(10**9)|list }}",
    "{{ range(2**70) }}",
    "{{ 'a' * 10**10 }}",
    "{{ ['a'] * 10**10 }}",
    "{{ 9 ** (9 ** 9) }}",
    "{{ (10**4000) * (10**4000) }}",
    "{% set s = 'x' * 10**7 %}{{ s + s }}",
    "{% set s = 'x' * 10**7 %}{{ s ~ s }}",
    "{{ 'a'|center(10**9) }}",
    "{{ 'a'.center(10**9) }}",
    "{{ 'a'.ljust(10**9) }}",
    "{{ 'a'.zfill(10**9) }}",
    "{{ ('\\t' * 1000).expandtabs(10**6) }}",
    "{{ 'a'|indent(10**9) }}",
    "{{ ('x' * 10**6)|replace('', 'y' * 100) }}",
    "{{ ('x' * 10**6).replace('x', 'y' * 100) }}",
    "{{ ('y' * 10**4).join(range(5000)|map('string')) }}",
    "{{ range(5000)|map('string')|join('y' * 10**4) }}",
    "{{ '%0999999999d'|format(1) }}",
    "{{ '%*d' % (10**9, 1) }}",
    "{{ '{:>999999999}'.format('a') }}",
    "{{ '{:{}}'.format('a', 10**9) }}",
    "{{ [1]|batch(10**9, 'x')|list }}",
    "{{ [1]|slice(10**9)|list }}",
    "{{ {'a': 1}|tojson(indent=10**9) }}",
    "{% for a in range(10000) %}{% for b in range(10000) %}{% endfor %}{% endfor %}",
    "{% macro f(n) %}{% if n %}{{ f(n-1) }}{{ f(n-1) }}{% endif %}{% endmacro %}{{ f(40) }}",
    "{% macro f(s, n) %}{% if n %}{{ f(s ~ s, n-1) }}{% else %}{{ s }}{% endif %}"
    "{% endmacro %}{{ f('ab', 64) }}",
    "{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}",
    "{% for i in range(10000) %}{{ 'x' * 10000 }}{% endfor %}",
]


@pytest.mark.parametrize("bomb", BOMBS)
def test_resource_bomb_hits_a_limit(bomb: str) -> None:
    with pytest.raises(TemplateLimitError) as err:
        compile_template(bomb, syntax="jinja").render({}, strict=False)
    assert err.value.code == "template_limit"
    assert err.value.details.get("limit")


def test_source_size_limit() -> None:
    with pytest.raises(TemplateLimitError) as err:
        compile_template("x" * ((1 << 20) + 1), syntax="jinja")
    assert err.value.details["limit"] == "max_source_bytes"


# --- values are data, never template text -------------------------------------------------

SYNTAXES = ["jinja", "mustache"]


@pytest.mark.parametrize("syntax", SYNTAXES)
@given(value=st.text(alphabet="{}%#>&/!=<$*^ .abc_\n", max_size=40))
@settings(max_examples=60, deadline=None)
def test_injected_values_come_out_literally(syntax: str, value: str) -> None:
    source = "[{{secret}}]<{{value}}>" if syntax == "mustache" else "[{{ secret }}]<{{ value }}>"
    t = compile_template(source, syntax=syntax)  # type: ignore[arg-type]
    out = t.render({"secret": "S", "value": value})
    assert out == f"[S]<{value}>"


@pytest.mark.parametrize("syntax", SYNTAXES)
def test_template_looking_values_are_not_reinterpreted(syntax: str) -> None:
    source = "{{a}}|{{b}}" if syntax == "mustache" else "{{ a }}|{{ b }}"
    t = compile_template(source, syntax=syntax, partials={"p": "PARTIAL"})  # type: ignore[arg-type]
    value_a = "{{secret}} {{> p}} {% include 'p' %} {{ ''.__class__ }}"
    assert t.render({"a": value_a, "b": "{{a}}", "secret": "S"}) == f"{value_a}|{{{{a}}}}"


def test_missing_variable_payload_in_strict_mode_is_reported_not_run() -> None:
    # An unknown plain name is a missing variable, never a lookup into Python.
    with pytest.raises(MissingVariablesError) as err:
        compile_template("{{ os.popen('id').read() }}", syntax="jinja").render({})
    assert err.value.names == ["os"]
