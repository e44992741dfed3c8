"""``wijkkompas zgw check`` against a contract server built from the official Catalogi API
document (every request validated with openapi-core): what is missing or unpublished is named;
the configuration is checked (RSIN 11-proef) before anything is asked; the ZGW JWT is HS256
with client_id, iat and exp."""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from click.testing import CliRunner

from adapters.zgw import zgw_token
from cli import main
from engine.app.zgw import parse_config
from engine.errors import InvalidValue
from tests.zgw_contract import Catalogue, contract_server

SECRET = "een-gedeeld-geheim-van-minstens-32-tekens!"
RSIN = "002220647"  # passes the 11-proef
PHASES = (
    "samen-starten",
    "karakteriseren",
    "samen-plannen",
    "keuzes-maken",
    "voorbereiding",
    "uitvoering-en-nazorg",
)


def full_catalogue() -> Catalogue:
    return Catalogue(
        statustypen={p: str(uuid.uuid4()) for p in PHASES},
        roltypen={"regie": str(uuid.uuid4())},
        resultaattypen={"completed": str(uuid.uuid4()), "stopped": str(uuid.uuid4())},
    )


def toml(server_url: str, catalogue: Catalogue, **changes: Any) -> str:
    def table(kind: str, items: dict[str, str]) -> str:
        rows = "\n".join(f'"{k}" = "{catalogue.url(kind, v)}"' for k, v in items.items())
        return f"[zgw.wijkkompas.{kind}]\n{rows}\n"

    values = {
        "zaken_url": f"{server_url}/zaken/api/v1",
        "catalogi_url": f"{server_url}/catalogi/api/v1",
        "client_id": "wijkkompas",
        "secret": SECRET,
        "bronorganisatie": RSIN,
        "verantwoordelijke_organisatie": RSIN,
        "zaaktype": catalogue.zaaktype,
        "eindstatustype": catalogue.url("statustypen", catalogue.eind),
        **changes,
    }
    head = "[zgw.wijkkompas]\n" + "".join(f'{k} = "{v}"\n' for k, v in values.items())
    return (
        head
        + table("statustypen", catalogue.statustypen)
        + table("roltypen", catalogue.roltypen)
        + table("resultaattypen", catalogue.resultaattypen)
    )


@pytest.fixture
def wk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("WIJKKOMPAS_")]:
        monkeypatch.delenv(name)
    runner = CliRunner()

    def run(config: str, *args: str, code: int = 0) -> Any:
        (tmp_path / "wk.toml").write_text(config)
        result = runner.invoke(main, ["--config", str(tmp_path / "wk.toml"), "zgw", "check", *args])
        assert result.exit_code == code, (result.output, result.stderr)
        return result

    return run


def test_a_complete_catalogue_is_ready_and_every_request_met_the_specification(wk: Any) -> None:
    catalogue = full_catalogue()
    with contract_server("wijkkompas", SECRET, catalogue) as server:
        shown = wk(toml(server.url, catalogue)).stdout
    assert "wijkkompas: ready" in shown
    assert server.refused == []
    assert sorted(set(server.requests)) == [
        "GET /catalogi/api/v1/resultaattypen",
        "GET /catalogi/api/v1/roltypen",
        "GET /catalogi/api/v1/statustypen",
        f"GET /catalogi/api/v1/zaaktypen/{catalogue.zaaktype_id}",
    ]


def test_what_is_missing_or_unpublished_is_named(wk: Any) -> None:
    catalogue = full_catalogue()
    catalogue.concept = True
    with contract_server("wijkkompas", SECRET, catalogue) as server:
        config = toml(server.url, catalogue)
        del catalogue.statustypen["keuzes-maken"]  # the server no longer has it
        catalogue.roltypen.clear()
        shown = wk(config, code=6).stdout
    assert "zaaktype WIJKAANPAK is not published (concept)" in shown
    assert "statustype for 'keuzes-maken'" in shown
    assert "roltype for 'regie'" in shown
    assert server.refused == []


def test_a_phase_without_statustype_and_wrong_credentials(wk: Any) -> None:
    catalogue = full_catalogue()
    with contract_server("wijkkompas", SECRET, catalogue) as server:
        partial = full_catalogue()
        partial.base = server.url
        partial.zaaktype_id = catalogue.zaaktype_id
        partial.statustypen = dict(list(catalogue.statustypen.items())[:2])
        partial.roltypen, partial.resultaattypen = catalogue.roltypen, catalogue.resultaattypen
        shown = wk(toml(server.url, partial), code=6).stdout
        assert "phase 'samen-plannen' has no statustype" in shown
        wrong = wk(
            toml(server.url, catalogue, secret="een-ander-geheim-van-minstens-32-tekens"), code=6
        )
        assert "HTTP 403" in wrong.stdout


def test_bad_configuration_is_refused_before_anything_is_asked(wk: Any) -> None:
    catalogue = full_catalogue()
    catalogue.base = "https://openzaak.example"
    failed = wk(toml("https://openzaak.example", catalogue, bronorganisatie="123456789"), code=2)
    assert "zgw.wijkkompas.bronorganisatie" in failed.stderr
    assert "11-proef" in failed.stderr
    with pytest.raises(InvalidValue, match="zaken_url"):
        parse_config("w", {"zaken_url": 3})


def test_the_contract_server_refuses_what_the_specification_refuses() -> None:
    catalogue = full_catalogue()
    with contract_server("wijkkompas", SECRET, catalogue) as server:
        bare = httpx.get(
            f"{server.url}/catalogi/api/v1/statustypen", params={"zaaktype": catalogue.zaaktype}
        )
    assert bare.status_code == 400  # no JWT: the document's security requirement
    assert bare.json()["invalidParams"]
    assert server.refused


def test_the_zgw_jwt() -> None:
    token = zgw_token("wijkkompas", SECRET, now=1_700_000_000)
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    claims = jwt.decode(
        token, SECRET, algorithms=["HS256"], options={"verify_exp": False, "verify_iat": False}
    )
    assert claims["client_id"] == claims["iss"] == "wijkkompas"
    assert claims["exp"] - claims["iat"] == 300


def test_zgw_sync_mirrors_from_the_command_line(wk: Any, tmp_path: Path) -> None:
    catalogue = full_catalogue()
    runner = CliRunner()
    with contract_server("wijkkompas", SECRET, catalogue) as server:
        (tmp_path / "wk.toml").write_text(toml(server.url, catalogue))
        config = ["--config", str(tmp_path / "wk.toml")]
        create = ["instance", "create", "wk-noord", "--workflow", "wijkkompas", "--title", "N"]
        made = runner.invoke(main, [*config, *create, "--regie", "gemeente"])
        assert made.exit_code == 0, made.output
        synced = runner.invoke(main, [*config, "zgw", "sync"])
        assert synced.exit_code == 0, (synced.output, synced.stderr)
        assert "zgw_done=1" in synced.stdout
    assert [z["identificatie"] for z in server.zaken.values()] == ["wk-noord"]
    assert server.refused == []


def test_zgw_deliveries_are_listed_and_unknown_or_unfailed_ones_are_not_resent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("WIJKKOMPAS_")]:
        monkeypatch.delenv(name)
    runner = CliRunner()
    catalogue = full_catalogue()
    catalogue.concept = True  # Open Zaak refuses the zaak: retried, with the reason kept

    def cli(*args: str, code: int = 0) -> Any:
        result = runner.invoke(main, ["--config", "wk.toml", "--db", "sqlite:///wk.db", *args])
        assert result.exit_code == code, (result.output, result.stderr)
        return result

    with contract_server("wijkkompas", SECRET, catalogue) as server:
        (tmp_path / "wk.toml").write_text(toml(server.url, catalogue))
        cli("instance", "create", "wk-a", "--workflow", "wijkkompas", "--title", "A",
            "--regie", "gemeente")  # fmt: skip
        assert "zgw_retried=1" in cli("zgw", "sync").stdout
        shown = cli("zgw", "deliveries").stdout
        assert " pending zgw wijkkompas zaak wk-a · 1 attempt(s)" in shown
        assert "Het ZAAKTYPE is nog niet gepubliceerd." in shown
        assert cli("zgw", "deliveries", "--failed").stdout == "no ZGW deliveries\n"
        (row,) = json.loads(cli("zgw", "deliveries", "--json").stdout)
        pending = cli("zgw", "resend", str(row["id"]), code=2)
        assert "a failed one (it is pending)" in pending.stderr
        unknown = cli("zgw", "resend", "999", code=2)
        assert "ZGW-bezorging '999' bestaat niet" in unknown.stderr
    assert server.refused == []


def test_roltypen_and_eenheden_are_checked_against_the_parties_and_the_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    for name in [n for n in os.environ if n.startswith("WIJKKOMPAS_")]:
        monkeypatch.delenv(name)
    runner = CliRunner()
    catalogue = full_catalogue()
    catalogue.roltypen.update(
        {
            "netbeheerder": str(uuid.uuid4()),
            "enexis": str(uuid.uuid4()),
            "enexsi": str(uuid.uuid4()),
        }
    )

    def cli(*args: str, code: int = 0) -> Any:
        result = runner.invoke(main, ["--config", "wk.toml", "--db", "sqlite:///wk.db", *args])
        assert result.exit_code == code, (result.output, result.stderr)
        return result

    with contract_server("wijkkompas", SECRET, catalogue) as server:
        config = toml(server.url, catalogue, organisatorische_eenheden="@")
        config = config.replace(
            'organisatorische_eenheden = "@"', 'organisatorische_eenheden = ["enexis", "wijkteam"]'
        )
        (tmp_path / "wk.toml").write_text(config)
        cli("db", "upgrade")
        cli("org", "add", "enexis", "--name", "Enexis", "--kind", "netbeheerder")
        shown = cli("zgw", "check", code=6).stdout
    assert "roltype for 'enexsi' (zgw.wijkkompas.roltypen): neither 'regie'" in shown
    assert "'netbeheerder'" not in shown  # a party role of the workflow
    assert "roltype for 'enexis'" not in shown  # an organisation of the directory
    assert "organisatorische eenheid 'wijkteam'" in shown
    assert "organisatorische eenheid 'enexis'" not in shown
    assert shown.count("  - ") == 2
    assert server.refused == []
