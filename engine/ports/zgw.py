"""What the ZGW mirror needs from a case system: reading its catalogue (Catalogi API).

``adapters/zgw.py`` implements it over HTTP with a ZGW JWT; failures become
:class:`ZgwFailure`.
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["ZgwCatalogue", "ZgwFailure", "ZgwZaken"]


class ZgwFailure(Exception):
    """A ZGW API call did not succeed: ``status`` is the HTTP status (None: no answer) and
    ``problem`` the API's problem body, when it gave one."""

    def __init__(
        self, reason: str, *, status: int | None = None, problem: dict[str, Any] | None = None
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.problem = problem or {}


class ZgwCatalogue(Protocol):
    def zaaktype(self, url: str) -> dict[str, Any]:
        """The ZAAKTYPE at ``url`` (ZgwFailure when it cannot be read)."""
        ...

    def statustypen(self, zaaktype: str) -> list[dict[str, Any]]: ...

    def roltypen(self, zaaktype: str) -> list[dict[str, Any]]: ...

    def resultaattypen(self, zaaktype: str) -> list[dict[str, Any]]: ...

    def close(self) -> None: ...


class ZgwZaken(Protocol):
    """The calls of the Zaken API the mirror makes."""

    def find_zaak(self, identificatie: str, bronorganisatie: str) -> str | None:
        """The URL of the zaak with this identificatie (None: there is none)."""
        ...

    def zaak(self, url: str) -> dict[str, Any]:
        """The zaak as the case system has it now."""
        ...

    def create_zaak(self, zaak: dict[str, Any]) -> str:
        """Make a zaak; its URL."""
        ...

    def add_status(self, zaak: str, statustype: str, gezet: str) -> str:
        """Give the zaak a status (``gezet``: ISO 8601 moment); the status's URL."""
        ...

    def suspend(self, zaak: str, suspended: bool, reason: str) -> None:
        """Set the zaak's ``opschorting`` (PATCH)."""
        ...

    def update_zaak(self, zaak: str, fields: dict[str, Any]) -> None:
        """Change some of the zaak's fields (PATCH), e.g. ``einddatumGepland``."""
        ...

    def statussen(self, zaak: str, statustype: str) -> list[dict[str, Any]]:
        """The zaak's statussen of one statustype (to find one a crashed attempt added)."""
        ...

    def add_rol(
        self,
        zaak: str,
        roltype: str,
        betrokkene_type: str,
        identificatie: dict[str, Any],
        toelichting: str,
    ) -> str:
        """Name an organisation in a rol of the zaak (``betrokkene_type``
        ``niet_natuurlijk_persoon`` or ``organisatorische_eenheid``); its URL."""
        ...

    def rollen(self, zaak: str, roltype: str) -> list[dict[str, Any]]:
        """The zaak's rollen of one roltype."""
        ...

    def remove_rol(self, rol: str) -> None: ...

    def resultaten(self, zaak: str) -> list[dict[str, Any]]: ...

    def add_result(self, zaak: str, resultaattype: str, toelichting: str) -> str:
        """Give the zaak its resultaat (before its end status); the resultaat's URL."""
        ...

    def zaakobjecten(self, zaak: str, object_type: str) -> list[dict[str, Any]]:
        """The zaak's zaakobjecten of one objectType."""
        ...

    def add_zaakobject(self, zaak: str, object_type: str, identificatie: dict[str, Any]) -> str:
        """Relate an object, named by ``objectIdentificatie``, to the zaak; its URL."""
        ...

    def remove_zaakobject(self, zaakobject: str) -> None: ...

    def close(self) -> None: ...
