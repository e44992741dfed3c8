"""The audit trail on SQLite and PostgreSQL: tampering behind the engine's back is found.

Each test builds a wijk with a realistic history on the shipped ``wijkkompas`` workflow (plus
two bystanders), then changes the database with plain SQL, as someone with database access but
without the engine would, and checks that ``Service.verify`` and ``wijkkompas audit verify``
name exactly the first broken event of that wijk and nothing else. A tampered projection is not
a broken chain: ``replay`` shows the difference and ``rebuild`` repairs it from the log.
"""

from __future__ import annotations

import errno
import itertools
import json
import os
import random
import re
import signal
from collections.abc import Callable
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import JSON, Date, bindparam, text

from cli import main
from engine.app import history as audit_history
from engine.app.audit import projection_agrees, projection_differences
from engine.app.history import AUDIT_PAGE, verify
from engine.app.projection import deadline_map, deadline_states
from engine.app.service import Service
from engine.errors import BrokenLog, Refused, RuleViolation
from engine.persistence.auditlogs import AuditMoment
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.persistence.tables import UtcDateTime
from engine.ports import DeadlineState, StoredEvent
from engine.runtime.commands import compile_workflow
from engine.runtime.deadlines import milestone_due
from engine.runtime.events import Regie, chain_hash
from engine.runtime.personal import ERASED
from engine.workflow.loader import load_file
from tests.cli.test_json_docs import section as json_docs_section

GEMEENTE = Regie(type="gemeente", organisation="Gemeente Zwolle", contacts=("wijken@zwolle.nl",))
CORPORATIE = Regie(
    type="woningcorporatie", organisation="deltaWonen", contacts=("gebied@deltawonen.nl",)
)

KEY = "wk-holtenbroek"
BYSTANDERS = ("wk-assendorp", "wk-stadshagen")
ALL_KEYS = (KEY, *BYSTANDERS)

# The history of KEY: event number -> (type, what it is about).
HISTORY = {
    1: ("instance_started", None),
    2: ("milestone_done", "aanleiding-en-opdracht"),
    3: ("milestone_done", "partijen-aan-tafel"),
    4: ("milestone_skipped", "capaciteit-en-budget"),
    5: ("instance_paused", "geen-trekker"),
    6: ("instance_resumed", None),
    7: ("regie_handed_over", None),
    8: ("milestone_done", "regiemodel-en-rollen"),
    9: ("note_added", None),
    10: ("milestone_done", "participatiestrategie"),
    11: ("milestone_skipped", "eerste-bewonersinformatie"),
    12: ("milestone_done", "intentieovereenkomst"),
    13: ("milestone_done", "projectplan-goedgekeurd"),
    14: ("approval_recorded", "college"),
    15: ("phase_advanced", None),
    16: ("milestone_done", "eigendom-en-gebruik"),
}
LAST = len(HISTORY)
# The milestones of the shipped workflow in their order: the slots of the row's snapshot.
MILESTONES = list(
    compile_workflow(
        load_file(Path(__file__).resolve().parents[2] / "workflows" / "wijkkompas.yaml").definition
    ).milestone_index
)


def build_history(service: Service, clock: Any) -> None:
    """KEY through phase 1 into phase 2, the long way round; two bystanders beside it."""

    def later() -> None:
        clock.advance(hours=5)

    service.create(
        KEY,
        workflow="wijkkompas",
        title="Holtenbroek",
        regie=GEMEENTE,
        by="p.devries",
        areas=["WK019301"],
        reason="Warmteprogramma 2026",
    )
    for step in (
        lambda: service.milestone_done(KEY, "aanleiding-en-opdracht", by="p.devries"),
        lambda: service.milestone_done(
            KEY, "partijen-aan-tafel", by="p.devries", evidence="https://zwolle.nl/stakeholders"
        ),
        lambda: service.milestone_skip(
            KEY,
            "capaciteit-en-budget",
            by="p.devries",
            reason="Budget komt uit het programmabureau",
        ),
        lambda: service.pause(
            KEY, "geen-trekker", by="p.devries", reason="Projectleider vertrekt per 1 februari"
        ),
        lambda: service.resume(KEY, by="p.devries", note="Nieuwe projectleider: A. Bakker"),
        lambda: service.hand_over(
            KEY, CORPORATIE, by="a.bakker", reason="Corporatie bezit 70 % van de woningen"
        ),
        lambda: service.milestone_done(KEY, "regiemodel-en-rollen", by="a.bakker"),
        lambda: service.note(KEY, "Bewonersavond goed bezocht (120 mensen)", by="a.bakker"),
        lambda: service.milestone_done(KEY, "participatiestrategie", by="a.bakker"),
        lambda: service.milestone_skip(
            KEY,
            "eerste-bewonersinformatie",
            by="a.bakker",
            reason="Al gedaan in het wijkprogramma 2025",
        ),
        lambda: service.milestone_done(KEY, "intentieovereenkomst", by="a.bakker"),
        lambda: service.milestone_done(KEY, "projectplan-goedgekeurd", by="a.bakker"),
        lambda: service.approve(
            KEY, "college", "go", by="griffie", ref="B&W 2026/113", note="Unaniem"
        ),
        lambda: service.advance(KEY, by="a.bakker"),
        lambda: service.milestone_done(KEY, "eigendom-en-gebruik", by="a.bakker"),
    ):
        later()
        step()

    service.create(
        "wk-assendorp", workflow="wijkkompas", title="Assendorp", regie=GEMEENTE, by="p.devries"
    )
    later()
    service.milestone_done("wk-assendorp", "aanleiding-en-opdracht", by="p.devries")
    later()
    service.note("wk-assendorp", "Start uitgesteld tot na de zomer", by="p.devries")
    service.create(
        "wk-stadshagen", workflow="wijkkompas", title="Stadshagen", regie=GEMEENTE, by="p.devries"
    )
    later()
    service.pause("wk-stadshagen", "geen-capaciteit-of-budget", by="p.devries", reason="Geen fte")

    log = service.log(KEY)
    assert [(e.seq, e.type) for e in log] == [(s, t) for s, (t, _) in HISTORY.items()]
    assert all(r.intact for r in service.verify())


@pytest.fixture
def history(service: Service, clock: Any) -> list[StoredEvent]:
    """The log of KEY as the engine wrote it (before anyone tampers with it)."""
    build_history(service, clock)
    return service.log(KEY)


# --- plain SQL, behind the engine's back ------------------------------------------------------


def sql(database: Database, statement: Any, **params: Any) -> Any:
    if isinstance(statement, str):
        statement = text(statement)
    with database.engine.begin() as connection:
        result = connection.execute(statement, params)
        return result.all() if result.returns_rows else None


def instance_id(database: Database, key: str) -> int:
    [(found,)] = sql(database, "SELECT id FROM instances WHERE key = :key", key=key)
    return int(found)


def event_rows(database: Database) -> list[tuple[Any, ...]]:
    """Every event row as stored, for before/after comparisons."""
    rows = sql(
        database,
        "SELECT instance_id, seq, type, actor, reason, payload, previous, hash "
        "FROM events ORDER BY instance_id, seq",
    )
    return [(*r[:5], json.loads(r[5]) if isinstance(r[5], str) else r[5], *r[6:]) for r in rows]


def instance_row(database: Database, key: str) -> tuple[Any, ...]:
    """The instance row as stored, for before/after comparisons."""
    [row] = sql(database, "SELECT * FROM instances WHERE key = :key", key=key)
    return tuple(row)


def stored_payload(database: Database, iid: int, seq: int) -> dict[str, Any]:
    [(payload,)] = sql(
        database, "SELECT payload FROM events WHERE instance_id = :i AND seq = :s", i=iid, s=seq
    )
    return json.loads(payload) if isinstance(payload, str) else dict(payload)


def set_payload(database: Database, iid: int, seq: int, payload: dict[str, Any]) -> None:
    statement = text(
        "UPDATE events SET payload = :payload WHERE instance_id = :i AND seq = :s"
    ).bindparams(bindparam("payload", type_=JSON))
    sql(database, statement, payload=payload, i=iid, s=seq)


def set_column(database: Database, iid: int, seq: int, column: str, value: Any) -> None:
    statement = text(f"UPDATE events SET {column} = :value WHERE instance_id = :i AND seq = :s")
    if column in ("at", "recorded_at"):
        statement = statement.bindparams(bindparam("value", type_=UtcDateTime()))
    sql(database, statement, value=value, i=iid, s=seq)


def shift_up(database: Database, iid: int, from_seq: int) -> None:
    """Renumber events from_seq.. one up, making room (two steps: seq is unique per instance)."""
    sql(
        database,
        "UPDATE events SET seq = seq + 1000 WHERE instance_id = :i AND seq >= :s",
        i=iid,
        s=from_seq,
    )
    sql(database, "UPDATE events SET seq = seq - 999 WHERE instance_id = :i AND seq >= 1000", i=iid)


def insert_event(database: Database, iid: int, event: StoredEvent) -> None:
    statement = text(
        "INSERT INTO events (instance_id, seq, type, at, recorded_at, actor, reason, payload, "
        "previous, hash) VALUES (:i, :seq, :type, :at, :recorded_at, :actor, :reason, :payload, "
        ":previous, :hash)"
    ).bindparams(
        bindparam("at", type_=UtcDateTime()),
        bindparam("recorded_at", type_=UtcDateTime()),
        bindparam("payload", type_=JSON),
    )
    sql(
        database,
        statement,
        i=iid,
        seq=event.seq,
        type=event.type,
        at=event.at,
        recorded_at=event.recorded_at,
        actor=event.actor,
        reason=event.reason,
        payload=event.payload,
        previous=event.previous,
        hash=event.hash,
    )


def forged_note(seq: int, previous: str, after: StoredEvent, *, sealed: bool) -> StoredEvent:
    """A note the engine never wrote, right after ``after``; ``sealed``: with a correct hash."""
    at = after.at + timedelta(minutes=30)
    payload = {"text": "Bewoners hebben ingestemd"}
    digest = (
        chain_hash(
            previous,
            instance=KEY,
            seq=seq,
            type_="note_added",
            at=at,
            recorded_at=at,
            by="a.bakker",
            reason=None,
            payload=payload,
        )
        if sealed
        else "f" * 64
    )
    return StoredEvent(
        seq=seq,
        type="note_added",
        at=at,
        recorded_at=at,
        actor="a.bakker",
        reason=None,
        payload=payload,
        previous=previous,
        hash=digest,
    )


# --- the tamperings ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Tampering:
    change: Callable[[Database, int, list[StoredEvent]], None]
    first_broken: int
    problem: str
    """A phrase the report of the broken chain must contain."""


def _other_milestone(db: Database, iid: int, log: list[StoredEvent]) -> None:
    # Claim that a different (skipped) milestone was done on that day.
    payload = stored_payload(db, iid, 8)
    assert payload["milestone"] == "regiemodel-en-rollen"
    set_payload(db, iid, 8, payload | {"milestone": "capaciteit-en-budget"})


def _evidence_added(db: Database, iid: int, log: list[StoredEvent]) -> None:
    payload = stored_payload(db, iid, 2)
    assert payload["evidence"] is None
    set_payload(db, iid, 2, payload | {"evidence": "https://zwolle.nl/besluit.pdf"})


def _started_title(db: Database, iid: int, log: list[StoredEvent]) -> None:
    set_payload(db, iid, 1, stored_payload(db, iid, 1) | {"title": "Holtenbroek-Noord"})


def _approval_ref(db: Database, iid: int, log: list[StoredEvent]) -> None:
    set_payload(db, iid, 14, stored_payload(db, iid, 14) | {"ref": "B&W 2026/999"})


def _skip_reason(db: Database, iid: int, log: list[StoredEvent]) -> None:
    set_column(db, iid, 4, "reason", "Niet nodig")


def _reason_where_none(db: Database, iid: int, log: list[StoredEvent]) -> None:
    assert log[2].reason is None
    set_column(db, iid, 3, "reason", "Op verzoek van de wethouder")


def _actor(db: Database, iid: int, log: list[StoredEvent]) -> None:
    set_column(db, iid, 7, "actor", "wethouder")


def _at_earlier(db: Database, iid: int, log: list[StoredEvent]) -> None:
    set_column(db, iid, 12, "at", log[11].at - timedelta(days=1))


def _at_one_second(db: Database, iid: int, log: list[StoredEvent]) -> None:
    set_column(db, iid, 10, "at", log[9].at + timedelta(seconds=1))


def _recorded_at(db: Database, iid: int, log: list[StoredEvent]) -> None:
    set_column(db, iid, 5, "recorded_at", log[4].recorded_at + timedelta(hours=1))


def _type(db: Database, iid: int, log: list[StoredEvent]) -> None:
    # A skip that becomes a done: the payload ({"milestone": ...}) fits both.
    set_column(db, iid, 11, "type", "milestone_done")


def _delete_middle(db: Database, iid: int, log: list[StoredEvent]) -> None:
    sql(db, "DELETE FROM events WHERE instance_id = :i AND seq = 6", i=iid)


def _delete_first(db: Database, iid: int, log: list[StoredEvent]) -> None:
    sql(db, "DELETE FROM events WHERE instance_id = :i AND seq = 1", i=iid)


def _delete_last(db: Database, iid: int, log: list[StoredEvent]) -> None:
    sql(db, "DELETE FROM events WHERE instance_id = :i AND seq = :s", i=iid, s=LAST)


def _delete_middle_and_renumber(db: Database, iid: int, log: list[StoredEvent]) -> None:
    # Hide the pause: remove event 5 and close the gap in the numbering.
    sql(db, "DELETE FROM events WHERE instance_id = :i AND seq = 5", i=iid)
    sql(db, "UPDATE events SET seq = seq + 999 WHERE instance_id = :i AND seq > 5", i=iid)
    sql(db, "UPDATE events SET seq = seq - 1000 WHERE instance_id = :i AND seq > 1000", i=iid)


def _insert_wrong_hash(db: Database, iid: int, log: list[StoredEvent]) -> None:
    shift_up(db, iid, 9)
    insert_event(db, iid, forged_note(9, log[7].hash, log[7], sealed=False))


def _insert_sealed(db: Database, iid: int, log: list[StoredEvent]) -> None:
    # Self-consistent on its own: the event after it no longer follows.
    shift_up(db, iid, 9)
    insert_event(db, iid, forged_note(9, log[7].hash, log[7], sealed=True))


def _append_wrong_hash(db: Database, iid: int, log: list[StoredEvent]) -> None:
    insert_event(db, iid, forged_note(LAST + 1, log[-1].hash, log[-1], sealed=False))


def _append_sealed(db: Database, iid: int, log: list[StoredEvent]) -> None:
    # A correct chain, but the instance row still has event LAST as its head.
    insert_event(db, iid, forged_note(LAST + 1, log[-1].hash, log[-1], sealed=True))


def _swap(db: Database, iid: int, log: list[StoredEvent]) -> None:
    # Reorder events 2 and 3.
    sql(db, "UPDATE events SET seq = 99 WHERE instance_id = :i AND seq = 2", i=iid)
    sql(db, "UPDATE events SET seq = 2 WHERE instance_id = :i AND seq = 3", i=iid)
    sql(db, "UPDATE events SET seq = 3 WHERE instance_id = :i AND seq = 99", i=iid)


def _replace_resealed(db: Database, iid: int, log: list[StoredEvent]) -> None:
    # The event itself is re-sealed after the change (without the commitments to its personal
    # fields, as an event recorded before they were sealed apart); the next one no longer
    # follows it.
    event = log[8]
    payload = {"text": "Bewonersavond slecht bezocht"}
    sql(
        db,
        "DELETE FROM personal_fields WHERE event_id = "
        "(SELECT id FROM events WHERE instance_id = :i AND seq = 9)",
        i=iid,
    )
    digest = chain_hash(
        event.previous,
        instance=KEY,
        seq=event.seq,
        type_=event.type,
        at=event.at,
        recorded_at=event.recorded_at,
        by=event.actor,
        reason=event.reason,
        payload=payload,
    )
    set_payload(db, iid, 9, payload)
    set_column(db, iid, 9, "hash", digest)


def _replace_last_resealed(db: Database, iid: int, log: list[StoredEvent]) -> None:
    # The last event rewritten and re-sealed: its chain is fine, only the head gives it away.
    event = log[-1]
    payload = event.payload | {"milestone": "fysieke-kenmerken"}
    digest = chain_hash(
        event.previous,
        instance=KEY,
        seq=event.seq,
        type_=event.type,
        at=event.at,
        recorded_at=event.recorded_at,
        by=event.actor,
        reason=event.reason,
        payload=payload,
    )
    set_payload(db, iid, LAST, payload)
    set_column(db, iid, LAST, "hash", digest)


def _erased_silently(db: Database, iid: int, log: list[StoredEvent]) -> None:
    # Who gave the approval "erased" as an erasure does it (the value overwritten, the salt
    # gone, the commitment kept: every hash still holds), but with no personal_data_erased
    # event on the chain that says so: the record of who approved is gone unrecorded.
    assert log[13].type == "approval_recorded"
    where = "(SELECT id FROM events WHERE instance_id = :i AND seq = 14)"
    [(fields,)] = sql(db, f"SELECT fields FROM personal_fields WHERE event_id = {where}", i=iid)
    fields = json.loads(fields) if isinstance(fields, str) else dict(fields)
    fields["by"] = [fields["by"][0], None]
    statement = text(
        f"UPDATE personal_fields SET fields = :fields WHERE event_id = {where}"
    ).bindparams(bindparam("fields", type_=JSON))
    sql(db, statement, fields=fields, i=iid)
    set_column(db, iid, 14, "actor", ERASED)


def _previous_of_first(db: Database, iid: int, log: list[StoredEvent]) -> None:
    set_column(db, iid, 1, "previous", log[1].hash)


def _moved_to_bystander(db: Database, iid: int, log: list[StoredEvent]) -> None:
    # The last event re-filed under another instance (where it becomes that one's event 99).
    other = instance_id(db, "wk-stadshagen")
    sql(
        db,
        "UPDATE events SET instance_id = :o, seq = 99 WHERE instance_id = :i AND seq = :s",
        o=other,
        i=iid,
        s=LAST,
    )


TAMPERINGS = [
    pytest.param(Tampering(_other_milestone, 8, "was altered"), id="payload-milestone"),
    pytest.param(Tampering(_evidence_added, 2, "was altered"), id="payload-field-added"),
    pytest.param(Tampering(_started_title, 1, "was altered"), id="payload-first-event"),
    pytest.param(Tampering(_approval_ref, 14, "was altered"), id="payload-approval-ref"),
    pytest.param(Tampering(_skip_reason, 4, "was altered"), id="reason"),
    pytest.param(Tampering(_reason_where_none, 3, "was altered"), id="reason-added"),
    pytest.param(Tampering(_actor, 7, "was altered"), id="actor"),
    pytest.param(Tampering(_at_earlier, 12, "was altered"), id="at-a-day-earlier"),
    pytest.param(Tampering(_at_one_second, 10, "was altered"), id="at-one-second"),
    pytest.param(Tampering(_recorded_at, 5, "was altered"), id="recorded-at"),
    pytest.param(Tampering(_type, 11, "was altered"), id="type"),
    pytest.param(Tampering(_delete_middle, 6, "event 6 is missing"), id="delete-middle"),
    pytest.param(Tampering(_delete_first, 1, "event 1 is missing"), id="delete-first"),
    pytest.param(
        Tampering(_delete_last, LAST, f"the log ends at event {LAST - 1} but the instance"),
        id="delete-last",
    ),
    pytest.param(
        Tampering(_delete_middle_and_renumber, 5, "event 5 does not follow event 4"),
        id="delete-middle-renumbered",
    ),
    pytest.param(Tampering(_insert_wrong_hash, 9, "was altered"), id="insert-wrong-hash"),
    pytest.param(
        Tampering(_insert_sealed, 10, "event 10 does not follow event 9"), id="insert-resealed"
    ),
    pytest.param(Tampering(_append_wrong_hash, LAST + 1, "was altered"), id="append-wrong-hash"),
    pytest.param(
        Tampering(
            _append_sealed,
            LAST + 1,
            f"the log has {LAST + 1} events but the instance recorded {LAST}: events were added",
        ),
        id="append-resealed-head-not-updated",
    ),
    pytest.param(Tampering(_swap, 2, "event 2 does not follow event 1"), id="reorder"),
    pytest.param(
        Tampering(_replace_resealed, 10, "event 10 does not follow event 9"),
        id="replace-resealed",
    ),
    pytest.param(Tampering(_previous_of_first, 1, "event 1 does not follow"), id="previous"),
    pytest.param(
        Tampering(
            _erased_silently,
            14,
            "event 14 (approval_recorded): its by was erased, but no personal_data_erased "
            "event names it",
        ),
        id="erased-unrecorded",
    ),
    pytest.param(
        Tampering(_replace_last_resealed, LAST, f"event {LAST}"),
        id="replace-last-resealed",
    ),
]


@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_tampering_is_reported_at_the_first_broken_event(
    service, database, db_url, history, tampering
):
    tampering.change(database, instance_id(database, KEY), history)

    reports = {r.key: r for r in service.verify()}
    assert sorted(reports) == sorted(ALL_KEYS)
    broken = reports[KEY]
    assert not broken.intact
    assert broken.first_broken == tampering.first_broken, broken.problem
    assert tampering.problem in (broken.problem or "")
    assert [k for k, r in reports.items() if not r.intact] == [KEY]
    assert service.verify(KEY) == [broken]
    assert all(service.verify(k)[0].intact for k in BYSTANDERS)

    result = CliRunner().invoke(main, ["--lang", "en", "--db", db_url, "audit", "verify"])
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines() == [
        f"{KEY}: BROKEN at event {tampering.first_broken}: {broken.problem}"
    ]
    assert result.stdout.strip().endswith(": 1 broken")

    result = CliRunner().invoke(
        main, ["--lang", "en", "--db", db_url, "audit", "verify", KEY, "--json"]
    )
    assert result.exit_code == 3, result.output
    [row] = json.loads(result.stdout)
    assert row == {
        "key": KEY,
        "events": broken.events,
        "intact": False,
        "first_broken": tampering.first_broken,
        "problem": broken.problem,
        # A broken log is not replayed: its projection is not compared.
        "projection_matches": None,
        "differences": [],
    }

    for key in BYSTANDERS:
        result = CliRunner().invoke(main, ["--lang", "en", "--db", db_url, "audit", "verify", key])
        assert result.exit_code == 0, result.output
        assert result.stderr == ""

    # No projection is built on a broken log (also not on one that merely ends early).
    row = instance_row(database, KEY)
    with pytest.raises(
        RuleViolation, match=f"its log is broken at event {tampering.first_broken} "
    ):
        service.rebuild(KEY)
    assert instance_row(database, KEY) == row


def test_an_event_moved_to_another_instance_breaks_both_chains(service, database, history):
    _moved_to_bystander(database, instance_id(database, KEY), history)
    reports = {r.key: r for r in service.verify()}
    assert reports[KEY].first_broken == LAST
    assert "the log ends at event" in (reports[KEY].problem or "")
    # On stadshagen (2 events) the stranger sits at seq 99.
    assert reports["wk-stadshagen"].first_broken == 3
    assert "event 3 is missing" in (reports["wk-stadshagen"].problem or "")
    assert reports["wk-assendorp"].intact


def test_a_renamed_instance_breaks_its_chain_from_the_first_event(
    service, database, db_url, history
):
    # Every event's hash covers the instance's key.
    sql(database, "UPDATE instances SET key = 'wk-holtenbroek-noord' WHERE key = :k", k=KEY)
    reports = {r.key: r for r in service.verify()}
    assert reports["wk-holtenbroek-noord"].first_broken == 1
    assert "event 1 (instance_started) was altered" in (
        reports["wk-holtenbroek-noord"].problem or ""
    )
    assert all(reports[k].intact for k in BYSTANDERS)

    result = CliRunner().invoke(main, ["--lang", "en", "--db", db_url, "audit", "verify"])
    assert result.exit_code == 3
    assert result.stderr.startswith("wk-holtenbroek-noord: BROKEN at event 1: ")


def test_two_tampered_instances_are_each_reported(service, database, db_url, history):
    _actor(database, instance_id(database, KEY), history)
    sql(
        database,
        "DELETE FROM events WHERE instance_id = :i AND seq = 3",
        i=instance_id(database, "wk-assendorp"),
    )
    reports = {r.key: r for r in service.verify()}
    assert (reports[KEY].first_broken, reports["wk-assendorp"].first_broken) == (7, 3)
    assert reports["wk-stadshagen"].intact

    result = CliRunner().invoke(main, ["--lang", "en", "--db", db_url, "audit", "verify"])
    assert result.exit_code == 3
    assert [line.split(":")[0] for line in result.stderr.splitlines()] == [
        "wk-assendorp",
        KEY,
    ]
    assert result.stdout.strip().endswith(": 2 broken")


def test_an_untouched_database_verifies_intact(service, database, db_url, history):
    before = event_rows(database)
    reports = service.verify()
    assert [(r.key, r.events, r.intact, r.first_broken) for r in reports] == [
        ("wk-assendorp", 3, True, None),
        (KEY, LAST, True, None),
        ("wk-stadshagen", 2, True, None),
    ]

    result = CliRunner().invoke(main, ["--lang", "en", "--db", db_url, "audit", "verify"])
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert result.stdout.strip() == (
        f"3 neighbourhoods and deelprojecten, {LAST + 5} events: all chains intact; every "
        "projection matches its events"
    )

    result = CliRunner().invoke(main, ["--lang", "en", "--db", db_url, "audit", "verify", KEY])
    assert result.exit_code == 0
    assert result.stdout.strip() == (
        "1 neighbourhood or deelproject, "
        f"{LAST} events: all chains intact; every projection matches its events"
    )
    # Dutch by default (the catalogue's words).
    result = CliRunner().invoke(main, ["--db", db_url, "audit", "verify", KEY])
    assert result.stdout.strip() == (
        f"1 wijk of deelproject, {LAST} gebeurtenissen: alle ketens intact; elke projectie klopt "
        "met haar gebeurtenissen"
    )

    # Verifying reads only.
    assert event_rows(database) == before


def test_the_chain_covers_what_the_log_shows(service, history):
    # Sanity: the fixture history is what the tamperings assume, and every link is in place.
    assert history[0].previous is None
    for before, after in itertools.pairwise(history):
        assert after.previous == before.hash
    assert len({e.hash for e in history}) == LAST
    assert history[7].payload["milestone"] == "regiemodel-en-rollen"
    assert history[3].reason == "Budget komt uit het programmabureau"
    assert history[6].actor == "a.bakker"
    assert service.show(KEY).events == LAST


# --- the projection ---------------------------------------------------------------------------


def assert_projection_is_the_replay(service: Service, key: str) -> None:
    """The instance row and its deadline rows are what the events say."""
    stored, rebuilt = service.replay(key)
    assert stored == rebuilt
    view = service.show(key)
    assert (view.state, view.phase, view.regie, view.events) == (
        rebuilt.state,
        rebuilt.phase,
        rebuilt.regie,
        len(service.log(key)),
    )
    assert view.phase_entered == rebuilt.phase_entered
    assert view.last_event_at == rebuilt.last_event_at
    assert (view.paused or {}).get("button") == (rebuilt.paused.button if rebuilt.paused else None)
    [stored_workflow] = [
        w for w in service.workflow_versions(view.workflow_key) if w.hash == view.workflow_hash
    ]
    compiled = service.compiled(stored_workflow)
    book = rebuilt.milestones
    assert [(m.id, m.status, m.day, m.due) for m in view.milestones] == [
        (mid, book.status(mid), book.day(mid), milestone_due(compiled, rebuilt, mid))
        for mid in compiled.milestone_index
    ]
    with service.store.read() as uow:
        stored_rows = uow.deadline_rows(uow.instance_id(key))  # type: ignore[arg-type]
    core = lambda d: (d.kind, d.subject, d.due, d.legal, d.frozen)  # noqa: E731
    assert sorted(map(core, stored_rows)) == sorted(map(core, deadline_states(compiled, rebuilt)))


def test_rebuild_of_an_intact_instance_changes_nothing(service, database, history):
    before = event_rows(database)
    for key in ALL_KEYS:
        assert service.rebuild(key) is False
        assert_projection_is_the_replay(service, key)
    assert event_rows(database) == before
    assert all(r.intact for r in service.verify())


def _phase_jumped(db: Database, iid: int) -> None:
    # "We are further than we are": phase 3 instead of 2.
    sql(
        db,
        "UPDATE instances SET state = 'samen-plannen', phase = 'samen-plannen' WHERE id = :i",
        i=iid,
    )


def _unpaused(db: Database, iid: int) -> None:
    # The bystander stadshagen is paused; pretend it is not.
    sql(
        db,
        "UPDATE instances SET state = 'samen-starten', paused_button = NULL, "
        "paused_reason = NULL, paused_since = NULL, paused_review = NULL WHERE id = :i",
        i=iid,
    )


def _regie_changed(db: Database, iid: int) -> None:
    sql(
        db,
        "UPDATE instances SET regie_type = 'gemeente', regie_organisation = 'Gemeente Zwolle' "
        "WHERE id = :i",
        i=iid,
    )


def _deadline_row_gone(db: Database, iid: int) -> None:
    # Only the deadline projection: the overview and the reminders would skip gebiedsprofiel.
    sql(
        db,
        "DELETE FROM deadlines WHERE instance_id = :i AND kind = 'milestone' "
        "AND subject = 'gebiedsprofiel'",
        i=iid,
    )


def _snapshot_changed(db: Database, iid: int) -> None:
    # The day phase 2 was entered (its deadlines count from it) moved a year back.
    [(snapshot,)] = sql(db, "SELECT snapshot FROM instances WHERE id = :i", i=iid)
    data = json.loads(snapshot) if isinstance(snapshot, str) else dict(snapshot)
    assert set(data["entries"]) == {"samen-starten", "karakteriseren"}
    statement = text("UPDATE instances SET snapshot = :s WHERE id = :i").bindparams(
        bindparam("s", type_=JSON)
    )
    sql(
        db,
        statement,
        s=data | {"entries": data["entries"] | {"karakteriseren": "2025-01-06"}},
        i=iid,
    )


def _state_only(db: Database, iid: int) -> None:
    # The state column alone: the phase column still says karakteriseren.
    sql(db, "UPDATE instances SET state = 'samen-plannen' WHERE id = :i", i=iid)


def _phase_only(db: Database, iid: int) -> None:
    # The phase column alone (what `status --phase` filters on); the state is untouched.
    sql(db, "UPDATE instances SET phase = 'samen-plannen' WHERE id = :i", i=iid)


def _milestone_settled(db: Database, iid: int) -> None:
    # A milestone of the current phase marked done in the row; no event says so.
    [(snapshot,)] = sql(db, "SELECT snapshot FROM instances WHERE id = :i", i=iid)
    data = json.loads(snapshot) if isinstance(snapshot, str) else dict(snapshot)
    slot = MILESTONES.index("fysieke-kenmerken")
    assert data["milestones"][slot] == 0
    data["milestones"][slot] = data["milestones"][MILESTONES.index("eigendom-en-gebruik")]
    statement = text("UPDATE instances SET snapshot = :s WHERE id = :i").bindparams(
        bindparam("s", type_=JSON)
    )
    sql(db, statement, s=data, i=iid)


def _deadline_moved(db: Database, iid: int) -> None:
    # Only the deadline projection: its reminders would come a month late.
    [(due,)] = sql(
        db,
        "SELECT due FROM deadlines WHERE instance_id = :i AND kind = 'milestone' "
        "AND subject = 'gebiedsprofiel'",
        i=iid,
    )
    due = due if isinstance(due, date) else date.fromisoformat(due)
    statement = text(
        "UPDATE deadlines SET due = :d WHERE instance_id = :i AND kind = 'milestone' "
        "AND subject = 'gebiedsprofiel'"
    ).bindparams(bindparam("d", type_=Date))
    sql(db, statement, d=due + timedelta(days=30), i=iid)


def _title_and_areas(db: Database, iid: int) -> None:
    statement = text("UPDATE instances SET title = 'Holtenbroek-Noord', areas = :a WHERE id = :i")
    sql(db, statement.bindparams(bindparam("a", type_=JSON)), a=["WK019302"], i=iid)


def _created_earlier(db: Database, iid: int) -> None:
    statement = text("UPDATE instances SET created_at = :c WHERE id = :i").bindparams(
        bindparam("c", type_=UtcDateTime())
    )
    sql(db, statement, c=datetime(2025, 12, 1, 9, tzinfo=UTC), i=iid)


# What each tampering makes the row and the events disagree on, and whether ``show`` (which
# reads the instance row, not the deadline rows or the phase column) shows it.
PROJECTION_TAMPERINGS = [
    pytest.param(KEY, _phase_jumped, ["state", "phase"], True, id="state-and-phase"),
    pytest.param(KEY, _state_only, ["state"], True, id="state"),
    pytest.param(KEY, _phase_only, ["phase"], False, id="phase"),
    pytest.param("wk-stadshagen", _unpaused, ["state", "paused"], True, id="pause-removed"),
    pytest.param(KEY, _regie_changed, ["regie"], True, id="regie"),
    pytest.param(KEY, _title_and_areas, ["title", "areas"], True, id="title-and-areas"),
    pytest.param(KEY, _created_earlier, ["created_at"], True, id="created-at"),
    pytest.param(KEY, _milestone_settled, ["milestone fysieke-kenmerken"], True, id="milestone"),
    pytest.param(
        KEY, _deadline_row_gone, ["deadline milestone gebiedsprofiel"], False, id="deadline-gone"
    ),
    pytest.param(
        KEY, _deadline_moved, ["deadline milestone gebiedsprofiel"], False, id="deadline-moved"
    ),
    # show computes due dates from the phase entries in the row: it shows the change.
    pytest.param(KEY, _snapshot_changed, ["entered karakteriseren"], True, id="phase-entry"),
]


def assert_reported(
    service: Service, db_url: str, key: str, what: list[str]
) -> list[dict[str, Any]]:
    """``verify`` and ``audit verify`` (text and JSON) report exactly these differences of
    ``key``'s projection, with its chain intact; the JSON differences are returned."""
    reports = {r.key: r for r in service.verify()}
    report = reports[key]
    assert report.intact, report.problem  # the log itself is untouched
    assert [d.what for d in report.differences] == what
    assert not report.consistent
    assert [k for k, r in reports.items() if not r.consistent] == [key]
    assert service.verify(key) == [report]

    result = CliRunner().invoke(main, ["--lang", "en", "--db", db_url, "audit", "verify"])
    assert result.exit_code == 3, result.output
    assert result.stderr.splitlines() == [
        f"{key}: projection differs from its events: {d.what}: the row says {d.stored}, "
        f"the events say {d.events}"
        for d in report.differences
    ]
    assert result.stdout.strip().endswith(
        "all chains intact; 1 projection differs from its events (repair: wijkkompas instance "
        "rebuild KEY)"
    )

    result = CliRunner().invoke(
        main, ["--lang", "en", "--db", db_url, "audit", "verify", key, "--json"]
    )
    assert result.exit_code == 3, result.output
    [row] = json.loads(result.stdout)
    assert row == {
        "key": key,
        "events": report.events,
        "intact": True,
        "first_broken": None,
        "problem": None,
        "projection_matches": False,
        "differences": [
            {"what": d.what, "stored": d.stored, "events": d.events} for d in report.differences
        ],
    }
    documented = json_docs_section("`wijkkompas audit verify")
    for field in [*row, *row["differences"][0]]:
        assert re.search(rf"\b{field}\b", documented), f"{field} not in docs/json.md"
    return list(row["differences"])


@pytest.mark.parametrize(("key", "change", "what", "shown"), PROJECTION_TAMPERINGS)
def test_a_tampered_projection_is_reported_and_rebuild_restores_it(
    service, database, db_url, history, key, change, what, shown
):
    truth = service.show(key)
    events = event_rows(database)
    change(database, instance_id(database, key))

    assert_reported(service, db_url, key, what)
    assert (service.show(key) != truth) is shown

    assert service.rebuild(key) is True
    assert service.rebuild(key) is False
    assert_projection_is_the_replay(service, key)
    assert service.show(key) == truth
    assert event_rows(database) == events
    assert all(r.consistent for r in service.verify())
    assert (
        CliRunner().invoke(main, ["--lang", "en", "--db", db_url, "audit", "verify"]).exit_code == 0
    )


def test_what_differs_is_said_in_values_a_person_can_check(service, database, db_url, history):
    _phase_jumped(database, instance_id(database, KEY))
    _deadline_moved(database, instance_id(database, KEY))
    differences = assert_reported(
        service, db_url, KEY, ["state", "phase", "deadline milestone gebiedsprofiel"]
    )
    [truth] = [d for d in service.show(KEY).milestones if d.id == "gebiedsprofiel"]
    assert differences == [
        {"what": "state", "stored": "samen-plannen", "events": "karakteriseren"},
        {"what": "phase", "stored": "samen-plannen", "events": "karakteriseren"},
        {
            "what": "deadline milestone gebiedsprofiel",
            "stored": f"due {truth.due + timedelta(days=30)}",
            "events": f"due {truth.due}",
        },
    ]


def test_the_audit_reads_page_by_page_and_finds_the_same(service, database, history):
    # Over every instance the audit reads a page of instances at a time (keyset by key): with
    # a broken chain in one and a drifted projection in another, every page size finds exactly
    # what the instances checked one by one find, each instance once, in key order.
    iid = instance_id(database, KEY)
    set_payload(database, iid, 8, stored_payload(database, iid, 8) | {"milestone": "x"})
    sql(database, "UPDATE instances SET title = 'Stadshagen-Zuid' WHERE key = 'wk-stadshagen'")
    one_by_one = [service.verify(key)[0] for key in sorted(ALL_KEYS)]
    assert [(r.key, r.intact, r.consistent) for r in one_by_one] == [
        ("wk-assendorp", True, True),
        (KEY, False, False),
        ("wk-stadshagen", True, False),
    ]
    assert one_by_one[1].first_broken == 8
    assert [d.what for d in one_by_one[2].differences or ()] == ["title"]
    for page in (1, 2, 3, 4, AUDIT_PAGE):
        assert verify(service.context, page=page) == one_by_one, page
    assert service.verify() == one_by_one


EXTRA = ("wk-berkum", "wk-dieze", "wk-kamperpoort", "wk-westenholte", "wk-zalne")


def test_the_audit_in_forked_processes_finds_what_one_process_finds(service, database, history):
    # Over more than one page, forked processes read the pages into logs and audit them
    # (issue 15) while this one reads on: an event altered in the middle of a log in the
    # middle of a page, a row edited behind the engine's back, a deadline row moved, a row no
    # command could have written and an event removed at the end are each found there as one
    # process finds them, every instance once, in key order, whatever the page size.
    for key in EXTRA:
        service.create(key, workflow="wijkkompas", title=key[3:], regie=GEMEENTE, by="p.devries")
        service.milestone_done(key, "aanleiding-en-opdracht", by="p.devries")
        service.note(key, "Bewonersavond goed bezocht", by="p.devries")
        service.milestone_done(key, "partijen-aan-tafel", by="p.devries")
    kamperpoort = instance_id(database, "wk-kamperpoort")
    set_payload(database, kamperpoort, 2, stored_payload(database, kamperpoort, 2) | {"x": 1})
    sql(database, "UPDATE instances SET title = 'Stadshagen-Zuid' WHERE key = 'wk-stadshagen'")
    westenholte = instance_id(database, "wk-westenholte")
    gate = "SELECT due FROM deadlines WHERE instance_id = :i AND kind = 'gate'"
    [(due,)] = sql(database, gate, i=westenholte)
    due = due if isinstance(due, date) else date.fromisoformat(due)
    moved = text("UPDATE deadlines SET due = :d WHERE instance_id = :i AND kind = 'gate'")
    moved = moved.bindparams(bindparam("d", type_=Date))
    sql(database, moved, d=due + timedelta(days=9), i=westenholte)
    zalne = instance_id(database, "wk-zalne")
    [(snapshot,)] = sql(database, "SELECT snapshot FROM instances WHERE id = :i", i=zalne)
    data = json.loads(snapshot) if isinstance(snapshot, str) else dict(snapshot)
    statement = text("UPDATE instances SET snapshot = :s WHERE id = :i").bindparams(
        bindparam("s", type_=JSON)
    )
    sql(database, statement, s=data | {"milestones": data["milestones"][:3]}, i=zalne)
    dieze = instance_id(database, "wk-dieze")
    sql(database, "DELETE FROM events WHERE instance_id = :i AND seq = 4", i=dieze)

    one_by_one = [service.verify(key)[0] for key in sorted((*ALL_KEYS, *EXTRA))]
    found = {r.key: r for r in one_by_one if not r.consistent}
    assert sorted(found) == [
        "wk-dieze",
        "wk-kamperpoort",
        "wk-stadshagen",
        "wk-westenholte",
        "wk-zalne",
    ]
    assert (found["wk-kamperpoort"].first_broken, found["wk-dieze"].first_broken) == (2, 4)
    assert [d.what for d in found["wk-stadshagen"].differences or ()] == ["title"]
    assert [d.what for d in found["wk-westenholte"].differences or ()] == [
        "deadline gate samen-starten"
    ]
    assert [d.what for d in found["wk-zalne"].differences or ()] == ["row"]
    for page in (1, 2, 3, 5):
        for workers in (2, 3):
            assert verify(service.context, page=page, workers=workers) == one_by_one, page
    assert verify(service.context, page=3, workers=1) == one_by_one
    # The same when the forked processes could not begin their transactions at one moment
    # (the database written to each time): this process reads the pages and hands them over.
    with pytest.MonkeyPatch.context() as patched:
        patched.setattr(AuditMoment, "moved", lambda self: True)
        for page in (1, 3):
            assert verify(service.context, page=page, workers=2) == one_by_one, page


def test_the_audit_goes_on_alone_when_no_process_can_be_forked(service, history, monkeypatch):
    # A limit on processes (fork fails with EAGAIN): the pages are audited here instead.
    asked: list[str] = []

    def refused() -> int:
        asked.append("fork")
        raise BlockingIOError(errno.EAGAIN, "Resource temporarily unavailable")

    one_by_one = [service.verify(key)[0] for key in sorted(ALL_KEYS)]
    monkeypatch.setattr(os, "fork", refused)
    assert verify(service.context, page=1, workers=2) == one_by_one
    assert asked == ["fork"]


def _killed(*page: Any) -> Any:
    """An audit process's page, as the process is killed (from a test: found by name)."""
    os.kill(os.getpid(), signal.SIGKILL)


def test_an_audit_process_that_dies_fails_the_audit_instead_of_hanging(
    service, history, monkeypatch
):
    # Killed (out of memory, say) while it audits a page: an error, not an audit that waits
    # for ever, and never a report that leaves the page out; whether it read the page itself
    # or was handed it.
    monkeypatch.setattr(audit_history, "_audit_range", _killed)
    with pytest.raises(BrokenProcessPool):
        verify(service.context, page=1, workers=2)
    monkeypatch.setattr(AuditMoment, "moved", lambda self: True)
    monkeypatch.setattr(audit_history, "_audit_page", _killed)
    with pytest.raises(BrokenProcessPool):
        verify(service.context, page=1, workers=2)


def test_a_row_that_cannot_be_read_is_reported_not_a_crash(service, database, db_url, history):
    # A snapshot with fewer milestone slots than the workflow has: no instance can come of it.
    iid = instance_id(database, KEY)
    [(snapshot,)] = sql(database, "SELECT snapshot FROM instances WHERE id = :i", i=iid)
    data = json.loads(snapshot) if isinstance(snapshot, str) else dict(snapshot)
    statement = text("UPDATE instances SET snapshot = :s WHERE id = :i").bindparams(
        bindparam("s", type_=JSON)
    )
    sql(database, statement, s=data | {"milestones": data["milestones"][:3]}, i=iid)
    [difference] = assert_reported(service, db_url, KEY, ["row"])
    assert difference["stored"].startswith("unreadable (stored milestones (3) do not fit")
    assert all(r.consistent for r in service.verify() if r.key != KEY)


def _rewound(db: Database, iid: int, log: list[StoredEvent]) -> None:
    """The last event removed, and the row's head set back to the one before it: the chain is
    whole, but the row still holds what the removed event did."""
    sql(db, "DELETE FROM events WHERE instance_id = :i AND seq = :s", i=iid, s=LAST)
    sql(
        db,
        "UPDATE instances SET seq = :s, head = :h WHERE id = :i",
        s=LAST - 1,
        h=log[LAST - 2].hash,
        i=iid,
    )


def test_a_head_set_back_after_removing_the_last_event_is_reported(
    service, database, db_url, history
):
    _rewound(database, instance_id(database, KEY), history)
    # Event 16 (eigendom-en-gebruik done) is gone; the row still says it is done.
    differences = assert_reported(
        service,
        db_url,
        KEY,
        [
            "last_event_at",
            "milestone eigendom-en-gebruik",
            "deadline milestone eigendom-en-gebruik",
        ],
    )
    assert differences[1]["events"] == "open"
    assert differences[1]["stored"].startswith("done ")
    assert differences[2]["stored"] == "none"


def test_an_instance_whose_whole_log_was_removed_is_reported(service, database, db_url, history):
    # Every instance row is written with its first event: a row whose events were all
    # removed, its head set back to "no events", is a broken log (from event 1) in every way
    # the audit reads it, never an intact instance, and rebuild refuses to build on it.
    iid = instance_id(database, KEY)
    sql(database, "DELETE FROM events WHERE instance_id = :i", i=iid)
    sql(database, "UPDATE instances SET seq = 0, head = '' WHERE id = :i", i=iid)
    [report] = service.verify(KEY)
    assert (report.intact, report.first_broken, report.events) == (False, 1, 0)
    _reported_alike_on_every_path(service, db_url)
    with pytest.raises(RuleViolation, match=r"its log is broken at event 1"):
        service.rebuild(KEY)


UNREADABLE_EVENTS = [
    pytest.param(
        "UPDATE events SET payload = substr(payload, 1, length(payload) - 1)", id="payload"
    ),
    pytest.param("UPDATE events SET recorded_at = 'gisteren'", id="recorded-at"),
    pytest.param(
        "UPDATE personal_fields SET fields = '[' WHERE event_id IN (SELECT id FROM events",
        id="personal-fields",
    ),
    pytest.param(
        "UPDATE personal_fields SET fields = '[1]' WHERE event_id IN (SELECT id FROM events",
        id="personal-fields-a-list",
    ),
]


@pytest.mark.parametrize("change", UNREADABLE_EVENTS)
def test_an_event_whose_stored_values_cannot_be_read_is_reported_not_a_crash(
    service, database, db_url, history, change
):
    # A byte changed in an event's JSON or in one of its moments can leave a value no command
    # could have written (on SQLite; PostgreSQL's typed columns refuse all but JSON of another
    # shape): that event is reported altered, as every way the audit reads it finds it, and
    # the others are audited.
    if not db_url.startswith("sqlite") and "[1]" not in change:
        pytest.skip("PostgreSQL refuses a value that is not JSON or not a moment")
    iid = instance_id(database, KEY)
    where = " WHERE instance_id = :i AND seq = 5"
    sql(database, change + (where + ")" if "personal" in change else where), i=iid)
    [report] = service.verify(KEY)
    assert (report.intact, report.first_broken) == (False, 5)
    assert report.problem is not None
    assert report.problem.startswith("event 5 (instance_paused) was altered: ")
    result = _reported_alike_on_every_path(service, db_url)
    assert f"{KEY}" in result.stderr


def test_rebuild_through_the_cli(service, database, db_url, history):
    _phase_jumped(database, instance_id(database, KEY))
    runner = CliRunner()
    result = runner.invoke(main, ["--db", db_url, "instance", "rebuild", KEY])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"{KEY}: projection rebuilt; it had drifted"
    result = runner.invoke(main, ["--db", db_url, "instance", "rebuild", KEY])
    assert result.stdout.strip() == f"{KEY}: projection already matched its events"
    assert service.show(KEY).phase == "karakteriseren"


def test_the_projection_keeps_up_with_a_long_random_history(service, clock):
    """Hundreds of commands, many of them refused, on four wijken and a sub-project."""
    rng = random.Random(20260105)
    keys = ["wk-a", "wk-b", "wk-c", "wk-d"]
    for key in keys:
        service.create(key, workflow="wijkkompas", title=key.upper(), regie=GEMEENTE, by="t")
    service.create(
        "wk-a-corp",
        workflow="corporatie-renovatie",
        title="Corporatieblok",
        regie=CORPORATIE,
        parent="wk-a",
        by="t",
    )
    keys.append("wk-a-corp")
    compiled = {
        w.key: service.compiled(w)
        for w in service.workflow_versions()
        if w.key in ("wijkkompas", "corporatie-renovatie")
    }
    regies = [GEMEENTE, CORPORATIE, Regie(type="bewonersinitiatief", organisation="Wijkraad")]
    outcomes: dict[str, int] = {"recorded": 0, "refused": 0, "followed": 0}
    types: set[str] = set()

    def command(key: str) -> Any:
        view = service.show(key)
        wf = compiled[view.workflow_key]
        phase = view.phase
        running = phase in wf.phase_pos
        reached = [
            m for m in view.milestones if running and wf.phase_pos[m.phase] <= wf.phase_pos[phase]
        ]
        open_ = [m.id for m in reached if m.status == "open"] or [m.id for m in view.milestones]
        settled = [m.id for m in reached if m.status != "open"] or open_
        by = rng.choice(["p.devries", "a.bakker", "griffie"])
        roll = rng.random()
        if roll < 0.40:
            # Prefer milestones of the current phase, in their order.
            current = [m for m in open_ if wf.milestone_phase[m] == phase] or open_
            return service.milestone_done(key, rng.choice(current[:3]), by=by)
        if roll < 0.50:
            return service.milestone_skip(
                key, rng.choice(open_), by=by, reason="Niet van toepassing"
            )
        if roll < 0.53:
            return service.milestone_reopen(key, rng.choice(settled), by=by, reason="Opnieuw")
        if roll < 0.63:
            asked = [a for a, _ in wf.gates[phase].approvals] if running else []
            approval = rng.choice(asked or list(wf.definition.approvals))
            decision = "go" if rng.random() < 0.9 else "no-go"
            return service.approve(
                key, approval, decision, by="griffie", ref=f"B{rng.randint(1, 999)}"
            )
        if roll < 0.73:
            if rng.random() < 0.15:
                return service.advance(key, by=by, override=True, reason="Bestuurlijk besloten")
            return service.advance(key, by=by)
        if roll < 0.81:
            if view.paused:
                return service.resume(key, by=by, note=rng.choice([None, "Weer verder"]))
            buttons = (wf.buttons_in.get(phase) if running else None) or tuple(wf.buttons)
            return service.pause(key, rng.choice(buttons), by=by, reason="Wachten")
        if roll < 0.86:
            allowed = [r for r in regies if r.type in wf.definition.regie]
            return service.hand_over(key, rng.choice(allowed), by=by, reason="Andere trekker")
        if roll < 0.89:
            targets = [r.to for r in wf.returns_from.get(phase, ())] if running else []
            target = rng.choice(targets or list(wf.phase_ids))
            return service.return_to(key, target, by=by, reason="Gebied opnieuw bekeken")
        if roll < 0.895 and key != "wk-a":
            return service.stop(key, by=by, reason="No-go van de raad")
        if roll < 0.92:
            contacts = view.regie.contacts
            return service.update(
                key,
                by=by,
                title=f"{key.upper()} {rng.randint(1, 10**6)}",
                add_contacts=[f"c{rng.randint(1, 5)}@zwolle.nl"],
                remove_contacts=contacts[:1] if rng.random() < 0.5 else (),
                add_areas=[f"BU019301{rng.randint(10, 15)}"],
            )
        return service.note(key, f"Notitie {rng.randint(1, 10**6)}", by=by)

    for _ in range(600):
        clock.advance(hours=rng.randint(1, 400))
        key = rng.choice(keys)
        try:
            recorded = command(key)
        except Refused:
            outcomes["refused"] += 1
        else:
            outcomes["recorded"] += 1
            # with what the engine recorded by itself (an automatic gate of the shipped
            # workflow), each an event of its own
            outcomes["followed"] += len(recorded.followed)
            types.add(recorded.event.type)

    assert outcomes["recorded"] > 200, outcomes
    assert outcomes["refused"] > 50, outcomes
    assert types >= {
        "milestone_done",
        "milestone_skipped",
        "milestone_reopened",
        "approval_recorded",
        "phase_advanced",
        "instance_paused",
        "instance_resumed",
        "regie_handed_over",
        "phase_returned",
        "instance_updated",
        "note_added",
    }, types
    recorded_events = outcomes["recorded"] + outcomes["followed"]
    assert sum(len(service.log(k)) for k in keys) == len(keys) + recorded_events
    assert all(r.intact for r in service.verify())
    for key in keys:
        assert_projection_is_the_replay(service, key)
        assert service.rebuild(key) is False


def test_rebuild_refuses_to_build_on_a_broken_log(service, database, history):
    iid = instance_id(database, KEY)
    sql(database, "UPDATE events SET reason = 'vervalst' WHERE instance_id = :i AND seq = 5", i=iid)
    before = service.replay(KEY)[0]
    with pytest.raises(RuleViolation, match=r"its log is broken at event 5") as refused:
        service.rebuild(KEY)
    assert refused.value.exit_code == 3
    assert service.replay(KEY)[0] == before


@pytest.mark.parametrize(
    ("tampering", "found"),
    [
        pytest.param(_delete_last, f"its log ends at event {LAST - 1}", id="last-event-removed"),
        pytest.param(_append_sealed, f"its log ends at event {LAST + 1}", id="event-appended"),
        pytest.param(
            _replace_last_resealed, f"event {LAST} in its log is another one", id="last-replaced"
        ),
    ],
)
@pytest.mark.parametrize("remembered", [True, False], ids=["remembered-copy", "row-read"])
def test_a_command_refuses_to_build_on_a_row_whose_head_is_not_its_last_event(
    service, database, clock, history, monkeypatch, tampering, found, remembered
):
    tampering(database, instance_id(database, KEY), history)
    if remembered:
        # The store remembers its own last write of KEY: the command reads neither the row
        # nor the log before it decides, and must still find out before anything is saved.
        assert service.store._commands._local.recent[KEY].seq == LAST
        runner = service
    else:
        runner = Service(SqlStore(database), clock=clock)
    reads: list[str] = []
    read_row = runner.store.fast.read_row

    def counted(found: Any) -> Any:
        # Every read of an instance row on the command path comes through here (PostgreSQL's
        # comes with BEGIN in one round trip, without FastPath.load).
        row = read_row(found)
        reads.append(row["key"])
        return row

    monkeypatch.setattr(runner.store.fast, "read_row", counted)
    events, row = event_rows(database), instance_row(database, KEY)
    # The remembered copy is used first (no read); after a refusal it is forgotten.
    expected_reads = [[], [KEY]] if remembered else [[KEY], [KEY, KEY]]
    for command, expected in zip(
        (
            lambda: runner.note(KEY, "na de vervalsing", by="t"),
            lambda: runner.milestone_done(KEY, "fysieke-kenmerken", by="t"),
        ),
        expected_reads,
        strict=True,
    ):
        with pytest.raises(
            BrokenLog,
            match=rf"{KEY}: .*the instance row says its last event is {LAST}, but {found}.*"
            rf"nothing was saved.*wijkkompas audit verify {KEY}",
        ) as refused:
            command()
        assert refused.value.exit_code == 3
        assert reads == expected
    assert event_rows(database) == events
    assert instance_row(database, KEY) == row


def test_a_command_after_a_forged_appended_event_is_refused_through_the_cli(
    service, database, db_url, history
):
    _append_sealed(database, instance_id(database, KEY), history)
    result = CliRunner().invoke(main, ["--db", db_url, "note", KEY, "na de vervalsing"])
    assert result.exit_code == 3, result.output
    assert f"maar haar logboek eindigt bij gebeurtenis {LAST + 1}" in result.stderr
    assert f"wijkkompas audit verify {KEY}" in result.stderr
    args = ["--lang", "en", "--db", db_url, "note", KEY, "na de vervalsing"]
    english = CliRunner().invoke(main, args)
    assert english.exit_code == 3, english.output
    assert english.stderr == (
        f"wijkkompas: {KEY}: refused: the instance row says its last event is {LAST}, but its "
        f"log ends at event {LAST + 1}; nothing was saved: run `wijkkompas audit verify {KEY}`\n"
    )


# --- the audit's cheap comparison against the complete one --------------------------------------


def _both_comparisons(service: Service, key: str) -> tuple[bool, list[str]]:
    """(``projection_agrees``, what ``projection_differences`` names) for ``key``, on the row,
    deadline rows and party rows as the audit reads them."""
    context = service.context
    with context.store.read() as uow:
        log = audit_history._audited(context, uow, key)
    assert log.record is not None
    workflow = context.compiled(log.record.workflow)
    rebuilt = audit_history._replay(context, log.record, log.events)
    running = deadline_map(workflow, rebuilt)
    expected = [
        DeadlineState(
            kind=d.kind, subject=d.subject, due=d.due, legal=d.legal, frozen=frozen, next_on=None
        )
        for d, frozen in running.values()
    ]
    found = projection_differences(
        log.record,
        rebuilt,
        log.events[0],
        milestones=workflow.milestone_index,
        rows=log.deadlines,
        expected=expected,
        parties=log.parties,
    )
    agrees = projection_agrees(
        log.record, rebuilt, log.events[0], rows=log.deadlines, running=running, parties=log.parties
    )
    return agrees, [d.what for d in found]


def _deadline_flag(column: str) -> Callable[[Database, int], None]:
    def change(db: Database, iid: int) -> None:
        sql(
            db,
            f"UPDATE deadlines SET {column} = NOT {column} WHERE instance_id = :i "
            "AND kind = 'milestone' AND subject = 'gebiedsprofiel'",
            i=iid,
        )

    return change


def _deadline_added(db: Database, iid: int) -> None:
    # A row for a milestone of a phase not reached: no event starts its clock.
    statement = text(
        "INSERT INTO deadlines (instance_id, kind, subject, due, legal, frozen, next_on) "
        "VALUES (:i, 'milestone', 'strategieen-koppelkansen', :d, FALSE, FALSE, NULL)"
    ).bindparams(bindparam("d", type_=Date))
    sql(db, statement, i=iid, d=date(2027, 3, 1))


def _reminder_moved(db: Database, iid: int) -> None:
    # The first reminder moment is the reminder pass's: no difference of the projection.
    statement = text(
        "UPDATE deadlines SET next_on = :d WHERE instance_id = :i AND kind = 'milestone' "
        "AND subject = 'gebiedsprofiel'"
    ).bindparams(bindparam("d", type_=Date))
    sql(db, statement, i=iid, d=date(2030, 1, 1))


def _party_added(db: Database, iid: int) -> None:
    sql(
        db,
        "INSERT INTO instance_parties (instance_id, organisation, party) "
        "VALUES (:i, 'deltawonen', 'woningcorporatie')",
        i=iid,
    )


def _untouched(db: Database, iid: int) -> None:
    pass


CHEAP_COMPARISONS = [
    *PROJECTION_TAMPERINGS,
    pytest.param(KEY, _untouched, [], False, id="untouched"),
    pytest.param(
        KEY, _deadline_flag("frozen"), ["deadline milestone gebiedsprofiel"], False, id="frozen"
    ),
    pytest.param(
        KEY, _deadline_flag("legal"), ["deadline milestone gebiedsprofiel"], False, id="legal"
    ),
    pytest.param(
        KEY,
        _deadline_added,
        ["deadline milestone strategieen-koppelkansen"],
        False,
        id="deadline-added",
    ),
    pytest.param(KEY, _reminder_moved, [], False, id="reminder-moved"),
    pytest.param(KEY, _party_added, ["party rows"], False, id="party-row-added"),
]


@pytest.mark.parametrize(("key", "change", "what", "shown"), CHEAP_COMPARISONS)
def test_the_cheap_comparison_agrees_exactly_when_the_complete_one_finds_nothing(
    service, database, history, key, change, what, shown
):
    # The audit compares a projection with its events cheaply first and names the differences
    # only when that finds any (issue 15): every kind of tampered projection, and an untouched
    # one, gives the same verdict both ways, and the audit reports what the complete one names.
    change(database, instance_id(database, key))
    for each in ALL_KEYS:
        agrees, found = _both_comparisons(service, each)
        assert agrees is (not found), (each, found)
        assert found == (what if each == key else [])
    reports = {r.key: r for r in service.verify()}
    assert [d.what for d in reports[key].differences or ()] == what
    assert reports == {r.key: r for r in verify(service.context, page=1, workers=2)}


def _reported_alike_on_every_path(service: Service, db_url: str) -> Any:
    """KEY alone reported, the same by pages of 1 and 2 with 1 and 2 workers as one by one,
    and by the command line (exit 3); the command line's result."""
    one_by_one = [service.verify(key)[0] for key in sorted(ALL_KEYS)]
    assert [r.key for r in one_by_one if not r.consistent] == [KEY]
    for page in (1, 2):
        assert verify(service.context, page=page, workers=1) == one_by_one
        assert verify(service.context, page=page, workers=2) == one_by_one
    result = CliRunner().invoke(main, ["--db", db_url, "audit", "verify"])
    assert result.exit_code == 3, result.output
    return result
