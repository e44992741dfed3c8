"""The command hot path in plain DB-API calls: load one instance row, save row + event.

Every command loads one instance (unless the store remembers it) and writes one guarded UPDATE,
one INSERT and the deadline rows that changed (on PostgreSQL's command path the guarded UPDATE
and the event in one statement, sent with COMMIT: roundtrips.py).
Through SQLAlchemy's execution machinery that costs more than the work on a fast disk, so these
few statements go straight to the driver's cursor, on the connection (and in the transaction)
SQLAlchemy manages. The values are stored exactly as SQLAlchemy stores
them for the same columns (see ``tables.py``), so either side reads what the other wrote:

=========  ======================================  ===================================
type       SQLite (sqlite3)                        PostgreSQL (psycopg 3)
=========  ======================================  ===================================
datetime   text 'YYYY-MM-DD HH:MM:SS.ffffff', UTC  timestamptz
date       text 'YYYY-MM-DD'                       date
JSON       text (json.dumps)                       json
=========  ======================================  ===================================

A test writes through this module and reads back through SQLAlchemy, and the other way round.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

from engine.byvalue import ByValue, value_class
from engine.persistence.database import fold_sql, loads
from engine.persistence.records import personal_from, personal_json
from engine.ports import (
    ChildRow,
    DeadlineChange,
    DeadlineState,
    InstanceScope,
    QueuedMessage,
    StoredEvent,
    StoredWorkflow,
)
from engine.runtime.personal import Personal

if TYPE_CHECKING:
    from engine.ports import Organisation, OverviewRow

__all__ = ["INSTANCE_COLUMNS", "ROW_FIELDS", "Diverged", "FastPath", "dumps"]

INSTANCE_COLUMNS = (
    "i.id, i.key, i.title, i.workflow_version_id, p.key, i.state, i.phase, i.phase_entered, "
    "i.regie_type, i.regie_organisation, i.regie_contacts, i.areas, i.paused_button, "
    "i.paused_reason, i.paused_since, i.paused_review, i.snapshot, i.created_at, "
    "i.last_event_at, i.seq, i.head, i.version_no"
)
_LOAD = (
    f"SELECT {INSTANCE_COLUMNS} FROM instances i "
    "LEFT JOIN instances p ON p.id = i.parent_id WHERE i.key = ?"
)
# SQLite's command path: the load, and whether the instance has deelprojecten at all. Most have
# none, and the gate of most commands counts them: a statement of its own for an empty list was
# a tenth of a command's statements (the writer's lock keeps the answer true until the commit).
_LOAD_COUNTING = _LOAD.replace(
    " FROM instances i ",
    ", EXISTS (SELECT 1 FROM instances c INDEXED BY ix_instances_parent_id "
    "WHERE c.parent_id = i.id) FROM instances i ",
)
# The version number says nobody wrote since; the head says it is still the same history (after
# a restore from a backup a row can come back to a version number with other events behind it).
_SAVE_WHERE = " WHERE id = ? AND version_no = ? AND head = ?"
KEY_LENGTH = 400
"""The most an outbox key holds (its column; ``engine.reminders.rules.KEY_LENGTH``)."""
# ... and the head must be the last event of the log: a row that ends elsewhere (events removed,
# added or replaced behind the engine's back) is not built on. Asked after the guarded UPDATE,
# which holds the row: a concurrent writer of this instance waits until we are done.
_LAST_EVENT = "SELECT seq, hash FROM events WHERE instance_id = ? ORDER BY seq DESC LIMIT 1"
# Both in the UPDATE itself (one statement, not two: SQLite's command path; PostgreSQL's has it
# in ``_GUARDED_EVENT``): the row keeps its version number and head, and that head is the last
# event of its log. When it matches no row, ``_WHY_NOT`` tells which of the two failed.
_LOG_GUARD = (
    " AND (?, instances.head) = (SELECT seq, hash FROM events WHERE instance_id = instances.id "
    "ORDER BY seq DESC LIMIT 1)"
)
_WHY_NOT = (
    "SELECT i.version_no, i.head, (SELECT seq FROM events WHERE instance_id = i.id ORDER BY seq "
    "DESC LIMIT 1), (SELECT hash FROM events WHERE instance_id = i.id ORDER BY seq DESC LIMIT 1) "
    "FROM instances i WHERE i.id = ?"
)
_DATETIME_COLUMNS = ("phase_entered", "paused_since", "last_event_at")
_JSON_COLUMNS = ("regie_contacts", "areas", "snapshot")
_ALWAYS = ("last_event_at", "seq", "head")
_EVENT = (
    "INSERT INTO events (instance_id, seq, type, at, recorded_at, actor, reason, payload, "
    "previous, hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
# The event waits for its place in the global feed (engine/persistence/feed.py).
# PostgreSQL: the event, its row waiting for the feed and (with ``_WITH_PERSONAL``) its
# personal fields in one statement: two or three of the pipeline's statements in one (psycopg
# spends about as much CPU on a statement in a pipeline as the engine on a command's gate).
_EVENT_FED = (
    "WITH e AS (" + _EVENT + " RETURNING id){personal} "
    "INSERT INTO feed_pending (event_id) SELECT id FROM e"
)
_WITH_PERSONAL = ", p AS (INSERT INTO personal_fields (event_id, fields) SELECT id, ? FROM e)"
# PostgreSQL's command path (roundtrips.py), whose writes go with COMMIT before any answer is
# seen: the guarded UPDATE, the event and its rows in one statement that fails on the server
# when the guard does not hold. The row must still have the version number and head it was
# read with, and that head must be the log's last event; else the UPDATE matches no row, the
# event gets no instance (NULL: a not-null violation) and nothing after it runs.
_GUARDED_EVENT = (
    "WITH u AS (UPDATE instances SET {sets}, version_no = version_no + 1"
    + _SAVE_WHERE
    + _LOG_GUARD
    + " RETURNING id), "
    "e AS (INSERT INTO events (instance_id, seq, type, at, recorded_at, actor, reason, payload, "
    "previous, hash) VALUES ((SELECT id FROM u), ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id)"
    "{personal} INSERT INTO feed_pending (event_id) SELECT id FROM e"
)
_DEADLINE = {
    "insert": "INSERT INTO deadlines (instance_id, kind, subject, due, legal, frozen, next_on, "
    "sent_through) VALUES (?, ?, ?, ?, ?, ?, ?, NULL)",
    "reset": "UPDATE deadlines SET due = ?, legal = ?, frozen = ?, next_on = ?, "
    "sent_through = NULL WHERE instance_id = ? AND kind = ? AND subject = ?",
    # Resumed (frozen before): its reminders start afresh (what went out keeps its key; one
    # cancelled while it was paused is planned again). Paused: they stay where they were.
    "refreeze": "UPDATE deadlines SET frozen = ?, next_on = ?, "
    "sent_through = CASE WHEN frozen THEN NULL ELSE sent_through END "
    "WHERE instance_id = ? AND kind = ? AND subject = ?",
    "delete": "DELETE FROM deadlines WHERE instance_id = ? AND kind = ? AND subject = ?",
}

ROW_FIELDS = (
    "id",
    "key",
    "title",
    "workflow_version_id",
    "parent_key",
    "state",
    "phase",
    "phase_entered",
    "regie_type",
    "regie_organisation",
    "regie_contacts",
    "areas",
    "paused_button",
    "paused_reason",
    "paused_since",
    "paused_review",
    "snapshot",
    "created_at",
    "last_event_at",
    "seq",
    "head",
    "version_no",
)
_DATETIMES = {"phase_entered", "paused_since", "created_at", "last_event_at"}
_JSONS = {"regie_contacts", "areas", "snapshot"}
_CHILDREN = (
    "SELECT key, title, state, workflow_version_id, regie_type, regie_organisation "
    "FROM instances{indexed} WHERE parent_id = ? ORDER BY key"
)
# PostgreSQL: a command's children read with its load, by the key (one round trip for both).
_CHILDREN_OF_KEY = _CHILDREN.format(indexed="").replace(
    "parent_id = ?", "parent_id = (SELECT id FROM instances WHERE key = ?)"
)
_BY_PARENT = " INDEXED BY ix_instances_parent_id"
"""SQLite: the deelprojecten of an instance by the index on their parent. Its statistics
(``Database.optimize``: ANALYZE) count the rows without a parent, almost all of them, as one
value, so the planner judges the index useless and walks the whole table in key order instead:
every command read every instance (600 pages a command over 4,500 wijken, bench/README.md)."""
_WORKFLOW = (
    "SELECT id, key, version, hash, title, definition, source, stored_at, stored_by "
    "FROM workflow_versions WHERE id = ?"
)
# Every stored version (or those of one key), as ``Unit.workflow_versions`` orders them.
_WORKFLOWS = (
    "SELECT id, key, version, hash, title, definition, source, stored_at, stored_by "
    "FROM workflow_versions {where}ORDER BY key, version"
)
# The stamp of ``instance show``: the whole row as stored, and its children's rows.
_STAMP = "SELECT * FROM instances WHERE key = ?"
# PostgreSQL: the row and its deelprojecten (``_CHILDREN``'s columns) in one statement, which is
# one consistent view by itself: one round trip, no transaction around it.
_STAMP_WITH_CHILDREN = (
    "SELECT i.*, (SELECT json_agg(json_build_array(c.key, c.title, c.state, "
    "c.workflow_version_id, c.regie_type, c.regie_organisation) ORDER BY c.key) "
    "FROM instances c WHERE c.parent_id = i.id) FROM instances i WHERE i.key = ?"
)
_KEYS = "SELECT id, key FROM instances ORDER BY key"
_EVENTS = (
    "SELECT e.seq, e.type, e.at, e.recorded_at, e.actor, e.reason, e.payload, e.previous, "
    "e.hash, f.fields FROM events e LEFT JOIN personal_fields f ON f.event_id = e.id "
    "WHERE e.instance_id = ? ORDER BY e.seq"
)
# Whose an event's personal fields are, the event found by its (instance, seq): so this works
# inside PostgreSQL's pipeline too.
_SUBJECT = (
    "INSERT INTO personal_subjects (event_id, path, subject) "
    "SELECT id, ?, ? FROM events WHERE instance_id = ? AND seq = ?"
)
# SQLite: the event's rows by the id its INSERT gave (the cursor's lastrowid; events.id is the
# rowid), without looking the event up again by its (instance, seq).
_BY_ID = {
    "feed": "INSERT INTO feed_pending (event_id) VALUES (?)",
    "personal": "INSERT INTO personal_fields (event_id, fields) VALUES (?, ?)",
    "subject": "INSERT INTO personal_subjects (event_id, path, subject) VALUES (?, ?, ?)",
}
# Overdue and due-soon milestone deadlines (frozen ones wait) and undelivered reminders per
# instance. Of the snapshot only the three parts the gate reads, as text (``_SNAPSHOT_PARTS``):
# the database's JSON parser picks them out for about 0.03 s of CPU over 100,000 rows more than
# the whole text cost, where decoding the whole snapshot in Python took 0.31 s. The regie
# contacts come as text too (most rows have some, none needs more than the text). The two
# counts come as one number, overdue * COUNTS + due soon (``_COUNTS``), so that SQLite counts
# them in one correlated look-up per instance along the deadlines' primary key (instance,
# kind): 0.80 s of CPU over 100,000 instances and 800,000 deadline rows where the grouped join
# (kept for PostgreSQL, whose planner hashes it) took 1.0 s, building an index on its
# materialised counts first.
_OVERVIEW = (
    "SELECT i.id, i.key, i.title, i.workflow_version_id, p.key, i.state, i.phase_entered, "
    "i.regie_type, i.regie_organisation, i.paused_button, i.paused_since, "
    "{snapshot}, {counts}, "
    "COALESCE(f.failed, 0), CAST(i.regie_contacts AS TEXT) "
    "FROM instances i {join}"
    "LEFT JOIN (SELECT instance_id, COUNT(*) AS failed FROM outbox WHERE status = 'failed' "
    "GROUP BY instance_id) f ON f.instance_id = i.id "
    "LEFT JOIN instances p ON p.id = i.parent_id "
    "{where}ORDER BY i.key"
)
_COUNTS = 1 << 32
"""More deadline rows than one instance can have: the due-soon count stays below it."""
_COUNTED = (
    f"COALESCE((SELECT SUM(CASE WHEN d.due < ? THEN {_COUNTS} ELSE 1 END) FROM deadlines d "
    "WHERE d.instance_id = i.id AND d.kind = 'milestone' AND d.frozen = ? AND d.due < ?), 0)"
)
_JOINED = (
    f"COALESCE(c.overdue, 0) * {_COUNTS} + COALESCE(c.due_soon, 0)",
    "LEFT JOIN (SELECT instance_id, SUM(CASE WHEN due < ? THEN 1 ELSE 0 END) AS overdue, "
    "SUM(CASE WHEN due >= ? AND due < ? THEN 1 ELSE 0 END) AS due_soon FROM deadlines "
    "WHERE kind = 'milestone' AND frozen = ? GROUP BY instance_id) c ON c.instance_id = i.id ",
)
_SNAPSHOT_PARTS = {
    # json_extract gives arrays and objects as minified text, strings as their value; the
    # three calls cost about one parse (SQLite keeps the last parses of a statement).
    "sqlite": (
        "json_extract(i.snapshot, '$.milestones'), json_extract(i.snapshot, '$.approvals'), "
        "json_extract(i.snapshot, '$.ready')",
        "",
    ),
    # Each -> on a json column parses the whole text again (0.75 s of the server's time over
    # 100,000 rows against 0.32 s for the statement with the text whole); json_to_record
    # parses it once (0.25 s more) and gives arrays and objects as their text as stored.
    "postgresql": (
        "s.milestones, s.approvals, s.ready",
        "CROSS JOIN LATERAL json_to_record(i.snapshot) "
        "AS s(milestones text, approvals text, ready text) ",
    ),
}
_SCOPED = "WHERE ({shown}) OR i.parent_id IN (SELECT s.id FROM instances s WHERE {parent_shown}) "


def _scope_sql(scope: InstanceScope, alias: str, *, sqlite: bool) -> tuple[str, list[Any]]:
    """The scope as a condition on instance rows named ``alias``, with its parameters (the
    same rule as ``engine.persistence.scoping.visible``, for this raw statement)."""
    parts, params = [], []
    names = [n.lower() for n in scope.names if n]
    if names:
        folded = fold_sql(f"{alias}.regie_organisation", sqlite=sqlite)
        parts.append(f"{folded} IN ({', '.join('?' * len(names))})")
        params += names
    if scope.organisation is not None:
        parts.append(
            "EXISTS (SELECT 1 FROM instance_parties ip "
            f"WHERE ip.instance_id = {alias}.id AND ip.organisation = ?)"
        )
        params.append(scope.organisation)
    return (" OR ".join(parts) or "1 = 0"), params


def _made_dumps() -> Callable[[Any], str]:
    """``json.dumps`` with its default options (what SQLAlchemy's JSON type writes), with the
    C encoder made once instead of on every call (each ``dumps`` makes a new one: 6.7 against
    3.8 us for a Wijkkompas snapshot, three texts per command). Its values are JSON trees made
    by the engine, so no markers for circular references (the one thing it skips)."""
    make = getattr(json.encoder, "c_make_encoder", None)
    if make is None:  # an interpreter without json's C accelerator
        return json.dumps
    encode = make(
        None, json.JSONEncoder().default, json.encoder.encode_basestring_ascii, None,
        ": ", ", ", False, False, True,
    )  # fmt: skip

    def dumps(value: Any) -> str:
        return "".join(encode(value, 0))

    return dumps


dumps: Callable[[Any], str] = _made_dumps()
"""The text ``json.dumps(value)`` gives (see ``_made_dumps``)."""


def _json_list(text: str) -> Any:
    """A JSON list column (areas, contacts): most rows hold none, so no decoding for those."""
    return [] if text == "[]" else loads(text)


def _aware(value: datetime) -> datetime:
    """A moment from the driver as an aware datetime, in whatever zone it came."""
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


@value_class(frozen=True, slots=True, repr=False, eq=False)
class Diverged(ByValue):
    """A save refused because the row, though as it was read, does not end where its log ends:
    ``last`` is the log's last event (seq, hash), None when it has none."""

    last: tuple[int, str] | None


class FastPath:
    """The hot-path statements for one dialect (``sqlite`` or ``postgresql``)."""

    def __init__(self, dialect: str) -> None:
        self.sqlite = dialect == "sqlite"
        self._last_moment: tuple[object, Any] = (None, None)

        def convert(sql: str) -> str:  # sqlite3 takes ?, psycopg %s
            return sql if self.sqlite else sql.replace("?", "%s")

        self.load_sql = convert(_LOAD)
        self.counting_load_sql = _LOAD_COUNTING  # SQLite only (INDEXED BY)
        self.stamp_sql = convert(_STAMP if self.sqlite else _STAMP_WITH_CHILDREN)
        children = _CHILDREN.format(indexed=_BY_PARENT if self.sqlite else "")
        self.read_children_sql = convert(children)  # a read's: no lock
        # PostgreSQL: rows a transaction acts on are locked (SQLite writers queue anyway).
        # A command locks the children its gate counts (FOR SHARE: they may not move until
        # it commits); a write outside the command path locks the instance it loads.
        self.lock_sql = self.load_sql if self.sqlite else self.load_sql + " FOR UPDATE OF i"
        # A row looked at to decide something that depends on other rows (a parent's facts
        # about its deelprojecten): written even when nothing else changes, so that a writer
        # that looked at it on an older snapshot loses the race and decides again.
        self.touch_sql = convert(
            "UPDATE instances SET version_no = version_no + 1 WHERE id = ? AND version_no = ?"
        )
        self.children_sql = convert(children) + ("" if self.sqlite else " FOR SHARE")
        self.children_of_key_sql = convert(_CHILDREN_OF_KEY) + " FOR SHARE"
        self._guarded_sql: dict[tuple[tuple[str, ...], bool], str] = {}
        self._convert = convert
        self._save_sql: dict[tuple[str, ...], str] = {}
        self.event_sql = convert(_EVENT)
        self._event_fed_sql = {
            False: convert(_EVENT_FED.format(personal="")),
            True: convert(_EVENT_FED.format(personal=_WITH_PERSONAL)),
        }
        self.subject_sql = convert(_SUBJECT)
        self.last_event_sql = convert(_LAST_EVENT)
        self._why_not_sql = convert(_WHY_NOT)
        self.deadline_sql = {action: convert(sql) for action, sql in _DEADLINE.items()}
        self.workflow_sql = convert(_WORKFLOW)
        self.workflows_sql = _WORKFLOWS.format(where="")
        self.workflows_of_sql = convert(_WORKFLOWS.format(where="WHERE key = ? "))
        self._organisation_sql = convert(
            "SELECT id, key, name, kind, oin, rsin, kvk, runs_programme FROM organisations "
            "WHERE key = ?"
        )
        self._deadline_rows_sql = convert(
            "SELECT kind, subject, due, legal, frozen, next_on, sent_through FROM deadlines "
            "WHERE instance_id = ? ORDER BY kind, subject"
        )
        # A migration carries sent_through and next_on from these rows: on PostgreSQL it holds
        # them (as a reminder pass does the rows it plans), so that it waits for a pass that
        # has them and carries what that pass committed, not what stood before it. The
        # instance row first, in the order a command's save takes them (no deadlock).
        self._lock_instance_sql = convert("SELECT id FROM instances WHERE id = ? FOR UPDATE")
        self._deadline_rows_locked_sql = self._deadline_rows_sql + " FOR UPDATE"
        self._sent_through_sql = convert(
            "UPDATE deadlines SET sent_through = ? "
            "WHERE instance_id = ? AND kind = ? AND subject = ?"
        )
        # A pending reminder about a renamed deadline: the same reminder, under the new name.
        self._rename_pending_sql = convert(
            "UPDATE outbox SET payload = json_set(payload, '$.kind', ?, '$.subject', ?) "
            "WHERE instance_id = ? AND status = 'pending' "
            "AND json_extract(payload, '$.kind') = ? AND json_extract(payload, '$.subject') = ?"
            if self.sqlite
            else "UPDATE outbox SET payload = jsonb_set(jsonb_set(payload::jsonb, '{kind}', "
            "to_jsonb(?::text)), '{subject}', to_jsonb(?::text))::json "
            "WHERE instance_id = ? AND status = 'pending' "
            "AND payload->>'kind' = ? AND payload->>'subject' = ?"
        )
        self._pending_sql = convert(
            "SELECT key, recipient, payload, attempts, next_attempt_at, last_error, created_at "
            "FROM outbox WHERE instance_id = ? AND status = 'pending' ORDER BY id"
        )
        self._copy_pending_sql = convert(
            "INSERT INTO outbox (key, instance_id, recipient, payload, status, attempts, "
            "next_attempt_at, last_error, created_at) VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?) "
            "ON CONFLICT (key) DO NOTHING"
        )
        self.keys_sql = _KEYS
        self.events_sql = convert(_EVENTS)
        self._convert = convert
        self._overview_parts = (
            {"counts": _COUNTED, "join": ""}
            if self.sqlite
            else {"counts": _JOINED[0], "join": _JOINED[1]}
        )
        snapshot, snapshot_join = _SNAPSHOT_PARTS["sqlite" if self.sqlite else "postgresql"]
        self._overview_parts["snapshot"] = snapshot
        self._overview_parts["join"] = snapshot_join + self._overview_parts["join"]
        self.overview_sql = convert(_OVERVIEW.format(where="", **self._overview_parts))
        self.party_sql = {
            True: convert(
                "INSERT INTO instance_parties (instance_id, organisation, party) VALUES (?, ?, ?)"
            ),
            False: convert(
                "DELETE FROM instance_parties WHERE instance_id = ? AND organisation = ? "
                "AND party = ?"
            ),
        }
        # Only the columns whose driver value is not ours already (the rest are taken as is).
        self._readers = [
            (name, reader) for name in ROW_FIELDS if (reader := self._reader(name)) is not None
        ]
        if not self.sqlite:
            from psycopg import IntegrityError
            from psycopg.types.json import Json

            self._json_type = Json
            self._integrity_error = IntegrityError

    # --- values ----------------------------------------------------------------------------

    def moment(self, value: datetime | None) -> Any:
        if value is None:
            return None
        # A command's event is mostly recorded when it happens, and is the instance's last
        # event: one moment, stored three times (at, recorded_at, last_event_at). The last one
        # converted is kept with the value it came from (held, so no other value can have its
        # identity; one tuple, so threads sharing this path never see half of one).
        last = self._last_moment
        if last[0] is value:
            return last[1]
        utc = value.astimezone(UTC)
        # SQLite: the text without its "+00:00" (cut off rather than made naive first: the
        # ``replace`` cost as much as the rest; several moments per command).
        stored = utc.isoformat(" ", "microseconds")[:-6] if self.sqlite else utc
        self._last_moment = (value, stored)
        return stored

    def day(self, value: date | None) -> Any:
        if value is None:
            return None
        return value.isoformat() if self.sqlite else value

    def json(self, value: Any) -> Any:
        return dumps(value) if self.sqlite else self._json_type(value, dumps)

    def _column(self, name: str, value: Any) -> Any:
        if name in _DATETIME_COLUMNS:
            return self.moment(value)
        if name in _JSON_COLUMNS:
            return self.json(value)
        if name == "paused_review":
            return self.day(value)
        return value

    def _reader(self, name: str) -> Any:
        """How to turn the driver's value of column ``name`` into ours (None for as-is)."""
        if name in _DATETIMES:
            return self.read_moment
        if name in _JSONS:
            return (_json_list if name != "snapshot" else loads) if self.sqlite else None
        if name == "paused_review" and self.sqlite:
            return date.fromisoformat
        return None

    def stored_workflow(self, r: Sequence[Any]) -> StoredWorkflow:
        """A stored workflow version from its row (``workflow_sql``'s columns)."""
        return StoredWorkflow(
            id=r[0],
            key=r[1],
            version=r[2],
            hash=r[3],
            title=r[4],
            definition=r[5],
            source=r[6],
            stored_at=self.read_moment(r[7]),
            stored_by=r[8],
        )

    @staticmethod
    def read_moment(value: str | datetime) -> datetime:
        if isinstance(value, str):
            # Stored as UTC without an offset: parsed with one (``datetime.replace`` after
            # parsing cost six times the parse: 0.16 s of the overview over 100,000 rows).
            try:
                moment = datetime.fromisoformat(value + "+00:00")
            except ValueError:  # text that came with an offset of its own
                moment = None
            if moment is not None and moment.tzinfo is not None:  # a day alone parses naive
                return moment
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    # --- statements --------------------------------------------------------------------------

    def children(self, cursor: Any, instance_id: int, *, lock: bool = False) -> list[ChildRow]:
        """The deelprojecten of an instance, by key (``lock``: a command's, which on PostgreSQL
        keeps them from moving until it commits)."""
        cursor.execute(self.children_sql if lock else self.read_children_sql, (instance_id,))
        return self.child_rows(cursor.fetchall())

    @staticmethod
    def child_rows(rows: Sequence[Sequence[Any]]) -> list[ChildRow]:
        """Deelprojecten from the rows of the children statement."""
        return [
            ChildRow(
                key=r[0],
                title=r[1],
                state=r[2],
                workflow_id=r[3],
                regie_type=r[4],
                regie_organisation=r[5],
            )
            for r in rows
        ]

    def stamp(self, cursor: Any, key: str) -> tuple[object, ...] | None:
        """Everything ``instance show`` makes its view of ``key`` from, as the driver gives it
        (see ``Unit.instance_stamp``, whose values SQLAlchemy has converted: a stamp of the one
        kind compared with one of the other is at worst taken for a change). On SQLite two
        statements (read them in one transaction), on PostgreSQL one."""
        cursor.execute(self.stamp_sql, (key,))
        row = cursor.fetchone()
        if row is None or not self.sqlite:
            return self.stamp_of(row)
        cursor.execute(self.read_children_sql, (row[0],))
        return (tuple(row), tuple(map(tuple, cursor.fetchall())))

    @staticmethod
    def stamp_of(row: Sequence[Any] | None) -> tuple[object, ...] | None:
        """PostgreSQL: the stamp from the row of ``stamp_sql`` (None: no such instance)."""
        if row is None:
            return None
        return (tuple(row[:-1]), tuple(map(tuple, row[-1] or ())))

    def organisation(self, cursor: Any, key: str) -> Organisation | None:
        """The organisation with this key, as ``DirectoryUnit.organisation`` reads it."""
        cursor.execute(self._organisation_sql, (key,))
        r = cursor.fetchone()
        if r is None:
            return None
        from engine.ports import Organisation  # the directory's value: asked by an approval

        return Organisation(
            id=int(r[0]),
            key=r[1],
            name=r[2],
            kind=r[3],
            oin=r[4],
            rsin=r[5],
            kvk=r[6],
            runs_programme=bool(r[7]),
        )

    def load(self, cursor: Any, key: str, *, lock: bool = False) -> dict[str, Any] | None:
        cursor.execute(self.lock_sql if lock else self.load_sql, (key,))
        row = cursor.fetchone()
        return None if row is None else self.read_row(row)

    def read_row(self, row: Sequence[Any]) -> dict[str, Any]:
        """An instance row as the driver gives it (``INSTANCE_COLUMNS``), by ``ROW_FIELDS``
        name, in our values (only the columns whose driver value is not ours are converted)."""
        found = dict(zip(ROW_FIELDS, row, strict=True))
        for name, reader in self._readers:
            value = found[name]
            if value is not None:
                found[name] = reader(value)
        return found

    def deadline_rows(
        self, cursor: Any, instance_id: int, *, lock: bool = False
    ) -> list[DeadlineState]:
        """The deadline rows of one instance, with ``sent_through``, by kind and subject (with
        ``lock``, held until the transaction ends, on PostgreSQL)."""
        if lock and not self.sqlite:
            cursor.execute(self._lock_instance_sql, (instance_id,))
            cursor.execute(self._deadline_rows_locked_sql, (instance_id,))
        else:
            cursor.execute(self._deadline_rows_sql, (instance_id,))
        day = self.read_day
        return [
            DeadlineState(
                kind=r[0],
                subject=r[1],
                due=day(r[2]),
                legal=bool(r[3]),
                frozen=bool(r[4]),
                next_on=day(r[5]) if r[5] is not None else None,
                sent_through=day(r[6]) if r[6] is not None else None,
            )
            for r in cursor.fetchall()
        ]

    def read_day(self, value: Any) -> date:
        return date.fromisoformat(value) if isinstance(value, str) else value

    def carried(
        self,
        cursor: Any,
        instance_id: int,
        instance_key: str,
        deadlines: Sequence[DeadlineState],
        renamed: Mapping[tuple[str, str], Sequence[tuple[str, str]]],
    ) -> list[tuple[str, Sequence[Any]]]:
        """The statements that finish a migration's save, in its round trip: where the
        reminders of each carried deadline stand, and the pending reminders of a renamed one
        following it (so the dispatcher still finds their deadline). A deadline continued by
        several (a split) gives each of them a copy of its pending reminders: each carries how
        far its reminders went, so one left without would never get that reminder."""
        found: list[tuple[str, Sequence[Any]]] = [
            (
                self._sent_through_sql,
                (self.day(d.sent_through), instance_id, d.kind, d.subject),
            )
            for d in deadlines
            if d.sent_through is not None
        ]
        for old, new in renamed.items():
            stays = old in new
            copies = [n for n in new if n != old][0 if stays else 1 :]
            if copies:
                found += self._pending_copies(cursor, instance_id, instance_key, old, copies)
            if not stays and new:
                found.append(
                    (self._rename_pending_sql, (*new[0], instance_id, *old)),
                )
        return found

    def _pending_copies(
        self,
        cursor: Any,
        instance_id: int,
        instance_key: str,
        old: tuple[str, str],
        copies: Sequence[tuple[str, str]],
    ) -> list[tuple[str, Sequence[Any]]]:
        """Copies of the pending reminders about ``old`` for each of ``copies``, each with the
        key the planner gives a reminder about that deadline."""
        cursor.execute(self._pending_sql, (instance_id,))
        found: list[tuple[str, Sequence[Any]]] = []
        for key, recipient, raw, attempts, next_at, error, created in cursor.fetchall():
            payload = loads(raw) if isinstance(raw, str) else raw
            if (payload.get("kind"), payload.get("subject")) != old:
                continue
            for kind, subject in copies:
                found.append(
                    (
                        self._copy_pending_sql,
                        (
                            _key_for(key, instance_key, old, (kind, subject)),
                            instance_id,
                            recipient,
                            self.json({**payload, "kind": kind, "subject": subject}),
                            attempts,
                            next_at,
                            error,
                            created,
                        ),
                    )
                )
        return found

    def events(
        self, cursor: Any, instance_id: int, types: Collection[str] | None = None
    ) -> list[StoredEvent]:
        """Every event of one instance (or those of ``types``), in order."""
        if types is None:
            cursor.execute(self.events_sql, (instance_id,))
        else:
            kinds = tuple(types)
            if not kinds:
                return []
            cursor.execute(
                self._convert(
                    _EVENTS.replace(
                        " ORDER BY", f" AND e.type IN ({', '.join('?' * len(kinds))}) ORDER BY"
                    )
                ),
                (instance_id, *kinds),
            )
        read = self.read_moment
        return [
            StoredEvent(
                seq=r[0],
                type=r[1],
                at=read(r[2]),
                recorded_at=read(r[3]),
                actor=r[4],
                reason=r[5],
                payload=loads(r[6]) if self.sqlite else r[6],
                previous=r[7],
                hash=r[8],
                personal=personal_from(
                    (loads(r[9]) if self.sqlite else r[9]) if r[9] is not None else None
                ),
            )
            for r in cursor.fetchall()
        ]

    def party(
        self, cursor: Any, instance_id: int, *, added: bool, organisation: str, party: str
    ) -> None:
        """Keep the instance_parties projection in step with a party event."""
        run = getattr(cursor, "defer", None) or cursor.execute  # see save
        run(self.party_sql[added], (instance_id, organisation, party))

    def overview(
        self, cursor: Any, today: date, soon: date, scope: InstanceScope | None = None
    ) -> list[OverviewRow]:
        """Every instance with its counts for the programme overview, by key (with a scope:
        those in it, and their sub-projects marked not ``shown``)."""
        from engine.ports import OverviewRow  # the read side's values: not for a command

        day, until = self.day(today), self.day(soon)
        days = (day, False, until) if self.sqlite else (day, day, until, False)
        if scope is None or scope.everything:
            cursor.execute(self.overview_sql, days)
            rows = cursor.fetchall()
            shown: Any = None
        else:
            shown_sql, params = _scope_sql(scope, "i", sqlite=self.sqlite)
            parent_sql, parent_params = _scope_sql(scope, "s", sqlite=self.sqlite)
            where = _SCOPED.format(shown=shown_sql, parent_shown=parent_sql)
            statement = self._convert(_OVERVIEW.format(where=where, **self._overview_parts))
            cursor.execute(statement, (*days, *params, *parent_params))
            rows = cursor.fetchall()
            # Which rows are in the scope itself (the rest are sub-projects of those).
            cursor.execute(
                self._convert(f"SELECT i.id FROM instances i WHERE {shown_sql}"), tuple(params)
            )
            shown = {r[0] for r in cursor.fetchall()}
        # The overview asks only for the Dutch day of these moments: PostgreSQL's own aware
        # values serve as they are (not moved to UTC first, 100,000 conversions saved).
        read = self.read_moment if self.sqlite else _aware
        counts = _COUNTS
        # Made by position: a hundred thousand of them (see OverviewRow).
        return [
            OverviewRow(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                r[5],
                read(r[6]),
                r[7],
                r[8],
                r[9],
                read(r[10]) if r[10] is not None else None,
                r[11],
                r[12],
                r[13],
                int(r[14]) // counts,
                int(r[14]) % counts,
                int(r[15]),
                () if r[16] == "[]" else tuple(loads(r[16])),
                shown is None or r[0] in shown,
            )
            for r in rows
        ]

    def queue(self, cursor: Any, messages: Sequence[QueuedMessage]) -> int:
        """New outbox rows, as ``persistence.outbox`` writes them (a known key is skipped)."""
        sql = self._convert(
            "INSERT INTO outbox (key, instance_id, recipient, payload, status, attempts, "
            "next_attempt_at, last_error, created_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?) "
            "ON CONFLICT (key) DO NOTHING"
        )
        new = 0
        for m in messages:
            at = self.moment(m.created_at)
            cursor.execute(
                sql,
                (
                    m.key,
                    m.instance_id,
                    m.recipient,
                    self.json(m.payload),
                    m.status,
                    at,
                    m.last_error,
                    at,
                ),
            )
            new += max(cursor.rowcount, 0)
        return new

    def save(
        self,
        cursor: Any,
        *,
        instance_id: int,
        version_no: int,
        head: str,
        projection: dict[str, Any],
        loaded: dict[str, Any] | None,
        event: Sequence[Any],
        deadlines: Sequence[DeadlineChange],
        more: Sequence[tuple[str, Sequence[Any]]] = (),
        personal: tuple[Personal, ...] = (),
        subjects: Sequence[tuple[str, str]] = (),
        refused: Callable[[bool | Diverged | Exception], None] | None = None,
    ) -> bool | Diverged:
        """Write the projection (if still at ``version_no`` and ``head``), the event and
        deadline changes. False: the row moved on (another writer); Diverged: the row is as
        read, but ``head`` is not the last event of its log. Either way the caller rolls back.

        Only the columns that changed since ``loaded`` are written: SQLite rewrites the index
        entries of every column an UPDATE sets, changed or not.

        On PostgreSQL's command path (a ``Pipelined`` cursor, roundtrips.py) the writes are
        deferred, to go with the next statement or the commit, and True is returned: should
        the save fail there, ``refused`` is called with what this call would have returned,
        or with the driver's integrity error for another row in the way (it raises the
        engine's error). On the immediate path such an error is raised as it is, to the
        caller (``guarded_save``).
        """
        columns = tuple(
            name
            for name, value in projection.items()
            if name in _ALWAYS or loaded is None or loaded.get(name) != value
        )
        sql = self._save_sql.get(columns)
        if sql is None:
            sets = ", ".join(f"{name} = ?" for name in columns)
            sql = self._save_sql[columns] = self._convert(
                f"UPDATE instances SET {sets}, version_no = version_no + 1{_SAVE_WHERE}"
                + (_LOG_GUARD if self.sqlite else "")
            )
        values = (
            *(self._column(name, projection[name]) for name in columns),
            instance_id,
            version_no,
            head,
        )
        expected = (event[0] - 1, head)
        defer = getattr(cursor, "defer", None)
        if defer is not None:
            self._defer_save(
                defer, columns, values, instance_id, version_no, head, event, deadlines, more,
                personal, subjects, refused,
            )  # fmt: skip
            return True
        if self.sqlite:
            cursor.execute(sql, (*values, expected[0]))
            if cursor.rowcount != 1:
                # Which guard failed: the row moved on (another writer), or it is as read but
                # its head is not the last event of its log.
                cursor.execute(self._why_not_sql, (instance_id,))
                found = cursor.fetchone()
                if found is None or (found[0], found[1]) != (version_no, head):
                    return False
                return Diverged(None if found[2] is None else (found[2], found[3]))
            self._rest(cursor, instance_id, event, deadlines, more, personal, subjects)
            return True
        # PostgreSQL: every write in one round trip. Should the guarded UPDATE match no row,
        # the caller rolls the whole transaction back. The event row is sent along before that
        # is known, so a concurrent writer's event with the same number may refuse it first:
        # with the UPDATE unmatched, that is the same ordinary conflict. With it matched, an
        # event with that number can only be one the row does not know of: the check says so.
        guarded = cursor.connection.cursor()
        check = cursor.connection.cursor()
        try:
            with cursor.connection.pipeline():
                guarded.execute(sql, values)
                check.execute(self.last_event_sql, (instance_id,))
                self._rest(cursor, instance_id, event, deadlines, more, personal, subjects)
        except self._integrity_error:
            if guarded.rowcount != 1:
                return False
            last = check.fetchone()
            found = (int(last[0]), str(last[1])) if last else None
            if found == expected:  # the log is whole: another row in the way (the caller says)
                raise
            return Diverged(found)
        if guarded.rowcount != 1:
            return False
        last = check.fetchone()
        if last is None or (int(last[0]), str(last[1])) != expected:
            return Diverged((int(last[0]), str(last[1])) if last else None)
        return True

    def _defer_save(
        self,
        defer: Callable[..., None],
        columns: tuple[str, ...],
        values: tuple[Any, ...],
        instance_id: int,
        version_no: int,
        head: str,
        event: Sequence[Any],
        deadlines: Sequence[DeadlineChange],
        more: Sequence[tuple[str, Sequence[Any]]],
        personal: tuple[Personal, ...],
        subjects: Sequence[tuple[str, str]],
        refused: Callable[[bool | Diverged | Exception], None] | None,
    ) -> None:
        """``save`` on the command path of PostgreSQL: the guarded UPDATE, the event and its
        rows in one statement (``_GUARDED_EVENT``), then the rest, all deferred."""
        from engine.persistence.roundtrips import Guard

        seq = event[0]
        key = (columns, bool(personal))
        sql = self._guarded_sql.get(key)
        if sql is None:
            sets = ", ".join(f"{name} = ?" for name in columns)
            sql = self._guarded_sql[key] = self._convert(
                _GUARDED_EVENT.format(sets=sets, personal=_WITH_PERSONAL if personal else "")
            )
        row = (*values, seq - 1, *self._event_values(event))
        if personal:
            row = (*row, self.json(personal_json(personal)))
        expected = (seq - 1, head)
        marker = self._integrity_error

        def failed(
            found: tuple[int, str, int | None, str | None] | None, exc: BaseException
        ) -> None:
            if refused is None:
                return
            if found is None or (found[0], found[1]) != (version_no, head):
                refused(False)  # another writer got there first
                return
            last = None if found[2] is None else (int(found[2]), str(found[3]))
            if last != expected:
                refused(Diverged(last))
            elif isinstance(exc, marker):
                # The guard failed although row and log are as expected now (a writer that
                # rolled back), or another row of the save was in the way (written behind
                # the engine's back): as the immediate save says.
                diag = getattr(exc, "diag", None)
                guard_failed = getattr(diag, "column_name", None) == "instance_id"
                refused(False if guard_failed else exc)

        defer(sql, row, Guard(instance_id, failed))
        self._rest(
            None, instance_id, event, deadlines, more, (), subjects, run=defer, event_written=True
        )

    def _event_values(self, event: Sequence[Any]) -> tuple[Any, ...]:
        """An event's columns after its instance's (``event_sql``'s order), as written."""
        seq, type_, at, recorded_at, actor, reason, payload, previous, digest = event
        return (
            seq,
            type_,
            self.moment(at),
            self.moment(recorded_at),
            actor,
            reason,
            self.json(payload),
            previous,
            digest,
        )

    def _event(
        self,
        cursor: Any,
        instance_id: int,
        event: Sequence[Any],
        personal: tuple[Personal, ...],
    ) -> int | None:
        """The event row, its row waiting for the feed and its personal fields; on SQLite the
        event's id (for its other rows), else None."""
        row = (instance_id, *self._event_values(event))
        if self.sqlite:
            cursor.execute(self.event_sql, row)
            event_id: int = cursor.lastrowid
            cursor.execute(_BY_ID["feed"], (event_id,))
            if personal:
                cursor.execute(_BY_ID["personal"], (event_id, self.json(personal_json(personal))))
            return event_id
        if personal:
            cursor.execute(self._event_fed_sql[True], (*row, self.json(personal_json(personal))))
        else:
            cursor.execute(self._event_fed_sql[False], row)
        return None

    def _rest(
        self,
        cursor: Any,
        instance_id: int,
        event: Sequence[Any],
        deadlines: Sequence[DeadlineChange],
        more: Sequence[tuple[str, Sequence[Any]]] = (),
        personal: tuple[Personal, ...] = (),
        subjects: Sequence[tuple[str, str]] = (),
        *,
        run: Callable[..., None] | None = None,
        event_written: bool = False,
    ) -> None:
        """The event row (waiting for its place in the feed) with its personal fields and
        whose they are, the deadline rows that changed, and ``more`` statements (a
        migration's). ``run``: how each is sent (else ``cursor.execute``);
        ``event_written``: the event and its rows are in a statement already sent."""
        execute = run or cursor.execute
        seq = event[0]
        event_id = None if event_written else self._event(cursor, instance_id, event, personal)
        for path, subject in subjects:
            if event_id is None:
                execute(self.subject_sql, (path, subject, instance_id, seq))
            else:
                execute(_BY_ID["subject"], (event_id, path, subject))
        for change in deadlines:
            d = change.state
            where = (instance_id, d.kind, d.subject)
            if change.action == "insert":
                values: tuple[Any, ...] = (
                    instance_id, d.kind, d.subject, self.day(d.due), d.legal, d.frozen,
                    self.day(d.next_on),
                )  # fmt: skip
            elif change.action == "reset":
                values = (self.day(d.due), d.legal, d.frozen, self.day(d.next_on), *where)
            elif change.action == "refreeze":
                values = (d.frozen, self.day(d.next_on), *where)
            else:
                values = where
            execute(self.deadline_sql[change.action], values)
        for sql, params in more:
            execute(sql, params)


def _key_for(key: str, instance: str, old: tuple[str, str], new: tuple[str, str]) -> str:
    """The idempotency key of a reminder's copy about ``new``: the key
    ``engine.reminders.rules.reminder_key`` gives it (the same form with the other deadline,
    shortened the same way), or, for a key shortened already, one made unique from the old
    key and the new deadline."""
    prefix = f"{instance}/{old[0]}:{old[1]}/"
    if len(key) < KEY_LENGTH and key.startswith(prefix):
        whole = f"{instance}/{new[0]}:{new[1]}/{key[len(prefix) :]}"
        if len(whole) <= KEY_LENGTH:
            return whole
    else:
        whole = f"{key}/{new[0]}:{new[1]}"
    digest = hashlib.sha256(whole.encode()).hexdigest()
    return f"{whole[: KEY_LENGTH - len(digest) - 1]}#{digest}"
