"""The JSON columns are decoded as ``json.loads`` decodes them, errors included: of every event
by the audit's reader, of the instance row by a command (``engine.persistence.database.loads``
calls json's scanner without the wrapping), from text (SQLite) and from bytes (psycopg)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.persistence.database import loads
from tests.unit.test_canonical import JSON


def _outcome(load: Any, text: str | bytes) -> tuple[str, Any]:
    try:
        return "value", json.dumps(load(text), sort_keys=True)  # NaN == NaN as text
    except ValueError as exc:
        return type(exc).__name__, str(exc)


@settings(max_examples=300, deadline=None)
@given(
    JSON,
    st.sampled_from(["", " ", "\n", "\t "]),
    st.sampled_from(["", " ", "\n", "x", "{}", ","]),
    st.booleans(),
    st.booleans(),
)
def test_loads_is_json_loads(
    value: Any, before: str, after: str, spaced: bool, escaped: bool
) -> None:
    separators = None if spaced else (",", ":")
    text = before + json.dumps(value, separators=separators, ensure_ascii=escaped) + after
    assert _outcome(loads, text) == _outcome(json.loads, text)
    for data in (text.encode(), text.encode("utf-8-sig"), text.encode("utf-16")):
        assert _outcome(loads, data) == _outcome(json.loads, data)


def test_loads_says_what_json_loads_says_of_broken_text() -> None:
    for text in ("", "nul", '{"a": }', '{"a": 1', "[1, 2]]", '"open', "{'a': 1}"):
        assert _outcome(loads, text) == _outcome(json.loads, text)
        assert _outcome(loads, text)[0] == "JSONDecodeError"
        assert _outcome(loads, text.encode()) == _outcome(json.loads, text.encode())
    broken = b'{"a": "\xff"}'  # not UTF-8
    assert _outcome(loads, broken) == _outcome(json.loads, broken)
    assert _outcome(loads, broken)[0] == "UnicodeDecodeError"
