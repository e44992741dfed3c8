"""What the command path writes for an event is what the rest of the store reads.

The command path writes its rows straight through the driver (``engine/persistence/
fastpath.py``): on PostgreSQL the event, its row waiting for the feed and its personal fields
in one statement, on SQLite its JSON as text made by an encoder built once. Read back through
SQLAlchemy, every event must have its one row waiting for the feed and its personal fields as
sealed, the JSON must be the text ``json.dumps`` gives (what SQLAlchemy's JSON type writes), and
every chain must still verify.
"""

from __future__ import annotations

import json
import math

import pytest
from sqlalchemy import select

from engine.persistence.fastpath import dumps
from engine.persistence.records import personal_json
from engine.persistence.rows import PENDING, PERSONAL, E
from engine.reminders.ready import SETTLING
from engine.runtime.events import Regie

KEY = "wk-rows"


def _commands(service, clock) -> None:
    service.create(KEY, workflow="wijkkompas", title="Rijen", regie=Regie(type="gemeente"), by="t")
    workflow = service.compiled(service.workflow_versions("wijkkompas")[0])
    first = workflow.phases[0]
    for number, milestone in enumerate(first.milestones[:3]):
        clock.advance(hours=1)
        service.milestone_done(
            KEY, milestone.id, by=f"Anna {number}", note=f"notitie {number}: é ü 漢"
        )
    clock.advance(hours=1)
    service.pause(KEY, workflow.buttons_in[first.id][0], by="Bob", reason="wacht op de raad")
    clock.advance(hours=1)
    service.resume(KEY, by="Bob")
    clock.advance(hours=1)
    service.note(KEY, "overleg met bewoners@example.org", by="Carla")


def test_each_event_has_its_feed_row_and_personal_fields_as_sealed(service, clock, database):
    _commands(service, clock)
    log = service.log(KEY)
    assert len(log) == 7
    with database.engine.connect() as connection:
        events = dict(connection.execute(select(E.c.seq, E.c.id).order_by(E.c.seq)).all())
        pending = {r[0] for r in connection.execute(select(PENDING.c.event_id))}
        fields = dict(connection.execute(select(PERSONAL.c.event_id, PERSONAL.c.fields)).all())
    assert sorted(events) == [e.seq for e in log]
    assert pending == set(events.values())
    for event in log:
        assert event.personal, event.type  # who did it, at least
        assert fields[events[event.seq]] == personal_json(event.personal)
    assert all(report.intact for report in service.verify(KEY))


@pytest.mark.parametrize(
    "types", [SETTLING, ("note_added", "instance_paused"), ("no_such_event",), ()], ids=repr
)
def test_the_events_of_some_types_are_those_of_the_whole_log(service, clock, types):
    """A gate's evidence is read from the events that settle milestones only: the same events,
    in order, as the whole log has of them, on the command path and through SQLAlchemy."""
    _commands(service, clock)
    with service.store.read() as unit:
        instance_id = unit.instance_id(KEY)
        whole = unit.events(instance_id)
        assert unit.events(instance_id, types) == [e for e in whole if e.type in types]
    with service.store.command() as command:
        assert command.events(instance_id) == whole
        assert command.events(instance_id, types) == [e for e in whole if e.type in types]
    if types == SETTLING:
        assert len([e for e in whole if e.type in types]) == 3


def test_an_organisation_read_by_the_driver_is_the_directorys(service):
    """The organisation that gives an independent approval is read on the command path's
    connection, not in a unit of work of its own: the same value the directory reads."""
    service.directory.add_organisation(
        key="gemeente-zwolle",
        name="Gemeente Zwolle",
        kind="gemeente",
        oin="00000001002220647000",
        rsin="002220647",
        kvk="12345678",
        runs_programme=True,
    )
    service.directory.add_organisation(key="toets", name="Toetsbureau", kind="other")
    store = service.store
    for key in ("gemeente-zwolle", "toets"):
        with store.directory() as unit:
            expected = unit.organisation(key)
        assert expected is not None
        assert store.find_organisation(key) == expected
    assert store.find_organisation("onbekend") is None


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_the_json_text_is_what_sqlalchemy_writes(service, clock, database):
    _commands(service, clock)
    with database.engine.connect() as connection:
        texts = connection.exec_driver_sql(
            "SELECT e.payload, f.fields, i.snapshot FROM events e "
            "JOIN personal_fields f ON f.event_id = e.id JOIN instances i ON i.id = e.instance_id"
        ).all()
    assert len(texts) == 7
    for row in texts:
        for text in row:
            assert text == json.dumps(json.loads(text))


@pytest.mark.parametrize(
    "value",
    [
        {"milestones": [739985, 0, -739990], "approvals": {}, "entries": {"a": "2027-01-04"}},
        {"note": 'é ü 漢 \u2028 "quoted" \\ \n', "evidence": None, "ok": True, "no": False},
        {"numbers": [0, -1, 2.5, -0.0, 1e300, 10**30], "nested": [[], {}, [{"x": [None]}]]},
        {"odd": [math.inf, -math.inf]},
        {7: "int key", 2.5: "float key", None: "none key", False: "bool key"},
        "plain text",
        "",
        [],
        None,
        3,
    ],
    ids=[
        "snapshot",
        "texts",
        "numbers",
        "infinities",
        "keys",
        "str",
        "empty",
        "list",
        "null",
        "int",
    ],
)
def test_the_fast_encoder_gives_json_dumps_text(value):
    assert dumps(value) == json.dumps(value)
    assert math.isnan(json.loads(dumps(math.nan)))
