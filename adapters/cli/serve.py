"""``wijkkompas serve``: the HTTP API. (The reminder passes run in their own process,
``wijkkompas scheduler``: a slow mail server never holds up a request.)

The server is uvicorn running ``adapters.http.create_app`` on the same composition root as every
other command: same settings, same database, same rules. Its imports happen when the command
runs, so ``wijkkompas --help`` stays quick.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from adapters.cli.shared import app_of

if TYPE_CHECKING:
    from adapters.oidc import OidcVerifier
    from engine.compose import Application

__all__ = ["serve", "settle"]


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(min=0, max=65535),
    default=8080,
    show_default=True,
    help="Port to listen on (0: any free port; the address is printed).",
)
@click.option(
    "--access-log/--no-access-log",
    default=True,
    show_default=True,
    help="One line per request (method, path, status; never credentials).",
)
@click.pass_context
def serve(ctx: click.Context, host: str, port: int, access_log: bool) -> None:
    """Serve the JSON API under /api/v1 (docs at /api/v1/docs; /healthz, /readyz).

    Put it behind a TLS reverse proxy when anyone but this machine reaches it (docs/api.md)."""
    import logging

    import uvicorn

    from adapters.http.app import create_app
    from adapters.http.routes.calendar import HideCalendarTokens
    from adapters.http.server import config as served

    logging.getLogger("uvicorn.access").addFilter(HideCalendarTokens())
    app = app_of(ctx)
    asgi = create_app(app, oidc=_oidc(app))
    config = served(
        asgi,
        host=host,
        port=port,
        access_log=access_log,
        log_level="info",
        proxy_headers=True,
        forwarded_allow_ips="127.0.0.1",
        timeout_graceful_shutdown=10,
    )
    server = uvicorn.Server(config)
    original = server.startup

    async def startup(sockets: object = None) -> None:
        await original(sockets)  # type: ignore[arg-type]
        settle()
        for found in server.servers:
            for sock in found.sockets:
                address, bound = sock.getsockname()[:2]
                click.echo(
                    f"serving the API at http://{address}:{bound}/api/v1 "
                    f"(docs: http://{address}:{bound}/api/v1/docs) and the dashboard at "
                    f"http://{address}:{bound}/",
                    err=True,
                )

    server.startup = startup  # type: ignore[method-assign]
    try:
        server.run()
    finally:
        app.stop.set()


def settle() -> None:
    """Take what the server made while starting (the application, its routes and models, the
    modules) out of the garbage collector's way: they live as long as the process. Otherwise
    every full collection walks them all: 215,000 objects, a pause of about 140 ms in which no
    request is answered (bench/README.md, "The API on its C parser")."""
    import gc

    gc.collect()
    gc.freeze()


def _oidc(app: Application) -> OidcVerifier | None:
    """The OIDC verifier, when the settings configure an issuer."""
    settings = app.settings
    issuer, audience = settings.oidc_issuer, settings.oidc_audience
    if not issuer or not audience:  # the settings refuse one without the other
        return None
    from adapters.oidc import OidcSettings, OidcVerifier

    return OidcVerifier(
        OidcSettings(
            issuer=issuer,
            audience=audience,
            jwks_url=settings.oidc_jwks_url,
            jwks_file=settings.oidc_jwks_file,
            claim=settings.oidc_claim,
        )
    )
