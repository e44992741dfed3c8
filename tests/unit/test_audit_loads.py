"""The audit's reader decodes the JSON of every event as ``json.loads`` does, errors included
(``engine.persistence.auditlogs`` calls json's scanner without the wrapping)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.persistence.auditlogs import _loads
from tests.unit.test_canonical import JSON


def _outcome(load: Any, text: str) -> tuple[str, Any]:
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
)
def test_loads_is_json_loads(value: Any, before: str, after: str, spaced: bool) -> None:
    text = before + json.dumps(value, separators=None if spaced else (",", ":")) + after
    assert _outcome(_loads, text) == _outcome(json.loads, text)


def test_loads_says_what_json_loads_says_of_broken_text() -> None:
    for text in ("", "nul", '{"a": }', '{"a": 1', "[1, 2]]", '"open', "{'a': 1}"):
        assert _outcome(_loads, text) == _outcome(json.loads, text)
        assert _outcome(_loads, text)[0] == "JSONDecodeError"
