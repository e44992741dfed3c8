"""The integrations' delivery queue and the webhook subscriptions, in one transaction.

Rows are queued with a unique idempotency key (a known key is skipped), claimed under a lease
(PostgreSQL: FOR UPDATE SKIP LOCKED, so several nodes share the work and never hold the same
row; SQLite has one writer) and marked sent, to retry later, or failed. Only the oldest
pending (or held) row of an ``ordering`` line can be claimed: while it waits for a retry, the
rows behind it wait too, so one instance's messages reach one target in order. Leases are
renewed by a slow pass and released by one that stops; a lease that runs out frees the row for
another node.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Any, cast

from sqlalchemy import Connection, Table, delete, exists, func, insert, or_, select, update
from sqlalchemy.orm import aliased

from engine.persistence.rows import DELIVERIES, FEED, OUT, PARTIES, SUBSCRIPTIONS, D, E, I, W
from engine.persistence.tables import IntegrationCursorRow, OrganisationRow, ZgwZaakRow
from engine.ports import Delivery, NewDelivery, Subscription, SubscriptionEvent

__all__ = ["DeliveryUnit"]

_WAITING = ("pending", "held")
ORGANISATIONS = cast(Table, OrganisationRow.__table__)
CURSORS = cast(Table, IntegrationCursorRow.__table__)
ZAKEN = cast(Table, ZgwZaakRow.__table__)


class DeliveryUnit:
    """Implements engine.ports.DeliveryUnit."""

    def __init__(self, connection: Connection, *, postgres: bool) -> None:
        self._c = connection
        self._postgres = postgres

    # --- the queue -------------------------------------------------------------------------

    def queue(self, rows: Sequence[NewDelivery]) -> int:
        if not rows:
            return 0
        values = [
            {
                "channel": r.channel,
                "target": r.target,
                "kind": r.kind,
                "key": r.key,
                "message_id": r.message_id,
                "ordering": r.ordering,
                "instance_key": r.instance_key,
                "payload": r.payload,
                "status": "pending",
                "attempts": 0,
                "next_attempt_at": r.created_at,
                "created_at": r.created_at,
            }
            for r in rows
        ]
        if self._postgres:
            from sqlalchemy.dialects.postgresql import insert as pg_insert

            statement: Any = pg_insert(DELIVERIES).on_conflict_do_nothing(index_elements=["key"])
        else:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            statement = sqlite_insert(DELIVERIES).on_conflict_do_nothing(index_elements=["key"])
        return len(self._c.execute(statement.returning(DELIVERIES.c.id), values).all())

    def claim(
        self, channel: str, node: str, now: datetime, lease_until: datetime, limit: int
    ) -> list[Delivery]:
        d = DELIVERIES
        earlier = aliased(d)
        ahead = exists().where(
            earlier.c.ordering == d.c.ordering,
            earlier.c.id < d.c.id,
            earlier.c.status.in_(_WAITING),
        )
        candidates = (
            select(d.c.id)
            .where(
                d.c.channel == channel,
                d.c.status == "pending",
                d.c.next_attempt_at <= now,
                or_(d.c.lease_until.is_(None), d.c.lease_until < now),
                ~ahead,
            )
            .order_by(d.c.id)
            .limit(limit)
        )
        if self._postgres:
            candidates = candidates.with_for_update(of=d, skip_locked=True)
        ids = list(self._c.execute(candidates).scalars())
        if not ids:
            return []
        self._c.execute(
            update(d).where(d.c.id.in_(ids)).values(claimed_by=node, lease_until=lease_until)
        )
        return [
            _delivery(r) for r in self._c.execute(select(d).where(d.c.id.in_(ids)).order_by(d.c.id))
        ]

    def renew(self, ids: Sequence[int], node: str, lease_until: datetime) -> set[int]:
        if not ids:
            return set()
        d = DELIVERIES
        renewed = self._c.execute(
            update(d)
            .where(d.c.id.in_(list(ids)), d.c.claimed_by == node, d.c.status == "pending")
            .values(lease_until=lease_until)
            .returning(d.c.id)
        )
        return set(renewed.scalars())

    def release(self, ids: Sequence[int], node: str) -> None:
        if ids:
            d = DELIVERIES
            self._c.execute(
                update(d)
                .where(d.c.id.in_(list(ids)), d.c.claimed_by == node)
                .values(lease_until=None)
            )

    def _finish(self, delivery_id: int, node: str, **values: Any) -> None:
        d = DELIVERIES
        self._c.execute(
            update(d)
            .where(d.c.id == delivery_id, d.c.claimed_by == node)
            .values(lease_until=None, **values)
        )

    def sent(self, delivery_id: int, node: str, at: datetime, status: int | None) -> None:
        self._finish(
            delivery_id,
            node,
            status="sent",
            sent_at=at,
            last_attempt_at=at,
            last_status=status,
            last_error=None,
            attempts=DELIVERIES.c.attempts + 1,
        )

    def retry_later(
        self,
        delivery_id: int,
        node: str,
        *,
        error: str,
        status: int | None,
        attempts: int,
        at: datetime,
        next_at: datetime,
    ) -> None:
        self._finish(
            delivery_id,
            node,
            attempts=attempts,
            last_error=error,
            last_status=status,
            last_attempt_at=at,
            next_attempt_at=next_at,
        )

    def failed(
        self,
        delivery_id: int,
        node: str,
        *,
        error: str,
        status: int | None,
        attempts: int,
        at: datetime,
    ) -> None:
        self._finish(
            delivery_id,
            node,
            status="failed",
            attempts=attempts,
            last_error=error,
            last_status=status,
            last_attempt_at=at,
        )

    def hold_target(self, channel: str, target: str) -> int:
        d = DELIVERIES
        result = self._c.execute(
            update(d)
            .where(d.c.channel == channel, d.c.target == target, d.c.status == "pending")
            .values(status="held", lease_until=None)
        )
        return int(result.rowcount)

    def resume_target(self, channel: str, target: str, at: datetime) -> int:
        d = DELIVERIES
        result = self._c.execute(
            update(d)
            .where(d.c.channel == channel, d.c.target == target, d.c.status == "held")
            .values(status="pending", next_attempt_at=at, lease_until=None)
        )
        return int(result.rowcount)

    def deliveries(
        self, channel: str, target: str | None, status: str | None, limit: int
    ) -> list[Delivery]:
        d = DELIVERIES
        query = select(d).where(d.c.channel == channel).order_by(d.c.id.desc()).limit(limit)
        if target is not None:
            query = query.where(d.c.target == target)
        if status is not None:
            query = query.where(d.c.status == status)
        return [_delivery(r) for r in self._c.execute(query)]

    def delivery(self, delivery_id: int) -> Delivery | None:
        row = self._c.execute(select(DELIVERIES).where(DELIVERIES.c.id == delivery_id)).first()
        return _delivery(row) if row else None

    def requeue(self, delivery_id: int, at: datetime) -> bool:
        d = DELIVERIES
        result = self._c.execute(
            update(d)
            .where(d.c.id == delivery_id, d.c.status == "failed")
            .values(status="pending", next_attempt_at=at, lease_until=None, claimed_by=None)
        )
        return bool(result.rowcount)

    def counts(self, channel: str) -> dict[str, int]:
        d = DELIVERIES
        rows = self._c.execute(
            select(d.c.status, func.count()).where(d.c.channel == channel).group_by(d.c.status)
        )
        return {status: int(count) for status, count in rows}

    # --- webhook subscriptions ---------------------------------------------------------------

    def add_subscription(self, subscription: Subscription) -> int:
        values = _subscription_values(subscription)
        return int(
            self._c.execute(
                insert(SUBSCRIPTIONS).values(**values).returning(SUBSCRIPTIONS.c.id)
            ).scalar_one()
        )

    def subscriptions(self, *, lock: bool = False) -> list[Subscription]:
        query = select(SUBSCRIPTIONS).order_by(SUBSCRIPTIONS.c.id)
        if lock and self._postgres:
            query = query.with_for_update()
        return [_subscription(r) for r in self._c.execute(query)]

    def subscription(self, subscription_id: int) -> Subscription | None:
        row = self._c.execute(
            select(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == subscription_id)
        ).first()
        return _subscription(row) if row else None

    def update_subscription(self, subscription_id: int, **values: Any) -> bool:
        for name in ("event_types", "workflows", "areas", "organisations", "secrets"):
            if name in values:
                values[name] = list(values[name])
        result = self._c.execute(
            update(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == subscription_id).values(**values)
        )
        return bool(result.rowcount)

    def remove_subscription(self, subscription_id: int) -> bool:
        d = DELIVERIES
        self._c.execute(
            delete(d).where(
                d.c.channel == "webhook",
                d.c.target == str(subscription_id),
                d.c.status.in_(_WAITING),
            )
        )
        result = self._c.execute(delete(SUBSCRIPTIONS).where(SUBSCRIPTIONS.c.id == subscription_id))
        return bool(result.rowcount)

    def events_after(self, position: int, limit: int) -> list[SubscriptionEvent]:
        query = (
            select(
                FEED.c.position,
                E.c.id.label("event_id"),
                E.c.seq,
                E.c.type,
                E.c.at,
                E.c.payload,
                I.c.id.label("instance_id"),
                I.c.key,
                I.c.phase,
                I.c.areas,
                I.c.regie_organisation,
                W.c.key.label("workflow"),
            )
            .select_from(
                FEED.join(E, E.c.id == FEED.c.event_id)
                .join(I, I.c.id == E.c.instance_id)
                .join(W, W.c.id == I.c.workflow_version_id)
            )
            .where(FEED.c.position > position)
            .order_by(FEED.c.position)
            .limit(limit)
        )
        rows = self._c.execute(query).all()
        _, organisations = self._about([r.instance_id for r in rows])
        return [
            SubscriptionEvent(
                position=int(r.position),
                ref=f"event:{r.event_id}",
                instance_key=r.key,
                seq=int(r.seq),
                type=r.type,
                at=r.at,
                payload=r.payload,
                workflow=r.workflow,
                phase=r.phase,
                areas=tuple(r.areas),
                organisations=organisations(r.instance_id, r.regie_organisation),
            )
            for r in rows
        ]

    def _about(self, instance_ids: Sequence[int]) -> tuple[dict[int, set[str]], Any]:
        """The party organisations of each instance, and a function naming a regie holder."""
        parties: dict[int, set[str]] = {}
        ids = sorted(set(instance_ids))
        for start in range(0, len(ids), 900):
            chunk = ids[start : start + 900]
            for p in self._c.execute(
                select(PARTIES.c.instance_id, PARTIES.c.organisation).where(
                    PARTIES.c.instance_id.in_(chunk)
                )
            ):
                parties.setdefault(p.instance_id, set()).add(p.organisation)
        known: dict[str, tuple[str, ...]] = {}
        for o in self._c.execute(select(ORGANISATIONS.c.key, ORGANISATIONS.c.name)):
            known[o.key.casefold()] = known[o.name.strip().casefold()] = (o.key, o.name)

        def organisations(instance_id: int, regie: str | None) -> tuple[str, ...]:
            named = {regie, *known.get(regie.strip().casefold(), ())} if regie else set()
            return tuple(sorted(parties.get(instance_id, set()) | named))

        return parties, organisations

    def _instance_things(self, query: Any, make: Any) -> list[SubscriptionEvent]:
        rows = self._c.execute(query).all()
        _, organisations = self._about([r.instance_id for r in rows])
        return [make(r, organisations(r.instance_id, r.regie_organisation)) for r in rows]

    def overdue_deadlines(self, after: date, before: date) -> list[SubscriptionEvent]:
        from engine.clock import LOCAL_TZ

        query = (
            select(
                D.c.instance_id,
                D.c.kind,
                D.c.subject,
                D.c.due,
                D.c.legal,
                I.c.key,
                I.c.phase,
                I.c.areas,
                I.c.regie_organisation,
                W.c.key.label("workflow"),
            )
            .select_from(
                D.join(I, I.c.id == D.c.instance_id).join(W, W.c.id == I.c.workflow_version_id)
            )
            .where(D.c.due > after, D.c.due < before, D.c.frozen.is_(False))
            .order_by(D.c.due, D.c.instance_id, D.c.kind, D.c.subject)
        )

        def make(r: Any, organisations: tuple[str, ...]) -> SubscriptionEvent:
            overdue_from = datetime.combine(r.due, datetime.min.time(), LOCAL_TZ) + timedelta(
                days=1
            )
            return SubscriptionEvent(
                position=0,
                # The instance too: two wijken started on one day have the same deadlines.
                ref=f"overdue:{r.instance_id}:{r.kind}:{r.subject}:{r.due.isoformat()}",
                instance_key=r.key,
                seq=None,
                type="deadline_overdue",
                at=overdue_from,
                payload={
                    "kind": r.kind,
                    "subject": r.subject,
                    "due": r.due.isoformat(),
                    "legal": bool(r.legal),
                },
                workflow=r.workflow,
                phase=r.phase,
                areas=tuple(r.areas),
                organisations=organisations,
            )

        return self._instance_things(query, make)

    def failed_reminders(self, since: datetime) -> list[SubscriptionEvent]:
        query = (
            select(
                OUT.c.id,
                OUT.c.payload,
                OUT.c.created_at,
                I.c.id.label("instance_id"),
                I.c.key,
                I.c.phase,
                I.c.areas,
                I.c.regie_organisation,
                W.c.key.label("workflow"),
            )
            .select_from(
                OUT.join(I, I.c.id == OUT.c.instance_id).join(W, W.c.id == I.c.workflow_version_id)
            )
            .where(OUT.c.status == "failed", OUT.c.created_at >= since)
            .order_by(OUT.c.id)
        )

        def make(r: Any, organisations: tuple[str, ...]) -> SubscriptionEvent:
            p = r.payload
            return SubscriptionEvent(
                position=0,
                ref=f"reminder-failed:{r.id}",
                instance_key=r.key,
                seq=None,
                type="reminder_failed",
                at=r.created_at,
                payload={"kind": p.get("kind"), "subject": p.get("subject"), "due": p.get("due")},
                workflow=r.workflow,
                phase=r.phase,
                areas=tuple(r.areas),
                organisations=organisations,
            )

        return self._instance_things(query, make)

    # --- integration cursors and remembered zaken ---------------------------------------

    def cursor(self, name: str) -> int | None:
        """The feed position integration ``name`` fanned out to (None: never); locked until
        the transaction ends (PostgreSQL), so two fan-outs take turns."""
        query = select(CURSORS.c.position).where(CURSORS.c.name == name)
        if self._postgres:
            query = query.with_for_update()
        found = self._c.execute(query).scalar_one_or_none()
        return None if found is None else int(found)

    def set_cursor(self, name: str, position: int) -> None:
        if not self._c.execute(
            update(CURSORS).where(CURSORS.c.name == name).values(position=position)
        ).rowcount:
            self._c.execute(insert(CURSORS).values(name=name, position=position))

    def zaak_url(self, instance_key: str) -> str | None:
        found = self._c.execute(
            select(ZAKEN.c.zaak_url).where(ZAKEN.c.instance_key == instance_key)
        ).scalar_one_or_none()
        return None if found is None else str(found)

    def remember_zaak(
        self, instance_key: str, url: str, at: datetime, *, hoofdzaak: str | None = None
    ) -> None:
        if self.zaak_url(instance_key) is None:
            self._c.execute(
                insert(ZAKEN).values(
                    instance_key=instance_key,
                    zaak_url=url,
                    hoofdzaak_url=hoofdzaak,
                    suspended=False,
                    created_at=at,
                )
            )

    def zaak_state(self, instance_key: str) -> tuple[str | None, bool]:
        """The status and opschorting the mirror set last on the instance's zaak."""
        row = self._c.execute(
            select(ZAKEN.c.status_url, ZAKEN.c.suspended).where(
                ZAKEN.c.instance_key == instance_key
            )
        ).first()
        return (None, False) if row is None else (row.status_url, bool(row.suspended))

    def remember_zaak_state(
        self, instance_key: str, *, status_url: str | None = None, suspended: bool | None = None
    ) -> None:
        values: dict[str, Any] = {}
        if status_url is not None:
            values["status_url"] = status_url
        if suspended is not None:
            values["suspended"] = suspended
        if values:
            self._c.execute(
                update(ZAKEN).where(ZAKEN.c.instance_key == instance_key).values(**values)
            )

    def hoofdzaak(self, instance_key: str) -> str | None:
        found = self._c.execute(
            select(ZAKEN.c.hoofdzaak_url).where(ZAKEN.c.instance_key == instance_key)
        ).scalar_one_or_none()
        return None if found is None else str(found)

    def regie_rol(self, instance_key: str) -> str | None:
        found = self._c.execute(
            select(ZAKEN.c.regie_rol_url).where(ZAKEN.c.instance_key == instance_key)
        ).scalar_one_or_none()
        return None if found is None else str(found)

    def remember_regie_rol(self, instance_key: str, url: str | None) -> None:
        self._c.execute(
            update(ZAKEN).where(ZAKEN.c.instance_key == instance_key).values(regie_rol_url=url)
        )

    def feed_head(self) -> int:
        return int(
            self._c.execute(select(func.coalesce(func.max(FEED.c.position), 0))).scalar_one()
        )


def _subscription_values(s: Subscription) -> dict[str, Any]:
    return {
        "url": s.url,
        "description": s.description,
        "event_types": list(s.event_types),
        "workflows": list(s.workflows),
        "areas": list(s.areas),
        "organisations": list(s.organisations),
        "secrets": list(s.secrets),
        "position": s.position,
        "overdue_on": s.overdue_on,
        "created_at": s.created_at,
        "created_by": s.created_by,
        "disabled_at": s.disabled_at,
        "disabled_reason": s.disabled_reason,
    }


def _subscription(r: Any) -> Subscription:
    return Subscription(
        id=int(r.id),
        url=r.url,
        description=r.description,
        event_types=tuple(r.event_types),
        workflows=tuple(r.workflows),
        areas=tuple(r.areas),
        organisations=tuple(r.organisations),
        secrets=tuple(r.secrets),
        position=int(r.position),
        overdue_on=r.overdue_on,
        created_at=r.created_at,
        created_by=r.created_by,
        disabled_at=r.disabled_at,
        disabled_reason=r.disabled_reason,
    )


def _delivery(r: Any) -> Delivery:
    return Delivery(
        id=int(r.id),
        channel=r.channel,
        target=r.target,
        kind=r.kind,
        key=r.key,
        message_id=r.message_id,
        ordering=r.ordering,
        instance_key=r.instance_key,
        payload=r.payload,
        status=r.status,
        attempts=r.attempts,
        next_attempt_at=r.next_attempt_at,
        claimed_by=r.claimed_by,
        lease_until=r.lease_until,
        last_error=r.last_error,
        last_status=r.last_status,
        created_at=r.created_at,
        last_attempt_at=r.last_attempt_at,
        sent_at=r.sent_at,
    )
