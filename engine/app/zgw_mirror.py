"""The ZGW Zaken mirror, as far as it is built: an instance started becomes a zaak, each phase
it enters a status, a pause an opschorting, and its end a resultaat with the end status.

Same principles as the webhooks (``engine.app.webhooks``): a fan-out reads the event feed
after the cursor ``zgw:<workflow>`` (from the start: every instance is mirrored) and queues, in
one transaction with the cursor's move, a delivery per event on channel ``zgw`` (idempotency key
``zgw:<workflow>:event:<id>``, ordering line per instance, so the zaak is made before its
statuses). :class:`ZgwDispatcher` claims them under a lease and calls the Zaken API through
the :class:`~engine.ports.ZgwZaken` port:

- ``zaak``: the zaak's URL is remembered per instance; without one the zaak is looked up by
  identificatie (our key) and bronorganisatie first (Zaken API 1.5.1 has no filter on
  ``kenmerken``), and made only when there is none: a retry never makes a second zaak. The
  key is also in ``kenmerken``. Then its first status (the phase it started in).
- ``status``: ``datumStatusGezet`` is the event's effective time. A status that was added
  just before a crash, before its delivery was marked, is added once more on the retry.

- ``pause``/``resume``: the zaak's ``opschorting`` set and cleared (the reason is the pause
  button's id: never the free text, which may name people).
- ``end`` (stopped or completed): a resultaat of the configured resultaattype, then the
  ``eindstatustype``.

- ``zaak`` and ``handover``: the regie holder as a rol of roltype ``regie``
  (zaakcoordinator), replaced on a handover (the new rol first, then the old one removed).

- a deelproject's zaak is a deelzaak (``hoofdzaak``) of its parent's zaak; deeper down the tree
  (a deelproject of a deelproject) of the wijk's zaak at the top, as ZGW allows one level.

Before a status, opschorting or end is written to a zaak it is read: when its status or
opschorting is not what the mirror left there (someone changed it in the case system), nothing
is written and the delivery fails for good with what differs (``HandChanged``), for a person
to look at.

Not built yet: rollen of the parties.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from engine.app import feed
from engine.app.context import Context
from engine.app.webhook_dispatch import GIVE_UP, next_wait
from engine.app.zgw import ZgwConfig
from engine.clock import local_date
from engine.ports import Delivery, NewDelivery
from engine.ports.zgw import ZgwFailure, ZgwZaken

__all__ = ["CHANNEL", "HandChanged", "ZgwDispatcher", "ZgwReport", "fan_out"]

CHANNEL = "zgw"
BATCH = 500
_KINDS = {
    "instance_started": "zaak",
    "phase_advanced": "status",
    "phase_returned": "status",
    "instance_paused": "pause",
    "instance_resumed": "resume",
    "instance_stopped": "end",
    "instance_completed": "end",
    "regie_handed_over": "handover",
}


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def fan_out(context: Context, configs: Mapping[str, ZgwConfig]) -> int:
    """Queue the mirror's deliveries of what the feed got since the last fan-out."""
    feed.sequence(context)
    queued = 0
    for workflow in sorted(configs):
        name = f"zgw:{workflow}"
        while True:
            with context.store.deliveries() as unit:
                position = unit.cursor(name) or 0
                events = unit.events_after(position, BATCH)
                if not events:
                    break
                now = context.clock.now()
                rows: list[NewDelivery] = []
                for e in events:
                    kind = _KINDS.get(e.type)
                    if e.workflow != workflow or kind is None:
                        continue
                    phase = e.payload.get("phase") if kind == "zaak" else e.payload.get("to_phase")
                    payload = {
                        "instance": e.instance_key,
                        "title": e.payload.get("title"),
                        "phase": phase,
                        "button": e.payload.get("button"),
                        "regie": e.payload.get("regie"),
                        "parent": e.payload.get("parent"),
                        "outcome": "completed" if e.type == "instance_completed" else "stopped",
                        "at": _iso(e.at),
                        "day": local_date(e.at).isoformat(),
                    }
                    rows.append(
                        NewDelivery(
                            channel=CHANNEL,
                            target=workflow,
                            kind=kind,
                            key=f"zgw:{workflow}:{e.ref}",
                            message_id=f"zgw:{e.ref}",
                            ordering=f"zgw:{workflow}:{e.instance_key}",
                            instance_key=e.instance_key,
                            payload=payload,
                            created_at=now,
                        )
                    )
                queued += unit.queue(rows)
                unit.set_cursor(name, events[-1].position)
            if len(events) < BATCH:
                break
    return queued


class HandChanged(ZgwFailure):
    """The zaak is not as the mirror left it: someone changed it in the case system."""


@dataclass(slots=True)
class ZgwReport:
    queued: int = 0
    done: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"zgw_queued={self.queued} zgw_done={self.done} zgw_retried={self.retried} "
            f"zgw_failed={self.failed}"
        )


class ZgwDispatcher:
    def __init__(
        self,
        context: Context,
        configs: Mapping[str, ZgwConfig],
        client: Callable[[ZgwConfig], ZgwZaken],
        *,
        node: str,
        lease: timedelta = timedelta(minutes=2),
        batch: int = 50,
        rng: random.Random | None = None,
    ) -> None:
        self.context = context
        self.configs = configs
        self.client = client
        self.node = node
        self.lease = lease
        self.batch = batch
        self.rng = rng or random.Random()

    def run(self) -> ZgwReport:
        report = ZgwReport(queued=fan_out(self.context, self.configs))
        clients: dict[str, ZgwZaken] = {}
        tried: set[int] = set()
        try:
            while True:
                now = self.context.clock.now()
                with self.context.store.deliveries() as unit:
                    claimed = unit.claim(CHANNEL, self.node, now, now + self.lease, self.batch)
                    fresh = [d for d in claimed if d.id not in tried]
                    unit.release([d.id for d in claimed if d.id in tried], self.node)
                if not fresh:
                    break
                tried.update(d.id for d in fresh)
                for delivery in fresh:
                    config = self.configs.get(delivery.target)
                    if config is None:  # its configuration was removed: leave it waiting
                        with self.context.store.deliveries() as unit:
                            unit.release([delivery.id], self.node)
                        continue
                    if delivery.target not in clients:
                        clients[delivery.target] = self.client(config)
                    self._one(delivery, config, clients[delivery.target], report)
        finally:
            for c in clients.values():
                c.close()
        return report

    def _one(
        self, delivery: Delivery, config: ZgwConfig, zaken: ZgwZaken, report: ZgwReport
    ) -> None:
        p = delivery.payload
        key = str(delivery.instance_key)
        try:
            with self.context.store.deliveries() as unit:
                zaak = unit.zaak_url(key)
            if delivery.kind == "zaak" and zaak is None:
                hoofdzaak = self._hoofdzaak(p.get("parent"))
                zaak = zaken.find_zaak(key, config.bronorganisatie)
                if zaak is None:
                    zaak = zaken.create_zaak(_zaak(config, p, hoofdzaak))
                with self.context.store.deliveries() as unit:
                    unit.remember_zaak(key, zaak, self.context.clock.now(), hoofdzaak=hoofdzaak)
            if zaak is None:
                raise ZgwFailure(f"no zaak yet for {key}")
            if delivery.kind in ("status", "pause", "resume", "end"):
                self._unchanged(key, zaak, zaken)
            if delivery.kind in ("zaak", "handover"):
                self._regie(key, zaak, config, zaken, p, replace=delivery.kind == "handover")
            if delivery.kind in ("pause", "resume"):
                # The reason is the pause button (a term of the method), never the free text.
                suspended = delivery.kind == "pause"
                zaken.suspend(zaak, suspended, str(p.get("button") or "")[:200])
                with self.context.store.deliveries() as unit:
                    unit.remember_zaak_state(key, suspended=suspended)
            elif delivery.kind == "end":
                status = self._end(zaak, config, zaken, p)
                with self.context.store.deliveries() as unit:
                    unit.remember_zaak_state(key, status_url=status)
            elif delivery.kind in ("zaak", "status"):
                statustype = config.statustypen.get(str(p.get("phase")))
                if statustype is None:
                    raise ZgwFailure(f"no statustype for phase '{p.get('phase')}' (zgw check)")
                status = zaken.add_status(zaak, statustype, str(p["at"]))
                with self.context.store.deliveries() as unit:
                    unit.remember_zaak_state(key, status_url=status)
        except HandChanged as changed:
            now = self.context.clock.now()
            report.errors.append(f"zgw {key} {delivery.kind}: {changed.reason}")
            with self.context.store.deliveries() as unit:
                unit.failed(
                    delivery.id, self.node, error=changed.reason, status=None,
                    attempts=delivery.attempts + 1, at=now,
                )  # fmt: skip
            report.failed += 1
            return
        except ZgwFailure as failure:
            self._failed(delivery, failure, report)
            return
        with self.context.store.deliveries() as unit:
            unit.sent(delivery.id, self.node, self.context.clock.now(), None)
        report.done += 1

    def _hoofdzaak(self, parent: object) -> str | None:
        """The zaak a deelproject's zaak belongs under: its parent's, or, deeper down the tree,
        the wijk's at the top (ZGW allows one level: a deelzaak of a deelzaak is refused)."""
        if not parent:
            return None
        with self.context.store.deliveries() as unit:
            zaak = unit.zaak_url(str(parent))
            above = unit.hoofdzaak(str(parent))
        if zaak is None:
            raise ZgwFailure(f"the zaak of '{parent}' is not there yet")
        return above or zaak

    def _regie(
        self,
        key: str,
        zaak: str,
        config: ZgwConfig,
        zaken: ZgwZaken,
        p: Mapping[str, object],
        *,
        replace: bool,
    ) -> None:
        """The regie holder as the zaak's zaakcoordinator rol (roltype ``regie``): made once,
        and on a handover the old rol removed after the new one is there."""
        roltype = config.roltypen.get("regie")
        regie = p.get("regie")
        if roltype is None or not isinstance(regie, Mapping):
            return
        with self.context.store.deliveries() as unit:
            current = unit.regie_rol(key)
        if current is not None and not replace:
            return  # made by an earlier attempt of this delivery
        holder = str(regie.get("organisation") or regie.get("type"))
        rol = zaken.add_rol(zaak, roltype, holder, f"regie ({regie.get('type')})")
        with self.context.store.deliveries() as unit:
            unit.remember_regie_rol(key, rol)
        if current is not None:
            zaken.remove_rol(current)

    def _unchanged(self, key: str, zaak: str, zaken: ZgwZaken) -> None:
        """HandChanged when the zaak's status or opschorting is not what the mirror left."""
        with self.context.store.deliveries() as unit:
            status, suspended = unit.zaak_state(key)
        now = zaken.zaak(zaak)
        theirs = bool((now.get("opschorting") or {}).get("indicatie"))
        changes = []
        if status is not None and now.get("status") != status:
            changes.append(f"its status is {now.get('status')}, the mirror set {status}")
        if theirs != suspended:
            changes.append(f"its opschorting is {theirs}, the mirror set {suspended}")
        if changes:
            raise HandChanged(
                "changed by hand in the case system (" + "; ".join(changes) + "): not overwritten"
            )

    @staticmethod
    def _end(zaak: str, config: ZgwConfig, zaken: ZgwZaken, p: Mapping[str, object]) -> str:
        """A resultaat (Open Zaak refuses an end status without one), then the end status."""
        outcome = str(p.get("outcome"))
        resultaattype = config.resultaattypen.get(outcome)
        if resultaattype is None or config.eindstatustype is None:
            raise ZgwFailure(f"no resultaattype for '{outcome}' or no eindstatustype (zgw check)")
        zaken.add_result(zaak, resultaattype, outcome)
        return zaken.add_status(zaak, config.eindstatustype, str(p["at"]))

    def _failed(self, delivery: Delivery, failure: ZgwFailure, report: ZgwReport) -> None:
        now = self.context.clock.now()
        attempts = delivery.attempts + 1
        reason = failure.reason
        report.errors.append(f"zgw {delivery.instance_key} {delivery.kind}: {reason}")
        with self.context.store.deliveries() as unit:
            if now - delivery.created_at >= GIVE_UP:
                unit.failed(
                    delivery.id, self.node, error=reason, status=failure.status,
                    attempts=attempts, at=now,
                )  # fmt: skip
                report.failed += 1
                return
            unit.retry_later(
                delivery.id, self.node, error=reason, status=failure.status, attempts=attempts,
                at=now, next_at=now + next_wait(attempts, self.rng),
            )  # fmt: skip
            report.retried += 1


def _zaak(config: ZgwConfig, p: Mapping[str, object], hoofdzaak: str | None) -> dict[str, object]:
    key = str(p["instance"])
    zaak: dict[str, object] = {
        "identificatie": key,
        "bronorganisatie": config.bronorganisatie,
        "verantwoordelijkeOrganisatie": config.verantwoordelijke_organisatie,
        "zaaktype": config.zaaktype,
        "omschrijving": str(p.get("title") or key)[:80],
        "startdatum": str(p["day"]),
        "kenmerken": [{"kenmerk": key[:40], "bron": "wijkkompas"}],
    }
    if hoofdzaak is not None:
        zaak["hoofdzaak"] = hoofdzaak
    return zaak
