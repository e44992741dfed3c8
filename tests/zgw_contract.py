"""A ZGW contract server on loopback: the Catalogi API 1.3.1 and the Zaken API 1.5.1 as Open
Zaak answers them, for the calls wijkkompas makes (zaaktype, statustypen, roltypen,
resultaattypen; zaken searched by identificatie, made, patched; statussen, resultaten, rollen
and zaakobjecten listed by zaak in pages, made, rollen and zaakobjecten deleted), including
Open Zaak's refusals (a zaak of an unpublished zaaktype, a status of another zaaktype).

Every request is first validated against the official OpenAPI document (tests/contracts/zgw,
with ``openapi-core``: path, parameters, body, and the JWT security requirement) as if it had
been sent to the document's own server; one that does not pass gets Open Zaak's 400 problem
(``invalidParams``) and is recorded in ``refused``. Then the bearer token is checked as Open
Zaak does: an HS256 ZGW JWT signed with the client's secret, with ``client_id``, ``iat`` and
``exp`` (403 otherwise). A mock that accepts anything proves nothing: this one refuses what
the specification refuses.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import jwt
import yaml
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_schema_validator import OAS30WriteValidator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4
from werkzeug.datastructures import Headers, ImmutableMultiDict

HERE = Path(__file__).resolve().parent / "contracts" / "zgw"
SPEC_HOSTS = {
    "catalogi": ("https://catalogi-api.vng.cloud", "/api/v1", "catalogi-1.3.1.yaml"),
    "zaken": ("https://zaken-api.vng.cloud", "/api/v1", "zaken-1.5.1.yaml"),
}


@cache
def spec(component: str) -> OpenAPI:
    return OpenAPI.from_file_path(str(HERE / SPEC_HOSTS[component][2]))


@cache
def _registry() -> Registry:
    document = yaml.safe_load((HERE / SPEC_HOSTS["zaken"][2]).read_text(encoding="utf-8"))
    return Registry().with_resource(
        "zaken", Resource.from_contents(document, default_specification=DRAFT4)
    )


DISCRIMINATED = {
    "/zaakobjecten": ("objectType", "ZaakObject"),
    "/rollen": ("betrokkeneType", "Rol"),
}
"""Bodies whose schema depends on a field (the document's discriminator): openapi-core does
not follow it, so the contract server checks the body against the variant's own schema (e.g.
``wijk_ZaakObject``: the ObjectWijk identification with its required fields)."""


def discriminated_problems(path: str, body: Any) -> list[str]:
    """What the variant schema of ``body`` (POST ``path``) refuses (empty: nothing)."""
    field_name, suffix = DISCRIMINATED[path]
    variant = f"zaken#/components/schemas/{body.get(field_name)}_{suffix}"
    validator = OAS30WriteValidator({"$ref": variant}, registry=_registry())
    return [f"{'.'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(body)]


class _Request:
    """A request as openapi-core reads it (its Request protocol)."""

    def __init__(
        self,
        component: str,
        path: str,
        method: str,
        query: str,
        headers: dict[str, str],
        body: bytes,
    ) -> None:
        host, base, _ = SPEC_HOSTS[component]
        self.host_url = host
        self.path = base + path
        self.method = method.lower()
        self.body = body or None
        self.content_type = headers.get("content-type", "")
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(parse_qsl(query)),
            header=Headers(list(headers.items())),
            cookie=ImmutableMultiDict(),
            path={},
        )

    @property
    def full_url_pattern(self) -> str:
        return self.host_url + self.path


@dataclass
class Catalogue:
    """What the catalogue holds: one zaaktype with its statustypen, roltypen, resultaattypen."""

    base: str = ""
    concept: bool = False
    zaaktype_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    statustypen: dict[str, str] = field(default_factory=dict)
    """omschrijving -> uuid"""
    roltypen: dict[str, str] = field(default_factory=dict)
    resultaattypen: dict[str, str] = field(default_factory=dict)
    eind: str = field(default_factory=lambda: str(uuid.uuid4()))
    """The end statustype's uuid."""

    def url(self, kind: str, ident: str) -> str:
        return f"{self.base}/catalogi/api/v1/{kind}/{ident}"

    @property
    def zaaktype(self) -> str:
        return self.url("zaaktypen", self.zaaktype_id)


@dataclass
class ContractServer:
    client_id: str
    secret: str
    catalogue: Catalogue
    url: str = ""
    requests: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    zaken: dict[str, dict[str, Any]] = field(default_factory=dict)
    statussen: list[dict[str, Any]] = field(default_factory=list)
    resultaten: list[dict[str, Any]] = field(default_factory=list)
    rollen: dict[str, dict[str, Any]] = field(default_factory=dict)
    zaakobjecten: dict[str, dict[str, Any]] = field(default_factory=dict)
    page_size: int = 100
    """Lists come in pages of this many (Open Zaak: 100), with ``next``."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def answer(
        self, method: str, target: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, Any]:
        parts = urlsplit(target)
        component, _, rest = parts.path.lstrip("/").partition("/api/v1")
        if component not in SPEC_HOSTS:
            return 404, {"detail": "Niet gevonden."}
        with self.lock:
            self.requests.append(f"{method} {parts.path}")
        try:
            spec(component).validate_request(
                _Request(component, rest, method, parts.query, headers, body)
            )
        except Exception as exc:  # what openapi-core refuses, Open Zaak refuses too
            with self.lock:
                self.refused.append(f"{method} {parts.path}: {exc}")
            return 400, {
                "type": "https://openzaak.local/ref/fouten/ValidationError/",
                "code": "invalid",
                "title": "Invalid input.",
                "status": 400,
                "detail": "",
                "instance": f"urn:uuid:{uuid.uuid4()}",
                "invalidParams": [
                    {"name": "nonFieldErrors", "code": "invalid", "reason": str(exc)}
                ],
            }
        token = headers.get("authorization", "").removeprefix("Bearer ")
        try:
            claims = jwt.decode(
                token, self.secret, algorithms=["HS256"], options={"require": ["iat", "exp"]}
            )
        except jwt.PyJWTError as exc:
            return 403, {"code": "permission_denied", "status": 403, "detail": str(exc)}
        if claims.get("client_id") != self.client_id:
            return 403, {"code": "permission_denied", "status": 403, "detail": "unknown client_id"}
        query = dict(parse_qsl(parts.query))
        if component == "zaken" and method == "POST" and rest in DISCRIMINATED:
            problems = discriminated_problems(rest, json.loads(body))
            if problems:
                with self.lock:
                    self.refused.append(f"{method} {parts.path}: {'; '.join(problems)}")
                return 400, _invalid("objectIdentificatie", "invalid", "; ".join(problems))
        if component == "zaken":
            return self._zaken(method, rest, query, json.loads(body) if body else None)
        return self._catalogi(method, rest, query)

    def _zaken(self, method: str, path: str, query: dict[str, str], body: Any) -> tuple[int, Any]:
        c = self.catalogue
        if method == "GET" and path == "/zaken":
            found = [
                z
                for z in self.zaken.values()
                if z["identificatie"] == query.get("identificatie")
                and z["bronorganisatie"] == query.get("bronorganisatie")
            ]
            return 200, {"count": len(found), "next": None, "previous": None, "results": found}
        if method == "POST" and path == "/zaken":
            if body["zaaktype"] != c.zaaktype or c.concept:
                return 400, _invalid(
                    "zaaktype", "not-published", "Het ZAAKTYPE is nog niet gepubliceerd."
                )
            hoofd = body.get("hoofdzaak")
            if hoofd is not None and hoofd not in self.zaken:
                return 400, _invalid(
                    "hoofdzaak", "does_not_exist", "Ongeldige hyperlink - Object bestaat niet."
                )
            if hoofd is not None and self.zaken[hoofd].get("hoofdzaak"):
                return 400, _invalid(
                    "hoofdzaak",
                    "deelzaak-als-hoofdzaak",
                    "Deelzaken van deelzaken wordt NIET ondersteund.",
                )
            url = f"{c.base}/zaken/api/v1/zaken/{uuid.uuid4()}"
            zaak = {**body, "url": url}
            with self.lock:
                self.zaken[url] = zaak
            return 201, zaak
        if method == "GET" and path.startswith("/zaken/"):
            url = f"{c.base}/zaken/api/v1{path}"
            if url not in self.zaken:
                return 404, {"code": "not_found", "status": 404, "detail": "Niet gevonden."}
            return 200, self.zaken[url]
        if method == "PATCH" and path.startswith("/zaken/"):
            url = f"{c.base}/zaken/api/v1{path}"
            if url not in self.zaken:
                return 404, {"code": "not_found", "status": 404, "detail": "Niet gevonden."}
            with self.lock:
                self.zaken[url].update(body)
            return 200, self.zaken[url]
        lists = {
            "/statussen": (self.statussen, ("zaak", "statustype")),
            "/resultaten": (self.resultaten, ("zaak", "resultaattype")),
            "/rollen": (list(self.rollen.values()), ("zaak", "roltype", "betrokkeneType")),
            "/zaakobjecten": (list(self.zaakobjecten.values()), ("zaak", "objectType")),
        }
        if method == "GET" and path in lists:
            items, filters = lists[path]
            found = [i for i in items if all(i.get(f) == query[f] for f in filters if f in query)]
            return 200, self._page(path, query, found)
        if method == "POST" and path == "/zaakobjecten":
            if body["zaak"] not in self.zaken:
                return 400, _invalid(
                    "zaak", "does_not_exist", "Ongeldige hyperlink - Object bestaat niet."
                )
            if not body.get("object") and not body.get("objectIdentificatie"):
                return 400, _invalid(
                    "nonFieldErrors",
                    "invalid-object-identificatie",
                    "Geef een `object` of een `objectIdentificatie` op.",
                )
            url = f"{c.base}/zaken/api/v1/zaakobjecten/{uuid.uuid4()}"
            with self.lock:
                self.zaakobjecten[url] = {**body, "url": url}
            return 201, self.zaakobjecten[url]
        if method == "DELETE" and path.startswith("/zaakobjecten/"):
            url = f"{c.base}/zaken/api/v1{path}"
            with self.lock:
                gone = self.zaakobjecten.pop(url, None)
            return (204, None) if gone else (404, {"code": "not_found", "status": 404})
        if method == "POST" and path == "/rollen":
            if body["zaak"] not in self.zaken:
                return 400, _invalid(
                    "zaak", "does_not_exist", "Ongeldige hyperlink - Object bestaat niet."
                )
            url = f"{c.base}/zaken/api/v1/rollen/{uuid.uuid4()}"
            with self.lock:
                self.rollen[url] = {**body, "url": url}
            return 201, self.rollen[url]
        if method == "DELETE" and path.startswith("/rollen/"):
            url = f"{c.base}/zaken/api/v1{path}"
            with self.lock:
                found = self.rollen.pop(url, None)
            return (204, None) if found else (404, {"code": "not_found", "status": 404})
        if method == "POST" and path == "/resultaten":
            if body["zaak"] not in self.zaken:
                return 400, _invalid(
                    "zaak", "does_not_exist", "Ongeldige hyperlink - Object bestaat niet."
                )
            url = f"{c.base}/zaken/api/v1/resultaten/{uuid.uuid4()}"
            with self.lock:
                self.resultaten.append({**body, "url": url})
            return 201, {**body, "url": url}
        if method == "POST" and path == "/statussen":
            if body["statustype"] == c.url("statustypen", c.eind) and not any(
                r["zaak"] == body["zaak"] for r in self.resultaten
            ):
                return 400, _invalid(
                    "nonFieldErrors",
                    "resultaat-does-not-exist",
                    "Een zaak kan niet afgesloten worden zonder resultaat.",
                )
            if body["zaak"] not in self.zaken:
                return 400, _invalid(
                    "zaak", "does_not_exist", "Ongeldige hyperlink - Object bestaat niet."
                )
            known = {c.url("statustypen", u) for u in (*c.statustypen.values(), c.eind)}
            if body["statustype"] not in known:
                return 400, _invalid(
                    "statustype",
                    "zaaktype-mismatch",
                    "Het statustype hoort niet bij het zaaktype van de zaak.",
                )
            url = f"{c.base}/zaken/api/v1/statussen/{uuid.uuid4()}"
            with self.lock:
                self.statussen.append({**body, "url": url})
                self.zaken[body["zaak"]]["status"] = url
            return 201, {**body, "url": url}
        return 404, {"code": "not_found", "status": 404, "detail": "Niet gevonden."}

    def _page(self, path: str, query: dict[str, str], found: list[Any]) -> dict[str, Any]:
        """One page of a list, as Open Zaak pages them (``page`` from 1, ``next`` a URL)."""
        page = int(query.get("page", "1"))
        size = self.page_size
        following = None
        if page * size < len(found):
            rest = urlencode({**query, "page": str(page + 1)})
            following = f"{self.catalogue.base}/zaken/api/v1{path}?{rest}"
        return {
            "count": len(found),
            "next": following,
            "previous": None,
            "results": found[(page - 1) * size : page * size],
        }

    def _catalogi(self, method: str, path: str, query: dict[str, str]) -> tuple[int, Any]:
        c = self.catalogue
        if method == "GET" and path == f"/zaaktypen/{c.zaaktype_id}":
            return 200, {
                "url": c.zaaktype,
                "identificatie": "WIJKAANPAK",
                "omschrijving": "Wijkaanpak aardgasvrij",
                "concept": c.concept,
                "statustypen": [c.url("statustypen", u) for u in c.statustypen.values()],
            }
        lists = {
            "/statustypen": ("statustypen", c.statustypen),
            "/roltypen": ("roltypen", c.roltypen),
            "/resultaattypen": ("resultaattypen", c.resultaattypen),
        }
        if method == "GET" and path in lists:
            kind, items = lists[path]
            mine = query.get("zaaktype") == c.zaaktype
            named = {**items, "eindstatus": c.eind} if kind == "statustypen" else items
            results = [
                {"url": c.url(kind, ident), "omschrijving": name, "zaaktype": c.zaaktype}
                for name, ident in named.items()
                if mine
            ]
            return 200, {"count": len(results), "next": None, "previous": None, "results": results}
        return 404, {"code": "not_found", "status": 404, "detail": "Niet gevonden."}


def _invalid(name: str, code: str, reason: str) -> dict[str, Any]:
    """Open Zaak's answer to a request it refuses."""
    return {
        "type": "https://openzaak.local/ref/fouten/ValidationError/",
        "code": "invalid",
        "title": "Invalid input.",
        "status": 400,
        "detail": "",
        "instance": f"urn:uuid:{uuid.uuid4()}",
        "invalidParams": [{"name": name, "code": code, "reason": reason}],
    }


@contextmanager
def contract_server(client_id: str, secret: str, catalogue: Catalogue) -> Iterator[ContractServer]:
    state = ContractServer(client_id=client_id, secret=secret, catalogue=catalogue)
    # Read the documents before the first request, not while a client waits on it: on a busy
    # machine parsing them took longer than the adapter's 10 s timeout (a ReadTimeout).
    for component in SPEC_HOSTS:
        spec(component)
    _registry()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _serve(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0))
            headers = {k.lower(): v for k, v in self.headers.items()}
            status, data = state.answer(self.command, self.path, headers, body)
            raw = b"" if data is None else json.dumps(data).encode()
            try:
                self.send_response(status)
                ctype = "application/json" if status < 400 else "application/problem+json"
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            except ConnectionError:
                pass  # the client gave up (its timeout, as a test may have it do)

        do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

        def log_message(self, *_args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    state.url = f"http://127.0.0.1:{server.server_address[1]}"
    catalogue.base = state.url
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
