"""The milestone slots of a stored snapshot read from its JSON text, as the overview reads them
(SQLite gives the array minified, PostgreSQL as ``json.dumps`` wrote it)."""

from __future__ import annotations

import json

import pytest

from engine.runtime.gates import stored_slots

DAYS = [0, 739_000, -739_010, 0, 10]


@pytest.mark.parametrize(
    "text",
    [json.dumps(DAYS), json.dumps(DAYS, separators=(",", ":"))],
    ids=["as-written", "minified"],
)
def test_each_slot_is_its_token_and_only_zero_is_open(text: str) -> None:
    slots = stored_slots(text)
    assert [int(s) for s in slots] == DAYS
    assert [s == "0" for s in slots] == [d == 0 for d in DAYS]


@pytest.mark.parametrize("text", ["[]", "[ ]"])
def test_no_milestones_no_slots(text: str) -> None:
    assert stored_slots(text) == []
