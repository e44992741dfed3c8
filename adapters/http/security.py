"""Who is asking: every request but the health checks carries ``Authorization: Bearer ...``.

Two kinds of bearer token are accepted:

- an API token of our own (``wk_<prefix>_<secret>``, made with ``wijkkompas token create``):
  looked up by its prefix and compared by hash on every request, so a revoked or expired token,
  or a disabled principal, is refused at once, by every node;
- with OIDC configured, a JWT from the municipality's identity provider (Keycloak, Entra ID,
  ADFS): its signature, issuer, audience and lifetime are checked (``adapters.oidc``), and the
  configured claim names the principal it acts as (``principal add ... --subject``).

The principal found is who every recorded event names as its actor; nothing in a request body
can say otherwise. Tokens are never logged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from engine.errors import Unauthenticated

if TYPE_CHECKING:
    from adapters.oidc import OidcVerifier
    from engine.app.access import Principal
    from engine.app.service import Service

__all__ = ["Authenticator"]

TOKEN_PREFIX = "wk_"


class Authenticator:
    """Turns the Authorization header into a principal, or refuses (Unauthenticated: 401)."""

    def __init__(self, service: Service, oidc: OidcVerifier | None = None) -> None:
        self.service = service
        self.oidc = oidc

    def principal(self, authorization: str | None) -> Principal:
        token = _bearer(authorization)
        if token.startswith(TOKEN_PREFIX):
            return self.service.directory.authenticate(token)
        if self.oidc is not None and token.count(".") == 2:
            from adapters.oidc import OidcRejected

            try:
                subject = self.oidc.subject(token)
            except OidcRejected as exc:
                raise Unauthenticated(f"the JWT was refused: {exc}") from None
            return self.service.directory.principal_by_subject(subject)
        raise Unauthenticated(
            "the bearer token is not a wijkkompas API token"
            + (" nor a JWT" if self.oidc is not None else " (OIDC is not configured)")
        )

    def principal_reading(self, authorization: str | None) -> Principal | None:
        """As ``principal`` for an API token of our own when that only reads the database
        (``Directory.authenticate_reading``); None for anything else (a JWT, a token whose
        last-used time is due): ask ``principal``. Refusals raise as there."""
        token = _bearer(authorization)
        if not token.startswith(TOKEN_PREFIX):
            return None
        return self.service.directory.authenticate_reading(token)


def _bearer(authorization: str | None) -> str:
    """The token of an ``Authorization: Bearer TOKEN`` header; Unauthenticated otherwise."""
    if not authorization:
        raise Unauthenticated(
            "no credentials: send Authorization: Bearer TOKEN (make one with "
            "`wijkkompas token create`)"
        )
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthenticated("the Authorization header must be 'Bearer TOKEN'")
    return token
