"""The reminder pass's and the dispatcher's hot statements in plain DB-API calls.

A reminder pass of 30,000 messages reads 30,000 deadline rows, writes 30,000 outbox rows and
moves 30,000 deadline rows on; the dispatcher reads the deadline rows of what it claimed and
marks 30,000 rows sent. Through SQLAlchemy that cost more than the work: on PostgreSQL the
multi-row INSERT of a batch of 500 became one statement of 6,500 named parameters that psycopg
parsed again for every batch (2.7 s of 11 in a pass of 10,000). Here, on PostgreSQL each of
these is ONE statement with a fixed text over arrays (``unnest``, ``= ANY``), so the server
prepares it once and a batch costs one round trip; on SQLite each is one ``executemany`` of a
fixed statement. They run on the driver's cursor of the connection SQLAlchemy manages, in its
transaction, and store and read values exactly as SQLAlchemy does for the same columns (see
``fastpath.py``); the tests read what one side wrote through the other.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from datetime import UTC, date, datetime
from typing import Any

from engine.ports import DeadlineState, DueDeadline, OutboxEntry, QueuedMessage

__all__ = ["OutboxPath"]

# The batch is chosen from the deadline rows alone, then joined to its instances: joined first,
# every batch joined ALL due rows to their instances before sorting and keeping 500 (EXPLAIN,
# 4,000 due rows: 52 ms, a nested loop over all 4,000; so a pass of n due rows did n*n/500
# joins). On PostgreSQL ``OFFSET 0`` keeps the planner from merging the lookup into a hash join
# over a scan of every instance (SQLite looks each one up by its key); the locks (FOR UPDATE
# of the deadline rows, SKIP LOCKED) are as before.
_DUE = (
    "SELECT d.instance_id, i.key, i.title, i.workflow_version_id, i.state, i.regie_type, "
    "i.regie_organisation, i.regie_contacts, d.kind, d.subject, d.due, d.legal, "
    "d.sent_through, d.next_on FROM (SELECT instance_id, kind, subject, due, legal, "
    "sent_through, next_on FROM deadlines WHERE next_on <= {today} AND frozen IS {false} "
    "ORDER BY next_on, instance_id, kind, subject LIMIT {limit}{lock}) AS d {join} "
    "ORDER BY d.next_on, d.instance_id, d.kind, d.subject"
)
_DUE_JOIN_PG = (
    "CROSS JOIN LATERAL (SELECT key, title, workflow_version_id, state, regie_type, "
    "regie_organisation, regie_contacts FROM instances WHERE id = d.instance_id OFFSET 0) AS i"
)
_QUEUE_COLUMNS = (
    "key, instance_id, recipient, payload, status, attempts, next_attempt_at, last_error, "
    "created_at"
)
# A known key is skipped, unless its row was cancelled at delivery (its deadline was paused,
# gone or moved then, so it was never sent): planned again, its deadline is due as planned once
# more (e.g. resumed the same day), and the row comes back as planned now.
_REVIVE = (
    "ON CONFLICT (key) DO UPDATE SET status = excluded.status, payload = excluded.payload, "
    "attempts = 0, next_attempt_at = excluded.next_attempt_at, last_error = excluded.last_error, "
    "claimed_by = NULL, lease_until = NULL WHERE outbox.status = 'cancelled'"
)
_QUEUE_SQLITE = (
    f"INSERT INTO outbox ({_QUEUE_COLUMNS}) VALUES (?, ?, ?, ?, ?, 0, ?, ?, ?) {_REVIVE}"
)
# The scalar columns as arrays in binary (``%b``: no quoting or escaping in Python, none to
# undo on the server), side by side with the payloads as one JSON document (ROWS FROM). A
# text[] of payloads made psycopg escape every quote of every payload in Python (740,000 regex
# substitutions for 10,000 rows), where json.dumps of the whole batch runs in C; and a json
# value taken out of a json document is its text as written, so the payload is stored as
# json.dumps(payload), byte for byte what SQLAlchemy stores. The columns used to come out of
# one JSON document of rows too (``r->>0`` ...), but every ``->`` on a json value parses it
# again: seven parses of each row of 600-byte payloads, 10-42 ms of the 17-48 ms a batch of
# 500 took on the server (auto_explain), against about 1 ms for the arrays. RETURNING reports
# only the rows that were new or came back (a known key is skipped, see _REVIVE).
_QUEUE_PG = (
    f"INSERT INTO outbox ({_QUEUE_COLUMNS}) "
    "SELECT r.k, r.i, r.r, r.p, r.s, 0, r.a, r.e, r.a FROM ROWS FROM (unnest(%b::text[]), "
    "unnest(%b::bigint[]), unnest(%b::text[]), json_array_elements(%s::json), "
    "unnest(%b::text[]), unnest(%b::text[]), unnest(%b::timestamptz[])) AS r(k, i, r, p, s, e, a) "
    f"{_REVIVE} RETURNING id"
)
_ADVANCE_SQLITE = (
    "UPDATE deadlines SET sent_through = ?, next_on = ? "
    "WHERE instance_id = ? AND kind = ? AND subject = ?"
)
# Each row found by its key (the primary key, in a subquery), then updated where it lies (its
# ctid): a nested loop of 500 key lookups whatever the planner knows of the table. Joined to
# unnest directly, the plan depended on the statistics: without them (before autovacuum has
# looked at a table just filled) a hash join over a scan of all 265,500 deadline rows of 30,000
# instances for a batch of 500, 25-50 ms; the ``d.instance_id = ANY(ids)`` added against that
# made the prepared (generic) plan sort the 500 ids again for each of the 500 lookups (28 ms).
# This way 5-7 ms (EXPLAIN ANALYZE, with and without statistics). The rows are the due rows the
# same transaction read and locked (FOR UPDATE), so no one else moves them meanwhile.
_ADVANCE_PG = (
    "UPDATE deadlines AS d SET sent_through = v.s, next_on = v.n FROM unnest(%s::bigint[], "
    "%s::text[], %s::text[], %s::date[], %s::date[]) AS v(i, k, j, s, n) "
    "WHERE d.ctid = (SELECT x.ctid FROM deadlines AS x WHERE x.instance_id = v.i "
    "AND x.kind = v.k AND x.subject = v.j)"
)
# As ``outbox._FINISH`` marks a row sent: only while this node holds it.
_SENT_SQLITE = (
    "UPDATE outbox SET lease_until = NULL, status = 'sent', sent_at = ?, message_id = ?, "
    "last_error = NULL WHERE id = ? AND claimed_by = ?"
)
_SENT_PG = (
    "UPDATE outbox AS o SET lease_until = NULL, status = 'sent', sent_at = v.a, "
    "message_id = v.m, last_error = NULL FROM unnest(%s::bigint[], %s::text[], "
    "%s::timestamptz[]) AS v(i, m, a) WHERE o.id = v.i AND o.claimed_by = %s"
)
_OUT_COLUMNS = (
    "id, key, instance_id, recipient, payload, status, attempts, next_attempt_at, claimed_by, "
    "lease_until, last_error, created_at, sent_at, message_id"
)
# As ``OutboxUnit.claim`` claims without digests: the oldest ready rows, claimed and read in one
# statement. In the order of the index on (status, next_attempt_at): the database walks it
# from the oldest ready row and stops after ``limit``. Ordered by id, SQLite read and sorted
# every ready row for each claim (a pass of n rows: n*n/limit reads), and PostgreSQL walked the
# primary key past every row sent before. SQLite's index entries end in the id, so it breaks
# ties by id for free; on PostgreSQL the id would need a sort of all ready rows again
# (EXPLAIN), so ties go in index order.
_CLAIM = (
    "UPDATE outbox SET claimed_by = {p}, lease_until = {p} WHERE id IN (SELECT id FROM outbox "
    "WHERE status = 'pending' AND next_attempt_at <= {p} "
    "AND (lease_until IS NULL OR lease_until < {p}){also} ORDER BY {order} LIMIT {p}{lock}) "
    f"RETURNING {_OUT_COLUMNS}"
)
# Without statistics on the outbox (a pass has just queued thousands of rows, before autovacuum
# has looked at them), PostgreSQL guesses that a handful of rows are ready and reads and sorts
# ALL of them for each claim (EXPLAIN ANALYZE, 5,000 ready: a bitmap heap scan of every ready
# row and a sort, 12-16 ms a claim of 200, so a pass of n rows made n*n/200 reads); walking the
# index in its order stops after ``limit`` (0.2-0.3 ms). The claim is planned with sorting
# turned off, for this statement only (the setting as it was comes back right after it).
_SORT_OFF = "SELECT current_setting('enable_sort'), set_config('enable_sort', 'off', true)"
_SORT_BACK = "SELECT set_config('enable_sort', %s, true)"
_STATES = "SELECT instance_id, kind, subject, due, legal, frozen, next_on FROM deadlines WHERE "


def _utc(value: datetime) -> datetime:
    if value.tzinfo is None:  # as UtcDateTime refuses them
        raise ValueError("naive datetimes are not stored; give a time zone")
    return value.astimezone(UTC)


class OutboxPath:
    """The statements for one dialect, on a driver cursor (``sqlite3`` or ``psycopg``)."""

    def __init__(self, *, postgres: bool) -> None:
        self.postgres = postgres
        if postgres:
            self._due = _DUE.format(
                today="%s",
                false="false",
                limit="%s",
                lock=" FOR UPDATE SKIP LOCKED",
                join=_DUE_JOIN_PG,
            )
        else:
            join = "JOIN instances AS i ON i.id = d.instance_id"
            self._due = _DUE.format(today="?", false="0", limit="?", lock="", join=join)

    def _read_moment(self, value: str | datetime | None) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):
            return datetime.fromisoformat(value).replace(tzinfo=UTC)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    def _moment(self, value: datetime) -> Any:
        utc = _utc(value)
        return utc if self.postgres else utc.replace(tzinfo=None).isoformat(" ", "microseconds")

    def _day(self, value: date | None) -> Any:
        return value if value is None or self.postgres else value.isoformat()

    def _read_day(self, value: Any) -> date | None:
        return value if value is None or self.postgres else date.fromisoformat(value)

    def due_deadlines(self, cursor: Any, today: date, limit: int) -> list[DueDeadline]:
        """As ``OutboxUnit._deadlines`` for the due rows: on PostgreSQL they are locked, and
        rows another pass holds are skipped."""
        cursor.execute(self._due, (self._day(today), limit))
        day = self._read_day
        return [
            DueDeadline(
                instance_id=r[0],
                instance_key=r[1],
                instance_title=r[2],
                workflow_id=r[3],
                state=r[4],
                regie_type=r[5],
                regie_organisation=r[6],
                regie_contacts=tuple(r[7] if self.postgres else json.loads(r[7])),
                kind=r[8],
                subject=r[9],
                due=day(r[10]),  # type: ignore[arg-type]
                legal=bool(r[11]),
                sent_through=day(r[12]),
                next_on=day(r[13]),
            )
            for r in cursor.fetchall()
        ]

    def queue(self, cursor: Any, messages: Sequence[QueuedMessage]) -> int:
        """New outbox rows; how many were new or came back (a known key is skipped unless
        its row was cancelled: see ``_REVIVE``)."""
        if not messages:
            return 0
        # One row per key, the first (as DO NOTHING kept it): PostgreSQL refuses a DO UPDATE
        # that would meet one key twice in a statement.
        messages = list({m.key: m for m in reversed(messages)}.values())[::-1]
        if self.postgres:
            cursor.execute(
                _QUEUE_PG,
                (
                    [m.key for m in messages],
                    [m.instance_id for m in messages],
                    [m.recipient for m in messages],
                    json.dumps([m.payload for m in messages]),
                    [m.status for m in messages],
                    [m.last_error for m in messages],
                    [_utc(m.created_at) for m in messages],
                ),
            )
            return len(cursor.fetchall())
        rows = []
        for m in messages:
            at = self._moment(m.created_at)
            payload = json.dumps(m.payload)
            rows.append(
                (m.key, m.instance_id, m.recipient, payload, m.status, at, m.last_error, at)
            )
        cursor.executemany(_QUEUE_SQLITE, rows)
        return int(cursor.rowcount)  # summed over the rows: a skipped one counts 0

    def advance_deadlines(
        self, cursor: Any, moves: Sequence[tuple[tuple[int, str, str], date, date | None]]
    ) -> None:
        if not moves:
            return
        if self.postgres:
            cursor.execute(
                _ADVANCE_PG,
                (
                    [row[0] for row, _, _ in moves],
                    [row[1] for row, _, _ in moves],
                    [row[2] for row, _, _ in moves],
                    [s for _, s, _ in moves],
                    [n for _, _, n in moves],
                ),
            )
            return
        day = self._day
        cursor.executemany(
            _ADVANCE_SQLITE,
            [(day(s), day(n), row[0], row[1], row[2]) for row, s, n in moves],
        )

    def sent_many(
        self, cursor: Any, delivered: Sequence[tuple[int, str, datetime]], node: str
    ) -> None:
        if not delivered:
            return
        if self.postgres:
            cursor.execute(
                _SENT_PG,
                (
                    [i for i, _, _ in delivered],
                    [m for _, m, _ in delivered],
                    [_utc(a) for _, _, a in delivered],
                    node,
                ),
            )
            return
        moment = self._moment
        cursor.executemany(_SENT_SQLITE, [(moment(a), m, i, node) for i, m, a in delivered])

    def deadline_states(
        self, cursor: Any, instance_ids: Collection[int], subjects: Collection[str] | None
    ) -> dict[tuple[int, str, str], DeadlineState]:
        found: dict[tuple[int, str, str], DeadlineState] = {}
        ids = sorted(instance_ids)
        about = sorted(subjects) if subjects is not None else None
        if self.postgres:
            if about is None:
                cursor.execute(_STATES + "instance_id = ANY(%s)", (ids,))
            else:
                cursor.execute(
                    _STATES + "instance_id = ANY(%s) AND subject = ANY(%s)", (ids, about)
                )
            chunks = [cursor.fetchall()]
        else:
            step = 900 - len(about or ())  # stay under SQLite's parameter limit
            if step < 100:  # many subjects: ask for every row of the instances instead
                about, step = None, 900
            chunks = []
            for start in range(0, len(ids), step):
                chunk = ids[start : start + step]
                sql = _STATES + f"instance_id IN ({', '.join('?' * len(chunk))})"
                if about is not None:
                    sql += f" AND subject IN ({', '.join('?' * len(about))})"
                cursor.execute(sql, (*chunk, *(about or ())))
                chunks.append(cursor.fetchall())
        day = self._read_day
        for rows in chunks:
            for instance_id, kind, subject, due, legal, frozen, next_on in rows:
                found[(instance_id, kind, subject)] = DeadlineState(
                    kind=kind,
                    subject=subject,
                    due=day(due),  # type: ignore[arg-type]
                    legal=bool(legal),
                    frozen=bool(frozen),
                    next_on=day(next_on),
                )
        return found

    def claim(
        self,
        cursor: Any,
        node: str,
        now: datetime,
        lease_until: datetime,
        limit: int,
        *,
        only: Collection[str] | None,
        excluding: Collection[str],
    ) -> list[OutboxEntry]:
        """Claim up to ``limit`` ready rows (of ``only`` recipients, not of ``excluding``) for
        ``node`` until ``lease_until``: on PostgreSQL rows another node is claiming are skipped
        (FOR UPDATE SKIP LOCKED). The rows by recipient, then id."""
        at = self._moment(now)
        also, values = "", list[Any]()
        for addresses, test in ((only, "IN"), (excluding or None, "NOT IN")):
            if addresses is None:
                continue
            lowered = sorted(a.lower() for a in addresses)
            if self.postgres:
                also += (
                    f" AND {'NOT ' if test == 'NOT IN' else ''}lower(recipient) = ANY(%s::text[])"
                )
                values.append(lowered)
            elif lowered:
                also += f" AND lower(recipient) {test} ({', '.join('?' * len(lowered))})"
                values.extend(lowered)
            elif test == "IN":
                also += " AND 1 = 0"  # only among nobody
        sql = _CLAIM.format(
            p="%s" if self.postgres else "?",
            also=also,
            order="next_attempt_at" if self.postgres else "next_attempt_at, id",
            lock=" FOR UPDATE SKIP LOCKED" if self.postgres else "",
        )
        # The placeholders in the order of the text: lease, now twice, the filters, limit.
        parameters = [node, self._moment(lease_until), at, at, *values, limit]
        if self.postgres:
            cursor.execute(_SORT_OFF)
            [(sorting, _)] = cursor.fetchall()
            cursor.execute(sql, parameters)
            rows = cursor.fetchall()
            cursor.execute(_SORT_BACK, (sorting,))
        else:
            cursor.execute(sql, parameters)
            rows = cursor.fetchall()
        moment = self._read_moment
        entries = [
            OutboxEntry(
                id=r[0],
                key=r[1],
                instance_id=r[2],
                recipient=r[3],
                payload=r[4] if self.postgres else json.loads(r[4]),
                status=r[5],
                attempts=r[6],
                next_attempt_at=moment(r[7]),  # type: ignore[arg-type]
                claimed_by=r[8],
                lease_until=moment(r[9]),
                last_error=r[10],
                created_at=moment(r[11]),  # type: ignore[arg-type]
                sent_at=moment(r[12]),
                message_id=r[13],
            )
            for r in rows
        ]
        entries.sort(key=lambda e: (e.recipient, e.id))
        return entries
