"""The ZGW Zaken mirror's configuration, and the check of it against the case system's
catalogue (``wijkkompas zgw check``).

Configuration is per workflow, in the TOML file only (it holds a secret)::

    [zgw.wijkkompas]
    zaken_url = "https://openzaak.gemeente.nl/zaken/api/v1"
    catalogi_url = "https://openzaak.gemeente.nl/catalogi/api/v1"
    client_id = "wijkkompas"
    secret = "..."                           # ZGW JWT, HS256
    bronorganisatie = "002220647"             # RSIN, 11-proef
    verantwoordelijke_organisatie = "002220647"
    zaaktype = "https://openzaak.gemeente.nl/catalogi/api/v1/zaaktypen/<uuid>"
    eindstatustype = "https://.../statustypen/<uuid>"  # the end status (highest volgnummer)
    organisatorische_eenheden = ["gemeente-zwolle"]   # organisation keys named as an
                                              # organisatorische eenheid in their rollen
    [zgw.wijkkompas.statustypen]              # a statustype per phase of the workflow
    samen-starten = "https://.../statustypen/<uuid>"
    [zgw.wijkkompas.roltypen]                 # regie -> zaakcoordinator; parties by role or key
    regie = "https://.../roltypen/<uuid>"
    woningcorporatie = "https://.../roltypen/<uuid>"  # a party role of the workflow's parties:
    [zgw.wijkkompas.resultaattypen]           # completed, stopped
    completed = "https://.../resultaattypen/<uuid>"
    stopped = "https://.../resultaattypen/<uuid>"

:func:`check` reads the catalogue and lists what is missing or wrong: the zaaktype not
published (``concept``), a phase without a statustype or with one of another zaaktype, roltypen
and resultaattypen that are not the zaaktype's. The mirror is ``engine.app.zgw_mirror``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from engine.app.directory import check_rsin
from engine.errors import InvalidValue
from engine.ports.zgw import ZgwCatalogue, ZgwFailure

__all__ = ["OUTCOMES", "ZgwConfig", "check", "parse_config"]

OUTCOMES = ("completed", "stopped")
"""How an instance ends; each needs a resultaattype."""
_REQUIRED = (
    "zaken_url",
    "catalogi_url",
    "client_id",
    "secret",
    "bronorganisatie",
    "verantwoordelijke_organisatie",
    "zaaktype",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ZgwConfig:
    workflow: str
    zaken_url: str
    catalogi_url: str
    client_id: str
    secret: str = field(repr=False)
    bronorganisatie: str
    verantwoordelijke_organisatie: str
    zaaktype: str
    eindstatustype: str | None
    statustypen: Mapping[str, str]
    roltypen: Mapping[str, str]
    resultaattypen: Mapping[str, str]
    organisatorische_eenheden: tuple[str, ...] = ()
    """Organisations (directory keys) that are a unit of the municipality: their rollen name
    them as ``organisatorische_eenheid``; every other organisation is a
    ``niet_natuurlijk_persoon``."""


def _url(what: str, value: Any) -> str:
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidValue(what, value, "an http:// or https:// URL")
    return str(value)


def _urls(what: str, value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidValue(what, value, "a table of name = URL")
    return {str(k): _url(f"{what}.{k}", v) for k, v in value.items()}


def parse_config(workflow: str, table: Any) -> ZgwConfig:
    """One workflow's ``[zgw.WORKFLOW]`` table, checked (InvalidValue naming the key)."""
    where = f"zgw.{workflow}"
    if not isinstance(table, Mapping):
        raise InvalidValue(where, table, "a table")
    known = {
        *_REQUIRED,
        "eindstatustype",
        "statustypen",
        "roltypen",
        "resultaattypen",
        "organisatorische_eenheden",
    }
    unknown = sorted(set(table) - known)
    if unknown:
        raise InvalidValue(
            f"key in {where}", ", ".join(unknown), "known: " + ", ".join(sorted(known))
        )
    for key in _REQUIRED:
        if not isinstance(table.get(key), str) or not table[key].strip():
            raise InvalidValue(f"{where}.{key}", table.get(key), "required text")
    for key in ("bronorganisatie", "verantwoordelijke_organisatie"):
        if not check_rsin(table[key]):
            raise InvalidValue(
                f"{where}.{key}", table[key], "an RSIN: 9 digits passing the 11-proef"
            )
    units = table.get("organisatorische_eenheden", [])
    if not isinstance(units, list) or not all(isinstance(u, str) and u for u in units):
        raise InvalidValue(
            f"{where}.organisatorische_eenheden", units, "a list of organisation keys"
        )
    return ZgwConfig(
        workflow=workflow,
        zaken_url=_url(f"{where}.zaken_url", table["zaken_url"]).rstrip("/"),
        catalogi_url=_url(f"{where}.catalogi_url", table["catalogi_url"]).rstrip("/"),
        client_id=table["client_id"],
        secret=table["secret"],
        bronorganisatie=table["bronorganisatie"],
        verantwoordelijke_organisatie=table["verantwoordelijke_organisatie"],
        zaaktype=_url(f"{where}.zaaktype", table["zaaktype"]),
        eindstatustype=(
            _url(f"{where}.eindstatustype", table["eindstatustype"])
            if "eindstatustype" in table
            else None
        ),
        statustypen=_urls(f"{where}.statustypen", table.get("statustypen")),
        roltypen=_urls(f"{where}.roltypen", table.get("roltypen")),
        resultaattypen=_urls(f"{where}.resultaattypen", table.get("resultaattypen")),
        organisatorische_eenheden=tuple(units),
    )


def check(
    config: ZgwConfig,
    phases: Sequence[str],
    catalogue: ZgwCatalogue,
    *,
    parties: Sequence[str] = (),
    organisations: Sequence[str] | None = None,
) -> list[str]:
    """What is missing or wrong in the catalogue for this configuration (empty: ready).
    ``parties``: the workflow's party roles; ``organisations``: the directory's keys (None:
    not known, their names are not checked)."""
    problems: list[str] = _names(config, parties, organisations)
    try:
        zaaktype = catalogue.zaaktype(config.zaaktype)
    except ZgwFailure as failure:
        return [f"zaaktype {config.zaaktype}: cannot be read: {failure.reason}"]
    if zaaktype.get("concept", True):
        problems.append(
            f"zaaktype {zaaktype.get('identificatie', config.zaaktype)} is not published "
            "(concept): Open Zaak refuses zaken of it"
        )
    for kind, configured, listed in (
        ("statustype", config.statustypen, catalogue.statustypen),
        ("roltype", config.roltypen, catalogue.roltypen),
        ("resultaattype", config.resultaattypen, catalogue.resultaattypen),
    ):
        try:
            found = {item["url"]: item for item in listed(config.zaaktype)}
        except ZgwFailure as failure:
            problems.append(f"{kind}n of the zaaktype: cannot be read: {failure.reason}")
            continue
        wanted = dict(configured)
        if kind == "statustype" and config.eindstatustype:
            wanted["eindstatus"] = config.eindstatustype
        for name, url in sorted(wanted.items()):
            if url not in found:
                problems.append(f"{kind} for '{name}' ({url}) is not one of the zaaktype's")
    for phase in phases:
        if phase not in config.statustypen:
            problems.append(
                f"phase '{phase}' has no statustype (zgw.{config.workflow}.statustypen)"
            )
    for extra in sorted(set(config.statustypen) - set(phases)):
        problems.append(f"statustype for '{extra}': the workflow has no such phase")
    for outcome in OUTCOMES:
        if outcome not in config.resultaattypen:
            problems.append(
                f"no resultaattype for '{outcome}' (zgw.{config.workflow}.resultaattypen)"
            )
    if config.eindstatustype is None:
        problems.append(
            f"no eindstatustype (zgw.{config.workflow}.eindstatustype): a finished instance "
            "cannot close its zaak"
        )
    if "regie" not in config.roltypen:
        problems.append(f"no roltype for 'regie' (zgw.{config.workflow}.roltypen; zaakcoordinator)")
    return problems


def _names(
    config: ZgwConfig, parties: Sequence[str], organisations: Sequence[str] | None
) -> list[str]:
    """Roltypen named after neither ``regie``, a party role nor an organisation, and
    organisatorische eenheden the directory does not know: most likely typing errors."""
    if organisations is None:
        return []
    where = f"zgw.{config.workflow}"
    problems = [
        f"roltype for '{name}' ({where}.roltypen): neither 'regie', a party role of the "
        f"workflow ({', '.join(parties) or 'none'}) nor an organisation of the directory"
        for name in sorted(config.roltypen)
        if name != "regie" and name not in parties and name not in organisations
    ]
    problems += [
        f"organisatorische eenheid '{key}' ({where}.organisatorische_eenheden) is no "
        "organisation of the directory"
        for key in config.organisatorische_eenheden
        if key not in organisations
    ]
    return problems
