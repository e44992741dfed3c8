"""The ZGW mirror as far as it is built: an instance becomes one zaak (never two, whatever is
retried), each phase a status, against the contract server that validates every request with
openapi-core against the official Zaken 1.5.1 document and refuses what Open Zaak refuses."""

from __future__ import annotations

import uuid

from adapters.zgw import HttpZgwZaken
from engine.app.service import Service
from engine.app.zgw import ZgwConfig, parse_config
from engine.app.zgw_mirror import ZgwDispatcher
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from tests.zgw_contract import Catalogue, ContractServer, contract_server

SECRET = "een-gedeeld-geheim-van-minstens-32-tekens!"
RSIN = "002220647"
PHASES = ("samen-starten", "karakteriseren", "samen-plannen")
ZWOLLE = Regie(type="gemeente", organisation="Gemeente Zwolle")


def config(server: ContractServer, catalogue: Catalogue) -> ZgwConfig:
    return parse_config(
        "wijkkompas",
        {
            "zaken_url": f"{server.url}/zaken/api/v1",
            "catalogi_url": f"{server.url}/catalogi/api/v1",
            "client_id": "wijkkompas",
            "secret": SECRET,
            "bronorganisatie": RSIN,
            "verantwoordelijke_organisatie": RSIN,
            "zaaktype": catalogue.zaaktype,
            "eindstatustype": catalogue.url("statustypen", catalogue.eind),
            "resultaattypen": {"stopped": catalogue.url("resultaattypen", "afgebroken")},
            "roltypen": {"regie": catalogue.url("roltypen", "zaakcoordinator")},
            "statustypen": {
                p: catalogue.url("statustypen", u) for p, u in catalogue.statustypen.items()
            },
        },
    )


def mirror(service: Service, cfg: ZgwConfig) -> ZgwDispatcher:
    return ZgwDispatcher(service.context, {"wijkkompas": cfg}, HttpZgwZaken, node="t")


def test_an_instance_becomes_one_zaak_with_a_status_per_phase(
    service: Service, clock: FrozenClock
) -> None:
    catalogue = Catalogue(statustypen={p: str(uuid.uuid4()) for p in PHASES})
    with contract_server("wijkkompas", SECRET, catalogue) as server:
        cfg = config(server, catalogue)
        service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
        service.advance("wk-noord", by="t", override=True, reason="test")
        report = mirror(service, cfg).run()
        assert report.errors == []
        assert report.done == 2
        (zaak,) = server.zaken.values()
        assert zaak["identificatie"] == "wk-noord"
        assert zaak["kenmerken"] == [{"kenmerk": "wk-noord", "bron": "wijkkompas"}]
        assert [s["statustype"] for s in server.statussen] == [
            catalogue.url("statustypen", catalogue.statustypen[p]) for p in PHASES[:2]
        ]
        assert mirror(service, cfg).run().done == 0  # nothing twice
    assert server.refused == []


def test_a_retried_creation_finds_the_zaak_instead_of_making_another(
    service: Service, clock: FrozenClock
) -> None:
    catalogue = Catalogue(statustypen={p: str(uuid.uuid4()) for p in PHASES})
    with contract_server("wijkkompas", SECRET, catalogue) as server:
        cfg = config(server, catalogue)
        service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
        # the zaak was made by an earlier attempt that died before it could remember it
        made = f"{server.url}/zaken/api/v1/zaken/{uuid.uuid4()}"
        server.zaken[made] = {
            "url": made, "identificatie": "wk-noord", "bronorganisatie": RSIN,
        }  # fmt: skip
        catalogue.concept = True  # a creation would now be refused
        report = mirror(service, cfg).run()
    assert report.errors == []
    assert report.done == 1  # found, remembered, given its first status
    assert len(server.zaken) == 1
    assert [s["zaak"] for s in server.statussen] == [made]
    assert server.refused == []


def test_an_unpublished_zaaktype_is_refused_like_open_zaak_and_retried(
    service: Service, clock: FrozenClock
) -> None:
    catalogue = Catalogue(concept=True, statustypen={p: str(uuid.uuid4()) for p in PHASES})
    with contract_server("wijkkompas", SECRET, catalogue) as server:
        cfg = config(server, catalogue)
        service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
        service.advance("wk-noord", by="t", override=True, reason="test")
        report = mirror(service, cfg).run()
        assert report.retried == 1  # the zaak; its status waits behind it
        assert "Het ZAAKTYPE is nog niet gepubliceerd." in report.errors[0]
        catalogue.concept = False
        clock.advance(seconds=10)
        assert mirror(service, cfg).run().done == 2
        assert len(server.zaken) == 1
    assert server.refused == []


def test_a_pause_suspends_the_zaak_and_a_stop_closes_it_with_a_resultaat(
    service: Service, clock: FrozenClock
) -> None:
    catalogue = Catalogue(statustypen={p: str(uuid.uuid4()) for p in PHASES})
    with contract_server("wijkkompas", SECRET, catalogue) as server:
        cfg = config(server, catalogue)
        service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
        service.pause("wk-noord", "geen-trekker", by="t", reason="Jan de Vries is ziek")
        mirror(service, cfg).run()
        (zaak,) = server.zaken.values()
        assert zaak["opschorting"] == {"indicatie": True, "reden": "geen-trekker"}
        service.resume("wk-noord", by="t")
        service.stop("wk-noord", by="t", reason="afgeblazen")
        report = mirror(service, cfg).run()
        assert report.errors == []
        assert zaak["opschorting"]["indicatie"] is False
        assert [r["resultaattype"] for r in server.resultaten] == [
            catalogue.url("resultaattypen", "afgebroken")
        ]
        assert server.statussen[-1]["statustype"] == catalogue.url("statustypen", catalogue.eind)
    assert "Jan de Vries" not in repr(server.zaken)
    assert server.refused == []


def test_the_contract_server_refuses_an_end_status_without_resultaat_like_open_zaak() -> None:
    import pytest

    from engine.ports.zgw import ZgwFailure

    catalogue = Catalogue(statustypen={p: str(uuid.uuid4()) for p in PHASES})
    with contract_server("wijkkompas", SECRET, catalogue) as server:
        zaken = HttpZgwZaken(config(server, catalogue))
        zaak = zaken.create_zaak(
            {"bronorganisatie": RSIN, "verantwoordelijkeOrganisatie": RSIN,
             "zaaktype": catalogue.zaaktype, "startdatum": "2026-01-05", "identificatie": "x"}
        )  # fmt: skip
        eind = catalogue.url("statustypen", catalogue.eind)
        with pytest.raises(ZgwFailure, match="niet afgesloten worden zonder resultaat"):
            zaken.add_status(zaak, eind, "2026-01-06T10:00:00Z")
        zaken.close()
    assert server.refused == []


def test_the_regie_holder_is_a_rol_replaced_on_a_handover(
    service: Service, clock: FrozenClock
) -> None:
    catalogue = Catalogue(statustypen={p: str(uuid.uuid4()) for p in PHASES})
    delta = Regie(type="woningcorporatie", organisation="deltaWonen")
    with contract_server("wijkkompas", SECRET, catalogue) as server:
        cfg = config(server, catalogue)
        service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
        mirror(service, cfg).run()
        (first,) = server.rollen.values()
        assert first["betrokkeneIdentificatie"] == {"statutaireNaam": "Gemeente Zwolle"}
        service.hand_over("wk-noord", delta, by="t", reason="r")
        assert mirror(service, cfg).run().errors == []
        (now,) = server.rollen.values()
        assert now["betrokkeneIdentificatie"] == {"statutaireNaam": "deltaWonen"}
        assert now["roltype"] == catalogue.url("roltypen", "zaakcoordinator")
    assert server.refused == []


def test_deelprojecten_are_deelzaken_of_the_wijk_one_level_deep(
    service: Service, clock: FrozenClock
) -> None:
    catalogue = Catalogue(statustypen={p: str(uuid.uuid4()) for p in PHASES})
    with contract_server("wijkkompas", SECRET, catalogue) as server:
        cfg = config(server, catalogue)
        service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
        service.create(
            "wk-noord-a", workflow="wijkkompas", title="A", regie=ZWOLLE, by="t", parent="wk-noord"
        )
        service.create(
            "wk-noord-a-1", workflow="wijkkompas", title="A1", regie=ZWOLLE, by="t",
            parent="wk-noord-a",
        )  # fmt: skip
        report = mirror(service, cfg).run()
        assert report.errors == []
        by_key = {z["identificatie"]: z for z in server.zaken.values()}
        wijk = by_key["wk-noord"]["url"]
        assert "hoofdzaak" not in by_key["wk-noord"]
        assert by_key["wk-noord-a"]["hoofdzaak"] == wijk
        assert by_key["wk-noord-a-1"]["hoofdzaak"] == wijk  # not a deelzaak of a deelzaak
    assert server.refused == []


def test_a_zaak_changed_by_hand_is_reported_not_overwritten(
    service: Service, clock: FrozenClock
) -> None:
    catalogue = Catalogue(statustypen={p: str(uuid.uuid4()) for p in PHASES})
    with contract_server("wijkkompas", SECRET, catalogue) as server:
        cfg = config(server, catalogue)
        service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
        mirror(service, cfg).run()
        (zaak,) = server.zaken.values()
        zaak["opschorting"] = {"indicatie": True, "reden": "door de behandelaar"}  # by hand
        service.advance("wk-noord", by="t", override=True, reason="test")
        report = mirror(service, cfg).run()
        assert report.failed == 1
        assert "changed by hand in the case system" in report.errors[0]
        assert "opschorting is True, the mirror set False" in report.errors[0]
        assert len(server.statussen) == 1  # the new status was not written
        assert zaak["opschorting"]["reden"] == "door de behandelaar"
    assert server.refused == []
