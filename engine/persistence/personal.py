"""The personal fields of events in the tables: written beside each event, read back with it.

``personal_fields`` holds, per event, ``{path: [commitment, salt]}`` (the salt null once the
value was erased); ``personal_subjects`` says whose data a field is: the e-mail addresses in
it. The values themselves stay in the event row (``actor``, ``reason``, ``payload``), so every
reader of the log reads them as before, and reads "[verwijderd]" once they were erased.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Sequence
from datetime import datetime
from typing import Any
from typing import cast as typed

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    String,
    Table,
    Text,
    UniqueConstraint,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)

from engine.persistence.records import personal_from, personal_json, subjects_of
from engine.persistence.rows import OUT, PENDING, PERSONAL, SUBJECTS, E, I, W, event_values
from engine.persistence.tables import (
    Base,
    InboxRow,
    OrganisationRow,
    PrincipalRow,
    ReceiptRow,
    SessionRow,
    TokenRow,
    WebhookSubscriptionRow,
)
from engine.ports import PersonalPlace, StoredEvent
from engine.runtime.events import ChainResealed, chain_hash
from engine.runtime.personal import (
    ERASED,
    Personal,
    address_spans,
    chained,
    get,
    put,
    seal_personal,
)

__all__ = [
    "RESEALER",
    "PersonalData",
    "personal_from",
    "personal_json",
    "reindex_subjects",
    "reseal",
    "subjects_of",
    "unseal",
]

P = typed(Table, PrincipalRow.__table__)
ORGS = typed(Table, OrganisationRow.__table__)
TOKENS = typed(Table, TokenRow.__table__)
SESSIONS = typed(Table, SessionRow.__table__)
INBOX = typed(Table, InboxRow.__table__)
HOOKS = typed(Table, WebhookSubscriptionRow.__table__)
RECEIPTS = typed(Table, ReceiptRow.__table__)


# --- finding and erasing a person's data (engine.app.privacy) ------------------------------

_PROJECTIONS = frozenset({"instances", "deadlines", "instance_parties"})
"""Rebuilt from the events after an erasure (never scrubbed in place)."""
_SEALED = frozenset({"events", "personal_fields", "personal_subjects"})
"""The log itself: erased field by field, through the commitments."""
_HASHES = frozenset({"checkpoints", "checkpoint_leaves", "merkle_nodes", "feed", "feed_pending"})
"""Hashes and positions: nothing of anyone."""
_HASHED_TEXT = frozenset({"workflow_versions.definition"})
"""Text whose hash is kept elsewhere (every instance is pinned to its workflow's hash):
never overwritten, so an address in it stays and is named as ``remaining``."""


def _text_columns(table: Table) -> list[Column[Any]]:
    return [c for c in table.columns if isinstance(c.type, String | Text | JSON)]


def _contains(column: Column[Any], address: str) -> Any:
    """Whether the column's text may hold ``address``: the rows ``_holds`` then decides for.
    An address beyond ASCII (``jörg@müller.nl``) is looked for by its longest ASCII part
    (``ller.nl``): JSON columns keep other characters as ``\\u`` escapes, and SQLite's
    ``lower`` folds ASCII letters only."""
    needle = address if address.isascii() else max(_ASCII.findall(address), key=len, default="@")
    return func.lower(cast(column, Text)).contains(needle, autoescape=True)


_ASCII = re.compile(r"[\x00-\x7f]+")


def _holds(value: Any, address: str) -> bool:
    """Whether ``value`` holds ``address`` as a whole address (``address_spans``): never
    as the tail of a longer one ("vries@noord.example" is not in "p.devries@noord.example")."""
    if isinstance(value, str):
        return any(found == address for _, _, found in address_spans(value))
    if isinstance(value, list):
        return any(_holds(v, address) for v in value)
    if isinstance(value, dict):
        return any(_holds(k, address) or _holds(v, address) for k, v in value.items())
    return False


def _replaced(value: Any, address: str, erased: str = ERASED) -> Any:
    if isinstance(value, str):
        parts, done = [], 0
        for start, end, found in address_spans(value):
            if found == address:
                parts += [value[done:start], erased]
                done = end
        return "".join([*parts, value[done:]])
    if isinstance(value, list):
        return [_replaced(v, address, erased) for v in value]
    if isinstance(value, dict):
        return {k: _replaced(v, address, erased) for k, v in value.items()}
    return value


def _unique(table: Table) -> set[str]:
    """The columns of ``table`` whose values must differ between rows (alone or with others)."""
    names = {c.name for c in table.primary_key.columns}
    names |= {c.name for c in table.columns if c.unique}
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            names |= {c.name for c in constraint.columns}
    for index in table.indexes:
        if index.unique:
            names |= {c.name for c in index.columns}
    return names


class PersonalData:
    """A person's data (by e-mail address) in the tables of one transaction."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection

    def principals(self, address: str) -> list[tuple[int, str]]:
        """(id, actor) of the principals that are this person: named or signing in as it."""
        rows = self._c.execute(
            select(P.c.id, P.c.name, ORGS.c.key)
            .select_from(P.join(ORGS, ORGS.c.id == P.c.organisation_id))
            .where(or_(func.lower(P.c.name) == address, func.lower(P.c.subject) == address))
            .order_by(P.c.id)
        )
        return [(int(r.id), f"{r.key}/{r.name}") for r in rows]

    def places(self, address: str, actors: Sequence[str]) -> list[PersonalPlace]:
        """Every personal field of the log that holds this person's data, in log order."""
        by_subject = select(SUBJECTS.c.event_id, SUBJECTS.c.path).where(
            SUBJECTS.c.subject == address
        )
        found: set[tuple[int, str]] = {(int(r[0]), str(r[1])) for r in self._c.execute(by_subject)}
        if actors:
            acted = select(E.c.id).where(E.c.actor.in_(list(actors)))
            ids = [int(r[0]) for r in self._c.execute(acted)]
            for event_id, fields in self._fields(ids).items():
                if "by" in fields:
                    found.add((event_id, "by"))
        if not found:
            return []
        rows = self._c.execute(
            select(E, I.c.key.label("instance_key"), PERSONAL.c.fields)
            .select_from(
                E.join(I, I.c.id == E.c.instance_id).join(PERSONAL, PERSONAL.c.event_id == E.c.id)
            )
            .where(E.c.id.in_(sorted({event_id for event_id, _ in found})))
            .order_by(I.c.key, E.c.seq)
        )
        places = []
        for r in rows:
            for path in sorted(p for e, p in found if e == r.id):
                if path not in r.fields:
                    continue
                places.append(
                    PersonalPlace(
                        instance=r.instance_key,
                        instance_id=r.instance_id,
                        event_id=r.id,
                        seq=r.seq,
                        type=r.type,
                        at=r.at,
                        path=path,
                        value=get(r.actor, r.reason, r.payload, path),
                    )
                )
        return places

    def _fields(self, event_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        if not event_ids:
            return {}
        rows = self._c.execute(
            select(PERSONAL.c.event_id, PERSONAL.c.fields).where(
                PERSONAL.c.event_id.in_(list(event_ids))
            )
        )
        return {int(r.event_id): dict(r.fields) for r in rows}

    def erase(self, event_id: int, paths: Sequence[str]) -> None:
        """Overwrite the fields at ``paths`` of one event with ERASED and destroy their salts
        (their commitments stay) and whose they were."""
        row = self._c.execute(select(E).where(E.c.id == event_id)).one()
        by, reason, payload = row.actor, row.reason, row.payload
        fields = self._fields([event_id])[event_id]
        for path in paths:
            by, reason, payload = put(by, reason, payload, path, ERASED)
            fields[path] = [fields[path][0], None]
        self._c.execute(
            update(E).where(E.c.id == event_id).values(actor=by, reason=reason, payload=payload)
        )
        self._c.execute(
            update(PERSONAL).where(PERSONAL.c.event_id == event_id).values(fields=fields)
        )
        self._c.execute(
            delete(SUBJECTS).where(SUBJECTS.c.event_id == event_id, SUBJECTS.c.path.in_(paths))
        )

    def occurrences(self, address: str) -> dict[str, int]:
        """``table.column``: how many rows hold the address anywhere in that column."""
        found: dict[str, int] = {}
        for table in Base.metadata.sorted_tables:
            for column in _text_columns(table):
                values = self._c.execute(select(column).where(_contains(column, address)))
                count = sum(1 for (value,) in values if _holds(value, address))
                if count:
                    found[f"{table.name}.{column.name}"] = int(count)
        return found

    def cancel_messages(self, address: str, now: datetime) -> int:
        """Messages to this person that were not sent: cancelled, never sent."""
        return int(
            self._c.execute(
                update(OUT)
                .where(
                    func.lower(OUT.c.recipient) == address,
                    OUT.c.status.in_(("pending", "failed")),
                )
                .values(
                    status="cancelled",
                    claimed_by=None,
                    lease_until=None,
                    last_error="the recipient's personal data was erased",
                )
            ).rowcount
        )

    def forget_principals(self, ids: Sequence[int], now: datetime) -> None:
        """The person's accounts: disabled, renamed, their tokens revoked and sessions ended."""
        for principal_id in ids:
            self._c.execute(
                update(P)
                .where(P.c.id == principal_id)
                .values(
                    name=f"{ERASED} {principal_id}",
                    subject=None,
                    disabled_at=func.coalesce(P.c.disabled_at, now),
                )
            )
        if ids:
            self._c.execute(
                update(TOKENS)
                .where(TOKENS.c.principal_id.in_(list(ids)), TOKENS.c.revoked_at.is_(None))
                .values(revoked_at=now)
            )
            self._c.execute(delete(SESSIONS).where(SESSIONS.c.principal_id.in_(list(ids))))

    def forget_actors(self, actors: Sequence[str]) -> None:
        """Where the person's actor name was kept outside the log (who stored a workflow,
        which application posted a CloudEvent, who subscribed a webhook), and the answers
        kept for the person's own API requests (their accounts are disabled: nobody can
        retry those)."""
        if not actors:
            return
        self._c.execute(update(W).where(W.c.stored_by.in_(list(actors))).values(stored_by=ERASED))
        self._c.execute(
            update(INBOX).where(INBOX.c.principal.in_(list(actors))).values(principal=ERASED)
        )
        self._c.execute(
            update(HOOKS).where(HOOKS.c.created_by.in_(list(actors))).values(created_by=ERASED)
        )
        self._c.execute(delete(RECEIPTS).where(RECEIPTS.c.principal.in_(list(actors))))

    def scrub(self, address: str) -> dict[str, int]:
        """Every other copy of the address (queues, receipts, posted CloudEvents, ...)
        overwritten with ERASED (in a unique column, ERASED followed by ``#`` and a random
        tag, so that rows stay apart): ``table.column`` -> rows changed. The log and the
        projections are not touched here (see ``erase`` and the rebuild)."""
        changed: dict[str, int] = {}
        for table in Base.metadata.sorted_tables:
            if table.name in _PROJECTIONS | _SEALED | _HASHES:
                continue
            keys = list(table.primary_key.columns)
            unique = _unique(table)
            for column in _text_columns(table):
                if f"{table.name}.{column.name}" in _HASHED_TEXT:
                    continue
                rows = [
                    row
                    for row in self._c.execute(
                        select(*keys, column).where(_contains(column, address))
                    )
                    if _holds(row[-1], address)
                ]
                for row in rows:
                    where = [k == row[i] for i, k in enumerate(keys)]
                    # Keys that differed only by the address (a reminder to each contact) must
                    # not all become the same "[verwijderd]" key, now or at the next erasure.
                    erased = ERASED
                    if column.name in unique:
                        erased = f"{ERASED}#{secrets.token_hex(8)}"
                    self._c.execute(
                        update(table)
                        .where(*where)
                        .values({column.name: _replaced(row[-1], address, erased)})
                    )
                if rows:
                    changed[f"{table.name}.{column.name}"] = len(rows)
        return changed


# --- existing databases (the migration 0017_personal_subjects) ------------------------------

REINDEX_BATCH = 2000
"""Events whose subjects ``reindex_subjects`` works out together."""


def reindex_subjects(connection: Connection) -> int:
    """Whose data each personal field is (``personal_subjects``), worked out again from the
    values by today's ``address_spans``, for every event; the rows that differed replaced.
    Returns how many events had rows that differed (those of an address beyond ASCII, such
    as ``jörg@müller.nl``, which the rule of 0013 did not see: it found none, or only the
    end of one). Nothing hashed changes."""
    changed, after = 0, 0
    while True:
        rows = connection.execute(
            select(*_EVENT_COLUMNS, PERSONAL.c.fields)
            .select_from(E.join(PERSONAL, PERSONAL.c.event_id == E.c.id))
            .where(E.c.id > after)
            .order_by(E.c.id)
            .limit(REINDEX_BATCH)
        ).all()
        if not rows:
            return changed
        after = int(rows[-1].id)
        ids = [int(r.id) for r in rows]
        stored: dict[int, set[tuple[str, str]]] = {i: set() for i in ids}
        for found in connection.execute(
            select(SUBJECTS.c.event_id, SUBJECTS.c.path, SUBJECTS.c.subject).where(
                SUBJECTS.c.event_id.in_(ids)
            )
        ):
            stored[int(found.event_id)].add((str(found.path), str(found.subject)))
        for r in rows:
            event = _stored(r, r.previous, r.hash, personal_from(r.fields))
            wanted = set(subjects_of(event))
            if wanted == stored[int(r.id)]:
                continue
            changed += 1
            connection.execute(delete(SUBJECTS).where(SUBJECTS.c.event_id == r.id))
            if wanted:
                connection.execute(
                    insert(SUBJECTS),
                    [{"event_id": r.id, "path": p, "subject": a} for p, a in sorted(wanted)],
                )


# --- existing databases (the migration 0013_personal_data) ----------------------------------

# The columns of events as of 0013 (a later revision may add more; this code runs at 0013).
_EVENT_COLUMNS = (
    E.c.id,
    E.c.seq,
    E.c.type,
    E.c.at,
    E.c.recorded_at,
    E.c.actor,
    E.c.reason,
    E.c.payload,
    E.c.previous,
    E.c.hash,
)
RESEALER = "wijkkompas"
"""The actor of a ``chain_resealed`` event: the schema upgrade, no person."""


def _add_personal(connection: Connection, event_id: int, event: StoredEvent) -> None:
    connection.execute(
        insert(PERSONAL).values(event_id=event_id, fields=personal_json(event.personal))
    )
    subjects = subjects_of(event)
    if subjects:
        connection.execute(
            insert(SUBJECTS),
            [{"event_id": event_id, "path": p, "subject": s} for p, s in subjects],
        )


def reseal(connection: Connection, now: datetime) -> tuple[list[str], list[str]]:
    """Hash every chain again with its personal fields sealed apart, and end it with a
    ``chain_resealed`` event naming the old hash of each event. A chain that does not verify
    as it is (or already has sealed personal fields) is left as it is: resealing must not
    launder a tampered log. Returns (resealed keys, (key: why) left as they are)."""
    resealed: list[str] = []
    left: list[str] = []
    instances = connection.execute(select(I.c.id, I.c.key, I.c.seq, I.c.head).order_by(I.c.id))
    for inst in instances.all():
        rows = connection.execute(
            select(*_EVENT_COLUMNS, PERSONAL.c.fields)
            .select_from(E.outerjoin(PERSONAL, PERSONAL.c.event_id == E.c.id))
            .where(E.c.instance_id == inst.id)
            .order_by(E.c.seq)
        ).all()
        why = _unsealable(inst, rows)
        if why is not None:
            left.append(f"{inst.key}: {why}")
            continue
        previous: str | None = None
        for r in rows:
            personal = seal_personal(r.actor, r.reason, r.payload)
            by, reason, payload = chained(r.actor, r.reason, r.payload, personal)
            digest = chain_hash(
                previous,
                instance=inst.key,
                seq=r.seq,
                type_=r.type,
                at=r.at,
                recorded_at=r.recorded_at,
                by=by,
                reason=reason,
                payload=payload,
            )
            connection.execute(
                update(E).where(E.c.id == r.id).values(previous=previous, hash=digest)
            )
            _add_personal(connection, r.id, _stored(r, previous, digest, personal))
            previous = digest
        event = ChainResealed(at=now, by=RESEALER, old_hashes=tuple(r.hash for r in rows))
        seq = len(rows) + 1
        facts = event.payload()
        personal = seal_personal(event.by, None, facts)
        by, reason, payload = chained(event.by, None, facts, personal)
        digest = chain_hash(
            previous,
            instance=inst.key,
            seq=seq,
            type_=event.TYPE,
            at=now,
            recorded_at=now,
            by=by,
            reason=reason,
            payload=payload,
        )
        stored = StoredEvent(
            seq=seq,
            type=event.TYPE,
            at=now,
            recorded_at=now,
            actor=event.by,
            reason=None,
            payload=facts,
            previous=previous,
            hash=digest,
            personal=personal,
        )
        event_id = connection.execute(
            insert(E).returning(E.c.id), [event_values(inst.id, stored)]
        ).scalar_one()
        connection.execute(insert(PENDING).values(event_id=event_id))
        _add_personal(connection, event_id, stored)
        connection.execute(
            update(I)
            .where(I.c.id == inst.id)
            .values(seq=seq, head=digest, version_no=I.c.version_no + 1)
        )
        resealed.append(inst.key)
    return resealed, left


def _stored(
    row: Any, previous: str | None, digest: str, personal: tuple[Personal, ...]
) -> StoredEvent:
    return StoredEvent(
        seq=row.seq,
        type=row.type,
        at=row.at,
        recorded_at=row.recorded_at,
        actor=row.actor,
        reason=row.reason,
        payload=row.payload,
        previous=previous,
        hash=digest,
        personal=personal,
    )


def _plain_hash(previous: str | None, key: str, r: Any) -> str:
    """The hash of stored event row ``r`` of instance ``key`` over its values as they are
    (the chain before 0013_personal_data, and after a downgrade)."""
    return chain_hash(
        previous,
        instance=key,
        seq=r.seq,
        type_=r.type,
        at=r.at,
        recorded_at=r.recorded_at,
        by=r.actor,
        reason=r.reason,
        payload=r.payload,
    )


def _unsealable(inst: Any, rows: Sequence[Any]) -> str | None:
    """Why the chain of ``inst`` is not resealed (None: it is whole, with plain values)."""
    if not rows:
        return "no events"
    previous: str | None = None
    for expected, r in enumerate(rows, start=1):
        if r.fields:
            return f"event {r.seq} has sealed personal fields already"
        digest = _plain_hash(previous, inst.key, r)
        if r.seq != expected or r.previous != previous or digest != r.hash:
            return f"its log is broken at event {expected} (wijkkompas audit verify {inst.key})"
        previous = r.hash
    if (inst.seq, inst.head) != (rows[-1].seq, rows[-1].hash):
        return f"its log does not end where the instance says (audit verify {inst.key})"
    return None


def unseal(connection: Connection) -> int:
    """The way back (downgrading below 0013_personal_data): every chain hashed again over its
    values as they are (erased ones included), its sealed personal fields forgotten. Checkpoints
    made before then no longer match; a later upgrade reseals. Returns the chains rehashed."""
    count = 0
    instances = connection.execute(select(I.c.id, I.c.key).order_by(I.c.id)).all()
    for inst in instances:
        rows = connection.execute(
            select(*_EVENT_COLUMNS).where(E.c.instance_id == inst.id).order_by(E.c.seq)
        ).all()
        previous: str | None = None
        for r in rows:
            digest = _plain_hash(previous, inst.key, r)
            connection.execute(
                update(E).where(E.c.id == r.id).values(previous=previous, hash=digest)
            )
            previous = digest
        if rows:
            connection.execute(
                update(I).where(I.c.id == inst.id).values(seq=rows[-1].seq, head=previous)
            )
            count += 1
    connection.execute(delete(SUBJECTS))
    connection.execute(delete(PERSONAL))
    return count
