"""The database tables, as typed SQLAlchemy 2 declarative models.

workflow_versions  every definition an instance was ever started on: normalised JSON + hash
instances          one row per wijk or deelproject: the projection of its events, with a
                   version column for optimistic locking and the head of its hash chain
events             the append-only log, hash-chained per instance (seq 1, 2, 3, ...); its
                   personal fields (who, why, notes, contacts) are overwritten with
                   "[verwijderd]" when a person's data is erased
personal_fields    per event: the commitment the chain hashed for each personal field and the
                   salt that opens it (gone once erased); see engine/runtime/personal.py
personal_subjects  whose data a personal field is (the e-mail addresses in it), to find a
                   person's data for export and erasure
deadlines          the running deadlines of each instance and where their reminders stand
outbox             messages to send, with their idempotency keys, attempts and leases
instance_parties   the organisations taking part in an instance, in which party role
organisations      who takes part in the programme (one of them runs it)
principals         people and applications acting for an organisation, each in one role
tokens             the API tokens of principals: a visible prefix and the sha256 of the secret
passwords          a principal's password for the pages (argon2 hash), failed attempts, lock-out
web_sessions       signed-in browsers: the sha256 of the session id, its CSRF token, expiry,
                   what opened it (password, token and which one, oidc)
idempotency_receipts  the answers given to requests made under an idempotency key, kept in
                   the same transaction as the change they answer, until they expire
feed_pending       the events that have no place in the feed yet (written with each event)
feed               every event's place in the global feed: positions 1, 2, 3, ... in the
                   order events were committed (see engine/persistence/feed.py)
checkpoints        the signed checkpoints: tree size, root hash, time, key id, signature
checkpoint_leaves  the append-only Merkle tree's leaves: an instance's chain head as a
                   checkpoint appended it
merkle_nodes       the tree's complete nodes (level 0: the leaf hashes), for proofs
inbox              the CloudEvents applications posted (unique by source + id) and what
                   became of each: recorded, unmapped or refused, with the reason
deliveries         outbound integration messages (webhooks; later checkpoints, the ZGW mirror):
                   a generic queue by channel, in order per instance (see deliveries.py)
webhook_subscriptions  who wants which events where, with the secrets to sign them and the feed
                   position each subscription has been fanned out to
integration_cursors  per integration (e.g. ``zgw:WORKFLOW``): the feed position fanned out to
zgw_zaken          the zaak each instance is mirrored to (its URL in the case system)
calendar_tokens    the revocable secrets of iCalendar feed URLs: a prefix and a sha256
calendar_entries   every deadline a calendar feed has shown, with its SEQUENCE, so that a change
                   raises it and one that went away is shown CANCELLED

The instance row, its deadline rows and its parties are projections: written in the same
transaction as the event that changed them, and rebuildable from the events.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

__all__ = [
    "Base",
    "CalendarEntryRow",
    "CalendarTokenRow",
    "CheckpointLeafRow",
    "CheckpointRow",
    "DeadlineRow",
    "DeliveryRow",
    "EventRow",
    "FeedPendingRow",
    "FeedRow",
    "InstancePartyRow",
    "InstanceRow",
    "IntegrationCursorRow",
    "MerkleNodeRow",
    "OrganisationRow",
    "OutboxRow",
    "PersonalFieldRow",
    "PersonalSubjectRow",
    "PrincipalRow",
    "ReceiptRow",
    "TokenRow",
    "WebhookSubscriptionRow",
    "WorkflowVersionRow",
    "ZgwZaakRow",
]

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# BigInteger that stays an alias of the rowid on SQLite.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime on every backend (SQLite keeps no offset; this puts it back)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored; give a time zone")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {  # noqa: RUF012  (SQLAlchemy reads it as a class attribute)
        datetime: UtcDateTime(),
        date: Date(),
        dict[str, Any]: JSON(),
        list[Any]: JSON(),
    }


class WorkflowVersionRow(Base):
    __tablename__ = "workflow_versions"
    __table_args__ = (UniqueConstraint("key", "version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(Text)
    definition: Mapped[str] = mapped_column(Text)
    """The normalised definition as canonical JSON (its sha256 is ``hash``)."""
    source: Mapped[str | None] = mapped_column(Text)
    stored_at: Mapped[datetime]
    stored_by: Mapped[str] = mapped_column(String(200))


class InstanceRow(Base):
    __tablename__ = "instances"
    # The orders a list of instances may be sorted in, each with the key that breaks ties
    # (the keyset cursor of a page is the sort value and the key).
    __table_args__ = (
        Index(None, "title", "key"),
        Index(None, "last_event_at", "key"),
        Index(None, "created_at", "key"),
        # A list filtered on a phase comes in key order straight from this index.
        Index(None, "phase", "key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(Text)
    workflow_version_id: Mapped[int] = mapped_column(ForeignKey("workflow_versions.id"))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("instances.id"), index=True)
    state: Mapped[str] = mapped_column(String(80))
    phase: Mapped[str] = mapped_column(String(64))
    """The phase id, or completed/stopped."""
    phase_entered: Mapped[datetime]
    regie_type: Mapped[str] = mapped_column(String(64), index=True)
    regie_organisation: Mapped[str | None] = mapped_column(Text)
    regie_contacts: Mapped[list[Any]]
    areas: Mapped[list[Any]]
    paused_button: Mapped[str | None] = mapped_column(String(64))
    paused_reason: Mapped[str | None] = mapped_column(Text)
    paused_since: Mapped[datetime | None]
    paused_review: Mapped[date | None]
    snapshot: Mapped[dict[str, Any]]
    """Everything else the engine needs: milestone days, approvals, phase entries."""
    created_at: Mapped[datetime]
    last_event_at: Mapped[datetime]
    seq: Mapped[int] = mapped_column(Integer)
    """Sequence number of the last event."""
    head: Mapped[str] = mapped_column(String(64))
    """Hash of the last event: the head of the chain."""
    version_no: Mapped[int] = mapped_column(Integer)
    """Optimistic lock: every write checks it is still what was read, and raises it by one."""


class EventRow(Base):
    __tablename__ = "events"
    __table_args__ = (UniqueConstraint("instance_id", "seq"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id"))
    seq: Mapped[int] = mapped_column(Integer)
    type: Mapped[str] = mapped_column(String(40))
    at: Mapped[datetime]
    """When it really happened (effective time)."""
    recorded_at: Mapped[datetime]
    """When it was written down."""
    actor: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]]
    previous: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class PersonalFieldRow(Base):
    """The personal fields of one event: ``{path: [commitment, salt or null]}``."""

    __tablename__ = "personal_fields"

    event_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    fields: Mapped[dict[str, Any]]


class PersonalSubjectRow(Base):
    """One person (an e-mail address, lowercased) whose data one personal field holds."""

    __tablename__ = "personal_subjects"
    __table_args__ = (Index(None, "subject"),)

    event_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )
    path: Mapped[str] = mapped_column(String(200), primary_key=True)
    subject: Mapped[str] = mapped_column(String(320), primary_key=True)


class DeadlineRow(Base):
    """A running deadline of an instance, with where its reminders stand.

    Kept current by every event of the instance (the projection); the reminder pass reads the
    rows whose ``next_on`` has come and moves ``sent_through``/``next_on`` on.
    """

    __tablename__ = "deadlines"
    # Keyed by what it is about, in instance order: one B-tree less to write per command than
    # a surrogate id plus a unique index, and the overview reads it in one sequential scan
    # (on SQLite the table itself is that B-tree: WITHOUT ROWID).
    # next_on: what the reminder pass reads, in the order it reads them (next_on, then the
    # key): on PostgreSQL an index of next_on alone made every batch of a pass read and sort
    # ALL the rows due that day to keep 500 (EXPLAIN, 30,000 due: 27-50 ms a batch, so n*n/500
    # rows read in a pass); on SQLite the entries of next_on ended in the key anyway (WITHOUT
    # ROWID). due: the instances with overdue milestones.
    __table_args__ = (
        Index("ix_deadlines_pass_order", "next_on", "instance_id", "kind", "subject"),
        Index(None, "due"),
        {"sqlite_with_rowid": False},
    )

    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    """milestone, gate (the planned end of the phase) or review (of a pause)."""
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    due: Mapped[date]
    legal: Mapped[bool] = mapped_column(Boolean)
    frozen: Mapped[bool] = mapped_column(Boolean)
    """Paused: its reminders wait (legal deadlines and review dates never freeze)."""
    next_on: Mapped[date | None]
    """The first day a reminder may be due; NULL while frozen or when none will come."""
    sent_through: Mapped[date | None]
    """Reminder moments up to this day were planned (for this due date)."""


class OutboxRow(Base):
    """A message to send, written in the same transaction as the decision to send it."""

    __tablename__ = "outbox"
    # fillfactor: a row is written three times (queued, claimed, sent). Claiming changes no
    # indexed column, so PostgreSQL writes the claimed version beside the queued one without
    # touching the four indexes (a HOT update), but only if the page has room: packed full,
    # each claim of 200 rows inserted 800 index entries (pg_stat_user_tables: 1 % of 57,800
    # updates HOT, 4.0 ms per claim statement on the server; half full: every claim HOT, 1.6
    # ms). Half of a page of rows never claimed again stays free; the outbox was as large
    # after a pass of 30,000 either way (10,175 pages against 9,941).
    __table_args__ = (
        Index(None, "status", "next_attempt_at"),
        {"postgresql_with": {"fillfactor": 50}},
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(400), unique=True)  # reminders.KEY_LENGTH
    """Idempotency key: the same reminder is never queued twice."""
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(320))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(10))
    """pending, sent, failed, folded (went out within another row's message; never sent) or
    cancelled (its deadline ended, moved or was paused before delivery; never sent)."""
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]
    message_id: Mapped[str | None] = mapped_column(String(250))


class InstancePartyRow(Base):
    """An organisation taking part in an instance in one party role (a projection of the
    instance's party_added and party_removed events)."""

    __tablename__ = "instance_parties"
    __table_args__ = (Index(None, "organisation"),)

    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id"), primary_key=True)
    organisation: Mapped[str] = mapped_column(String(64), primary_key=True)
    """The organisation's key."""
    party: Mapped[str] = mapped_column(String(64), primary_key=True)
    """A party id of the instance's workflow (its ``parties:`` block)."""


class OrganisationRow(Base):
    __tablename__ = "organisations"
    # At most one organisation runs the programme: a unique index over the rows where it does.
    __table_args__ = (
        Index(
            "uq_organisations_runs_programme",
            "runs_programme",
            unique=True,
            sqlite_where=text("runs_programme"),
            postgresql_where=text("runs_programme"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32))
    oin: Mapped[str | None] = mapped_column(String(20))
    rsin: Mapped[str | None] = mapped_column(String(9))
    kvk: Mapped[str | None] = mapped_column(String(8))
    runs_programme: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime]


class PrincipalRow(Base):
    __tablename__ = "principals"
    __table_args__ = (UniqueConstraint("organisation_id", "name"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    organisation_id: Mapped[int] = mapped_column(ForeignKey("organisations.id"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(16))
    """person or application"""
    role: Mapped[str] = mapped_column(String(32))
    approvals: Mapped[list[Any]]
    """The approval ids an approver may give."""
    subject: Mapped[str | None] = mapped_column(String(400), unique=True)
    """The OIDC claim value that maps to this principal."""
    disabled_at: Mapped[datetime | None]
    created_at: Mapped[datetime]


class TokenRow(Base):
    """An API token. The secret itself is never stored: only its sha256 (the secret has 256
    bits of randomness, so a fast hash is enough) and the visible prefix it starts with."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(16), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(Text)
    """What it is for (the purpose given when it was made)."""
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class PasswordRow(Base):
    """A principal's password for signing in to the pages: its argon2 hash (never the password),
    the failed attempts in a row and, after too many, until when the account is locked."""

    __tablename__ = "passwords"

    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id"), primary_key=True)
    password_hash: Mapped[str] = mapped_column(Text)
    set_at: Mapped[datetime]
    failures: Mapped[int] = mapped_column(Integer)
    locked_until: Mapped[datetime | None]


class SessionRow(Base):
    """A signed-in browser. The session id (256 random bits, in a cookie) is stored only as its
    sha256; ``csrf`` is the token every form of the session must carry; ``credential`` what
    opened it (``password``, ``token`` or ``oidc``) and, for a token, ``token_prefix`` which
    one: the session ends with that token."""

    __tablename__ = "web_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id"), index=True)
    csrf: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime] = mapped_column(index=True)
    credential: Mapped[str] = mapped_column(String(16))
    token_prefix: Mapped[str | None] = mapped_column(
        String(16), ForeignKey("tokens.prefix"), index=True
    )


class ReceiptRow(Base):
    """The answer given to a request made under an idempotency key (``engine.ports.Receipt``):
    unique per principal and key while it lives; expired rows are replaced or purged."""

    __tablename__ = "idempotency_receipts"
    __table_args__ = (Index(None, "expires_at"),)

    principal: Mapped[str] = mapped_column(String(200), primary_key=True)
    key: Mapped[str] = mapped_column(String(255), primary_key=True)
    request_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[int] = mapped_column(Integer)
    body: Mapped[str] = mapped_column(Text)
    """The response body exactly as sent."""
    headers: Mapped[dict[str, Any]]
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class InboxRow(Base):
    """One CloudEvent an application posted to /api/v1/inbox, and what became of it."""

    __tablename__ = "inbox"
    __table_args__ = (UniqueConstraint("source", "event_id"), Index(None, "received_at"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    source: Mapped[str] = mapped_column(String(500))
    event_id: Mapped[str] = mapped_column(String(500))
    """The CloudEvent's ``id``: with ``source``, what makes a repeat recognisable."""
    type: Mapped[str] = mapped_column(String(500))
    principal: Mapped[str] = mapped_column(String(200))
    """The actor of the application that posted it (organisation/name)."""
    received_at: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10))
    """received (being handled), recorded, unmapped or refused."""
    reason: Mapped[str | None] = mapped_column(Text)
    instance: Mapped[str | None] = mapped_column(String(64))
    seq: Mapped[int | None] = mapped_column(Integer)
    """The number of the event it recorded on ``instance``."""
    cloudevent: Mapped[dict[str, Any]]


class FeedPendingRow(Base):
    """An event that has no position in the feed yet: inserted in the transaction that
    inserts the event, moved into ``feed`` by the sequencer."""

    __tablename__ = "feed_pending"

    event_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True
    )


class FeedRow(Base):
    """An event's place in the global feed.

    Positions are given by the sequencer, under a lock, as the highest position plus one, two,
    ...: not by a database sequence, which would leave a gap for every sequencer that rolls
    back. So they run 1, 2, 3, ... without gaps, and a poller that resumes after the last
    position it saw misses nothing."""

    __tablename__ = "feed"

    position: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    event_id: Mapped[int] = mapped_column(
        BigId, ForeignKey("events.id", ondelete="CASCADE"), unique=True
    )


class CheckpointRow(Base):
    """A signed checkpoint: the Merkle tree of chain heads had ``size`` leaves and ``root``."""

    __tablename__ = "checkpoints"

    number: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    size: Mapped[int] = mapped_column(BigInteger)
    root: Mapped[str] = mapped_column(String(64))
    time: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(String(100))


class CheckpointLeafRow(Base):
    """One leaf of the append-only tree: an instance's chain head when a checkpoint was made.

    ``instance`` is the key, not a foreign key: a leaf must outlive a dropped instance, so that
    the drop is seen."""

    __tablename__ = "checkpoint_leaves"
    __table_args__ = (Index(None, "instance", "idx"),)

    idx: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    instance: Mapped[str] = mapped_column(String(64))
    seq: Mapped[int] = mapped_column(Integer)
    head: Mapped[str] = mapped_column(String(64))
    parent: Mapped[str | None] = mapped_column(String(64))
    previous: Mapped[int | None] = mapped_column(BigInteger)
    checkpoint: Mapped[int] = mapped_column(Integer)


class MerkleNodeRow(Base):
    """A complete node of the tree: covers leaves [idx * 2**level, (idx + 1) * 2**level)."""

    __tablename__ = "merkle_nodes"

    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class DeliveryRow(Base):
    """One outbound message of an integration, written in the transaction that decided it.

    Generic over ``channel`` (``webhook`` now; checkpoints and the ZGW mirror later) and
    ``target`` (which subscription or endpoint). ``ordering`` names the line a row waits in:
    only the oldest pending row of a line may be claimed, so one instance's messages to one
    target go out in the order they were queued."""

    __tablename__ = "deliveries"
    __table_args__ = (Index(None, "status", "next_attempt_at"), Index(None, "ordering", "id"))

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    channel: Mapped[str] = mapped_column(String(20))
    target: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(100))
    """What it says (for webhooks: the CloudEvent type)."""
    key: Mapped[str] = mapped_column(String(400), unique=True)
    """Idempotency key: the same message is never queued twice."""
    message_id: Mapped[str] = mapped_column(String(100))
    """Stable over every attempt (a webhook's ``webhook-id`` and CloudEvent ``id``)."""
    ordering: Mapped[str] = mapped_column(String(200))
    instance_key: Mapped[str | None] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(10))
    """pending, held (its target is disabled), sent or failed."""
    attempts: Mapped[int] = mapped_column(Integer)
    next_attempt_at: Mapped[datetime]
    claimed_by: Mapped[str | None] = mapped_column(String(100))
    lease_until: Mapped[datetime | None]
    last_error: Mapped[str | None] = mapped_column(Text)
    last_status: Mapped[int | None] = mapped_column(Integer)
    """The receiver's last HTTP status (None: no answer)."""
    created_at: Mapped[datetime]
    last_attempt_at: Mapped[datetime | None]
    sent_at: Mapped[datetime | None]


class WebhookSubscriptionRow(Base):
    """A webhook subscription. The secrets are kept as given (``whsec_...``): a signature must
    be made with them, so a hash would not do; see docs/integrations.md."""

    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    url: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    event_types: Mapped[list[Any]]
    """CloudEvent types wanted; empty: all."""
    workflows: Mapped[list[Any]]
    areas: Mapped[list[Any]]
    organisations: Mapped[list[Any]]
    secrets: Mapped[list[Any]]
    """Newest first; every one signs while a rotation runs."""
    position: Mapped[int] = mapped_column(BigInteger)
    """The feed position up to which events were fanned out to it."""
    overdue_on: Mapped[date]
    """Deadlines due up to this day were fanned out to it as overdue."""
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(200))
    disabled_at: Mapped[datetime | None]
    disabled_reason: Mapped[str | None] = mapped_column(Text)


class CalendarTokenRow(Base):
    """The secret in a principal's iCalendar feed URL (calendar programs cannot send an
    Authorization header). Only its sha256 is kept, as for API tokens."""

    __tablename__ = "calendar_tokens"

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    principal_id: Mapped[int] = mapped_column(ForeignKey("principals.id"), index=True)
    prefix: Mapped[str] = mapped_column(String(24), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]


class CalendarEntryRow(Base):
    """A deadline as calendar feeds show it: kept after the deadline went away (cancelled), so
    feeds can say so; ``sequence`` goes up on every change of what a feed shows of it."""

    __tablename__ = "calendar_entries"

    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id"), primary_key=True)
    kind: Mapped[str] = mapped_column(String(10), primary_key=True)
    subject: Mapped[str] = mapped_column(String(64), primary_key=True)
    due: Mapped[date]
    title: Mapped[str] = mapped_column(Text)
    legal: Mapped[bool] = mapped_column(Boolean)
    alarm_days: Mapped[int | None] = mapped_column(Integer)
    """The nearest reminder before the due date, in days (None: none before it)."""
    fingerprint: Mapped[str] = mapped_column(String(64))
    sequence: Mapped[int] = mapped_column(Integer)
    changed_at: Mapped[datetime]
    cancelled_at: Mapped[datetime | None]


class IntegrationCursorRow(Base):
    """How far an integration fanned the event feed out (``zgw:<workflow>``)."""

    __tablename__ = "integration_cursors"

    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)


class ZgwZaakRow(Base):
    """The zaak an instance is mirrored to: found or made once, then remembered."""

    __tablename__ = "zgw_zaken"

    instance_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    zaak_url: Mapped[str] = mapped_column(Text)
    hoofdzaak_url: Mapped[str | None] = mapped_column(Text)
    """The zaak it is a deelzaak of (None: a hoofdzaak)."""
    status_url: Mapped[str | None] = mapped_column(Text)
    """The status the mirror set last: another one there means a hand change."""
    suspended: Mapped[bool] = mapped_column(Boolean, default=False)
    """The opschorting the mirror set last."""
    regie_rol_url: Mapped[str | None] = mapped_column(Text)
    """The rol (zaakcoordinator) that names the regie holder now: replaced on a handover."""
    created_at: Mapped[datetime]
