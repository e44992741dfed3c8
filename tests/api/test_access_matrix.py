"""Who may do what, over HTTP: every endpoint x every role x an instance of the caller's own
organisation and of another one, against a live server, on SQLite and PostgreSQL.

``MATRIX`` is the declared table: for each endpoint the status each role gets on an instance
whose regie its organisation holds ("own") and on one held by another organisation ("other"),
written down from the issue's rules, not computed from the rule table in the code. A status of
an allowed call is what the workflow then says on a fresh instance (200, or 409 where its rules
refuse: an advance through a shut gate); 403 is "you may see it but not do this", 404 "you may
not see it" (its existence is not revealed). Every route of the API must have a row.

The principals: the programme office of the municipality that runs the programme, and a
partner, an approver (of ``investeringsbesluit``), an auditor and a viewer, all of deltaWonen.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from adapters.http.app import PREFIX, THREADS, build_api
from tests.api.live import ROLES, LiveServer, Programme

pytestmark = [pytest.mark.xdist_group("api"), pytest.mark.slow]

ROLE_ORDER = ("programme_office", "partner", "approver", "auditor", "viewer")


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    """Relative to /api/v1; {key} is the instance, {prefix} a spare token, {spare} a principal."""
    expect: str
    """Per role in ROLE_ORDER, "own/other" (or one status where no instance is involved)."""
    body: Any = None
    setup: Callable[[Programme, str], None] | None = None


def _pause(programme: Programme, key: str) -> None:
    programme.service.pause(key, "geen-trekker", by="test-seed", reason="test")


def _checkpoint(programme: Programme, key: str) -> None:
    """A checkpoint over every instance (KEY's included), signed by a key made here."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    class Signer:
        key_id = "0" * 64

        def __init__(self) -> None:
            self._key = Ed25519PrivateKey.generate()

        def sign(self, data: bytes) -> bytes:
            return self._key.sign(data)

    programme.service.checkpoints.make(Signer())


GO = {"decision": "go", "ref": "B&W 2026/1"}
REGIE_GEMEENTE = {"regie": {"type": "gemeente", "organisation": "Gemeente Zwolle"}, "reason": "r"}

MATRIX: tuple[Row, ...] = (
    # --- reading one instance ----------------------------------------------------------------
    Row("GET", "/instances/{key}", "200/200 200/404 200/404 200/404 200/404"),
    Row("GET", "/instances/{key}/children", "200/200 200/404 200/404 200/404 200/404"),
    Row("GET", "/instances/{key}/events", "200/200 200/404 403/404 200/404 403/404"),
    Row("GET", "/audit?instance={key}", "200/200 403/404 403/404 200/404 403/404"),
    Row("GET", "/instances/{key}/timeline.svg", "200/200 200/404 200/404 200/404 200/404"),
    Row(
        "GET",
        "/instances/{key}/inclusion",
        "200/200 200/404 403/404 200/404 403/404",
        setup=_checkpoint,
    ),
    Row("GET", "/instances/{key}/dossier", "200/200 403/404 403/404 200/404 403/404"),
    # --- commands ----------------------------------------------------------------------------
    Row("PATCH", "/instances/{key}", "200/200 403/404 403/404 403/404 403/404", {"title": "T"}),
    Row(
        "POST",
        "/instances/{key}/milestones/aanleiding-en-opdracht/done",
        "200/200 200/404 403/404 403/404 403/404",
    ),
    Row(
        "POST",
        "/instances/{key}/milestones/regiemodel-en-rollen/done",
        # owned by the gemeente, and it waits for partijen-aan-tafel: the rules refuse it
        "409/409 403/404 403/404 403/404 403/404",
    ),
    Row(
        "POST",
        "/instances/{key}/milestones/eerste-bewonersinformatie/skip",
        "200/200 200/404 403/404 403/404 403/404",
        {"reason": "not needed here"},
    ),
    Row(
        "POST",
        "/instances/{key}/milestones/aanleiding-en-opdracht/reopen",
        "409/409 409/404 403/404 403/404 403/404",
        {"reason": "again"},
    ),
    Row(
        "POST",
        "/instances/{key}/approvals/college",
        "200/200 403/404 403/404 403/404 403/404",
        GO,
    ),
    Row(
        "POST",
        "/instances/{key}/approvals/investeringsbesluit",
        "409/409 403/404 409/404 403/404 403/404",
        GO,
    ),
    Row("POST", "/instances/{key}/advance", "409/409 403/404 403/404 403/404 403/404"),
    Row(
        "POST",
        "/instances/{key}/return",
        "409/409 403/404 403/404 403/404 403/404",
        {"phase": "samen-starten", "reason": "r"},
    ),
    Row(
        "POST",
        "/instances/{key}/pause",
        "200/200 200/404 403/404 403/404 403/404",
        {"button": "geen-trekker", "reason": "nobody to lead"},
    ),
    Row(
        "POST",
        "/instances/{key}/resume",
        "200/200 200/404 403/404 403/404 403/404",
        setup=_pause,
    ),
    Row(
        "POST",
        "/instances/{key}/handover",
        "200/200 403/404 403/404 403/404 403/404",
        REGIE_GEMEENTE,
    ),
    Row(
        "POST",
        "/instances/{key}/stop",
        "200/200 403/404 403/404 403/404 403/404",
        {"reason": "the wijk is merged"},
    ),
    Row(
        "POST",
        "/instances/{key}/notes",
        "200/200 200/404 403/404 403/404 403/404",
        {"text": "spoke with the residents"},
    ),
    Row(
        "POST",
        "/instances/{key}/parties",
        "200/200 403/404 403/404 403/404 403/404",
        {"organisation": "enexis", "party": "netbeheerder"},
    ),
    Row(
        "DELETE",
        "/instances/{key}/parties/enexis/netbeheerder",
        "409/409 403/404 403/404 403/404 403/404",
    ),
    # --- the programme -----------------------------------------------------------------------
    Row("GET", "/instances", "200 200 200 200 200"),
    Row(
        "POST",
        "/instances",
        "201 403 403 403 403",
        {
            "key": "new-{n}",
            "workflow": "wijkkompas",
            "title": "Nieuwe wijk",
            "regie": {"type": "gemeente", "organisation": "Gemeente Zwolle"},
        },
    ),
    Row("GET", "/status", "200 200 200 200 200"),
    Row("GET", "/reminders/preview", "200 200 403 403 403"),
    Row("GET", "/outbox", "200 403 403 403 403"),
    Row("POST", "/outbox/999999/retry", "404 403 403 403 403"),
    Row("GET", "/audit", "200 403 403 403 403"),
    Row(
        "POST",
        "/inbox",
        "201 201 201 403 403",
        {"specversion": "1.0", "id": "m-{n}", "source": "urn:test", "type": "nl.test.niets"},
    ),
    # A plan the access rule lets through is read, and this one has no from/to: 422.
    Row("POST", "/migrations/check", "422 403 403 403 403", {"plan": "migration: 1"}),
    Row(
        "POST",
        "/migrations/apply",
        "422 403 403 403 403",
        {"plan": "migration: 1", "reason": "methode herzien"},
    ),
    Row("GET", "/events", "200 200 403 200 403"),
    Row("GET", "/reports/council?from=2026-01-01&to=2026-12-31", "200 403 403 200 403"),
    Row("GET", "/charts/overdue.svg", "200 403 403 200 403"),
    Row("GET", "/checkpoints", "200 200 200 200 200"),
    Row("GET", "/checkpoints/latest", "200 200 200 200 200"),
    Row("GET", "/checkpoints/1", "200 200 200 200 200"),
    Row("GET", "/checkpoints/1/consistency", "200 200 200 200 200"),
    Row("GET", "/workflows", "200 200 200 200 200"),
    Row("GET", "/workflows/wijkkompas", "200 200 200 200 200"),
    Row("GET", "/workflows/wijkkompas/versions", "200 200 200 200 200"),
    Row("GET", "/workflows/wijkkompas/diagram", "200 200 200 200 200"),
    Row("GET", "/workflows/wijkkompas/timeline", "200 200 200 200 200"),
    # --- the directory -----------------------------------------------------------------------
    Row("GET", "/organisations", "200 403 403 403 403"),
    Row(
        "POST",
        "/organisations",
        "201 403 403 403 403",
        {"key": "org-{n}", "name": "Warmtebedrijf {n}", "kind": "other"},
    ),
    Row("GET", "/principals", "200 403 403 403 403"),
    Row(
        "POST",
        "/principals",
        "201 403 403 403 403",
        {"name": "person-{n}", "role": "viewer"},
    ),
    Row("POST", "/principals/{spare}/disable", "200 403 403 403 403"),
    Row("GET", "/tokens", "200 403 403 403 403"),
    Row(
        "POST",
        "/tokens",
        "201 403 403 403 403",
        {"principal": "{spare}", "purpose": "a test"},
    ),
    Row("DELETE", "/tokens/{prefix}", "200 403 403 403 403"),
    # --- webhooks (the programme office of the programme's organisation) ---------------------
    Row("GET", "/webhooks", "200 403 403 403 403"),
    # --- a person's data (the programme office only) -------------------------------------------
    Row("POST", "/privacy/export", "200 403 403 403 403", {"email": "niemand@example.nl"}),
    Row(
        "POST",
        "/privacy/erasure",
        "404 403 403 403 403",
        {"email": "niemand@example.nl", "reason": "AVG-verzoek"},
    ),
    Row(
        "POST",
        "/webhooks",
        "201 403 403 403 403",
        {"url": "https://hooks.example/{n}", "event_types": ["nl.wijkkompas.instance.created"]},
    ),
    Row("GET", "/webhooks/999999", "404 403 403 403 403"),
    Row("DELETE", "/webhooks/999999", "404 403 403 403 403"),
    Row("POST", "/webhooks/999999/enable", "404 403 403 403 403"),
    Row("POST", "/webhooks/999999/rotate", "404 403 403 403 403", {"finish": False}),
    Row("GET", "/webhooks/999999/deliveries", "404 403 403 403 403"),
    Row("POST", "/webhooks/999999/test", "404 403 403 403 403"),
    # --- the ZGW mirror's deliveries (the same programme office) --------------------------------
    Row("GET", "/zgw/deliveries", "200 403 403 403 403"),
    Row("POST", "/zgw/deliveries/999999/resend", "404 403 403 403 403"),
    # --- calendar feeds: the token in the URL is the credential, not the caller's -------------
    Row("GET", "/calendar/wkcal_00000000_unknown.ics", "404 404 404 404 404"),
    # --- public ------------------------------------------------------------------------------
    Row("GET", "/problems", "200 200 200 200 200"),
    Row("GET", "/problems/gate-not-met", "200 200 200 200 200"),
    Row("GET", "/openapi.json", "200 200 200 200 200"),
)


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


def _expected(row: Row, role: str) -> tuple[int, int]:
    cell = row.expect.split()[ROLE_ORDER.index(role)]
    own, _, other = cell.partition("/")
    return int(own), int(other or own)


def test_the_matrix_names_every_role() -> None:
    assert set(ROLE_ORDER) == set(ROLES)
    for row in MATRIX:
        assert len(row.expect.split()) == len(ROLE_ORDER), row


def test_every_route_of_the_api_has_a_row(tmp_path: Any) -> None:
    """Every operation the application publishes (its OpenAPI document, made from its routes
    as the server has them; FastAPI's own route list nests included routers in some versions)
    has a row."""
    from adapters.http.openapi import openapi_document
    from engine.compose import Application

    app = Application.configure(
        given={"db": f"sqlite:///{tmp_path / 'w.db'}", "workflows": ()}, env={}
    )
    app.serve_threads(THREADS)
    app.service(create=True)
    document = openapi_document(build_api(app))
    app.close()
    declared = {(r.method, r.path.split("?")[0]) for r in MATRIX}
    published = [
        (method.upper(), template)
        for template, operations in document["paths"].items()
        for method in operations
        if method in ("get", "put", "post", "delete", "patch")
    ]
    assert len(published) > 50  # the whole API, not a list that lost its routes
    missing = [
        f"{method} {template}"
        for method, template in published
        if not any(m == method and _same_shape(p, template) for m, p in declared)
    ]
    assert not missing, f"routes without a row in MATRIX: {missing}"


def _same_shape(declared: str, template: str) -> bool:
    """A declared path (with real names) fits a route template (with {parameters})."""
    a, b = declared.strip("/").split("/"), template.strip("/").split("/")
    return len(a) == len(b) and all(
        x == y or y.startswith("{") or x.startswith("{") for x, y in zip(a, b, strict=True)
    )


def test_every_endpoint_for_every_role_on_own_and_other_instances(server: LiveServer) -> None:
    programme = server.programme
    wrong: list[str] = []
    clients = {role: server.client(role) for role in ROLE_ORDER}
    try:
        for row in MATRIX:
            for role in ROLE_ORDER:
                expected = _expected(row, role)
                owners = ("deltawonen", "swz") if "{key}" in row.path else ("deltawonen",)
                for owner, status in zip(owners, expected, strict=False):
                    key = programme.instance(owner) if "{key}" in row.path else ""
                    if row.setup is not None and key:
                        row.setup(programme, key)
                    names = _spares(programme, role)
                    names["key"] = key
                    got = clients[role].request(
                        row.method,
                        PREFIX + _fill(row.path, names),
                        json=_fill(row.body, names) if row.body is not None else None,
                    )
                    if got.status_code != status:
                        where = "own" if owner == "deltawonen" else "other"
                        wrong.append(
                            f"{row.method} {row.path} as {role} ({where}): expected {status}, "
                            f"got {got.status_code} {got.text[:300]}"
                        )
    finally:
        for client in clients.values():
            client.close()
    assert not wrong, "\n".join(wrong)


def _spares(programme: Programme, role: str) -> dict[str, str]:
    """A fresh principal (with a token) in the organisation of ``role``, to disable or revoke."""
    from tests.api.live import ROLES

    programme.counter += 1
    n = str(programme.counter)
    org = ROLES[role][0]
    directory = programme.service.directory
    from engine.app.access import Role

    spare = f"spare-{n}"
    directory.add_principal(organisation=org, name=spare, kind="person", role=Role.VIEWER)
    _, info = directory.create_token(org, spare, purpose="to revoke")
    return {"n": n, "spare": spare, "prefix": info.prefix}


def test_lists_show_only_what_the_role_may_see(server: LiveServer) -> None:
    programme = server.programme
    own, other = programme.instance("deltawonen"), programme.instance("swz")
    for role in ROLE_ORDER:
        with server.client(role) as http:
            listed = {i["key"] for i in http.get(PREFIX + "/instances").json()["items"]}
            status = {r["key"] for r in http.get(PREFIX + "/status").json()["items"]}
        assert own in listed, role
        assert own in status, role
        if role == "programme_office":
            assert other in listed
            assert other in status
        else:
            assert other not in listed, role
            assert other not in status, role


def test_a_partner_organisation_s_own_programme_office_keeps_to_its_instances(
    server: LiveServer,
) -> None:
    """A woningcorporatie may run a programme office of its own: it does everything in the
    instances where it holds regie or is a party, and manages its own principals and tokens,
    but nothing that reaches every instance of the programme: webhook subscriptions (and the
    ZGW mirror's deliveries), a person's data, the organisations."""
    from engine.app.access import Role

    programme = server.programme
    directory = programme.service.directory
    directory.add_principal(
        organisation="deltawonen", name="eigen-bureau", kind="person", role=Role.PROGRAMME_OFFICE
    )
    secret, _ = directory.create_token("deltawonen", "eigen-bureau", purpose="test")
    own, other = programme.instance("deltawonen"), programme.instance("swz")
    refused = [
        ("GET", "/webhooks", None),
        ("POST", "/webhooks", {"url": "https://hooks.example/x", "event_types": []}),
        ("GET", "/zgw/deliveries", None),
        ("POST", "/privacy/export", {"email": "niemand@example.nl"}),
        ("POST", "/privacy/erasure", {"email": "niemand@example.nl", "reason": "AVG"}),
        ("GET", "/organisations", None),
        ("POST", "/organisations", {"key": "nieuw", "name": "Nieuw", "kind": "other"}),
    ]
    with server.client(Authorization=f"Bearer {secret}") as http:
        for method, path, body in refused:
            answer = http.request(method, PREFIX + path, json=body)
            assert answer.status_code == 403, (method, path, answer.text)
        assert http.get(PREFIX + "/tokens").status_code == 200
        assert http.get(PREFIX + f"/instances/{own}").status_code == 200
        assert http.get(PREFIX + f"/instances/{other}").status_code == 404
        listed = {i["key"] for i in http.get(PREFIX + "/instances").json()["items"]}
        assert own in listed
        assert other not in listed
        noted = http.post(PREFIX + f"/instances/{own}/notes", json={"text": "eigen regie"})
        assert noted.status_code == 200, noted.text
    assert "nieuw" not in {o.key for o in directory.organisations()}
