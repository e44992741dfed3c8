"""The canonical JSON the chain seals is exactly ``json.dumps`` with the canonical options.

``engine.runtime.canonical`` builds json's encoder once instead of per call; these tests hold
it to the bytes ``json.dumps`` gives, over random JSON values and over random events hashed
by ``chain_hash`` against the chain's formula written out with ``json.dumps``.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from engine.runtime.canonical import canonical_text
from engine.runtime.events import chain_hash
from engine.runtime.personal import canonical, commitment


def _dumps(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


_TEXT = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", "é", "ü\u00a0ß", "\u2028", "\\", '"', "\x00\x1f", "😀", "wk-001", "[verwijderd]"]
)
_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | _TEXT
)
JSON = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=5) | st.dictionaries(_TEXT, inner, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(JSON)
@example({"b": 1, "a": [1.5, None, True], "ä": {"z": "x", "y": -0.0}})
@example("[verwijderd]")
@example(float("nan"))
def test_canonical_text_is_json_dumps_with_the_canonical_options(value: Any) -> None:
    assert canonical_text(value) == _dumps(value)
    assert canonical(value) == _dumps(value).encode("utf-8")


@pytest.mark.parametrize(
    "value",
    [{"when": datetime(2027, 1, 1, tzinfo=UTC)}, {1j: 1}, {(1, 2): "x"}],
    ids=["datetime", "complex key", "tuple key"],
)
def test_canonical_text_refuses_what_json_dumps_refuses(value: Any) -> None:
    with pytest.raises(TypeError) as expected:
        _dumps(value)
    with pytest.raises(TypeError) as found:
        canonical_text(value)
    assert str(found.value) == str(expected.value)


_MOMENTS = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)


@settings(max_examples=400, deadline=None)
@given(
    # Beside what the engine writes, any text or JSON where a tampered row may hold it: the
    # body is written out field by field, each exactly as the encoder writes it.
    previous=st.none() | st.text("0123456789abcdef", min_size=64, max_size=64) | _TEXT,
    instance=_TEXT,
    seq=st.integers(1, 10**6) | st.integers(-(2**70), 2**70),
    type_=st.sampled_from(["instance_started", "milestone_done", "note_added", "ünknown"]) | _TEXT,
    at=_MOMENTS,
    later=st.none() | st.timedeltas(timedelta(0), timedelta(days=30)),
    by=_TEXT | st.fixed_dictionaries({"personal": st.text("0123456789abcdef", min_size=64)}) | JSON,
    reason=st.none() | _TEXT | JSON,
    payload=st.dictionaries(_TEXT, JSON, max_size=6),
)
def test_chain_hash_is_the_formula_over_json_dumps(
    previous: str | None,
    instance: str,
    seq: int,
    type_: str,
    at: datetime,
    later: timedelta | None,
    by: Any,
    reason: str | None,
    payload: dict[str, Any],
) -> None:
    """The same datetime for both moments (as the audit's reader gives an event recorded when
    it happened), or two."""
    recorded_at = at if later is None else at + later
    body = {
        "previous": previous,
        "instance": instance,
        "seq": seq,
        "type": type_,
        "at": at.isoformat(),
        "recorded_at": recorded_at.isoformat(),
        "by": by,
        "reason": reason,
        "payload": payload,
    }
    expected = hashlib.sha256(_dumps(body).encode("utf-8")).hexdigest()
    found = chain_hash(
        previous,
        instance=instance,
        seq=seq,
        type_=type_,
        at=at,
        recorded_at=recorded_at,
        by=by,
        reason=reason,
        payload=payload,
    )
    assert found == expected


def test_a_commitment_is_sha256_of_salt_and_json_dumps() -> None:
    salt = "8247a02890f8430ed66a35f881ff607d"
    for value in ("p.devries", "Bewonersavond — goed bezocht ü", ["a@b.nl"], {"x": 1}):
        expected = hashlib.sha256(bytes.fromhex(salt) + _dumps(value).encode()).hexdigest()
        assert commitment(salt, value) == expected
