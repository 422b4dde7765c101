"""Import rows that are valid JSON but unusable get plain reasons, one per line."""

from __future__ import annotations

from promptvault.fewshot.io import parse_rows
from promptvault.fewshot.models import RowError


def test_unusable_json_rows_say_why_without_python_advice() -> None:
    text = (
        '{"input": "a", "output": "b"}\n'
        '{"input": ' + "[" * 5000 + "]" * 5000 + ', "output": "b"}\n'
        '{"input": 1' + "0" * 5000 + ', "output": "b"}\n'
    )
    rows = list(parse_rows(text, "jsonl"))
    errors = {number: row for number, row in rows if isinstance(row, RowError)}
    assert sorted(errors) == [2, 3]
    assert errors[2].message == "not usable JSON: nested too deeply"
    assert "digits" in errors[3].message and "sys." not in errors[3].message
