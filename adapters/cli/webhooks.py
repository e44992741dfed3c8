"""Webhook subscriptions on the command line: ``webhooks add|list|remove|rotate|enable|test|
deliveries|retry|dispatch``.

``add`` prints the signing secret once (it is not shown again; ``rotate`` makes a new one).
``test`` posts a signed test CloudEvent to the subscription's URL now and says what the
receiver answered. ``deliveries`` shows what was delivered, when, and why not. ``dispatch``
runs one pass (fan out, deliver), as every ``wijkkompas scheduler`` pass does.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from adapters.cli.shared import app_of, echo_deliveries, print_json, when

if TYPE_CHECKING:
    from engine.ports import Delivery, Subscription


def subscription_json(s: Subscription, *, with_secret: bool = False) -> dict[str, Any]:
    from engine.app.webhooks import subscription_json as as_json

    return as_json(s, with_secret=with_secret)


def delivery_json(d: Delivery) -> dict[str, Any]:
    from engine.app.webhooks import delivery_json as as_json

    return as_json(d)


__all__ = ["webhooks"]

ID = click.IntRange(min=1, max=2**62)


@click.group()
def webhooks() -> None:
    """Webhook subscriptions: signed NL GOV CloudEvents to other systems."""


@webhooks.command("add")
@click.argument("url")
@click.option(
    "--event",
    "events",
    multiple=True,
    help="A CloudEvent type (repeat; default: every instance event; "
    "nl.wijkkompas.checkpoint.published only when named).",
)
@click.option("--workflow", "workflows", multiple=True, help="Only instances of this workflow.")
@click.option("--area", "areas", multiple=True, help="Only instances in this area (wijk/buurt).")
@click.option(
    "--organisation",
    "organisations",
    multiple=True,
    help="Only where it holds regie or takes part.",
)
@click.option("--secret", help="A whsec_ secret to use (default: a new random one).")
@click.option("--description", default="", help="What it is for.")
@click.option("--by", help="Who adds it (default: the configured actor).")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def webhooks_add(
    ctx: click.Context,
    url: str,
    events: tuple[str, ...],
    workflows: tuple[str, ...],
    areas: tuple[str, ...],
    organisations: tuple[str, ...],
    secret: str | None,
    description: str,
    by: str | None,
    as_json: bool,
) -> None:
    """Subscribe URL to events from now on; prints the signing secret once."""
    app = app_of(ctx)
    sub = app.service(create=True).webhooks.add(
        url=url,
        by=app.actor(by),
        event_types=events,
        workflows=workflows,
        areas=areas,
        organisations=organisations,
        secret=secret,
        description=description,
    )
    if as_json:
        print_json(subscription_json(sub, with_secret=True))
        return
    click.echo(f"webhook {sub.id} → {sub.url}")
    click.echo(f"secret (shown once; keep it with the receiver): {sub.secrets[0]}")


@webhooks.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def webhooks_list(ctx: click.Context, as_json: bool) -> None:
    """The subscriptions, with how their deliveries stand."""
    service = app_of(ctx).service()
    subs = service.webhooks.all()
    if as_json:
        print_json([subscription_json(s) for s in subs])
        return
    if not subs:
        click.echo("no webhook subscriptions")
    for s in subs:
        state = f"disabled {when(s.disabled_at)}: {s.disabled_reason}" if s.disabled_at else "on"
        click.echo(f"{s.id:>4} {s.url} ({state})")
        wants = ", ".join(s.event_types) or "all events"
        filters = [
            f"{name} {', '.join(values)}"
            for name, values in (
                ("workflow", s.workflows),
                ("area", s.areas),
                ("organisation", s.organisations),
            )
            if values
        ]
        click.echo(f"     {wants}" + (f"; {'; '.join(filters)}" if filters else ""))
        recent = service.webhooks.deliveries(s.id, limit=1)
        if recent:
            d = recent[0]
            moment = when(d.sent_at or d.last_attempt_at)
            click.echo(f"     last: {d.kind} {d.instance_key} {d.status} {moment}")


@webhooks.command("remove")
@click.argument("subscription_id", metavar="ID", type=ID)
@click.pass_context
def webhooks_remove(ctx: click.Context, subscription_id: int) -> None:
    """Remove subscription ID and what it had not been sent yet."""
    app_of(ctx).service().webhooks.remove(subscription_id)
    click.echo(f"webhook {subscription_id} removed")


@webhooks.command("rotate")
@click.argument("subscription_id", metavar="ID", type=ID)
@click.option("--secret", help="The new whsec_ secret (default: a new random one).")
@click.option("--finish", is_flag=True, help="End the rotation: sign with the newest only.")
@click.pass_context
def webhooks_rotate(
    ctx: click.Context, subscription_id: int, secret: str | None, finish: bool
) -> None:
    """Start a secret rotation (old and new both sign) or finish it."""
    sub = app_of(ctx).service().webhooks.rotate(subscription_id, secret=secret, finish=finish)
    if finish:
        click.echo(f"webhook {sub.id}: signed with the newest secret only")
    else:
        click.echo(f"webhook {sub.id}: new secret (shown once): {sub.secrets[0]}")
        click.echo(
            f"signed with {len(sub.secrets)} secrets until: "
            f"wijkkompas webhooks rotate {sub.id} --finish"
        )


@webhooks.command("enable")
@click.argument("subscription_id", metavar="ID", type=ID)
@click.pass_context
def webhooks_enable(ctx: click.Context, subscription_id: int) -> None:
    """Deliver to a disabled subscription again (what it missed follows)."""
    app_of(ctx).service().webhooks.enable(subscription_id)
    click.echo(f"webhook {subscription_id} enabled")


@webhooks.command("test")
@click.argument("subscription_id", metavar="ID", type=ID)
@click.pass_context
def webhooks_test(ctx: click.Context, subscription_id: int) -> None:
    """Post a signed test event to subscription ID now and show the answer (exit 6 if it
    was not accepted)."""
    from adapters.webhooks import send_test

    app = app_of(ctx)
    result = send_test(
        app.service().webhooks,
        app.webhook_sender(),
        subscription_id,
        now=app.clock().now(),
        oin=app.settings.oin,
    )
    if not result.accepted:
        click.echo(
            f"webhook {result.subscription} → {result.url}: not accepted: {result.reason}", err=True
        )
        ctx.exit(6)
    click.echo(f"webhook {result.subscription} → {result.url}: accepted (HTTP {result.status})")


@webhooks.command("deliveries")
@click.option("--subscription", "subscription_id", type=ID, help="Only this subscription's.")
@click.option(
    "--status",
    type=click.Choice(["pending", "held", "sent", "failed"]),
    help="Only these (held: its subscription is disabled).",
)
@click.option("--limit", type=click.IntRange(min=1, max=100_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.pass_context
def webhooks_deliveries(
    ctx: click.Context, subscription_id: int | None, status: str | None, limit: int, as_json: bool
) -> None:
    """What was delivered, when, and why not (newest first)."""
    rows = app_of(ctx).service().webhooks.deliveries(subscription_id, status, limit)
    if as_json:
        print_json([delivery_json(d) for d in rows])
        return
    echo_deliveries(
        rows,
        "webhook",
        lambda d: d.kind.rpartition(".")[2],
        none="no webhook deliveries",
        http=True,
    )


@webhooks.command("retry")
@click.argument("delivery_id", metavar="ID", type=ID)
@click.pass_context
def webhooks_retry(ctx: click.Context, delivery_id: int) -> None:
    """Send failed delivery ID again (same webhook-id)."""
    d = app_of(ctx).service().webhooks.retry(delivery_id)
    click.echo(f"webhook delivery {d.id} is pending again")


@webhooks.command("dispatch")
@click.pass_context
def webhooks_dispatch(ctx: click.Context) -> None:
    """One pass: queue the new events for each subscription, deliver what is ready."""
    report = app_of(ctx).webhook_dispatcher().run()
    click.echo(report.line())
    for error in report.errors[:20]:
        click.echo(f"  {error}", err=True)
