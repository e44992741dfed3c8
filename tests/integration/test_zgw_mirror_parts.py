"""The rest of the ZGW mirror, against the same contract server (every request validated with
openapi-core against the official Zaken 1.5.1 document): parties as rollen, the CBS areas as
zaakobjecten, einddatumGepland from the dry-run timeline, long keys, and nothing added twice
when an attempt dies between its call and marking the delivery sent."""

from __future__ import annotations

import os
import uuid
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from adapters.zgw import HttpZgwZaken
from engine.app.service import Service
from engine.app.zgw import ZgwConfig, parse_config
from engine.app.zgw_mirror import ZgwDispatcher, zaak_identificatie
from engine.clock import LOCAL_TZ
from engine.runtime.events import Regie
from engine.testing import FrozenClock
from engine.workflow.timeline import plan_timeline
from tests.zgw_contract import Catalogue, ContractServer, contract_server

SECRET = "een-gedeeld-geheim-van-minstens-32-tekens!"
RSIN = "002220647"
ENEXIS_RSIN = "807287684"
PHASES = ("samen-starten", "karakteriseren", "samen-plannen")
ZWOLLE = Regie(type="gemeente", organisation="Gemeente Zwolle")
DATA = Path(__file__).resolve().parent.parent / "data"
START = datetime(2026, 1, 5, 10, 0, tzinfo=LOCAL_TZ)


def config(server: ContractServer, catalogue: Catalogue, **extra: Any) -> ZgwConfig:
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
            "roltypen": {
                "regie": catalogue.url("roltypen", "zaakcoordinator"),
                "netbeheerder": catalogue.url("roltypen", "belanghebbende"),
                "wijkteam": catalogue.url("roltypen", "behandelaar"),
            },
            "statustypen": {
                p: catalogue.url("statustypen", u) for p, u in catalogue.statustypen.items()
            },
            **extra,
        },
    )


def mirror(service: Service, cfg: ZgwConfig, client: Any = HttpZgwZaken) -> ZgwDispatcher:
    return ZgwDispatcher(service.context, {"wijkkompas": cfg}, client, node="t")


def catalogue() -> Catalogue:
    return Catalogue(statustypen={p: str(uuid.uuid4()) for p in PHASES})


def test_parties_are_rollen_of_their_configured_roltype_and_go_with_the_party(
    service: Service, clock: FrozenClock
) -> None:
    service.directory.add_organisation(
        key="enexis", name="Enexis Netbeheer", kind="netbeheerder", rsin=ENEXIS_RSIN
    )
    service.directory.add_organisation(key="wijkteam", name="Wijkteam Noord", kind="other")
    service.directory.add_organisation(key="deltawonen", name="deltaWonen", kind="other")
    cat = catalogue()
    with contract_server("wijkkompas", SECRET, cat) as server:
        cfg = config(server, cat, organisatorische_eenheden=["wijkteam"])
        service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
        service.add_party("wk-noord", "enexis", "netbeheerder", by="t")
        service.add_party("wk-noord", "wijkteam", "projectgroep", by="t")
        service.add_party("wk-noord", "deltawonen", "vastgoedeigenaren", by="t")  # no roltype
        report = mirror(service, cfg).run()
        assert report.errors == []
        assert report.done == 4
        by_type = {r["roltype"]: r for r in server.rollen.values()}
        assert len(server.rollen) == 3  # regie, enexis, wijkteam; deltaWonen's role unmapped
        enexis = by_type[cat.url("roltypen", "belanghebbende")]
        assert enexis["betrokkeneType"] == "niet_natuurlijk_persoon"
        assert enexis["betrokkeneIdentificatie"] == {
            "statutaireNaam": "Enexis Netbeheer",
            "innNnpId": ENEXIS_RSIN,
        }
        team = by_type[cat.url("roltypen", "behandelaar")]  # configured by organisation key
        assert team["betrokkeneType"] == "organisatorische_eenheid"
        assert team["betrokkeneIdentificatie"] == {
            "identificatie": "wijkteam",
            "naam": "Wijkteam Noord",
        }
        service.remove_party("wk-noord", "enexis", "netbeheerder", by="t")
        assert mirror(service, cfg).run().errors == []
        assert cat.url("roltypen", "belanghebbende") not in {
            r["roltype"] for r in server.rollen.values()
        }
        assert len(server.rollen) == 2
    assert server.refused == []


def test_areas_are_zaakobjecten_added_and_removed_with_an_update(
    service: Service, clock: FrozenClock
) -> None:
    cat = catalogue()
    with contract_server("wijkkompas", SECRET, cat) as server:
        cfg = config(server, cat)
        service.create(
            "wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t",
            areas=["WK019305", "BU01930501"],
        )  # fmt: skip
        assert mirror(service, cfg).run().errors == []
        objects = sorted(server.zaakobjecten.values(), key=lambda o: o["objectType"])
        assert [(o["objectType"], o["objectIdentificatie"]) for o in objects] == [
            (
                "buurt",
                {"gemGemeenteCode": "0193", "wykWijkCode": "05", "buurtCode": "01",
                 "buurtNaam": "BU01930501"},
            ),
            ("wijk", {"gemGemeenteCode": "0193", "wijkCode": "05", "wijkNaam": "WK019305"}),
        ]  # fmt: skip
        service.update("wk-noord", by="t", add_areas=["BU01930502"], remove_areas=["BU01930501"])
        service.update("wk-noord", by="t", title="Noord-Oost")  # no areas: nothing queued
        report = mirror(service, cfg).run()
        assert report.errors == []
        assert report.done == 1
        codes = sorted(
            o["objectIdentificatie"].get("buurtNaam") or o["objectIdentificatie"]["wijkNaam"]
            for o in server.zaakobjecten.values()
        )
        assert codes == ["BU01930502", "WK019305"]
    assert server.refused == []


def test_einddatum_gepland_is_the_end_of_the_plan_and_follows_a_migration(
    service: Service, clock: FrozenClock, tmp_path: Path
) -> None:
    folder = tmp_path / "workflows"
    folder.mkdir(exist_ok=True)
    # v3 with a longer last phase: the plan's end moves when an instance migrates to it.
    v3 = (DATA / "wijkkompas-v3.yaml").read_text(encoding="utf-8")
    assert v3.count("duration: P9Y") == 1
    (folder / "wijkkompas-v3.yaml").write_text(v3.replace("duration: P9Y", "duration: P10Y"))
    cat = catalogue()
    clock.set(START)
    with contract_server("wijkkompas", SECRET, cat) as server:
        cfg = config(server, cat)
        service.create("wk-noord", workflow="wijkkompas@2", title="Noord", regie=ZWOLLE, by="t")
        assert mirror(service, cfg).run().errors == []
        (zaak,) = server.zaken.values()
        (v2,) = [w for w in service.workflow_versions("wijkkompas") if w.version == 2]
        definition = service.compiled(v2).definition
        planned = plan_timeline(definition, date(2026, 1, 5)).end
        assert zaak["einddatumGepland"] == planned.isoformat()
        clock.advance(days=30)
        plan_file = DATA / "wijkkompas-2-to-3.yaml"
        plan = service.read_plan(plan_file.read_text(encoding="utf-8"), str(plan_file))
        service.migration_apply(plan, by="programmabureau", reason="methode herzien")
        assert mirror(service, cfg).run().errors == []
        assert date.fromisoformat(zaak["einddatumGepland"]) > planned
        assert "PATCH /zaken/api/v1/zaken/" + zaak["url"].rpartition("/")[2] in server.requests
    assert server.refused == []


def test_a_key_over_40_characters_gets_a_stable_short_identificatie(
    service: Service, clock: FrozenClock
) -> None:
    key = "wk-" + "zwolle-assendorp-diezerpoort-en-wipstrik-" + "x" * 16
    assert len(key) == 60
    cat = catalogue()
    with contract_server("wijkkompas", SECRET, cat) as server:
        cfg = config(server, cat)
        service.create(key, workflow="wijkkompas", title="Lang", regie=ZWOLLE, by="t")
        assert mirror(service, cfg).run().errors == []
        (zaak,) = server.zaken.values()
        short = zaak_identificatie(key)
        assert len(short) == 40
        assert short == zaak_identificatie(key)  # stable
        assert short != zaak_identificatie(key[:-1] + "y")
        assert zaak["identificatie"] == short
        assert zaak["kenmerken"] == [{"kenmerk": short, "bron": "wijkkompas"}]
        assert zaak["toelichting"] == f"wijkkompas: {key}"
        zaken = HttpZgwZaken(cfg)
        assert zaken.find_zaak(short, RSIN) == zaak["url"]  # the lookup stays exact
        zaken.close()
    assert server.refused == []  # the spec's maxLength 40 held


class Crash(BaseException):
    """The process dies: nothing after the call runs."""


def crashing_after(method: str) -> type[HttpZgwZaken]:
    """A client whose ``method`` makes its call and then dies, once."""

    class Crashing(HttpZgwZaken):
        done = False

        def __getattribute__(self, name: str) -> Any:
            real = super().__getattribute__(name)
            if name != method or Crashing.done:
                return real

            def then_die(*args: Any, **kwargs: Any) -> Any:
                real(*args, **kwargs)
                Crashing.done = True
                raise Crash(method)

            return then_die

    return Crashing


@pytest.mark.parametrize("method", ["add_status", "add_rol", "add_zaakobject", "add_result"])
def test_a_crash_between_the_call_and_the_mark_adds_nothing_twice(
    service: Service, clock: FrozenClock, method: str
) -> None:
    service.directory.add_organisation(
        key="enexis", name="Enexis Netbeheer", kind="netbeheerder", rsin=ENEXIS_RSIN
    )
    cat = catalogue()
    with contract_server("wijkkompas", SECRET, cat) as server:
        cfg = config(server, cat)
        service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
        assert mirror(service, cfg).run().errors == []
        service.advance("wk-noord", by="t", override=True, reason="test")
        service.add_party("wk-noord", "enexis", "netbeheerder", by="t")
        service.update("wk-noord", by="t", add_areas=["WK019305"])
        service.stop("wk-noord", by="t", reason="afgeblazen")
        with pytest.raises(Crash):
            mirror(service, cfg, crashing_after(method)).run()
        clock.advance(minutes=5)  # the dead attempt's lease runs out
        report = mirror(service, cfg).run()
        assert report.errors == []
        assert mirror(service, cfg).run().done == 0
        assert [s["statustype"] for s in server.statussen] == [
            cat.url("statustypen", cat.statustypen[PHASES[0]]),
            cat.url("statustypen", cat.statustypen[PHASES[1]]),
            cat.url("statustypen", cat.eind),
        ]
        assert len(server.rollen) == 2  # regie and enexis
        assert len(server.zaakobjecten) == 1
        assert len(server.resultaten) == 1
    assert server.refused == []


def test_lists_are_read_page_by_page(service: Service, clock: FrozenClock) -> None:
    cat = catalogue()
    with contract_server("wijkkompas", SECRET, cat) as server:
        server.page_size = 1
        cfg = config(server, cat)
        service.create(
            "wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t",
            areas=["WK019305", "WK019306", "WK019307"],
        )  # fmt: skip
        assert mirror(service, cfg).run().errors == []
        service.update("wk-noord", by="t", remove_areas=["WK019307"])
        assert mirror(service, cfg).run().errors == []
        assert len(server.zaakobjecten) == 2
        # WK019307 is on the third page: found (and removed) only by following ``next``
    assert server.refused == []


def test_the_contract_server_refuses_a_zaakobject_without_identification() -> None:
    from engine.ports.zgw import ZgwFailure

    cat = catalogue()
    with contract_server("wijkkompas", SECRET, cat) as server:
        zaken = HttpZgwZaken(config(server, cat))
        zaak = zaken.create_zaak(
            {"bronorganisatie": RSIN, "verantwoordelijkeOrganisatie": RSIN,
             "zaaktype": cat.zaaktype, "startdatum": "2026-01-05", "identificatie": "x"}
        )  # fmt: skip
        with pytest.raises(ZgwFailure, match="HTTP 400"):
            zaken.add_zaakobject(zaak, "wijk", {"wijkCode": "05"})  # the spec needs more
        assert len(server.refused) == 1
        zaken.close()


KILLED_PASS = """
import os, signal, sys
from datetime import datetime
from adapters.zgw import HttpZgwZaken
from engine.app.service import Service
from engine.app.zgw import parse_config
from engine.app.zgw_mirror import ZgwDispatcher
from engine.persistence.database import Database
from engine.persistence.store import SqlStore
from engine.testing import FrozenClock
import json

url, moment, table = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])


class DiesAfterTheCall(HttpZgwZaken):
    def add_status(self, zaak, statustype, gezet):
        super().add_status(zaak, statustype, gezet)
        os.kill(os.getpid(), signal.SIGKILL)  # before the delivery can be marked sent


service = Service(SqlStore(Database(url)), clock=FrozenClock(datetime.fromisoformat(moment)))
config = parse_config("wijkkompas", table)
ZgwDispatcher(service.context, {"wijkkompas": config}, DiesAfterTheCall, node="dies").run()
"""


def test_a_pass_killed_after_adding_a_status_leaves_exactly_one_status(
    service: Service, clock: FrozenClock, db_url: str, tmp_path: Path
) -> None:
    import json
    import signal
    import subprocess
    import sys

    cat = catalogue()
    with contract_server("wijkkompas", SECRET, cat) as server:
        cfg = config(server, cat)
        service.create("wk-noord", workflow="wijkkompas", title="Noord", regie=ZWOLLE, by="t")
        assert mirror(service, cfg).run().errors == []
        service.advance("wk-noord", by="t", override=True, reason="test")
        table = {
            "zaken_url": cfg.zaken_url, "catalogi_url": cfg.catalogi_url,
            "client_id": cfg.client_id, "secret": SECRET, "bronorganisatie": RSIN,
            "verantwoordelijke_organisatie": RSIN, "zaaktype": cfg.zaaktype,
            "statustypen": dict(cfg.statustypen),
        }  # fmt: skip
        script = tmp_path / "killed_pass.py"
        script.write_text(KILLED_PASS)
        root = Path(__file__).resolve().parents[2]
        died = subprocess.run(
            [sys.executable, str(script), db_url, clock.now().isoformat(), json.dumps(table)],
            cwd=root, env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True,
            text=True, timeout=120,
        )  # fmt: skip
        assert died.returncode == -signal.SIGKILL, died.stderr
        wanted = cat.url("statustypen", cat.statustypen[PHASES[1]])
        assert [s["statustype"] for s in server.statussen].count(wanted) == 1  # it was added
        clock.advance(minutes=5)  # the killed pass's lease runs out
        report = mirror(service, cfg).run()
        assert report.errors == []
        assert report.done == 1
        assert [s["statustype"] for s in server.statussen].count(wanted) == 1  # not again
    assert server.refused == []
