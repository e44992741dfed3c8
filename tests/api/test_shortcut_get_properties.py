"""Generated ``GET /api/v1/instances/{key}`` requests get the same answer from the application
as served (``create_app``: the shortcuts in front of FastAPI) as from FastAPI alone: the same
status, body and headers, whoever asks (every role, a revoked token, no or doubled credentials),
whatever ``If-None-Match`` says (the current ETag, a weak one, a list, ``*``, an old one,
rubbish, twice) and whichever instance (its own, one it takes part in, another
organisation's, none)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.http.app import PREFIX
from tests.api.test_shortcut_properties import Twins

pytestmark = [pytest.mark.xdist_group("api"), pytest.mark.timeout(300)]


@pytest.fixture
def twins(db_url: str, tmp_path: Path) -> Iterator[Twins]:
    made = Twins(db_url, tmp_path)
    yield made
    made.close()


ROLES = ["programme_office", "partner", "approver", "auditor", "viewer", "revoked"]


@st.composite
def authorizations(draw: st.DrawFn, tokens: dict[str, str]) -> list[bytes]:
    token = tokens[draw(st.sampled_from(ROLES))]
    kind = draw(st.sampled_from(["bearer"] * 6 + ["none", "twice", "lower", "spaces", "basic"]))
    if kind == "none":
        return []
    if kind == "twice":
        return [f"Bearer {token}".encode(), f"Bearer {tokens['viewer']}".encode()]
    if kind == "lower":
        return [f"bearer {token}".encode()]
    if kind == "spaces":
        return [f"  Bearer   {token} ".encode()]
    if kind == "basic":
        return [b"Basic dXNlcjpwYXNz"]
    return [f"Bearer {token}".encode()]


@st.composite
def conditions(draw: st.DrawFn, current: str) -> list[bytes]:
    kind = draw(
        st.sampled_from(
            ["none", "current", "weak", "list", "star", "old", "rubbish", "twice", "empty",
             "unquoted", "spaced"]
        )
    )  # fmt: skip
    old = '"1-0000000000000000"'
    found = {
        "none": [],
        "current": [current],
        "weak": [f"W/{current}"],
        "list": [f"{old}, {current}"],
        "star": ["*"],
        "old": [old],
        "rubbish": ["\u00e9\x7f,,"],
        "twice": [old, current],
        "empty": [""],
        "unquoted": [current.strip('"')],
        "spaced": [f"  {current}  ,"],
    }[kind]
    return [value.encode("latin-1") for value in found]


def test_generated_reads_are_answered_as_by_the_framework(twins: Twins) -> None:
    programme = twins.programme
    service = programme.service
    keys = {
        "own": programme.instance("deltawonen"),
        "other": programme.instance("swz"),
        "party": programme.instance("swz"),
    }
    service.add_party(keys["party"], "deltawonen", "projectgroep", by="test-seed")
    keys["child"] = programme.instance("deltawonen", parent=keys["own"])
    keys["unknown"] = "w9999"
    from adapters.http.routes.instances import shown
    from engine.app.guard import Guard

    office = Guard(service, service.directory.principal("gemeente-zwolle", "programme_office"))

    def current(key: str) -> str:
        if service.store.instance_stamp(key) is None:
            return '"1-0000000000000000-0000000000000000"'
        return shown(office, key, None)[2]

    sqlite = twins.application.settings.db.startswith("sqlite")

    @given(data=st.data())
    @settings(
        max_examples=80 if sqlite else 30,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def run(data: st.DataObject) -> None:
        which = data.draw(st.sampled_from(sorted(keys)))
        key = keys[which]
        suffix = data.draw(st.sampled_from(["", "", "", "/", "%2F", "x"]))
        path = f"{PREFIX}/instances/{key}{suffix}".replace("%2F", "/")
        headers = [(b"authorization", v) for v in data.draw(authorizations(twins.tokens))]
        headers += [(b"if-none-match", v) for v in data.draw(conditions(current(key)))]
        if data.draw(st.booleans()):
            headers.reverse()
        query = data.draw(st.sampled_from([b"", b"", b"", b"x=1"]))
        before = len(twins.behind.reached)
        short = twins.ask(twins.short, "GET", path, query, headers, [b""])
        if len(twins.behind.reached) == before:
            twins.answered_here += 1
        long = twins.ask(twins.long, "GET", path, query, headers, [b""])
        asked = (which, path, query, headers)
        assert (short.status, short.raised) == (long.status, long.raised), asked
        assert short.body == long.body, asked
        assert sorted(short.headers) == sorted(long.headers), asked
        assert short.logged == long.logged, asked

    run()
    assert twins.answered_here > 0
    assert twins.behind.reached
