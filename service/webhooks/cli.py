"""``flask --app wsgi webhooks list`` and ``webhooks show ID``: the subscriptions and their recent
deliveries, for operators, without the API (and never a secret). Changing a subscription is the
API's (``/api/v1/webhooks/subscriptions``), where it is done as an administrator."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from service.errors import WebhookSubscriptionNotFound
from service.webhooks.subscriptions import WebhookSubscriptions

webhooks_cli = AppGroup("webhooks", help="Inspect webhook subscriptions and their delivery log.")


def _subscriptions() -> WebhookSubscriptions:
    return current_app.extensions["webhooks"]


@webhooks_cli.command("list")
def list_subscriptions() -> None:
    """List every subscription: status, position, counts and target."""
    items, after = [], 0
    while True:
        page = _subscriptions().page(after=after, limit=1000)
        items += page.items
        if page.next_cursor is None:
            break
        after = page.next_cursor
    if not items:
        click.echo("No webhook subscriptions.")
        return
    columns = ("id", "status", "position", "delivered", "failed_attempts", "url")
    rows = [[str(item[column]) for column in columns] for item in items]
    widths = [max(len(column), *(len(row[index]) for row in rows)) for index, column in enumerate(columns)]
    click.echo("  ".join(column.ljust(width) for column, width in zip(columns, widths, strict=True)).rstrip())
    for row in rows:
        click.echo("  ".join(value.ljust(width) for value, width in zip(row, widths, strict=True)).rstrip())


@webhooks_cli.command("show")
@click.argument("subscription_id")
@click.option("--deliveries", "count", type=click.IntRange(0, 1000), default=10, show_default=True)
def show_subscription(subscription_id: str, count: int) -> None:
    """Show one subscription and its latest deliveries."""
    subscriptions = _subscriptions()
    try:
        document = subscriptions.subscription(subscription_id)
    except WebhookSubscriptionNotFound:
        raise click.ClickException(f"no webhook subscription {subscription_id!r}; `webhooks list` shows them") from None
    failing = document["failing"]
    click.echo(f"Subscription {document['id']} ({document['status']})")
    if document["disabled_reason"]:
        click.echo(f"  disabled: {document['disabled_reason']}")
    click.echo(f"  url: {document['url']}")
    if document["description"]:
        click.echo(f"  description: {document['description']}")
    click.echo(f"  filter: {document['filter']}")
    click.echo(
        f"  position: {document['position']}; delivered {document['delivered']}, failed attempts "
        f"{document['failed_attempts']}"
    )
    if failing["attempts"]:
        click.echo(
            f"  failing: {failing['attempts']} attempts since {failing['since']}; next {failing['next_attempt_at']}"
        )
    if count:
        page = subscriptions.deliveries(document["id"], before=None, limit=count)
        for item in page.items:
            said = item["error"] or f"HTTP {item['status']}"
            click.echo(
                f"  {item['attempted_at']}  position {item['position']}  attempt {item['attempt']}  "
                f"{item['outcome']}  {said}  {item['latency_ms']} ms"
            )
