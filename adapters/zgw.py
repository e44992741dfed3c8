"""The ZGW APIs over HTTP: a ZGW JWT per request, and the Catalogi API reads of
``wijkkompas zgw check``.

The JWT is what the ZGW standard asks of a client: HS256 with the shared secret, claims
``iss`` and ``client_id`` (the client id), ``iat`` and ``exp`` (a short life: a new token per
request costs nothing), and ``user_id``/``user_representation`` naming wijkkompas. Lists
(``statustypen?zaaktype=``) are read page by page (``next``).
"""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import jwt

from engine.app.zgw import ZgwConfig
from engine.ports.zgw import ZgwFailure

__all__ = ["HttpZgwCatalogue", "HttpZgwZaken", "zgw_token"]

TOKEN_LIFE = 300


def zgw_token(client_id: str, secret: str, *, now: float | None = None) -> str:
    issued = int(time.time() if now is None else now)
    claims = {
        "iss": client_id,
        "client_id": client_id,
        "iat": issued,
        "exp": issued + TOKEN_LIFE,
        "user_id": "wijkkompas",
        "user_representation": "wijkkompas",
    }
    return jwt.encode(claims, secret, algorithm="HS256")


class HttpZgwCatalogue:
    """Implements engine.ports.ZgwCatalogue."""

    def __init__(
        self, config: ZgwConfig, *, client: httpx.Client | None = None, timeout: float = 10.0
    ) -> None:
        self.config = config
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)

    def _get(self, url: str, params: dict[str, str] | None = None) -> dict[str, Any]:
        headers = {
            "Authorization": f"Bearer {zgw_token(self.config.client_id, self.config.secret)}",
            "Accept": "application/json",
            "Accept-Crs": "EPSG:4326",
        }
        try:
            response = self._client.get(url, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise ZgwFailure(f"{type(exc).__name__}: {exc}") from exc
        if response.status_code != 200:
            try:
                problem = response.json()
            except ValueError:
                problem = {}
            detail = problem.get("detail") or problem.get("title") or response.reason_phrase
            raise ZgwFailure(
                f"HTTP {response.status_code}: {detail}",
                status=response.status_code,
                problem=problem if isinstance(problem, dict) else {},
            )
        data = response.json()
        if not isinstance(data, dict):
            raise ZgwFailure(f"{url}: not a JSON object")
        return data

    def _list(self, path: str, zaaktype: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        url: str | None = f"{self.config.catalogi_url}/{path}"
        params: dict[str, str] | None = {"zaaktype": zaaktype}
        while url:
            page = self._get(url, params)
            items.extend(page.get("results", []))
            url, params = page.get("next"), None
        return items

    def zaaktype(self, url: str) -> dict[str, Any]:
        return self._get(url)

    def statustypen(self, zaaktype: str) -> list[dict[str, Any]]:
        return self._list("statustypen", zaaktype)

    def roltypen(self, zaaktype: str) -> list[dict[str, Any]]:
        return self._list("roltypen", zaaktype)

    def resultaattypen(self, zaaktype: str) -> list[dict[str, Any]]:
        return self._list("resultaattypen", zaaktype)

    def close(self) -> None:
        self._client.close()


class HttpZgwZaken:
    """Implements engine.ports.ZgwZaken: the Zaken API calls of the mirror."""

    def __init__(
        self, config: ZgwConfig, *, client: httpx.Client | None = None, timeout: float = 10.0
    ) -> None:
        self.config = config
        self._client = client or httpx.Client(timeout=timeout, follow_redirects=False)

    def _call(
        self, method: str, path: str, *, params: dict[str, str] | None = None, body: Any = None
    ) -> dict[str, Any]:
        headers = {
            "Authorization": f"Bearer {zgw_token(self.config.client_id, self.config.secret)}",
            "Accept": "application/json",
            # The Zaken API 1.5.1 document requires both on every /zaken call, reads included.
            "Accept-Crs": "EPSG:4326",
            "Content-Crs": "EPSG:4326",
        }
        try:
            response = self._client.request(
                method, f"{self.config.zaken_url}/{path}", params=params, json=body, headers=headers
            )
        except httpx.HTTPError as exc:
            raise ZgwFailure(f"{type(exc).__name__}: {exc}") from exc
        status = response.status_code
        if status == 204:
            return {}
        try:
            data = response.json()
        except ValueError:
            data = None
        if status >= 300:
            # A proxy in front of the API may answer with anything: a page, a list, a string.
            problem = data if isinstance(data, dict) else {}
            invalid = "; ".join(
                f"{p.get('name')}: {p.get('reason')}"
                for p in _listed(problem.get("invalidParams"))
                if isinstance(p, dict)
            )
            detail = invalid or problem.get("detail") or response.reason_phrase
            raise ZgwFailure(f"HTTP {status}: {detail}", status=status, problem=problem)
        if not isinstance(data, dict):
            kind = response.headers.get("content-type") or "no content type"
            raise ZgwFailure(
                f"HTTP {status}: {method} {path}: the answer is not a JSON object ({kind})",
                status=status,
            )
        return data

    def find_zaak(self, identificatie: str, bronorganisatie: str) -> str | None:
        page = self._call(
            "GET",
            "zaken",
            params={"identificatie": identificatie, "bronorganisatie": bronorganisatie},
        )
        results = _listed(page.get("results"))
        return _url(results[0], "zaken?identificatie") if results else None

    def create_zaak(self, zaak: dict[str, Any]) -> str:
        return _url(self._call("POST", "zaken", body=zaak), "POST zaken")

    def zaak(self, url: str) -> dict[str, Any]:
        return self._call("GET", self._path(url, "zaak"))

    def add_status(self, zaak: str, statustype: str, gezet: str) -> str:
        body = {"zaak": zaak, "statustype": statustype, "datumStatusGezet": gezet}
        return _url(self._call("POST", "statussen", body=body), "POST statussen")

    def _path(self, url: str, what: str) -> str:
        path = url.removeprefix(self.config.zaken_url + "/")
        if path == url:
            raise ZgwFailure(f"{url} is not a {what} of {self.config.zaken_url}")
        return path

    def _all(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        """Every item of a paged list (``next`` followed within the Zaken API)."""
        items: list[dict[str, Any]] = []
        page = self._call("GET", path, params=params)
        while True:
            items.extend(page.get("results") or [])
            following = page.get("next")
            if not following:
                return items
            parts = urlsplit(str(following))
            page = self._call(
                "GET",
                self._path(f"{parts.scheme}://{parts.netloc}{parts.path}", "list"),
                params=dict(parse_qsl(parts.query)),
            )

    def suspend(self, zaak: str, suspended: bool, reason: str) -> None:
        self.update_zaak(zaak, {"opschorting": {"indicatie": suspended, "reden": reason}})

    def update_zaak(self, zaak: str, fields: dict[str, Any]) -> None:
        self._call("PATCH", self._path(zaak, "zaak"), body=fields)

    def statussen(self, zaak: str, statustype: str) -> list[dict[str, Any]]:
        return self._all("statussen", {"zaak": zaak, "statustype": statustype})

    def add_rol(
        self,
        zaak: str,
        roltype: str,
        betrokkene_type: str,
        identificatie: dict[str, Any],
        toelichting: str,
    ) -> str:
        body = {
            "zaak": zaak,
            "betrokkeneType": betrokkene_type,
            "roltype": roltype,
            "roltoelichting": toelichting[:1000],
            "betrokkeneIdentificatie": identificatie,
        }
        return _url(self._call("POST", "rollen", body=body), "POST rollen")

    def rollen(self, zaak: str, roltype: str) -> list[dict[str, Any]]:
        return self._all("rollen", {"zaak": zaak, "roltype": roltype})

    def remove_rol(self, rol: str) -> None:
        self._call("DELETE", self._path(rol, "rol"))

    def resultaten(self, zaak: str) -> list[dict[str, Any]]:
        return self._all("resultaten", {"zaak": zaak})

    def add_result(self, zaak: str, resultaattype: str, toelichting: str) -> str:
        body = {"zaak": zaak, "resultaattype": resultaattype, "toelichting": toelichting}
        return _url(self._call("POST", "resultaten", body=body), "POST resultaten")

    def zaakobjecten(self, zaak: str, object_type: str) -> list[dict[str, Any]]:
        return self._all("zaakobjecten", {"zaak": zaak, "objectType": object_type})

    def add_zaakobject(self, zaak: str, object_type: str, identificatie: dict[str, Any]) -> str:
        body = {
            "zaak": zaak,
            "objectType": object_type,
            "objectIdentificatie": identificatie,
            "relatieomschrijving": "gebied van de wijkaanpak",
        }
        return _url(self._call("POST", "zaakobjecten", body=body), "POST zaakobjecten")

    def remove_zaakobject(self, zaakobject: str) -> None:
        self._call("DELETE", self._path(zaakobject, "zaakobject"))

    def close(self) -> None:
        self._client.close()


def _listed(value: object) -> list[Any]:
    """A list the API should have given; anything else as none."""
    return value if isinstance(value, list) else []


def _url(item: object, what: str) -> str:
    """The ``url`` of what the API made or found: an answer without one is a failed call
    (a proxy's page, a broken server), not a crash of the mirror's pass."""
    url = item.get("url") if isinstance(item, dict) else None
    if not isinstance(url, str) or not url:
        raise ZgwFailure(f"{what}: the answer names no url")
    return url
