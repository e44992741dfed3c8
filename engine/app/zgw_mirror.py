"""The ZGW Zaken mirror, as far as it is built: an instance started becomes a zaak, each phase
it enters a status, a pause an opschorting, and its end a resultaat with the end status.

Same principles as the webhooks (``engine.app.webhooks``): a fan-out reads the event feed
after the cursor ``zgw:<workflow>`` (from the start: every instance is mirrored) and queues, in
one transaction with the cursor's move, a delivery per event on channel ``zgw`` (idempotency key
``zgw:<workflow>:event:<id>``, ordering line per instance, so the zaak is made before its
statuses). :class:`ZgwDispatcher` claims them under a lease and calls the Zaken API through
the :class:`~engine.ports.ZgwZaken` port:

- ``zaak``: the zaak's URL is remembered per instance; without one the zaak is looked up by
  identificatie and bronorganisatie first (Zaken API 1.5.1 has no filter on ``kenmerken``),
  and made only when there is none: a retry never makes a second zaak. The identificatie is
  our key, also in ``kenmerken``; a key over the 40 characters both allow is shortened to a
  stable 40 (:func:`zaak_identificatie`) and given whole in ``toelichting``.
  ``einddatumGepland`` is the end of the instance's dry-run timeline. Then its first status
  (the phase it started in), its areas and its regie holder.
- ``status``: ``datumStatusGezet`` is the event's effective time.
- ``plan`` (the instance migrated to another workflow version) and every new status:
  ``einddatumGepland`` PATCHed when the plan's end moved.
- ``areas`` (areas added or removed by an update) and ``zaak``: each CBS area code a
  zaakobject (objectType ``gemeente``, ``wijk`` or ``buurt`` with the ObjectGemeente,
  ObjectWijk or ObjectBuurt identification; :func:`area_object`), removed ones deleted.
- ``party``/``unparty``: a party of the instance a rol of the roltype configured for its
  organisation or party role (organisation data only), removed with the party.

Nothing is added twice when an attempt dies between the call and marking its delivery sent:
before adding a status (same statustype and ``datumStatusGezet``), a resultaat, a rol (same
roltype, betrokkene and toelichting) or a zaakobject (same identification) the mirror reads
what the zaak has, and takes what is there.

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
"""

from __future__ import annotations

import hashlib
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from engine.app import feed
from engine.app.context import Context
from engine.app.webhook_dispatch import GIVE_UP, next_wait
from engine.app.webhooks import delivery_progress
from engine.app.zgw import ZgwConfig
from engine.clock import local_date
from engine.errors import InvalidValue, NotFound
from engine.ports import Delivery, NewDelivery
from engine.ports.zgw import ZgwFailure, ZgwZaken
from engine.workflow.timeline import plan_timeline

__all__ = [
    "CHANNEL",
    "HandChanged",
    "ZgwDeliveries",
    "ZgwDispatcher",
    "ZgwReport",
    "area_object",
    "delivery_json",
    "fan_out",
    "zaak_identificatie",
]

CHANNEL = "zgw"
BATCH = 500
UNCONFIGURED_WAIT = timedelta(hours=1)
"""How long a delivery of a workflow without a ZGW configuration (any more) waits to be looked
at again."""
_KINDS = {
    "instance_started": "zaak",
    "phase_advanced": "status",
    "phase_returned": "status",
    "instance_paused": "pause",
    "instance_resumed": "resume",
    "instance_stopped": "end",
    "instance_completed": "end",
    "regie_handed_over": "handover",
    "party_added": "party",
    "party_removed": "unparty",
    "instance_updated": "areas",
    "instance_migrated": "plan",
}
IDENTIFICATIE_LENGTH = 40
"""The Zaken API's maxLength of a zaak's ``identificatie`` and of a ``kenmerk``."""


def zaak_identificatie(key: str) -> str:
    """The zaak's ``identificatie`` for an instance key: the key itself when it fits (40
    characters), else its first 27 characters, ``-`` and 12 hex digits of its sha256: stable,
    so a lookup stays exact, and two long keys that start alike still differ."""
    if len(key) <= IDENTIFICATIE_LENGTH:
        return key
    return f"{key[:27]}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"


def area_object(code: str) -> tuple[str, dict[str, str]]:
    """The zaakobject of a CBS area code: ``objectType`` and ``objectIdentificatie`` as the
    Zaken API's ObjectGemeente, ObjectWijk and ObjectBuurt have them. The names they require
    are the CBS codes themselves (wijkkompas keeps no area names)."""
    gemeente = code[2:6]
    if code.startswith("GM"):
        return "gemeente", {"gemeenteCode": gemeente, "gemeenteNaam": code}
    if code.startswith("WK"):
        return "wijk", {"gemGemeenteCode": gemeente, "wijkCode": code[6:8], "wijkNaam": code}
    return "buurt", {
        "gemGemeenteCode": gemeente,
        "wykWijkCode": code[6:8],
        "buurtCode": code[8:10],
        "buurtNaam": code,
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
                    added = e.payload.get("areas") or e.payload.get("areas_added") or []
                    removed = e.payload.get("areas_removed") or []
                    if kind == "areas" and not (added or removed):
                        continue  # a title or contacts changed: nothing the zaak shows
                    phase = e.payload.get("phase") if kind == "zaak" else e.payload.get("to_phase")
                    payload = {
                        "instance": e.instance_key,
                        "title": e.payload.get("title"),
                        "phase": phase,
                        "button": e.payload.get("button"),
                        "regie": e.payload.get("regie"),
                        "parent": e.payload.get("parent"),
                        "outcome": "completed" if e.type == "instance_completed" else "stopped",
                        "areas": list(added),
                        "areas_removed": list(removed),
                        "organisation": e.payload.get("organisation"),
                        "party": e.payload.get("party"),
                        "name": e.payload.get("name"),
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
        stop: threading.Event | None = None,
    ) -> None:
        self.context = context
        self.configs = configs
        self.client = client
        self.node = node
        self.lease = lease
        self.batch = batch
        self.rng = rng or random.Random()
        self.stop = stop or threading.Event()
        """Set (SIGTERM to the scheduler): end the delivery in hand, give the rest back."""

    def run(self) -> ZgwReport:
        report = ZgwReport(queued=fan_out(self.context, self.configs))
        clients: dict[str, ZgwZaken] = {}
        tried: set[int] = set()
        try:
            while not self.stop.is_set():
                now = self.context.clock.now()
                with self.context.store.deliveries() as unit:
                    claimed = unit.claim(CHANNEL, self.node, now, now + self.lease, self.batch)
                    fresh = [d for d in claimed if d.id not in tried]
                    unit.release([d.id for d in claimed if d.id in tried], self.node)
                if not fresh:
                    break
                tried.update(d.id for d in fresh)
                left = fresh
                while left:
                    if self.stop.is_set():
                        with self.context.store.deliveries() as unit:
                            unit.release([d.id for d in left], self.node)
                        break
                    # A delivery takes several calls, and a slow Zaken API can take longer
                    # than the lease for a batch: keep the lease on what is left before each
                    # one, and leave what another node took over meanwhile to it (both at
                    # once would each find no zaak and make one).
                    now = self.context.clock.now()
                    with self.context.store.deliveries() as unit:
                        kept = unit.renew([d.id for d in left], self.node, now + self.lease)
                    left = [d for d in left if d.id in kept]
                    if not left:
                        break
                    delivery, left = left[0], left[1:]
                    config = self.configs.get(delivery.target)
                    if config is None:
                        # Its configuration was removed: it waits (the table may come back),
                        # out of the claims for a while, or such rows would fill every claim
                        # of a pass and hold up all behind them. Not an attempt.
                        with self.context.store.deliveries() as unit:
                            unit.retry_later(
                                delivery.id, self.node,
                                error=f"waiting: no [zgw.{delivery.target}] configuration",
                                status=delivery.last_status, attempts=delivery.attempts,
                                at=now, next_at=now + UNCONFIGURED_WAIT,
                            )  # fmt: skip
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
        kind = delivery.kind
        try:
            with self.context.store.deliveries() as unit:
                zaak = unit.zaak_url(key)
            if kind == "zaak" and zaak is None:
                hoofdzaak = self._hoofdzaak(p.get("parent"))
                zaak = zaken.find_zaak(zaak_identificatie(key), config.bronorganisatie)
                if zaak is None:
                    planned = self._planned_end(key, date.fromisoformat(str(p["day"])))
                    zaak = zaken.create_zaak(_zaak(config, p, hoofdzaak, planned))
                with self.context.store.deliveries() as unit:
                    unit.remember_zaak(key, zaak, self.context.clock.now(), hoofdzaak=hoofdzaak)
            if zaak is None:
                raise ZgwFailure(f"no zaak yet for {key}")
            if kind in ("zaak", "status"):
                statustype = config.statustypen.get(str(p.get("phase")))
                if statustype is None:
                    raise ZgwFailure(f"no statustype for phase '{p.get('phase')}' (zgw check)")
                self._status(key, zaak, zaken, statustype, str(p["at"]))
            elif kind == "end":
                self._end(key, zaak, config, zaken, p)
            elif kind == "plan":
                self._plan(key, zaak, zaken, self._unchanged(key, zaak, zaken))
            elif kind in ("pause", "resume"):
                suspended = kind == "pause"
                # Already as wanted: an earlier attempt's PATCH went through (it died, or its
                # answer came too late), so take it; nothing is written, so nothing is
                # overwritten.
                if _suspended(zaken.zaak(zaak)) != suspended:
                    self._unchanged(key, zaak, zaken)
                    # The reason is the pause button (a term of the method), never the free
                    # text, which may name people.
                    zaken.suspend(zaak, suspended, str(p.get("button") or "")[:200])
                with self.context.store.deliveries() as unit:
                    unit.remember_zaak_state(key, suspended=suspended)
            if kind in ("zaak", "handover"):
                self._regie(key, zaak, config, zaken, p, replace=kind == "handover")
            if kind in ("zaak", "areas"):
                self._areas(zaak, zaken, p)
            elif kind in ("party", "unparty"):
                self._party(key, zaak, config, zaken, p, present=kind == "party")
        except HandChanged as changed:
            now = self.context.clock.now()
            report.errors.append(f"zgw {key} {kind}: {changed.reason}")
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

    def _status(self, key: str, zaak: str, zaken: ZgwZaken, statustype: str, at: str) -> None:
        """Add a status, unless an earlier attempt of this delivery did (it died before it
        could mark the delivery sent): a status of this statustype set at this moment is
        there. Then (and only for a new one) the hand-change check: the zaak's status must be
        the one the mirror set last."""
        found = _same_status(zaken.statussen(zaak, statustype), at)
        if found is None:
            current = self._unchanged(key, zaak, zaken)
            found = zaken.add_status(zaak, statustype, at)
            self._plan(key, zaak, zaken, current)
        with self.context.store.deliveries() as unit:
            unit.remember_zaak_state(key, status_url=found)

    def _planned_end(self, key: str, start: date) -> date:
        """The end of the instance's dry-run timeline (its workflow version, from ``start``)."""
        with self.context.store.read() as uow:
            record = self.context.load(uow, key)
        workflow = self.context.compiled(record.workflow)
        return plan_timeline(workflow.definition, start, workflow.workdays).end

    def _plan(self, key: str, zaak: str, zaken: ZgwZaken, current: Mapping[str, Any]) -> None:
        """Keep ``einddatumGepland`` the end of the instance's plan (it moves when the
        instance is migrated to another workflow version): PATCHed only when it differs."""
        start = current.get("startdatum")
        if not isinstance(start, str):
            return
        planned = self._planned_end(key, date.fromisoformat(start)).isoformat()
        if current.get("einddatumGepland") != planned:
            zaken.update_zaak(zaak, {"einddatumGepland": planned})

    def _areas(self, zaak: str, zaken: ZgwZaken, p: Mapping[str, object]) -> None:
        """The instance's CBS areas as zaakobjecten (gemeente, wijk, buurt): the ones added
        made (unless there already), the ones removed deleted."""
        for code, present in [
            *((str(c), False) for c in _listed(p.get("areas_removed"))),
            *((str(c), True) for c in _listed(p.get("areas"))),
        ]:
            object_type, ident = area_object(code)
            there = [
                o["url"]
                for o in zaken.zaakobjecten(zaak, object_type)
                if _contains(o.get("objectIdentificatie"), ident)
            ]
            if present and not there:
                zaken.add_zaakobject(zaak, object_type, ident)
            elif not present:
                for url in there:
                    zaken.remove_zaakobject(url)

    def _party(
        self,
        key: str,
        zaak: str,
        config: ZgwConfig,
        zaken: ZgwZaken,
        p: Mapping[str, object],
        *,
        present: bool,
    ) -> None:
        """A party of the instance as a rol: its roltype the one configured for the
        organisation's key, else for its party role (none: the party is not mirrored). An
        organisation listed in ``organisatorische_eenheden`` is an organisatorische eenheid
        (identificatie: its key), every other a niet-natuurlijk persoon (its RSIN when the
        directory has one, and its name). Only organisation data: no contacts."""
        organisation, party = str(p.get("organisation")), str(p.get("party"))
        roltype = config.roltypen.get(organisation) or config.roltypen.get(party)
        if roltype is None:
            return
        with self.context.store.directory() as unit:
            found = unit.organisation(organisation)
        name = found.name if found else str(p.get("name") or organisation)
        if organisation in config.organisatorische_eenheden:
            betrokkene = "organisatorische_eenheid"
            ident: dict[str, str] = {"identificatie": organisation[:24], "naam": name[:50]}
            match = {"identificatie": ident["identificatie"]}
        else:
            betrokkene = "niet_natuurlijk_persoon"
            ident = {"statutaireNaam": name[:500]}
            if found is not None and found.rsin:
                ident["innNnpId"] = found.rsin
            match = {"innNnpId": found.rsin} if found and found.rsin else dict(ident)
        toelichting = f"partij: {party}"
        with self.context.store.deliveries() as unit:
            regie = unit.regie_rol(key)
        there = [
            r["url"]
            for r in zaken.rollen(zaak, roltype)
            if r.get("url") != regie
            and r.get("betrokkeneType") == betrokkene
            and r.get("roltoelichting") == toelichting
            and _contains(r.get("betrokkeneIdentificatie"), match)
        ]
        if present and not there:
            zaken.add_rol(zaak, roltype, betrokkene, ident, toelichting)
        elif not present:
            for url in there:
                zaken.remove_rol(url)

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
        and on a handover the old rol removed after the new one is there. A rol naming the
        holder that an earlier attempt made (and died before remembering) is taken, not made
        again."""
        roltype = config.roltypen.get("regie")
        regie = p.get("regie")
        if roltype is None or not isinstance(regie, Mapping):
            return
        with self.context.store.deliveries() as unit:
            current = unit.regie_rol(key)
        if current is not None and not replace:
            return  # made by an earlier attempt of this delivery
        holder = str(regie.get("organisation") or regie.get("type"))
        toelichting = f"regie ({regie.get('type')})"
        ident = {"statutaireNaam": holder[:500]}
        rol = next(
            (
                str(r["url"])
                for r in zaken.rollen(zaak, roltype)
                if r.get("url") != current
                and r.get("roltoelichting") == toelichting
                and _contains(r.get("betrokkeneIdentificatie"), ident)
            ),
            None,
        )
        if rol is None:
            rol = zaken.add_rol(zaak, roltype, "niet_natuurlijk_persoon", ident, toelichting)
        with self.context.store.deliveries() as unit:
            unit.remember_regie_rol(key, rol)
        if current is not None:
            zaken.remove_rol(current)

    def _unchanged(self, key: str, zaak: str, zaken: ZgwZaken) -> dict[str, Any]:
        """The zaak as it is now; HandChanged when its status or opschorting is not what the
        mirror left."""
        with self.context.store.deliveries() as unit:
            status, suspended = unit.zaak_state(key)
        now = zaken.zaak(zaak)
        theirs = _suspended(now)
        changes = []
        if status is not None and now.get("status") != status:
            changes.append(f"its status is {now.get('status')}, the mirror set {status}")
        if theirs != suspended:
            changes.append(f"its opschorting is {theirs}, the mirror set {suspended}")
        if changes:
            raise HandChanged(
                "changed by hand in the case system (" + "; ".join(changes) + "): not overwritten"
            )
        return now

    def _end(
        self, key: str, zaak: str, config: ZgwConfig, zaken: ZgwZaken, p: Mapping[str, object]
    ) -> None:
        """A resultaat (Open Zaak refuses an end status without one), then the end status;
        each looked up first, so a retry after a crash adds neither twice."""
        outcome = str(p.get("outcome"))
        resultaattype = config.resultaattypen.get(outcome)
        if resultaattype is None or config.eindstatustype is None:
            raise ZgwFailure(f"no resultaattype for '{outcome}' or no eindstatustype (zgw check)")
        at = str(p["at"])
        found = _same_status(zaken.statussen(zaak, config.eindstatustype), at)
        if found is None:
            self._unchanged(key, zaak, zaken)
            if not any(r.get("resultaattype") == resultaattype for r in zaken.resultaten(zaak)):
                zaken.add_result(zaak, resultaattype, outcome)
            found = zaken.add_status(zaak, config.eindstatustype, at)
        with self.context.store.deliveries() as unit:
            unit.remember_zaak_state(key, status_url=found)

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


def _suspended(zaak: Mapping[str, Any]) -> bool:
    """Whether a zaak (as the Zaken API gives it) is opgeschort."""
    return bool((zaak.get("opschorting") or {}).get("indicatie"))


def _listed(value: object) -> list[object]:
    return list(value) if isinstance(value, list | tuple) else []


def _contains(found: object, wanted: Mapping[str, str]) -> bool:
    """Whether ``found`` (an identification as the API gives it) has every field of
    ``wanted`` with the same value."""
    return isinstance(found, Mapping) and all(found.get(k) == v for k, v in wanted.items())


def _moment(value: object) -> datetime | None:
    try:
        moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _same_status(statussen: list[dict[str, Any]], at: str) -> str | None:
    """The status among ``statussen`` set at the moment ``at`` (the API may write the moment
    otherwise: compared as moments), or None."""
    wanted = _moment(at)
    for status in statussen:
        if wanted is not None and _moment(status.get("datumStatusGezet")) == wanted:
            return str(status["url"])
    return None


def _zaak(
    config: ZgwConfig, p: Mapping[str, object], hoofdzaak: str | None, planned: date
) -> dict[str, object]:
    """The zaak of an instance. A key longer than the 40 characters ``identificatie`` and
    ``kenmerk`` allow is shortened (:func:`zaak_identificatie`) and given whole in
    ``toelichting``."""
    key = str(p["instance"])
    short = zaak_identificatie(key)
    zaak: dict[str, object] = {
        "identificatie": short,
        "bronorganisatie": config.bronorganisatie,
        "verantwoordelijkeOrganisatie": config.verantwoordelijke_organisatie,
        "zaaktype": config.zaaktype,
        "omschrijving": str(p.get("title") or key)[:80],
        "startdatum": str(p["day"]),
        "einddatumGepland": planned.isoformat(),
        "kenmerken": [{"kenmerk": short, "bron": "wijkkompas"}],
    }
    if short != key:
        zaak["toelichting"] = f"wijkkompas: {key}"
    if hoofdzaak is not None:
        zaak["hoofdzaak"] = hoofdzaak
    return zaak


class ZgwDeliveries:
    """The mirror's deliveries as the faces use them (``Service.zgw``): listed, and a failed
    one sent again (``wijkkompas zgw deliveries|resend``, ``GET /api/v1/zgw/deliveries``)."""

    def __init__(self, context: Context) -> None:
        self.context = context

    def list(
        self, workflow: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[Delivery]:
        """Newest first; ``workflow`` and ``status`` (pending, sent, failed) narrow it."""
        with self.context.store.deliveries() as unit:
            return unit.deliveries(CHANNEL, workflow, status, limit)

    def resend(self, delivery_id: int) -> Delivery:
        """Make failed delivery ``delivery_id`` pending again, for the next pass (NotFound for
        an id that is no ZGW delivery, InvalidValue for one that is not failed)."""
        with self.context.store.deliveries() as unit:
            found = unit.delivery(delivery_id)
            if found is None or found.channel != CHANNEL:
                raise NotFound(
                    "ZGW delivery",
                    str(delivery_id),
                    where="the ZGW deliveries (wijkkompas zgw deliveries)",
                )
            if not unit.requeue(delivery_id, self.context.now_to_record()):
                raise InvalidValue(
                    "ZGW delivery", delivery_id, f"a failed one (it is {found.status})"
                )
            again = unit.delivery(delivery_id)
        assert again is not None
        return again


def delivery_json(d: Delivery) -> dict[str, Any]:
    return {
        "id": d.id,
        "workflow": d.target,
        "kind": d.kind,
        "instance": d.instance_key,
        **delivery_progress(d),
    }
